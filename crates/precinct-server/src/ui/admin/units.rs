//! `/admin/units`: precincts and their units as a tree, a create form, and
//! each unit's supervisor.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use precinct_domain::ids::{UnitId, UserId};
use precinct_domain::org::UnitKind;
use std::collections::HashMap;

use super::{
    invalid, load_failure, parse_id, refused, unit_choices, unit_tree, user_choices, Choice,
};
use crate::service::ServiceError;
use crate::state::AppState;
use crate::ui::page::{done_flash, not_found, pages, render, see_other, Chrome, Flash};
use crate::ui::session::{ActiveSession, Fields, Posted};

#[derive(Debug, Clone)]
struct UnitRow {
    id: String,
    name: String,
    kind: &'static str,
    /// 0 for a precinct, deeper for nested units (a CSS class, capped).
    depth: usize,
    parent_name: String,
    supervisors: Vec<Choice>,
}

#[derive(Debug, Clone, Default)]
struct Draft {
    name: String,
    kind: String,
    parent: String,
    supervisor: String,
}

impl Draft {
    fn from_form(f: &Fields) -> Self {
        Self {
            name: f.get("name").trim().to_owned(),
            kind: f.get("kind").to_owned(),
            parent: f.get("parent").to_owned(),
            supervisor: f.get("supervisor").to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/units.html")]
struct UnitsPage {
    chrome: Chrome,
    csrf: String,
    flash: Option<Flash>,
    rows: Vec<UnitRow>,
    draft_name: String,
    kinds: Vec<Choice>,
    parents: Vec<Choice>,
    supervisors: Vec<Choice>,
}

pages!(UnitsPage);

fn kind_label(kind: UnitKind) -> &'static str {
    match kind {
        UnitKind::Precinct => "Precinct",
        UnitKind::Unit => "Unit",
    }
}

async fn units_page(
    state: &AppState,
    session: &ActiveSession,
    status: StatusCode,
    flash: Option<Flash>,
    draft: Draft,
) -> Response {
    let actor = session.actor();
    let units = match state.services.list_units(actor).await {
        Ok(u) => u,
        Err(e) => return load_failure(state, &session.chrome, e),
    };
    let users = match state.services.list_users(actor).await {
        Ok(u) => u,
        Err(e) => return load_failure(state, &session.chrome, e),
    };
    let unit_names: HashMap<_, _> = units.iter().map(|u| (u.id, u.name.as_str())).collect();
    let rows = unit_tree(&units)
        .into_iter()
        .map(|(u, depth)| {
            let supervisor = u.supervisor.map(|s| s.to_string());
            UnitRow {
                id: u.id.to_string(),
                name: u.name.clone(),
                kind: kind_label(u.kind),
                depth: depth.min(4),
                parent_name: u
                    .parent
                    .and_then(|p| unit_names.get(&p))
                    .map(|n| (*n).to_owned())
                    .unwrap_or_default(),
                supervisors: user_choices(&users, supervisor.as_deref()),
            }
        })
        .collect();
    let kinds = [UnitKind::Precinct, UnitKind::Unit]
        .into_iter()
        .map(|k| Choice {
            value: k.as_str().to_owned(),
            label: kind_label(k).to_owned(),
            selected: draft.kind == k.as_str(),
        })
        .collect();
    let page = UnitsPage {
        chrome: session.chrome.at("units"),
        csrf: session.chrome.csrf.clone(),
        flash,
        rows,
        kinds,
        parents: unit_choices(&units, std::slice::from_ref(&draft.parent)),
        supervisors: user_choices(&users, Some(draft.supervisor.as_str())),
        draft_name: draft.name,
    };
    render(status, &page)
}

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    RawQuery(q): RawQuery,
) -> Response {
    units_page(
        &state,
        &session,
        StatusCode::OK,
        done_flash(q.as_deref()),
        Draft::default(),
    )
    .await
}

fn optional_id<T: std::str::FromStr>(
    f: &Fields,
    field: &'static str,
) -> Result<Option<T>, ServiceError> {
    f.opt(field)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| invalid(field, "not a valid choice"))
        })
        .transpose()
}

pub async fn create(
    State(state): State<AppState>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let draft = Draft::from_form(&form);
    let result = async {
        let kind = UnitKind::parse(&draft.kind)?;
        let parent = optional_id::<UnitId>(&form, "parent")?;
        let supervisor = optional_id::<UserId>(&form, "supervisor")?;
        state
            .services
            .create_unit(session.actor(), &draft.name, kind, parent, supervisor)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other("/admin/units?done=unit_created"),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            units_page(&state, &session, status, flash, draft).await
        }
    }
}

pub async fn set_supervisor(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let Some(id) = parse_id::<UnitId>(&id) else {
        return not_found(&session.chrome);
    };
    let result = match optional_id::<UserId>(&form, "supervisor") {
        Ok(supervisor) => {
            state
                .services
                .set_unit_supervisor(session.actor(), id, supervisor)
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => see_other("/admin/units?done=supervisor_saved"),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            units_page(&state, &session, status, flash, Draft::default()).await
        }
    }
}
