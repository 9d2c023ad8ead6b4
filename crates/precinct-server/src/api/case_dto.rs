//! Request and response bodies of the case API. Requests reject unknown
//! fields; responses show protected people only as the policy allows.

use precinct_domain::case::{Case, CaseTask, TimelineEntry};
use precinct_domain::document::Document;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::service::cases::{
    BreakGlassReview, CaseSummary, CaseView, EntryView, PersonView, SearchPage,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCaseRequest {
    pub title: String,
    /// An FBI NIBRS offense code, e.g. `220` (burglary).
    pub offense: String,
    /// `administrative`, `case` (default) or `restricted`.
    #[serde(default)]
    pub classification: Option<String>,
    pub unit: Uuid,
    #[serde(default)]
    pub narrative: String,
    /// Due date: RFC 3339 UTC or a date.
    #[serde(default)]
    pub due: Option<String>,
    /// The lead investigator; the caller when absent.
    #[serde(default)]
    pub lead: Option<Uuid>,
    #[serde(default)]
    pub team: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryRequest {
    /// `report`, `supplement` or `note`.
    pub kind: String,
    /// `administrative`, `case` or `restricted`; the case's when absent.
    #[serde(default)]
    pub classification: Option<String>,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendRequest {
    pub title: String,
    pub body: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonRequest {
    /// `victim`, `witness`, `suspect`, `complainant` or `reporting_party`.
    pub role: String,
    pub name: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub juvenile: bool,
    #[serde(default)]
    pub protected_witness: bool,
    #[serde(default)]
    pub confidential_informant: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// `activate`, `suspend`, `resume`, `close`, `reopen`, `seal` or `unseal`.
    pub transition: String,
    /// Required to seal or unseal.
    #[serde(default)]
    pub court_order: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRequest {
    pub lead: Uuid,
    #[serde(default)]
    pub team: Vec<Uuid>,
    #[serde(default)]
    pub shared: Vec<Uuid>,
    /// Team or shared users the case names: they see protected people.
    #[serde(default)]
    pub named: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    pub title: String,
    #[serde(default)]
    pub assignee: Option<Uuid>,
    #[serde(default)]
    pub due: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassRequest {
    /// Why the case must be opened outside need-to-know (at least 10
    /// characters); kept for the review, not in the audit trail's text.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSummaryView {
    pub id: Uuid,
    pub number: String,
    pub title: String,
    pub status: String,
    pub offense: String,
    pub unit: String,
    pub updated_at: String,
    /// For search results: what matched (`case`, `document`, `person`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<String>,
}

impl From<&CaseSummary> for CaseSummaryView {
    fn from(c: &CaseSummary) -> Self {
        Self {
            id: c.id.as_uuid(),
            number: c.number.to_string(),
            title: c.title.clone(),
            status: c.status.as_str().to_owned(),
            offense: c.offense.clone(),
            unit: c.unit_name.clone(),
            updated_at: c.updated_at.to_string(),
            matched: c.matched.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchView {
    /// Matching cases the caller may see (others are not counted); when
    /// `more` is given, the count stopped here and more cases match.
    pub total: usize,
    /// Present (`true`) only when more than `total` cases match: counts
    /// above 100 are given as "more than 100".
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub more: bool,
    /// Present (`true`) only when the search stopped after deciding 5,000
    /// candidate cases before the matches ended: at least `total` cases
    /// match, perhaps more (narrow the words).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    pub incomplete: bool,
    pub page: usize,
    pub results: Vec<CaseSummaryView>,
}

impl SearchView {
    pub fn new(p: &SearchPage, page: usize) -> Self {
        Self {
            total: p.total,
            more: p.more,
            incomplete: p.incomplete,
            page,
            results: p.results.iter().map(CaseSummaryView::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user: Uuid,
    pub name: String,
    /// `lead`, `team` or `shared`.
    pub membership: String,
    pub named: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonOut {
    pub id: Uuid,
    pub role: String,
    pub name: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<String>,
    pub juvenile: bool,
    pub protected_witness: bool,
    pub confidential_informant: bool,
    /// The identity is masked for the caller.
    pub masked: bool,
}

impl From<&PersonView> for PersonOut {
    fn from(p: &PersonView) -> Self {
        Self {
            id: p.person.id.as_uuid(),
            role: p.person.role.as_str().to_owned(),
            name: p.shown.name.clone(),
            address: p.shown.address.clone(),
            phone: p.shown.phone.clone(),
            date_of_birth: p.shown.date_of_birth.clone(),
            juvenile: p.person.flags.juvenile,
            protected_witness: p.person.flags.protected_witness,
            confidential_informant: p.person.flags.confidential_informant,
            masked: p.masked,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentOut {
    pub id: Uuid,
    pub kind: String,
    pub classification: String,
    pub title: String,
    pub body: String,
    pub author: Uuid,
    pub created_at: String,
    pub amends: Option<Uuid>,
    pub filename: Option<String>,
    pub media_type: Option<String>,
    pub size: Option<u64>,
    pub sha256: Option<String>,
}

impl From<&Document> for DocumentOut {
    fn from(d: &Document) -> Self {
        let a = d.attachment.as_ref();
        Self {
            id: d.id.as_uuid(),
            kind: d.kind.as_str().to_owned(),
            classification: d.classification.as_str().to_owned(),
            title: d.title.clone(),
            body: d.body.clone(),
            author: d.author.as_uuid(),
            created_at: d.created_at.to_string(),
            amends: d.amends.map(|x| x.as_uuid()),
            filename: a.map(|a| a.filename.clone()),
            media_type: a.map(|a| a.media_type.clone()),
            size: a.map(|a| a.size),
            sha256: a.map(|a| a.sha256.clone()),
        }
    }
}

/// An entry: its current version and, oldest first, every version. A
/// closed (restricted) entry shows only its id, kind and classification.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryOut {
    pub id: Uuid,
    pub kind: String,
    pub classification: String,
    pub open: bool,
    pub may_amend: bool,
    pub current: Option<DocumentOut>,
    pub versions: Vec<DocumentOut>,
}

impl From<&EntryView> for EntryOut {
    fn from(e: &EntryView) -> Self {
        Self {
            id: e.current.id.as_uuid(),
            kind: e.current.kind.as_str().to_owned(),
            classification: e.current.classification.as_str().to_owned(),
            open: e.open,
            may_amend: e.may_amend,
            current: e.open.then(|| DocumentOut::from(&e.current)),
            versions: if e.open {
                e.versions.iter().map(DocumentOut::from).collect()
            } else {
                vec![]
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskOut {
    pub id: Uuid,
    pub title: String,
    pub assignee: Option<Uuid>,
    pub due: Option<String>,
    pub done_at: Option<String>,
}

impl From<&CaseTask> for TaskOut {
    fn from(t: &CaseTask) -> Self {
        Self {
            id: t.id.as_uuid(),
            title: t.title.clone(),
            assignee: t.assignee.map(|a| a.as_uuid()),
            due: t.due.map(|d| d.to_string()),
            done_at: t.done_at.map(|d| d.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineOut {
    pub at: String,
    pub actor: Option<String>,
    pub what: String,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AbilitiesOut {
    pub add_document: bool,
    pub manage: bool,
    pub view_protected: bool,
    pub view_audit: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseOut {
    pub id: Uuid,
    pub number: String,
    pub title: String,
    pub offense: String,
    pub offense_description: String,
    pub status: String,
    pub classification: String,
    pub unit: Uuid,
    pub unit_name: String,
    pub narrative: String,
    pub due: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub members: Vec<MemberView>,
    pub people: Vec<PersonOut>,
    pub documents: Vec<EntryOut>,
    pub tasks: Vec<TaskOut>,
    pub timeline: Vec<TimelineOut>,
    pub may: AbilitiesOut,
    /// Opened by break-glass (outside need-to-know), marked for review.
    pub break_glass: bool,
}

impl From<&CaseView> for CaseOut {
    fn from(v: &CaseView) -> Self {
        let c: &Case = &v.case;
        let name = |u| v.names.get(&u).cloned().unwrap_or_default();
        Self {
            id: c.id.as_uuid(),
            number: c.number.to_string(),
            title: c.title.clone(),
            offense: c.offense.clone(),
            offense_description: v.offense_description.clone(),
            status: c.status.as_str().to_owned(),
            classification: c.classification.as_str().to_owned(),
            unit: c.unit.as_uuid(),
            unit_name: v.unit_name.clone(),
            narrative: c.narrative.clone(),
            due: c.due.map(|d| d.to_string()),
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            members: c
                .members
                .iter()
                .map(|m| MemberView {
                    user: m.user.as_uuid(),
                    name: name(m.user),
                    membership: m.membership.as_str().to_owned(),
                    named: m.named,
                })
                .collect(),
            people: v.people.iter().map(PersonOut::from).collect(),
            documents: v.entries.iter().map(EntryOut::from).collect(),
            tasks: v.tasks.iter().map(TaskOut::from).collect(),
            timeline: v
                .timeline
                .iter()
                .map(|t: &TimelineEntry| TimelineOut {
                    at: t.at.to_string(),
                    actor: t.actor.map(name),
                    what: t.what.clone(),
                    detail: t.detail.clone(),
                })
                .collect(),
            may: AbilitiesOut {
                add_document: v.may.add_document,
                manage: v.may.manage,
                view_protected: v.may.view_protected,
                view_audit: v.may.view_audit,
            },
            break_glass: v.break_glass,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BreakGlassOut {
    pub id: String,
    pub case: Uuid,
    pub case_number: String,
    pub user: Uuid,
    pub user_name: String,
    pub reason: String,
    pub at: String,
    /// The audit event that recorded the opening.
    pub audit_event: String,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<String>,
}

impl From<&BreakGlassReview> for BreakGlassOut {
    fn from(r: &BreakGlassReview) -> Self {
        let b = &r.opening;
        Self {
            id: b.id.clone(),
            case: b.case_id.as_uuid(),
            case_number: r.case_number.clone(),
            user: b.user.as_uuid(),
            user_name: r.user_name.clone(),
            reason: b.reason.clone(),
            at: b.at.to_string(),
            audit_event: b.audit_event_id.clone(),
            reviewed_by: b.reviewed_by.map(|u| u.as_uuid()),
            reviewed_at: b.reviewed_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OffenseOut {
    pub code: String,
    pub description: String,
    pub group: String,
    pub crime_against: String,
}
