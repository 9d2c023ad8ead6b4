//! Precinct's domain: the department's words and rules as types. This crate
//! knows nothing of HTTP, databases or async runtimes; every other crate
//! builds on it.

pub mod case;
pub mod channel;
pub mod clock;
pub mod credentials;
pub mod document;
pub mod error;
pub mod ids;
pub mod nibrs;
pub mod offsite;
pub mod org;
pub mod person;
pub mod role;
pub mod session;
pub mod user;

pub use channel::{Channel, Fingerprint};
pub use clock::{Clock, FakeClock, SystemClock, Timestamp};
pub use error::DomainError;
pub use role::{Role, Roles};
