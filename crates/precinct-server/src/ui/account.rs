//! The user's own credentials: changing the password (at first login, or
//! later with the current one) and enrolling an authenticator app, whose
//! recovery codes are shown exactly once.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use precinct_domain::session::Stage;
use secrecy::SecretString;

use super::page::{
    failure, pages, redirect, render, see_other, service_error_page, stage_path, Chrome, Flash,
};
use super::session::{Posted, UiSession};
use crate::service::accounts::EnrolmentStart;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    chrome: Chrome,
    /// Logged in already (not the first-login step): ask the current one.
    ask_current: bool,
    flash: Option<Flash>,
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    qr_svg: String,
    secret: String,
    secret_groups: Vec<String>,
    flash: Option<Flash>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    chrome: Chrome,
    flash: Option<Flash>,
    codes: Vec<String>,
}

pages!(PasswordPage, EnrolPage, RecoveryCodesPage);

fn may_change_password(stage: Stage) -> bool {
    matches!(stage, Stage::ChangePassword | Stage::Active)
}

fn password_page(session: UiSession, status: StatusCode, flash: Option<Flash>) -> Response {
    render(
        status,
        &PasswordPage {
            ask_current: session.stage() == Stage::Active,
            chrome: session.chrome.at("password"),
            flash,
        },
    )
}

pub async fn password_form(session: UiSession) -> Response {
    if !may_change_password(session.stage()) {
        return see_other(stage_path(session.stage()));
    }
    password_page(session, StatusCode::OK, None)
}

pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted { session, form }: Posted<UiSession>,
) -> Response {
    if !may_change_password(session.stage()) {
        return redirect(&headers, stage_path(session.stage()));
    }
    if form.get("new_password") != form.get("confirm_password") {
        let flash = Flash::error("The two new passwords are not the same. Type them again.");
        return password_page(session, StatusCode::UNPROCESSABLE_ENTITY, Some(flash));
    }
    let current = form
        .opt("current_password")
        .map(|p| SecretString::from(p.to_owned()));
    let new = SecretString::from(form.get("new_password").to_owned());
    match state
        .services
        .change_password(&session.auth, &session.request, current.as_ref(), &new)
        .await
    {
        Ok(Stage::Active) if session.stage() == Stage::Active => {
            see_other("/home?done=password_changed")
        }
        Ok(next) => see_other(stage_path(next)),
        Err(e) => {
            let (status, flash) = failure(&state, e);
            password_page(session, status, Some(flash))
        }
    }
}

/// The otpauth URI as an inline SVG QR code (our own markup, safe to embed).
fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    // The XML declaration has no place inside an HTML document.
    let start = svg.find("<svg")?;
    Some(svg[start..].replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code for your authenticator app\" ",
        1,
    ))
}

/// `JBSW Y3DP EHPK 3PXP`: easier to type from the screen. The groups are
/// set apart by CSS, so the text copies without spaces.
fn groups(secret: &str) -> Vec<String> {
    secret
        .chars()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().collect())
        .collect()
}

fn enrol_page(
    session: UiSession,
    start: EnrolmentStart,
    status: StatusCode,
    flash: Option<Flash>,
) -> Response {
    render(
        status,
        &EnrolPage {
            chrome: session.chrome,
            qr_svg: qr_svg(&start.otpauth_uri).unwrap_or_default(),
            secret_groups: groups(&start.secret_base32),
            secret: start.secret_base32,
            flash,
        },
    )
}

pub async fn enrolment(State(state): State<AppState>, session: UiSession) -> Response {
    if session.stage() != Stage::EnrolMfa {
        return see_other(stage_path(session.stage()));
    }
    match state.services.start_enrolment(&session.auth).await {
        Ok(start) => enrol_page(session, start, StatusCode::OK, None),
        Err(e) => service_error_page(&state, &session.chrome, e),
    }
}

pub async fn confirm_enrolment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted { session, form }: Posted<UiSession>,
) -> Response {
    if session.stage() != Stage::EnrolMfa {
        return redirect(&headers, stage_path(session.stage()));
    }
    match state
        .services
        .confirm_enrolment(&session.auth, &session.request, form.get("code").trim())
        .await
    {
        Ok(codes) => {
            let mut chrome = session.chrome;
            chrome.active = true;
            render(
                StatusCode::OK,
                &RecoveryCodesPage {
                    chrome,
                    flash: None,
                    codes,
                },
            )
        }
        Err(e) => {
            let (status, flash) = failure(&state, e);
            // Show the same secret again (it stays with the session).
            match state.services.start_enrolment(&session.auth).await {
                Ok(start) => enrol_page(session, start, status, Some(flash)),
                Err(e) => service_error_page(&state, &session.chrome, e),
            }
        }
    }
}
