//! `/offsite`: duty status, my grants and the request form; a grant's page
//! with its thread and the steps the asker may take; the supervisor's
//! approval queue and review items. Who may take which step is the
//! use-case's answer (`GrantDetail.may`); the page offers only those.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use precinct_domain::ids::{CaseId, DeviceId, UserId};
use precinct_domain::offsite::{Grant, GrantKind, GrantRequest, GrantStep};
use precinct_domain::Timestamp;
use std::collections::HashMap;

use super::{
    asker, case_numbers, done_flash, kind_label, local_value, names, status_class, status_label,
    typed_instant,
};
use crate::service::offsite::GrantDetail;
use crate::service::ServiceError;
use crate::state::AppState;
use crate::ui::admin::{invalid, parse_id, refused, Choice};
use crate::ui::cases::When;
use crate::ui::page::{not_found, pages, render, see_other, service_error_page, Chrome, Flash};
use crate::ui::session::{ActiveSession, Fields, Posted};

/// A grant in a list.
#[derive(Debug, Clone)]
pub struct GrantRow {
    pub id: String,
    pub kind: &'static str,
    pub requester: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub in_force: bool,
    pub starts: When,
    pub ends: When,
    pub cases: String,
    pub may_add_notes: bool,
    pub justification: String,
}

impl GrantRow {
    pub fn of(
        g: &Grant,
        now: Timestamp,
        names: &HashMap<UserId, String>,
        numbers: &HashMap<CaseId, String>,
    ) -> Self {
        let in_force = g.in_force(now);
        let mut cases: Vec<&str> = g
            .cases
            .iter()
            .filter_map(|c| numbers.get(c).map(String::as_str))
            .collect();
        cases.sort_unstable();
        Self {
            id: g.id.clone(),
            kind: kind_label(g.kind),
            requester: names.get(&g.requester).cloned().unwrap_or_default(),
            status: if in_force {
                "In force"
            } else {
                status_label(g.status)
            },
            status_class: status_class(g.status, in_force),
            in_force,
            starts: When::from(g.starts_at),
            ends: When::from(g.ended_at()),
            cases: cases.join(", "),
            may_add_notes: g.may_add_notes,
            justification: g.justification.clone(),
        }
    }
}

/// Rows for a list of grants, with names and case numbers.
async fn rows(state: &AppState, list: &[Grant]) -> Result<Vec<GrantRow>, ServiceError> {
    let ids: Vec<CaseId> = list.iter().flat_map(|g| g.cases.iter().copied()).collect();
    let numbers = case_numbers(state, &ids).await?;
    let names = names(state).await?;
    let now = state.services.clock.now();
    Ok(list
        .iter()
        .map(|g| GrantRow::of(g, now, &names, &numbers))
        .collect())
}

/// What the request form had, to fill it in again after a refusal.
#[derive(Debug, Clone, Default)]
struct Draft {
    kind: String,
    justification: String,
    cases: String,
    ends_at: String,
    may_add_notes: bool,
    device: String,
}

impl Draft {
    fn from_form(f: &Fields) -> Self {
        Self {
            kind: f.get("kind").to_owned(),
            justification: f.get("justification").to_owned(),
            cases: f.get("cases").trim().to_owned(),
            ends_at: f.get("ends_at").trim().to_owned(),
            may_add_notes: f.get("access") == "notes",
            device: f.get("device").to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "offsite/index.html")]
struct OffsitePage {
    chrome: Chrome,
    flash: Option<Flash>,
    on_duty: bool,
    /// Clocking in and out works here (a workstation or department device).
    may_clock: bool,
    grants: Vec<GrantRow>,
    draft: Draft,
    devices: Vec<Choice>,
    /// The earliest end a `datetime-local` field offers: now.
    min_end: String,
}

#[derive(Debug, Clone)]
struct Comment {
    author: String,
    step: &'static str,
    body: String,
    at: When,
}

#[derive(Debug, Clone)]
struct Access {
    at: When,
    action: String,
    object: String,
    /// The case page, when the object is a case.
    href: Option<String>,
    outcome: String,
}

#[derive(Template)]
#[template(path = "offsite/grant.html")]
struct GrantPage {
    chrome: Chrome,
    flash: Option<Flash>,
    grant: GrantRow,
    case_links: Vec<(String, String)>,
    own: bool,
    device: String,
    decided_by: String,
    decided: Option<When>,
    decision_note: String,
    reviewed: Option<When>,
    thread: Vec<Comment>,
    may_decide: bool,
    may_answer: bool,
    may_withdraw: bool,
    may_revoke: bool,
    may_comment: bool,
    may_review: bool,
    accesses: Option<Vec<Access>>,
    /// What a refused step's note said, to fill it in again.
    note: String,
    /// The step that was refused (its form is shown open).
    failed: String,
}

#[derive(Template)]
#[template(path = "offsite/queue.html")]
struct QueuePage {
    chrome: Chrome,
    flash: Option<Flash>,
    queue: Vec<GrantRow>,
    reviews: Vec<GrantRow>,
}

pages!(OffsitePage, GrantPage, QueuePage);

async fn offsite_page(
    state: &AppState,
    session: &ActiveSession,
    status: StatusCode,
    flash: Option<Flash>,
    draft: Draft,
) -> Response {
    let chrome = session.chrome.at("offsite");
    let list = match state.services.my_grants(asker(session)).await {
        Ok(l) => l,
        Err(e) => return service_error_page(state, &chrome, e),
    };
    let grants = match rows(state, &list).await {
        Ok(r) => r,
        Err(e) => return service_error_page(state, &chrome, e),
    };
    // The department devices a request may name: enrolled, not revoked,
    // and assigned to the requester (or to nobody).
    let me = session.auth.user.user.id;
    let devices = match state.services.devices_for_request(asker(session)).await {
        Ok(list) => list
            .into_iter()
            .map(|d| {
                let value = d.id.to_string();
                Choice {
                    selected: draft.device == value
                        || (draft.device.is_empty() && d.assigned_user_id == Some(me)),
                    label: format!("{} ({})", d.name, d.kind.as_str()),
                    value,
                }
            })
            .collect(),
        Err(e) => return service_error_page(state, &chrome, e),
    };
    let page = OffsitePage {
        flash,
        on_duty: session.auth.user.user.on_duty,
        may_clock: matches!(
            session.origin.channel.as_str(),
            "workstation" | "department_device"
        ),
        grants,
        draft,
        devices,
        min_end: local_value(state.services.clock.now()),
        chrome,
    };
    render(status, &page)
}

/// `GET /offsite`.
pub async fn index(
    State(state): State<AppState>,
    session: ActiveSession,
    RawQuery(q): RawQuery,
) -> Response {
    let draft = Draft {
        kind: GrantKind::OffDutyInvestigation.as_str().into(),
        ..Draft::default()
    };
    offsite_page(
        &state,
        &session,
        StatusCode::OK,
        done_flash(q.as_deref()),
        draft,
    )
    .await
}

/// `POST /offsite/duty`: clocks in (`on_duty=yes`) or out.
pub async fn clock(
    State(state): State<AppState>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let on = form.get("on_duty") == "yes";
    match state.services.clock(asker(&session), on).await {
        Ok(()) => see_other(if on {
            "/offsite?done=clocked_in"
        } else {
            "/offsite?done=clocked_out"
        }),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            let draft = Draft {
                kind: GrantKind::OffDutyInvestigation.as_str().into(),
                ..Draft::default()
            };
            offsite_page(&state, &session, status, flash, draft).await
        }
    }
}

/// The case numbers a request names, as ids (each looked up as the asker;
/// an unknown one is refused and recorded like any unknown case).
async fn resolve_cases(
    state: &AppState,
    session: &ActiveSession,
    list: &str,
) -> Result<Vec<CaseId>, ServiceError> {
    let mut ids = Vec::new();
    for n in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match state
            .services
            .case_by_number_for(asker(session), n, true, "grant.request")
            .await
        {
            Ok(id) => ids.push(id),
            Err(ServiceError::NotFound(_)) => {
                return Err(invalid(
                    "cases",
                    &format!("{n}: no case of yours has this number"),
                ))
            }
            Err(ServiceError::Invalid(_)) => {
                return Err(invalid(
                    "cases",
                    &format!("{n} is not a case number (like 2026-000123)"),
                ))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(ids)
}

/// `POST /offsite/grants`: files a request and shows it.
pub async fn request(
    State(state): State<AppState>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let draft = Draft::from_form(&form);
    let result = async {
        let ends_at = typed_instant("ends_at", &draft.ends_at)?
            .ok_or_else(|| invalid("ends_at", "choose when the window ends"))?;
        let cases = resolve_cases(&state, &session, &draft.cases).await?;
        // The select starts on the requester's own device; an
        // administrative task names none, so the choice does not count.
        let device = match form
            .opt("device")
            .filter(|_| draft.kind != "administrative")
        {
            Some(d) => Some(
                parse_id::<DeviceId>(d).ok_or_else(|| invalid("device", "not a valid device"))?,
            ),
            None => None,
        };
        let request = GrantRequest {
            kind: draft.kind.clone(),
            justification: draft.justification.clone(),
            cases,
            documents: vec![],
            starts_at: None,
            ends_at,
            may_add_notes: draft.may_add_notes,
            device,
        };
        state
            .services
            .request_grant(asker(&session), request)
            .await
            .map_err(|e| match e {
                ServiceError::NotFound("case") => {
                    invalid("cases", "you may request only cases you work on")
                }
                e => e,
            })
    }
    .await;
    match result {
        Ok(g) if g.kind == GrantKind::Administrative => {
            see_other(&format!("/offsite/grants/{}?done=administrative", g.id))
        }
        Ok(g) => see_other(&format!("/offsite/grants/{}?done=requested", g.id)),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            offsite_page(&state, &session, status, flash, draft).await
        }
    }
}

fn step_label(step: &str) -> &'static str {
    match step {
        "request" => "Request",
        "approve" => "Approved",
        "deny" => "Denied",
        "ask_info" => "Question",
        "answer" => "Answer",
        "withdraw" => "Withdrawn",
        "revoke" => "Revoked",
        _ => "Comment",
    }
}

fn grant_page(
    d: &GrantDetail,
    session: &ActiveSession,
    now: Timestamp,
    flash: Option<Flash>,
    failed: (&str, &str),
) -> GrantPage {
    let g = &d.grant;
    let name = |u: &UserId| d.names.get(u).cloned().unwrap_or_default();
    let mut case_links: Vec<(String, String)> = g
        .cases
        .iter()
        .map(|c| {
            (
                c.to_string(),
                d.case_numbers
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| c.to_string()),
            )
        })
        .collect();
    case_links.sort_by(|a, b| a.1.cmp(&b.1));
    GrantPage {
        chrome: session.chrome.at("offsite"),
        flash,
        grant: GrantRow::of(g, now, &d.names, &d.case_numbers),
        case_links,
        own: g.requester == session.auth.user.user.id,
        device: g.device.map(|d| d.to_string()).unwrap_or_default(),
        decided_by: g.decided_by.as_ref().map(name).unwrap_or_default(),
        decided: g.decided_at.map(When::from),
        decision_note: g.decision_note.clone().unwrap_or_default(),
        reviewed: g.reviewed_at.map(When::from),
        thread: d
            .comments
            .iter()
            .map(|c| Comment {
                author: name(&c.author),
                step: step_label(&c.step),
                body: c.body.clone(),
                at: When::from(c.at),
            })
            .collect(),
        may_decide: d.may.decide,
        may_answer: d.may.answer,
        may_withdraw: d.may.withdraw,
        may_revoke: d.may.revoke,
        may_comment: d.may.comment,
        may_review: d.may.review,
        accesses: d.accesses.as_ref().map(|list| {
            list.iter()
                .map(|e| {
                    // A case by its number, as the grant names it.
                    let number = e
                        .object_id
                        .as_deref()
                        .and_then(|id| id.parse::<CaseId>().ok())
                        .and_then(|c| d.case_numbers.get(&c));
                    let object = match (&e.object_type, &e.object_id) {
                        (Some(t), Some(_)) if t == "case" && number.is_some() => {
                            format!("case {}", number.map_or("", String::as_str))
                        }
                        (Some(t), Some(id)) => format!("{t} {id}"),
                        (Some(t), None) => t.clone(),
                        _ => String::new(),
                    };
                    Access {
                        at: When::from(Timestamp::from_micros(e.time_us)),
                        action: e.action.clone(),
                        href: (e.object_type.as_deref() == Some("case"))
                            .then(|| e.object_id.as_ref().map(|id| format!("/cases/{id}")))
                            .flatten(),
                        object,
                        outcome: e.outcome.clone(),
                    }
                })
                .collect()
        }),
        failed: failed.0.to_owned(),
        note: failed.1.to_owned(),
    }
}

/// The grant's page, or the error page if it cannot be read.
async fn show_grant(
    state: &AppState,
    session: &ActiveSession,
    id: &str,
    status: StatusCode,
    flash: Option<Flash>,
    failed: (&str, &str),
) -> Response {
    let chrome = session.chrome.at("offsite");
    match state.services.grant_detail(asker(session), id).await {
        Ok(d) => {
            let mut page = grant_page(&d, session, state.services.clock.now(), flash, failed);
            // The device by its name, as its holder knows it.
            if let Some(device) = d.grant.device {
                match state.services.device_label(device).await {
                    Ok(Some(label)) => page.device = label,
                    Ok(None) => {}
                    Err(e) => return service_error_page(state, &chrome, e),
                }
            }
            render(status, &page)
        }
        Err(ServiceError::NotFound(_)) => not_found(&chrome),
        Err(e) => service_error_page(state, &chrome, e),
    }
}

/// `GET /offsite/grants/{id}`.
pub async fn grant(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    show_grant(
        &state,
        &session,
        &id,
        StatusCode::OK,
        done_flash(q.as_deref()),
        ("", ""),
    )
    .await
}

/// A step, comment or review was refused: the grant's page again, with
/// the message and what was typed; a grant the asker may not see is the
/// error page.
async fn step_refused(
    state: &AppState,
    session: &ActiveSession,
    id: &str,
    e: ServiceError,
    failed: (&str, &str),
) -> Response {
    match e {
        e @ (ServiceError::NotFound(_) | ServiceError::Unavailable) => {
            service_error_page(state, &session.chrome.at("offsite"), e)
        }
        e => {
            let (status, flash) = refused(state, e);
            show_grant(state, session, id, status, flash, failed).await
        }
    }
}

/// `POST /offsite/grants/{id}/steps`: approve, deny, ask, answer,
/// withdraw or revoke, with the note the step carries.
pub async fn step(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let name = form.get("step").to_owned();
    let note = form.get("note").to_owned();
    let result = match GrantStep::parse(&name) {
        Ok(step) => state
            .services
            .step_grant(asker(&session), &id, step, Some(&note))
            .await
            .map(|_| step),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(step) => see_other(&format!("/offsite/grants/{id}?done={}", step.as_str())),
        Err(e) => step_refused(&state, &session, &id, e, (&name, &note)).await,
    }
}

/// `POST /offsite/grants/{id}/comments`.
pub async fn comment(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let body = form.get("body").to_owned();
    match state
        .services
        .comment_grant(asker(&session), &id, &body)
        .await
    {
        Ok(_) => see_other(&format!("/offsite/grants/{id}?done=commented")),
        Err(e) => step_refused(&state, &session, &id, e, ("comment", &body)).await,
    }
}

/// `POST /offsite/grants/{id}/review`: the approving supervisor's review.
pub async fn review(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form: _ }: Posted<ActiveSession>,
) -> Response {
    match state.services.review_grant(asker(&session), &id).await {
        Ok(()) => see_other(&format!("/offsite/grants/{id}?done=reviewed")),
        Err(e) => step_refused(&state, &session, &id, e, ("review", "")).await,
    }
}

/// `GET /offsite/queue`: requests waiting for the asker's decision, and
/// grants the asker approved that are over and wait for review.
pub async fn queue(
    State(state): State<AppState>,
    session: ActiveSession,
    RawQuery(q): RawQuery,
) -> Response {
    let chrome = session.chrome.at("queue");
    let lists = async {
        let queue = state.services.approval_queue(asker(&session)).await?;
        let reviews = state.services.grant_reviews(asker(&session)).await?;
        Ok::<_, ServiceError>((rows(&state, &queue).await?, rows(&state, &reviews).await?))
    }
    .await;
    match lists {
        Ok((queue, reviews)) => {
            let page = QueuePage {
                flash: done_flash(q.as_deref()),
                queue,
                reviews,
                chrome,
            };
            render(StatusCode::OK, &page)
        }
        Err(e) => service_error_page(&state, &chrome, e),
    }
}
