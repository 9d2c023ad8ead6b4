//! Case work in the browser: my cases and my unit's cases, search, a new
//! case, the case page with its forms, the refusal page (with break-glass
//! for supervisors) and the break-glass reviews. Like the JSON API in
//! `api::cases`, each handler parses its input, calls one use-case in
//! `service::cases` and renders; the use-cases decide who sees and does
//! what, and record it.

mod break_glass;
mod case_page;
mod forms;
mod lists;

pub use break_glass::{review_break_glass, reviews};
pub use case_page::{break_glass, show};
pub use forms::{
    add_entry, add_person, add_task, amend_entry, assign, change_status, complete_task,
};
pub use lists::{list, new_case, open_case, search};

use precinct_domain::case::{CaseStatus, Classification};
use precinct_domain::Timestamp;

use super::admin::Choice;
use super::page::Flash;
use super::session::UiSession;
use crate::service::cases::Asker;

/// The session's user, asking from the request's channel.
fn asker(s: &UiSession) -> Asker<'_> {
    Asker {
        user: &s.auth.user.user,
        origin: &s.origin,
    }
}

/// A moment as a page shows it: `2026-12-01 08:00` (UTC), with the full
/// RFC 3339 time for the `<time>` element.
#[derive(Debug, Clone, Default)]
pub struct When {
    pub short: String,
    pub full: String,
}

impl From<Timestamp> for When {
    fn from(t: Timestamp) -> Self {
        let full = t.to_string();
        let short = full
            .get(..16)
            .map_or_else(|| full.clone(), |s| s.replacen('T', " ", 1));
        Self { short, full }
    }
}

/// `2026-12-05` for a deadline: a due day is stored as the end of that day
/// (the next midnight), so the page shows the day it closes.
fn due_day(t: Timestamp) -> String {
    let full = t.minus(std::time::Duration::from_micros(1)).to_string();
    full.get(..10).map_or(full.clone(), str::to_owned)
}

/// The tag class that colours a status.
fn status_class(s: CaseStatus) -> &'static str {
    match s {
        CaseStatus::Active => "tag-ok",
        CaseStatus::Suspended => "tag-warn",
        CaseStatus::Sealed => "tag-off",
        CaseStatus::Open | CaseStatus::Closed => "",
    }
}

fn classification_label(c: Classification) -> &'static str {
    match c {
        Classification::Administrative => "Administrative",
        Classification::Case => "Case material",
        Classification::Restricted => "Restricted",
    }
}

/// The classifications as choices; `selected` is a value or empty.
fn classification_choices(selected: &str) -> Vec<Choice> {
    Classification::ALL
        .into_iter()
        .map(|c| Choice {
            value: c.as_str().to_owned(),
            label: classification_label(c).to_owned(),
            selected: selected == c.as_str(),
        })
        .collect()
}

/// The confirmation after a case form's POST-redirect-GET, from
/// `?done=<code>`; only known codes show anything, so the address cannot
/// inject text.
fn done_flash(query: Option<&str>) -> Option<Flash> {
    let code = query?.split('&').find_map(|kv| kv.strip_prefix("done="))?;
    let text = match code {
        "case_opened" => "The case was opened. You are its lead investigator.",
        "entry_added" => "The entry was added to the documentation.",
        "entry_amended" => "The amendment was saved; the earlier version stays in the history.",
        "person_added" => "The person was added to the case.",
        "status_changed" => "The status was changed.",
        "assignment_saved" => "The assignment was saved.",
        "task_added" => "The task was added.",
        "task_completed" => "The task was marked done.",
        "break_glass_reviewed" => "The opening was marked reviewed.",
        _ => return None,
    };
    Some(Flash::ok(text))
}
