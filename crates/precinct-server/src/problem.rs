//! RFC 9457 problem details: every API error is one of these, with a stable
//! `code` a client can switch on. Details never echo secrets or personal
//! data back.

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::ServiceError;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type; `/problems/{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code.
    pub code: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, title: &str) -> Self {
        Self {
            type_uri: format!("/problems/{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: None,
            code: code.to_owned(),
        }
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
    pub fn not_found() -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not_found", "Not found")
    }
    pub fn method_not_allowed() -> Self {
        Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
        )
    }
    pub fn csrf() -> Self {
        Problem::new(
            StatusCode::FORBIDDEN,
            "csrf_token_invalid",
            "The form's security token is missing or wrong",
        )
        .with_detail("Reload the page and try again.")
    }
    pub fn unavailable() -> Self {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is unavailable; nothing was changed",
        )
    }
    pub fn unregistered_certificate() -> Self {
        Problem::new(
            StatusCode::FORBIDDEN,
            "unregistered_certificate",
            "The client certificate is not registered to any workstation or device",
        )
        .with_detail(
            "Ask an administrator to register this machine, or connect without a certificate.",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        use ServiceError as E;
        let status = match &e {
            E::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::Conflict(_) => StatusCode::CONFLICT,
            E::NoticeNotAcknowledged => StatusCode::BAD_REQUEST,
            E::InvalidCredentials
            | E::InvalidMfaCode
            | E::Unauthenticated
            | E::SessionLocked
            | E::SessionExpired => StatusCode::UNAUTHORIZED,
            E::AccountLocked | E::LoginIncomplete | E::WrongStage | E::Forbidden(_) => {
                StatusCode::FORBIDDEN
            }
            E::WrongCurrentPassword => StatusCode::FORBIDDEN,
            E::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            E::Denied(_) => StatusCode::FORBIDDEN,
            E::Integrity => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let title = match &e {
            E::Invalid(_) => "The request is not valid".to_owned(),
            other => other.to_string(),
        };
        let p = Problem::new(status, e.code(), &title);
        match &e {
            E::Invalid(d) => p.with_detail(d.to_string()),
            _ => p,
        }
    }
}

impl From<precinct_domain::DomainError> for Problem {
    fn from(e: precinct_domain::DomainError) -> Self {
        ServiceError::Invalid(e).into()
    }
}

impl From<JsonRejection> for Problem {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The body must be JSON (Content-Type: application/json)",
            ),
            JsonRejection::JsonSyntaxError(_) => Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "The body is not well-formed JSON",
            ),
            JsonRejection::JsonDataError(e) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "The body does not match the expected shape",
            )
            .with_detail(data_error_detail(&e.body_text())),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                too_large()
            }
            other => Problem::new(
                other.status(),
                "bad_request",
                "The request body could not be read",
            ),
        }
    }
}

impl From<FormRejection> for Problem {
    fn from(r: FormRejection) -> Self {
        match r {
            FormRejection::InvalidFormContentType(_) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The body must be a form (application/x-www-form-urlencoded)",
            ),
            FormRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                too_large()
            }
            other => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_form",
                "The form is not valid",
            )
            .with_detail(data_error_detail(&other.body_text())),
        }
    }
}

impl From<PathRejection> for Problem {
    fn from(_: PathRejection) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "The id in the address is not valid",
        )
    }
}

impl From<QueryRejection> for Problem {
    fn from(_: QueryRejection) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "The query string is not valid",
        )
    }
}

fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "The request body is too large",
    )
}

/// serde's message names the field and what was expected; it can also
/// quote the offending value, which may be a secret, so that part is cut.
fn data_error_detail(text: &str) -> String {
    let t = text.split_once(": ").map_or(text, |(_, rest)| rest);
    let t = t.split(" at line ").next().unwrap_or(t);
    match t.find("invalid type:").or_else(|| t.find("invalid value:")) {
        Some(i) => {
            let (head, tail) = t.split_at(i);
            let expected = tail.split_once(", expected").map_or("", |(_, e)| e);
            format!("{head}invalid value, expected{expected}")
        }
        None => t.to_owned(),
    }
}

pub type ApiResult<T> = Result<T, Problem>;
