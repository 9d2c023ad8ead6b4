//! Full-text case search under need-to-know (a child of `cases`, whose
//! decision helpers it uses).
//!
//! The index hands back matches within the asker's reach (cases they are a
//! member of, cases of units they supervise), newest first, a batch at a
//! time. Each candidate case is decided by policy (`View`, and for the
//! match's kind `ViewProtected` or a restricted entry's `View`) before it
//! is counted or shown, so a case the asker may not see is never counted.
//! The walk stops once the page is filled and more than `COUNT_CAP` cases
//! are counted: a total above the cap is reported as "more than
//! `COUNT_CAP`" (`more`), below it the total is exact. At most
//! `CASE_BUDGET` distinct cases are decided per search; a walk that stops
//! there before the matches end says so (`incomplete`): its total counts
//! the cases it decided, and more may match.

use precinct_domain::case::{Case, CaseNumber, Classification};
use precinct_domain::document::{Document, DocumentKind};
use precinct_domain::ids::{CaseId, DocumentId};
use precinct_domain::DomainError;
use precinct_policy::Action;
use precinct_store::{SearchScope, TextCursor, TextHit, TextKind};
use std::collections::HashMap;

use super::{Asker, CaseSummary, Connections, PAGE_SIZE};
use crate::service::{ServiceResult, Services, StoreResultExt};

/// A page of search results, counted after policy filtering.
#[derive(Debug, Clone)]
pub struct SearchPage {
    /// How many cases match (exact), or `COUNT_CAP` when `more`.
    pub total: usize,
    /// More than `total` cases match: the count stopped at the cap.
    pub more: bool,
    /// The walk stopped at its budget of decided cases before the matches
    /// ended: at least `total` cases match, perhaps more.
    pub incomplete: bool,
    pub results: Vec<CaseSummary>,
}

/// How far one search walks the index: at most `case_budget` distinct
/// cases decided, the first batch of `first_batch` index rows (later ones
/// double, up to 4,096).
#[derive(Debug, Clone, Copy)]
pub struct SearchWalk {
    pub case_budget: usize,
    pub first_batch: i64,
}

impl Default for SearchWalk {
    fn default() -> Self {
        Self {
            case_budget: CASE_BUDGET,
            first_batch: FIRST_BATCH,
        }
    }
}

/// Totals above this are reported as "more than COUNT_CAP".
pub const COUNT_CAP: usize = 100;
/// Most distinct cases one search decides.
const CASE_BUDGET: usize = 5000;
/// Index rows in the first batch; later batches double, up to the last.
const FIRST_BATCH: i64 = 128;
const LAST_BATCH: i64 = 4096;

fn label(k: TextKind) -> &'static str {
    match k {
        TextKind::Case => "case",
        TextKind::Person | TextKind::ProtectedPerson => "person",
        TextKind::Document | TextKind::RestrictedDocument => "document",
    }
}

/// What the walk knows of one candidate case.
struct Candidate {
    case: Case,
    conn: Connections,
    /// May the asker view the case here?
    view: bool,
    /// Decided lazily, once: protected names, restricted entries.
    protected: Option<bool>,
    restricted: Option<bool>,
    /// Labels of the matches the asker may see, in first-seen order.
    matched: Vec<&'static str>,
}

impl Services {
    /// Whether a match of kind `k` in this case may count for the asker.
    fn may_match(&self, asker: Asker<'_>, c: &mut Candidate, k: TextKind) -> bool {
        match k {
            TextKind::Case | TextKind::Person | TextKind::Document => true,
            TextKind::ProtectedPerson => *c.protected.get_or_insert_with(|| {
                self.decide_on(asker, Action::ViewProtected, &c.case, &c.conn, None, false)
                    .allowed
            }),
            TextKind::RestrictedDocument => *c.restricted.get_or_insert_with(|| {
                let probe = Document {
                    id: DocumentId::new_random(),
                    case_id: c.case.id,
                    kind: DocumentKind::Note,
                    classification: Classification::Restricted,
                    title: String::new(),
                    body: String::new(),
                    author: c.case.created_by,
                    created_at: c.case.created_at,
                    amends: None,
                    attachment: None,
                };
                self.decide_on(asker, Action::View, &c.case, &c.conn, Some(&probe), false)
                    .allowed
            }),
        }
    }

    /// Full-text search (and lookup by case number) over the cases the
    /// asker is connected to. Every hit is decided by policy before it is
    /// counted or paged; person names of protected people and restricted
    /// entries match only for those who may see them. Newest matches first.
    pub async fn search_cases(
        &self,
        asker: Asker<'_>,
        query: &str,
        page: usize,
    ) -> ServiceResult<SearchPage> {
        self.search_cases_walking(asker, query, page, SearchWalk::default())
            .await
    }

    /// `search_cases` with the walk's limits given (tests reach the budget
    /// with a few cases).
    pub async fn search_cases_walking(
        &self,
        asker: Asker<'_>,
        query: &str,
        page: usize,
        walk: SearchWalk,
    ) -> ServiceResult<SearchPage> {
        let q = query.trim();
        if q.is_empty() || q.chars().count() > 200 {
            return Err(DomainError::invalid("q", "must be 1 to 200 characters").into());
        }
        let page = page.max(1);
        let units = self.units_by_id().await?;
        let scope = SearchScope {
            user: Some(asker.user.id),
            units: Self::supervised_units(asker.user.id, &units),
        };
        // Enough cases for the page, and one past the cap for the count.
        let need = (page * PAGE_SIZE).max(COUNT_CAP + 1);
        let mut seen: HashMap<CaseId, Candidate> = HashMap::new();
        let mut order: Vec<CaseId> = Vec::new();
        // The exact case number first, as one more match of its case.
        let mut pending: Vec<TextHit> = Vec::new();
        if let Ok(n) = q.parse::<CaseNumber>() {
            if let Ok(id) = self.store.case_id_by_number(n).await {
                pending.push(TextHit {
                    position: i64::MAX,
                    case_id: id,
                    kind: TextKind::Case,
                });
            }
        }
        let mut cursor = TextCursor::default();
        let mut batch = walk.first_batch.max(1);
        let exhausted = loop {
            let hits = self
                .store
                .search_text(q, &scope, &mut cursor, batch)
                .await
                .or_service("case")?;
            let done = i64::try_from(hits.len()).unwrap_or(i64::MAX) < batch;
            pending.extend(hits);
            let mut new: Vec<CaseId> = pending
                .iter()
                .map(|h| h.case_id)
                .filter(|id| !seen.contains_key(id))
                .collect();
            new.sort();
            new.dedup();
            let heads = self.store.case_heads(&new).await.or_service("case")?;
            for (case, conn, view) in self.with_views(asker, heads, &units) {
                seen.insert(
                    case.id,
                    Candidate {
                        case,
                        conn,
                        view,
                        protected: None,
                        restricted: None,
                        matched: Vec::new(),
                    },
                );
            }
            for h in pending.drain(..) {
                let Some(c) = seen.get_mut(&h.case_id) else {
                    continue;
                };
                if !c.view || !self.may_match(asker, c, h.kind) {
                    continue;
                }
                let l = label(h.kind);
                if c.matched.is_empty() {
                    order.push(h.case_id);
                }
                if !c.matched.contains(&l) {
                    c.matched.push(l);
                }
            }
            if done || order.len() >= need || seen.len() >= walk.case_budget {
                break done;
            }
            batch = (batch * 2).min(LAST_BATCH);
        };
        let more = !exhausted && order.len() > COUNT_CAP;
        let incomplete = !exhausted && !more;
        let total = if more { COUNT_CAP } else { order.len() };
        let shown: Vec<CaseId> = order
            .iter()
            .skip((page - 1) * PAGE_SIZE)
            .take(PAGE_SIZE)
            .copied()
            .collect();
        // A shown case may have matches the walk did not reach: its labels
        // from all of its rows.
        if !exhausted && !shown.is_empty() {
            let rows = self
                .store
                .search_text_in(q, &shown)
                .await
                .or_service("case")?;
            for h in rows {
                if let Some(c) = seen.get_mut(&h.case_id) {
                    let l = label(h.kind);
                    if !c.matched.contains(&l) && self.may_match(asker, c, h.kind) {
                        c.matched.push(l);
                    }
                }
            }
        }
        let results = shown
            .iter()
            .filter_map(|id| seen.get(id))
            .map(|c| Self::summary(&c.case, &units, c.matched.clone()))
            .collect();
        self.list_event(asker, "case.search").await?;
        Ok(SearchPage {
            total,
            more,
            incomplete,
            results,
        })
    }
}
