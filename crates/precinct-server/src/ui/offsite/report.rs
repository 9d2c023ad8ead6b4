//! `/offsite/report`: the off-site access report for a period (and a unit),
//! shown as a table with links to the same report as CSV and PDF. The
//! downloads are page routes (the session cookie), since the API's needs a
//! bearer token; both call the same use-case and writers as the API.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use precinct_domain::ids::UnitId;
use precinct_domain::Timestamp;
use serde::Deserialize;

use super::asker;
use crate::service::auditor::parse_instant;
use crate::service::offsite::{minute, report_csv as csv_of, report_pdf as pdf_of, ReportRow};
use crate::service::ServiceError;
use crate::state::AppState;
use crate::ui::admin::{invalid, refused, unit_choices, Choice};
use crate::ui::page::{pages, render, service_error_page, Chrome, Flash};
use crate::ui::session::ActiveSession;

#[derive(Debug, Clone)]
struct Row {
    id: String,
    requester: String,
    kind: &'static str,
    cases: String,
    from: String,
    to: String,
    approver: String,
    outcome: String,
    accesses: usize,
    denied: usize,
}

#[derive(Template)]
#[template(path = "offsite/report.html")]
struct ReportPage {
    chrome: Chrome,
    flash: Option<Flash>,
    from: String,
    to: String,
    units: Vec<Choice>,
    /// None before a period was chosen (or when it was refused).
    rows: Option<Vec<Row>>,
    /// The query string of the downloads.
    query: String,
}

pages!(ReportPage);

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    unit: String,
}

struct Period {
    from: Timestamp,
    to: Timestamp,
    unit: Option<UnitId>,
}

fn period(q: &ReportQuery) -> Result<Period, ServiceError> {
    if q.from.trim().is_empty() || q.to.trim().is_empty() {
        return Err(invalid("from", "choose the first and the last day"));
    }
    let from = Timestamp::from_micros(parse_instant("from", q.from.trim(), false)?);
    // The last day is included: the period ends at the next midnight.
    let to = Timestamp::from_micros(parse_instant("to", q.to.trim(), true)?);
    let unit = match q.unit.trim() {
        "" => None,
        u => Some(
            u.parse::<UnitId>()
                .map_err(|_| invalid("unit", "not a valid unit"))?,
        ),
    };
    Ok(Period { from, to, unit })
}

async fn rows_for(
    state: &AppState,
    session: &ActiveSession,
    q: &ReportQuery,
) -> Result<(Period, Vec<ReportRow>), ServiceError> {
    let p = period(q)?;
    let rows = state
        .services
        .offsite_report(asker(session), p.unit, p.from, p.to)
        .await?;
    Ok((p, rows))
}

/// `GET /offsite/report?from=&to=&unit=`: the form, and the report once a
/// period is chosen.
pub async fn report(
    State(state): State<AppState>,
    session: ActiveSession,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Response {
    let chrome = session.chrome.at("report");
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let units = match state.services.units_by_id().await {
        Ok(u) => u.into_values().collect::<Vec<_>>(),
        Err(e) => return service_error_page(&state, &chrome, e),
    };
    let mut page = ReportPage {
        chrome: chrome.clone(),
        flash: None,
        from: q.from.trim().to_owned(),
        to: q.to.trim().to_owned(),
        units: unit_choices(&units, std::slice::from_ref(&q.unit)),
        rows: None,
        query: format!(
            "from={}&to={}&unit={}",
            urlencoding::encode(q.from.trim()),
            urlencoding::encode(q.to.trim()),
            urlencoding::encode(q.unit.trim())
        ),
    };
    // The empty form is the form, not an error.
    if q.from.is_empty() && q.to.is_empty() {
        return render(StatusCode::OK, &page);
    }
    match rows_for(&state, &session, &q).await {
        Ok((_, rows)) => {
            page.rows = Some(
                rows.iter()
                    .map(|r| Row {
                        id: r.grant.id.clone(),
                        requester: r.requester.clone(),
                        kind: super::kind_label(r.grant.kind),
                        cases: r.cases.join(", "),
                        from: minute(r.grant.starts_at),
                        to: minute(r.grant.ended_at()),
                        approver: r.approver.clone(),
                        outcome: r.outcome.clone(),
                        accesses: r.accesses,
                        denied: r.denied,
                    })
                    .collect(),
            );
            render(StatusCode::OK, &page)
        }
        Err(e @ (ServiceError::Forbidden(_) | ServiceError::Unavailable)) => {
            service_error_page(&state, &chrome, e)
        }
        Err(e) => {
            let (status, flash) = refused(&state, e);
            page.flash = flash;
            render(status, &page)
        }
    }
}

/// `GET /offsite/report.csv?from=&to=&unit=`.
pub async fn report_csv(
    State(state): State<AppState>,
    session: ActiveSession,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    match rows_for(&state, &session, &q).await {
        Ok((_, rows)) => crate::api::download(
            "text/csv; charset=utf-8",
            "offsite-access.csv",
            csv_of(&rows).into_bytes(),
        ),
        Err(e) => service_error_page(&state, &session.chrome.at("report"), e),
    }
}

/// `GET /offsite/report.pdf?from=&to=&unit=`.
pub async fn report_pdf(
    State(state): State<AppState>,
    session: ActiveSession,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let made = async {
        let (p, rows) = rows_for(&state, &session, &q).await?;
        let subtitle = format!(
            "Every off-site grant whose window overlaps {} to {}, with its use and outcome. {} grants.",
            minute(p.from),
            minute(p.to),
            rows.len()
        );
        pdf_of(&rows, &subtitle)
    }
    .await;
    match made {
        Ok(pdf) => crate::api::download("application/pdf", "offsite-access.pdf", pdf),
        Err(e) => service_error_page(&state, &session.chrome.at("report"), e),
    }
}
