//! Typed identifiers, so a user id can never be passed where a workstation id
//! is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::DomainError;

macro_rules! id_type {
    ($name:ident, $field:literal) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
            pub fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| DomainError::invalid($field, "not a valid id"))
            }
        }
    };
}

id_type!(UserId, "user_id");
id_type!(UnitId, "unit_id");
id_type!(WorkstationId, "workstation_id");
id_type!(DeviceId, "device_id");
id_type!(CaseId, "case_id");
id_type!(PersonId, "person_id");
id_type!(DocumentId, "document_id");
id_type!(TaskId, "task_id");
