//! `/admin/devices`: department phones, tablets and laptops; enrolling one,
//! binding its client certificate, and revoking it.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use precinct_domain::channel::DeviceKind;
use precinct_domain::ids::{DeviceId, UserId};
use precinct_domain::Fingerprint;
use precinct_store::DeviceRecord;
use std::collections::HashMap;

use super::{
    invalid, load_failure, parse_id, refused, row_answer, row_failure, short_fingerprint,
    user_choices, Choice,
};
use crate::state::AppState;
use crate::ui::page::{done_flash, not_found, pages, render, see_other, Chrome, Flash};
use crate::ui::session::{ActiveSession, Fields, Posted};

#[derive(Debug, Clone)]
pub struct DeviceRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub assigned: String,
    pub fingerprint: String,
    pub fingerprint_short: String,
    pub revoked: bool,
}

fn kind_label(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Phone => "Phone",
        DeviceKind::Tablet => "Tablet",
        DeviceKind::Laptop => "Laptop",
    }
}

impl DeviceRow {
    fn new(d: &DeviceRecord, user_names: &HashMap<UserId, String>) -> Self {
        let fingerprint = d.fingerprint.clone().unwrap_or_default();
        Self {
            id: d.id.to_string(),
            name: d.name.clone(),
            kind: kind_label(d.kind),
            assigned: d
                .assigned_user_id
                .and_then(|u| user_names.get(&u).cloned())
                .unwrap_or_default(),
            fingerprint_short: short_fingerprint(&fingerprint),
            fingerprint,
            revoked: d.revoked_at.is_some(),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Draft {
    name: String,
    kind: String,
    assigned_user: String,
    device: String,
    fingerprint: String,
}

impl Draft {
    fn from_form(f: &Fields) -> Self {
        Self {
            name: f.get("name").trim().to_owned(),
            kind: f.get("kind").to_owned(),
            assigned_user: f.get("assigned_user").to_owned(),
            device: f.get("device").to_owned(),
            fingerprint: f.get("fingerprint").trim().to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/devices.html")]
struct DevicesPage {
    chrome: Chrome,
    csrf: String,
    flash: Option<Flash>,
    rows: Vec<DeviceRow>,
    kinds: Vec<Choice>,
    users: Vec<Choice>,
    devices: Vec<Choice>,
    draft_name: String,
    draft_fingerprint: String,
}

#[derive(Template)]
#[template(path = "admin/device_row_fragment.html")]
struct DeviceRowFragment {
    csrf: String,
    row: DeviceRow,
    flash: Flash,
}

pages!(DevicesPage);

async fn devices_page(
    state: &AppState,
    session: &ActiveSession,
    status: StatusCode,
    flash: Option<Flash>,
    draft: Draft,
) -> Response {
    let actor = session.actor();
    let list = match state.services.list_devices(actor).await {
        Ok(d) => d,
        Err(e) => return load_failure(state, &session.chrome, e),
    };
    let users = match state.services.list_users(actor).await {
        Ok(u) => u,
        Err(e) => return load_failure(state, &session.chrome, e),
    };
    let names: HashMap<_, _> = users
        .iter()
        .map(|u| (u.id, u.display_name.clone()))
        .collect();
    let mut rows: Vec<DeviceRow> = list.iter().map(|d| DeviceRow::new(d, &names)).collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let devices = rows
        .iter()
        .filter(|r| !r.revoked)
        .map(|r| Choice {
            value: r.id.clone(),
            label: format!("{} ({})", r.name, r.kind),
            selected: r.id == draft.device,
        })
        .collect();
    let kinds = [DeviceKind::Phone, DeviceKind::Tablet, DeviceKind::Laptop]
        .into_iter()
        .map(|k| Choice {
            value: k.as_str().to_owned(),
            label: kind_label(k).to_owned(),
            selected: draft.kind == k.as_str(),
        })
        .collect();
    let page = DevicesPage {
        chrome: session.chrome.at("devices"),
        csrf: session.chrome.csrf.clone(),
        flash,
        rows,
        kinds,
        users: user_choices(&users, Some(draft.assigned_user.as_str())),
        devices,
        draft_name: draft.name,
        draft_fingerprint: draft.fingerprint,
    };
    render(status, &page)
}

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    RawQuery(q): RawQuery,
) -> Response {
    devices_page(
        &state,
        &session,
        StatusCode::OK,
        done_flash(q.as_deref()),
        Draft::default(),
    )
    .await
}

pub async fn enroll(
    State(state): State<AppState>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let draft = Draft::from_form(&form);
    let result = async {
        let kind = DeviceKind::parse(&draft.kind)?;
        let assigned = match form.opt("assigned_user") {
            Some(u) => Some(
                parse_id::<UserId>(u)
                    .ok_or_else(|| invalid("assigned_user", "not a valid choice"))?,
            ),
            None => None,
        };
        state
            .services
            .enroll_device(session.actor(), &draft.name, kind, assigned)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other("/admin/devices?done=device_enrolled"),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            devices_page(&state, &session, status, flash, draft).await
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
            .opt("device")
            .and_then(parse_id::<DeviceId>)
            .ok_or_else(|| invalid("device", "choose a device"))?;
        let fp = Fingerprint::parse(&draft.fingerprint)?;
        state
            .services
            .register_device_certificate(session.actor(), id, &fp)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other("/admin/devices?done=certificate_registered"),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            devices_page(&state, &session, status, flash, draft).await
        }
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Posted { session, .. }: Posted<ActiveSession>,
) -> Response {
    let Some(id) = parse_id::<DeviceId>(&id) else {
        return not_found(&session.chrome);
    };
    let actor = session.actor();
    match state.services.revoke_device(actor, id).await {
        Ok(d) => {
            // The row names the assigned user; a failed lookup only blanks it.
            let names: HashMap<_, _> = state
                .services
                .list_users(actor)
                .await
                .map(|us| us.into_iter().map(|u| (u.id, u.display_name)).collect())
                .unwrap_or_default();
            let fragment = DeviceRowFragment {
                csrf: session.chrome.csrf.clone(),
                row: DeviceRow::new(&d, &names),
                flash: done_flash(Some("done=device_revoked"))
                    .unwrap_or_else(|| Flash::ok("Done.")),
            };
            row_answer(
                &headers,
                &session.chrome,
                &fragment,
                "/admin/devices?done=device_revoked",
            )
        }
        Err(e) => row_failure(&state, &headers, &session.chrome, e),
    }
}
