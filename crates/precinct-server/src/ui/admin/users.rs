//! `/admin/users`: the list with a create form, and one user's page with
//! roles, units and the account buttons. One-time passwords are shown once,
//! in the answer to the POST that made them, never in an address.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use precinct_domain::ids::{UnitId, UserId};
use precinct_domain::user::{User, UserStatus};
use precinct_domain::Role;

use super::{
    invalid, load_failure, parse_id, refused, row_answer, row_failure, unit_choices, Choice,
};
use crate::service::admin::CreateUser;
use crate::service::ServiceError;
use crate::state::AppState;
use crate::ui::page::{
    done_flash, not_found, pages, render, see_other, service_error_page, Chrome, Flash,
};
use crate::ui::session::{ActiveSession, Fields, Posted};

/// A user as the tables show them.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub active: bool,
    pub locked: bool,
    pub mfa: bool,
    pub must_change_password: bool,
    pub roles: String,
}

impl From<&User> for UserRow {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.as_str().to_owned(),
            display_name: u.display_name.clone(),
            active: u.status == UserStatus::Active,
            locked: u.is_locked(),
            mfa: u.mfa_enrolled,
            must_change_password: u.must_change_password,
            roles: u
                .roles
                .iter()
                .map(Role::label)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// What the create form had, to fill it in again after a refusal.
#[derive(Debug, Clone, Default)]
struct Draft {
    username: String,
    display_name: String,
    roles: Vec<String>,
    units: Vec<String>,
}

impl Draft {
    fn from_form(f: &Fields) -> Self {
        Self {
            username: f.get("username").trim().to_owned(),
            display_name: f.get("display_name").trim().to_owned(),
            roles: f.all("roles").map(str::to_owned).collect(),
            units: f.all("units").map(str::to_owned).collect(),
        }
    }
}

/// The one-time password of a user just created or reset.
#[derive(Debug, Clone)]
struct OneTime {
    username: String,
    password: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    csrf: String,
    flash: Option<Flash>,
    created: Option<OneTime>,
    rows: Vec<UserRow>,
    draft_username: String,
    draft_display_name: String,
    roles: Vec<Choice>,
    units: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    chrome: Chrome,
    csrf: String,
    flash: Option<Flash>,
    one_time_password: Option<String>,
    user: UserRow,
    roles: Vec<Choice>,
    units: Vec<Choice>,
}

/// The list's row, answered to htmx after a row button.
#[derive(Template)]
#[template(path = "admin/user_row_fragment.html")]
struct UserRowFragment {
    csrf: String,
    row: UserRow,
    flash: Flash,
}

pages!(UsersPage, UserPage);

fn role_choices(selected: &[String]) -> Vec<Choice> {
    Role::ALL
        .into_iter()
        .map(|r| Choice {
            value: r.as_str().to_owned(),
            label: r.label().to_owned(),
            selected: selected.iter().any(|s| s == r.as_str()),
        })
        .collect()
}

fn parse_roles(f: &Fields) -> Result<Vec<Role>, ServiceError> {
    f.all("roles")
        .map(|r| r.parse::<Role>().map_err(ServiceError::from))
        .collect()
}

fn parse_units(f: &Fields) -> Result<Vec<UnitId>, ServiceError> {
    f.all("units")
        .filter(|u| !u.is_empty())
        .map(|u| {
            u.parse::<UnitId>()
                .map_err(|_| invalid("units", "not a valid unit"))
        })
        .collect()
}

async fn users_page(
    state: &AppState,
    session: &ActiveSession,
    status: StatusCode,
    flash: Option<Flash>,
    created: Option<OneTime>,
    draft: Draft,
) -> Response {
    let actor = session.actor();
    let users = match state.services.list_users(actor).await {
        Ok(u) => u,
        Err(e) => return load_failure(state, &session.chrome, e),
    };
    let units = match state.services.list_units(actor).await {
        Ok(u) => u,
        Err(e) => return load_failure(state, &session.chrome, e),
    };
    let mut rows: Vec<UserRow> = users.iter().map(UserRow::from).collect();
    rows.sort_by(|a, b| a.username.cmp(&b.username));
    let page = UsersPage {
        chrome: session.chrome.at("users"),
        csrf: session.chrome.csrf.clone(),
        flash,
        created,
        rows,
        roles: role_choices(&draft.roles),
        units: unit_choices(&units, &draft.units),
        draft_username: draft.username,
        draft_display_name: draft.display_name,
    };
    render(status, &page)
}

pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    RawQuery(q): RawQuery,
) -> Response {
    users_page(
        &state,
        &session,
        StatusCode::OK,
        done_flash(q.as_deref()),
        None,
        Draft::default(),
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let draft = Draft::from_form(&form);
    let input = parse_roles(&form).and_then(|roles| {
        Ok(CreateUser {
            username: draft.username.clone(),
            display_name: draft.display_name.clone(),
            roles,
            units: parse_units(&form)?,
        })
    });
    let result = match input {
        Ok(input) => state.services.create_user(session.actor(), input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((user, password)) => {
            let created = OneTime {
                username: user.username.as_str().to_owned(),
                password: password.expose().to_owned(),
            };
            let flash = Flash::ok(format!("The account {} was created.", created.username));
            users_page(
                &state,
                &session,
                StatusCode::OK,
                Some(flash),
                Some(created),
                Draft::default(),
            )
            .await
        }
        Err(e) => {
            let (status, flash) = refused(&state, e);
            users_page(&state, &session, status, flash, None, draft).await
        }
    }
}

async fn user_page(
    state: &AppState,
    session: &ActiveSession,
    id: UserId,
    status: StatusCode,
    flash: Option<Flash>,
    one_time_password: Option<String>,
) -> Response {
    let actor = session.actor();
    let user = match state.services.get_user(actor, id).await {
        Ok(u) => u,
        Err(ServiceError::NotFound(_)) => return not_found(&session.chrome),
        Err(e) => return load_failure(state, &session.chrome, e),
    };
    let units = match state.services.list_units(actor).await {
        Ok(u) => u,
        Err(e) => return load_failure(state, &session.chrome, e),
    };
    let roles: Vec<String> = user.roles.iter().map(|r| r.as_str().to_owned()).collect();
    let own_units: Vec<String> = user.units.iter().map(ToString::to_string).collect();
    let page = UserPage {
        chrome: session.chrome.at("users"),
        csrf: session.chrome.csrf.clone(),
        flash,
        one_time_password,
        user: UserRow::from(&user),
        roles: role_choices(&roles),
        units: unit_choices(&units, &own_units),
    };
    render(status, &page)
}

pub async fn show(
    State(state): State<AppState>,
    session: ActiveSession,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(id) = parse_id::<UserId>(&id) else {
        return not_found(&session.chrome);
    };
    user_page(
        &state,
        &session,
        id,
        StatusCode::OK,
        done_flash(q.as_deref()),
        None,
    )
    .await
}

pub async fn save_roles(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let Some(id) = parse_id::<UserId>(&id) else {
        return not_found(&session.chrome);
    };
    let result = match parse_roles(&form) {
        Ok(roles) => state.services.set_roles(session.actor(), id, roles).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => see_other(&format!("/admin/users/{id}?done=roles_saved")),
        Err(ServiceError::NotFound(_)) => not_found(&session.chrome),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            user_page(&state, &session, id, status, flash, None).await
        }
    }
}

pub async fn save_units(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let Some(id) = parse_id::<UserId>(&id) else {
        return not_found(&session.chrome);
    };
    let result = match parse_units(&form) {
        Ok(units) => state.services.set_units(session.actor(), id, units).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => see_other(&format!("/admin/users/{id}?done=units_saved")),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            user_page(&state, &session, id, status, flash, None).await
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Disable,
    Enable,
    Unlock,
    ResetMfa,
}

impl Action {
    fn done(self) -> &'static str {
        match self {
            Action::Disable => "user_disabled",
            Action::Enable => "user_enabled",
            Action::Unlock => "user_unlocked",
            Action::ResetMfa => "mfa_reset",
        }
    }
}

async fn account_action(
    state: AppState,
    headers: HeaderMap,
    id: String,
    posted: Posted<ActiveSession>,
    action: Action,
) -> Response {
    let Posted { session, form } = posted;
    let Some(id) = parse_id::<UserId>(&id) else {
        return not_found(&session.chrome);
    };
    let (s, a) = (&state.services, session.actor());
    let result = match action {
        Action::Disable => s.set_user_status(a, id, UserStatus::Disabled).await,
        Action::Enable => s.set_user_status(a, id, UserStatus::Active).await,
        Action::Unlock => s.unlock_user(a, id).await,
        Action::ResetMfa => s.reset_mfa(a, id).await,
    };
    match result {
        Ok(user) => {
            let back = if form.get("from") == "list" {
                format!("/admin/users?done={}", action.done())
            } else {
                format!("/admin/users/{id}?done={}", action.done())
            };
            let fragment = UserRowFragment {
                csrf: session.chrome.csrf.clone(),
                row: UserRow::from(&user),
                flash: done_flash(Some(&format!("done={}", action.done())))
                    .unwrap_or_else(|| Flash::ok("Done.")),
            };
            row_answer(&headers, &session.chrome, &fragment, &back)
        }
        Err(e) => row_failure(&state, &headers, &session.chrome, e),
    }
}

pub async fn disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    posted: Posted<ActiveSession>,
) -> Response {
    account_action(state, headers, id, posted, Action::Disable).await
}

pub async fn enable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    posted: Posted<ActiveSession>,
) -> Response {
    account_action(state, headers, id, posted, Action::Enable).await
}

pub async fn unlock(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    posted: Posted<ActiveSession>,
) -> Response {
    account_action(state, headers, id, posted, Action::Unlock).await
}

pub async fn reset_mfa(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    posted: Posted<ActiveSession>,
) -> Response {
    account_action(state, headers, id, posted, Action::ResetMfa).await
}

/// Shows the new one-time password on the user's page, once.
pub async fn reset_password(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { session, .. }: Posted<ActiveSession>,
) -> Response {
    let Some(id) = parse_id::<UserId>(&id) else {
        return not_found(&session.chrome);
    };
    match state.services.reset_password(session.actor(), id).await {
        Ok(password) => {
            let flash = Flash::ok(
                "A new one-time password was issued. The user must change it at next login.",
            );
            let password = Some(password.expose().to_owned());
            user_page(&state, &session, id, StatusCode::OK, Some(flash), password).await
        }
        Err(ServiceError::NotFound(_)) => not_found(&session.chrome),
        Err(e) => service_error_page(&state, &session.chrome, e),
    }
}
