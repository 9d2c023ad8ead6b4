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
//! Writers keep the tokens right: `index_text` computes them from the
//! case's unit and members, and `reindex_scope` rewrites them when the
//! members change.

use precinct_domain::case::Case;
use precinct_domain::ids::{CaseId, UnitId, UserId};
use sqlx::any::AnyRow;

use crate::cases::case_from_row;
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

/// `$start, $start+1, ...` for `n` values.
fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
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
    /// rows, all before `before` (a position from an earlier batch) when
    /// given. Each row is one match (a case may appear once per row of it
    /// that matches).
    pub async fn search_text(
        &self,
        q: &str,
        scope: &SearchScope,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<TextHit>> {
        let Some(terms) = scope_terms(scope) else {
            return Ok(vec![]);
        };
        let before = before.unwrap_or(i64::MAX);
        let query = match self.engine {
            Engine::Sqlite => {
                let Some(words) = fts5_query(q) else {
                    return Ok(vec![]);
                };
                sqlx::query(
                    "SELECT rowid AS position, case_id, kind FROM case_text \
                     WHERE case_text MATCH $1 AND rowid < $2 ORDER BY rowid DESC LIMIT $3",
                )
                .bind(fts5_scoped(&words, &terms))
            }
            Engine::Postgres => sqlx::query(
                "SELECT text_seq AS position, case_id, kind FROM case_text \
                 WHERE tsv @@ plainto_tsquery('simple', $1) AND scope_tsv @@ $2::text::tsquery \
                 AND text_seq < $3 ORDER BY text_seq DESC LIMIT $4",
            )
            .bind(q.to_owned())
            .bind(tsquery_any(&terms))
            // Planned for these words each time: a plan cached for a rare
            // word walks `text_seq` wastefully for a common one and back.
            .persistent(false),
        };
        query
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(hit_from_row)
            .collect()
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
                    let sql = format!(
                        "SELECT max(text_seq) AS position, case_id, kind FROM case_text \
                         WHERE tsv @@ plainto_tsquery('simple', $1) AND case_id IN ({}) \
                         GROUP BY case_id, kind",
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
