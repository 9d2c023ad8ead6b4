//! `/notifications`: the user's notifications, with mark-read; and
//! `/incidents`: compliance incidents for supervisors (their chain of
//! command) and internal affairs (everyone).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{asker, case_numbers, done_flash, names};
use crate::service::ServiceError;
use crate::state::AppState;
use crate::ui::cases::When;
use crate::ui::page::{pages, render, see_other, service_error_page, Chrome, Flash};
use crate::ui::session::{ActiveSession, Posted};

#[derive(Debug, Clone)]
struct NotificationRow {
    id: String,
    message: String,
    at: When,
    read: bool,
    /// Where it leads: the grant, the incidents, the paper file.
    href: Option<String>,
}

#[derive(Template)]
#[template(path = "offsite/notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    flash: Option<Flash>,
    rows: Vec<NotificationRow>,
    unread: usize,
}

#[derive(Debug, Clone)]
struct IncidentRow {
    description: String,
    kind: &'static str,
    user: String,
    at: When,
    audit_event: String,
    case: Option<(String, String)>,
    grant: Option<String>,
}

#[derive(Template)]
#[template(path = "offsite/incidents.html")]
struct IncidentsPage {
    chrome: Chrome,
    flash: Option<Flash>,
    rows: Vec<IncidentRow>,
}

pages!(NotificationsPage, IncidentsPage);

fn link_of(kind: &str, subject: Option<&str>) -> Option<String> {
    let subject = subject?;
    if kind.starts_with("grant") {
        Some(format!("/offsite/grants/{subject}"))
    } else if kind == "incident" {
        Some("/incidents".to_owned())
    } else if kind.starts_with("paper_file") {
        Some(format!("/paper-files/{subject}"))
    } else {
        None
    }
}

/// `GET /notifications`: the latest hundred, newest first.
pub async fn notifications(
    State(state): State<AppState>,
    session: ActiveSession,
    RawQuery(q): RawQuery,
) -> Response {
    let chrome = session.chrome.at("notifications");
    let list = match state.services.my_notifications(asker(&session)).await {
        Ok(l) => l,
        Err(e) => return service_error_page(&state, &chrome, e),
    };
    let rows: Vec<NotificationRow> = list
        .iter()
        .map(|n| NotificationRow {
            id: n.id.clone(),
            message: n.message.clone(),
            at: When::from(n.at),
            read: n.read_at.is_some(),
            href: link_of(&n.kind, n.subject_id.as_deref()),
        })
        .collect();
    let page = NotificationsPage {
        flash: done_flash(q.as_deref()),
        unread: rows.iter().filter(|r| !r.read).count(),
        rows,
        chrome,
    };
    render(StatusCode::OK, &page)
}

/// `POST /notifications/{id}/read`.
pub async fn read_notification(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form: _ }: Posted<ActiveSession>,
) -> Response {
    match state.services.read_notification(asker(&session), &id).await {
        Ok(()) => see_other("/notifications?done=read"),
        Err(e) => service_error_page(&state, &session.chrome.at("notifications"), e),
    }
}

/// `GET /incidents`.
pub async fn incidents(State(state): State<AppState>, session: ActiveSession) -> Response {
    let chrome = session.chrome.at("incidents");
    let loaded = async {
        let list = state.services.incidents(asker(&session)).await?;
        let ids: Vec<_> = list.iter().filter_map(|i| i.case_id).collect();
        let numbers = case_numbers(&state, &ids).await?;
        let names = names(&state).await?;
        Ok::<_, ServiceError>(
            list.iter()
                .map(|i| IncidentRow {
                    description: i.kind.describe().to_owned(),
                    kind: i.kind.as_str(),
                    user: names.get(&i.user).cloned().unwrap_or_default(),
                    at: When::from(i.at),
                    audit_event: i.audit_event_id.clone(),
                    case: i.case_id.map(|c| {
                        (
                            c.to_string(),
                            numbers.get(&c).cloned().unwrap_or_else(|| c.to_string()),
                        )
                    }),
                    grant: i.grant_id.clone(),
                })
                .collect::<Vec<_>>(),
        )
    }
    .await;
    match loaded {
        Ok(rows) => render(
            StatusCode::OK,
            &IncidentsPage {
                flash: None,
                rows,
                chrome,
            },
        ),
        Err(e) => service_error_page(&state, &chrome, e),
    }
}
