//! `/cases`: my cases and my unit's cases, the search results, and the
//! new-case form. The lists and results come from the use-cases already
//! filtered by policy; the page shows what it is given.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use precinct_domain::ids::UnitId;
use precinct_domain::org::Unit;
use precinct_domain::{nibrs, Role};
use serde::Deserialize;

use super::{asker, classification_choices, done_flash, status_class, When};
use crate::problem::Problem;
use crate::service::cases::{CaseSummary, OpenCase, PAGE_SIZE};
use crate::service::ServiceError;
use crate::state::AppState;
use crate::ui::admin::{invalid, refused, unit_choices, Choice};
use crate::ui::page::{error_page, failure, pages, render, see_other, service_error_page};
use crate::ui::page::{Chrome, Flash};
use crate::ui::session::{ActiveSession, Fields, Posted};

/// A case in a list or among search results.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub id: String,
    pub number: String,
    pub title: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub offense: String,
    pub offense_description: String,
    pub unit_name: String,
    pub updated: When,
    /// For search results: where the words were found.
    pub matched: String,
}

impl From<&CaseSummary> for CaseRow {
    fn from(c: &CaseSummary) -> Self {
        Self {
            id: c.id.to_string(),
            number: c.number.to_string(),
            title: c.title.clone(),
            status: c.status.label(),
            status_class: status_class(c.status),
            offense: c.offense.clone(),
            offense_description: nibrs::offense(&c.offense)
                .map(|o| o.description.clone())
                .unwrap_or_default(),
            unit_name: c.unit_name.clone(),
            updated: When::from(c.updated_at),
            matched: c.matched.join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "cases/list.html")]
struct ListPage {
    chrome: Chrome,
    flash: Option<Flash>,
    /// `mine` or `unit`.
    scope: &'static str,
    rows: Vec<CaseRow>,
    supervisor: bool,
}

#[derive(Template)]
#[template(path = "cases/search.html")]
struct SearchPage {
    chrome: Chrome,
    flash: Option<Flash>,
    q: String,
    /// None before a search was made (or when it was refused).
    rows: Option<Vec<CaseRow>>,
    total: usize,
    /// More than `total` cases match (the count stops at a cap).
    more: bool,
    /// The search stopped at its budget of candidates: at least `total`.
    incomplete: bool,
    first: usize,
    last: usize,
    previous: Option<String>,
    next: Option<String>,
    supervisor: bool,
}

/// One NIBRS offense group in the select (`<optgroup>`).
#[derive(Debug, Clone)]
struct OffenseGroup {
    label: String,
    offenses: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "cases/new.html")]
struct NewCasePage {
    chrome: Chrome,
    flash: Option<Flash>,
    draft: Draft,
    offenses: Vec<OffenseGroup>,
    classifications: Vec<Choice>,
    units: Vec<Choice>,
}

pages!(ListPage, SearchPage, NewCasePage);

fn bad_address() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        "The address is not valid",
    )
    .with_detail("Go back to the case list and try again.")
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    scope: String,
}

/// `GET /cases` (my cases) and `GET /cases?scope=unit` (my unit's cases).
pub async fn list(
    State(state): State<AppState>,
    session: ActiveSession,
    query: Result<Query<ListQuery>, QueryRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let chrome = session.chrome.at("cases");
    let Ok(Query(q)) = query else {
        return error_page(&chrome, &bad_address());
    };
    let (scope, found) = match q.scope.as_str() {
        "" | "mine" => ("mine", state.services.my_cases(asker(&session)).await),
        "unit" => ("unit", state.services.unit_cases(asker(&session)).await),
        _ => return error_page(&chrome, &bad_address()),
    };
    let rows = match found {
        Ok(list) => list.iter().map(CaseRow::from).collect(),
        Err(e) => return service_error_page(&state, &chrome, e),
    };
    let page = ListPage {
        flash: done_flash(raw.as_deref()),
        scope,
        rows,
        supervisor: session.has_role(Role::Supervisor),
        chrome,
    };
    render(StatusCode::OK, &page)
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: String,
}

fn page_number(s: &str) -> Result<usize, ServiceError> {
    match s.trim() {
        "" => Ok(1),
        s => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| invalid("page", "must be 1 to 1000")),
    }
}

/// `GET /cases/search?q=&page=`: the cases the asker may see that match,
/// counted and paged after policy filtering.
pub async fn search(
    State(state): State<AppState>,
    session: ActiveSession,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Response {
    let chrome = session.chrome.at("cases");
    let Ok(Query(form)) = query else {
        return error_page(&chrome, &bad_address());
    };
    let q = form.q.trim().to_owned();
    let mut page = SearchPage {
        chrome: chrome.clone(),
        flash: None,
        rows: None,
        total: 0,
        more: false,
        incomplete: false,
        first: 0,
        last: 0,
        previous: None,
        next: None,
        supervisor: session.has_role(Role::Supervisor),
        q: q.clone(),
    };
    // An empty box is the search form, not an error.
    if q.is_empty() {
        return render(StatusCode::OK, &page);
    }
    let found = match page_number(&form.page) {
        Ok(n) => state
            .services
            .search_cases(asker(&session), &q, n)
            .await
            .map(|p| (n, p)),
        Err(e) => Err(e),
    };
    let (n, found) = match found {
        Ok(f) => f,
        Err(e @ ServiceError::Unavailable) => return service_error_page(&state, &chrome, e),
        Err(e) => {
            let (status, flash) = failure(&state, e);
            page.flash = Some(flash);
            return render(status, &page);
        }
    };
    let link = |p: usize| format!("/cases/search?q={}&page={p}", urlencoding::encode(&q));
    page.total = found.total;
    page.more = found.more;
    page.incomplete = found.incomplete;
    page.first = (n - 1) * PAGE_SIZE + 1;
    page.last = (n - 1) * PAGE_SIZE + found.results.len();
    page.previous = (n > 1).then(|| link(n - 1));
    page.next = (page.last < found.total || (found.more && found.results.len() == PAGE_SIZE))
        .then(|| link(n + 1));
    page.rows = Some(found.results.iter().map(CaseRow::from).collect());
    render(StatusCode::OK, &page)
}

/// What the new-case form had, to fill it in again after a refusal.
#[derive(Debug, Clone, Default)]
struct Draft {
    title: String,
    offense: String,
    classification: String,
    unit: String,
    narrative: String,
}

impl Draft {
    fn from_form(f: &Fields) -> Self {
        Self {
            title: f.get("title").trim().to_owned(),
            offense: f.get("offense").to_owned(),
            classification: f.get("classification").to_owned(),
            unit: f.get("unit").to_owned(),
            narrative: f.get("narrative").to_owned(),
        }
    }
}

/// The NIBRS offenses grouped as the FBI lists them: Group A by what the
/// crime is against, then Group B.
fn offense_groups(selected: &str) -> Vec<OffenseGroup> {
    let mut groups: Vec<OffenseGroup> = Vec::new();
    for o in nibrs::offenses() {
        let label = if o.group == "A" {
            format!("Group A: crimes against {}", o.crime_against.to_lowercase())
        } else {
            format!("Group {}", o.group)
        };
        let choice = Choice {
            value: o.code.clone(),
            label: if o.federal_only {
                format!("{} {} (federal and tribal only)", o.code, o.description)
            } else {
                format!("{} {}", o.code, o.description)
            },
            selected: o.code.eq_ignore_ascii_case(selected),
        };
        match groups.iter_mut().find(|g| g.label == label) {
            Some(g) => g.offenses.push(choice),
            None => groups.push(OffenseGroup {
                label,
                offenses: vec![choice],
            }),
        }
    }
    groups
}

async fn new_case_page(
    state: &AppState,
    session: &ActiveSession,
    status: StatusCode,
    flash: Option<Flash>,
    mut draft: Draft,
) -> Response {
    let chrome = session.chrome.at("cases");
    let units: Vec<Unit> = match state.services.units_of(&session.auth.user.user).await {
        Ok(u) => u,
        Err(e) => return service_error_page(state, &chrome, e),
    };
    if draft.unit.is_empty() {
        if let [only] = units.as_slice() {
            draft.unit = only.id.to_string();
        }
    }
    let page = NewCasePage {
        flash,
        offenses: offense_groups(&draft.offense),
        classifications: classification_choices(if draft.classification.is_empty() {
            "case"
        } else {
            &draft.classification
        }),
        units: unit_choices(&units, std::slice::from_ref(&draft.unit)),
        draft,
        chrome,
    };
    render(status, &page)
}

/// `GET /cases/new`: the form.
pub async fn new_case(State(state): State<AppState>, session: ActiveSession) -> Response {
    new_case_page(&state, &session, StatusCode::OK, None, Draft::default()).await
}

/// `POST /cases`: opens the case (the asker is its lead) and shows it.
pub async fn open_case(
    State(state): State<AppState>,
    Posted { session, form }: Posted<ActiveSession>,
) -> Response {
    let draft = Draft::from_form(&form);
    let result = async {
        let unit = form
            .opt("unit")
            .ok_or_else(|| invalid("unit", "choose the unit the case belongs to"))?
            .parse::<UnitId>()
            .map_err(|_| invalid("unit", "not a valid unit"))?;
        state
            .services
            .open_case(
                asker(&session),
                OpenCase {
                    title: draft.title.clone(),
                    offense: draft.offense.clone(),
                    classification: form.opt("classification").map(str::to_owned),
                    unit,
                    narrative: draft.narrative.clone(),
                    due: None,
                    lead: None,
                    team: vec![],
                },
            )
            .await
    }
    .await;
    match result {
        Ok(case) => see_other(&format!("/cases/{}?done=case_opened", case.id)),
        Err(e) => {
            let (status, flash) = refused(&state, e);
            new_case_page(&state, &session, status, flash, draft).await
        }
    }
}
