//! The audit trail's hot loops on SQLite through `rusqlite` (the same
//! `libsqlite3-sys` that sqlx links): prepared statements and borrowed
//! column values instead of `Any`'s per-row conversions. Writes still take
//! the store's writer turn first, so they queue behind sqlx's writes in
//! this process and behind other processes through SQLite's own lock.

use precinct_audit::event::AuditEvent;
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::tiles::TileKey;
use super::{
    check_tiles, edge_keys, i64_of, plan_append, terms_of, tile_of, u64_of, ChunkCheck,
    ChunkChecker, IndexRows, RowRef, ENTRY_COLUMNS,
};
use crate::{Result, StoreError};

/// One writer and one reader connection to the database file for the
/// audit trail, one for its search index, one that folds the log back into
/// the file, and query-only connections for the reads every request makes.
#[derive(Debug)]
pub(crate) struct SqliteNative {
    path: PathBuf,
    writer: Mutex<Connection>,
    /// The search indexer's writes: not synced on commit (`index_search`).
    indexer: Mutex<Connection>,
    /// Query-only connections for the reads every request makes, run where
    /// they are asked (`read_here`).
    idle: Mutex<Vec<Connection>>,
    reader: Mutex<Connection>,
    /// Folds the write-ahead log back into the database file, away from
    /// the writer (`checkpoints`); stops when this is dropped.
    checkpoints: Option<(flume::Sender<()>, std::thread::JoinHandle<()>)>,
}

/// How often the log is folded back into the database. SQLite would do it
/// inside a commit once the log reaches `wal_autocheckpoint` pages (32 MiB
/// here): that commit, and every read waiting on its audit event, then
/// waited 10-30 ms for the copy and its fsync. A passive checkpoint on a
/// connection of its own blocks neither the writer nor readers.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs passive checkpoints every `CHECKPOINT_EVERY` until `stop` is
/// dropped. A failed one is retried at the next turn; the pool's
/// connections keep SQLite's own checkpoints as the backstop.
fn checkpointer(path: &Path) -> Result<(flume::Sender<()>, std::thread::JoinHandle<()>)> {
    let conn = connect(path)?;
    let (stop, stopped) = flume::bounded::<()>(0);
    let thread = std::thread::Builder::new()
        .name("precinct-sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(flume::RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(error = %e, "a WAL checkpoint failed; retrying");
                }
            }
        })
        .map_err(|e| StoreError::Corrupt(format!("the SQLite checkpointer did not start: {e}")))?;
    Ok((stop, thread))
}

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(
        "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; \
         PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 8192; PRAGMA mmap_size = 1073741824;",
    )?;
    Ok(conn)
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Corrupt("a native SQLite connection was poisoned".into())
}

fn tiles_on(conn: &Connection, keys: &[TileKey]) -> Result<HashMap<TileKey, Vec<u8>>> {
    let mut stmt =
        conn.prepare_cached("SELECT hashes FROM audit_tiles WHERE level = ?1 AND idx = ?2")?;
    let mut out = HashMap::with_capacity(keys.len());
    for &(level, idx) in keys {
        let idx = i64_of(idx)?;
        let mut rows = stmt.query(params![i64::from(level), idx])?;
        if let Some(row) = rows.next()? {
            let (k, v) = tile_of(i64::from(level), idx, row.get(0)?)?;
            out.insert(k, v);
        }
    }
    check_tiles(out.len(), keys.len())?;
    Ok(out)
}

/// A text or blob column's bytes, as stored.
fn bytes_of(v: rusqlite::types::ValueRef<'_>) -> Result<&[u8]> {
    match v {
        rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => Ok(b),
        _ => Err(StoreError::Corrupt(
            "an audit column of the wrong type".into(),
        )),
    }
}

/// The search index's rows, read as the check goes (a second cursor on
/// the same read transaction).
struct IndexCursor<'s>(rusqlite::Rows<'s>);

impl IndexRows for IndexCursor<'_> {
    fn next_row(&mut self, term: &mut Vec<u8>) -> Result<Option<u64>> {
        let Some(row) = self.0.next()? else {
            return Ok(None);
        };
        term.clear();
        term.extend_from_slice(bytes_of(row.get_ref(1)?)?);
        Ok(Some(u64_of(row.get(0)?)?))
    }
}

/// Places events in the log inside the caller's write transaction: the
/// size, the right edge of the tree, the events, the changed tiles, the new
/// size (the bulk seed uses it for its batches too).
pub(crate) fn sequence_on(tx: &Connection, events: &[AuditEvent]) -> Result<()> {
    let size: i64 = tx.query_row("SELECT size FROM audit_state WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    let size = u64_of(size)?;
    let edge = tiles_on(tx, &edge_keys(size))?;
    let plan = plan_append(size, edge, events)?;
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
        let mut tile = tx.prepare_cached(
            "INSERT INTO audit_tiles (level, idx, hashes) VALUES (?1, ?2, ?3) \
             ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
        )?;
        for ((l, i), h) in &plan.tiles {
            tile.execute(params![l, i64_of(*i)?, &h[..]])?;
        }
    }
    tx.execute("UPDATE audit_state SET size = ?1 WHERE id = 1", [plan.size])?;
    Ok(())
}

impl Drop for SqliteNative {
    fn drop(&mut self) {
        let me = std::thread::current().id();
        if let Some((stop, thread)) = self.checkpoints.take() {
            drop(stop);
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
    }
}

impl SqliteNative {
    pub(crate) fn open(path: PathBuf) -> Result<Self> {
        let writer = connect(&path)?;
        // Checkpoints are the checkpointer's, not a commit's.
        writer.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        let indexer = connect(&path)?;
        indexer.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA synchronous = NORMAL;")?;
        Ok(Self {
            writer: Mutex::new(writer),
            indexer: Mutex::new(indexer),
            idle: Mutex::new(Vec::new()),
            reader: Mutex::new(connect(&path)?),
            checkpoints: Some(checkpointer(&path)?),
            path,
        })
    }

    /// Runs a request's read here, on the caller's thread, with a
    /// query-only connection from the pool (opening one if all are in use;
    /// as many stay open as have been in use at once, a few: one a runtime
    /// thread). These reads are a few primary-key look-ups in pages the
    /// database's cache holds (decision 0008), shorter than a hand-off to
    /// another thread: on reader threads, the same reads measured 15-20 %
    /// more CPU a request and fewer reads a second (decision 0004).
    pub(crate) fn read_here<T>(&self, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().map_err(poisoned)?.pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = connect(&self.path)?;
                conn.execute_batch("PRAGMA query_only = ON;")?;
                // Every batch's statements stay prepared (rusqlite keeps 16
                // by default; the batches have about twenty).
                conn.set_prepared_statement_cache_capacity(64);
                conn
            }
        };
        let out = work(&conn);
        // A connection left inside a transaction (a rollback that failed)
        // is dropped, not pooled: its next read would fail to begin.
        if conn.is_autocommit() {
            self.idle.lock().map_err(poisoned)?.push(conn);
        }
        out
    }

    /// Writes events with their place in the log, in one transaction (one
    /// fsync). The caller holds the store's writer turn.
    pub(crate) fn record_and_sequence(&self, events: &[AuditEvent]) -> Result<()> {
        let mut conn = self.writer.lock().map_err(poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        sequence_on(&tx, events)?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn tiles(&self, keys: &[TileKey]) -> Result<HashMap<TileKey, Vec<u8>>> {
        let conn = self.reader.lock().map_err(poisoned)?;
        tiles_on(&conn, keys)
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
                let col = |i: usize| bytes_of(row.get_ref(i)?);
                let entry = RowRef {
                    seq: u64_of(row.get(0)?)?,
                    id: col(1)?,
                    time_us: row.get(2)?,
                    action: col(3)?,
                    outcome: col(4)?,
                    entry: col(5)?,
                    leaf: col(6)?,
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
    ///
    /// The transaction is not synced when it commits (`synchronous =
    /// NORMAL` on this connection): its rows and the index's new end commit
    /// together or not at all, the next audit commit's sync makes them
    /// durable with it, and an index that loses its last batch in a crash
    /// is only behind, which the next run makes good. Synced, each batch
    /// held the writer's turn, and every read waiting on its audit event,
    /// for the length of an fsync.
    pub(crate) fn index_search(&self, max: u64) -> Result<u64> {
        let mut conn = self.indexer.lock().map_err(poisoned)?;
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
