//! The audit trail's hot loops on SQLite through `rusqlite` (the same
//! `libsqlite3-sys` that sqlx links): prepared statements and borrowed
//! column values instead of `Any`'s per-row conversions. Writes still take
//! the store's writer turn first, so they queue behind sqlx's writes in
//! this process and behind other processes through SQLite's own lock.

use precinct_audit::event::AuditEvent;
use precinct_audit::merkle::Hash;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{
    frontier_keys, i64_of, plan_append, terms_of, u64_of, ChunkCheck, ChunkChecker, IndexRows,
    RowRef, ENTRY_COLUMNS,
};
use crate::{Result, StoreError};

/// One writer and one reader connection to the database file.
#[derive(Debug)]
pub(crate) struct SqliteNative {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(
        "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; \
         PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 8192;",
    )?;
    Ok(conn)
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Corrupt("a native SQLite connection was poisoned".into())
}

fn nodes_on(conn: &Connection, keys: &[(u32, u64)]) -> Result<HashMap<(u32, u64), Hash>> {
    let mut stmt =
        conn.prepare_cached("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2")?;
    let mut out = HashMap::with_capacity(keys.len());
    for &(level, idx) in keys {
        let idx_i = i64::try_from(idx)
            .map_err(|_| StoreError::Corrupt("log position out of range".into()))?;
        let mut rows = stmt.query(params![i64::from(level), idx_i])?;
        if let Some(row) = rows.next()? {
            let hash: Hash = row
                .get_ref(0)?
                .as_blob()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?
                .try_into()
                .map_err(|_| StoreError::Corrupt("node hash length".into()))?;
            out.insert((level, idx), hash);
        }
    }
    super::check_nodes(out.len(), keys.len())?;
    Ok(out)
}

/// The search index's rows, read as the check goes (a second cursor on
/// the same read transaction).
struct IndexCursor<'s>(rusqlite::Rows<'s>);

impl IndexRows for IndexCursor<'_> {
    fn next_row(&mut self, term: &mut String) -> Result<Option<u64>> {
        let Some(row) = self.0.next()? else {
            return Ok(None);
        };
        term.clear();
        term.push_str(
            row.get_ref(1)?
                .as_str()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        Ok(Some(u64_of(row.get(0)?)?))
    }
}

impl SqliteNative {
    pub(crate) fn open(path: PathBuf) -> Result<Self> {
        Ok(Self {
            writer: Mutex::new(connect(&path)?),
            reader: Mutex::new(connect(&path)?),
            path,
        })
    }

    /// Writes events with their place in the log, in one transaction (one
    /// fsync). The caller holds the store's writer turn.
    pub(crate) fn record_and_sequence(&self, events: &[AuditEvent]) -> Result<()> {
        let mut conn = self.writer.lock().map_err(poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let size: i64 = tx.query_row("SELECT size FROM audit_state WHERE id = 1", [], |r| {
            r.get(0)
        })?;
        let size = u64_of(size)?;
        let frontier = nodes_on(&tx, &frontier_keys(size))?;
        let plan = plan_append(size, frontier, events)?;
        {
            let mut insert = tx.prepare_cached(&format!(
                "INSERT INTO audit_events ({ENTRY_COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ))?;
            for (e, p) in events.iter().zip(&plan.entries) {
                insert.execute(params![
                    p.seq,
                    e.id,
                    e.time_us,
                    e.action,
                    e.outcome,
                    &p.entry[..],
                    &p.leaf[..],
                ])?;
            }
            let mut node = tx
                .prepare_cached("INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
            for (l, i, h) in &plan.nodes {
                node.execute(params![l, i, &h[..]])?;
            }
        }
        tx.execute("UPDATE audit_state SET size = ?1 WHERE id = 1", [plan.size])?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn nodes(&self, keys: &[(u32, u64)]) -> Result<HashMap<(u32, u64), Hash>> {
        let conn = self.reader.lock().map_err(poisoned)?;
        nodes_on(&conn, keys)
    }

    /// Checks the entries `from..to` on a connection of its own, in one
    /// read transaction: every leaf recomputed from its row (fields
    /// borrowed, not copied), and the search index's rows for them.
    pub(crate) fn check_chunk(
        &self,
        (from, to): (u64, u64),
        indexed: u64,
        marks: Vec<u64>,
    ) -> Result<ChunkCheck> {
        let mut conn = connect(&self.path)?;
        // A scan: a small cache that recycles its pages (a large one
        // allocates, and faults in, a fresh page for every page read), and
        // the file mapped rather than copied in.
        conn.execute_batch("PRAGMA cache_size = 64; PRAGMA mmap_size = 1073741824;")?;
        let tx = conn.transaction()?;
        let (lo, hi) = (i64_of(from)?, i64_of(to)?);
        let mut index_stmt = tx.prepare(
            "SELECT seq, term FROM audit_search WHERE seq >= ?1 AND seq < ?2 ORDER BY seq, term",
        )?;
        let index = IndexCursor(index_stmt.query(params![lo, hi])?);
        let mut check = ChunkChecker::new((from, to), indexed, index, marks);
        {
            let mut stmt = tx.prepare(&format!(
                "SELECT {ENTRY_COLUMNS} FROM audit_events WHERE seq >= ?1 AND seq < ?2 ORDER BY seq"
            ))?;
            let mut rows = stmt.query(params![lo, hi])?;
            while let Some(row) = rows.next()? {
                let text = |i: usize| -> Result<&str> {
                    row.get_ref(i)?
                        .as_str()
                        .map_err(|e| StoreError::Corrupt(e.to_string()))
                };
                let blob = |i: usize| -> Result<&[u8]> {
                    row.get_ref(i)?
                        .as_blob()
                        .map_err(|e| StoreError::Corrupt(e.to_string()))
                };
                let entry = RowRef {
                    seq: u64_of(row.get(0)?)?,
                    id: text(1)?,
                    time_us: row.get(2)?,
                    action: text(3)?,
                    outcome: text(4)?,
                    entry: blob(5)?,
                    leaf: blob(6)?,
                };
                if !check.entry(&entry) {
                    break;
                }
            }
        }
        let out = check.finish();
        drop(index_stmt);
        out
    }

    /// Adds the search terms of up to `max` events behind the index's end,
    /// in one transaction. The caller holds the store's writer turn.
    pub(crate) fn index_search(&self, max: u64) -> Result<u64> {
        let mut conn = self.writer.lock().map_err(poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let indexed: i64 = tx.query_row(
            "SELECT indexed FROM audit_search_state WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        let (mut n, mut end) = (0u64, indexed);
        {
            let mut read = tx.prepare_cached(
                "SELECT seq, entry FROM audit_events WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            )?;
            let mut insert =
                tx.prepare_cached("INSERT INTO audit_search (seq, term) VALUES (?1, ?2)")?;
            let mut rows = read.query(params![indexed, i64_of(max)?])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let entry = row
                    .get_ref(1)?
                    .as_blob()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                for term in terms_of(entry)? {
                    insert.execute(params![seq, term])?;
                }
                n += 1;
                end = seq + 1;
            }
        }
        tx.execute(
            "UPDATE audit_search_state SET indexed = ?1 WHERE id = 1",
            [end],
        )?;
        tx.commit()?;
        Ok(n)
    }
}
