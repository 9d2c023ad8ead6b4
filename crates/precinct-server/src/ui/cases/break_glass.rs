//! `/break-glass`: the openings of cases outside need-to-know by people in
//! the asker's chain of command, to review and mark reviewed. The
//! use-case picks whose openings the asker reviews (never their own).

use crate::service::cases::BreakGlassReview;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{asker, done_flash, When};
use crate::state::AppState;
use crate::ui::admin::{row_answer, row_failure};
use crate::ui::page::{pages, render, service_error_page, Chrome, Flash};
use crate::ui::session::{ActiveSession, Posted};

#[derive(Debug, Clone)]
pub struct OpeningRow {
    pub id: String,
    pub at: When,
    pub case_id: String,
    pub user_id: String,
    pub user_name: String,
    pub case_number: String,
    pub reason: String,
    pub audit_event: String,
    /// When it was reviewed, if it was.
    pub reviewed_at: Option<When>,
}

impl From<&BreakGlassReview> for OpeningRow {
    fn from(r: &BreakGlassReview) -> Self {
        let b = &r.opening;
        let case_id = b.case_id.to_string();
        let user_id = b.user.to_string();
        Self {
            id: b.id.clone(),
            at: When::from(b.at),
            user_name: r.user_name.clone(),
            case_number: r.case_number.clone(),
            case_id,
            user_id,
            reason: b.reason.clone(),
            audit_event: b.audit_event_id.clone(),
            reviewed_at: b.reviewed_at.map(When::from),
        }
    }
}

#[derive(Template)]
#[template(path = "cases/break_glass.html")]
struct ReviewsPage {
    chrome: Chrome,
    flash: Option<Flash>,
    csrf: String,
    rows: Vec<OpeningRow>,
    waiting: usize,
}

/// The review cell after "mark reviewed", answered to htmx (with the
/// message, out of band).
#[derive(Template)]
#[template(path = "cases/break_glass_reviewed_fragment.html")]
struct ReviewedFragment {
    flash: Flash,
}

pages!(ReviewsPage);

/// `GET /break-glass`.
pub async fn reviews(
    State(state): State<AppState>,
    session: ActiveSession,
    RawQuery(q): RawQuery,
) -> Response {
    let chrome = session.chrome.at("cases");
    let list = match state.services.break_glass_reviews(asker(&session)).await {
        Ok(l) => l,
        Err(e) => return service_error_page(&state, &chrome, e),
    };
    let rows: Vec<OpeningRow> = list.iter().map(OpeningRow::from).collect();
    let page = ReviewsPage {
        flash: done_flash(q.as_deref()),
        csrf: chrome.csrf.clone(),
        waiting: rows.iter().filter(|r| r.reviewed_at.is_none()).count(),
        rows,
        chrome,
    };
    render(StatusCode::OK, &page)
}

/// `POST /break-glass/{id}/review`: htmx gets the row's new review cell,
/// a plain form a redirect to the list.
pub async fn review_break_glass(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Posted { session, form: _ }: Posted<ActiveSession>,
) -> Response {
    let chrome = session.chrome.at("cases");
    match state
        .services
        .review_break_glass(asker(&session), &id)
        .await
    {
        Ok(()) => row_answer(
            &headers,
            &chrome,
            &ReviewedFragment {
                flash: Flash::ok("The opening was marked reviewed."),
            },
            "/break-glass?done=break_glass_reviewed",
        ),
        Err(e) => row_failure(&state, &headers, &chrome, e),
    }
}
