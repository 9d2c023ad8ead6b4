//! The browser's session for the pages: read from the session cookie only.
//! A missing, locked or expired session sends the browser to the login page
//! with the reason (instead of a JSON problem), and a session that has not
//! finished logging in is sent to its current step. Every POST carries the
//! session's CSRF token, in the form field `csrf` or the `x-csrf-token`
//! header (htmx).

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use precinct_domain::session::Stage;
use precinct_domain::Role;

use super::page::{error_page, problem_response, redirect, stage_path, Chrome};
use crate::auth::{
    clear_session_cookie, cookie_value, request_context, tokens_match, CSRF_HEADER, SESSION_COOKIE,
};
use crate::problem::Problem;
use crate::service::accounts::Authenticated;
use crate::service::admin::Actor;
use crate::service::audit::Origin;
use crate::service::ServiceError;
use crate::state::{AppState, RequestContext};

/// The request's context, for pages that need no session (the login page).
#[derive(Debug, Clone)]
pub struct Ctx(pub RequestContext);

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        request_context(parts)
            .map(Ctx)
            .map_err(IntoResponse::into_response)
    }
}

/// A browser session in any login stage.
#[derive(Debug, Clone)]
pub struct UiSession {
    pub auth: Authenticated,
    pub chrome: Chrome,
    /// Where the request came from (for use-cases that add the user).
    pub request: Origin,
    /// The same, acting as this session's user.
    pub origin: Origin,
}

impl UiSession {
    pub fn stage(&self) -> Stage {
        self.auth.session.stage
    }
    pub fn has_role(&self, role: Role) -> bool {
        self.auth.user.user.roles.contains(role)
    }
    pub fn actor(&self) -> Actor<'_> {
        Actor::User(&self.auth.user.user, &self.origin)
    }
}

/// Sends the browser to the login page, saying why, and drops the cookie
/// of a session that no longer exists.
fn to_login(parts: &Parts, reason: &str) -> Response {
    let mut res = redirect(&parts.headers, &format!("/login?reason={reason}"));
    if let Ok(v) = HeaderValue::from_str(&clear_session_cookie()) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

pub async fn resolve_session(parts: &Parts, state: &AppState) -> Result<UiSession, Response> {
    let ctx = request_context(parts).map_err(IntoResponse::into_response)?;
    let Some(token) = cookie_value(parts, SESSION_COOKIE) else {
        return Err(to_login(parts, ServiceError::Unauthenticated.code()));
    };
    let request = ctx.origin();
    match state.services.authenticate(&request, token).await {
        Ok(auth) => Ok(UiSession {
            chrome: Chrome::for_session(&ctx, &auth),
            origin: auth.origin(&request),
            request,
            auth,
        }),
        Err(ServiceError::Unavailable) => {
            state.metrics.storage_failures.inc();
            Err(error_page(
                &Chrome::anonymous(&ctx),
                &Problem::unavailable(),
            ))
        }
        Err(e @ (ServiceError::SessionLocked | ServiceError::SessionExpired)) => {
            Err(to_login(parts, e.code()))
        }
        Err(_) => Err(to_login(parts, ServiceError::Unauthenticated.code())),
    }
}

impl FromRequestParts<AppState> for UiSession {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        resolve_session(parts, state).await
    }
}

/// A session that finished every login step; others are sent to their step.
#[derive(Debug, Clone)]
pub struct ActiveSession(pub UiSession);

impl FromRequestParts<AppState> for ActiveSession {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let s = resolve_session(parts, state).await?;
        if s.stage() != Stage::Active {
            return Err(redirect(&parts.headers, stage_path(s.stage())));
        }
        Ok(ActiveSession(s))
    }
}

impl std::ops::Deref for ActiveSession {
    type Target = UiSession;
    fn deref(&self) -> &UiSession {
        &self.0
    }
}

/// A submitted form's fields in order; names may repeat (checkboxes,
/// multi-selects).
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    /// An optional field: missing or blank is `None`.
    pub fn opt(&self, name: &str) -> Option<&str> {
        Some(self.get(name).trim()).filter(|v| !v.is_empty())
    }
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

impl From<Vec<(String, String)>> for Fields {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }
}

/// A POSTed form from a browser session whose CSRF token matches. `S` is
/// the session extractor: [`UiSession`] or [`ActiveSession`].
#[derive(Debug, Clone)]
pub struct Posted<S> {
    pub session: S,
    pub form: Fields,
}

impl<S> FromRequest<AppState> for Posted<S>
where
    S: FromRequestParts<AppState, Rejection = Response> + AsRef<UiSession> + Send,
{
    type Rejection = Response;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = S::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let headers_path = parts.uri.path().to_owned();
        let header_token = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let ui = session.as_ref();
        let form =
            Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), state)
                .await;
        let form = match form {
            Ok(Form(pairs)) => Fields(pairs),
            Err(rejection) => {
                return Err(problem_response(
                    &headers,
                    &ui.chrome,
                    &Problem::from(rejection),
                ))
            }
        };
        let expected = &ui.auth.session.csrf_token;
        let sent = form.opt("csrf").map(str::to_owned).or(header_token);
        if !sent.is_some_and(|s| tokens_match(&s, expected)) {
            let path = headers_path.as_str();
            let problem = match state.services.deny_csrf(&ui.origin, path).await {
                Ok(()) => Problem::csrf(),
                Err(e) => Problem::from(e),
            };
            return Err(problem_response(&headers, &ui.chrome, &problem));
        }
        Ok(Posted { session, form })
    }
}

impl AsRef<UiSession> for UiSession {
    fn as_ref(&self) -> &UiSession {
        self
    }
}

impl AsRef<UiSession> for ActiveSession {
    fn as_ref(&self) -> &UiSession {
        &self.0
    }
}
