//! `/cases/{id}`: one case as the asker may see it (summary, people,
//! documentation with every version, tasks, timeline) with the forms the
//! use-case's abilities allow; the refusal page, with a break-glass form
//! for supervisors; and the case opened by break-glass.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use precinct_domain::case::{Case, Membership, Transition};
use precinct_domain::document::{Document, DocumentKind};
use precinct_domain::ids::{CaseId, UserId};
use precinct_domain::person::PersonRole;
use precinct_domain::Role;
use std::collections::HashMap;

use super::{
    asker, classification_choices, classification_label, done_flash, due_day, status_class, When,
};
use crate::service::cases::{Abilities, CaseView, EntryView, PersonView, ReadFor};
use crate::service::ServiceError;
use crate::state::AppState;
use crate::ui::admin::{parse_id, refused, Choice};
use crate::ui::page::{not_found, pages, render, service_error_page, Chrome, Flash};
use crate::ui::session::{ActiveSession, Fields, Posted};

/// A form on the case page that was refused, with what it held: it opens
/// again filled in, with the message beside it, and nothing was changed.
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    /// `entry`, `amend`, `person`, `status`, `assign` or `task`.
    pub form: &'static str,
    pub message: String,
    pub fields: Fields,
    /// For an amendment: the entry (its current version) it was for.
    pub entry: String,
}

impl Refusal {
    pub fn of(form: &'static str, fields: Fields) -> Self {
        Self {
            form,
            fields,
            ..Self::default()
        }
    }
    /// A field of the refused form, if it is `form`.
    fn get(&self, form: &str, name: &str) -> Option<String> {
        (self.form == form).then(|| self.fields.get(name).to_owned())
    }
}

#[derive(Debug, Clone)]
struct Summary {
    id: String,
    number: String,
    title: String,
    offense: String,
    offense_description: String,
    status: &'static str,
    status_class: &'static str,
    classification: &'static str,
    restricted: bool,
    unit_name: String,
    narrative: String,
    due: String,
    created: When,
    updated: When,
}

#[derive(Debug, Clone)]
struct MemberRow {
    name: String,
    membership: &'static str,
    named: bool,
}

#[derive(Debug, Clone)]
struct PersonRow {
    role: &'static str,
    name: String,
    address: String,
    phone: String,
    date_of_birth: String,
    /// Why the identity is protected (juvenile, ...), in words.
    flags: Vec<&'static str>,
    /// The identity is masked for the asker.
    masked: bool,
}

#[derive(Debug, Clone)]
struct VersionRow {
    label: String,
    title: String,
    body: String,
    author: String,
    at: When,
    current: bool,
}

#[derive(Debug, Clone)]
struct EntryRow {
    id: String,
    kind: &'static str,
    classification: &'static str,
    restricted: bool,
    /// Closed entries show only that they exist.
    open: bool,
    title: String,
    body: String,
    author: String,
    at: When,
    /// Who wrote the original and when, for an amended entry.
    original_author: String,
    original_at: When,
    amended: bool,
    versions: Vec<VersionRow>,
    attachment: Option<AttachmentRow>,
    may_amend: bool,
    /// The amend form: open again after a refusal, filled in.
    amend_open: bool,
    amend_title: String,
    amend_body: String,
    amend_error: String,
}

#[derive(Debug, Clone)]
struct AttachmentRow {
    filename: String,
    media_type: String,
    size: String,
    sha256: String,
}

#[derive(Debug, Clone)]
struct TaskRow {
    id: String,
    title: String,
    assignee: String,
    due: String,
    done: Option<When>,
}

#[derive(Debug, Clone)]
struct TimelineRow {
    at: When,
    actor: String,
    detail: String,
}

/// The add-to-documentation form.
#[derive(Debug, Clone)]
struct EntryForm {
    kinds: Vec<Choice>,
    classifications: Vec<Choice>,
    title: String,
    body: String,
}

#[derive(Debug, Clone)]
struct PersonForm {
    roles: Vec<Choice>,
    juvenile: bool,
    protected_witness: bool,
    confidential_informant: bool,
    name: String,
    address: String,
    phone: String,
    date_of_birth: String,
}

#[derive(Debug, Clone)]
struct StatusForm {
    transitions: Vec<Choice>,
    court_order: String,
}

/// A user on the case in the assignment form.
#[derive(Debug, Clone)]
struct AssignRow {
    id: String,
    name: String,
    lead: bool,
    /// `team`, `shared` or empty (taken off the case).
    access: String,
    named: bool,
}

#[derive(Debug, Clone)]
struct AssignForm {
    leads: Vec<Choice>,
    members: Vec<AssignRow>,
    /// Users not on the case, to add one.
    others: Vec<Choice>,
    add_access: String,
    add_named: bool,
}

#[derive(Debug, Clone)]
struct TaskForm {
    title: String,
    assignees: Vec<Choice>,
    due: String,
}

#[derive(Template)]
#[template(path = "cases/case.html")]
struct CasePage {
    chrome: Chrome,
    flash: Option<Flash>,
    case: Summary,
    members: Vec<MemberRow>,
    people: Vec<PersonRow>,
    entries: Vec<EntryRow>,
    tasks: Vec<TaskRow>,
    timeline: Vec<TimelineRow>,
    may: Abilities,
    break_glass: bool,
    audit_link: String,
    refusal: Refusal,
    entry_form: EntryForm,
    person_form: PersonForm,
    status_form: StatusForm,
    assign_form: AssignForm,
    task_form: TaskForm,
}

#[derive(Template)]
#[template(path = "cases/denied.html")]
struct DeniedPage {
    chrome: Chrome,
    flash: Option<Flash>,
    case_id: String,
    /// The policy's sentence, shown as it is; empty after a refused
    /// break-glass reason (the flash says why).
    message: String,
    /// Supervisors may state a reason and open the case anyway.
    break_glass: bool,
    reason: String,
}

pages!(CasePage, DeniedPage);

/// Names of the users a page mentions; a user the use-case did not name
/// shows as "unknown user" rather than an id.
struct Names<'a>(&'a HashMap<UserId, String>);

impl Names<'_> {
    fn of(&self, u: UserId) -> String {
        self.0
            .get(&u)
            .cloned()
            .unwrap_or_else(|| "unknown user".to_owned())
    }
    /// Users as choices, by name.
    fn choices(&self, selected: Option<&str>, skip: &[UserId]) -> Vec<Choice> {
        let mut list: Vec<(&UserId, &String)> =
            self.0.iter().filter(|(id, _)| !skip.contains(id)).collect();
        list.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
        list.into_iter()
            .map(|(id, name)| {
                let value = id.to_string();
                Choice {
                    selected: selected == Some(value.as_str()),
                    label: name.clone(),
                    value,
                }
            })
            .collect()
    }
}

fn membership_label(m: Membership) -> &'static str {
    match m {
        Membership::Lead => "Lead investigator",
        Membership::Team => "Team",
        Membership::Shared => "Shared with",
    }
}

fn size_label(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} bytes"),
    }
}

fn person_row(p: &PersonView) -> PersonRow {
    let f = p.person.flags;
    let flags = [
        (f.juvenile, "Juvenile"),
        (f.protected_witness, "Protected witness"),
        (f.confidential_informant, "Confidential informant"),
    ]
    .into_iter()
    .filter_map(|(on, label)| on.then_some(label))
    .collect();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    PersonRow {
        role: p.person.role.label(),
        name: p.shown.name.clone(),
        address: opt(&p.shown.address),
        phone: opt(&p.shown.phone),
        date_of_birth: opt(&p.shown.date_of_birth),
        flags,
        masked: p.masked,
    }
}

fn version_row(i: usize, d: &Document, last: usize, names: &Names<'_>) -> VersionRow {
    VersionRow {
        label: if i == 0 {
            "Original".to_owned()
        } else {
            format!("Amendment {i}")
        },
        title: d.title.clone(),
        body: d.body.clone(),
        author: names.of(d.author),
        at: When::from(d.created_at),
        current: i == last,
    }
}

fn entry_row(e: &EntryView, names: &Names<'_>, refusal: &Refusal) -> EntryRow {
    let cur = &e.current;
    let id = cur.id.to_string();
    let restricted = cur.classification == precinct_domain::case::Classification::Restricted;
    let base = EntryRow {
        kind: cur.kind.label(),
        classification: classification_label(cur.classification),
        restricted,
        open: e.open,
        title: String::new(),
        body: String::new(),
        author: String::new(),
        at: When::default(),
        original_author: String::new(),
        original_at: When::default(),
        amended: false,
        versions: vec![],
        attachment: None,
        may_amend: false,
        amend_open: false,
        amend_title: String::new(),
        amend_body: String::new(),
        amend_error: String::new(),
        id: id.clone(),
    };
    // A closed entry carries nothing of its content into the page.
    if !e.open {
        return base;
    }
    let original = e.versions.first().unwrap_or(cur);
    let last = e.versions.len().saturating_sub(1);
    let refused_here = refusal.form == "amend" && refusal.entry == id;
    EntryRow {
        title: cur.title.clone(),
        body: cur.body.clone(),
        author: names.of(cur.author),
        at: When::from(cur.created_at),
        original_author: names.of(original.author),
        original_at: When::from(original.created_at),
        amended: e.versions.len() > 1,
        versions: e
            .versions
            .iter()
            .enumerate()
            .map(|(i, d)| version_row(i, d, last, names))
            .collect(),
        attachment: cur.attachment.as_ref().map(|a| AttachmentRow {
            filename: a.filename.clone(),
            media_type: a.media_type.clone(),
            size: size_label(a.size),
            sha256: a.sha256.clone(),
        }),
        may_amend: e.may_amend && cur.kind != DocumentKind::Attachment,
        amend_open: refused_here,
        amend_title: if refused_here {
            refusal.fields.get("title").to_owned()
        } else {
            cur.title.clone()
        },
        amend_body: if refused_here {
            refusal.fields.get("body").to_owned()
        } else {
            cur.body.clone()
        },
        amend_error: if refused_here {
            refusal.message.clone()
        } else {
            String::new()
        },
        ..base
    }
}

const ENTRY_KINDS: [DocumentKind; 3] = [
    DocumentKind::Report,
    DocumentKind::Supplement,
    DocumentKind::Note,
];

fn entry_form(refusal: &Refusal) -> EntryForm {
    let kind = refusal.get("entry", "kind").unwrap_or_default();
    let classification = refusal.get("entry", "classification").unwrap_or_default();
    EntryForm {
        kinds: ENTRY_KINDS
            .into_iter()
            .map(|k| Choice {
                value: k.as_str().to_owned(),
                label: k.label().to_owned(),
                selected: kind == k.as_str(),
            })
            .collect(),
        classifications: classification_choices(&classification),
        title: refusal.get("entry", "title").unwrap_or_default(),
        body: refusal.get("entry", "body").unwrap_or_default(),
    }
}

fn person_form(refusal: &Refusal) -> PersonForm {
    let role = refusal.get("person", "role").unwrap_or_default();
    let on = |name: &str| refusal.form == "person" && refusal.fields.has(name);
    let text = |name: &str| refusal.get("person", name).unwrap_or_default();
    PersonForm {
        roles: PersonRole::ALL
            .into_iter()
            .map(|r| Choice {
                value: r.as_str().to_owned(),
                label: r.label().to_owned(),
                selected: role == r.as_str(),
            })
            .collect(),
        juvenile: on("juvenile"),
        protected_witness: on("protected_witness"),
        confidential_informant: on("confidential_informant"),
        name: text("name"),
        address: text("address"),
        phone: text("phone"),
        date_of_birth: text("date_of_birth"),
    }
}

/// The moves in the life cycle, in words.
const TRANSITIONS: [(&str, &str); 7] = [
    ("activate", "Activate: work starts"),
    ("suspend", "Suspend: no leads for now"),
    ("resume", "Resume work"),
    ("close", "Close"),
    ("reopen", "Reopen: new information"),
    ("seal", "Seal by court order"),
    ("unseal", "Unseal by court order"),
];

/// Only the moves the case's status allows are offered; the use-case
/// decides again when one is asked for.
fn status_form(case: &Case, refusal: &Refusal) -> StatusForm {
    let selected = refusal.get("status", "transition").unwrap_or_default();
    let possible = |name: &str| {
        Transition::parse(name, Some("court order"))
            .is_ok_and(|t| t.apply(case.status, case.status_before_seal).is_ok())
    };
    StatusForm {
        transitions: TRANSITIONS
            .into_iter()
            .filter(|(name, _)| possible(name))
            .map(|(name, label)| Choice {
                value: name.to_owned(),
                label: label.to_owned(),
                selected: selected == name,
            })
            .collect(),
        court_order: refusal.get("status", "court_order").unwrap_or_default(),
    }
}

fn assign_form(case: &Case, names: &Names<'_>, refusal: &Refusal) -> AssignForm {
    let draft = (refusal.form == "assign").then_some(&refusal.fields);
    let lead = match draft {
        Some(f) => f.get("lead").to_owned(),
        None => case.lead().map(|l| l.to_string()).unwrap_or_default(),
    };
    let members: Vec<UserId> = case.members.iter().map(|m| m.user).collect();
    AssignForm {
        leads: names.choices(Some(lead.as_str()), &[]),
        members: case
            .members
            .iter()
            .map(|m| {
                let id = m.user.to_string();
                let (access, named) = match draft {
                    Some(f) => (
                        f.get(&format!("access-{id}")).to_owned(),
                        f.all("named").any(|n| n == id),
                    ),
                    // The lead stays on the team if another lead is chosen.
                    None => (
                        match m.membership {
                            Membership::Shared => "shared".to_owned(),
                            Membership::Lead | Membership::Team => "team".to_owned(),
                        },
                        m.named,
                    ),
                };
                AssignRow {
                    name: names.of(m.user),
                    lead: m.membership == Membership::Lead,
                    access,
                    named,
                    id,
                }
            })
            .collect(),
        others: names.choices(draft.map(|f| f.get("add_user")), &members),
        add_access: draft.map_or_else(|| "team".to_owned(), |f| f.get("add_access").to_owned()),
        add_named: draft.is_some_and(|f| f.has("add_named")),
    }
}

fn task_form(names: &Names<'_>, refusal: &Refusal) -> TaskForm {
    let assignee = refusal.get("task", "assignee");
    TaskForm {
        title: refusal.get("task", "title").unwrap_or_default(),
        assignees: names.choices(assignee.as_deref(), &[]),
        due: refusal.get("task", "due").unwrap_or_default(),
    }
}

fn page_of(view: &CaseView, chrome: Chrome, flash: Option<Flash>, refusal: Refusal) -> CasePage {
    let c = &view.case;
    let names = Names(&view.names);
    CasePage {
        case: Summary {
            id: c.id.to_string(),
            number: c.number.to_string(),
            title: c.title.clone(),
            offense: c.offense.clone(),
            offense_description: view.offense_description.clone(),
            status: c.status.label(),
            status_class: status_class(c.status),
            classification: classification_label(c.classification),
            restricted: c.classification == precinct_domain::case::Classification::Restricted,
            unit_name: view.unit_name.clone(),
            narrative: c.narrative.clone(),
            due: c.due.map(due_day).unwrap_or_default(),
            created: When::from(c.created_at),
            updated: When::from(c.updated_at),
        },
        members: c
            .members
            .iter()
            .map(|m| MemberRow {
                name: names.of(m.user),
                membership: membership_label(m.membership),
                named: m.named,
            })
            .collect(),
        people: view.people.iter().map(person_row).collect(),
        entries: view
            .entries
            .iter()
            .map(|e| entry_row(e, &names, &refusal))
            .collect(),
        tasks: view
            .tasks
            .iter()
            .map(|t| TaskRow {
                id: t.id.to_string(),
                title: t.title.clone(),
                assignee: t.assignee.map(|a| names.of(a)).unwrap_or_default(),
                due: t.due.map(due_day).unwrap_or_default(),
                done: t.done_at.map(When::from),
            })
            .collect(),
        // Newest first: what happened lately is what one looks for.
        timeline: view
            .timeline
            .iter()
            .rev()
            .map(|t| TimelineRow {
                at: When::from(t.at),
                actor: t.actor.map(|a| names.of(a)).unwrap_or_default(),
                detail: t.detail.clone(),
            })
            .collect(),
        may: view.may,
        break_glass: view.break_glass,
        audit_link: format!("/audit?case={}", c.id),
        entry_form: entry_form(&refusal),
        person_form: person_form(&refusal),
        status_form: status_form(c, &refusal),
        assign_form: assign_form(c, &names, &refusal),
        task_form: task_form(&names, &refusal),
        refusal,
        chrome,
        flash,
    }
}

fn denied_page(
    session: &ActiveSession,
    chrome: Chrome,
    status: StatusCode,
    id: CaseId,
    message: String,
    flash: Option<Flash>,
    reason: String,
) -> Response {
    let page = DeniedPage {
        chrome,
        flash,
        case_id: id.to_string(),
        message,
        break_glass: session.has_role(Role::Supervisor),
        reason,
    };
    render(status, &page)
}

/// Reads the case and renders its page; a refusal is the denied page, a
/// case out of reach the same "not found" as one that does not exist.
pub(super) async fn case_page(
    state: &AppState,
    session: &ActiveSession,
    id: CaseId,
    status: StatusCode,
    flash: Option<Flash>,
    refusal: Refusal,
) -> Response {
    let chrome = session.chrome.at("cases");
    match state
        .services
        .read_case(asker(session), id, None, ReadFor::Page)
        .await
    {
        Ok(view) => render(status, &page_of(&view, chrome, flash, refusal)),
        Err(e) => read_failure(state, session, chrome, id, e),
    }
}

fn read_failure(
    state: &AppState,
    session: &ActiveSession,
    chrome: Chrome,
    id: CaseId,
    e: ServiceError,
) -> Response {
    match e {
        ServiceError::NotFound(_) => not_found(&chrome),
        ServiceError::Denied(message) => denied_page(
            session,
            chrome,
            StatusCode::FORBIDDEN,
            id,
            message,
            None,
            String::new(),
        ),
        e => service_error_page(state, &chrome, e),
    }
}

/// `GET /cases/{id}`.
pub async fn show(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(id) = parse_id::<CaseId>(&id) else {
        return not_found(&session.chrome);
    };
    case_page(
        &state,
        &session,
        id,
        StatusCode::OK,
        done_flash(q.as_deref()),
        Refusal::default(),
    )
    .await
}

/// `POST /cases/{id}/break-glass`: a supervisor opens a case outside
/// need-to-know with a stated reason. The page is the answer to this POST
/// (each opening is one recorded, reviewed read; a later GET is refused
/// again).
pub async fn break_glass(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let chrome = session.chrome.at("cases");
    let Some(id) = parse_id::<CaseId>(&id) else {
        return not_found(&chrome);
    };
    let reason = form.get("reason").to_owned();
    match state
        .services
        .read_case(asker(&session), id, Some(&reason), ReadFor::Page)
        .await
    {
        Ok(view) => render(
            StatusCode::OK,
            &page_of(&view, chrome, None, Refusal::default()),
        ),
        Err(ServiceError::NotFound(_)) => not_found(&chrome),
        // The glass itself was refused: say why; a blank reason (which the
        // use-case treats as no break-glass at all) gets the form again.
        Err(ServiceError::Denied(message)) if !reason.trim().is_empty() => {
            let page = DeniedPage {
                chrome,
                flash: None,
                case_id: id.to_string(),
                message,
                break_glass: false,
                reason: String::new(),
            };
            render(StatusCode::FORBIDDEN, &page)
        }
        Err(ServiceError::Denied(message)) => denied_page(
            &session,
            chrome,
            StatusCode::FORBIDDEN,
            id,
            message,
            None,
            reason,
        ),
        Err(e @ ServiceError::Unavailable) => service_error_page(&state, &chrome, e),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            denied_page(&session, chrome, status, id, String::new(), flash, reason)
        }
    }
}
