//! What every page shares: the header data (channel, user, CSRF token),
//! rendering a template into a response, redirects, and the HTML error
//! pages. Nothing here knows a particular page.

use askama::Template;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use precinct_domain::session::Stage;
use precinct_domain::{DomainError, Role};

use crate::problem::Problem;
use crate::service::accounts::Authenticated;
use crate::service::ServiceError;
use crate::state::{AppState, RequestContext};

/// The page header: where the request comes from (always shown), and who is
/// logged in, if anyone.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// `workstation`, `department_device` or `offsite`.
    pub channel_kind: &'static str,
    /// In plain words, e.g. "Designated workstation: Central Precinct, desk 4".
    pub channel_text: String,
    /// The logged-in user's display name; empty before login.
    pub user_name: String,
    /// The session's CSRF token; empty before login.
    pub csrf: String,
    /// The session finished every login step: show the navigation.
    pub active: bool,
    pub admin: bool,
    pub auditor: bool,
    /// Decides off-site requests, sees incidents and the work-life chart.
    pub supervisor: bool,
    pub internal_affairs: bool,
    pub records_clerk: bool,
    /// The navigation entry of the current page (`home`, `users`, ...).
    pub section: &'static str,
}

impl Chrome {
    pub fn anonymous(ctx: &RequestContext) -> Self {
        Self {
            channel_kind: ctx.channel.kind(),
            channel_text: ctx.channel.describe(),
            user_name: String::new(),
            csrf: String::new(),
            active: false,
            admin: false,
            auditor: false,
            supervisor: false,
            internal_affairs: false,
            records_clerk: false,
            section: "",
        }
    }

    pub fn for_session(ctx: &RequestContext, auth: &Authenticated) -> Self {
        let user = &auth.user.user;
        Self {
            user_name: user.display_name.clone(),
            csrf: auth.session.csrf_token.clone(),
            active: auth.session.stage == Stage::Active,
            admin: user.roles.contains(Role::Administrator),
            auditor: user.roles.contains(Role::Auditor),
            supervisor: user.roles.contains(Role::Supervisor),
            internal_affairs: user.roles.contains(Role::InternalAffairs),
            records_clerk: user.roles.contains(Role::RecordsClerk),
            ..Self::anonymous(ctx)
        }
    }

    pub fn logged_in(&self) -> bool {
        !self.user_name.is_empty()
    }

    /// The same header with `section` marked current in the navigation.
    pub fn at(&self, section: &'static str) -> Self {
        Self {
            section,
            ..self.clone()
        }
    }
}

/// A message at the top of a page.
#[derive(Debug, Clone)]
pub struct Flash {
    /// `ok` or `error` (a CSS class).
    pub kind: &'static str,
    pub text: String,
}

impl Flash {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            kind: "ok",
            text: text.into(),
        }
    }
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            kind: "error",
            text: text.into(),
        }
    }
}

/// A full page: a template with the shared header.
pub trait Page: Template {
    fn chrome(&self) -> &Chrome;
}

/// Implements [`Page`] for structs with a `chrome` field.
macro_rules! pages {
    ($($t:ty),* $(,)?) => {
        $(impl $crate::ui::page::Page for $t {
            fn chrome(&self) -> &$crate::ui::page::Chrome {
                &self.chrome
            }
        })*
    };
}
pub(crate) use pages;

/// Renders a page; a template failure becomes the 500 page.
pub fn render<P: Page>(status: StatusCode, page: &P) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            error_page(page.chrome(), &server_error())
        }
    }
}

/// Renders a fragment (an htmx partial) that has no header of its own.
pub fn render_fragment<T: Template>(chrome: &Chrome, fragment: &T) -> Response {
    match fragment.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "fragment template failed");
            error_page(chrome, &server_error())
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: &'a Chrome,
    flash: Option<Flash>,
    status: u16,
    title: String,
    detail: String,
}

fn server_error() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "Something went wrong on our side",
    )
    .with_detail("Nothing you entered was shown to anyone. Try again; if it keeps happening, tell the help desk.")
}

/// The HTML version of a problem: its status, title and detail.
pub fn error_page(chrome: &Chrome, problem: &Problem) -> Response {
    let page = ErrorPage {
        chrome,
        flash: None,
        status: problem.status,
        title: sentence(&problem.title),
        detail: match problem.detail.as_deref() {
            Some(d) => sentence(d),
            None if problem.status == 403 => {
                "If you need this, ask your supervisor or an administrator.".to_owned()
            }
            None => String::new(),
        },
    };
    match page.render() {
        Ok(html) => (problem.status(), Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

pub fn not_found(chrome: &Chrome) -> Response {
    error_page(
        chrome,
        &Problem::not_found().with_detail("The page or record does not exist, or it was removed."),
    )
}

/// A use-case failed in a way the page cannot show next to a form.
pub fn service_error_page(state: &AppState, chrome: &Chrome, e: ServiceError) -> Response {
    note_unavailable(state, &e);
    error_page(chrome, &Problem::from(e))
}

pub fn note_unavailable(state: &AppState, e: &ServiceError) {
    if matches!(e, ServiceError::Unavailable) {
        state.metrics.storage_failures.inc();
    }
}

/// The status the API would answer for this error, and a sentence for the
/// page.
pub fn failure(state: &AppState, e: ServiceError) -> (StatusCode, Flash) {
    note_unavailable(state, &e);
    let text = message(&e);
    (Problem::from(e).status(), Flash::error(text))
}

/// A user-facing sentence for an error: the use-case's message (which leaks
/// nothing), with the field named in words.
pub fn message(e: &ServiceError) -> String {
    match e {
        ServiceError::Invalid(DomainError::Invalid { field, reason }) if !field.is_empty() => {
            sentence(&format!("{}: {reason}", field.replace('_', " ")))
        }
        other => sentence(&other.to_string()),
    }
}

/// Capital first letter, full stop at the end.
pub fn sentence(s: &str) -> String {
    let s = s.trim();
    let mut chars = s.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// 303 See Other: after a form POST, or to send the browser to a login step.
pub fn see_other(path: &str) -> Response {
    match HeaderValue::from_str(path) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, HeaderValue::from_static("/"))],
        )
            .into_response(),
    }
}

/// htmx follows a 303 inside its request and would swap the target page
/// into the current one; an `HX-Redirect` makes the whole window navigate.
pub fn redirect(headers: &HeaderMap, path: &str) -> Response {
    if is_htmx(headers) {
        match HeaderValue::from_str(path) {
            Ok(v) => (StatusCode::OK, [("hx-redirect", v)]).into_response(),
            Err(_) => see_other(path),
        }
    } else {
        see_other(path)
    }
}

pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers
        .get("hx-request")
        .is_some_and(|v| v.as_bytes() == b"true")
}

/// Where a session continues its login.
pub fn stage_path(stage: Stage) -> &'static str {
    match stage {
        Stage::Mfa => "/login/mfa",
        Stage::ChangePassword => "/password",
        Stage::EnrolMfa => "/mfa/enrol",
        Stage::Active => "/home",
    }
}

/// The confirmation after a POST-redirect-GET, from `?done=<code>`; only
/// known codes show anything, so the address cannot inject text.
pub fn done_flash(query: Option<&str>) -> Option<Flash> {
    let code = query?.split('&').find_map(|kv| kv.strip_prefix("done="))?;
    let text = match code {
        "password_changed" => "Your password was changed. Your other sessions were signed out.",
        "user_disabled" => "The account was disabled; the user can no longer log in.",
        "user_enabled" => "The account was enabled.",
        "user_unlocked" => "The account was unlocked.",
        "mfa_reset" => "The second factor was reset; the user enrols a new one at next login.",
        "roles_saved" => "The roles were saved.",
        "units_saved" => "The units were saved.",
        "unit_created" => "The unit was created.",
        "supervisor_saved" => "The supervisor was saved.",
        "workstation_added" => "The workstation was added.",
        "workstation_enabled" => "The workstation was enabled.",
        "workstation_disabled" => "The workstation was disabled.",
        "certificate_registered" => "The certificate fingerprint was registered.",
        "device_enrolled" => "The device was enrolled.",
        "device_revoked" => "The device was revoked.",
        _ => return None,
    };
    Some(Flash::ok(text))
}

#[derive(Template)]
#[template(path = "flash.html")]
struct FlashFragment<'a> {
    flash: &'a Flash,
}

/// An error answered to htmx: the message goes to the page's `#flash`
/// region instead of the element that asked.
pub fn htmx_error(status: StatusCode, flash: &Flash) -> Response {
    let html = FlashFragment { flash }.render().unwrap_or_default();
    (
        status,
        [("hx-retarget", "#flash"), ("hx-reswap", "innerHTML")],
        Html(html),
    )
        .into_response()
}

/// An error page, or for htmx the message alone.
pub fn problem_response(headers: &HeaderMap, chrome: &Chrome, problem: &Problem) -> Response {
    if is_htmx(headers) {
        let text = match &problem.detail {
            Some(d) => format!("{} {}", sentence(&problem.title), sentence(d)),
            None => sentence(&problem.title),
        };
        htmx_error(problem.status(), &Flash::error(text))
    } else {
        error_page(chrome, problem)
    }
}
