//! Server-side sessions, shared by every server on the same database.

use crate::rows::{Cols, Param, Query};
use crate::users::{user_queries, UserRows};
use crate::UserRecord;
use precinct_domain::session::{Session, Stage};
use precinct_domain::Timestamp;

use precinct_audit::event::AuditEvent;

use crate::{int, opt_text, parse, text, Result, Store, StoreError};

fn session_from_row(row: &(impl Cols + ?Sized)) -> Result<(Session, Option<String>)> {
    Ok((
        Session {
            token_hash: text(row, "token_hash")?,
            user_id: parse(&text(row, "user_id")?)?,
            stage: Stage::parse(&text(row, "stage")?)?,
            csrf_token: text(row, "csrf_token")?,
            created_at: Timestamp::from_micros(int(row, "created_at")?),
            last_seen_at: Timestamp::from_micros(int(row, "last_seen_at")?),
        },
        opt_text(row, "pending_totp_secret")?,
    ))
}

const SESSION_COLUMNS: &str =
    "token_hash, user_id, stage, csrf_token, pending_totp_secret, created_at, last_seen_at";

impl Store {
    pub async fn create_session(&self, s: &Session, events: &[AuditEvent]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // Only for an active account that is not locked: a lock that landed
        // while the password was being checked wins.
        let done = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, stage, csrf_token, pending_totp_secret, created_at, last_seen_at) \
             SELECT $1, $2, $3, $4, NULL, $5, $6 WHERE EXISTS \
             (SELECT 1 FROM users WHERE id = $2 AND locked_at IS NULL AND status = 'active')",
        )
        .bind(s.token_hash.clone())
        .bind(s.user_id.to_string())
        .bind(s.stage.as_str())
        .bind(s.csrf_token.clone())
        .bind(s.created_at.as_micros())
        .bind(s.last_seen_at.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "session"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.commit_with(tx, events).await?;
        Ok(())
    }

    /// The session and, during MFA enrolment, the secret being confirmed.
    pub async fn session(&self, token_hash: &str) -> Result<(Session, Option<String>)> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"
        ))
        .bind(token_hash.to_owned())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        session_from_row(&row)
    }

    /// The session, its pending secret and its user, in one batch.
    pub async fn session_with_user(
        &self,
        token_hash: &str,
    ) -> Result<(Session, Option<String>, UserRecord)> {
        #[derive(Default)]
        struct Found {
            session: Option<(Session, Option<String>)>,
            user: UserRows,
        }
        let key = Param::from(token_hash.to_owned());
        let mut queries = vec![Query::new(
            format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1"),
            vec![key.clone()],
        )];
        queries.extend(user_queries(
            "SELECT user_id FROM sessions WHERE token_hash = $1",
            key,
        ));
        let found = self
            .read_batch(queries, Found::default(), |f, i, row| match i {
                0 => {
                    f.session = Some(session_from_row(row)?);
                    Ok(())
                }
                i => f.user.take(i - 1, row),
            })
            .await?;
        match (found.session, found.user.record) {
            (Some((session, pending)), Some(user)) => Ok((session, pending, user)),
            _ => Err(StoreError::NotFound),
        }
    }

    pub async fn touch_session(&self, token_hash: &str, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now.as_micros())
            .bind(token_hash.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_session_stage(
        &self,
        token_hash: &str,
        stage: Stage,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE sessions SET stage = $1, pending_totp_secret = NULL WHERE token_hash = $2",
        )
        .bind(stage.as_str())
        .bind(token_hash.to_owned())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.commit_with(tx, events).await?;
        Ok(())
    }

    pub async fn set_pending_totp_secret(&self, token_hash: &str, secret: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET pending_totp_secret = $1 WHERE token_hash = $2")
            .bind(secret.to_owned())
            .bind(token_hash.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str, events: &[AuditEvent]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.to_owned())
            .execute(&mut *tx)
            .await?;
        self.commit_with(tx, events).await?;
        Ok(())
    }

    pub async fn count_sessions(&self, user: precinct_domain::ids::UserId) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_one(&self.pool)
            .await?;
        int(&row, "n")
    }
}
