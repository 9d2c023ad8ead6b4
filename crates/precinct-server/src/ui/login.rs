//! Logging in from a browser: the system-use notice and the password form,
//! the second factor, and signing out. Before there is a session the login
//! form is protected by a double-submit cookie; after, by the session's
//! CSRF token.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use precinct_domain::session::Stage;
use rand::rngs::OsRng;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use super::page::{
    error_page, failure, pages, redirect, render, see_other, service_error_page, stage_path,
    Chrome, Flash,
};
use super::session::{Ctx, Fields, Posted, UiSession};
use crate::auth::{
    clear_session_cookie, cookie_value, session_cookie, tokens_match, SESSION_COOKIE,
};
use crate::problem::Problem;
use crate::service::ServiceError;
use crate::state::AppState;

const LOGIN_CSRF_COOKIE: &str = "precinct_login_csrf";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    csrf: String,
    username: String,
    flash: Option<Flash>,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage {
    chrome: Chrome,
    flash: Option<Flash>,
}

pages!(LoginPage, MfaPage);

/// A session, if the cookie names a valid one; never an error.
pub struct MaybeSession(pub Option<UiSession>);

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if cookie_value(parts, SESSION_COOKIE).is_none() {
            return Ok(MaybeSession(None));
        }
        Ok(MaybeSession(
            super::session::resolve_session(parts, state).await.ok(),
        ))
    }
}

/// The login form's double-submit token, from its cookie.
pub struct LoginCsrfCookie(Option<String>);

impl FromRequestParts<AppState> for LoginCsrfCookie {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let v = cookie_value(parts, LOGIN_CSRF_COOKIE)
            .filter(|v| {
                v.len() == 43
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .map(str::to_owned);
        Ok(LoginCsrfCookie(v))
    }
}

fn new_login_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn reason_text(query: Option<&str>) -> Option<Flash> {
    let reason = query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("reason="))?;
    let text = match reason {
        "session_locked" => {
            "Your session was locked after 30 minutes without activity. Log in again."
        }
        "session_expired" => "Your session reached its 12-hour limit. Log in again.",
        "signed_out" => "You have signed out.",
        "unauthenticated" => "Log in to continue.",
        _ => return None,
    };
    Some(if reason == "signed_out" {
        Flash::ok(text)
    } else {
        Flash::error(text)
    })
}

/// Renders the login form with its token; the cookie is (re)set so that it
/// always matches the hidden field.
fn login_form(
    chrome: Chrome,
    status: StatusCode,
    token: String,
    username: String,
    flash: Option<Flash>,
) -> Response {
    let cookie =
        format!("{LOGIN_CSRF_COOKIE}={token}; Path=/login; Secure; HttpOnly; SameSite=Strict");
    let mut res = render(
        status,
        &LoginPage {
            chrome,
            csrf: token,
            username,
            flash,
        },
    );
    set_cookie(&mut res, &cookie);
    res
}

/// `/`: to the session's current step, or to the login page.
/// `/`: to the session's current step; without a session to the login
/// page (saying why, if a session just ended).
pub async fn index(State(state): State<AppState>, parts: Parts) -> Response {
    if cookie_value(&parts, SESSION_COOKIE).is_none() {
        return see_other("/login");
    }
    match super::session::resolve_session(&parts, &state).await {
        Ok(s) => see_other(stage_path(s.stage())),
        Err(to_login) => to_login,
    }
}

pub async fn login_page(
    Ctx(ctx): Ctx,
    MaybeSession(session): MaybeSession,
    LoginCsrfCookie(token): LoginCsrfCookie,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(s) = session {
        return see_other(stage_path(s.stage()));
    }
    let token = token.unwrap_or_else(new_login_token);
    login_form(
        Chrome::anonymous(&ctx),
        StatusCode::OK,
        token,
        String::new(),
        reason_text(query.as_deref()),
    )
}

fn login_outcome(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::AccountLocked => "locked",
        ServiceError::Unavailable => "unavailable",
        _ => "failure",
    }
}

pub async fn login(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    MaybeSession(previous): MaybeSession,
    LoginCsrfCookie(cookie_token): LoginCsrfCookie,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let chrome = Chrome::anonymous(&ctx);
    // A wrong content type, an oversized or malformed body.
    let form = match form {
        Ok(Form(pairs)) => Fields::from(pairs),
        Err(rejection) => return error_page(&chrome, &Problem::from(rejection)),
    };
    let username = form.get("username").trim().to_owned();
    let Some(token) = cookie_token.filter(|c| tokens_match(c, form.get("csrf"))) else {
        let flash = Flash::error("The form's security token is missing or wrong. Try again.");
        return login_form(
            chrome,
            StatusCode::FORBIDDEN,
            new_login_token(),
            username,
            Some(flash),
        );
    };
    let password = SecretString::from(form.get("password").to_owned());
    let acknowledged = form.has("acknowledge_notice");
    match state
        .services
        .begin_login(&ctx.origin(), &username, &password, acknowledged)
        .await
    {
        Ok(issued) => {
            state.metrics.login("password_ok");
            // A new login replaces whatever session this browser had.
            if let Some(old) = previous {
                if let Err(e) = state.services.logout(&old.auth, &old.request).await {
                    tracing::warn!(error = %e, "could not end the previous session");
                }
            }
            let mut res = see_other(stage_path(issued.session.stage));
            set_cookie(&mut res, &session_cookie(issued.token.expose_secret()));
            set_cookie(
                &mut res,
                &format!("{LOGIN_CSRF_COOKIE}=; Path=/login; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
            );
            res
        }
        Err(e) => {
            state.metrics.login(login_outcome(&e));
            let (status, flash) = failure(&state, e);
            login_form(chrome, status, token, username, Some(flash))
        }
    }
}

pub async fn mfa_page(session: UiSession) -> Response {
    if session.stage() != Stage::Mfa {
        return see_other(stage_path(session.stage()));
    }
    render(
        StatusCode::OK,
        &MfaPage {
            chrome: session.chrome,
            flash: None,
        },
    )
}

pub async fn verify_mfa(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted { session, form }: Posted<UiSession>,
) -> Response {
    if session.stage() != Stage::Mfa {
        return redirect(&headers, stage_path(session.stage()));
    }
    match state
        .services
        .verify_mfa(&session.auth, &session.request, form.get("code").trim())
        .await
    {
        Ok(stage) => {
            state.metrics.login("mfa_ok");
            see_other(stage_path(stage))
        }
        Err(e) => {
            state.metrics.login(login_outcome(&e));
            let (status, flash) = failure(&state, e);
            render(
                status,
                &MfaPage {
                    chrome: session.chrome,
                    flash: Some(flash),
                },
            )
        }
    }
}

/// Signs out from any login stage.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted { session, .. }: Posted<UiSession>,
) -> Response {
    if let Err(e) = state.services.logout(&session.auth, &session.request).await {
        return service_error_page(&state, &session.chrome, e);
    }
    let mut res = redirect(&headers, "/login?reason=signed_out");
    set_cookie(&mut res, &clear_session_cookie());
    res.into_response()
}
