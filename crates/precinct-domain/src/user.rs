//! Users and the account rules of CJIS AC-7: five failed logins within
//! fifteen minutes lock the account until an administrator unlocks it.

use serde::Serialize;
use std::time::Duration;

use crate::ids::{UnitId, UserId};
use crate::{DomainError, Roles, Timestamp};

pub const MAX_FAILED_LOGINS: u32 = 5;
pub const FAILED_LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A login name: 3 to 64 characters of lowercase letters, digits, `.`, `_`
/// and `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        let len = s.chars().count();
        if !(3..=64).contains(&len) {
            return Err(DomainError::invalid(
                "username",
                "must be 3 to 64 characters",
            ));
        }
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if !ok_chars || !s.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(DomainError::invalid(
                "username",
                "must start with a lowercase letter and use only a-z, 0-9, '.', '_' and '-'",
            ));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "active" => Ok(UserStatus::Active),
            "disabled" => Ok(UserStatus::Disabled),
            _ => Err(DomainError::invalid("status", "must be active or disabled")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    pub roles: Roles,
    pub units: Vec<UnitId>,
    pub status: UserStatus,
    /// Set when the account was locked by failed logins; cleared by an
    /// administrator.
    pub locked_at: Option<Timestamp>,
    pub must_change_password: bool,
    pub mfa_enrolled: bool,
    /// Clocked in (SPEC: policies see duty status).
    pub on_duty: bool,
    pub created_at: Timestamp,
}

impl User {
    pub fn is_locked(&self) -> bool {
        self.locked_at.is_some()
    }
    pub fn can_log_in(&self) -> bool {
        self.status == UserStatus::Active && !self.is_locked()
    }
}

/// Whether the failures recorded so far (their times, any order) lock the
/// account: `MAX_FAILED_LOGINS` of them within `FAILED_LOGIN_WINDOW` of now.
pub fn failures_lock_account(failures: &[Timestamp], now: Timestamp) -> bool {
    let window_start = now.minus(FAILED_LOGIN_WINDOW);
    let recent = failures.iter().filter(|t| **t > window_start).count();
    recent >= MAX_FAILED_LOGINS as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("j.doe-2").is_ok());
        assert!(Username::parse("JDoe").is_err());
        assert!(Username::parse("2pac").is_err());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("a b c").is_err());
    }

    #[test]
    fn five_failures_within_fifteen_minutes_lock() {
        let now = Timestamp::from_micros(10_000_000_000);
        let min = Duration::from_secs(60);
        let four: Vec<_> = (0..4).map(|i| now.minus(min * i)).collect();
        assert!(!failures_lock_account(&four, now));
        let mut five = four.clone();
        five.push(now.minus(min * 14));
        assert!(failures_lock_account(&five, now));
        let mut old = four;
        old.push(now.minus(min * 16));
        assert!(!failures_lock_account(&old, now));
    }
}
