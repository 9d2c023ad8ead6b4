//! The HTML pages (askama templates, htmx where it helps): the login flow,
//! the home page, administration, cases and off-site work. Handlers call
//! the same use-cases as the JSON API; every form works as a plain POST
//! without JavaScript.

mod account;
mod admin;
mod audit;
mod cases;
mod home;
mod login;
mod offsite;
mod page;
mod session;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::problem::Problem;
use crate::state::{AppState, RequestContext};

/// The HTML "not found" page, for a router fallback that answers browsers
/// (which ask for `text/html`) with a page instead of a problem document.
pub async fn not_found_page(req: Request) -> Response {
    match req.extensions().get::<RequestContext>() {
        Some(ctx) => page::not_found(&page::Chrome::anonymous(ctx)),
        None => Problem::not_found().into_response(),
    }
}

pub fn routes() -> Router<AppState> {
    use admin::{devices, units, users, workstations};
    Router::new()
        .route("/", get(login::index))
        .route("/login", get(login::login_page).post(login::login))
        .route("/login/mfa", get(login::mfa_page).post(login::verify_mfa))
        .route("/logout", post(login::logout))
        .route(
            "/password",
            get(account::password_form).post(account::change_password),
        )
        .route(
            "/mfa/enrol",
            get(account::enrolment).post(account::confirm_enrolment),
        )
        .route("/home", get(home::home))
        .route("/admin", get(|| async { page::see_other("/admin/users") }))
        .route("/admin/users", get(users::list).post(users::create))
        .route("/admin/users/{id}", get(users::show))
        .route("/admin/users/{id}/roles", post(users::save_roles))
        .route("/admin/users/{id}/units", post(users::save_units))
        .route("/admin/users/{id}/disable", post(users::disable))
        .route("/admin/users/{id}/enable", post(users::enable))
        .route("/admin/users/{id}/unlock", post(users::unlock))
        .route("/admin/users/{id}/reset-mfa", post(users::reset_mfa))
        .route(
            "/admin/users/{id}/reset-password",
            post(users::reset_password),
        )
        .route("/admin/units", get(units::list).post(units::create))
        .route("/admin/units/{id}/supervisor", post(units::set_supervisor))
        .route(
            "/admin/workstations",
            get(workstations::list).post(workstations::add),
        )
        .route(
            "/admin/workstations/certificate",
            post(workstations::register_certificate),
        )
        .route(
            "/admin/workstations/{id}/enable",
            post(workstations::enable),
        )
        .route(
            "/admin/workstations/{id}/disable",
            post(workstations::disable),
        )
        .route("/admin/devices", get(devices::list).post(devices::enroll))
        .route(
            "/admin/devices/certificate",
            post(devices::register_certificate),
        )
        .route("/admin/devices/{id}/revoke", post(devices::revoke))
        .route("/audit", get(audit::search))
        .route("/audit/events.csv", get(audit::csv))
        .route("/audit/events/{id}", get(audit::event))
        .route("/cases", get(cases::list).post(cases::open_case))
        .route("/cases/new", get(cases::new_case))
        .route("/cases/search", get(cases::search))
        .route("/cases/{id}", get(cases::show))
        .route("/cases/{id}/break-glass", post(cases::break_glass))
        .route("/cases/{id}/entries", post(cases::add_entry))
        .route(
            "/cases/{id}/entries/{entry}/amend",
            post(cases::amend_entry),
        )
        .route("/cases/{id}/people", post(cases::add_person))
        .route("/cases/{id}/status", post(cases::change_status))
        .route("/cases/{id}/assignment", post(cases::assign))
        .route("/cases/{id}/tasks", post(cases::add_task))
        .route(
            "/cases/{id}/tasks/{task}/complete",
            post(cases::complete_task),
        )
        .route("/break-glass", get(cases::reviews))
        .route("/break-glass/{id}/review", post(cases::review_break_glass))
        .route("/offsite", get(offsite::index))
        .route("/offsite/duty", post(offsite::clock))
        .route("/offsite/grants", post(offsite::request))
        .route("/offsite/grants/{id}", get(offsite::grant))
        .route("/offsite/grants/{id}/steps", post(offsite::step))
        .route("/offsite/grants/{id}/comments", post(offsite::comment))
        .route("/offsite/grants/{id}/review", post(offsite::review))
        .route("/offsite/queue", get(offsite::queue))
        .route("/offsite/report", get(offsite::report))
        .route("/offsite/report.csv", get(offsite::report_csv))
        .route("/offsite/report.pdf", get(offsite::report_pdf))
        .route("/notifications", get(offsite::notifications))
        .route("/notifications/{id}/read", post(offsite::read_notification))
        .route("/incidents", get(offsite::incidents))
        .route("/work-life", get(offsite::work_life))
        .route(
            "/paper-files",
            get(offsite::paper_files).post(offsite::register),
        )
        .route("/paper-files/find", get(offsite::find))
        .route("/paper-files/{case}", get(offsite::paper_file))
        .route("/paper-files/{case}/check-out", post(offsite::check_out))
        .route("/paper-files/{case}/check-in", post(offsite::check_in))
}
