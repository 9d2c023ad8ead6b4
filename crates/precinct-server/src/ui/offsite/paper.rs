//! `/paper-files`: the records clerk's register of paper case files, the
//! files checked out, and each file's page with its custody history and
//! the check-out and check-in forms. The use-cases check the clerk's role
//! and that a file leaves the premises only under a grant.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use precinct_domain::ids::{CaseId, UserId};
use serde::Deserialize;
use std::collections::HashMap;

use super::{asker, case_numbers, done_flash, names, typed_instant};
use crate::service::ServiceError;
use crate::state::AppState;
use crate::ui::admin::{invalid, parse_id, refused, Choice};
use crate::ui::cases::When;
use crate::ui::page::{not_found, pages, render, see_other, service_error_page, Chrome, Flash};
use crate::ui::session::{ActiveSession, Fields, Posted};

#[derive(Debug, Clone)]
struct FileRow {
    case_id: String,
    number: String,
    location: String,
    holder: String,
    out_since: Option<When>,
    due: Option<When>,
    off_premises: bool,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "offsite/paper_files.html")]
struct PaperFilesPage {
    chrome: Chrome,
    flash: Option<Flash>,
    rows: Vec<FileRow>,
    case_number: String,
    location: String,
}

#[derive(Debug, Clone)]
struct CustodyRow {
    step: &'static str,
    holder: String,
    clerk: String,
    at: When,
    due: Option<When>,
    off_premises: bool,
    grant: Option<String>,
}

#[derive(Template)]
#[template(path = "offsite/paper_file.html")]
struct PaperFilePage {
    chrome: Chrome,
    flash: Option<Flash>,
    file: FileRow,
    custody: Vec<CustodyRow>,
    clerk: bool,
    holders: Vec<Choice>,
    due: String,
    off_premises: bool,
}

pages!(PaperFilesPage, PaperFilePage);

async fn list_page(
    state: &AppState,
    session: &ActiveSession,
    status: StatusCode,
    flash: Option<Flash>,
    draft: (&str, &str),
) -> Response {
    let chrome = session.chrome.at("paper_files");
    let loaded = async {
        let files = state.services.paper_files_out(asker(session)).await?;
        let ids: Vec<CaseId> = files.iter().map(|f| f.case_id).collect();
        let numbers = case_numbers(state, &ids).await?;
        let names = names(state).await?;
        Ok::<_, ServiceError>(
            files
                .iter()
                .map(|f| FileRow {
                    case_id: f.case_id.to_string(),
                    number: numbers.get(&f.case_id).cloned().unwrap_or_default(),
                    location: f.location.clone(),
                    holder: f
                        .holder
                        .and_then(|h| names.get(&h).cloned())
                        .unwrap_or_default(),
                    out_since: f.checked_out_at.map(When::from),
                    due: f.due_at.map(When::from),
                    off_premises: f.off_premises,
                    overdue: f.overdue_flagged,
                })
                .collect(),
        )
    }
    .await;
    match loaded {
        Ok(rows) => render(
            status,
            &PaperFilesPage {
                flash,
                rows,
                case_number: draft.0.to_owned(),
                location: draft.1.to_owned(),
                chrome,
            },
        ),
        Err(e) => service_error_page(state, &chrome, e),
    }
}

/// `GET /paper-files`: the files out, soonest due first.
pub async fn paper_files(
    State(state): State<AppState>,
    session: ActiveSession,
    RawQuery(q): RawQuery,
) -> Response {
    list_page(
        &state,
        &session,
        StatusCode::OK,
        done_flash(q.as_deref()),
        ("", ""),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    case: String,
}

/// The case a number names, for the clerk's forms.
async fn case_of(
    state: &AppState,
    session: &ActiveSession,
    number: &str,
) -> Result<CaseId, ServiceError> {
    let number = number.trim();
    if number.is_empty() {
        return Err(invalid("case", "enter the case number"));
    }
    state
        .services
        .case_by_number_for(asker(session), number, false, "paper_file.find")
        .await
        .map_err(|e| match e {
            ServiceError::NotFound(_) => {
                invalid("case", &format!("no case has the number {number}"))
            }
            ServiceError::Invalid(_) => invalid(
                "case",
                &format!("{number} is not a case number (like 2026-000123)"),
            ),
            e => e,
        })
}

/// `GET /paper-files/find?case=2026-000123`: a file's page by number.
pub async fn find(
    State(state): State<AppState>,
    session: ActiveSession,
    query: Result<Query<FindQuery>, QueryRejection>,
) -> Response {
    let number = query.map(|Query(q)| q.case).unwrap_or_default();
    match case_of(&state, &session, &number).await {
        Ok(id) => see_other(&format!("/paper-files/{id}")),
        Err(e @ ServiceError::Invalid(_)) => {
            let (status, flash) = refused(&state, e);
            list_page(&state, &session, status, flash, (&number, "")).await
        }
        Err(e) => service_error_page(&state, &session.chrome.at("paper_files"), e),
    }
}

/// `POST /paper-files`: takes a case's file into the register.
pub async fn register(
    State(state): State<AppState>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let number = form.get("case").to_owned();
    let location = form.get("location").to_owned();
    let result = async {
        let case = case_of(&state, &session, &number).await?;
        state
            .services
            .register_paper_file(asker(&session), case, &location)
            .await
    }
    .await;
    match result {
        Ok(f) => see_other(&format!("/paper-files/{}?done=registered", f.case_id)),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            list_page(&state, &session, status, flash, (&number, &location)).await
        }
    }
}

async fn file_page(
    state: &AppState,
    session: &ActiveSession,
    case: CaseId,
    status: StatusCode,
    flash: Option<Flash>,
    form: Option<&Fields>,
) -> Response {
    let chrome = session.chrome.at("paper_files");
    let loaded = async {
        let v = state.services.paper_file_view(asker(session), case).await?;
        let users = state.services.active_users().await?;
        let names: HashMap<UserId, String> = state.services.user_names().await?;
        Ok::<_, ServiceError>((v, users, names))
    }
    .await;
    let (v, users, names) = match loaded {
        Ok(x) => x,
        Err(ServiceError::NotFound(_)) => return not_found(&chrome),
        Err(e) => return service_error_page(state, &chrome, e),
    };
    let name = |u: Option<UserId>| u.and_then(|u| names.get(&u).cloned()).unwrap_or_default();
    let f = &v.file;
    let clerk = chrome.records_clerk;
    let chosen = form.map(|f| f.get("holder").to_owned()).unwrap_or_default();
    let mut active = users;
    active.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    let page = PaperFilePage {
        file: FileRow {
            case_id: f.case_id.to_string(),
            number: v.number.clone(),
            location: f.location.clone(),
            holder: name(f.holder),
            out_since: f.checked_out_at.map(When::from),
            due: f.due_at.map(When::from),
            off_premises: f.off_premises,
            overdue: f.overdue_flagged,
        },
        custody: v
            .custody
            .iter()
            .map(|s| CustodyRow {
                step: if s.step == "check_out" {
                    "Checked out"
                } else if s.step == "check_in" {
                    "Checked in"
                } else {
                    "Registered"
                },
                holder: name(s.holder),
                clerk: name(Some(s.clerk)),
                at: When::from(s.at),
                due: s.due_at.map(When::from),
                off_premises: s.off_premises,
                grant: s.grant_id.clone(),
            })
            .rev()
            .collect(),
        clerk,
        holders: active
            .iter()
            .map(|u| {
                let value = u.id.to_string();
                Choice {
                    selected: chosen == value,
                    label: format!("{} ({})", u.display_name, u.username.as_str()),
                    value,
                }
            })
            .collect(),
        due: form.map(|f| f.get("due_at").to_owned()).unwrap_or_default(),
        off_premises: form.is_some_and(|f| f.get("off_premises") == "yes"),
        flash,
        chrome,
    };
    render(status, &page)
}

/// `GET /paper-files/{case}`.
pub async fn paper_file(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(case): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(case) = parse_id::<CaseId>(&case) else {
        return not_found(&session.chrome);
    };
    file_page(
        &state,
        &session,
        case,
        StatusCode::OK,
        done_flash(q.as_deref()),
        None,
    )
    .await
}

/// `POST /paper-files/{case}/check-out`: to a holder, until a due time,
/// on or off the premises.
pub async fn check_out(
    State(state): State<AppState>,
    Path(case): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let Some(case) = parse_id::<CaseId>(&case) else {
        return not_found(&session.chrome);
    };
    let result = async {
        let holder = form
            .opt("holder")
            .and_then(parse_id::<UserId>)
            .ok_or_else(|| invalid("holder", "choose who takes the file"))?;
        let due = typed_instant("due_at", form.get("due_at"))?
            .ok_or_else(|| invalid("due_at", "choose when the file is due back"))?;
        state
            .services
            .check_out_paper_file(
                asker(&session),
                case,
                holder,
                due,
                form.get("off_premises") == "yes",
            )
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/paper-files/{case}?done=checked_out")),
        Err(e @ (ServiceError::NotFound(_) | ServiceError::Unavailable)) => {
            service_error_page(&state, &session.chrome.at("paper_files"), e)
        }
        Err(e) => {
            let (status, flash) = refused(&state, e);
            file_page(&state, &session, case, status, flash, Some(&form)).await
        }
    }
}

/// `POST /paper-files/{case}/check-in`.
pub async fn check_in(
    State(state): State<AppState>,
    Path(case): Path<String>,
    Posted { session, form: _ }: Posted<ActiveSession>,
) -> Response {
    let Some(case) = parse_id::<CaseId>(&case) else {
        return not_found(&session.chrome);
    };
    match state
        .services
        .check_in_paper_file(asker(&session), case)
        .await
    {
        Ok(_) => see_other(&format!("/paper-files/{case}?done=checked_in")),
        Err(e @ (ServiceError::NotFound(_) | ServiceError::Unavailable)) => {
            service_error_page(&state, &session.chrome.at("paper_files"), e)
        }
        Err(e) => {
            let (status, flash) = refused(&state, e);
            file_page(&state, &session, case, status, flash, None).await
        }
    }
}
