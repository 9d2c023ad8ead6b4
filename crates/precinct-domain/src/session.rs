//! Server-side sessions and their limits (CJIS AC-11, IA-11): locked after 30
//! minutes idle, re-login forced after 12 hours. A session walks through the
//! login stages before it may do anything else.

use serde::Serialize;
use std::time::Duration;

use crate::ids::UserId;
use crate::{DomainError, Timestamp};

pub const IDLE_LIMIT: Duration = Duration::from_secs(30 * 60);
pub const ABSOLUTE_LIMIT: Duration = Duration::from_secs(12 * 60 * 60);

/// Where a session stands in the login flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Password verified; a TOTP or recovery code is next.
    Mfa,
    /// The password is a one-time or reset one and must be replaced.
    ChangePassword,
    /// No authenticator enrolled yet.
    EnrolMfa,
    /// Fully authenticated.
    Active,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Mfa => "mfa",
            Stage::ChangePassword => "change_password",
            Stage::EnrolMfa => "enrol_mfa",
            Stage::Active => "active",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "mfa" => Ok(Stage::Mfa),
            "change_password" => Ok(Stage::ChangePassword),
            "enrol_mfa" => Ok(Stage::EnrolMfa),
            "active" => Ok(Stage::Active),
            _ => Err(DomainError::invalid("stage", "unknown session stage")),
        }
    }

    /// The stage after the password was verified.
    pub fn after_password(mfa_enrolled: bool, must_change_password: bool) -> Stage {
        if mfa_enrolled {
            Stage::Mfa
        } else if must_change_password {
            Stage::ChangePassword
        } else {
            Stage::EnrolMfa
        }
    }
    /// The stage after a second factor was verified.
    pub fn after_mfa(must_change_password: bool) -> Stage {
        if must_change_password {
            Stage::ChangePassword
        } else {
            Stage::Active
        }
    }
    /// The stage after a new password was set.
    pub fn after_password_change(mfa_enrolled: bool) -> Stage {
        if mfa_enrolled {
            Stage::Active
        } else {
            Stage::EnrolMfa
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the bearer token; the token itself is never stored.
    pub token_hash: String,
    pub user_id: UserId,
    pub stage: Stage,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCheck {
    Valid,
    /// Idle past the limit: the user must authenticate again.
    IdleLocked,
    /// Older than the absolute limit: the user must log in again.
    Expired,
}

impl Session {
    pub fn check(&self, now: Timestamp) -> SessionCheck {
        if now.since(self.created_at) >= ABSOLUTE_LIMIT {
            SessionCheck::Expired
        } else if now.since(self.last_seen_at) >= IDLE_LIMIT {
            SessionCheck::IdleLocked
        } else {
            SessionCheck::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(created: Timestamp) -> Session {
        Session {
            token_hash: String::new(),
            user_id: UserId::new_random(),
            stage: Stage::Active,
            csrf_token: String::new(),
            created_at: created,
            last_seen_at: created,
        }
    }

    #[test]
    fn idle_and_absolute_limits() {
        let t0 = Timestamp::from_micros(1_000_000_000_000);
        let mut s = session(t0);
        assert_eq!(
            s.check(t0.plus(Duration::from_secs(29 * 60))),
            SessionCheck::Valid
        );
        assert_eq!(s.check(t0.plus(IDLE_LIMIT)), SessionCheck::IdleLocked);
        s.last_seen_at = t0.plus(Duration::from_secs(11 * 3600 + 59 * 60));
        assert_eq!(
            s.check(t0.plus(Duration::from_secs(11 * 3600 + 59 * 60 + 30))),
            SessionCheck::Valid
        );
        assert_eq!(s.check(t0.plus(ABSOLUTE_LIMIT)), SessionCheck::Expired);
    }

    #[test]
    fn login_stages() {
        assert_eq!(Stage::after_password(false, true), Stage::ChangePassword);
        assert_eq!(Stage::after_password_change(false), Stage::EnrolMfa);
        assert_eq!(Stage::after_password(true, true), Stage::Mfa);
        assert_eq!(Stage::after_mfa(true), Stage::ChangePassword);
        assert_eq!(Stage::after_password_change(true), Stage::Active);
        assert_eq!(Stage::after_mfa(false), Stage::Active);
    }
}
