//! The department's organisation: precincts contain units, each with a
//! supervisor; a unit's chain of command runs up through its parents. Later
//! issues use the chain for approvals.

use serde::Serialize;
use std::collections::HashMap;

use crate::ids::{UnitId, UserId};
use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Precinct,
    Unit,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Precinct => "precinct",
            UnitKind::Unit => "unit",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "precinct" => Ok(UnitKind::Precinct),
            "unit" => Ok(UnitKind::Unit),
            _ => Err(DomainError::invalid("kind", "must be precinct or unit")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unit {
    pub id: UnitId,
    pub name: String,
    pub kind: UnitKind,
    pub parent: Option<UnitId>,
    pub supervisor: Option<UserId>,
}

/// A display name: 1 to 120 characters, no control characters.
pub fn validate_name(field: &'static str, s: &str) -> Result<String, DomainError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if t.chars().count() > 120 {
        return Err(DomainError::invalid(
            field,
            "must be at most 120 characters",
        ));
    }
    if t.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(t.to_owned())
}

/// Validates a unit's place in the tree: a unit lives in a precinct or another
/// unit, a precinct at the top, and no unit is its own ancestor.
pub fn validate_parent(
    unit: UnitId,
    kind: UnitKind,
    parent: Option<UnitId>,
    parents: &HashMap<UnitId, Option<UnitId>>,
) -> Result<(), DomainError> {
    match (kind, parent) {
        (UnitKind::Precinct, Some(_)) => {
            return Err(DomainError::invalid("parent", "a precinct has no parent"))
        }
        (UnitKind::Unit, None) => {
            return Err(DomainError::invalid(
                "parent",
                "a unit belongs to a precinct or unit",
            ))
        }
        _ => {}
    }
    let mut cursor = parent;
    let mut steps = 0;
    while let Some(p) = cursor {
        if p == unit || steps > parents.len() {
            return Err(DomainError::invalid("parent", "would create a cycle"));
        }
        cursor = parents.get(&p).copied().flatten();
        steps += 1;
    }
    Ok(())
}

/// The supervisors above a unit, nearest first: the unit's own supervisor,
/// then its parent's, up to the precinct's.
pub fn chain_of_command(unit: UnitId, units: &HashMap<UnitId, Unit>) -> Vec<UserId> {
    let mut chain = Vec::new();
    let mut cursor = Some(unit);
    while let Some(id) = cursor {
        let Some(u) = units.get(&id) else { break };
        if let Some(s) = u.supervisor {
            if !chain.contains(&s) {
                chain.push(s);
            }
        }
        cursor = u.parent;
        if chain.len() > units.len() {
            break;
        }
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_runs_up_to_the_precinct() {
        let p = UnitId::new_random();
        let u = UnitId::new_random();
        let (cap, sgt) = (UserId::new_random(), UserId::new_random());
        let units = HashMap::from([
            (
                p,
                Unit {
                    id: p,
                    name: "Central".into(),
                    kind: UnitKind::Precinct,
                    parent: None,
                    supervisor: Some(cap),
                },
            ),
            (
                u,
                Unit {
                    id: u,
                    name: "Burglary".into(),
                    kind: UnitKind::Unit,
                    parent: Some(p),
                    supervisor: Some(sgt),
                },
            ),
        ]);
        assert_eq!(chain_of_command(u, &units), vec![sgt, cap]);
    }

    #[test]
    fn parent_rules() {
        let p = UnitId::new_random();
        let u = UnitId::new_random();
        let parents = HashMap::from([(p, None), (u, Some(p))]);
        assert!(validate_parent(p, UnitKind::Precinct, Some(u), &parents).is_err());
        assert!(validate_parent(u, UnitKind::Unit, None, &parents).is_err());
        assert!(validate_parent(u, UnitKind::Unit, Some(p), &parents).is_ok());
        let w = UnitId::new_random();
        let parents = HashMap::from([(p, None), (u, Some(w)), (w, Some(u))]);
        assert!(validate_parent(w, UnitKind::Unit, Some(u), &parents).is_err());
    }
}
