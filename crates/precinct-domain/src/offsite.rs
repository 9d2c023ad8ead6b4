//! Off-site work (SPEC.md rule 2, the source document's "Exception Type"
//! table): the two exceptions to "cases stay in the precinct" as grants,
//! who may approve them, the duty status policies see, and the compliance
//! incidents that violations become.
//!
//! A grant is in force only while it is approved and the clock is inside
//! its window; nothing here knows the clock but through the `now` it is
//! given.

use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

use crate::case::validate_text;
use crate::ids::{CaseId, DeviceId, DocumentId, UnitId, UserId};
use crate::org::{chain_of_command, Unit};
use crate::user::User;
use crate::{DomainError, Role, Timestamp};

/// The two exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// Non-sensitive paperwork: self-service, no approval, documents
    /// classified `administrative` only.
    Administrative,
    /// Continuing an investigation off duty: named cases, a window, a
    /// department device, and a supervisor's approval first.
    OffDutyInvestigation,
}

impl GrantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::Administrative => "administrative",
            GrantKind::OffDutyInvestigation => "off_duty_investigation",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "administrative" => Ok(GrantKind::Administrative),
            "off_duty_investigation" => Ok(GrantKind::OffDutyInvestigation),
            _ => Err(DomainError::invalid(
                "kind",
                "must be administrative or off_duty_investigation",
            )),
        }
    }
}

/// Where a request stands. "Expired" is not a status: an approved grant
/// past its window is simply no longer in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Waiting for a supervisor.
    Pending,
    /// A supervisor asked for more information; the requester answers in
    /// the thread, which puts it back to pending.
    InfoRequested,
    Approved,
    Denied,
    /// Ended early by a supervisor or the requester.
    Revoked,
    /// Taken back by the requester before a decision.
    Withdrawn,
}

impl GrantStatus {
    pub const ALL: [GrantStatus; 6] = [
        GrantStatus::Pending,
        GrantStatus::InfoRequested,
        GrantStatus::Approved,
        GrantStatus::Denied,
        GrantStatus::Revoked,
        GrantStatus::Withdrawn,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Pending => "pending",
            GrantStatus::InfoRequested => "info_requested",
            GrantStatus::Approved => "approved",
            GrantStatus::Denied => "denied",
            GrantStatus::Revoked => "revoked",
            GrantStatus::Withdrawn => "withdrawn",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| DomainError::invalid("status", "not a grant status"))
    }
    /// Still waiting for a decision.
    pub fn is_open(self) -> bool {
        matches!(self, GrantStatus::Pending | GrantStatus::InfoRequested)
    }
}

/// What a supervisor (or the requester) does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStep {
    Approve,
    Deny,
    AskInfo,
    /// The requester's answer to a question (a comment that reopens it).
    Answer,
    Withdraw,
    Revoke,
}

impl GrantStep {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantStep::Approve => "approve",
            GrantStep::Deny => "deny",
            GrantStep::AskInfo => "ask_info",
            GrantStep::Answer => "answer",
            GrantStep::Withdraw => "withdraw",
            GrantStep::Revoke => "revoke",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        [
            GrantStep::Approve,
            GrantStep::Deny,
            GrantStep::AskInfo,
            GrantStep::Answer,
            GrantStep::Withdraw,
            GrantStep::Revoke,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| DomainError::invalid("step", "not a step of a request"))
    }

    /// The status after this step, or why it cannot be taken. Denying,
    /// asking and answering need a note (the reason, the question, the
    /// answer).
    pub fn after(self, from: GrantStatus) -> Result<GrantStatus, DomainError> {
        use GrantStatus as S;
        let to = match (self, from) {
            (GrantStep::Approve, S::Pending | S::InfoRequested) => S::Approved,
            (GrantStep::Deny, S::Pending | S::InfoRequested) => S::Denied,
            (GrantStep::AskInfo, S::Pending) => S::InfoRequested,
            (GrantStep::Answer, S::InfoRequested) => S::Pending,
            (GrantStep::Withdraw, S::Pending | S::InfoRequested) => S::Withdrawn,
            (GrantStep::Revoke, S::Approved) => S::Revoked,
            _ => {
                return Err(DomainError::invalid(
                    "step",
                    format!("a {} request cannot be {}", from.as_str(), self.verb()),
                ))
            }
        };
        Ok(to)
    }

    fn verb(self) -> &'static str {
        match self {
            GrantStep::Approve => "approved",
            GrantStep::Deny => "denied",
            GrantStep::AskInfo => "questioned",
            GrantStep::Answer => "answered",
            GrantStep::Withdraw => "withdrawn",
            GrantStep::Revoke => "revoked",
        }
    }

    /// Taken by the approving side (a supervisor in the chain of command).
    pub fn is_supervisors(self) -> bool {
        matches!(
            self,
            GrantStep::Approve | GrantStep::Deny | GrantStep::AskInfo
        )
    }
}

/// An off-site grant, requested or in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub id: String,
    pub kind: GrantKind,
    pub requester: UserId,
    pub status: GrantStatus,
    pub justification: String,
    pub cases: Vec<CaseId>,
    /// When not empty, the only documents of those cases it covers.
    pub documents: Vec<DocumentId>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub may_add_notes: bool,
    /// The department device it is used from (investigations).
    pub device: Option<DeviceId>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<Timestamp>,
    /// Conditions of an approval, or the reason of a denial.
    pub decision_note: Option<String>,
    pub revoked_by: Option<UserId>,
    pub revoked_at: Option<Timestamp>,
    pub reminded: bool,
    pub reviewed_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl Grant {
    /// Approved and `now` inside its window (the end is exclusive: at
    /// `ends_at` access has ended).
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.status == GrantStatus::Approved && self.starts_at <= now && now < self.ends_at
    }

    /// When it stopped being usable: its end, or its revocation if earlier.
    pub fn ended_at(&self) -> Timestamp {
        match self.revoked_at {
            Some(r) if r < self.ends_at => r,
            _ => self.ends_at,
        }
    }

    /// Approved once, and now over (expired or revoked): a review is due.
    pub fn is_over(&self, now: Timestamp) -> bool {
        self.decided_by.is_some()
            && matches!(self.status, GrantStatus::Approved | GrantStatus::Revoked)
            && now >= self.ended_at()
    }

    /// Whether it covers `case` (and, if it names documents, `document`).
    pub fn covers(&self, case: CaseId, document: Option<DocumentId>) -> bool {
        self.cases.contains(&case)
            && match document {
                Some(d) => self.documents.is_empty() || self.documents.contains(&d),
                None => true,
            }
    }
}

/// The department's limits on grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantLimits {
    /// Longest off-duty investigation window.
    pub max_investigation: Duration,
    /// Longest administrative window (one sitting of paperwork).
    pub max_administrative: Duration,
    /// How long before its end a grant's holder is reminded.
    pub reminder_before: Duration,
}

impl Default for GrantLimits {
    fn default() -> Self {
        Self {
            max_investigation: Duration::from_secs(72 * 3600),
            max_administrative: Duration::from_secs(12 * 3600),
            reminder_before: Duration::from_secs(3600),
        }
    }
}

/// A request as the requester files it, before validation.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub kind: String,
    pub justification: String,
    pub cases: Vec<CaseId>,
    pub documents: Vec<DocumentId>,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Timestamp,
    pub may_add_notes: bool,
    pub device: Option<DeviceId>,
}

/// A validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidGrantRequest {
    pub kind: GrantKind,
    pub justification: String,
    pub cases: Vec<CaseId>,
    pub documents: Vec<DocumentId>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub may_add_notes: bool,
    pub device: Option<DeviceId>,
}

/// Most cases and documents one request may name.
pub const MAX_SCOPE: usize = 20;

impl GrantRequest {
    /// Checks a request against the department's limits at `now`.
    pub fn validate(
        self,
        now: Timestamp,
        limits: &GrantLimits,
    ) -> Result<ValidGrantRequest, DomainError> {
        let kind = GrantKind::parse(&self.kind)?;
        let justification = validate_text("justification", &self.justification, true)?;
        if justification.chars().count() < 10 {
            return Err(DomainError::invalid(
                "justification",
                "state the reason in at least 10 characters",
            ));
        }
        if justification.chars().count() > 2000 {
            return Err(DomainError::invalid(
                "justification",
                "must be at most 2,000 characters",
            ));
        }
        let starts_at = self.starts_at.unwrap_or(now).max(now);
        if self.ends_at <= starts_at {
            return Err(DomainError::invalid(
                "ends_at",
                "must be after the start (and in the future)",
            ));
        }
        let max = match kind {
            GrantKind::Administrative => limits.max_administrative,
            GrantKind::OffDutyInvestigation => limits.max_investigation,
        };
        if self.ends_at.since(starts_at) > max {
            return Err(DomainError::invalid(
                "ends_at",
                format!(
                    "the window may be at most {} hours",
                    max.as_secs().div_ceil(3600)
                ),
            ));
        }
        let mut cases = self.cases;
        cases.sort();
        cases.dedup();
        let mut documents = self.documents;
        documents.sort();
        documents.dedup();
        if cases.len() > MAX_SCOPE || documents.len() > MAX_SCOPE {
            return Err(DomainError::invalid(
                "cases",
                format!("a request names at most {MAX_SCOPE} cases and {MAX_SCOPE} documents"),
            ));
        }
        match kind {
            GrantKind::Administrative => {
                if !cases.is_empty() || !documents.is_empty() || self.device.is_some() {
                    return Err(DomainError::invalid(
                        "kind",
                        "an administrative task names no cases, documents or device: it covers administrative paperwork only",
                    ));
                }
                if self.may_add_notes {
                    return Err(DomainError::invalid(
                        "may_add_notes",
                        "an administrative task is read-only",
                    ));
                }
            }
            GrantKind::OffDutyInvestigation => {
                if cases.is_empty() {
                    return Err(DomainError::invalid(
                        "cases",
                        "name the case or cases the investigation continues",
                    ));
                }
                if self.device.is_none() {
                    return Err(DomainError::invalid(
                        "device",
                        "name the department device the work is done on; personal devices never receive case material",
                    ));
                }
            }
        }
        Ok(ValidGrantRequest {
            kind,
            justification,
            cases,
            documents,
            starts_at,
            ends_at: self.ends_at,
            may_add_notes: self.may_add_notes,
            device: self.device,
        })
    }
}

/// Whether `approver` may decide `requester`'s request: a supervisor in
/// the chain of command of one of the requester's units, never the
/// requester.
pub fn may_decide(
    approver: &User,
    requester: &User,
    units: &HashMap<UnitId, Unit>,
) -> Result<(), DomainError> {
    if approver.id == requester.id {
        return Err(DomainError::invalid(
            "approver",
            "nobody approves their own request",
        ));
    }
    if !approver.roles.contains(Role::Supervisor) || !in_chain(approver.id, requester, units) {
        return Err(DomainError::invalid(
            "approver",
            "only a supervisor in the requester's chain of command decides this request",
        ));
    }
    Ok(())
}

/// Whether `supervisor` is in the chain of command of any of `user`'s units.
pub fn in_chain(supervisor: UserId, user: &User, units: &HashMap<UnitId, Unit>) -> bool {
    user.units
        .iter()
        .any(|u| chain_of_command(*u, units).contains(&supervisor))
}

/// The supervisors who may decide `user`'s requests, nearest first.
pub fn approvers(user: &User, units: &HashMap<UnitId, Unit>) -> Vec<UserId> {
    let mut out = Vec::new();
    for u in &user.units {
        for s in chain_of_command(*u, units) {
            if s != user.id && !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// What a compliance incident is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// Case material asked for away from a designated workstation, with no
    /// grant in force.
    OffsiteWithoutGrant,
    /// Asked for under a grant, outside what it covers (another case,
    /// another document, writing on a read-only grant, another device).
    OutsideGrantScope,
    /// A grant's holder asked after its window ended or it was revoked.
    OutsideGrantWindow,
    /// A paper case file not back in the records room by its due date.
    OverduePaperFile,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 4] = [
        IncidentKind::OffsiteWithoutGrant,
        IncidentKind::OutsideGrantScope,
        IncidentKind::OutsideGrantWindow,
        IncidentKind::OverduePaperFile,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::OffsiteWithoutGrant => "offsite_without_grant",
            IncidentKind::OutsideGrantScope => "outside_grant_scope",
            IncidentKind::OutsideGrantWindow => "outside_grant_window",
            IncidentKind::OverduePaperFile => "overdue_paper_file",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| DomainError::invalid("kind", "not an incident kind"))
    }
    pub fn describe(self) -> &'static str {
        match self {
            IncidentKind::OffsiteWithoutGrant => {
                "Case material was requested away from a designated workstation without an off-site grant"
            }
            IncidentKind::OutsideGrantScope => {
                "Case material was requested outside the scope of an off-site grant"
            }
            IncidentKind::OutsideGrantWindow => {
                "Case material was requested after an off-site grant ended"
            }
            IncidentKind::OverduePaperFile => "A paper case file was not returned by its due date",
        }
    }
}

/// A compliance incident with its evidence in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub id: String,
    pub kind: IncidentKind,
    pub user: UserId,
    pub at: Timestamp,
    /// The audit event that is its evidence.
    pub audit_event_id: String,
    pub case_id: Option<CaseId>,
    pub grant_id: Option<String>,
}

/// Active hours from the times of a user's accesses under grants: each
/// quarter hour with at least one access counts as a quarter of an hour.
/// (Accesses are what the trail proves; time spent reading between two
/// clicks is not measured, so this is a floor, not a timesheet.)
pub fn active_hours(times: &[Timestamp]) -> f64 {
    const SLOT_US: i64 = 15 * 60 * 1_000_000;
    let mut slots: Vec<i64> = times.iter().map(|t| t.as_micros() / SLOT_US).collect();
    slots.sort_unstable();
    slots.dedup();
    slots.len() as f64 * 0.25
}

/// The Monday 00:00 UTC that starts `t`'s week.
pub fn week_start(t: Timestamp) -> Timestamp {
    const DAY_US: i64 = 86_400 * 1_000_000;
    let days = t.as_micros().div_euclid(DAY_US);
    // 1970-01-01 was a Thursday: Monday is 3 days before it.
    let monday = days - (days + 3).rem_euclid(7);
    Timestamp::from_micros(monday * DAY_US)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::UnitKind;
    use crate::user::{UserStatus, Username};
    use crate::Roles;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_micros(s * 1_000_000)
    }

    fn user(roles: &[Role], units: Vec<UnitId>) -> User {
        User {
            id: UserId::new_random(),
            username: Username::parse("someone").unwrap(),
            display_name: "Someone".into(),
            roles: Roles::new(roles.iter().copied()).unwrap(),
            units,
            status: UserStatus::Active,
            locked_at: None,
            must_change_password: false,
            mfa_enrolled: true,
            on_duty: false,
            created_at: t(0),
        }
    }

    fn request(kind: &str) -> GrantRequest {
        GrantRequest {
            kind: kind.into(),
            justification: "Follow up the witness statement tonight".into(),
            cases: vec![CaseId::new_random()],
            documents: vec![],
            starts_at: None,
            ends_at: t(3600),
            may_add_notes: true,
            device: Some(DeviceId::new_random()),
        }
    }

    #[test]
    fn only_valid_steps() {
        use GrantStatus as S;
        assert_eq!(GrantStep::Approve.after(S::Pending).unwrap(), S::Approved);
        assert_eq!(
            GrantStep::AskInfo.after(S::Pending).unwrap(),
            S::InfoRequested
        );
        assert_eq!(
            GrantStep::Answer.after(S::InfoRequested).unwrap(),
            S::Pending
        );
        assert_eq!(GrantStep::Revoke.after(S::Approved).unwrap(), S::Revoked);
        for bad in [
            (GrantStep::Approve, S::Denied),
            (GrantStep::Approve, S::Approved),
            (GrantStep::Revoke, S::Pending),
            (GrantStep::Deny, S::Revoked),
            (GrantStep::Answer, S::Pending),
            (GrantStep::Withdraw, S::Approved),
        ] {
            assert!(bad.0.after(bad.1).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn windows_are_bounded_and_end_exclusively() {
        let limits = GrantLimits::default();
        let ok = request("off_duty_investigation")
            .validate(t(0), &limits)
            .unwrap();
        assert_eq!(ok.starts_at, t(0));
        let mut long = request("off_duty_investigation");
        long.ends_at = t(72 * 3600 + 1);
        assert!(long.validate(t(0), &limits).is_err());
        let mut past = request("off_duty_investigation");
        past.ends_at = t(0);
        assert!(past.validate(t(0), &limits).is_err());

        let g = Grant {
            id: "g".into(),
            kind: GrantKind::OffDutyInvestigation,
            requester: UserId::new_random(),
            status: GrantStatus::Approved,
            justification: ok.justification,
            cases: ok.cases,
            documents: vec![],
            starts_at: t(10),
            ends_at: t(20),
            may_add_notes: false,
            device: ok.device,
            decided_by: Some(UserId::new_random()),
            decided_at: Some(t(5)),
            decision_note: None,
            revoked_by: None,
            revoked_at: None,
            reminded: false,
            reviewed_at: None,
            created_at: t(0),
        };
        assert!(!g.in_force(t(9)));
        assert!(g.in_force(t(10)));
        assert!(g.in_force(Timestamp::from_micros(20_000_000 - 1)));
        assert!(!g.in_force(t(20)), "access ends at that second");
        assert!(g.is_over(t(20)) && !g.is_over(t(19)));
    }

    #[test]
    fn requests_name_what_their_kind_needs() {
        let limits = GrantLimits::default();
        let mut no_device = request("off_duty_investigation");
        no_device.device = None;
        assert!(no_device.validate(t(0), &limits).is_err());
        let mut no_case = request("off_duty_investigation");
        no_case.cases.clear();
        assert!(no_case.validate(t(0), &limits).is_err());
        assert!(request("administrative").validate(t(0), &limits).is_err());
        let admin = GrantRequest {
            kind: "administrative".into(),
            justification: "Overtime forms and leave requests".into(),
            ends_at: t(3600),
            cases: vec![],
            documents: vec![],
            starts_at: None,
            may_add_notes: false,
            device: None,
        };
        assert!(admin.validate(t(0), &limits).is_ok());
        let mut short = request("off_duty_investigation");
        short.justification = "tonight".into();
        assert!(short.validate(t(0), &limits).is_err());
    }

    #[test]
    fn only_the_chain_of_command_decides() {
        let precinct = UnitId::new_random();
        let squad = UnitId::new_random();
        let other = UnitId::new_random();
        let sergeant = user(&[Role::Supervisor], vec![squad]);
        let captain = user(&[Role::Supervisor], vec![precinct]);
        let stranger = user(&[Role::Supervisor], vec![other]);
        let officer = user(&[Role::Officer], vec![squad]);
        let units: HashMap<UnitId, Unit> = [
            (precinct, None, Some(captain.id)),
            (squad, Some(precinct), Some(sergeant.id)),
            (other, Some(precinct), Some(stranger.id)),
        ]
        .into_iter()
        .map(|(id, parent, supervisor)| {
            (
                id,
                Unit {
                    id,
                    name: "u".into(),
                    kind: UnitKind::Unit,
                    parent,
                    supervisor,
                },
            )
        })
        .collect();
        assert!(may_decide(&sergeant, &officer, &units).is_ok());
        assert!(may_decide(&captain, &officer, &units).is_ok());
        assert!(may_decide(&stranger, &officer, &units).is_err());
        assert!(may_decide(&sergeant, &sergeant, &units).is_err());
        assert_eq!(approvers(&officer, &units), vec![sergeant.id, captain.id]);
    }

    #[test]
    fn hours_count_quarter_hours_and_weeks_start_on_monday() {
        let times = [t(0), t(60), t(14 * 60), t(15 * 60), t(3600)];
        assert_eq!(active_hours(&times), 0.75);
        // 2026-12-01 is a Tuesday; its week starts 2026-11-30.
        let tue = Timestamp::from_micros(1_796_083_200 * 1_000_000 + 5_000_000);
        assert_eq!(
            week_start(tue).as_micros(),
            1_796_083_200_000_000 - 86_400_000_000
        );
    }
}
