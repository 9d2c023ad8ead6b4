//! The full-text index of cases and the searches over it.
//!
//! Every row of `case_text` carries, besides its text (`body`), the
//! case's *scope tokens* (`scope`): `c<case>`, `u<unit>` and one `m<user>`
//! for each member, each id as 32 hex digits. A search names the asker's
//! own token and the tokens of the units they supervise, so that the index
//! itself intersects "matches the words" with "is in the asker's reach"
//! (on SQLite FTS5 intersects the two posting lists; on PostgreSQL one GIN
//! index covers both `tsv` and `scope_tsv`), and hands back matches newest
//! first, a batch at a time, instead of every match in the department.
//! On PostgreSQL, whose GIN index does not hand matches back in order,
//! each row's `scope_tsv` also names its bucket of index rows, and a
//! batch is read a few of the newest buckets at a time (`BUCKET_SHIFT`).
//! Writers keep the tokens right: `index_text` computes them from the
//! case's unit and members, and `reindex_scope` rewrites them when the
//! members change.

use precinct_domain::case::Case;
use precinct_domain::ids::{CaseId, UnitId, UserId};
use sqlx::any::AnyRow;

use crate::cases::{case_from_row, placeholders};
use crate::{int, parse, text, Engine, Result, Store, StoreError, WriteTx};

/// One row of the search index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    Case,
    Person,
    ProtectedPerson,
    Document,
    RestrictedDocument,
}

impl TextKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TextKind::Case => "case",
            TextKind::Person => "person",
            TextKind::ProtectedPerson => "protected_person",
            TextKind::Document => "document",
            TextKind::RestrictedDocument => "restricted_document",
        }
    }
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "case" => TextKind::Case,
            "person" => TextKind::Person,
            "protected_person" => TextKind::ProtectedPerson,
            "document" => TextKind::Document,
            "restricted_document" => TextKind::RestrictedDocument,
            _ => return Err(StoreError::Corrupt("unknown search row kind".into())),
        })
    }
}

/// A search hit: which case, what matched, and where in the index (newer
/// rows have larger positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextHit {
    pub position: i64,
    pub case_id: CaseId,
    pub kind: TextKind,
}

/// Which cases a search may look in: those the user is connected to and
/// those of the units they supervise.
#[derive(Debug, Clone, Default)]
pub struct SearchScope {
    pub user: Option<UserId>,
    pub units: Vec<UnitId>,
}

fn hex(u: uuid::Uuid) -> String {
    u.simple().to_string()
}

/// The scope tokens of a case's rows: its own, its unit's and its members'.
pub(crate) fn scope_tokens(
    case: CaseId,
    unit: UnitId,
    members: impl IntoIterator<Item = UserId>,
) -> String {
    let mut out = format!("c{} u{}", hex(case.as_uuid()), hex(unit.as_uuid()));
    for m in members {
        out.push_str(" m");
        out.push_str(&hex(m.as_uuid()));
    }
    out
}

/// The tokens a scope may look in, or None for an empty scope.
fn scope_terms(scope: &SearchScope) -> Option<Vec<String>> {
    let mut terms: Vec<String> = scope
        .user
        .iter()
        .map(|u| format!("m{}", hex(u.as_uuid())))
        .collect();
    terms.extend(scope.units.iter().map(|u| format!("u{}", hex(u.as_uuid()))));
    (!terms.is_empty()).then_some(terms)
}

/// A user's words as an FTS5 query: every word must appear, quoted so that
/// nothing in them is query syntax.
pub(crate) fn fts5_query(q: &str) -> Option<String> {
    let words: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\""))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// FTS5: the words in `body`, any of `terms` in `scope`.
fn fts5_scoped(words: &str, terms: &[String]) -> String {
    let any = terms
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(" OR ");
    format!("body : ({words}) AND scope : ({any})")
}

/// PostgreSQL: any of `terms`, as a `tsquery` of exact lexemes (the tokens
/// are plain hex, nothing in them needs quoting).
fn tsquery_any(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// PostgreSQL numbers the index rows (`text_seq`) and groups them in
/// buckets of `1 << BUCKET_SHIFT` consecutive numbers; every row's
/// `scope_tsv` carries its bucket's token `t<text_seq >> BUCKET_SHIFT>`
/// (migration 0010, which holds the same shift), so that the GIN index
/// can restrict a search to the newest buckets.
const BUCKET_SHIFT: u32 = 15;
/// What a query costs PostgreSQL 15, measured at 1,000,000 cases (2
/// vCPU, docs/benchmarks.md, fourteenth session), to choose between
/// walking on and reading all that is left: each bucket named in a query
/// (the GIN index reads into its posting list), each match read from the
/// heap, the index's work for a query over every bucket with a member's
/// token, and more for each unit's token (a unit's posting list holds a
/// good part of the department's rows), and a query's round trip and plan.
const BUCKET_MS: f64 = 0.4;
const MATCH_MS: f64 = 0.005;
const WHOLE_MS: f64 = 3.0;
const UNIT_MS: f64 = 4.0;
const QUERY_MS: f64 = 1.0;
/// Most buckets in one query.
const MOST_BUCKETS: i64 = 64;

/// Where a walk of the index stands between batches: the position the
/// next batch reads below, and (on PostgreSQL) what the walk has seen.
#[derive(Debug, Default)]
pub struct TextCursor {
    before: Option<i64>,
    walk: BucketWalk,
}

/// What a bucket walk has seen: how many index rows its queries covered
/// and how many matches they found.
#[derive(Debug, Default)]
struct BucketWalk {
    rows: i64,
    found: usize,
    span: i64,
}

impl BucketWalk {
    fn saw(&mut self, rows: i64, found: usize) {
        self.rows += rows;
        self.found += found;
    }

    /// How many buckets the next query below `before` covers for `left`
    /// more matches in a scope with `units` units' tokens, or None to read
    /// all that is left in one query, whichever the matches seen so far
    /// say costs less.
    fn next_span(&mut self, before: i64, left: usize, units: usize) -> Option<i64> {
        let bucket = 1i64 << BUCKET_SHIFT;
        if self.rows == 0 {
            // The newest bucket, and the one before while it is young.
            self.span = if (before - 1) & (bucket - 1) < bucket / 2 {
                2
            } else {
                1
            };
            return Some(self.span);
        }
        // One match more than seen: a word not seen yet is rare, not
        // absent.
        let per_bucket = (self.found as f64 + 1.0) / self.rows as f64 * bucket as f64;
        let rest = per_bucket * (before - 1) as f64 / bucket as f64;
        let left = left as f64;
        let buckets = (1.25 * left / per_bucket).ceil().max(1.0);
        // Queries of at most four times the last span, then MOST_BUCKETS.
        let mut queries = 0.0;
        let (mut span, mut covered) = (self.span, 0.0);
        while covered < buckets {
            span = (span * 4).min(MOST_BUCKETS);
            covered += span as f64;
            queries += 1.0;
        }
        let walk = QUERY_MS * queries + BUCKET_MS * buckets + MATCH_MS * left.min(rest);
        let whole = QUERY_MS + WHOLE_MS + UNIT_MS * units as f64 + MATCH_MS * rest;
        if whole <= walk {
            return None;
        }
        self.span = (buckets as i64).clamp(1, (self.span * 4).min(MOST_BUCKETS));
        Some(self.span)
    }
}

/// The scope tokens of a case as it stands inside `tx`.
async fn current_scope(tx: &mut WriteTx, case: CaseId) -> Result<String> {
    let row = sqlx::query("SELECT unit_id FROM cases WHERE id = $1")
        .bind(case.to_string())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let unit: UnitId = parse(&text(&row, "unit_id")?)?;
    let members = sqlx::query("SELECT user_id FROM case_members WHERE case_id = $1")
        .bind(case.to_string())
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| parse(&text(r, "user_id")?))
        .collect::<Result<Vec<UserId>>>()?;
    Ok(scope_tokens(case, unit, members))
}

/// Adds a row to the index, with the case's scope tokens.
pub(crate) async fn index_text(
    tx: &mut WriteTx,
    case: CaseId,
    kind: TextKind,
    ref_id: &str,
    body: &str,
) -> Result<()> {
    let scope = current_scope(tx, case).await?;
    sqlx::query(
        "INSERT INTO case_text (body, scope, case_id, kind, ref_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(body.to_owned())
    .bind(scope)
    .bind(case.to_string())
    .bind(kind.as_str())
    .bind(ref_id.to_owned())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rewrites the scope tokens of a case's rows (after its members changed).
pub(crate) async fn reindex_scope(tx: &mut WriteTx, engine: Engine, case: CaseId) -> Result<()> {
    let scope = current_scope(tx, case).await?;
    match engine {
        Engine::Postgres => {
            sqlx::query("UPDATE case_text SET scope = $1 WHERE case_id = $2")
                .bind(scope)
                .bind(case.to_string())
                .execute(&mut **tx)
                .await?;
        }
        Engine::Sqlite => {
            // `case_id` is not indexed by FTS5; the case's own token is.
            let rows: Vec<i64> =
                sqlx::query("SELECT rowid AS position FROM case_text WHERE case_text MATCH $1")
                    .bind(format!("scope : \"c{}\"", hex(case.as_uuid())))
                    .fetch_all(&mut **tx)
                    .await?
                    .iter()
                    .map(|r| int(r, "position"))
                    .collect::<Result<_>>()?;
            for rowid in rows {
                sqlx::query("UPDATE case_text SET scope = $1 WHERE rowid = $2")
                    .bind(scope.clone())
                    .bind(rowid)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    Ok(())
}

fn hit_from_row(r: &AnyRow) -> Result<TextHit> {
    Ok(TextHit {
        position: int(r, "position")?,
        case_id: parse(&text(r, "case_id")?)?,
        kind: TextKind::parse(&text(r, "kind")?)?,
    })
}

/// A case's columns without its narrative (read as empty).
const HEAD_COLUMNS: &str = "id, year, seq, title, offense, status, status_before_seal, classification, unit_id, '' AS narrative, due_at, created_by, created_at, updated_at";

impl Store {
    /// Full-text matches within `scope`, newest first: at most `limit`
    /// rows, all below where `cursor` stands (the start for a new
    /// cursor), which moves past them. Each row is one match (a case may
    /// appear once per row of it that matches). Fewer than `limit` rows:
    /// the walk has reached the index's oldest row.
    pub async fn search_text(
        &self,
        q: &str,
        scope: &SearchScope,
        cursor: &mut TextCursor,
        limit: i64,
    ) -> Result<Vec<TextHit>> {
        let Some(terms) = scope_terms(scope) else {
            return Ok(vec![]);
        };
        match self.engine {
            Engine::Sqlite => {
                let Some(words) = fts5_query(q) else {
                    return Ok(vec![]);
                };
                let hits = sqlx::query(
                    "SELECT rowid AS position, case_id, kind FROM case_text \
                     WHERE case_text MATCH $1 AND rowid < $2 ORDER BY rowid DESC LIMIT $3",
                )
                .bind(fts5_scoped(&words, &terms))
                .bind(cursor.before.unwrap_or(i64::MAX))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(hit_from_row)
                .collect::<Result<Vec<_>>>()?;
                cursor.before = hits.last().map(|h| h.position).or(cursor.before);
                Ok(hits)
            }
            Engine::Postgres => {
                self.search_buckets(q, &tsquery_any(&terms), scope.units.len(), cursor, limit)
                    .await
            }
        }
    }

    /// PostgreSQL's walk, newest bucket first (see `BUCKET_SHIFT`): each
    /// query asks the GIN index for the matches in a few buckets, as many
    /// as the matches the walk has seen (in this batch and the ones
    /// before) say the rest of the batch needs; once one query for all
    /// that is left is expected to cost less, it reads them.
    async fn search_buckets(
        &self,
        q: &str,
        scope: &str,
        units: usize,
        cursor: &mut TextCursor,
        limit: i64,
    ) -> Result<Vec<TextHit>> {
        let mut before = match cursor.before {
            Some(b) => b,
            None => {
                let row = sqlx::query("SELECT coalesce(max(text_seq), 0) AS top FROM case_text")
                    .fetch_one(&self.pool)
                    .await?;
                int(&row, "top")? + 1
            }
        };
        let want = usize::try_from(limit).unwrap_or(0);
        let mut out: Vec<TextHit> = Vec::new();
        while out.len() < want && before > 1 {
            let left = want - out.len();
            let walk = &mut cursor.walk;
            let (tsquery, from) = match walk.next_span(before, left, units) {
                Some(span) => {
                    let top = (before - 1) >> BUCKET_SHIFT;
                    let bottom = (top - span + 1).max(0);
                    let buckets = (bottom..=top)
                        .map(|b| format!("t{b}"))
                        .collect::<Vec<_>>()
                        .join(" | ");
                    (format!("({scope}) & ({buckets})"), bottom << BUCKET_SHIFT)
                }
                None => (scope.to_owned(), 0),
            };
            let rows = sqlx::query(
                // `text_seq + 0`: sorting the few matches found beats
                // walking `case_text_seq` backwards through every row.
                "SELECT text_seq AS position, case_id, kind FROM case_text \
                 WHERE tsv @@ plainto_tsquery('simple', $1) AND scope_tsv @@ $2::text::tsquery \
                 AND text_seq < $3 ORDER BY text_seq + 0 DESC LIMIT $4",
            )
            .bind(q.to_owned())
            .bind(tsquery)
            .bind(before)
            .bind(i64::try_from(left).unwrap_or(i64::MAX))
            // Planned for these words and buckets each time.
            .persistent(false)
            .fetch_all(&self.pool)
            .await?;
            let hits = rows.iter().map(hit_from_row).collect::<Result<Vec<_>>>()?;
            // A full batch stops inside the stretch it asked for: the walk
            // has covered it down to the last match only.
            let reached = match hits.last() {
                Some(h) if hits.len() == left => h.position,
                _ => from,
            };
            walk.saw(before - reached, hits.len());
            out.extend(hits);
            before = reached;
        }
        cursor.before = Some(before);
        Ok(out)
    }

    /// Every match of `q` in the given cases (each case and kind once), for
    /// the labels of a page of results.
    pub async fn search_text_in(&self, q: &str, cases: &[CaseId]) -> Result<Vec<TextHit>> {
        let mut out = Vec::new();
        for chunk in cases.chunks(100) {
            let rows = match self.engine {
                Engine::Sqlite => {
                    let Some(words) = fts5_query(q) else {
                        return Ok(vec![]);
                    };
                    // The cases' own tokens as the scope.
                    let terms: Vec<String> = chunk
                        .iter()
                        .map(|c| format!("c{}", hex(c.as_uuid())))
                        .collect();
                    sqlx::query(
                        "SELECT max(rowid) AS position, case_id, kind FROM case_text \
                         WHERE case_text MATCH $1 GROUP BY case_id, kind",
                    )
                    .bind(fts5_scoped(&words, &terms))
                    .fetch_all(&self.pool)
                    .await?
                }
                Engine::Postgres => {
                    // The cases' few rows first, then the words: planned
                    // as one, the words' every match came through GIN
                    // (30-60 ms for two common words), and the cases'
                    // tokens through GIN cost 8 ms for a page of cases
                    // spread over the years.
                    let sql = format!(
                        "WITH rows AS MATERIALIZED (SELECT text_seq, case_id, kind, tsv \
                         FROM case_text WHERE case_id IN ({})) \
                         SELECT max(text_seq) AS position, case_id, kind FROM rows \
                         WHERE tsv @@ plainto_tsquery('simple', $1) GROUP BY case_id, kind",
                        placeholders(2, chunk.len())
                    );
                    let mut query = sqlx::query(&sql).bind(q.to_owned());
                    for c in chunk {
                        query = query.bind(c.to_string());
                    }
                    query.fetch_all(&self.pool).await?
                }
            };
            for r in &rows {
                out.push(hit_from_row(r)?);
            }
        }
        Ok(out)
    }

    /// Cases by id with their members, without the narrative (left empty):
    /// what a policy decision and a result line need.
    /// Missing ids are left out; the order is unspecified.
    pub async fn case_heads(&self, ids: &[CaseId]) -> Result<Vec<Case>> {
        self.cases_as(HEAD_COLUMNS, ids, case_from_row).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_quoted() {
        assert_eq!(fts5_query("Elm st."), Some("\"Elm\" \"st\"".into()));
        assert_eq!(fts5_query("\"x\" OR y*"), Some("\"x\" \"OR\" \"y\"".into()));
        assert_eq!(fts5_query(" -- "), None);
    }

    #[test]
    fn a_bucket_walk_sizes_its_next_query_by_the_matches_seen() {
        const B: i64 = 1 << BUCKET_SHIFT;
        // A walk that has seen `found` matches in `buckets` buckets below
        // `top` (in buckets), after a first query of two.
        let seen = |found: usize, buckets: i64| {
            let mut w = BucketWalk::default();
            w.next_span(200 * B + 10, 128, 0);
            w.saw(buckets * B, found);
            w
        };
        // First query: the newest bucket, and the one before while the
        // newest holds less than half a bucket below `before`.
        assert_eq!(
            BucketWalk::default().next_span(40 * B + 100, 128, 6),
            Some(2)
        );
        assert_eq!(
            BucketWalk::default().next_span(41 * B - 100, 128, 6),
            Some(1)
        );
        // A member's few matches (4.5 a bucket, about 700 in 150 buckets):
        // reading them all costs less than walking 34 buckets.
        assert_eq!(seen(8, 2).next_span(150 * B, 120, 0), None);
        // A captain's six units make that read dearer than the walk,
        // eight buckets next (at most four times the last query's).
        assert_eq!(seen(14, 2).next_span(150 * B, 128, 6), Some(8));
        // Dense (256 in a bucket): one more bucket.
        assert_eq!(seen(256, 1).next_span(150 * B, 128, 6), Some(1));
        // Nothing seen: a rare word, read at once for anyone.
        assert_eq!(seen(0, 2).next_span(150 * B, 128, 0), None);
        assert_eq!(seen(0, 2).next_span(150 * B, 128, 6), None);
        // Long walks grow fourfold up to MOST_BUCKETS a query.
        let mut w = seen(50, 2);
        assert_eq!(w.next_span(1000 * B, 4000, 6), Some(8));
        w.saw(8 * B, 200);
        assert_eq!(w.next_span(992 * B, 4000, 6), Some(32));
        w.saw(32 * B, 800);
        assert_eq!(w.next_span(960 * B, 4000, 6), Some(MOST_BUCKETS));
    }

    #[test]
    fn scope_tokens_are_plain_hex_words() {
        let case = CaseId::new_random();
        let unit = UnitId::new_random();
        let user = UserId::new_random();
        let s = scope_tokens(case, unit, [user]);
        let words: Vec<&str> = s.split(' ').collect();
        assert_eq!(words.len(), 3);
        assert!(words
            .iter()
            .all(|w| w.len() == 33 && w.chars().all(|c| c.is_ascii_alphanumeric())));
        assert_eq!(words[2], format!("m{}", user.as_uuid().simple()));
        let scope = SearchScope {
            user: Some(user),
            units: vec![unit],
        };
        let terms = scope_terms(&scope).unwrap_or_default();
        assert_eq!(
            fts5_scoped("\"w\"", &terms),
            format!(
                "body : (\"w\") AND scope : (\"{}\" OR \"{}\")",
                words[2], words[1]
            )
        );
        assert_eq!(scope_terms(&SearchScope::default()), None);
    }
}
