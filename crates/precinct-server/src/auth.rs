//! Who is calling: the session behind a request, from the
//! `Authorization: Bearer` header (API clients) or the session cookie
//! (browsers). Cookie-authenticated requests that change something must
//! carry the session's CSRF token.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method};
use precinct_domain::session::Stage;
use precinct_domain::Role;

use crate::problem::Problem;
use crate::service::accounts::Authenticated;
use crate::service::audit::Origin;
use crate::service::ServiceError;
use crate::state::{AppState, RequestContext};

pub const SESSION_COOKIE: &str = "precinct_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The `Set-Cookie` value that carries a session token.
pub fn session_cookie(token: &str) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

pub fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Bearer,
    Cookie,
}

pub fn session_token(parts: &Parts) -> Option<(String, TokenSource)> {
    if let Some(v) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v
            .strip_prefix("Bearer ")
            .map(|t| (t.trim().to_owned(), TokenSource::Bearer));
    }
    cookie_value(parts, SESSION_COOKIE).map(|t| (t.to_owned(), TokenSource::Cookie))
}

/// Constant-time comparison of two tokens.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A request with a session in any login stage.
#[derive(Debug, Clone)]
pub struct Caller {
    pub auth: Authenticated,
    pub ctx: RequestContext,
    pub source: TokenSource,
    /// The request's origin acting as this caller, for the audit trail.
    pub origin: Origin,
}

impl Caller {
    pub fn has_role(&self, role: Role) -> bool {
        self.auth.user.user.roles.contains(role)
    }
}

pub fn request_context(parts: &Parts) -> Result<RequestContext, Problem> {
    parts
        .extensions
        .get::<RequestContext>()
        .cloned()
        .ok_or_else(Problem::unavailable)
}

/// Resolves the caller; `check_csrf` applies to cookie sessions on methods
/// that change state.
pub async fn resolve_caller(parts: &Parts, state: &AppState) -> Result<Caller, Problem> {
    let ctx = request_context(parts)?;
    let Some((token, source)) = session_token(parts) else {
        return Err(ServiceError::Unauthenticated.into());
    };
    let auth = state
        .services
        .authenticate(&ctx.origin(), &token)
        .await
        .map_err(|e| {
            if matches!(e, ServiceError::Unavailable) {
                state.metrics.storage_failures.inc();
            }
            Problem::from(e)
        })?;
    let origin = auth.origin(&ctx.origin());
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if source == TokenSource::Cookie && unsafe_method {
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !sent.is_some_and(|s| tokens_match(s, &auth.session.csrf_token)) {
            state
                .services
                .deny_csrf(&origin, parts.uri.path())
                .await
                .map_err(Problem::from)?;
            return Err(Problem::csrf());
        }
    }
    Ok(Caller {
        auth,
        ctx,
        source,
        origin,
    })
}

impl<S> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        resolve_caller(parts, &AppState::from_ref(state)).await
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        request_context(parts)
    }
}

/// A fully logged-in caller (password, second factor, no pending step).
#[derive(Debug, Clone)]
pub struct ActiveUser(pub Caller);

impl<S> FromRequestParts<S> for ActiveUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = resolve_caller(parts, &AppState::from_ref(state)).await?;
        if caller.auth.session.stage != Stage::Active {
            return Err(ServiceError::LoginIncomplete.into());
        }
        Ok(ActiveUser(caller))
    }
}
