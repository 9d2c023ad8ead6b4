//! The landing page after login: who you are, where you are connected
//! from, and what you can do from here.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use precinct_domain::Role;

use super::page::{done_flash, pages, render, Chrome, Flash};
use super::session::ActiveSession;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    flash: Option<Flash>,
    username: String,
    roles: Vec<&'static str>,
    units: Vec<String>,
    admin: bool,
}

pages!(HomePage);

pub async fn home(
    State(state): State<AppState>,
    session: ActiveSession,
    RawQuery(query): RawQuery,
) -> Response {
    let user = &session.auth.user.user;
    let units = match state.services.units_of(user).await {
        Ok(units) => units.into_iter().map(|u| u.name).collect(),
        Err(e) => return crate::ui::page::service_error_page(&state, &session.chrome, e),
    };
    let page = HomePage {
        flash: done_flash(query.as_deref()),
        username: user.username.as_str().to_owned(),
        roles: user.roles.iter().map(Role::label).collect(),
        units,
        admin: session.has_role(Role::Administrator),
        chrome: session.chrome.at("home"),
    };
    render(StatusCode::OK, &page)
}
