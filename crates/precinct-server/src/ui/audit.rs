//! `/audit`: the auditor's pages. A search of the trail (a GET form, so the
//! address can be bookmarked and nothing changes), one event with its
//! inclusion proof checked on the server, the latest checkpoints, and the
//! results as CSV. The use-cases check the auditor role (others get the
//! 403 page) and record every read.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use precinct_audit::event::AuditEvent;
use precinct_audit::time_rfc3339;
use precinct_store::StoredCheckpoint;
use serde::Deserialize;

use super::admin::Choice;
use super::page::{
    error_page, failure, not_found, pages, render, service_error_page, Chrome, Flash,
};
use super::session::ActiveSession;
use crate::problem::Problem;
use crate::service::auditor::{page_offset, AuditPage, AuditQuery, AuditSearch, DEFAULT_PAGE};
use crate::service::ServiceError;
use crate::state::AppState;

/// How many of the latest checkpoints the search page lists.
const CHECKPOINTS_SHOWN: usize = 10;

/// The search form's fields as typed; refilled into the form.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    case: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    offset: String,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl SearchForm {
    fn query(&self) -> AuditQuery {
        AuditQuery {
            user: some(&self.user),
            case: some(&self.case),
            action: some(&self.action),
            outcome: some(&self.outcome),
            from: some(&self.from),
            to: some(&self.to),
        }
    }

    fn offset(&self) -> Result<u64, ServiceError> {
        let n = match some(&self.offset) {
            None => None,
            Some(s) => Some(s.parse::<u64>().map_err(|_| {
                ServiceError::Invalid(precinct_domain::DomainError::invalid(
                    "offset",
                    "must be a whole number",
                ))
            })?),
        };
        Ok(page_offset(n)?)
    }

    /// The filters as a query string (no offset), for links that keep them.
    fn filters(&self) -> String {
        [
            ("user", &self.user),
            ("case", &self.case),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", urlencoding::encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// `2026-12-01 08:00:00`: the second is enough in a table; the full time
/// is in the cell's `datetime`.
fn short_time(us: i64) -> String {
    let full = time_rfc3339(us);
    full.get(..19)
        .map_or(full.clone(), |s| s.replacen('T', " ", 1))
}

fn outcome_class(outcome: &str) -> &'static str {
    match outcome {
        "allowed" => "tag-ok",
        "denied" => "tag-off",
        _ => "tag-warn",
    }
}

fn channel_label(channel: &str) -> &str {
    match channel {
        "workstation" => "Workstation",
        "department_device" => "Department device",
        "offsite" => "Off-site",
        "console" => "Console",
        other => other,
    }
}

/// `d19621f7…` for an id or hash (hex and dashes): enough to tell rows
/// apart; the event's page shows it whole. Other ids stay as they are.
fn short_id(id: &str) -> String {
    let opaque = id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if opaque && id.len() > 12 {
        format!("{}…", id.get(..8).unwrap_or(id))
    } else {
        id.to_owned()
    }
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: String,
    pub time: String,
    pub time_full: String,
    pub actor: String,
    pub channel: String,
    pub action: String,
    pub object_type: String,
    /// The object's id, shortened for the table; `object_id` in full.
    pub object_short: String,
    pub object_id: String,
    pub outcome: String,
    pub outcome_class: &'static str,
    pub reason: String,
    /// The log position.
    pub seq: u64,
}

impl EventRow {
    fn new(seq: u64, e: &AuditEvent) -> Self {
        Self {
            id: e.id.clone(),
            time: short_time(e.time_us),
            time_full: time_rfc3339(e.time_us),
            actor: opt(&e.actor_name),
            channel: channel_label(&e.channel).to_owned(),
            action: e.action.clone(),
            object_type: opt(&e.object_type),
            object_short: short_id(&opt(&e.object_id)),
            object_id: opt(&e.object_id),
            outcome: e.outcome.clone(),
            outcome_class: outcome_class(&e.outcome),
            reason: opt(&e.reason),
            seq,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CheckpointRow {
    pub size: u64,
    pub root: String,
    pub signed_at: String,
}

impl From<&StoredCheckpoint> for CheckpointRow {
    fn from(c: &StoredCheckpoint) -> Self {
        Self {
            size: c.size,
            root: hex::encode(&c.root),
            signed_at: short_time(c.signed_at),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPageView {
    chrome: Chrome,
    flash: Option<Flash>,
    form: SearchForm,
    outcomes: Vec<Choice>,
    /// None when the search was refused (the message says why).
    rows: Option<Vec<EventRow>>,
    first: u64,
    last: u64,
    previous: Option<String>,
    next: Option<String>,
    csv: String,
    checkpoints: Vec<CheckpointRow>,
    checkpoint_count: usize,
    verifier_key: String,
}

#[derive(Template)]
#[template(path = "audit_event.html")]
struct EventPageView {
    chrome: Chrome,
    flash: Option<Flash>,
    event: AuditEvent,
    time: String,
    seq: u64,
    leaf_hash: String,
    tree_size: u64,
    root: String,
    proof: Vec<String>,
    note: String,
    verifier_key: String,
    verified: bool,
    /// The checkpoint asked for, refilled into its field.
    asked: String,
}

pages!(AuditPageView, EventPageView);

fn outcome_choices(selected: &str) -> Vec<Choice> {
    [
        ("", "Any"),
        ("allowed", "Allowed"),
        ("denied", "Denied"),
        ("failed", "Failed"),
    ]
    .into_iter()
    .map(|(value, label)| Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected: selected == value,
    })
    .collect()
}

fn bad_address() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        "The address is not valid",
    )
    .with_detail("Go back to the audit page and search again.")
}

/// `GET /audit`: the search form, a page of results and the latest
/// checkpoints.
pub async fn search(
    State(state): State<AppState>,
    session: ActiveSession,
    query: Result<Query<SearchForm>, QueryRejection>,
) -> Response {
    let chrome = session.chrome.at("audit");
    let Ok(Query(form)) = query else {
        return error_page(&chrome, &bad_address());
    };
    // The checkpoints first: this also refuses (and records) non-auditors
    // before anything about their search is looked at. A case's own trail
    // (the case page's audit tab) is decided by the search itself, which
    // opens it to the case's supervisors; they see no checkpoints.
    let case_tab =
        !session.has_role(precinct_domain::Role::Auditor) && !form.case.trim().is_empty();
    let cps = if case_tab {
        crate::service::auditor::AuditCheckpoints {
            checkpoints: vec![],
            verifier_key: String::new(),
        }
    } else {
        match state.services.audit_checkpoints(session.actor()).await {
            Ok(c) => c,
            Err(e) => return service_error_page(&state, &chrome, e),
        }
    };
    let parsed: Result<(AuditSearch, u64), ServiceError> = form
        .query()
        .parse()
        .map_err(ServiceError::from)
        .and_then(|s| Ok((s, form.offset()?)));
    let (status, flash, page) = match parsed {
        // A search that cannot be run is a bad request, as over the API.
        Err(e) => {
            let (_, flash) = failure(&state, e);
            (StatusCode::BAD_REQUEST, Some(flash), None)
        }
        Ok((search, offset)) => match state
            .services
            .search_audit(session.actor(), &search, DEFAULT_PAGE, offset)
            .await
        {
            Ok(page) => (StatusCode::OK, None, Some(page)),
            Err(e @ ServiceError::Unavailable) => return service_error_page(&state, &chrome, e),
            Err(e) => {
                let (status, flash) = failure(&state, e);
                (status, Some(flash), None)
            }
        },
    };
    let filters = form.filters();
    let link = |offset: u64| {
        let mut q = filters.clone();
        if offset > 0 {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(&format!("offset={offset}"));
        }
        if q.is_empty() {
            "/audit".to_owned()
        } else {
            format!("/audit?{q}")
        }
    };
    let (rows, first, last, previous, next) = match &page {
        None => (None, 0, 0, None, None),
        Some(AuditPage {
            events,
            limit,
            offset,
            more,
        }) => (
            Some(
                events
                    .iter()
                    .map(|(seq, e)| EventRow::new(*seq, e))
                    .collect::<Vec<_>>(),
            ),
            offset + 1,
            offset + events.len() as u64,
            (*offset > 0).then(|| link(offset.saturating_sub(*limit))),
            more.then(|| link(offset + limit)),
        ),
    };
    let view = AuditPageView {
        flash,
        outcomes: outcome_choices(form.outcome.trim()),
        rows,
        first,
        last,
        previous,
        next,
        csv: if filters.is_empty() {
            "/audit/events.csv".to_owned()
        } else {
            format!("/audit/events.csv?{filters}")
        },
        checkpoint_count: cps.checkpoints.len(),
        checkpoints: cps
            .checkpoints
            .iter()
            .rev()
            .take(CHECKPOINTS_SHOWN)
            .map(CheckpointRow::from)
            .collect(),
        verifier_key: cps.verifier_key,
        form,
        chrome,
    };
    render(status, &view)
}

#[derive(Debug, Default, Deserialize)]
pub struct ProofForm {
    #[serde(default)]
    checkpoint: String,
}

/// `GET /audit/events/{id}`: one event, its inclusion proof and the
/// checkpoint it verifies against.
pub async fn event(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<String>,
    query: Result<Query<ProofForm>, QueryRejection>,
) -> Response {
    let chrome = session.chrome.at("audit");
    let Ok(Query(form)) = query else {
        return error_page(&chrome, &bad_address());
    };
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return not_found(&chrome);
    };
    let asked = form.checkpoint.trim().to_owned();
    let checkpoint = if asked.is_empty() {
        None
    } else {
        match asked.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return error_page(&chrome, &bad_address()),
        }
    };
    let a = match state
        .services
        .audit_event_proof(session.actor(), &id.to_string(), checkpoint)
        .await
    {
        Ok(a) => a,
        Err(ServiceError::NotFound(what)) => {
            return error_page(
                &chrome,
                &Problem::not_found().with_detail(format!(
                    "No {what}: check the event, or choose a checkpoint that includes it."
                )),
            )
        }
        Err(e) => return service_error_page(&state, &chrome, e),
    };
    let p = a.proof;
    let view = EventPageView {
        flash: None,
        time: time_rfc3339(p.event.time_us),
        seq: p.seq,
        leaf_hash: hex::encode(p.event.leaf_hash()),
        tree_size: p.checkpoint.size,
        root: hex::encode(&p.checkpoint.root),
        proof: p.proof.iter().map(hex::encode).collect(),
        note: p.checkpoint.note,
        verifier_key: a.verifier_key,
        verified: a.verified,
        event: p.event,
        asked,
        chrome,
    };
    render(StatusCode::OK, &view)
}

/// `GET /audit/events.csv`: the search's events (all pages) as a download.
pub async fn csv(
    State(state): State<AppState>,
    session: ActiveSession,
    query: Result<Query<SearchForm>, QueryRejection>,
) -> Response {
    let chrome = session.chrome.at("audit");
    let Ok(Query(form)) = query else {
        return error_page(&chrome, &bad_address());
    };
    let search = match form.query().parse() {
        Ok(s) => s,
        Err(e) => {
            return error_page(
                &chrome,
                &Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "The search is not valid",
                )
                .with_detail(e.to_string()),
            )
        }
    };
    match state.services.audit_csv(session.actor(), &search).await {
        Ok(csv) => crate::api::download(
            "text/csv; charset=utf-8",
            "audit-events.csv",
            csv.into_bytes(),
        ),
        Err(e) => service_error_page(&state, &chrome, e),
    }
}
