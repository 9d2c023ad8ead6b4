//! `/admin/workstations`: the designated workstations, adding one, binding
//! its client certificate, and enabling or disabling it.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ipnet::IpNet;
use precinct_domain::ids::{UnitId, WorkstationId};
use precinct_domain::Fingerprint;
use precinct_store::WorkstationRecord;

use super::{
    invalid, load_failure, parse_id, refused, row_answer, row_failure, short_fingerprint,
    unit_choices, Choice,
};
use crate::service::ServiceError;
use crate::state::AppState;
use crate::ui::page::{done_flash, not_found, pages, render, see_other, Chrome, Flash};
use crate::ui::session::{ActiveSession, Fields, Posted};

#[derive(Debug, Clone)]
pub struct WorkstationRow {
    pub id: String,
    pub name: String,
    pub unit_name: String,
    pub fingerprint: String,
    pub fingerprint_short: String,
    pub networks: String,
    pub enabled: bool,
}

impl From<&WorkstationRecord> for WorkstationRow {
    fn from(w: &WorkstationRecord) -> Self {
        let fingerprint = w.fingerprint.clone().unwrap_or_default();
        Self {
            id: w.id.to_string(),
            name: w.name.clone(),
            unit_name: w.unit_name.clone(),
            fingerprint_short: short_fingerprint(&fingerprint),
            fingerprint,
            networks: w
                .networks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            enabled: w.enabled,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Draft {
    name: String,
    unit: String,
    networks: String,
    workstation: String,
    fingerprint: String,
}

impl Draft {
    fn from_form(f: &Fields) -> Self {
        Self {
            name: f.get("name").trim().to_owned(),
            unit: f.get("unit").to_owned(),
            networks: f.get("networks").trim().to_owned(),
            workstation: f.get("workstation").to_owned(),
            fingerprint: f.get("fingerprint").trim().to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/workstations.html")]
struct WorkstationsPage {
    chrome: Chrome,
    csrf: String,
    flash: Option<Flash>,
    rows: Vec<WorkstationRow>,
    units: Vec<Choice>,
    workstations: Vec<Choice>,
    draft_name: String,
    draft_networks: String,
    draft_fingerprint: String,
}

#[derive(Template)]
#[template(path = "admin/workstation_row_fragment.html")]
struct WorkstationRowFragment {
    csrf: String,
    row: WorkstationRow,
    flash: Flash,
}

pages!(WorkstationsPage);

async fn workstations_page(
    state: &AppState,
    session: &ActiveSession,
    status: StatusCode,
    flash: Option<Flash>,
    draft: Draft,
) -> Response {
    let actor = session.actor();
    let list = match state.services.list_workstations(actor).await {
        Ok(w) => w,
        Err(e) => return load_failure(state, &session.chrome, e),
    };
    let units = match state.services.list_units(actor).await {
        Ok(u) => u,
        Err(e) => return load_failure(state, &session.chrome, e),
    };
    let mut rows: Vec<WorkstationRow> = list.iter().map(WorkstationRow::from).collect();
    rows.sort_by(|a, b| (&a.unit_name, &a.name).cmp(&(&b.unit_name, &b.name)));
    let workstations = rows
        .iter()
        .map(|r| Choice {
            value: r.id.clone(),
            label: format!("{} — {}", r.name, r.unit_name),
            selected: r.id == draft.workstation,
        })
        .collect();
    let page = WorkstationsPage {
        chrome: session.chrome.at("workstations"),
        csrf: session.chrome.csrf.clone(),
        flash,
        rows,
        units: unit_choices(&units, std::slice::from_ref(&draft.unit)),
        workstations,
        draft_name: draft.name,
        draft_networks: draft.networks,
        draft_fingerprint: draft.fingerprint,
    };
    render(status, &page)
}

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    RawQuery(q): RawQuery,
) -> Response {
    workstations_page(
        &state,
        &session,
        StatusCode::OK,
        done_flash(q.as_deref()),
        Draft::default(),
    )
    .await
}

/// `10.20.0.0/16, 10.30.4.0/24`; blank means any network.
fn parse_networks(text: &str) -> Result<Vec<IpNet>, ServiceError> {
    text.split([',', '\n', ' '])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            n.parse::<IpNet>().map_err(|_| {
                invalid(
                    "networks",
                    "each entry must be a CIDR range such as 10.20.0.0/16",
                )
            })
        })
        .collect()
}

pub async fn add(
    State(state): State<AppState>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let draft = Draft::from_form(&form);
    let result = async {
        let unit = form
            .opt("unit")
            .and_then(parse_id::<UnitId>)
            .ok_or_else(|| invalid("unit", "choose the unit the workstation belongs to"))?;
        let networks = parse_networks(&draft.networks)?;
        state
            .services
            .add_workstation(session.actor(), &draft.name, unit, networks)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other("/admin/workstations?done=workstation_added"),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            workstations_page(&state, &session, status, flash, draft).await
        }
    }
}

pub async fn register_certificate(
    State(state): State<AppState>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let draft = Draft::from_form(&form);
    let result = async {
        let id = form
            .opt("workstation")
            .and_then(parse_id::<WorkstationId>)
            .ok_or_else(|| invalid("workstation", "choose a workstation"))?;
        let fp = Fingerprint::parse(&draft.fingerprint)?;
        state
            .services
            .register_workstation_certificate(session.actor(), id, &fp)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other("/admin/workstations?done=certificate_registered"),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            workstations_page(&state, &session, status, flash, draft).await
        }
    }
}

async fn set_enabled(
    state: AppState,
    headers: HeaderMap,
    id: String,
    posted: Posted<ActiveSession>,
    enabled: bool,
) -> Response {
    let session = posted.session;
    let Some(id) = parse_id::<WorkstationId>(&id) else {
        return not_found(&session.chrome);
    };
    match state
        .services
        .set_workstation_enabled(session.actor(), id, enabled)
        .await
    {
        Ok(w) => {
            let done = if enabled {
                "workstation_enabled"
            } else {
                "workstation_disabled"
            };
            let fragment = WorkstationRowFragment {
                csrf: session.chrome.csrf.clone(),
                row: WorkstationRow::from(&w),
                flash: done_flash(Some(&format!("done={done}")))
                    .unwrap_or_else(|| Flash::ok("Done.")),
            };
            row_answer(
                &headers,
                &session.chrome,
                &fragment,
                &format!("/admin/workstations?done={done}"),
            )
        }
        Err(e) => row_failure(&state, &headers, &session.chrome, e),
    }
}

pub async fn enable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    posted: Posted<ActiveSession>,
) -> Response {
    set_enabled(state, headers, id, posted, true).await
}

pub async fn disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    posted: Posted<ActiveSession>,
) -> Response {
    set_enabled(state, headers, id, posted, false).await
}
