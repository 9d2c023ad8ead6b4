//! Off-site work: duty status, the two kinds of off-site grant and the
//! conversation about them, the grant a request is decided under, the
//! compliance incidents that off-site attempts become, review items,
//! reminders, work-life hours and the off-site access report.
//!
//! The grant is only an input to the policy (`grant_context`): whether an
//! access is allowed is Cedar's answer; what this module adds is which
//! grant bears on a request, and the bookkeeping around it.

use precinct_audit::event::AuditEvent;
use precinct_domain::case::{validate_text, Case};
use precinct_domain::ids::{CaseId, UnitId, UserId};
use precinct_domain::offsite::{
    active_hours, approvers, in_chain, may_decide, week_start, Grant, GrantKind, GrantRequest,
    GrantStatus, GrantStep, Incident, IncidentKind,
};
use precinct_domain::org::Unit;
use precinct_domain::user::User;
use precinct_domain::{DomainError, Role, Timestamp};
use precinct_policy::GrantContext;
use precinct_store::{EventFilter, GrantComment, GrantMark, GrantUpdate, Notification};
use std::collections::HashMap;
use std::time::Duration;

use super::audit::Outcome;
use super::cases::{Asker, Connections};
use super::{ServiceError, ServiceResult, Services, StoreResultExt};

/// How long after its end a grant is still shown to the policy, so that
/// using it late is an "outside the window" incident, not a plain one.
const RECENT: Duration = Duration::from_secs(24 * 3600);

/// The policies whose denials off-site are compliance incidents, and the
/// kind each one makes.
const OFFSITE_FORBIDS: [(&str, IncidentKind); 5] = [
    (
        "designated-workstation-only",
        IncidentKind::OffsiteWithoutGrant,
    ),
    ("off-duty-grant-window", IncidentKind::OutsideGrantWindow),
    ("off-duty-grant-device", IncidentKind::OutsideGrantScope),
    ("off-duty-grant-scope", IncidentKind::OutsideGrantScope),
    ("administrative-task-scope", IncidentKind::OutsideGrantScope),
];

/// Of a user's recent grants, the one that bears on `case` at `now`: an
/// investigation in force that covers it; else an administrative task in
/// force; else an investigation for it that has ended (so the policy says
/// so); else any investigation in force (so the policy holds it to its
/// scope). None: the request is decided with no grant.
pub(crate) fn select_grant(grants: &[Grant], case: CaseId, now: Timestamp) -> Option<Grant> {
    let investigation = |g: &&Grant| g.kind == GrantKind::OffDutyInvestigation;
    let started = |g: &&Grant| g.starts_at <= now && g.decided_by.is_some();
    grants
        .iter()
        .filter(investigation)
        .find(|g| g.in_force(now) && g.cases.contains(&case))
        .or_else(|| {
            grants
                .iter()
                .find(|g| g.kind == GrantKind::Administrative && g.in_force(now))
        })
        .or_else(|| {
            grants
                .iter()
                .filter(investigation)
                .filter(started)
                .find(|g| !g.in_force(now) && g.cases.contains(&case))
        })
        .or_else(|| {
            grants
                .iter()
                .filter(investigation)
                .find(|g| g.in_force(now))
        })
        .cloned()
}

/// A grant as the policy sees it for one case: whether it covers that case
/// (by number), the documents it names, and when it stopped or stops.
pub(crate) fn grant_context(g: &Grant, case: &Case) -> GrantContext {
    GrantContext {
        kind: g.kind.as_str().to_owned(),
        cases: if g.cases.contains(&case.id) {
            vec![case.number.to_string()]
        } else {
            vec![]
        },
        documents: g.documents.iter().map(ToString::to_string).collect(),
        may_add_notes: g.may_add_notes,
        device: g.device.map(|d| d.to_string()).unwrap_or_default(),
        // A revoked grant ended when it was revoked; one not yet approved
        // (or not yet started) is over before it began.
        ends_at: if g.status == GrantStatus::Approved || g.status == GrantStatus::Revoked {
            g.ended_at()
        } else {
            Timestamp::from_micros(0)
        },
    }
}

/// Whether a denial is a compliance incident, and of which kind: a request
/// for case material away from a designated workstation that an off-site
/// rule refused, or one for a case that does not exist (refused like one
/// out of reach, so it is recorded the same way).
pub(crate) fn incident_for(
    channel: &str,
    policies: Option<&[String]>,
    grant: Option<&Grant>,
) -> Option<IncidentKind> {
    if channel == "workstation" || channel == "console" {
        return None;
    }
    match policies {
        None => Some(match grant {
            Some(_) => IncidentKind::OutsideGrantScope,
            None => IncidentKind::OffsiteWithoutGrant,
        }),
        Some(ps) => OFFSITE_FORBIDS
            .iter()
            .find(|(id, _)| ps.iter().any(|p| p == id))
            .map(|(_, kind)| *kind),
    }
}

/// A grant with what its pages show.
#[derive(Debug, Clone)]
pub struct GrantDetail {
    pub grant: Grant,
    pub comments: Vec<GrantComment>,
    /// Case numbers by id.
    pub case_numbers: HashMap<CaseId, String>,
    pub names: HashMap<UserId, String>,
    pub may: GrantAbilities,
    /// Over and approved once: the accesses made under it.
    pub accesses: Option<Vec<AuditEvent>>,
}

/// What the asker may do with a grant now.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrantAbilities {
    pub decide: bool,
    pub answer: bool,
    pub withdraw: bool,
    pub revoke: bool,
    pub comment: bool,
    pub review: bool,
}

/// One officer's off-duty hours under grants, per week (oldest first).
#[derive(Debug, Clone)]
pub struct WorkLife {
    pub user: UserId,
    pub name: String,
    pub hours: Vec<f64>,
    /// Over the threshold in the latest week.
    pub warning: bool,
}

/// The team's work-life chart: the weeks and each officer's hours.
#[derive(Debug, Clone)]
pub struct WorkLifeChart {
    pub weeks: Vec<Timestamp>,
    pub threshold: f64,
    pub officers: Vec<WorkLife>,
}

/// One grant in the off-site access report.
#[derive(Debug, Clone)]
pub struct ReportRow {
    pub grant: Grant,
    pub requester: String,
    pub approver: String,
    pub cases: Vec<String>,
    pub accesses: usize,
    pub denied: usize,
    /// How it ended: `in force`, `expired`, `revoked`, ...
    pub outcome: String,
}

impl Services {
    fn names_of(&self, users: &[User]) -> HashMap<UserId, String> {
        users
            .iter()
            .map(|u| (u.id, u.display_name.clone()))
            .collect()
    }

    async fn user_by_id(&self, id: UserId) -> ServiceResult<User> {
        Ok(self.store.user(id).await.or_service("user")?.user)
    }

    /// The people in `me`'s chain of command (`me` excepted).
    async fn team_of(&self, me: &User) -> ServiceResult<Vec<User>> {
        let units = self.units_by_id().await?;
        self.users_where(|u| u.id != me.id && in_chain(me.id, u, &units))
            .await
    }

    /// Every user `keep` accepts.
    async fn users_where(&self, keep: impl Fn(&User) -> bool) -> ServiceResult<Vec<User>> {
        let mut users = self.store.list_users().await.or_service("user")?;
        users.retain(|u| keep(u));
        Ok(users)
    }

    /// The grant that bears on `case` for this asker. At a designated
    /// workstation none does (nothing is needed there).
    pub(crate) async fn offsite_grant_for(
        &self,
        asker: Asker<'_>,
        case: CaseId,
    ) -> ServiceResult<Option<Grant>> {
        if matches!(asker.origin.channel.as_str(), "workstation" | "console") {
            return Ok(None);
        }
        let now = self.clock.now();
        let grants = self
            .store
            .recent_grants_of(asker.user.id, now.minus(RECENT))
            .await
            .or_service("grant")?;
        Ok(select_grant(&grants, case, now))
    }

    /// Records a compliance incident with its evidence (the denial event),
    /// and tells the user's supervisors.
    pub(crate) async fn record_incident(
        &self,
        asker: Asker<'_>,
        kind: IncidentKind,
        evidence: &AuditEvent,
        case: Option<CaseId>,
        grant: Option<&str>,
    ) -> ServiceResult<()> {
        let now = self.clock.now();
        let incident = Incident {
            id: uuid::Uuid::now_v7().to_string(),
            kind,
            user: asker.user.id,
            at: now,
            audit_event_id: evidence.id.clone(),
            case_id: case,
            grant_id: grant.map(str::to_owned),
        };
        let units = self.units_by_id().await?;
        let notify: Vec<Notification> = approvers(asker.user, &units)
            .into_iter()
            .map(|s| {
                Notification::new(
                    s,
                    "incident",
                    Some(&incident.id),
                    format!(
                        "Compliance incident for {}: {}",
                        asker.user.display_name,
                        kind.describe()
                    ),
                    now,
                )
            })
            .collect();
        let logged = self
            .event(asker.origin, "incident.create", Outcome::Allowed)
            .object("incident", &incident.id)
            .reason(kind.as_str())
            .build();
        self.store
            .record_incidents(
                &[incident],
                &notify,
                self.mail.is_some(),
                &[evidence.clone(), logged],
            )
            .await
            .or_service("incident")
    }

    /// Under an off-site grant, a user adds notes and nothing else; the
    /// grant an allowed write is made under.
    pub(crate) async fn notes_only(
        &self,
        asker: Asker<'_>,
        conn: &Connections,
        audit_action: &str,
        case: CaseId,
        is_note: bool,
    ) -> ServiceResult<Option<String>> {
        // Only requests away from a workstation carry a grant at all.
        let grant = conn.grant_in_force(self.clock.now()).map(str::to_owned);
        if grant.is_none() || is_note {
            return Ok(grant);
        }
        let e = self
            .event(asker.origin, audit_action, Outcome::Denied)
            .object("case", case)
            .reason("off-duty-grant-scope")
            .grant(grant.as_deref())
            .build();
        self.record_incident(
            asker,
            IncidentKind::OutsideGrantScope,
            &e,
            Some(case),
            grant.as_deref(),
        )
        .await?;
        Err(ServiceError::Denied(
            "Under an off-site grant you may add notes, nothing else".into(),
        ))
    }

    // ---- what the off-site pages show beside the use-cases ----

    /// Display names by user id, for the lists that say who.
    pub async fn user_names(&self) -> ServiceResult<HashMap<UserId, String>> {
        let users = self.store.list_users().await.or_service("user")?;
        Ok(self.names_of(&users))
    }

    /// The active users, for a holder to be chosen from.
    pub async fn active_users(&self) -> ServiceResult<Vec<User>> {
        self.users_where(|u| u.status == precinct_domain::user::UserStatus::Active)
            .await
    }

    /// Case numbers by id (numbers only: no case material).
    pub async fn case_numbers(&self, ids: &[CaseId]) -> ServiceResult<HashMap<CaseId, String>> {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self
            .store
            .cases(&ids)
            .await
            .or_service("case")?
            .into_iter()
            .map(|c| (c.id, c.number.to_string()))
            .collect())
    }

    /// The department devices the asker may name in a request: enrolled,
    /// not revoked, and assigned to the asker or to nobody.
    pub async fn devices_for_request(
        &self,
        asker: Asker<'_>,
    ) -> ServiceResult<Vec<precinct_store::DeviceRecord>> {
        let me = asker.user.id;
        Ok(self
            .store
            .list_devices()
            .await
            .or_service("device")?
            .into_iter()
            .filter(|d| d.revoked_at.is_none() && d.assigned_user_id.is_none_or(|u| u == me))
            .collect())
    }

    /// A device as its holder knows it: `laptop 7 (laptop)`.
    pub async fn device_label(
        &self,
        id: precinct_domain::ids::DeviceId,
    ) -> ServiceResult<Option<String>> {
        match self.store.device(id).await {
            Ok(d) => Ok(Some(format!("{} ({})", d.name, d.kind.as_str()))),
            Err(precinct_store::StoreError::NotFound) => Ok(None),
            Err(e) => Err(ServiceError::from_store(e, "device")),
        }
    }

    // ---- duty ----

    /// Clocks the asker in or out, at a designated workstation or a
    /// department device.
    pub async fn clock(&self, asker: Asker<'_>, on: bool) -> ServiceResult<()> {
        let action = if on {
            "duty.clock_in"
        } else {
            "duty.clock_out"
        };
        if !matches!(
            asker.origin.channel.as_str(),
            "workstation" | "department_device"
        ) {
            let e = self
                .event(asker.origin, action, Outcome::Denied)
                .object("user", asker.user.id)
                .reason("not_a_department_channel")
                .build();
            return Err(self
                .deny(
                    e,
                    ServiceError::Denied(
                        "Clock in and out at a designated workstation or a department device"
                            .into(),
                    ),
                )
                .await);
        }
        let e = self
            .event(asker.origin, action, Outcome::Allowed)
            .object("user", asker.user.id)
            .build();
        self.store
            .set_duty(asker.user.id, on, asker.user.id, self.clock.now(), &[e])
            .await
            .or_service("user")
    }

    /// A supervisor corrects an officer's duty status (audited, with the
    /// supervisor as actor).
    pub async fn correct_duty(
        &self,
        asker: Asker<'_>,
        officer: UserId,
        on: bool,
    ) -> ServiceResult<()> {
        let target = self.user_by_id(officer).await?;
        let units = self.units_by_id().await?;
        if !asker.user.roles.contains(Role::Supervisor)
            || officer == asker.user.id
            || !in_chain(asker.user.id, &target, &units)
        {
            let e = self
                .event(asker.origin, "duty.correct", Outcome::Denied)
                .object("user", officer)
                .reason("not_in_chain_of_command")
                .build();
            return Err(self
                .deny(
                    e,
                    ServiceError::Denied(
                        "Only a supervisor in the officer's chain of command corrects duty status"
                            .into(),
                    ),
                )
                .await);
        }
        let e = self
            .event(asker.origin, "duty.correct", Outcome::Allowed)
            .object("user", officer)
            .reason(if on { "on_duty" } else { "off_duty" })
            .build();
        self.store
            .set_duty(officer, on, asker.user.id, self.clock.now(), &[e])
            .await
            .or_service("user")
    }

    // ---- grants ----

    /// Files a request. An administrative task is in force at once; an
    /// investigation waits for a supervisor in the chain of command, who is
    /// told.
    pub async fn request_grant(
        &self,
        asker: Asker<'_>,
        request: GrantRequest,
    ) -> ServiceResult<Grant> {
        let now = self.clock.now();
        let valid = request.validate(now, &self.grant_limits)?;
        // Only cases the requester is connected to; others are "not found",
        // like cases that do not exist.
        for case in &valid.cases {
            let conn = self.load_case_quietly(*case).await?.conn;
            if !conn.includes(asker.user.id) {
                return Err(ServiceError::NotFound("case"));
            }
        }
        for d in &valid.documents {
            match self.store.document(*d).await {
                Ok(doc) if valid.cases.contains(&doc.case_id) => {}
                Ok(_) | Err(precinct_store::StoreError::NotFound) => {
                    return Err(DomainError::invalid(
                        "documents",
                        "every document must belong to a case the request names",
                    )
                    .into())
                }
                Err(e) => return Err(ServiceError::from_store(e, "document")),
            }
        }
        if let Some(device) = valid.device {
            let d = match self.store.device(device).await {
                Ok(d) => d,
                Err(precinct_store::StoreError::NotFound) => {
                    return Err(DomainError::invalid("device", "no such department device").into())
                }
                Err(e) => return Err(ServiceError::from_store(e, "device")),
            };
            if d.revoked_at.is_some() || d.assigned_user_id.is_some_and(|u| u != asker.user.id) {
                return Err(DomainError::invalid(
                    "device",
                    "the device is revoked or assigned to someone else",
                )
                .into());
            }
        }
        let administrative = valid.kind == GrantKind::Administrative;
        let grant = Grant {
            id: uuid::Uuid::now_v7().to_string(),
            kind: valid.kind,
            requester: asker.user.id,
            status: if administrative {
                GrantStatus::Approved
            } else {
                GrantStatus::Pending
            },
            justification: valid.justification.clone(),
            cases: valid.cases,
            documents: valid.documents,
            starts_at: valid.starts_at,
            ends_at: valid.ends_at,
            may_add_notes: valid.may_add_notes,
            device: valid.device,
            decided_by: None,
            decided_at: None,
            decision_note: None,
            revoked_by: None,
            revoked_at: None,
            reminded: false,
            reviewed_at: None,
            created_at: now,
        };
        let units = self.units_by_id().await?;
        let notify: Vec<Notification> = if administrative {
            vec![]
        } else {
            approvers(asker.user, &units)
                .into_iter()
                .map(|s| {
                    Notification::new(
                        s,
                        "grant.requested",
                        Some(&grant.id),
                        format!(
                            "{} asks to continue an investigation off duty until {}",
                            asker.user.display_name,
                            minute(grant.ends_at)
                        ),
                        now,
                    )
                })
                .collect()
        };
        let comment = GrantComment::new(
            &grant.id,
            asker.user.id,
            "request",
            valid.justification,
            now,
        );
        let e = self
            .event(asker.origin, "grant.request", Outcome::Allowed)
            .object("grant", &grant.id)
            .reason(grant.kind.as_str())
            .build();
        self.store
            .create_grant(&grant, &comment, &notify, self.mail.is_some(), &[e])
            .await
            .or_service("grant")?;
        Ok(grant)
    }

    /// A case number as a form names it (a request's cases, a paper file):
    /// its id, or "not found" — for a missing case and, with
    /// `connected_only`, for one the asker is not connected to alike. A
    /// refusal is recorded as a refused form, not as an attempt on case
    /// material (no compliance incident for a typo).
    pub async fn case_by_number_for(
        &self,
        asker: Asker<'_>,
        number: &str,
        connected_only: bool,
        action: &str,
    ) -> ServiceResult<CaseId> {
        let n: precinct_domain::case::CaseNumber = number.trim().parse()?;
        let found = match self.store.case_id_by_number(n).await {
            Ok(id) if !connected_only => Some(id),
            Ok(id) => {
                let conn = self.load_case_quietly(id).await?.conn;
                conn.includes(asker.user.id).then_some(id)
            }
            Err(precinct_store::StoreError::NotFound) => None,
            Err(e) => return Err(ServiceError::from_store(e, "case")),
        };
        match found {
            Some(id) => Ok(id),
            None => {
                let e = self
                    .event(asker.origin, action, Outcome::Denied)
                    .object("case_number", n)
                    .reason("no_such_case")
                    .build();
                Err(self.deny(e, ServiceError::NotFound("case")).await)
            }
        }
    }

    /// A grant the asker may see: its requester, supervisors in the
    /// requester's chain, internal affairs and auditors. Others: "not
    /// found" (recorded).
    async fn grant_for(
        &self,
        asker: Asker<'_>,
        id: &str,
        action: &str,
    ) -> ServiceResult<(Grant, User, HashMap<UnitId, Unit>)> {
        let found = match self.store.grant(id).await {
            Ok(g) => Some(g),
            Err(precinct_store::StoreError::NotFound) => None,
            Err(e) => return Err(ServiceError::from_store(e, "grant")),
        };
        let units = self.units_by_id().await?;
        if let Some(g) = found {
            let requester = self.user_by_id(g.requester).await?;
            let me = asker.user;
            let sees = me.id == g.requester
                || (me.roles.contains(Role::Supervisor) && in_chain(me.id, &requester, &units))
                || me.roles.contains(Role::InternalAffairs)
                || me.roles.contains(Role::Auditor);
            if sees {
                return Ok((g, requester, units));
            }
        }
        let e = self
            .event(asker.origin, action, Outcome::Denied)
            .object("grant", id)
            .reason("not_involved")
            .build();
        Err(self.deny(e, ServiceError::NotFound("grant")).await)
    }

    fn abilities(
        &self,
        me: &User,
        g: &Grant,
        requester: &User,
        units: &HashMap<UnitId, Unit>,
    ) -> GrantAbilities {
        let now = self.clock.now();
        let decider = may_decide(me, requester, units).is_ok();
        let own = me.id == g.requester;
        GrantAbilities {
            decide: decider && g.status.is_open(),
            answer: own && g.status == GrantStatus::InfoRequested,
            withdraw: own && g.status.is_open(),
            revoke: (own || decider) && g.status == GrantStatus::Approved && now < g.ends_at,
            comment: own || decider,
            review: g.decided_by == Some(me.id) && g.is_over(now) && g.reviewed_at.is_none(),
        }
    }

    /// A grant's page: the grant, its thread, and (once over) the accesses
    /// made under it. Reading it is recorded.
    pub async fn grant_detail(&self, asker: Asker<'_>, id: &str) -> ServiceResult<GrantDetail> {
        let (grant, requester, units) = self.grant_for(asker, id, "grant.read").await?;
        let comments = self.store.grant_comments(id).await.or_service("grant")?;
        let may = self.abilities(asker.user, &grant, &requester, &units);
        let accesses = if grant.is_over(self.clock.now()) || grant.status == GrantStatus::Approved {
            Some(self.accesses_under(&grant).await?)
        } else {
            None
        };
        let case_numbers = self.case_numbers(&grant.cases).await?;
        let names = self.user_names().await?;
        let e = self
            .event(asker.origin, "grant.read", Outcome::Allowed)
            .object("grant", id)
            .build();
        self.record(&[e]).await?;
        Ok(GrantDetail {
            grant,
            comments,
            case_numbers,
            names,
            may,
            accesses,
        })
    }

    /// Every event the requester's actions made under `grant`, oldest
    /// first (from the audit trail, by the requester in the grant's
    /// window, carrying the grant's id).
    pub async fn accesses_under(&self, grant: &Grant) -> ServiceResult<Vec<AuditEvent>> {
        let filter = EventFilter {
            actor_id: Some(grant.requester.to_string()),
            from_us: Some(grant.starts_at.as_micros()),
            to_us: Some(grant.ended_at().as_micros().saturating_add(1)),
            ..EventFilter::default()
        };
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .store
                .search_events(&filter, 1000, offset)
                .await
                .or_service("audit")?;
            let n = page.len() as u64;
            out.extend(
                page.into_iter()
                    .filter(|(_, e)| e.grant_id.as_deref() == Some(grant.id.as_str())),
            );
            if n < 1000 {
                break;
            }
            offset += n;
        }
        // In the log's order (events of one instant have no other).
        out.sort_by_key(|(seq, _)| *seq);
        Ok(out.into_iter().map(|(_, e)| e).collect())
    }

    /// Takes a step on a request: approve (with conditions), deny (with a
    /// reason), ask for information, answer, withdraw, revoke. Who may take
    /// which step is checked here; a refusal is recorded.
    pub async fn step_grant(
        &self,
        asker: Asker<'_>,
        id: &str,
        step: GrantStep,
        note: Option<&str>,
    ) -> ServiceResult<Grant> {
        let action = format!("grant.{}", step.as_str());
        let (grant, requester, units) = self.grant_for(asker, id, &action).await?;
        let now = self.clock.now();
        let me = asker.user;
        let own = me.id == grant.requester;
        let allowed = match step {
            GrantStep::Approve | GrantStep::Deny | GrantStep::AskInfo => {
                may_decide(me, &requester, &units).map_err(|e| {
                    let code = if own {
                        "self_approval"
                    } else {
                        "not_in_chain_of_command"
                    };
                    (reason_of(e), code)
                })
            }
            GrantStep::Answer | GrantStep::Withdraw if !own => Err((
                "only the requester answers or withdraws a request".to_owned(),
                "not_requester",
            )),
            GrantStep::Revoke if !own && may_decide(me, &requester, &units).is_err() => Err((
                "only the requester or a supervisor in the chain of command revokes a grant"
                    .to_owned(),
                "not_in_chain_of_command",
            )),
            GrantStep::Answer | GrantStep::Withdraw | GrantStep::Revoke => Ok(()),
        };
        if let Err((why, code)) = allowed {
            let e = self
                .event(asker.origin, &action, Outcome::Denied)
                .object("grant", id)
                .reason(code)
                .build();
            return Err(self.deny(e, ServiceError::Denied(why)).await);
        }
        if grant.kind == GrantKind::Administrative && step != GrantStep::Revoke {
            return Err(
                DomainError::invalid("step", "an administrative task needs no decision").into(),
            );
        }
        let to = step.after(grant.status)?;
        let note = note
            .map(|n| validate_text("note", n, false))
            .transpose()?
            .filter(|n| !n.is_empty());
        if matches!(
            step,
            GrantStep::Deny | GrantStep::AskInfo | GrantStep::Answer
        ) && note.is_none()
        {
            return Err(DomainError::invalid(
                "note",
                "say why (a reason, a question or an answer)",
            )
            .into());
        }
        if step == GrantStep::Approve && grant.ends_at <= now {
            return Err(
                DomainError::invalid("step", "the requested window has already ended").into(),
            );
        }
        let by_name = &me.display_name;
        let message = match step {
            GrantStep::Approve => format!("{by_name} approved your off-site request"),
            GrantStep::Deny => format!("{by_name} denied your off-site request"),
            GrantStep::AskInfo => {
                format!("{by_name} asks for more information on your off-site request")
            }
            GrantStep::Answer => {
                format!("{} answered on an off-site request", requester.display_name)
            }
            GrantStep::Withdraw => {
                format!("{} withdrew an off-site request", requester.display_name)
            }
            GrantStep::Revoke => format!("{by_name} revoked an off-site grant; it has ended"),
        };
        let recipients: Vec<UserId> = match step {
            GrantStep::Approve | GrantStep::Deny | GrantStep::AskInfo => vec![grant.requester],
            GrantStep::Answer | GrantStep::Withdraw => approvers(&requester, &units),
            GrantStep::Revoke => {
                let mut r = vec![grant.requester];
                r.extend(grant.decided_by);
                r.retain(|u| *u != me.id);
                r
            }
        };
        let notify: Vec<Notification> = recipients
            .into_iter()
            .map(|u| Notification::new(u, &action, Some(id), message.clone(), now))
            .collect();
        let comment = note
            .clone()
            .map(|n| GrantComment::new(id, me.id, step.as_str(), n, now));
        let e = self
            .event(asker.origin, &action, Outcome::Allowed)
            .object("grant", id)
            .build();
        self.store
            .step_grant(
                id,
                &GrantUpdate {
                    from: grant.status,
                    to,
                    by: me.id,
                    at: now,
                    note: note.filter(|_| {
                        matches!(
                            step,
                            GrantStep::Approve | GrantStep::Deny | GrantStep::Revoke
                        )
                    }),
                },
                comment.as_ref(),
                &notify,
                self.mail.is_some(),
                &[e],
            )
            .await
            .or_service("grant")?;
        self.store.grant(id).await.or_service("grant")
    }

    /// Adds a comment to a request's thread; the other side is told.
    pub async fn comment_grant(
        &self,
        asker: Asker<'_>,
        id: &str,
        body: &str,
    ) -> ServiceResult<GrantComment> {
        let (grant, requester, units) = self.grant_for(asker, id, "grant.comment").await?;
        let may = self.abilities(asker.user, &grant, &requester, &units);
        if !may.comment {
            let e = self
                .event(asker.origin, "grant.comment", Outcome::Denied)
                .object("grant", id)
                .reason("not_involved")
                .build();
            return Err(self
                .deny(
                    e,
                    ServiceError::Denied(
                        "Only the requester and the supervisors who decide it comment on a request"
                            .into(),
                    ),
                )
                .await);
        }
        let body = validate_text("body", body, true)?;
        let now = self.clock.now();
        let recipients = if asker.user.id == grant.requester {
            approvers(&requester, &units)
        } else {
            vec![grant.requester]
        };
        let notify: Vec<Notification> = recipients
            .into_iter()
            .map(|u| {
                Notification::new(
                    u,
                    "grant.comment",
                    Some(id),
                    format!(
                        "{} commented on an off-site request",
                        asker.user.display_name
                    ),
                    now,
                )
            })
            .collect();
        let c = GrantComment::new(id, asker.user.id, "comment", body, now);
        let e = self
            .event(asker.origin, "grant.comment", Outcome::Allowed)
            .object("grant", id)
            .build();
        self.store
            .comment_grant(&c, &notify, self.mail.is_some(), &[e])
            .await
            .or_service("grant")?;
        Ok(c)
    }

    /// The asker's own grants, newest first.
    pub async fn my_grants(&self, asker: Asker<'_>) -> ServiceResult<Vec<Grant>> {
        let grants = self
            .store
            .grants_of(asker.user.id)
            .await
            .or_service("grant")?;
        self.list_event(asker, "grant.list").await?;
        Ok(grants)
    }

    /// Requests waiting for the asker's decision (the asker is a supervisor
    /// in the requester's chain of command), oldest first.
    pub async fn approval_queue(&self, asker: Asker<'_>) -> ServiceResult<Vec<Grant>> {
        if !asker.user.roles.contains(Role::Supervisor) {
            return Err(ServiceError::Forbidden("supervisor"));
        }
        let units = self.units_by_id().await?;
        let users: HashMap<UserId, User> = self
            .store
            .list_users()
            .await
            .or_service("user")?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let mut queue: Vec<Grant> = self
            .store
            .open_grants()
            .await
            .or_service("grant")?
            .into_iter()
            .filter(|g| {
                users
                    .get(&g.requester)
                    .is_some_and(|r| may_decide(asker.user, r, &units).is_ok())
            })
            .collect();
        queue.reverse();
        self.list_event(asker, "grant.queue").await?;
        Ok(queue)
    }

    /// Grants the asker approved that are over and not yet reviewed.
    pub async fn grant_reviews(&self, asker: Asker<'_>) -> ServiceResult<Vec<Grant>> {
        let g = self
            .store
            .reviews_for(asker.user.id)
            .await
            .or_service("grant")?;
        self.list_event(asker, "grant.reviews").await?;
        Ok(g)
    }

    /// The approving supervisor marks a grant's review done.
    pub async fn review_grant(&self, asker: Asker<'_>, id: &str) -> ServiceResult<()> {
        let (grant, requester, units) = self.grant_for(asker, id, "grant.review").await?;
        if !self
            .abilities(asker.user, &grant, &requester, &units)
            .review
        {
            return Err(DomainError::invalid(
                "grant",
                "only the approving supervisor reviews a grant, once it is over",
            )
            .into());
        }
        let e = self
            .event(asker.origin, "grant.review", Outcome::Allowed)
            .object("grant", id)
            .build();
        self.store
            .mark_grant(id, GrantMark::Reviewed, self.clock.now(), &[], false, &[e])
            .await
            .or_service("grant")
    }

    // ---- notifications and incidents ----

    pub async fn my_notifications(&self, asker: Asker<'_>) -> ServiceResult<Vec<Notification>> {
        self.store
            .notifications(asker.user.id, 100)
            .await
            .or_service("notification")
    }

    pub async fn read_notification(&self, asker: Asker<'_>, id: &str) -> ServiceResult<()> {
        let e = self
            .event(asker.origin, "notification.read", Outcome::Allowed)
            .object("notification", id)
            .build();
        self.store
            .read_notification(asker.user.id, id, self.clock.now(), &[e])
            .await
            .or_service("notification")
    }

    /// Compliance incidents the asker may see: internal affairs all of
    /// them, a supervisor those of the people in their chain of command.
    /// Reading them is recorded.
    pub async fn incidents(&self, asker: Asker<'_>) -> ServiceResult<Vec<Incident>> {
        let me = asker.user;
        let list = if me.roles.contains(Role::InternalAffairs) {
            self.store
                .incidents(None, 500)
                .await
                .or_service("incident")?
        } else if me.roles.contains(Role::Supervisor) {
            let team: Vec<UserId> = self.team_of(me).await?.iter().map(|u| u.id).collect();
            self.store
                .incidents(Some(&team), 500)
                .await
                .or_service("incident")?
        } else {
            return Err(ServiceError::Forbidden("supervisor or internal_affairs"));
        };
        self.list_event(asker, "incident.list").await?;
        Ok(list)
    }

    // ---- the log keeper's rounds ----

    /// Reminds holders of grants about to end, opens review items for
    /// grants that are over, flags overdue paper files, and sends waiting
    /// e-mail. Each change is audited as the system's.
    pub async fn offsite_round(&self) -> ServiceResult<()> {
        let now = self.clock.now();
        let system = super::audit::Origin::console();
        let mail = self.mail.is_some();
        let soon = now.plus(self.grant_limits.reminder_before);
        for g in self
            .store
            .grants_to_remind(now, soon)
            .await
            .or_service("grant")?
        {
            let n = Notification::new(
                g.requester,
                "grant.ending",
                Some(&g.id),
                format!("Your off-site grant ends at {}", minute(g.ends_at)),
                now,
            );
            let e = self
                .event(&system, "grant.remind", Outcome::Allowed)
                .object("grant", &g.id)
                .build();
            another_server_did_it(
                self.store
                    .mark_grant(&g.id, GrantMark::Reminded, now, &[n], mail, &[e])
                    .await,
            )?;
        }
        for g in self.store.grants_to_review(now).await.or_service("grant")? {
            let Some(approver) = g.decided_by else {
                continue;
            };
            let accesses = self.accesses_under(&g).await?.len();
            let requester = self.user_by_id(g.requester).await?;
            let n = Notification::new(
                approver,
                "grant.review",
                Some(&g.id),
                format!(
                    "Review: the off-site grant you approved for {} is over; {} accesses were made under it",
                    requester.display_name, accesses
                ),
                now,
            );
            let mut notify = vec![n];
            // Past the week's threshold: the officer's supervisors are warned.
            let hours = self.week_hours(g.requester, now).await?;
            if hours > self.weekly_hours_warning {
                let units = self.units_by_id().await?;
                notify.extend(approvers(&requester, &units).into_iter().map(|s| {
                    Notification::new(
                        s,
                        "worklife.warning",
                        Some(&g.requester.to_string()),
                        format!(
                            "{} has worked {hours:.2} hours off duty under grants this week (threshold {:.0})",
                            requester.display_name, self.weekly_hours_warning
                        ),
                        now,
                    )
                }));
            }
            let e = self
                .event(&system, "grant.review_open", Outcome::Allowed)
                .object("grant", &g.id)
                .build();
            another_server_did_it(
                self.store
                    .mark_grant(&g.id, GrantMark::ReviewOpened, now, &notify, mail, &[e])
                    .await,
            )?;
        }
        self.flag_overdue_files(&system, now).await?;
        if let Some(m) = &self.mail {
            m.send_waiting(&self.store).await;
        }
        Ok(())
    }

    // ---- work-life balance ----

    /// When a user acted under their off-duty investigation grants, from
    /// `from` until now.
    async fn access_times(&self, user: UserId, from: Timestamp) -> ServiceResult<Vec<Timestamp>> {
        let now = self.clock.now();
        let grants = self
            .store
            .grants_between(Some(&[user]), from, now.plus(Duration::from_secs(1)))
            .await
            .or_service("grant")?;
        let mut times = Vec::new();
        for g in grants
            .iter()
            .filter(|g| g.kind == GrantKind::OffDutyInvestigation)
        {
            times.extend(
                self.accesses_under(g)
                    .await?
                    .iter()
                    .map(|e| Timestamp::from_micros(e.time_us))
                    .filter(|t| *t >= from),
            );
        }
        Ok(times)
    }

    /// A user's active off-duty hours under grants in the week of `now`.
    async fn week_hours(&self, user: UserId, now: Timestamp) -> ServiceResult<f64> {
        Ok(active_hours(
            &self.access_times(user, week_start(now)).await?,
        ))
    }

    /// Off-duty hours under grants for the asker's team (a supervisor's
    /// chain of command; an officer sees only themselves), the last `weeks`
    /// weeks.
    pub async fn work_life(&self, asker: Asker<'_>, weeks: u32) -> ServiceResult<WorkLifeChart> {
        let weeks = weeks.clamp(1, 26);
        let me = asker.user;
        let team: Vec<User> = if me.roles.contains(Role::Supervisor) {
            self.team_of(me).await?
        } else {
            vec![me.clone()]
        };
        let now = self.clock.now();
        let this_week = week_start(now);
        const WEEK_US: i64 = 7 * 86_400 * 1_000_000;
        let starts: Vec<Timestamp> = (0..weeks as i64)
            .rev()
            .map(|i| Timestamp::from_micros(this_week.as_micros() - i * WEEK_US))
            .collect();
        let mut officers = Vec::new();
        for u in &team {
            let mut times: Vec<Vec<Timestamp>> = vec![vec![]; starts.len()];
            for t in self.access_times(u.id, starts[0]).await? {
                if let Some(i) = starts.iter().rposition(|s| *s <= t) {
                    times[i].push(t);
                }
            }
            let hours: Vec<f64> = times.iter().map(|t| active_hours(t)).collect();
            let warning = hours.last().is_some_and(|h| *h > self.weekly_hours_warning);
            officers.push(WorkLife {
                user: u.id,
                name: u.display_name.clone(),
                hours,
                warning,
            });
        }
        self.list_event(asker, "worklife.read").await?;
        Ok(WorkLifeChart {
            weeks: starts,
            threshold: self.weekly_hours_warning,
            officers,
        })
    }

    // ---- the off-site access report ----

    /// Every grant of a unit's people (or everyone's) whose window overlaps
    /// `[from, to)`, with its use and outcome. For supervisors (their
    /// chain), internal affairs and auditors (everyone). Recorded.
    pub async fn offsite_report(
        &self,
        asker: Asker<'_>,
        unit: Option<UnitId>,
        from: Timestamp,
        to: Timestamp,
    ) -> ServiceResult<Vec<ReportRow>> {
        if to <= from {
            return Err(DomainError::invalid("to", "must be after from").into());
        }
        let me = asker.user;
        let everyone = me.roles.contains(Role::InternalAffairs) || me.roles.contains(Role::Auditor);
        if !everyone && !me.roles.contains(Role::Supervisor) {
            return Err(ServiceError::Forbidden(
                "supervisor, internal_affairs or auditor",
            ));
        }
        let units = self.units_by_id().await?;
        let users = self.store.list_users().await.or_service("user")?;
        let names = self.names_of(&users);
        let in_unit = |u: &User| match unit {
            None => true,
            Some(unit) => u.units.iter().any(|x| {
                let mut cursor = Some(*x);
                while let Some(c) = cursor {
                    if c == unit {
                        return true;
                    }
                    cursor = units.get(&c).and_then(|u| u.parent);
                }
                false
            }),
        };
        let people: Vec<UserId> = users
            .iter()
            .filter(|u| in_unit(u) && (everyone || (u.id != me.id && in_chain(me.id, u, &units))))
            .map(|u| u.id)
            .collect();
        let grants = self
            .store
            .grants_between(Some(&people), from, to)
            .await
            .or_service("grant")?;
        let now = self.clock.now();
        let mut rows = Vec::new();
        for g in grants {
            let events = self.accesses_under(&g).await?;
            let denied = events.iter().filter(|e| e.outcome == "denied").count();
            let mut cases: Vec<String> = self.case_numbers(&g.cases).await?.into_values().collect();
            cases.sort();
            let outcome = match g.status {
                GrantStatus::Revoked => "revoked",
                GrantStatus::Approved if g.in_force(now) => "in force",
                GrantStatus::Approved if now < g.starts_at => "approved, not started",
                GrantStatus::Approved => "expired",
                other => other.as_str(),
            }
            .to_owned();
            rows.push(ReportRow {
                requester: names.get(&g.requester).cloned().unwrap_or_default(),
                approver: g
                    .decided_by
                    .and_then(|u| names.get(&u).cloned())
                    .unwrap_or_else(|| "(self-service)".into()),
                cases,
                accesses: events.len() - denied,
                denied,
                outcome,
                grant: g,
            });
        }
        let e = self
            .event(asker.origin, "report.offsite", Outcome::Allowed)
            .object(
                "unit",
                unit.map_or_else(|| "all".to_owned(), |u| u.to_string()),
            )
            .build();
        self.record(&[e]).await?;
        Ok(rows)
    }
}

/// What a domain refusal says, without its field's name.
fn reason_of(e: DomainError) -> String {
    match e {
        DomainError::Invalid { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// A round's step that another server took first (the conditional update
/// found it done) is not an error.
pub(crate) fn another_server_did_it(
    r: Result<(), precinct_store::StoreError>,
) -> ServiceResult<()> {
    match r {
        Err(precinct_store::StoreError::Conflict(_)) => Ok(()),
        other => other.or_service("grant"),
    }
}

/// The report as CSV (RFC 4180; cells a spreadsheet would run as a formula
/// get a leading `'`).
pub fn report_csv(rows: &[ReportRow]) -> String {
    let mut out = String::new();
    let header = [
        "grant",
        "kind",
        "requester",
        "approver",
        "cases",
        "starts (UTC)",
        "ends (UTC)",
        "may add notes",
        "status",
        "outcome",
        "accesses",
        "denied",
    ];
    precinct_audit::bundle::csv_row(&mut out, header.into_iter());
    for r in rows {
        let g = &r.grant;
        let fields = [
            g.id.clone(),
            g.kind.as_str().to_owned(),
            r.requester.clone(),
            r.approver.clone(),
            r.cases.join(" "),
            g.starts_at.to_string(),
            g.ended_at().to_string(),
            g.may_add_notes.to_string(),
            g.status.as_str().to_owned(),
            r.outcome.clone(),
            r.accesses.to_string(),
            r.denied.to_string(),
        ];
        precinct_audit::bundle::csv_row(&mut out, fields.iter().map(String::as_str));
    }
    out
}

/// The report as a PDF table.
pub fn report_pdf(rows: &[ReportRow], subtitle: &str) -> ServiceResult<Vec<u8>> {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.requester.clone(),
                r.grant.kind.as_str().replace('_', " "),
                r.cases.join(" "),
                minute(r.grant.starts_at),
                minute(r.grant.ended_at()),
                r.approver.clone(),
                r.outcome.clone(),
                format!("{} / {}", r.accesses, r.denied),
            ]
        })
        .collect();
    precinct_audit::bundle::table_pdf(
        "Precinct off-site access report",
        subtitle,
        &[
            ("Officer", 110.0),
            ("Kind", 105.0),
            ("Cases", 120.0),
            ("From (UTC)", 95.0),
            ("To (UTC)", 95.0),
            ("Approved by", 110.0),
            ("Outcome", 75.0),
            ("Used / denied", 60.0),
        ],
        &table,
    )
    .map_err(|_| ServiceError::Unavailable)
}

/// A time to the minute, for people: `2026-12-01 09:30 UTC`.
pub fn minute(t: Timestamp) -> String {
    let s = t.to_string();
    format!("{} {} UTC", &s[..10], &s[11..16])
}
