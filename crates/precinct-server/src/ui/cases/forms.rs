//! The case page's forms: documentation (add, amend), people, status,
//! assignment and tasks. Each parses the form, calls one use-case and
//! answers with a redirect to the case page; a refusal shows the page
//! again with the form filled in and the use-case's message, having
//! changed nothing.

use axum::extract::{Path, State};
use axum::response::Response;
use precinct_domain::case::Transition;
use precinct_domain::ids::{CaseId, DocumentId, TaskId, UserId};
use precinct_domain::person::PersonFlags;
use precinct_domain::Timestamp;

use super::asker;
use super::case_page::{case_page, Refusal};
use crate::service::auditor::parse_instant;
use crate::service::cases::{Assignment, NewEntry, NewPerson};
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;
use crate::ui::admin::{invalid, parse_id};
use crate::ui::page::{failure, not_found, see_other};
use crate::ui::session::{ActiveSession, Fields, Posted};

/// After a change: back to the case page, at the section that changed.
fn back(case: CaseId, done: &str, section: &str) -> Response {
    see_other(&format!("/cases/{case}?done={done}#{section}"))
}

/// The case page again with the refused form and why.
async fn refused_page(
    state: &AppState,
    session: &ActiveSession,
    case: CaseId,
    mut refusal: Refusal,
    e: ServiceError,
) -> Response {
    let (status, flash) = failure(state, e);
    refusal.message = flash.text.clone();
    case_page(state, session, case, status, Some(flash), refusal).await
}

/// The answer to one of the case page's forms.
async fn answer<T>(
    state: &AppState,
    session: &ActiveSession,
    case: CaseId,
    result: ServiceResult<T>,
    refusal: Refusal,
    done: &str,
    section: &str,
) -> Response {
    match result {
        Ok(_) => back(case, done, section),
        Err(e) => refused_page(state, session, case, refusal, e).await,
    }
}

fn user_id(field: &'static str, v: &str) -> ServiceResult<UserId> {
    v.trim()
        .parse::<UserId>()
        .map_err(|_| invalid(field, "not a valid user"))
}

fn optional_day(field: &'static str, v: Option<&str>) -> ServiceResult<Option<Timestamp>> {
    v.map(|s| parse_instant(field, s, true).map(Timestamp::from_micros))
        .transpose()
        .map_err(ServiceError::from)
}

/// `POST /cases/{id}/entries`: a report, supplement or note.
pub async fn add_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let Some(id) = parse_id::<CaseId>(&id) else {
        return not_found(&session.chrome);
    };
    let result = state
        .services
        .add_entry(
            asker(&session),
            id,
            NewEntry {
                kind: form.get("kind").to_owned(),
                classification: form.opt("classification").map(str::to_owned),
                title: form.get("title").to_owned(),
                body: form.get("body").to_owned(),
            },
        )
        .await;
    let refusal = Refusal::of("entry", form);
    answer(
        &state,
        &session,
        id,
        result,
        refusal,
        "entry_added",
        "documentation",
    )
    .await
}

/// `POST /cases/{id}/entries/{entry}/amend`: a new version of an entry;
/// the one it replaces stays in the history.
pub async fn amend_entry(
    State(state): State<AppState>,
    Path((id, entry)): Path<(String, String)>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let (Some(id), Some(entry)) = (parse_id::<CaseId>(&id), parse_id::<DocumentId>(&entry)) else {
        return not_found(&session.chrome);
    };
    let result = state
        .services
        .amend_entry(asker(&session), entry, form.get("title"), form.get("body"))
        .await;
    match result {
        // The amendment names its case; go there, whatever the address said.
        Ok(doc) => back(doc.case_id, "entry_amended", "documentation"),
        Err(e) => {
            let refusal = Refusal {
                entry: entry.to_string(),
                ..Refusal::of("amend", form)
            };
            refused_page(&state, &session, id, refusal, e).await
        }
    }
}

/// `POST /cases/{id}/people`.
pub async fn add_person(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let Some(id) = parse_id::<CaseId>(&id) else {
        return not_found(&session.chrome);
    };
    let result = state
        .services
        .add_person(
            asker(&session),
            id,
            NewPerson {
                role: form.get("role").to_owned(),
                flags: PersonFlags {
                    juvenile: form.has("juvenile"),
                    protected_witness: form.has("protected_witness"),
                    confidential_informant: form.has("confidential_informant"),
                },
                name: form.get("name").to_owned(),
                address: form.opt("address").map(str::to_owned),
                phone: form.opt("phone").map(str::to_owned),
                date_of_birth: form.opt("date_of_birth").map(str::to_owned),
            },
        )
        .await;
    let refusal = Refusal::of("person", form);
    answer(
        &state,
        &session,
        id,
        result,
        refusal,
        "person_added",
        "people",
    )
    .await
}

/// `POST /cases/{id}/status`: a move in the life cycle; sealing and
/// unsealing name the court order.
pub async fn change_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let Some(id) = parse_id::<CaseId>(&id) else {
        return not_found(&session.chrome);
    };
    let result = match Transition::parse(form.get("transition"), form.opt("court_order")) {
        Ok(t) => state.services.change_status(asker(&session), id, t).await,
        Err(e) => Err(e.into()),
    };
    let refusal = Refusal::of("status", form);
    answer(
        &state,
        &session,
        id,
        result,
        refusal,
        "status_changed",
        "summary",
    )
    .await
}

/// The assignment form: a lead, each current member's access (`team`,
/// `shared`, or empty to take them off), the named users, and one user to
/// add.
fn assignment(f: &Fields) -> ServiceResult<Assignment> {
    let lead = f
        .opt("lead")
        .ok_or_else(|| invalid("lead", "a case needs a lead investigator"))?;
    let mut a = Assignment {
        lead: Some(user_id("lead", lead)?),
        team: vec![],
        shared: vec![],
        named: f
            .all("named")
            .map(|u| user_id("named", u))
            .collect::<ServiceResult<_>>()?,
    };
    let mut add = |user: UserId, access: &str, field: &'static str| {
        match access {
            "team" => a.team.push(user),
            "shared" => a.shared.push(user),
            "" => {}
            _ => return Err(invalid(field, "must be team or shared")),
        }
        Ok(())
    };
    // Each current member's row names them in a `member` field.
    for user in f.all("member") {
        let access = f.get(&format!("access-{}", user.trim()));
        add(user_id("team", user)?, access.trim(), "team")?;
    }
    if let Some(user) = f.opt("add_user") {
        let user = user_id("add_user", user)?;
        add(user, f.get("add_access").trim(), "add_access")?;
        if f.has("add_named") {
            a.named.push(user);
        }
    }
    Ok(a)
}

/// `POST /cases/{id}/assignment`: lead, team and shares (the use-case
/// checks that every user exists and is active).
pub async fn assign(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let Some(id) = parse_id::<CaseId>(&id) else {
        return not_found(&session.chrome);
    };
    let result = match assignment(&form) {
        Ok(a) => state.services.assign(asker(&session), id, a).await,
        Err(e) => Err(e),
    };
    let refusal = Refusal::of("assign", form);
    answer(
        &state,
        &session,
        id,
        result,
        refusal,
        "assignment_saved",
        "summary",
    )
    .await
}

/// `POST /cases/{id}/tasks`.
pub async fn add_task(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let Some(id) = parse_id::<CaseId>(&id) else {
        return not_found(&session.chrome);
    };
    let parsed = form
        .opt("assignee")
        .map(|u| user_id("assignee", u))
        .transpose()
        .and_then(|assignee| Ok((assignee, optional_day("due", form.opt("due"))?)));
    let result = match parsed {
        Ok((assignee, due)) => {
            state
                .services
                .add_task(asker(&session), id, form.get("title"), assignee, due)
                .await
        }
        Err(e) => Err(e),
    };
    let refusal = Refusal::of("task", form);
    answer(&state, &session, id, result, refusal, "task_added", "tasks").await
}

/// `POST /cases/{id}/tasks/{task}/complete`.
pub async fn complete_task(
    State(state): State<AppState>,
    Path((id, task)): Path<(String, String)>,
    Posted { session, form: _ }: Posted<ActiveSession>,
) -> Response {
    let (Some(id), Some(task)) = (parse_id::<CaseId>(&id), parse_id::<TaskId>(&task)) else {
        return not_found(&session.chrome);
    };
    let result = state
        .services
        .complete_task(asker(&session), id, task)
        .await;
    answer(
        &state,
        &session,
        id,
        result,
        Refusal::default(),
        "task_completed",
        "tasks",
    )
    .await
}
