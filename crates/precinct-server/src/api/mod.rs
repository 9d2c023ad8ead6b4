//! The JSON API under `/api/v1`: the login flow, the caller's own view, and
//! administration. Every handler parses, calls one use-case, and answers
//! JSON or a problem document. The OpenAPI document is built from the same
//! annotations.

mod admin;
mod audit;
mod case_dto;
mod cases;
mod dto;
mod offsite;
mod session;

pub use dto::*;

use axum::extract::{FromRequest, FromRequestParts};
use axum::routing::{get, post, put};
use axum::Router;
use utoipa::OpenApi;

use crate::problem::Problem;
use crate::state::AppState;

/// `Json` whose rejections are problem documents.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct ApiJson<T>(pub T);

/// `Path` whose rejections are problem documents.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct ApiPath<T>(pub T);

/// A file to download: its media type, its name, its bytes.
pub fn download(media_type: &'static str, name: &str, body: Vec<u8>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, media_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", post(session::login).delete(session::logout))
        .route("/session/mfa", post(session::verify_mfa))
        .route("/session/password", post(session::change_password))
        .route("/session/mfa/enrolment", post(session::start_enrolment))
        .route(
            "/session/mfa/enrolment/confirm",
            post(session::confirm_enrolment),
        )
        .route("/me", get(session::me))
        .route("/users", get(admin::list_users).post(admin::create_user))
        .route("/users/{id}", get(admin::get_user))
        .route("/users/{id}/roles", put(admin::set_roles))
        .route("/users/{id}/units", put(admin::set_units))
        .route("/users/{id}/disable", post(admin::disable_user))
        .route("/users/{id}/enable", post(admin::enable_user))
        .route("/users/{id}/unlock", post(admin::unlock_user))
        .route("/users/{id}/reset-mfa", post(admin::reset_mfa))
        .route("/users/{id}/reset-password", post(admin::reset_password))
        .route("/units", get(admin::list_units).post(admin::create_unit))
        .route("/units/{id}/supervisor", put(admin::set_supervisor))
        .route(
            "/workstations",
            get(admin::list_workstations).post(admin::add_workstation),
        )
        .route(
            "/workstations/{id}/disable",
            post(admin::disable_workstation),
        )
        .route("/workstations/{id}/enable", post(admin::enable_workstation))
        .route(
            "/workstations/{id}/certificate",
            put(admin::workstation_certificate),
        )
        .route(
            "/devices",
            get(admin::list_devices).post(admin::enroll_device),
        )
        .route("/devices/{id}/revoke", post(admin::revoke_device))
        .route("/devices/{id}/certificate", put(admin::device_certificate))
        .merge(audit::routes())
        .merge(cases::routes())
        .merge(offsite::routes())
        .route("/openapi.json", get(openapi_json))
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Precinct API", description = "Police case management. Errors are RFC 9457 problem documents with a stable `code`."),
    paths(
        session::login, session::logout, session::verify_mfa, session::change_password,
        session::start_enrolment, session::confirm_enrolment, session::me,
        admin::list_users, admin::create_user, admin::get_user, admin::set_roles, admin::set_units,
        admin::disable_user, admin::enable_user, admin::unlock_user, admin::reset_mfa, admin::reset_password,
        admin::list_units, admin::create_unit, admin::set_supervisor,
        admin::list_workstations, admin::add_workstation, admin::disable_workstation,
        admin::enable_workstation, admin::workstation_certificate,
        admin::list_devices, admin::enroll_device, admin::revoke_device, admin::device_certificate,
        audit::search_events, audit::events_csv, audit::event_proof, audit::checkpoints, audit::consistency,
        cases::list_cases, cases::open_case, cases::search_cases, cases::get_case, cases::case_by_number,
        cases::break_glass, cases::add_entry, cases::add_attachment, cases::get_document, cases::attachment_content,
        cases::amend_entry, cases::add_person, cases::change_status, cases::assign, cases::add_task,
        cases::complete_task, cases::break_glass_reviews, cases::review_break_glass, cases::offenses,
        offsite::set_duty, offsite::correct_duty, offsite::my_grants, offsite::request_grant,
        offsite::approval_queue, offsite::grant_reviews, offsite::get_grant, offsite::step_grant,
        offsite::comment_grant, offsite::review_grant, offsite::notifications, offsite::read_notification,
        offsite::incidents, offsite::work_life, offsite::offsite_report, offsite::paper_files_out,
        offsite::register_paper_file, offsite::paper_file, offsite::check_out, offsite::check_in,
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
