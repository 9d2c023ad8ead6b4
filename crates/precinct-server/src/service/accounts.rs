//! Logging in and staying logged in: password, second factor, first-login
//! password change and MFA enrolment, and the checks every request makes on
//! its session.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use precinct_audit::event::AuditEvent;
use precinct_domain::credentials::{
    dummy_hash, generate_recovery_codes, sha256_hex, verify_password, NewPassword, TotpSecret,
};
use precinct_domain::ids::UserId;
use precinct_domain::org::Unit;
use precinct_domain::session::{Session, SessionCheck, Stage};
use precinct_domain::user::MAX_FAILED_LOGINS;
use precinct_domain::user::{User, Username};
use precinct_domain::Timestamp;
use precinct_store::UserRecord;
use rand::rngs::OsRng;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

use super::audit::{public_session_id, Origin, Outcome};
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
#[derive(Clone)]
pub struct Authenticated {
    pub session: Session,
    pub pending_totp_secret: Option<String>,
    pub user: UserRecord,
}

impl std::fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("user", &self.user)
            .field("stage", &self.session.stage)
            .field(
                "pending_totp_secret",
                &self.pending_totp_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .finish_non_exhaustive()
    }
}

impl Authenticated {
    /// The request's origin, acting as this session's user.
    pub fn origin(&self, request: &Origin) -> Origin {
        request.as_user(&self.user.user, Some(&self.session))
    }
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

/// The stored form of a session token: its SHA-256, exactly as sent (tokens
/// are case-sensitive, unlike recovery codes).
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
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
    /// Every outcome is recorded.
    pub async fn begin_login(
        &self,
        origin: &Origin,
        username: &str,
        password: &SecretString,
        acknowledged_notice: bool,
    ) -> ServiceResult<IssuedSession> {
        let anonymous_denial = |reason: &str| {
            self.event(origin, "auth.login", Outcome::Denied)
                .reason(reason)
                .build()
        };
        if !acknowledged_notice {
            let e = anonymous_denial("notice_not_acknowledged");
            return Err(self.deny(e, ServiceError::NoticeNotAcknowledged).await);
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
            // The attempted name is not recorded: it may be a mistyped password.
            let e = anonymous_denial("unknown_user");
            return Err(self.deny(e, ServiceError::InvalidCredentials).await);
        };
        let user = &record.user;
        let as_user = origin.as_user(user, None);
        let denial = |reason: &str| {
            self.event(&as_user, "auth.login", Outcome::Denied)
                .object("user", user.id)
                .reason(reason)
                .build()
        };
        if user.is_locked() {
            let e = denial("account_locked");
            return Err(self.deny(e, ServiceError::AccountLocked).await);
        }
        // Counted before the password is checked: concurrent guesses cannot
        // get more than the allowed number looked at.
        let attempts = self.begin_attempt(&as_user, user.id, "auth.login").await?;
        let ok = verify_password_blocking(
            password.expose_secret().to_owned(),
            record.password_hash.clone(),
        )
        .await;
        let now = self.clock.now();
        if !ok {
            return Err(self
                .failed_attempt(
                    &as_user,
                    user.id,
                    "auth.login",
                    "invalid_password",
                    attempts,
                )
                .await);
        }
        if !user.can_log_in() {
            let e = denial("account_disabled");
            return Err(self.deny(e, ServiceError::InvalidCredentials).await);
        }
        let stage = Stage::after_password(user.mfa_enrolled, user.must_change_password);
        if stage == Stage::Mfa {
            // A right password is no failure; earlier failures still count
            // until the second factor is right too.
            self.store
                .forget_attempt(&attempts)
                .await
                .or_service("user")?;
        } else {
            self.store
                .clear_failed_logins(user.id)
                .await
                .or_service("user")?;
        }
        match self.issue_session(&as_user, user.id, stage, now).await {
            // The account was locked (or disabled) while the password was
            // being checked.
            Err(ServiceError::NotFound(_)) => {
                let e = denial("account_locked");
                Err(self.deny(e, ServiceError::AccountLocked).await)
            }
            other => other,
        }
    }

    /// Counts an attempt before its secret is checked. Past the limit (only
    /// concurrent attempts get there) the account is locked at once.
    async fn begin_attempt(
        &self,
        origin: &Origin,
        user: UserId,
        action: &str,
    ) -> ServiceResult<precinct_store::LoginAttempt> {
        let now = self.clock.now();
        let attempts = self
            .store
            .claim_login_attempt(user, now)
            .await
            .or_service("user")?;
        if attempts.in_window > MAX_FAILED_LOGINS {
            let e = self.lockout_events(origin, user, action, "too_many_attempts");
            self.store
                .lock_account(user, now, &e)
                .await
                .or_service("user")?;
            return Err(ServiceError::AccountLocked);
        }
        Ok(attempts)
    }

    fn lockout_events(
        &self,
        origin: &Origin,
        user: UserId,
        action: &str,
        reason: &str,
    ) -> Vec<AuditEvent> {
        vec![
            self.event(origin, action, Outcome::Denied)
                .object("user", user)
                .reason(reason)
                .build(),
            self.event(origin, "auth.lockout", Outcome::Denied)
                .object("user", user)
                .reason("too_many_failed_logins")
                .build(),
        ]
    }

    /// Records a failed password or code (already counted by
    /// `begin_attempt`), locking the account when it was the last allowed.
    async fn failed_attempt(
        &self,
        origin: &Origin,
        user: UserId,
        action: &str,
        reason: &str,
        attempts: precinct_store::LoginAttempt,
    ) -> ServiceError {
        let now = self.clock.now();
        let written = if attempts.in_window >= MAX_FAILED_LOGINS {
            let e = self.lockout_events(origin, user, action, reason);
            self.store.lock_account(user, now, &e).await.map(|()| true)
        } else {
            let e = self
                .event(origin, action, Outcome::Denied)
                .object("user", user)
                .reason(reason)
                .build();
            self.store.record_and_sequence(&[e]).await.map(|()| false)
        };
        match written {
            Ok(true) => ServiceError::AccountLocked,
            Ok(false) if action == "auth.mfa" => ServiceError::InvalidMfaCode,
            Ok(false) if action == "auth.password.change" => ServiceError::WrongCurrentPassword,
            Ok(false) => ServiceError::InvalidCredentials,
            Err(e) => ServiceError::from_store(e, "user"),
        }
    }

    async fn issue_session(
        &self,
        origin: &Origin,
        user_id: UserId,
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
        let sid = public_session_id(&session.token_hash);
        let mut origin = origin.clone();
        origin.session_id = Some(sid.clone());
        let e = self
            .event(&origin, "auth.login", Outcome::Allowed)
            .object("session", sid)
            .reason(stage.as_str())
            .build();
        self.store
            .create_session(&session, &[e])
            .await
            .or_service("session")?;
        Ok(IssuedSession {
            token: SecretString::from(token),
            session,
        })
    }

    /// Resolves a bearer token to its session, enforcing the idle lock, the
    /// absolute limit and the account's status. Any doubt means no session.
    pub async fn authenticate(&self, origin: &Origin, token: &str) -> ServiceResult<Authenticated> {
        let hash = token_hash(token);
        let (mut session, pending, user) = match self.store.session_with_user(&hash).await {
            Ok(s) => s,
            Err(precinct_store::StoreError::NotFound) => return Err(ServiceError::Unauthenticated),
            Err(e) => return Err(ServiceError::from_store(e, "session")),
        };
        let now = self.clock.now();
        let ended = |action: &str| {
            let mut o = origin.clone();
            o.actor_id = Some(session.user_id.to_string());
            o.session_id = Some(public_session_id(&hash));
            self.event(&o, action, Outcome::Denied)
                .object("session", public_session_id(&hash))
                .build()
        };
        let end = match session.check(now) {
            SessionCheck::Valid => None,
            SessionCheck::IdleLocked => {
                Some(("auth.session.idle_lock", ServiceError::SessionLocked))
            }
            SessionCheck::Expired => Some(("auth.session.expired", ServiceError::SessionExpired)),
        };
        if let Some((action, error)) = end {
            let e = ended(action);
            self.store
                .delete_session(&hash, &[e])
                .await
                .or_service("session")?;
            return Err(error);
        }
        if !user.user.can_log_in() {
            let e = ended("auth.session.account_unavailable");
            self.store
                .delete_session(&hash, &[e])
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
    pub async fn units_of(&self, user: &User) -> ServiceResult<Vec<Unit>> {
        let mut units = Vec::with_capacity(user.units.len());
        for id in &user.units {
            units.push(self.store.unit(*id).await.or_service("unit")?);
        }
        Ok(units)
    }

    pub async fn logout(&self, auth: &Authenticated, origin: &Origin) -> ServiceResult<()> {
        let e = self
            .event(&auth.origin(origin), "auth.logout", Outcome::Allowed)
            .object("session", public_session_id(&auth.session.token_hash))
            .build();
        self.store
            .delete_session(&auth.session.token_hash, &[e])
            .await
            .or_service("session")
    }

    /// Moves the session to its next login stage, recorded.
    async fn advance_stage(
        &self,
        auth: &Authenticated,
        origin: &Origin,
        stage: Stage,
    ) -> ServiceResult<()> {
        self.advance_stage_with_events(auth, origin, stage, Vec::new())
            .await
    }

    async fn advance_stage_with(
        &self,
        auth: &Authenticated,
        origin: &Origin,
        stage: Stage,
        also: AuditEvent,
    ) -> ServiceResult<()> {
        self.advance_stage_with_events(auth, origin, stage, vec![also])
            .await
    }

    async fn advance_stage_with_events(
        &self,
        auth: &Authenticated,
        origin: &Origin,
        stage: Stage,
        mut events: Vec<AuditEvent>,
    ) -> ServiceResult<()> {
        let e = self
            .event(origin, "auth.session.stage", Outcome::Allowed)
            .object("session", public_session_id(&auth.session.token_hash))
            .reason(stage.as_str())
            .build();
        events.push(e);
        self.store
            .set_session_stage(&auth.session.token_hash, stage, &events)
            .await
            .or_service("session")
    }

    /// Second factor: a 6-digit TOTP code, or one of the recovery codes. A
    /// wrong code counts as a failed login.
    pub async fn verify_mfa(
        &self,
        auth: &Authenticated,
        origin: &Origin,
        code: &str,
    ) -> ServiceResult<Stage> {
        if auth.session.stage != Stage::Mfa {
            return Err(ServiceError::WrongStage);
        }
        let origin = &auth.origin(origin);
        let user = &auth.user;
        let attempts = self.begin_attempt(origin, user.user.id, "auth.mfa").await?;
        let now = self.clock.now();
        let totp = code.trim().len() == 6;
        let accepted = if totp {
            let secret = user
                .totp_secret
                .as_deref()
                .map(TotpSecret::from_base32)
                .transpose()?;
            let last = user.totp_last_step.and_then(|v| u64::try_from(v).ok());
            let step = secret.and_then(|s| s.verify(code, now.as_secs(), last));
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
            return Err(self
                .failed_attempt(
                    origin,
                    user.user.id,
                    "auth.mfa",
                    "invalid_mfa_code",
                    attempts,
                )
                .await);
        }
        self.store
            .clear_failed_logins(user.user.id)
            .await
            .or_service("user")?;
        let stage = Stage::after_mfa(user.user.must_change_password);
        let method = if totp { "totp" } else { "recovery_code" };
        let e = self
            .event(origin, "auth.mfa", Outcome::Allowed)
            .object("user", user.user.id)
            .reason(method)
            .build();
        self.advance_stage_with(auth, origin, stage, e).await?;
        Ok(stage)
    }

    /// Sets a new password. At the first-login stage the one-time password
    /// was just proven; otherwise the current password is asked again.
    /// Every other session of the user ends.
    pub async fn change_password(
        &self,
        auth: &Authenticated,
        origin: &Origin,
        current: Option<&SecretString>,
        new: &SecretString,
    ) -> ServiceResult<Stage> {
        let origin = &auth.origin(origin);
        let user = &auth.user.user;
        let stage = auth.session.stage;
        match stage {
            Stage::ChangePassword => {}
            Stage::Active => {
                let ok = match current {
                    Some(c) => {
                        verify_password_blocking(
                            c.expose_secret().to_owned(),
                            auth.user.password_hash.clone(),
                        )
                        .await
                    }
                    None => false,
                };
                if !ok {
                    // A stolen session must not become a password oracle.
                    let attempts = self
                        .begin_attempt(origin, user.id, "auth.password.change")
                        .await?;
                    return Err(self
                        .failed_attempt(
                            origin,
                            user.id,
                            "auth.password.change",
                            "wrong_current_password",
                            attempts,
                        )
                        .await);
                }
            }
            Stage::Mfa | Stage::EnrolMfa => return Err(ServiceError::WrongStage),
        }
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
        let e = self
            .event(origin, "auth.password.change", Outcome::Allowed)
            .object("user", user.id)
            .build();
        self.store
            .set_password(
                user.id,
                &hash,
                false,
                Some(&auth.session.token_hash),
                now,
                &[e],
            )
            .await
            .or_service("user")?;
        let next = if stage == Stage::Active {
            Stage::Active
        } else {
            Stage::after_password_change(user.mfa_enrolled)
        };
        if next != stage {
            self.advance_stage(auth, origin, next).await?;
        }
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
        origin: &Origin,
        code: &str,
    ) -> ServiceResult<Vec<String>> {
        if auth.session.stage != Stage::EnrolMfa {
            return Err(ServiceError::WrongStage);
        }
        let Some(pending) = auth.pending_totp_secret.as_deref() else {
            return Err(ServiceError::WrongStage);
        };
        let origin = &auth.origin(origin);
        let user = &auth.user.user;
        let secret = TotpSecret::from_base32(pending)?;
        let now = self.clock.now();
        let step = secret
            .verify(code, now.as_secs(), None)
            .and_then(|s| i64::try_from(s).ok());
        let Some(step) = step else {
            let e = self
                .event(origin, "auth.mfa.enrol", Outcome::Denied)
                .object("user", user.id)
                .reason("invalid_mfa_code")
                .build();
            return Err(self.deny(e, ServiceError::InvalidMfaCode).await);
        };
        let codes = generate_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| sha256_hex(c)).collect();
        let e = self
            .event(origin, "auth.mfa.enrol", Outcome::Allowed)
            .object("user", user.id)
            .build();
        self.store
            .enrol_totp(user.id, pending, step, &hashes, now, &[e])
            .await
            .or_service("user")?;
        self.store
            .clear_failed_logins(user.id)
            .await
            .or_service("user")?;
        self.advance_stage(auth, origin, Stage::Active).await?;
        Ok(codes)
    }
}
