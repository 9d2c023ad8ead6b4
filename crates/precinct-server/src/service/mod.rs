//! Use-cases: what a handler (HTTP, HTML or command line) asks Precinct to
//! do. Each takes already-parsed input, applies the domain rules, talks to
//! the store and returns a domain result or a `ServiceError` with a stable
//! code. Handlers stay thin; the command line calls the same functions.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod auditlog;
pub mod auditor;
pub mod cases;
pub mod export;
pub mod mail;
pub mod offsite;
pub mod records;
pub mod vault;
pub mod verify;

use precinct_domain::{Clock, DomainError};
use precinct_store::{Store, StoreError};
use std::collections::HashSet;
use std::sync::Arc;
use thiserror::Error;

/// What every use-case needs: the store, the clock and the department's
/// banned-password list.
#[derive(Debug, Clone)]
pub struct Services {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub banned_passwords: Arc<HashSet<String>>,
    /// Signs the audit log's checkpoints.
    pub log_key: Arc<precinct_audit::checkpoint::LogKey>,
    /// Where each new checkpoint is also appended, outside the database.
    pub witness_file: Option<std::path::PathBuf>,
    /// Shared transactions for audit-only writes, when switched on.
    pub group_commit: Option<audit::GroupCommit>,
    /// Checkpoints not yet copied to the witness file (retried each time a
    /// checkpoint is signed) and how many copies failed.
    pub witness_backlog: Arc<std::sync::Mutex<Vec<String>>>,
    pub witness_failures: Arc<std::sync::atomic::AtomicU64>,
    /// The department's authorization policy.
    pub policy: Arc<precinct_policy::PolicyEngine>,
    /// Encrypts attachments; without it attachments are refused.
    pub attachment_key: Option<Arc<vault::AttachmentKey>>,
    /// The department's limits on off-site grants.
    pub grant_limits: precinct_domain::offsite::GrantLimits,
    /// Weekly off-duty hours under grants past which a supervisor is warned.
    pub weekly_hours_warning: f64,
    /// E-mail for notifications, when an SMTP server is configured.
    pub mail: Option<Arc<mail::Mailer>>,
}

impl Services {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        banned_passwords: HashSet<String>,
        log_key: precinct_audit::checkpoint::LogKey,
        policy: precinct_policy::PolicyEngine,
    ) -> Self {
        Self {
            policy: Arc::new(policy),
            attachment_key: None,
            grant_limits: Default::default(),
            weekly_hours_warning: 8.0,
            mail: None,
            store,
            clock,
            banned_passwords: Arc::new(banned_passwords),
            log_key: Arc::new(log_key),
            witness_file: None,
            group_commit: None,
            witness_backlog: Default::default(),
            witness_failures: Default::default(),
        }
    }

    /// Switches group commit on (needs a running Tokio runtime).
    pub fn with_group_commit(mut self) -> Self {
        if self.group_commit.is_none() {
            self.group_commit = Some(audit::GroupCommit::start(self.store.clone()));
        }
        self
    }

    /// Encrypt attachments with `key`.
    pub fn with_attachment_key(mut self, key: vault::AttachmentKey) -> Self {
        self.attachment_key = Some(Arc::new(key));
        self
    }

    /// The department's off-site limits and work-life threshold.
    pub fn with_offsite(
        mut self,
        limits: precinct_domain::offsite::GrantLimits,
        weekly_hours_warning: f64,
    ) -> Self {
        self.grant_limits = limits;
        self.weekly_hours_warning = weekly_hours_warning;
        self
    }

    /// Send notifications' e-mail through `mailer`.
    pub fn with_mail(mut self, mailer: Option<mail::Mailer>) -> Self {
        self.mail = mailer.map(Arc::new);
        self
    }

    /// Also append every checkpoint to `path` (a witness copy).
    pub fn with_witness_file(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.witness_file = path;
        self
    }
}

#[derive(Debug, Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("you must acknowledge the system-use notice to log in")]
    NoticeNotAcknowledged,
    #[error("the user name or password is not correct")]
    InvalidCredentials,
    #[error("the account is locked after too many failed logins; an administrator must unlock it")]
    AccountLocked,
    #[error("the verification code is not correct")]
    InvalidMfaCode,
    #[error("the current password is not correct")]
    WrongCurrentPassword,
    #[error("finish logging in first")]
    LoginIncomplete,
    #[error("this step of the login is not the current one")]
    WrongStage,
    #[error("you are not logged in")]
    Unauthenticated,
    #[error("the session was locked after 30 minutes without activity; log in again")]
    SessionLocked,
    #[error("the session reached its 12-hour limit; log in again")]
    SessionExpired,
    #[error("this action needs the {0} role")]
    Forbidden(&'static str),
    #[error("the service is unavailable; nothing was changed")]
    Unavailable,
    /// A policy decision refused the request; the message says why.
    #[error("{0}")]
    Denied(String),
    /// Stored material failed its integrity check; nothing is sent.
    #[error("the stored material failed its integrity check; this was recorded")]
    Integrity,
}

impl ServiceError {
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Invalid(e) => e.code(),
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::NoticeNotAcknowledged => "notice_not_acknowledged",
            ServiceError::InvalidCredentials => "invalid_credentials",
            ServiceError::AccountLocked => "account_locked",
            ServiceError::InvalidMfaCode => "invalid_mfa_code",
            ServiceError::WrongCurrentPassword => "wrong_current_password",
            ServiceError::LoginIncomplete => "login_incomplete",
            ServiceError::WrongStage => "wrong_login_stage",
            ServiceError::Unauthenticated => "unauthenticated",
            ServiceError::SessionLocked => "session_locked",
            ServiceError::SessionExpired => "session_expired",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::Unavailable => "unavailable",
            ServiceError::Denied(_) => "access_denied",
            ServiceError::Integrity => "integrity_failure",
        }
    }

    /// Maps a store error; database trouble becomes `Unavailable` (fail
    /// closed) and is logged without data.
    pub fn from_store(e: StoreError, what: &'static str) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound(what),
            StoreError::Conflict(c) => ServiceError::Conflict(c),
            StoreError::MissingAudit => {
                tracing::error!("a change without its audit record was refused");
                ServiceError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                ServiceError::Unavailable
            }
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// `?` on store calls where "not found" names the thing looked for.
pub(crate) trait StoreResultExt<T> {
    fn or_service(self, what: &'static str) -> ServiceResult<T>;
}

impl<T> StoreResultExt<T> for Result<T, StoreError> {
    fn or_service(self, what: &'static str) -> ServiceResult<T> {
        self.map_err(|e| ServiceError::from_store(e, what))
    }
}
