//! Logging in and staying logged in: password, second factor, first-login
//! password change and MFA enrolment, and the checks every request makes on
//! its session.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use precinct_domain::credentials::{
    dummy_hash, generate_recovery_codes, sha256_hex, verify_password, NewPassword, TotpSecret,
};
use precinct_domain::session::{Session, SessionCheck, Stage};
use precinct_domain::user::Username;
use precinct_domain::Timestamp;
use precinct_store::UserRecord;
use rand::rngs::OsRng;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

use super::{ServiceError, ServiceResult, Services, StoreResultExt};

/// How often a session's last-seen time is written: often enough for the
/// 30-minute idle lock, rarely enough not to write on every request.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
pub const TOTP_ISSUER: &str = "Precinct";

/// A new session's bearer token (shown to the client once) and the session.
#[derive(Debug)]
pub struct IssuedSession {
    pub token: SecretString,
    pub session: Session,
}

/// An authenticated request's session and user.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session: Session,
    pub pending_totp_secret: Option<String>,
    pub user: UserRecord,
}

/// An enrolment in progress: what the authenticator app needs.
#[derive(Debug, Clone)]
pub struct EnrolmentStart {
    pub secret_base32: String,
    pub otpauth_uri: String,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn token_hash(token: &str) -> String {
    sha256_hex(token)
}

/// argon2 is deliberately slow; keep it off the async workers.
async fn verify_password_blocking(candidate: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&candidate, &phc))
        .await
        .unwrap_or(false)
}

async fn hash_blocking(p: NewPassword) -> ServiceResult<String> {
    tokio::task::spawn_blocking(move || p.hash())
        .await
        .map_err(|_| ServiceError::Unavailable)?
        .map_err(ServiceError::from)
}

impl Services {
    /// First step: the system-use notice must be acknowledged, then the
    /// password is checked. Unknown users take as long as known ones.
    pub async fn begin_login(
        &self,
        username: &str,
        password: &SecretString,
        acknowledged_notice: bool,
    ) -> ServiceResult<IssuedSession> {
        if !acknowledged_notice {
            return Err(ServiceError::NoticeNotAcknowledged);
        }
        let record = match Username::parse(username) {
            Ok(u) => match self.store.user_by_username(u.as_str()).await {
                Ok(r) => Some(r),
                Err(precinct_store::StoreError::NotFound) => None,
                Err(e) => return Err(ServiceError::from_store(e, "user")),
            },
            Err(_) => None,
        };
        let Some(record) = record else {
            verify_password_blocking(password.expose_secret().to_owned(), dummy_hash().to_owned())
                .await;
            return Err(ServiceError::InvalidCredentials);
        };
        let ok = verify_password_blocking(
            password.expose_secret().to_owned(),
            record.password_hash.clone(),
        )
        .await;
        let user = &record.user;
        if user.is_locked() {
            return Err(ServiceError::AccountLocked);
        }
        let now = self.clock.now();
        if !ok {
            let locked = self
                .store
                .record_failed_login(user.id, now)
                .await
                .or_service("user")?;
            return Err(if locked {
                ServiceError::AccountLocked
            } else {
                ServiceError::InvalidCredentials
            });
        }
        if !user.can_log_in() {
            return Err(ServiceError::InvalidCredentials);
        }
        let stage = Stage::after_password(user.mfa_enrolled, user.must_change_password);
        if stage != Stage::Mfa {
            self.store
                .clear_failed_logins(user.id)
                .await
                .or_service("user")?;
        }
        self.issue_session(user.id, stage, now).await
    }

    async fn issue_session(
        &self,
        user_id: precinct_domain::ids::UserId,
        stage: Stage,
        now: Timestamp,
    ) -> ServiceResult<IssuedSession> {
        let token = random_token();
        let session = Session {
            token_hash: token_hash(&token),
            user_id,
            stage,
            csrf_token: random_token(),
            created_at: now,
            last_seen_at: now,
        };
        self.store
            .create_session(&session)
            .await
            .or_service("session")?;
        Ok(IssuedSession {
            token: SecretString::from(token),
            session,
        })
    }

    /// Resolves a bearer token to its session, enforcing the idle lock, the
    /// absolute limit and the account's status. Any doubt means no session.
    pub async fn authenticate(&self, token: &str) -> ServiceResult<Authenticated> {
        let hash = token_hash(token);
        let (mut session, pending) = match self.store.session(&hash).await {
            Ok(s) => s,
            Err(precinct_store::StoreError::NotFound) => return Err(ServiceError::Unauthenticated),
            Err(e) => return Err(ServiceError::from_store(e, "session")),
        };
        let now = self.clock.now();
        match session.check(now) {
            SessionCheck::Valid => {}
            SessionCheck::IdleLocked => {
                self.store
                    .delete_session(&hash)
                    .await
                    .or_service("session")?;
                return Err(ServiceError::SessionLocked);
            }
            SessionCheck::Expired => {
                self.store
                    .delete_session(&hash)
                    .await
                    .or_service("session")?;
                return Err(ServiceError::SessionExpired);
            }
        }
        let user = match self.store.user(session.user_id).await {
            Ok(u) => u,
            Err(precinct_store::StoreError::NotFound) => return Err(ServiceError::Unauthenticated),
            Err(e) => return Err(ServiceError::from_store(e, "user")),
        };
        if !user.user.can_log_in() {
            self.store
                .delete_session(&hash)
                .await
                .or_service("session")?;
            return Err(ServiceError::Unauthenticated);
        }
        if now.since(session.last_seen_at) >= TOUCH_EVERY {
            self.store
                .touch_session(&hash, now)
                .await
                .or_service("session")?;
            session.last_seen_at = now;
        }
        Ok(Authenticated {
            session,
            pending_totp_secret: pending,
            user,
        })
    }

    /// The units a user belongs to, for their own pages.
    pub async fn units_of(
        &self,
        user: &precinct_domain::user::User,
    ) -> ServiceResult<Vec<precinct_domain::org::Unit>> {
        let mut units = Vec::with_capacity(user.units.len());
        for id in &user.units {
            units.push(self.store.unit(*id).await.or_service("unit")?);
        }
        Ok(units)
    }

    pub async fn logout(&self, auth: &Authenticated) -> ServiceResult<()> {
        self.store
            .delete_session(&auth.session.token_hash)
            .await
            .or_service("session")
    }

    /// Second factor: a 6-digit TOTP code, or one of the recovery codes. A
    /// wrong code counts as a failed login.
    pub async fn verify_mfa(&self, auth: &Authenticated, code: &str) -> ServiceResult<Stage> {
        if auth.session.stage != Stage::Mfa {
            return Err(ServiceError::WrongStage);
        }
        let user = &auth.user;
        let now = self.clock.now();
        let accepted = if code.trim().len() == 6 {
            let secret = user
                .totp_secret
                .as_deref()
                .map(TotpSecret::from_base32)
                .transpose()?;
            let step = secret.and_then(|s| {
                s.verify(
                    code,
                    now.as_secs(),
                    user.totp_last_step.and_then(|v| u64::try_from(v).ok()),
                )
            });
            match step.and_then(|s| i64::try_from(s).ok()) {
                Some(step) => self
                    .store
                    .claim_totp_step(user.user.id, step)
                    .await
                    .or_service("user")?,
                None => false,
            }
        } else {
            self.store
                .use_recovery_code(user.user.id, &sha256_hex(code), now)
                .await
                .or_service("user")?
        };
        if !accepted {
            let locked = self
                .store
                .record_failed_login(user.user.id, now)
                .await
                .or_service("user")?;
            return Err(if locked {
                ServiceError::AccountLocked
            } else {
                ServiceError::InvalidMfaCode
            });
        }
        self.store
            .clear_failed_logins(user.user.id)
            .await
            .or_service("user")?;
        let stage = Stage::after_mfa(user.user.must_change_password);
        self.store
            .set_session_stage(&auth.session.token_hash, stage)
            .await
            .or_service("session")?;
        Ok(stage)
    }

    /// Sets a new password. At the first-login stage the one-time password
    /// was just proven; otherwise the current password is asked again.
    /// Every other session of the user ends.
    pub async fn change_password(
        &self,
        auth: &Authenticated,
        current: Option<&SecretString>,
        new: &SecretString,
    ) -> ServiceResult<Stage> {
        let stage = auth.session.stage;
        match stage {
            Stage::ChangePassword => {}
            Stage::Active => {
                let Some(current) = current else {
                    return Err(ServiceError::WrongCurrentPassword);
                };
                let ok = verify_password_blocking(
                    current.expose_secret().to_owned(),
                    auth.user.password_hash.clone(),
                )
                .await;
                if !ok {
                    return Err(ServiceError::WrongCurrentPassword);
                }
            }
            Stage::Mfa | Stage::EnrolMfa => return Err(ServiceError::WrongStage),
        }
        let user = &auth.user.user;
        let password = NewPassword::new(
            new.expose_secret(),
            user.username.as_str(),
            &self.banned_passwords,
        )?;
        if verify_password_blocking(
            new.expose_secret().to_owned(),
            auth.user.password_hash.clone(),
        )
        .await
        {
            return Err(ServiceError::Invalid(
                precinct_domain::DomainError::invalid(
                    "new_password",
                    "must differ from the current password",
                ),
            ));
        }
        let hash = hash_blocking(password).await?;
        let now = self.clock.now();
        self.store
            .set_password(user.id, &hash, false, Some(&auth.session.token_hash), now)
            .await
            .or_service("user")?;
        let next = if stage == Stage::Active {
            Stage::Active
        } else {
            Stage::after_password_change(user.mfa_enrolled)
        };
        self.store
            .set_session_stage(&auth.session.token_hash, next)
            .await
            .or_service("session")?;
        Ok(next)
    }

    /// Starts (or restarts) MFA enrolment: a fresh secret kept with the
    /// session until a code from it confirms it.
    pub async fn start_enrolment(&self, auth: &Authenticated) -> ServiceResult<EnrolmentStart> {
        if auth.session.stage != Stage::EnrolMfa {
            return Err(ServiceError::WrongStage);
        }
        let secret = match auth.pending_totp_secret.as_deref() {
            Some(s) => TotpSecret::from_base32(s)?,
            None => {
                let s = TotpSecret::generate();
                self.store
                    .set_pending_totp_secret(&auth.session.token_hash, &s.to_base32())
                    .await
                    .or_service("session")?;
                s
            }
        };
        Ok(EnrolmentStart {
            secret_base32: secret.to_base32(),
            otpauth_uri: secret.provisioning_uri(TOTP_ISSUER, auth.user.user.username.as_str()),
        })
    }

    /// Confirms enrolment with a code from the new secret; returns the
    /// recovery codes, which are shown once and stored only as hashes.
    pub async fn confirm_enrolment(
        &self,
        auth: &Authenticated,
        code: &str,
    ) -> ServiceResult<Vec<String>> {
        if auth.session.stage != Stage::EnrolMfa {
            return Err(ServiceError::WrongStage);
        }
        let Some(pending) = auth.pending_totp_secret.as_deref() else {
            return Err(ServiceError::WrongStage);
        };
        let secret = TotpSecret::from_base32(pending)?;
        let now = self.clock.now();
        let Some(step) = secret
            .verify(code, now.as_secs(), None)
            .and_then(|s| i64::try_from(s).ok())
        else {
            return Err(ServiceError::InvalidMfaCode);
        };
        let codes = generate_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| sha256_hex(c)).collect();
        let user = &auth.user.user;
        self.store
            .enrol_totp(user.id, pending, step, &hashes, now)
            .await
            .or_service("user")?;
        self.store
            .clear_failed_logins(user.id)
            .await
            .or_service("user")?;
        self.store
            .set_session_stage(&auth.session.token_hash, Stage::Active)
            .await
            .or_service("session")?;
        Ok(codes)
    }
}
