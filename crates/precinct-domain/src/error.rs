//! Validation errors raised when input cannot become a domain value. Each
//! carries a stable machine-readable code that the HTTP face passes on.

use thiserror::Error;

/// Why a value was refused. The message never repeats the refused value, so
/// that a password or a personal detail cannot leak through an error.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DomainError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("the password is too short: at least {min} characters are required")]
    PasswordTooShort { min: usize },
    #[error("the password is too long: at most {max} characters are allowed")]
    PasswordTooLong { max: usize },
    #[error("the password is on the list of common or compromised passwords")]
    PasswordBanned,
    #[error("the password must not contain the user name")]
    PasswordContainsUsername,
}

impl DomainError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// The stable code a client can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_input",
            Self::PasswordTooShort { .. } => "password_too_short",
            Self::PasswordTooLong { .. } => "password_too_long",
            Self::PasswordBanned => "password_banned",
            Self::PasswordContainsUsername => "password_contains_username",
        }
    }
}
