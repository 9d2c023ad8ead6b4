//! Users, their roles and units, failed logins and second factors. Every
//! change to who a user is (roles, units, status, credentials) ends that
//! user's sessions in the same transaction.

use precinct_domain::ids::{UnitId, UserId};
use precinct_domain::user::{User, UserStatus, Username, FAILED_LOGIN_WINDOW};
use precinct_domain::{Role, Roles, Timestamp};
use sqlx::any::AnyRow;

use precinct_audit::event::AuditEvent;

use crate::rows::{Cols, Param, Query};
use crate::{flag, int, opt_int, opt_text, parse, text, Result, Store, StoreError};

/// A counted login attempt: its id, and how many attempts (it included)
/// are in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    pub id: String,
    pub in_window: u32,
}

/// A user with the secrets that only the login path may read. Its `Debug`
/// shows none of them.
#[derive(Clone)]
pub struct UserRecord {
    pub user: User,
    pub password_hash: String,
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("user", &self.user)
            .field("password_hash", &"[REDACTED]")
            .field(
                "totp_secret",
                &self.totp_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct NewUser {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    pub password_hash: String,
    pub roles: Roles,
    pub units: Vec<UnitId>,
    pub must_change_password: bool,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

const USER_COLUMNS: &str = "id, username, display_name, password_hash, status, locked_at, \
     must_change_password, totp_secret, totp_last_step, on_duty, created_at";

/// A user row with the user's roles and units.
fn user_record(
    row: &(impl Cols + ?Sized),
    roles: Vec<Role>,
    units: Vec<UnitId>,
) -> Result<UserRecord> {
    let totp_secret = opt_text(row, "totp_secret")?;
    let user = User {
        id: parse(&text(row, "id")?)?,
        username: Username::parse(&text(row, "username")?)?,
        display_name: text(row, "display_name")?,
        roles: Roles::new(roles)?,
        units,
        status: UserStatus::parse(&text(row, "status")?)?,
        locked_at: opt_int(row, "locked_at")?.map(Timestamp::from_micros),
        must_change_password: flag(row, "must_change_password")?,
        mfa_enrolled: totp_secret.is_some(),
        on_duty: flag(row, "on_duty")?,
        created_at: Timestamp::from_micros(int(row, "created_at")?),
    };
    Ok(UserRecord {
        user,
        password_hash: text(row, "password_hash")?,
        totp_secret,
        totp_last_step: opt_int(row, "totp_last_step")?,
    })
}

/// A user as it is read in a batch: roles, units, then the row, of the
/// user whose id `id_sql` (a scalar subquery over `$1`) selects.
pub(crate) fn user_queries(id_sql: &str, key: Param) -> Vec<Query> {
    vec![
        Query::new(
            format!("SELECT role FROM user_roles WHERE user_id = ({id_sql}) ORDER BY role"),
            vec![key.clone()],
        ),
        Query::new(
            format!("SELECT unit_id FROM user_units WHERE user_id = ({id_sql}) ORDER BY unit_id"),
            vec![key.clone()],
        ),
        Query::new(
            format!("SELECT {USER_COLUMNS} FROM users WHERE id = ({id_sql})"),
            vec![key],
        ),
    ]
}

/// Folds the rows of `user_queries` (statements `first..first + 3`).
#[derive(Debug, Default)]
pub(crate) struct UserRows {
    roles: Vec<Role>,
    units: Vec<UnitId>,
    pub record: Option<UserRecord>,
}

impl UserRows {
    pub(crate) fn take(&mut self, i: usize, row: &dyn Cols) -> Result<()> {
        match i {
            0 => self.roles.push(parse(&text(row, "role")?)?),
            1 => self.units.push(parse(&text(row, "unit_id")?)?),
            _ => {
                let roles = std::mem::take(&mut self.roles);
                let units = std::mem::take(&mut self.units);
                self.record = Some(user_record(row, roles, units)?);
            }
        }
        Ok(())
    }
}

impl Store {
    pub async fn create_user(
        &self,
        new: &NewUser,
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, status, locked_at, \
             must_change_password, totp_secret, totp_last_step, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'active', NULL, $5, NULL, NULL, $6, $6)",
        )
        .bind(new.id.to_string())
        .bind(new.username.as_str().to_owned())
        .bind(new.display_name.clone())
        .bind(new.password_hash.clone())
        .bind(i64::from(new.must_change_password))
        .bind(now.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "username"))?;
        write_roles(&mut tx, new.id, &new.roles).await?;
        write_units(&mut tx, new.id, &new.units).await?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?;
        int(&row, "n")
    }

    pub async fn user(&self, id: UserId) -> Result<UserRecord> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.user_from_row(&row).await
    }

    pub async fn user_by_username(&self, username: &str) -> Result<UserRecord> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .bind(username.to_owned())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        self.user_from_row(&row).await
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.user_from_row(row).await?.user);
        }
        Ok(out)
    }

    /// Display names of some users, in one query.
    pub async fn display_names(
        &self,
        ids: &[UserId],
    ) -> Result<std::collections::HashMap<UserId, String>> {
        self.names_where("SELECT id, display_name FROM users WHERE id IN", ids)
            .await
    }

    /// Active users who belong to any of `units`, with their display names.
    pub async fn active_users_in_units(
        &self,
        units: &[UnitId],
    ) -> Result<std::collections::HashMap<UserId, String>> {
        self.names_where(
            "SELECT DISTINCT u.id, u.display_name FROM users u JOIN user_units m ON m.user_id = u.id \
             WHERE u.status = 'active' AND m.unit_id IN",
            units,
        )
        .await
    }

    /// `(id, display_name)` rows of `select` followed by an `IN` list of
    /// `keys`, 500 at a time.
    async fn names_where<K: ToString>(
        &self,
        select: &str,
        keys: &[K],
    ) -> Result<std::collections::HashMap<UserId, String>> {
        let mut out = std::collections::HashMap::new();
        for chunk in keys.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("{select} ({list})");
            let mut q = sqlx::query(&sql);
            for k in chunk {
                q = q.bind(k.to_string());
            }
            for row in q.fetch_all(&self.pool).await? {
                out.insert(parse(&text(&row, "id")?)?, text(&row, "display_name")?);
            }
        }
        Ok(out)
    }

    async fn user_from_row(&self, row: &AnyRow) -> Result<UserRecord> {
        let id: UserId = parse(&text(row, "id")?)?;
        let roles = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| text(r, "role").and_then(|s| parse::<Role>(&s)))
            .collect::<Result<Vec<_>>>()?;
        let units =
            sqlx::query("SELECT unit_id FROM user_units WHERE user_id = $1 ORDER BY unit_id")
                .bind(id.to_string())
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| text(r, "unit_id").and_then(|s| parse::<UnitId>(&s)))
                .collect::<Result<Vec<_>>>()?;
        user_record(row, roles, units)
    }

    /// Replaces a user's roles and ends their sessions.
    pub async fn set_roles(
        &self,
        id: UserId,
        roles: &Roles,
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        touch_user(&mut tx, id, now).await?;
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        write_roles(&mut tx, id, roles).await?;
        end_sessions(&mut tx, id).await?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    /// Replaces a user's units and ends their sessions.
    pub async fn set_units(
        &self,
        id: UserId,
        units: &[UnitId],
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        touch_user(&mut tx, id, now).await?;
        sqlx::query("DELETE FROM user_units WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        write_units(&mut tx, id, units).await?;
        end_sessions(&mut tx, id).await?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    /// Enables or disables an account and ends its sessions.
    pub async fn set_status(
        &self,
        id: UserId,
        status: UserStatus,
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now.as_micros())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .and_then(require_one)?;
        end_sessions(&mut tx, id).await?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    /// Counts a login attempt *before* its password or code is checked, so
    /// that concurrent guesses cannot outrun the lockout: returns how many
    /// attempts (this one included) are in the window. A success forgets
    /// them (`clear_failed_logins`). The count is bookkeeping; the attempt's
    /// outcome is recorded as an audit event once it is known.
    pub async fn claim_login_attempt(&self, id: UserId, now: Timestamp) -> Result<LoginAttempt> {
        let mut tx = self.begin_write().await?;
        if self.engine == crate::Engine::Postgres {
            // One attempt at a time per user, across servers.
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let attempt = uuid::Uuid::new_v4().to_string();
        sqlx::query("INSERT INTO login_failures (id, user_id, at) VALUES ($1, $2, $3)")
            .bind(attempt.clone())
            .bind(id.to_string())
            .bind(now.as_micros())
            .execute(&mut *tx)
            .await?;
        let since = now.minus(FAILED_LOGIN_WINDOW).as_micros();
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM login_failures WHERE user_id = $1 AND at > $2")
                .bind(id.to_string())
                .bind(since)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(LoginAttempt {
            id: attempt,
            in_window: u32::try_from(int(&row, "n")?).unwrap_or(u32::MAX),
        })
    }

    /// Forgets one attempt that turned out to be right.
    pub async fn forget_attempt(&self, attempt: &LoginAttempt) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE id = $1")
            .bind(attempt.id.clone())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Locks an account after too many failed attempts and ends its
    /// sessions, with the events that say so.
    pub async fn lock_account(
        &self,
        id: UserId,
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE users SET locked_at = $1, updated_at = $1 WHERE id = $2 AND locked_at IS NULL",
        )
        .bind(now.as_micros())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        end_sessions(&mut tx, id).await?;
        self.commit_with(tx, events).await
    }

    /// Forgets failed logins after a successful one.
    pub async fn clear_failed_logins(&self, id: UserId) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// An administrator releases a locked account.
    pub async fn unlock(&self, id: UserId, now: Timestamp, events: &[AuditEvent]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET locked_at = NULL, updated_at = $1 WHERE id = $2")
            .bind(now.as_micros())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .and_then(require_one)?;
        sqlx::query("DELETE FROM login_failures WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    /// Sets a password hash. Ends every session of the user except `keep`
    /// (the session that made the change, if any).
    pub async fn set_password(
        &self,
        id: UserId,
        password_hash: &str,
        must_change: bool,
        keep: Option<&str>,
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE users SET password_hash = $1, must_change_password = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(password_hash.to_owned())
        .bind(i64::from(must_change))
        .bind(now.as_micros())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .and_then(require_one)?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(id.to_string())
            .bind(keep.unwrap_or("").to_owned())
            .execute(&mut *tx)
            .await?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    /// Completes MFA enrolment: the TOTP secret, the step of the code that
    /// confirmed it, and fresh recovery codes (their hashes).
    pub async fn enrol_totp(
        &self,
        id: UserId,
        secret_base32: &str,
        confirmed_step: i64,
        recovery_code_hashes: &[String],
        now: Timestamp,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE users SET totp_secret = $1, totp_last_step = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(secret_base32.to_owned())
        .bind(confirmed_step)
        .bind(now.as_micros())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .and_then(require_one)?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        for h in recovery_code_hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, used_at) VALUES ($1, $2, NULL)",
            )
            .bind(id.to_string())
            .bind(h.clone())
            .execute(&mut *tx)
            .await?;
        }
        self.commit_with(tx, events).await?;
        Ok(())
    }

    /// Removes the second factor so the user enrols again at next login;
    /// ends their sessions.
    pub async fn reset_mfa(&self, id: UserId, now: Timestamp, events: &[AuditEvent]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET totp_secret = NULL, totp_last_step = NULL, updated_at = $1 WHERE id = $2")
            .bind(now.as_micros())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .and_then(require_one)?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        end_sessions(&mut tx, id).await?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    /// Claims a TOTP step: succeeds only if it is later than every step used
    /// before, so a code is accepted once even across several servers.
    pub async fn claim_totp_step(&self, id: UserId, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 \
             AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses up a recovery code; false if it is unknown or already used.
    pub async fn use_recovery_code(
        &self,
        id: UserId,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now.as_micros())
        .bind(id.to_string())
        .bind(code_hash.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn remaining_recovery_codes(&self, id: UserId) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await?;
        int(&row, "n")
    }
}

fn require_one(
    done: sqlx::any::AnyQueryResult,
) -> std::result::Result<sqlx::any::AnyQueryResult, sqlx::Error> {
    if done.rows_affected() == 0 {
        Err(sqlx::Error::RowNotFound)
    } else {
        Ok(done)
    }
}

async fn touch_user(tx: &mut sqlx::AnyConnection, id: UserId, now: Timestamp) -> Result<()> {
    sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
        .bind(now.as_micros())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .and_then(require_one)?;
    Ok(())
}

async fn write_roles(tx: &mut sqlx::AnyConnection, id: UserId, roles: &Roles) -> Result<()> {
    for role in roles.iter() {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(id.to_string())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn write_units(tx: &mut sqlx::AnyConnection, id: UserId, units: &[UnitId]) -> Result<()> {
    for unit in units {
        sqlx::query(
            "INSERT INTO user_units (user_id, unit_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(id.to_string())
        .bind(unit.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
            _ => StoreError::Database(e),
        })?;
    }
    Ok(())
}

pub(crate) async fn end_sessions(tx: &mut sqlx::AnyConnection, id: UserId) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(())
}
