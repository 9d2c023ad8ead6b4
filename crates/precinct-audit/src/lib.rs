//! Precinct's tamper-evident audit log, as a small crate with no database
//! and no network: RFC 6962 / RFC 9162 Merkle hashing, inclusion and
//! consistency proofs and their verification. The server builds the log
//! with it; the offline verifier checks exports with it.

pub mod bundle;
pub mod checkpoint;
pub mod event;
pub mod merkle;
mod time;

pub use time::time_rfc3339;
