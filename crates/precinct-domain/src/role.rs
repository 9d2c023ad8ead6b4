//! The roles of SPEC.md. A user holds several; no role alone grants case
//! content (that takes need-to-know, decided by later policy).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

use crate::DomainError;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Officer,
    Detective,
    Supervisor,
    EvidenceCustodian,
    RecordsClerk,
    TrainingCoordinator,
    InternalAffairs,
    Auditor,
    Administrator,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Role::Officer,
        Role::Detective,
        Role::Supervisor,
        Role::EvidenceCustodian,
        Role::RecordsClerk,
        Role::TrainingCoordinator,
        Role::InternalAffairs,
        Role::Auditor,
        Role::Administrator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Detective => "detective",
            Role::Supervisor => "supervisor",
            Role::EvidenceCustodian => "evidence_custodian",
            Role::RecordsClerk => "records_clerk",
            Role::TrainingCoordinator => "training_coordinator",
            Role::InternalAffairs => "internal_affairs",
            Role::Auditor => "auditor",
            Role::Administrator => "administrator",
        }
    }

    /// The role in the department's words, for pages.
    pub fn label(self) -> &'static str {
        match self {
            Role::Officer => "Officer",
            Role::Detective => "Detective",
            Role::Supervisor => "Supervisor",
            Role::EvidenceCustodian => "Evidence custodian",
            Role::RecordsClerk => "Records clerk",
            Role::TrainingCoordinator => "Training coordinator",
            Role::InternalAffairs => "Internal affairs",
            Role::Auditor => "Auditor",
            Role::Administrator => "Administrator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::invalid("role", "unknown role"))
    }
}

/// A non-empty set of roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Result<Self, DomainError> {
        let set: BTreeSet<Role> = roles.into_iter().collect();
        if set.is_empty() {
            return Err(DomainError::invalid(
                "roles",
                "at least one role is required",
            ));
        }
        Ok(Self(set))
    }
    pub fn parse_list(list: &str) -> Result<Self, DomainError> {
        Self::new(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Role::from_str)
                .collect::<Result<Vec<_>, _>>()?,
        )
    }
    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }
    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }
    pub fn to_vec(&self) -> Vec<Role> {
        self.0.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_reject_unknown() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("sheriff".parse::<Role>().is_err());
        assert!(Roles::parse_list("").is_err());
        let rs = Roles::parse_list("officer, supervisor,officer").expect("valid");
        assert_eq!(rs.to_vec(), vec![Role::Officer, Role::Supervisor]);
    }
}
