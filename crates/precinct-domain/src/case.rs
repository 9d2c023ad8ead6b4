//! Cases: their numbers (`2026-000123`, counted per year), their offense
//! (an FBI NIBRS code), the status life cycle with only its valid moves, and
//! the classification every document carries.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

use crate::ids::{CaseId, UnitId, UserId};
use crate::{DomainError, Timestamp};

/// A case number: the year it was opened and its place in that year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseNumber {
    pub year: u16,
    pub seq: u32,
}

impl CaseNumber {
    pub fn new(year: i64, seq: i64) -> Result<Self, DomainError> {
        let year = u16::try_from(year)
            .ok()
            .filter(|y| (1900..=9999).contains(y));
        let seq = u32::try_from(seq)
            .ok()
            .filter(|s| (1..=999_999).contains(s));
        match (year, seq) {
            (Some(year), Some(seq)) => Ok(Self { year, seq }),
            _ => Err(DomainError::invalid(
                "case_number",
                "must be a year and a number from 1 to 999999, like 2026-000123",
            )),
        }
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:06}", self.year, self.seq)
    }
}

impl FromStr for CaseNumber {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DomainError::invalid("case_number", "must look like 2026-000123");
        let (y, n) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || n.len() != 6 || !(y.bytes().chain(n.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        Self::new(y.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?)
    }
}

impl Serialize for CaseNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Where a case stands. `Sealed` is entered and left only by court order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    Active,
    Suspended,
    Closed,
    Sealed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 5] = [
        CaseStatus::Open,
        CaseStatus::Active,
        CaseStatus::Suspended,
        CaseStatus::Closed,
        CaseStatus::Sealed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Active => "active",
            CaseStatus::Suspended => "suspended",
            CaseStatus::Closed => "closed",
            CaseStatus::Sealed => "sealed",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            CaseStatus::Open => "Open",
            CaseStatus::Active => "Active",
            CaseStatus::Suspended => "Suspended",
            CaseStatus::Closed => "Closed",
            CaseStatus::Sealed => "Sealed",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "status",
                    "must be open, active, suspended, closed or sealed",
                )
            })
    }
}

/// A move in the life cycle, as a user asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// open → active: work starts.
    Activate,
    /// active → suspended: no leads for now.
    Suspend,
    /// suspended → active.
    Resume,
    /// active or suspended → closed.
    Close,
    /// closed → active: new information.
    Reopen,
    /// any unsealed status → sealed, naming the court order.
    Seal { order: CourtOrder },
    /// sealed → the status it had before, naming the court order.
    Unseal { order: CourtOrder },
}

impl Transition {
    pub fn name(&self) -> &'static str {
        match self {
            Transition::Activate => "activate",
            Transition::Suspend => "suspend",
            Transition::Resume => "resume",
            Transition::Close => "close",
            Transition::Reopen => "reopen",
            Transition::Seal { .. } => "seal",
            Transition::Unseal { .. } => "unseal",
        }
    }

    /// Parses a transition by name; sealing and unsealing need the order.
    pub fn parse(name: &str, court_order: Option<&str>) -> Result<Self, DomainError> {
        let order = || CourtOrder::parse(court_order.unwrap_or_default());
        Ok(match name {
            "activate" => Transition::Activate,
            "suspend" => Transition::Suspend,
            "resume" => Transition::Resume,
            "close" => Transition::Close,
            "reopen" => Transition::Reopen,
            "seal" => Transition::Seal { order: order()? },
            "unseal" => Transition::Unseal { order: order()? },
            _ => {
                return Err(DomainError::invalid(
                    "transition",
                    "must be activate, suspend, resume, close, reopen, seal or unseal",
                ))
            }
        })
    }

    /// The status after this move from `from`, or why it is not allowed.
    /// `before_seal` is the status a sealed case returns to.
    pub fn apply(
        &self,
        from: CaseStatus,
        before_seal: Option<CaseStatus>,
    ) -> Result<CaseStatus, DomainError> {
        use CaseStatus::*;
        let to = match (self, from) {
            (Transition::Activate, Open) => Active,
            (Transition::Suspend, Active) => Suspended,
            (Transition::Resume, Suspended) => Active,
            (Transition::Close, Active | Suspended) => Closed,
            (Transition::Reopen, Closed) => Active,
            (Transition::Seal { .. }, s) if s != Sealed => Sealed,
            (Transition::Unseal { .. }, Sealed) => before_seal.unwrap_or(Closed),
            _ => {
                return Err(DomainError::invalid(
                    "transition",
                    format!("a case that is {} cannot {}", from.as_str(), self.name()),
                ))
            }
        };
        Ok(to)
    }
}

/// The reference of a court order (sealing, unsealing): 1 to 80 printable
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CourtOrder(String);

impl CourtOrder {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 80 || t.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "court_order",
                "a court order reference of 1 to 80 characters is required",
            ));
        }
        Ok(Self(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How sensitive a document is; off-site rules key on it. A sealed case's
/// documents are sealed with it whatever their own classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Non-sensitive paperwork.
    Administrative,
    #[default]
    Case,
    /// Juvenile, domestic violence, internal affairs and the like.
    Restricted,
}

impl Classification {
    pub const ALL: [Classification; 3] = [
        Classification::Administrative,
        Classification::Case,
        Classification::Restricted,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Administrative => "administrative",
            Classification::Case => "case",
            Classification::Restricted => "restricted",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "classification",
                    "must be administrative, case or restricted",
                )
            })
    }
}

/// A case title: 3 to 200 characters, no control characters.
pub fn validate_title(s: &str) -> Result<String, DomainError> {
    let t = s.trim();
    let n = t.chars().count();
    if !(3..=200).contains(&n) || t.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "title",
            "must be 3 to 200 characters without control characters",
        ));
    }
    Ok(t.to_owned())
}

/// Free text (a narrative, a report's body): up to 100,000 characters; line
/// breaks and tabs are the only control characters kept.
pub fn validate_text(field: &'static str, s: &str, required: bool) -> Result<String, DomainError> {
    let t = s.trim();
    if required && t.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if t.chars().count() > 100_000 {
        return Err(DomainError::invalid(
            field,
            "must be at most 100,000 characters",
        ));
    }
    if t.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(t.to_owned())
}

/// How a user is connected to a case. Need-to-know comes from these (or
/// from supervising the case's unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Membership {
    Lead,
    Team,
    /// Shared explicitly by the lead or a supervisor.
    Shared,
}

impl Membership {
    pub fn as_str(self) -> &'static str {
        match self {
            Membership::Lead => "lead",
            Membership::Team => "team",
            Membership::Shared => "shared",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "lead" => Ok(Membership::Lead),
            "team" => Ok(Membership::Team),
            "shared" => Ok(Membership::Shared),
            _ => Err(DomainError::invalid(
                "membership",
                "must be lead, team or shared",
            )),
        }
    }
}

/// A user connected to a case. `named` users see protected people and sealed
/// material (the lead always is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseMember {
    pub user: UserId,
    pub membership: Membership,
    pub named: bool,
}

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    pub id: CaseId,
    pub number: CaseNumber,
    pub title: String,
    pub offense: String,
    pub status: CaseStatus,
    /// The status before sealing, to return to on unsealing.
    pub status_before_seal: Option<CaseStatus>,
    pub classification: Classification,
    pub unit: UnitId,
    pub narrative: String,
    pub due: Option<Timestamp>,
    pub members: Vec<CaseMember>,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Case {
    pub fn lead(&self) -> Option<UserId> {
        self.members
            .iter()
            .find(|m| m.membership == Membership::Lead)
            .map(|m| m.user)
    }
    pub fn is_sealed(&self) -> bool {
        self.status == CaseStatus::Sealed
    }
    pub fn member(&self, user: UserId) -> Option<&CaseMember> {
        self.members.iter().find(|m| m.user == user)
    }
}

/// One line of a case's timeline. `detail` is in the department's words and
/// never holds a protected person's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub actor: Option<UserId>,
    /// A stable code: `case.opened`, `document.added`, `status.changed`...
    pub what: String,
    pub detail: String,
}

/// A task on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseTask {
    pub id: crate::ids::TaskId,
    pub case_id: CaseId,
    pub title: String,
    pub assignee: Option<UserId>,
    pub due: Option<Timestamp>,
    pub done_at: Option<Timestamp>,
    pub created_by: UserId,
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_round_trip() {
        let n: CaseNumber = "2026-000123".parse().expect("valid");
        assert_eq!(
            n,
            CaseNumber {
                year: 2026,
                seq: 123
            }
        );
        assert_eq!(n.to_string(), "2026-000123");
        for bad in [
            "2026-123",
            "26-000123",
            "2026-0001234",
            "2026-00012a",
            "2026000123",
            "2026-000000",
        ] {
            assert!(bad.parse::<CaseNumber>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_valid_transitions() {
        use CaseStatus::*;
        let order = CourtOrder::parse("CR-2026-88").expect("order");
        let seal = Transition::Seal {
            order: order.clone(),
        };
        let unseal = Transition::Unseal { order };
        let cases = [
            (Transition::Activate, Open, Some(Active)),
            (Transition::Activate, Active, None),
            (Transition::Suspend, Active, Some(Suspended)),
            (Transition::Suspend, Open, None),
            (Transition::Resume, Suspended, Some(Active)),
            (Transition::Close, Active, Some(Closed)),
            (Transition::Close, Suspended, Some(Closed)),
            (Transition::Close, Open, None),
            (Transition::Reopen, Closed, Some(Active)),
            (Transition::Reopen, Sealed, None),
            (seal.clone(), Closed, Some(Sealed)),
            (seal, Sealed, None),
            (unseal.clone(), Closed, None),
        ];
        for (t, from, to) in cases {
            assert_eq!(
                t.apply(from, None).ok(),
                to,
                "{} from {}",
                t.name(),
                from.as_str()
            );
        }
        assert_eq!(unseal.apply(Sealed, Some(Suspended)), Ok(Suspended));
        assert!(Transition::parse("seal", None).is_err());
        assert!(Transition::parse("seal", Some("  ")).is_err());
        assert!(Transition::parse("archive", None).is_err());
    }
}
