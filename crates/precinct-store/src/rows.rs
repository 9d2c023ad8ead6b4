//! Rows by column name, whichever driver read them, and the reads every
//! request makes (a certificate's binding, the session with its user, a
//! case page) run as one batch on the engine's own driver: on SQLite every
//! statement, prepared once, in one read transaction, on the request's own
//! thread; on PostgreSQL one statement on the native pool. The
//! `Any` pool costs a thread hop and a row conversion per statement
//! (decision 0004), which a request of a dozen statements felt.

use sqlx::any::AnyRow;
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::{Native, Result, Store, StoreError};

/// A row's columns by name.
pub(crate) trait Cols {
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
}

fn missing(col: &str) -> StoreError {
    StoreError::Corrupt(format!("column {col} is unexpectedly empty"))
}

pub(crate) fn text(row: &(impl Cols + ?Sized), col: &str) -> Result<String> {
    row.opt_text(col)?.ok_or_else(|| missing(col))
}

pub(crate) fn opt_text(row: &(impl Cols + ?Sized), col: &str) -> Result<Option<String>> {
    row.opt_text(col)
}

pub(crate) fn int(row: &(impl Cols + ?Sized), col: &str) -> Result<i64> {
    row.opt_int(col)?.ok_or_else(|| missing(col))
}

pub(crate) fn opt_int(row: &(impl Cols + ?Sized), col: &str) -> Result<Option<i64>> {
    row.opt_int(col)
}

pub(crate) fn flag(row: &(impl Cols + ?Sized), col: &str) -> Result<bool> {
    Ok(int(row, col)? != 0)
}

impl Cols for AnyRow {
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.try_get::<Option<String>, _>(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get::<Option<i64>, _>(col)?)
    }
}

impl Cols for PgRow {
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.try_get::<Option<String>, _>(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.try_get::<Option<i64>, _>(col)?)
    }
}

impl Cols for rusqlite::Row<'_> {
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(self.get::<_, Option<String>>(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        Ok(self.get::<_, Option<i64>>(col)?)
    }
}

impl Cols for serde_json::Map<String, serde_json::Value> {
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        match self.get(col) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(StoreError::Corrupt(format!("column {col} is not text"))),
        }
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        match self.get(col) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("column {col} is not an integer"))),
        }
    }
}

/// A statement's parameter.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}

impl From<i64> for Param {
    fn from(i: i64) -> Self {
        Param::Int(i)
    }
}

/// One statement of a batch (`$n` placeholders, as everywhere).
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Query {
    pub fn new(sql: impl Into<String>, params: Vec<Param>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::Int(i) => i.to_sql(),
        }
    }
}

/// What a batch does with each row: `(statement index, row)`.
pub(crate) type OnRow<A> = fn(&mut A, usize, &dyn Cols) -> Result<()>;

impl Store {
    /// Runs `queries` in order and hands every row to `on_row`, which
    /// folds it into `acc`.
    pub(crate) async fn read_batch<A: Send + 'static>(
        &self,
        queries: Vec<Query>,
        acc: A,
        on_row: OnRow<A>,
    ) -> Result<A> {
        match (&self.native, &self.pg_reads) {
            (Native::Sqlite(db), _) => {
                db.read_here(move |conn| read_sqlite(conn, &queries, acc, on_row))
            }
            (Native::Postgres(_), Some(pg)) => {
                // One statement, one round trip: each query's rows as a
                // JSON array in a column of its own.
                let (sql, params) = pg_statement(&queries);
                let mut query = sqlx::query(&sql);
                for p in params {
                    query = match p {
                        Param::Text(s) => query.bind(s.as_str()),
                        Param::Int(n) => query.bind(*n),
                    };
                }
                let row = query.fetch_one(pg).await?;
                let mut acc = acc;
                for i in 0..queries.len() {
                    let json: String = row.try_get(i)?;
                    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
                        serde_json::from_str(&json).map_err(|e| {
                            StoreError::Corrupt(format!("a batched read could not be parsed: {e}"))
                        })?;
                    for r in &rows {
                        on_row(&mut acc, i, r)?;
                    }
                }
                Ok(acc)
            }
            (Native::Postgres(_), None) => Err(StoreError::Corrupt(
                "the PostgreSQL read pool is missing".into(),
            )),
        }
    }
}

/// The PostgreSQL statement of a batch, and its parameters in order: the
/// queries' `$n` are renumbered after those of the queries before them.
fn pg_statement(queries: &[Query]) -> (String, Vec<&Param>) {
    let mut sql = String::from("SELECT ");
    let mut params = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(SELECT coalesce(json_agg(t), '[]'::json) FROM (");
        sql.push_str(&renumber(&q.sql, params.len()));
        sql.push_str(&format!(") t)::text AS r{i}"));
        params.extend(q.params.iter());
    }
    (sql, params)
}

/// `$n` becomes `$(n + offset)`.
fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut n = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            n.push(d);
            chars.next();
        }
        match n.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&n),
        }
    }
    out
}

/// The batch in one read transaction, so that its statements see one
/// state of the database.
fn read_sqlite<A>(
    conn: &rusqlite::Connection,
    queries: &[Query],
    mut acc: A,
    on_row: OnRow<A>,
) -> Result<A> {
    let tx = conn.unchecked_transaction()?;
    for (i, q) in queries.iter().enumerate() {
        let mut stmt = tx.prepare_cached(&q.sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(q.params.iter()))?;
        while let Some(row) = rows.next()? {
            on_row(&mut acc, i, row)?;
        }
    }
    tx.commit()?;
    Ok(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_after_the_queries_before() {
        assert_eq!(
            renumber("a = $1 OR b = $1 AND c IN ($2, $10)", 3),
            "a = $4 OR b = $4 AND c IN ($5, $13)"
        );
        let queries = [
            Query::new("SELECT x FROM t WHERE a = $1", vec![Param::Int(1)]),
            Query::new(
                "SELECT y FROM u WHERE b = $1 AND c = $2",
                vec![Param::Int(2), Param::Int(3)],
            ),
        ];
        let (sql, params) = pg_statement(&queries);
        assert!(sql.contains("WHERE a = $1) t)::text AS r0"), "{sql}");
        assert!(
            sql.contains("WHERE b = $2 AND c = $3) t)::text AS r1"),
            "{sql}"
        );
        assert_eq!(params.len(), 3);
    }
}
