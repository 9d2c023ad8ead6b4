//! Off-site work in the browser: duty status and grant requests, a grant's
//! page with its thread and the steps the asker may take, the approval
//! queue, notifications, compliance incidents, the work-life chart, the
//! records room's paper files and the off-site access report. Like the
//! JSON API in `api::offsite`, each handler parses its input, calls one
//! use-case in `service::offsite` or `service::records` and renders.

mod grants;
mod notices;
mod paper;
mod report;
mod work_life;

pub use grants::{clock, comment, grant, index, queue, request, review, step};
pub use notices::{incidents, notifications, read_notification};
pub use paper::{check_in, check_out, find, paper_file, paper_files, register};
pub use report::{report, report_csv, report_pdf};
pub use work_life::work_life;

use precinct_domain::ids::{CaseId, UserId};
use precinct_domain::offsite::{GrantKind, GrantStatus};
use precinct_domain::{DomainError, Timestamp};
use std::collections::HashMap;

use super::page::Flash;
use super::session::UiSession;
use crate::service::auditor::parse_instant;
use crate::service::cases::Asker;
use crate::service::ServiceResult;
use crate::state::AppState;

/// The session's user, asking from the request's channel.
fn asker(s: &UiSession) -> Asker<'_> {
    Asker {
        user: &s.auth.user.user,
        origin: &s.origin,
    }
}

fn kind_label(k: GrantKind) -> &'static str {
    match k {
        GrantKind::Administrative => "Administrative task",
        GrantKind::OffDutyInvestigation => "Off-duty investigation",
    }
}

fn status_label(s: GrantStatus) -> &'static str {
    match s {
        GrantStatus::Pending => "Waiting for approval",
        GrantStatus::InfoRequested => "Information requested",
        GrantStatus::Approved => "Approved",
        GrantStatus::Denied => "Denied",
        GrantStatus::Revoked => "Revoked",
        GrantStatus::Withdrawn => "Withdrawn",
    }
}

/// The tag class that colours a grant's status.
fn status_class(s: GrantStatus, in_force: bool) -> &'static str {
    match s {
        GrantStatus::Approved if in_force => "tag-ok",
        GrantStatus::Pending | GrantStatus::InfoRequested => "tag-warn",
        _ => "tag-off",
    }
}

/// A time a person types into a `datetime-local` field (`2026-12-03T18:00`,
/// read as UTC) or a date, as an instant. Blank is `None`.
fn typed_instant(field: &'static str, s: &str) -> Result<Option<Timestamp>, DomainError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let utc = match s.split_once('T') {
        Some((_, t)) if t.len() == 5 => format!("{s}:00Z"),
        Some(_) if !s.ends_with(['Z', 'z']) => format!("{s}Z"),
        _ => s.to_owned(),
    };
    parse_instant(field, &utc, true).map(|us| Some(Timestamp::from_micros(us)))
}

/// `2026-12-03T18:00`, the value a `datetime-local` field shows.
fn local_value(t: Timestamp) -> String {
    t.to_string().get(..16).unwrap_or_default().to_owned()
}

/// Display names by user id, for the lists that show who.
async fn names(state: &AppState) -> ServiceResult<HashMap<UserId, String>> {
    state.services.user_names().await
}

/// Case numbers by id, for the lists of grants and files.
async fn case_numbers(state: &AppState, ids: &[CaseId]) -> ServiceResult<HashMap<CaseId, String>> {
    state.services.case_numbers(ids).await
}

/// The confirmation after an off-site form's POST-redirect-GET, from
/// `?done=<code>`; only known codes show anything, so the address cannot
/// inject text.
fn done_flash(query: Option<&str>) -> Option<Flash> {
    let code = query?.split('&').find_map(|kv| kv.strip_prefix("done="))?;
    let text = match code {
        "requested" => "Your request was sent to your supervisors. It takes effect once one of them approves it.",
        "administrative" => "Your administrative task is in force: administrative paperwork only, read-only.",
        "clocked_in" => "You are clocked in: on duty.",
        "clocked_out" => "You are clocked out: off duty.",
        "approve" => "The request was approved; the requester was told.",
        "deny" => "The request was denied; the requester was told why.",
        "ask_info" => "Your question was sent to the requester.",
        "answer" => "Your answer was sent; the request waits for a decision again.",
        "withdraw" => "The request was withdrawn.",
        "revoke" => "The grant was revoked; it has ended.",
        "commented" => "The comment was added to the thread.",
        "reviewed" => "The grant was marked reviewed.",
        "read" => "The notification was marked read.",
        "registered" => "The paper file was registered.",
        "checked_out" => "The paper file was checked out.",
        "checked_in" => "The paper file was checked back in.",
        _ => return None,
    };
    Some(Flash::ok(text))
}
