//! Case work under need-to-know: opening cases, reading them, writing and
//! amending documentation, people, tasks, status and assignment, search
//! and break-glass. Every decision goes through the policy engine and every
//! read, change and denial through the audit trail: a read's event is
//! durable before the case is returned, a change commits with its event.
//!
//! A case the asker has no connection to is answered exactly like a case
//! that does not exist (404, and the same audit work), so that neither
//! status codes nor timings reveal it. Users who are connected (on the
//! team, supervising the unit, or able to break the glass) are told why
//! they are refused.

use precinct_domain::case::{
    validate_text, validate_title, Case, CaseMember, CaseNumber, CaseStatus, CaseTask,
    Classification, Membership, TimelineEntry, Transition,
};
use precinct_domain::document::{
    current_versions, validate_filename, validate_media_type, AttachmentMeta, Document,
    DocumentKind,
};
use precinct_domain::ids::{CaseId, DocumentId, PersonId, TaskId, UnitId, UserId};
use precinct_domain::org::{chain_of_command, Unit};
use precinct_domain::person::{CasePerson, Identity, PersonFlags, PersonRole};
use precinct_domain::user::{User, UserStatus};
use precinct_domain::{nibrs, DomainError, Role, Timestamp};
use precinct_policy::{
    AccessRequest, Action, Decision, Principal, RequestContext, Resource, ResourceKind,
};
use precinct_store::{BreakGlass, Line, NewCase, Revisions, UnitsById};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

// Search, in its own file; a child module, for the decision helpers here.
#[path = "case_search.rs"]
mod case_search;
pub use case_search::{SearchPage, SearchWalk, COUNT_CAP};

use super::audit::{Origin, Outcome};
use super::{ServiceError, ServiceResult, Services, StoreResultExt};

/// Who asks, and from where (the origin carries the channel).
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    pub user: &'a User,
    pub origin: &'a Origin,
}

/// What a case's connections look like to the policy engine.
#[derive(Debug, Clone)]
pub struct Connections {
    pub team: Vec<UserId>,
    pub named: Vec<UserId>,
    pub supervisors: Vec<UserId>,
    /// Away from a designated workstation: the asker's off-site grant that
    /// bears on this case (`service::offsite::select_grant`), if any.
    pub grant: Option<precinct_domain::offsite::Grant>,
}

impl Connections {
    pub(crate) fn of(case: &Case, units: &HashMap<UnitId, Unit>) -> Self {
        Self {
            team: case.members.iter().map(|m| m.user).collect(),
            named: case
                .members
                .iter()
                .filter(|m| m.named || m.membership == Membership::Lead)
                .map(|m| m.user)
                .collect(),
            supervisors: chain_of_command(case.unit, units),
            grant: None,
        }
    }
    /// The grant an action is taken under: the one in force, if any.
    pub fn grant_in_force(&self, now: Timestamp) -> Option<&str> {
        self.grant
            .as_ref()
            .filter(|g| g.in_force(now))
            .map(|g| g.id.as_str())
    }
    /// On the team or supervising the unit.
    pub(crate) fn includes(&self, user: UserId) -> bool {
        self.team.contains(&user) || self.supervisors.contains(&user)
    }
}

/// A case as loaded for a request: with its connections, the unit tree,
/// and where the case and the organisation stood when read (the page's
/// material is read as of then, `Store::case_material`).
#[derive(Debug, Clone)]
pub(crate) struct LoadedCase {
    pub case: Case,
    pub conn: Connections,
    pub units: UnitsById,
    pub at: Revisions,
}

/// A person as the asker may see them.
#[derive(Debug, Clone)]
pub struct PersonView {
    pub person: CasePerson,
    /// The identity shown: the real one, or the masked form.
    pub shown: Identity,
    pub masked: bool,
}

/// One documentation entry with its versions (oldest first).
#[derive(Debug, Clone)]
pub struct EntryView {
    pub current: Document,
    pub versions: Vec<Document>,
    /// Whether the asker may open it (restricted entries may be closed to
    /// a team member); a closed entry shows only that it exists.
    pub open: bool,
    pub may_amend: bool,
}

/// What the asker may do on the case page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Abilities {
    pub add_document: bool,
    pub manage: bool,
    pub view_protected: bool,
    pub view_audit: bool,
}

/// A case as one asker may see it.
#[derive(Debug, Clone)]
pub struct CaseView {
    pub case: Case,
    pub unit_name: String,
    pub offense_description: String,
    pub people: Vec<PersonView>,
    pub entries: Vec<EntryView>,
    pub tasks: Vec<CaseTask>,
    pub timeline: Vec<TimelineEntry>,
    pub may: Abilities,
    /// Opened by break-glass.
    pub break_glass: bool,
    /// Display names of the users the page mentions.
    pub names: HashMap<UserId, String>,
}

/// A case in a list or search result: its number and title only.
#[derive(Debug, Clone)]
pub struct CaseSummary {
    pub id: CaseId,
    pub number: CaseNumber,
    pub title: String,
    pub status: CaseStatus,
    pub offense: String,
    pub unit_name: String,
    pub updated_at: Timestamp,
    /// What matched, for search results (`case`, `document`, `person`).
    pub matched: Vec<&'static str>,
}

#[derive(Debug, Clone)]
pub struct OpenCase {
    pub title: String,
    pub offense: String,
    pub classification: Option<String>,
    pub unit: UnitId,
    pub narrative: String,
    pub due: Option<Timestamp>,
    pub lead: Option<UserId>,
    pub team: Vec<UserId>,
}

#[derive(Debug, Clone)]
pub struct NewEntry {
    pub kind: String,
    pub classification: Option<String>,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub title: String,
    pub classification: Option<String>,
    pub filename: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct NewPerson {
    pub role: String,
    pub flags: PersonFlags,
    pub name: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub lead: Option<UserId>,
    pub team: Vec<UserId>,
    pub shared: Vec<UserId>,
    /// Team or shared users the case names (they see protected people).
    pub named: Vec<UserId>,
}

/// What a case read is for: the case page also offers its forms (who may
/// be assigned, with their names); the API's case record does not, and
/// reads no more than it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFor {
    Page,
    Record,
}

/// How a case was opened for a read: what the asker may do there, whether
/// by break-glass, for what, and at which revision.
#[derive(Debug, Clone, Copy)]
struct Opened {
    may: Abilities,
    break_glass: bool,
    purpose: ReadFor,
    /// Where the case stood when it was loaded and decided on.
    at: Revisions,
}

/// A break-glass opening with who and which case, for the reviewer.
#[derive(Debug, Clone)]
pub struct BreakGlassReview {
    pub opening: BreakGlass,
    pub user_name: String,
    pub case_number: String,
}

/// Search results are paged this many at a time.
pub const PAGE_SIZE: usize = 25;
/// Most cases in "my cases" and "my unit's cases".
const LIST_LIMIT: i64 = 200;

/// The classification a decision about an entry sees: paperwork stays
/// paperwork; otherwise an entry is at least as sensitive as its case.
fn entry_classification(case: &Case, document: Option<&Document>) -> Classification {
    match document {
        Some(d) if d.classification == Classification::Administrative => d.classification,
        Some(_) if case.classification == Classification::Restricted => Classification::Restricted,
        Some(d) => d.classification,
        None => case.classification,
    }
}

/// The answer when no decision came back: a denial.
fn no_decision() -> Decision {
    Decision {
        allowed: false,
        policies: vec![],
        message: None,
    }
}

fn lead_and_team(members: &[CaseMember]) -> String {
    members
        .iter()
        .map(|m| m.membership.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Services {
    /// The unit tree by id.
    pub(crate) async fn units_by_id(&self) -> ServiceResult<HashMap<UnitId, Unit>> {
        Ok(self
            .store
            .list_units()
            .await
            .or_service("unit")?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }

    /// One policy decision about a case (or one of its documents).
    fn decide_on(
        &self,
        asker: Asker<'_>,
        action: Action,
        case: &Case,
        conn: &Connections,
        document: Option<&Document>,
        break_glass: bool,
    ) -> Decision {
        self.decide_each(asker, &[action], case, conn, document, break_glass)
            .pop()
            .unwrap_or_else(no_decision)
    }

    /// Several decisions about one case or document, in one go.
    fn decide_each(
        &self,
        asker: Asker<'_>,
        actions: &[Action],
        case: &Case,
        conn: &Connections,
        document: Option<&Document>,
        break_glass: bool,
    ) -> Vec<Decision> {
        self.decide_many(asker, actions, &[(case, conn, document)], break_glass)
            .pop()
            .unwrap_or_default()
    }

    /// The same decisions about each of several cases or entries (`None`:
    /// the case itself), with one user, one context and one entity set for
    /// all of them: a case page decides its entries together, a list or a
    /// search its cases. Under an off-site grant, whose record in the
    /// context depends on the case, several cases are decided each on its
    /// own.
    fn decide_many(
        &self,
        asker: Asker<'_>,
        actions: &[Action],
        items: &[(&Case, &Connections, Option<&Document>)],
        break_glass: bool,
    ) -> Vec<Vec<Decision>> {
        let one_case = items.windows(2).all(|w| w[0].0.id == w[1].0.id);
        if !one_case && items.iter().any(|(_, conn, _)| conn.grant.is_some()) {
            return items
                .iter()
                .map(|item| self.decide_each(asker, actions, item.0, item.1, item.2, break_glass))
                .collect();
        }
        let principal = Principal {
            id: asker.user.id,
            roles: &asker.user.roles,
            units: &asker.user.units,
            on_duty: asker.user.on_duty,
            training_current: true,
        };
        let grant = items.first().and_then(|(case, conn, _)| {
            conn.grant
                .as_ref()
                .map(|g| super::offsite::grant_context(g, case))
        });
        let resources: Vec<Resource<'_>> = items
            .iter()
            .map(|&(case, conn, document)| Resource {
                kind: match document {
                    Some(d) => ResourceKind::Document { author: d.author },
                    None => ResourceKind::Case,
                },
                id: document.map_or_else(|| case.id.to_string(), |d| d.id.to_string()),
                number: case.number.to_string(),
                unit: case.unit,
                classification: entry_classification(case, document).as_str(),
                sealed: case.is_sealed(),
                lead: case.lead(),
                team: &conn.team,
                named: &conn.named,
                supervisors: &conn.supervisors,
            })
            .collect();
        let asked: Vec<(&Resource<'_>, &[Action])> =
            resources.iter().map(|r| (r, actions)).collect();
        self.policy.decide_all(
            &principal,
            RequestContext {
                channel: &asker.origin.channel,
                break_glass,
                now: self.clock.now(),
                device: asker.origin.device_id.as_deref().unwrap_or(""),
                grant: grant.as_ref(),
            },
            &asked,
        )
    }

    fn case_event(
        &self,
        asker: Asker<'_>,
        action: &str,
        outcome: Outcome,
        kind: &str,
        id: impl ToString,
    ) -> super::audit::EventBuilder {
        self.event(asker.origin, action, outcome).object(kind, id)
    }

    /// Records a refusal and returns what to answer: "not found" to those
    /// with no connection to the case (as for a case that does not exist),
    /// the policy's reason to everyone else.
    async fn refuse(
        &self,
        asker: Asker<'_>,
        action: &str,
        case: Option<(&Case, &Connections)>,
        object: (&str, String),
        decision: Option<&Decision>,
    ) -> ServiceError {
        let reason = decision
            .and_then(|d| d.policies.first().cloned())
            .unwrap_or_else(|| "no_need_to_know".to_owned());
        let grant = case.and_then(|(_, conn)| conn.grant.as_ref());
        let e = self
            .case_event(asker, action, Outcome::Denied, object.0, object.1)
            .grant(
                grant
                    .filter(|g| g.in_force(self.clock.now()))
                    .map(|g| g.id.as_str()),
            )
            .reason(&reason)
            .build();
        // Off-site attempts become compliance incidents, recorded with the
        // denial (for a case that does not exist too, so that neither the
        // answer nor its timing tells the two apart).
        let incident = super::offsite::incident_for(
            &asker.origin.channel,
            decision.map(|d| d.policies.as_slice()),
            grant,
        );
        if let Some(kind) = incident {
            let case_id = case.map(|(c, _)| c.id);
            let err = self
                .record_incident(asker, kind, &e, case_id, grant.map(|g| g.id.as_str()))
                .await;
            if let Err(err) = err {
                return err;
            }
        }
        let answer = match (case, decision) {
            (Some((_, conn)), Some(d))
                if conn.includes(asker.user.id) || asker.user.roles.contains(Role::Supervisor) =>
            {
                ServiceError::Denied(
                    d.message
                        .clone()
                        .unwrap_or_else(|| "Access is refused".into()),
                )
            }
            _ => ServiceError::NotFound("case"),
        };
        if incident.is_some() {
            return answer;
        }
        self.deny(e, answer).await
    }

    /// Loads a case for an action, or refuses (recorded). A case that does
    /// not exist is refused the same way as one out of reach.
    async fn case_for(
        &self,
        asker: Asker<'_>,
        id: CaseId,
        action: Action,
        audit_action: &str,
    ) -> ServiceResult<LoadedCase> {
        let loaded = self.load_case(asker, id, audit_action).await?;
        let (case, conn) = (&loaded.case, &loaded.conn);
        let d = self.decide_on(asker, action, case, conn, None, false);
        if !d.allowed {
            return Err(self
                .refuse(
                    asker,
                    audit_action,
                    Some((case, conn)),
                    ("case", id.to_string()),
                    Some(&d),
                )
                .await);
        }
        Ok(loaded)
    }

    /// A case with its connections and the unit tree; a case that does not
    /// exist is refused (recorded) like one out of reach.
    async fn load_case(
        &self,
        asker: Asker<'_>,
        id: CaseId,
        audit_action: &str,
    ) -> ServiceResult<LoadedCase> {
        let mut loaded = match self.load_case_quietly(id).await {
            Err(ServiceError::NotFound(_)) => {
                return Err(self
                    .refuse(asker, audit_action, None, ("case", id.to_string()), None)
                    .await)
            }
            loaded => loaded?,
        };
        loaded.conn.grant = self.offsite_grant_for(asker, id).await?;
        Ok(loaded)
    }

    /// A case with its connections and the unit tree, without a policy
    /// decision or an audit event (for checks that answer "not found"
    /// either way, and for `load_case`).
    pub(crate) async fn load_case_quietly(&self, id: CaseId) -> ServiceResult<LoadedCase> {
        let read = self.store.case_and_units(id).await.or_service("case")?;
        let conn = Connections::of(&read.case, &read.units);
        Ok(LoadedCase {
            case: read.case,
            conn,
            units: read.units,
            at: read.at,
        })
    }

    /// The case number's id; unknown numbers are "not found" (recorded).
    pub async fn case_id_by_number(&self, asker: Asker<'_>, number: &str) -> ServiceResult<CaseId> {
        let n: CaseNumber = number.parse()?;
        match self.store.case_id_by_number(n).await {
            Ok(id) => Ok(id),
            Err(precinct_store::StoreError::NotFound) => Err(self
                .refuse(
                    asker,
                    "case.read",
                    None,
                    ("case_number", n.to_string()),
                    None,
                )
                .await),
            Err(e) => Err(ServiceError::from_store(e, "case")),
        }
    }

    /// Opens a case in a unit with the asker as its lead (unless another
    /// lead is named).
    pub async fn open_case(&self, asker: Asker<'_>, input: OpenCase) -> ServiceResult<Case> {
        let title = validate_title(&input.title)?;
        let offense = nibrs::offense(&input.offense)?.code.clone();
        let classification = match input.classification.as_deref() {
            Some(c) => Classification::parse(c)?,
            None => Classification::Case,
        };
        let narrative = validate_text("narrative", &input.narrative, false)?;
        let d = self.policy.decide(&AccessRequest {
            principal: &Principal {
                id: asker.user.id,
                roles: &asker.user.roles,
                units: &asker.user.units,
                on_duty: asker.user.on_duty,
                training_current: true,
            },
            action: Action::OpenCase,
            resource: &Resource::unit(input.unit),
            context: RequestContext {
                device: asker.origin.device_id.as_deref().unwrap_or(""),
                ..RequestContext::plain(&asker.origin.channel, self.clock.now())
            },
        });
        if !d.allowed {
            let e = self
                .case_event(asker, "case.open", Outcome::Denied, "unit", input.unit)
                .reason(d.policies.first().map_or("no_permit", String::as_str))
                .build();
            let msg = d.message.unwrap_or_else(|| "Access is refused".into());
            return Err(self.deny(e, ServiceError::Denied(msg)).await);
        }
        let lead = input.lead.unwrap_or(asker.user.id);
        let mut members = vec![CaseMember {
            user: lead,
            membership: Membership::Lead,
            named: true,
        }];
        for u in input.team {
            if !members.iter().any(|m| m.user == u) {
                members.push(CaseMember {
                    user: u,
                    membership: Membership::Team,
                    named: false,
                });
            }
        }
        self.require_active_users(members.iter().map(|m| m.user))
            .await?;
        let id = CaseId::new_random();
        let new = NewCase {
            id,
            title,
            offense,
            classification,
            unit: input.unit,
            narrative,
            due: input.due,
            members,
            created_by: asker.user.id,
        };
        let now = self.clock.now();
        let event = self
            .case_event(asker, "case.open", Outcome::Allowed, "case", id)
            .build();
        self.store
            .create_case(
                &new,
                now,
                &Line {
                    actor: Some(asker.user.id),
                    what: "case.opened",
                    detail: "Case opened".into(),
                },
                &[event],
            )
            .await
            .or_service("unit")?;
        self.store.case(id).await.or_service("case")
    }

    async fn require_active_users(&self, users: impl Iterator<Item = UserId>) -> ServiceResult<()> {
        for u in users {
            match self.store.user(u).await {
                Ok(r) if r.user.status == UserStatus::Active => {}
                Ok(_) => {
                    return Err(DomainError::invalid("members", "a named user is disabled").into())
                }
                Err(precinct_store::StoreError::NotFound) => {
                    return Err(
                        DomainError::invalid("members", "a named user does not exist").into(),
                    )
                }
                Err(e) => return Err(ServiceError::from_store(e, "user")),
            }
        }
        Ok(())
    }

    /// Reads a case page. With `break_glass` (a supervisor's stated reason),
    /// a case outside need-to-know opens, marked for review.
    pub async fn read_case(
        &self,
        asker: Asker<'_>,
        id: CaseId,
        break_glass: Option<&str>,
        purpose: ReadFor,
    ) -> ServiceResult<CaseView> {
        let LoadedCase {
            case,
            conn,
            units,
            at,
        } = self.load_case(asker, id, "case.read").await?;
        // The page's questions with the first one: one entity build.
        let mut asked = self
            .decide_each(
                asker,
                &[
                    Action::View,
                    Action::AddDocument,
                    Action::Manage,
                    Action::ViewProtected,
                    Action::ViewAudit,
                ],
                &case,
                &conn,
                None,
                false,
            )
            .into_iter();
        let plain = asked.next().unwrap_or_else(no_decision);
        let allowed = |d: Option<Decision>| d.is_some_and(|d| d.allowed);
        let may = Abilities {
            add_document: allowed(asked.next()),
            manage: allowed(asked.next()),
            view_protected: allowed(asked.next()),
            view_audit: allowed(asked.next()),
        };
        let mut opened_by_glass = false;
        if !plain.allowed {
            let reason = break_glass.map(str::trim).filter(|r| !r.is_empty());
            let glass =
                reason.map(|_| self.decide_on(asker, Action::View, &case, &conn, None, true));
            match (reason, glass) {
                (Some(reason), Some(g)) if g.allowed => {
                    let reason = validate_text("reason", reason, true)?;
                    if reason.chars().count() < 10 {
                        return Err(DomainError::invalid(
                            "reason",
                            "state the reason in at least 10 characters",
                        )
                        .into());
                    }
                    self.record_break_glass(asker, &case, reason).await?;
                    opened_by_glass = true;
                }
                (_, g) => {
                    let d = g.unwrap_or(plain);
                    return Err(self
                        .refuse(
                            asker,
                            "case.read",
                            Some((&case, &conn)),
                            ("case", id.to_string()),
                            Some(&d),
                        )
                        .await);
                }
            }
        }
        let view = self
            .case_view(
                asker,
                case,
                &conn,
                &units,
                Opened {
                    may,
                    break_glass: opened_by_glass,
                    purpose,
                    at,
                },
            )
            .await?;
        if !opened_by_glass {
            let e = self
                .case_event(asker, "case.read", Outcome::Allowed, "case", id)
                .grant(conn.grant_in_force(self.clock.now()))
                .build();
            self.record(&[e]).await?;
        }
        Ok(view)
    }

    async fn record_break_glass(
        &self,
        asker: Asker<'_>,
        case: &Case,
        reason: String,
    ) -> ServiceResult<()> {
        let event = self
            .case_event(asker, "case.read", Outcome::Allowed, "case", case.id)
            .reason("break_glass")
            .build();
        let opening = BreakGlass {
            id: uuid::Uuid::now_v7().to_string(),
            case_id: case.id,
            user: asker.user.id,
            reason,
            at: self.clock.now(),
            audit_event_id: event.id.clone(),
            reviewed_by: None,
            reviewed_at: None,
        };
        self.store
            .record_break_glass(
                &opening,
                &Line {
                    actor: Some(asker.user.id),
                    what: "case.break_glass",
                    detail: "Opened by break-glass outside need-to-know".into(),
                },
                &[event],
            )
            .await
            .or_service("case")
    }

    async fn case_view(
        &self,
        asker: Asker<'_>,
        case: Case,
        conn: &Connections,
        units: &HashMap<UnitId, Unit>,
        opened: Opened,
    ) -> ServiceResult<CaseView> {
        let Opened {
            may,
            break_glass,
            purpose,
            at,
        } = opened;
        // Who may be assigned (the page's forms): the active users of the
        // case's precinct.
        let assignable_in = if may.manage && purpose == ReadFor::Page {
            Self::precinct_units(case.unit, units)
        } else {
            vec![]
        };
        let (material, assignable) = self
            .store
            .case_material(case.id, at, &assignable_in)
            .await
            .or_service("case")?;
        let people = material
            .people
            .iter()
            .map(|p| {
                let (shown, masked) = p.as_seen(may.view_protected);
                PersonView {
                    person: p.clone(),
                    shown,
                    masked,
                }
            })
            .collect();
        let current = current_versions(&material.documents);
        // Amending never rides on break-glass.
        let asked: &[Action] = if break_glass {
            &[Action::View]
        } else {
            &[Action::View, Action::Amend]
        };
        let items: Vec<_> = current
            .iter()
            .map(|(cur, _)| (&case, conn, Some(*cur)))
            .collect();
        let decided = self.decide_many(asker, asked, &items, break_glass);
        let entries = current
            .into_iter()
            .zip(decided)
            .map(|((cur, versions), d)| {
                let allowed = |i: usize| d.get(i).is_some_and(|d| d.allowed);
                let open = allowed(0);
                EntryView {
                    current: cur.clone(),
                    versions: versions.into_iter().cloned().collect(),
                    open,
                    may_amend: open && !break_glass && allowed(1),
                }
            })
            .collect();
        let (tasks, timeline) = (material.tasks.clone(), material.timeline.clone());
        let mut names = material.names.clone();
        names.extend(assignable);
        let offense_description = nibrs::offense(&case.offense)
            .map(|o| o.description.clone())
            .unwrap_or_default();
        Ok(CaseView {
            unit_name: units
                .get(&case.unit)
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            offense_description,
            case,
            people,
            entries,
            tasks,
            timeline,
            may,
            break_glass,
            names,
        })
    }

    /// Summaries of the cases among `ids` that the asker may view.
    async fn visible_summaries(
        &self,
        asker: Asker<'_>,
        ids: &[CaseId],
        units: &HashMap<UnitId, Unit>,
    ) -> ServiceResult<Vec<(Case, Connections)>> {
        let cases = self.store.cases(ids).await.or_service("case")?;
        Ok(self
            .with_views(asker, cases, units)
            .into_iter()
            .filter_map(|(c, conn, view)| view.then_some((c, conn)))
            .collect())
    }

    /// Each case with its connections and whether the asker may view it
    /// here, the cases decided together.
    pub(crate) fn with_views(
        &self,
        asker: Asker<'_>,
        cases: Vec<Case>,
        units: &HashMap<UnitId, Unit>,
    ) -> Vec<(Case, Connections, bool)> {
        let cases: Vec<(Case, Connections)> = cases
            .into_iter()
            .map(|c| {
                let conn = Connections::of(&c, units);
                (c, conn)
            })
            .collect();
        let items: Vec<_> = cases.iter().map(|(c, conn)| (c, conn, None)).collect();
        let decided = self.decide_many(asker, &[Action::View], &items, false);
        cases
            .into_iter()
            .zip(decided)
            .map(|((c, conn), d)| (c, conn, d.first().is_some_and(|d| d.allowed)))
            .collect()
    }

    fn summary(c: &Case, units: &HashMap<UnitId, Unit>, matched: Vec<&'static str>) -> CaseSummary {
        CaseSummary {
            id: c.id,
            number: c.number,
            title: c.title.clone(),
            status: c.status,
            offense: c.offense.clone(),
            unit_name: units
                .get(&c.unit)
                .map(|u| u.name.clone())
                .unwrap_or_default(),
            updated_at: c.updated_at,
            matched,
        }
    }

    /// The asker's own cases (lead, team, shared) that they may view here.
    pub async fn my_cases(&self, asker: Asker<'_>) -> ServiceResult<Vec<CaseSummary>> {
        let units = self.units_by_id().await?;
        let ids = self
            .store
            .case_ids_of_user(asker.user.id, LIST_LIMIT)
            .await
            .or_service("case")?;
        self.list_event(asker, "case.list_mine").await?;
        Ok(self
            .visible_summaries(asker, &ids, &units)
            .await?
            .iter()
            .map(|(c, _)| Self::summary(c, &units, vec![]))
            .collect())
    }

    /// Every unit of the precinct `unit` belongs to.
    fn precinct_units(unit: UnitId, units: &HashMap<UnitId, Unit>) -> Vec<UnitId> {
        let mut top = unit;
        let mut steps = 0;
        while let Some(p) = units.get(&top).and_then(|u| u.parent) {
            top = p;
            steps += 1;
            if steps > units.len() {
                break;
            }
        }
        let mut out: Vec<UnitId> = units
            .keys()
            .copied()
            .filter(|u| {
                let mut cur = Some(*u);
                let mut n = 0;
                while let Some(c) = cur {
                    if c == top {
                        return true;
                    }
                    cur = units.get(&c).and_then(|x| x.parent);
                    n += 1;
                    if n > units.len() {
                        break;
                    }
                }
                false
            })
            .collect();
        out.sort();
        out
    }

    /// The units a user supervises, with every unit below them.
    fn supervised_units(user: UserId, units: &HashMap<UnitId, Unit>) -> Vec<UnitId> {
        let mut out: Vec<UnitId> = units
            .values()
            .filter(|u| chain_of_command(u.id, units).contains(&user))
            .map(|u| u.id)
            .collect();
        out.sort();
        out
    }

    /// The cases of the asker's units and the units they supervise.
    pub async fn unit_cases(&self, asker: Asker<'_>) -> ServiceResult<Vec<CaseSummary>> {
        let units = self.units_by_id().await?;
        let mut scope: HashSet<UnitId> = asker.user.units.iter().copied().collect();
        scope.extend(Self::supervised_units(asker.user.id, &units));
        let scope: Vec<UnitId> = scope.into_iter().collect();
        let ids = self
            .store
            .case_ids_of_units(&scope, LIST_LIMIT)
            .await
            .or_service("case")?;
        self.list_event(asker, "case.list_unit").await?;
        Ok(self
            .visible_summaries(asker, &ids, &units)
            .await?
            .iter()
            .map(|(c, _)| Self::summary(c, &units, vec![]))
            .collect())
    }

    /// Records a read of a list (no object), durably.
    pub(crate) async fn list_event(&self, asker: Asker<'_>, action: &str) -> ServiceResult<()> {
        let e = self.event(asker.origin, action, Outcome::Allowed).build();
        self.record(&[e]).await
    }

    /// Adds a report, supplement or note.
    pub async fn add_entry(
        &self,
        asker: Asker<'_>,
        case_id: CaseId,
        input: NewEntry,
    ) -> ServiceResult<Document> {
        let kind = DocumentKind::parse(&input.kind)?;
        if kind == DocumentKind::Attachment {
            return Err(DomainError::invalid("kind", "attachments are uploaded as files").into());
        }
        let title = validate_title(&input.title)?;
        let body = validate_text("body", &input.body, true)?;
        let classification = input
            .classification
            .as_deref()
            .map(Classification::parse)
            .transpose()?;
        let LoadedCase { case, conn, .. } = self
            .case_for(asker, case_id, Action::AddDocument, "document.add")
            .await?;
        let grant = self
            .notes_only(
                asker,
                &conn,
                "document.add",
                case_id,
                kind == DocumentKind::Note,
            )
            .await?;
        let doc = Document {
            id: DocumentId::new_random(),
            case_id,
            kind,
            classification: classification.unwrap_or(case.classification),
            title,
            body,
            author: asker.user.id,
            created_at: self.clock.now(),
            amends: None,
            attachment: None,
        };
        self.write_entry(
            asker,
            &doc,
            None,
            grant.as_deref(),
            "document.add",
            format!("{} added", kind.label()),
        )
        .await?;
        Ok(doc)
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_entry(
        &self,
        asker: Asker<'_>,
        doc: &Document,
        blob: Option<&precinct_store::SealedBlob>,
        grant: Option<&str>,
        action: &str,
        detail: String,
    ) -> ServiceResult<()> {
        let e = self
            .case_event(asker, action, Outcome::Allowed, "document", doc.id)
            .grant(grant)
            .build();
        self.store
            .add_document(
                doc,
                blob,
                &Line {
                    actor: Some(asker.user.id),
                    what: if doc.amends.is_some() {
                        "document.amended"
                    } else {
                        "document.added"
                    },
                    detail,
                },
                &[e],
            )
            .await
            .or_service("case")
    }

    /// Uploads an attachment, encrypted at rest with its SHA-256 recorded.
    pub async fn add_attachment(
        &self,
        asker: Asker<'_>,
        case_id: CaseId,
        input: NewAttachment,
    ) -> ServiceResult<Document> {
        let title = validate_title(&input.title)?;
        let filename = validate_filename(&input.filename)?;
        let media_type = validate_media_type(&input.media_type)?;
        if input.bytes.is_empty() {
            return Err(DomainError::invalid("file", "must not be empty").into());
        }
        let classification = input
            .classification
            .as_deref()
            .map(Classification::parse)
            .transpose()?;
        let Some(key) = self.attachment_key.clone() else {
            tracing::error!("no attachment key is configured; attachments are refused");
            return Err(ServiceError::Unavailable);
        };
        let LoadedCase { case, conn, .. } = self
            .case_for(asker, case_id, Action::AddDocument, "document.add")
            .await?;
        self.notes_only(asker, &conn, "document.add", case_id, false)
            .await?;
        let id = DocumentId::new_random();
        let sha256 = hex::encode(Sha256::digest(&input.bytes));
        let blob = key
            .seal(&id.to_string(), &input.bytes)
            .map_err(|_| ServiceError::Unavailable)?;
        let doc = Document {
            id,
            case_id,
            kind: DocumentKind::Attachment,
            classification: classification.unwrap_or(case.classification),
            title,
            body: String::new(),
            author: asker.user.id,
            created_at: self.clock.now(),
            amends: None,
            attachment: Some(AttachmentMeta {
                filename,
                media_type,
                size: input.bytes.len() as u64,
                sha256,
            }),
        };
        self.write_entry(
            asker,
            &doc,
            Some(&blob),
            None,
            "document.add",
            "Attachment added".into(),
        )
        .await?;
        Ok(doc)
    }

    /// Loads an entry and its case for `action`, or refuses (recorded).
    async fn entry_for(
        &self,
        asker: Asker<'_>,
        id: DocumentId,
        action: Action,
        audit_action: &str,
    ) -> ServiceResult<(Document, Case, Connections)> {
        let doc = match self.store.document(id).await {
            Ok(d) => d,
            Err(precinct_store::StoreError::NotFound) => {
                return Err(self
                    .refuse(
                        asker,
                        audit_action,
                        None,
                        ("document", id.to_string()),
                        None,
                    )
                    .await)
            }
            Err(e) => return Err(ServiceError::from_store(e, "document")),
        };
        let units = self.units_by_id().await?;
        let case = self.store.case(doc.case_id).await.or_service("case")?;
        let mut conn = Connections::of(&case, &units);
        conn.grant = self.offsite_grant_for(asker, case.id).await?;
        let d = self.decide_on(asker, action, &case, &conn, Some(&doc), false);
        if !d.allowed {
            return Err(self
                .refuse(
                    asker,
                    audit_action,
                    Some((&case, &conn)),
                    ("document", id.to_string()),
                    Some(&d),
                )
                .await);
        }
        Ok((doc, case, conn))
    }

    /// Reads one documentation entry (where an off-site grant names
    /// documents, or covers administrative paperwork only, this is how its
    /// holder reaches them). Recorded with the grant it was read under.
    pub async fn read_document(&self, asker: Asker<'_>, id: DocumentId) -> ServiceResult<Document> {
        let (doc, _, conn) = self
            .entry_for(asker, id, Action::View, "document.read")
            .await?;
        let e = self
            .case_event(asker, "document.read", Outcome::Allowed, "document", id)
            .grant(conn.grant_in_force(self.clock.now()))
            .build();
        self.record(&[e]).await?;
        Ok(doc)
    }

    /// Corrects an entry: a new version that names the one it replaces;
    /// the original stays in the history. Only the latest version may be
    /// amended.
    pub async fn amend_entry(
        &self,
        asker: Asker<'_>,
        id: DocumentId,
        title: &str,
        body: &str,
    ) -> ServiceResult<Document> {
        let title = validate_title(title)?;
        let body = validate_text("body", body, true)?;
        let (doc, _, _) = self
            .entry_for(asker, id, Action::Amend, "document.amend")
            .await?;
        if doc.kind == DocumentKind::Attachment {
            return Err(
                DomainError::invalid("kind", "an attachment is corrected by a note").into(),
            );
        }
        let all = self
            .store
            .documents(doc.case_id)
            .await
            .or_service("document")?;
        if all.iter().any(|d| d.amends == Some(id)) {
            return Err(ServiceError::Conflict("a newer version of this entry"));
        }
        let amended = Document {
            id: DocumentId::new_random(),
            title,
            body,
            author: asker.user.id,
            created_at: self.clock.now(),
            amends: Some(id),
            ..doc
        };
        self.write_entry(
            asker,
            &amended,
            None,
            None,
            "document.amend",
            format!("{} amended", amended.kind.label()),
        )
        .await?;
        Ok(amended)
    }

    /// An attachment's bytes, decrypted and checked against their SHA-256.
    /// A mismatch is recorded as a failure and nothing is sent.
    pub async fn read_attachment(
        &self,
        asker: Asker<'_>,
        id: DocumentId,
    ) -> ServiceResult<(AttachmentMeta, Vec<u8>)> {
        let (doc, _, conn) = self
            .entry_for(asker, id, Action::View, "attachment.read")
            .await?;
        let grant = conn.grant_in_force(self.clock.now());
        let (Some(meta), Some(key)) = (doc.attachment.clone(), self.attachment_key.clone()) else {
            return Err(ServiceError::NotFound("attachment"));
        };
        let blob = self
            .store
            .attachment_blob(id)
            .await
            .or_service("attachment")?;
        match key.open(&id.to_string(), &blob, &meta.sha256) {
            Ok(bytes) => {
                let e = self
                    .case_event(asker, "attachment.read", Outcome::Allowed, "document", id)
                    .grant(grant)
                    .build();
                self.record(&[e]).await?;
                Ok((meta, bytes))
            }
            Err(_) => {
                tracing::error!("an attachment failed its integrity check");
                let e = self
                    .case_event(asker, "attachment.read", Outcome::Failed, "document", id)
                    .reason("integrity_failure")
                    .build();
                Err(self.deny(e, ServiceError::Integrity).await)
            }
        }
    }

    /// Links a person to the case.
    pub async fn add_person(
        &self,
        asker: Asker<'_>,
        case_id: CaseId,
        input: NewPerson,
    ) -> ServiceResult<CasePerson> {
        let role = PersonRole::parse(&input.role)?;
        let identity = Identity::parse(
            &input.name,
            input.address.as_deref(),
            input.phone.as_deref(),
            input.date_of_birth.as_deref(),
        )?;
        let LoadedCase { conn, .. } = self
            .case_for(asker, case_id, Action::AddDocument, "person.add")
            .await?;
        self.notes_only(asker, &conn, "person.add", case_id, false)
            .await?;
        let person = CasePerson {
            id: PersonId::new_random(),
            case_id,
            role,
            flags: input.flags,
            identity,
        };
        let e = self
            .case_event(asker, "person.add", Outcome::Allowed, "person", person.id)
            .build();
        let detail = if person.flags.is_protected() {
            format!("{} added (protected)", role.label())
        } else {
            format!("{} added", role.label())
        };
        self.store
            .add_person(
                &person,
                asker.user.id,
                self.clock.now(),
                &Line {
                    actor: Some(asker.user.id),
                    what: "person.added",
                    detail,
                },
                &[e],
            )
            .await
            .or_service("case")?;
        Ok(person)
    }

    /// Moves the case through its life cycle.
    pub async fn change_status(
        &self,
        asker: Asker<'_>,
        case_id: CaseId,
        transition: Transition,
    ) -> ServiceResult<Case> {
        let LoadedCase { case, .. } = self
            .case_for(asker, case_id, Action::Manage, "case.status")
            .await?;
        let to = transition.apply(case.status, case.status_before_seal)?;
        let before_seal = match transition {
            Transition::Seal { .. } => Some(case.status),
            _ => None,
        };
        let detail = match &transition {
            Transition::Seal { order } | Transition::Unseal { order } => format!(
                "Status changed from {} to {} by court order {}",
                case.status.as_str(),
                to.as_str(),
                order.as_str()
            ),
            _ => format!(
                "Status changed from {} to {}",
                case.status.as_str(),
                to.as_str()
            ),
        };
        let e = self
            .case_event(asker, "case.status", Outcome::Allowed, "case", case_id)
            .build();
        self.store
            .set_case_status(
                case_id,
                case.status,
                to,
                before_seal,
                self.clock.now(),
                &Line {
                    actor: Some(asker.user.id),
                    what: "status.changed",
                    detail,
                },
                &[e],
            )
            .await
            .or_service("case")?;
        self.store.case(case_id).await.or_service("case")
    }

    /// Sets the lead, team and shares.
    pub async fn assign(
        &self,
        asker: Asker<'_>,
        case_id: CaseId,
        a: Assignment,
    ) -> ServiceResult<Case> {
        self.case_for(asker, case_id, Action::Manage, "case.assign")
            .await?;
        let mut members: Vec<CaseMember> = Vec::new();
        let mut push = |user: UserId, membership: Membership| {
            if !members.iter().any(|m| m.user == user) {
                members.push(CaseMember {
                    user,
                    membership,
                    named: membership == Membership::Lead || a.named.contains(&user),
                });
            }
        };
        if let Some(l) = a.lead {
            push(l, Membership::Lead);
        }
        a.team.iter().for_each(|u| push(*u, Membership::Team));
        a.shared.iter().for_each(|u| push(*u, Membership::Shared));
        if !members.iter().any(|m| m.membership == Membership::Lead) {
            return Err(DomainError::invalid("lead", "a case needs a lead investigator").into());
        }
        self.require_active_users(members.iter().map(|m| m.user))
            .await?;
        let e = self
            .case_event(asker, "case.assign", Outcome::Allowed, "case", case_id)
            .build();
        self.store
            .set_case_members(
                case_id,
                &members,
                self.clock.now(),
                &Line {
                    actor: Some(asker.user.id),
                    what: "case.assigned",
                    detail: format!("Assignment changed ({})", lead_and_team(&members)),
                },
                &[e],
            )
            .await
            .or_service("case")?;
        self.store.case(case_id).await.or_service("case")
    }

    pub async fn add_task(
        &self,
        asker: Asker<'_>,
        case_id: CaseId,
        title: &str,
        assignee: Option<UserId>,
        due: Option<Timestamp>,
    ) -> ServiceResult<CaseTask> {
        let title = validate_title(title)?;
        self.case_for(asker, case_id, Action::Manage, "task.add")
            .await?;
        if let Some(a) = assignee {
            self.require_active_users(std::iter::once(a)).await?;
        }
        let task = CaseTask {
            id: TaskId::new_random(),
            case_id,
            title,
            assignee,
            due,
            done_at: None,
            created_by: asker.user.id,
            created_at: self.clock.now(),
        };
        let e = self
            .case_event(asker, "task.add", Outcome::Allowed, "task", task.id)
            .build();
        self.store
            .add_task(
                &task,
                &Line {
                    actor: Some(asker.user.id),
                    what: "task.added",
                    detail: "Task added".into(),
                },
                &[e],
            )
            .await
            .or_service("case")?;
        Ok(task)
    }

    pub async fn complete_task(
        &self,
        asker: Asker<'_>,
        case_id: CaseId,
        task: TaskId,
    ) -> ServiceResult<()> {
        self.case_for(asker, case_id, Action::Manage, "task.complete")
            .await?;
        let e = self
            .case_event(asker, "task.complete", Outcome::Allowed, "task", task)
            .build();
        self.store
            .complete_task(
                case_id,
                task,
                self.clock.now(),
                &Line {
                    actor: Some(asker.user.id),
                    what: "task.completed",
                    detail: "Task completed".into(),
                },
                &[e],
            )
            .await
            .or_service("task")
    }

    /// Break-glass openings the asker reviews: those by users whose chain
    /// of command includes the asker (never their own). The listing is
    /// recorded.
    pub async fn break_glass_reviews(
        &self,
        asker: Asker<'_>,
    ) -> ServiceResult<Vec<BreakGlassReview>> {
        let list = self.reviewable_openings(asker).await?;
        self.list_event(asker, "break_glass.list").await?;
        Ok(list)
    }

    async fn reviewable_openings(&self, asker: Asker<'_>) -> ServiceResult<Vec<BreakGlassReview>> {
        let units = self.units_by_id().await?;
        let users = self.store.list_users().await.or_service("user")?;
        let reviewed: Vec<&User> = users
            .iter()
            .filter(|u| u.id != asker.user.id)
            .filter(|u| {
                u.units
                    .iter()
                    .any(|unit| chain_of_command(*unit, &units).contains(&asker.user.id))
            })
            .collect();
        let ids: Vec<UserId> = reviewed.iter().map(|u| u.id).collect();
        let list = self
            .store
            .break_glass_by(&ids)
            .await
            .or_service("break-glass")?;
        let mut case_ids: Vec<CaseId> = list.iter().map(|b| b.case_id).collect();
        case_ids.sort();
        case_ids.dedup();
        let numbers: HashMap<CaseId, String> = self
            .store
            .cases(&case_ids)
            .await
            .or_service("case")?
            .into_iter()
            .map(|c| (c.id, c.number.to_string()))
            .collect();
        Ok(list
            .into_iter()
            .map(|b| BreakGlassReview {
                user_name: reviewed
                    .iter()
                    .find(|u| u.id == b.user)
                    .map(|u| u.display_name.clone())
                    .unwrap_or_default(),
                case_number: numbers.get(&b.case_id).cloned().unwrap_or_default(),
                opening: b,
            })
            .collect())
    }

    /// Marks an opening reviewed.
    pub async fn review_break_glass(&self, asker: Asker<'_>, id: &str) -> ServiceResult<()> {
        let mine = self.reviewable_openings(asker).await?;
        if !mine.iter().any(|b| b.opening.id == id) {
            let e = self
                .event(asker.origin, "break_glass.review", Outcome::Denied)
                .object("break_glass", id)
                .reason("not_in_chain_of_command")
                .build();
            return Err(self
                .deny(e, ServiceError::NotFound("break-glass opening"))
                .await);
        }
        let e = self
            .event(asker.origin, "break_glass.review", Outcome::Allowed)
            .object("break_glass", id)
            .build();
        self.store
            .review_break_glass(id, asker.user.id, self.clock.now(), &[e])
            .await
            .or_service("break-glass opening")
    }

    /// Whether the policy opens this case's audit tab to the asker (its
    /// supervisors); an unknown case is simply "no".
    pub async fn may_view_case_audit(&self, asker: Asker<'_>, case: &str) -> bool {
        let Ok(id) = case.parse::<CaseId>() else {
            return false;
        };
        let (Ok(units), Ok(case)) = (self.units_by_id().await, self.store.case(id).await) else {
            return false;
        };
        let conn = Connections::of(&case, &units);
        self.decide_on(asker, Action::ViewAudit, &case, &conn, None, false)
            .allowed
    }

    /// What the policy says about `user` doing `action` on a case from a
    /// channel (`precinct policy explain`). Reads nothing of the case's
    /// content and changes nothing.
    pub async fn explain(
        &self,
        user: &User,
        case_id: CaseId,
        action: Action,
        channel: &str,
        device: Option<precinct_domain::ids::DeviceId>,
    ) -> ServiceResult<(Case, Decision, Option<precinct_domain::offsite::Grant>)> {
        let units = self.units_by_id().await?;
        let case = self.store.case(case_id).await.or_service("case")?;
        let mut conn = Connections::of(&case, &units);
        let origin = Origin {
            channel: channel.to_owned(),
            device_id: device.map(|d| d.to_string()),
            ..Origin::console()
        };
        let asker = Asker {
            user,
            origin: &origin,
        };
        // Away from a workstation, under the user's grants as they stand.
        conn.grant = self.offsite_grant_for(asker, case.id).await?;
        let d = self.decide_on(asker, action, &case, &conn, None, false);
        Ok((case, d, conn.grant))
    }
}
