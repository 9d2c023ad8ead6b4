//! Administration pages: users, units, workstations and devices. The
//! use-cases check the administrator role; a refusal is the 403 page. Row
//! buttons answer htmx with the updated row, and a plain form POST with a
//! redirect back to the page.

pub mod devices;
pub mod units;
pub mod users;
pub mod workstations;

use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use precinct_domain::org::Unit;
use precinct_domain::user::User;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use super::page::{failure, htmx_error, render_fragment, Chrome, Flash};
use crate::service::ServiceError;
use crate::state::AppState;

/// One `<option>` or checkbox.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// An id from the address; anything else is "not found".
pub fn parse_id<T: FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

/// Units in tree order (precincts, then their units beneath them), each
/// with its depth.
pub fn unit_tree(units: &[Unit]) -> Vec<(&Unit, usize)> {
    let ids: HashSet<_> = units.iter().map(|u| u.id).collect();
    let mut children: HashMap<_, Vec<&Unit>> = HashMap::new();
    let mut roots = Vec::new();
    for u in units {
        match u.parent.filter(|p| ids.contains(p)) {
            Some(p) => children.entry(p).or_default().push(u),
            None => roots.push(u),
        }
    }
    let by_name = |a: &&Unit, b: &&Unit| a.name.cmp(&b.name);
    roots.sort_by(by_name);
    for list in children.values_mut() {
        list.sort_by(by_name);
    }
    let mut out = Vec::with_capacity(units.len());
    let mut seen = HashSet::new();
    let mut stack: Vec<(&Unit, usize)> = roots.into_iter().rev().map(|u| (u, 0)).collect();
    while let Some((u, depth)) = stack.pop() {
        if !seen.insert(u.id) {
            continue;
        }
        out.push((u, depth));
        if let Some(kids) = children.get(&u.id) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    out
}

/// Units as choices labelled with their path: "Central Precinct › Burglary".
pub fn unit_choices(units: &[Unit], selected: &[String]) -> Vec<Choice> {
    let names: HashMap<_, _> = units.iter().map(|u| (u.id, u)).collect();
    unit_tree(units)
        .into_iter()
        .map(|(u, _)| {
            let mut path = vec![u.name.as_str()];
            let mut cursor = u.parent;
            while let Some(p) = cursor.and_then(|p| names.get(&p)) {
                if path.len() > units.len() {
                    break;
                }
                path.push(p.name.as_str());
                cursor = p.parent;
            }
            path.reverse();
            let value = u.id.to_string();
            Choice {
                selected: selected.contains(&value),
                label: path.join(" › "),
                value,
            }
        })
        .collect()
}

pub fn user_choices(users: &[User], selected: Option<&str>) -> Vec<Choice> {
    let mut list: Vec<&User> = users.iter().collect();
    list.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    list.into_iter()
        .map(|u| {
            let value = u.id.to_string();
            Choice {
                selected: selected == Some(value.as_str()),
                label: format!("{} ({})", u.display_name, u.username.as_str()),
                value,
            }
        })
        .collect()
}

/// `3f9a1c2e…b07d`: enough to recognise a certificate at a glance.
pub fn short_fingerprint(fp: &str) -> String {
    match (fp.get(..8), fp.get(fp.len().saturating_sub(4)..)) {
        (Some(head), Some(tail)) if fp.len() > 12 => format!("{head}…{tail}"),
        _ => fp.to_owned(),
    }
}

/// The answer to a row button: for htmx the updated row (and the message,
/// out of band); otherwise a redirect back with the message's code.
pub fn row_answer<T: Template>(
    headers: &HeaderMap,
    chrome: &Chrome,
    fragment: &T,
    back: &str,
) -> Response {
    if super::page::is_htmx(headers) {
        render_fragment(chrome, fragment)
    } else {
        super::page::see_other(back)
    }
}

/// A row button failed: for htmx the message, otherwise the error page.
pub fn row_failure(
    state: &AppState,
    headers: &HeaderMap,
    chrome: &Chrome,
    e: ServiceError,
) -> Response {
    if super::page::is_htmx(headers) {
        let (status, flash) = failure(state, e);
        htmx_error(status, &flash)
    } else {
        super::page::service_error_page(state, chrome, e)
    }
}

/// A page failed to load what it lists.
pub fn load_failure(state: &AppState, chrome: &Chrome, e: ServiceError) -> Response {
    super::page::service_error_page(state, chrome, e)
}

/// A form's own parse error, as the use-cases would word it.
pub fn invalid(field: &'static str, reason: &str) -> ServiceError {
    ServiceError::Invalid(precinct_domain::DomainError::invalid(field, reason))
}

/// The status and message for a form that was refused.
pub fn refused(state: &AppState, e: ServiceError) -> (StatusCode, Option<Flash>) {
    let (status, flash) = failure(state, e);
    (status, Some(flash))
}
