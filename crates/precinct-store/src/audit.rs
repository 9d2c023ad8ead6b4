//! The audit trail's storage: events, each written once with its place in
//! the Merkle log in the same transaction as the change it records; the
//! tree's hashes, in tiles, that proofs read; the search index by user and
//! case; and signed checkpoints. No code path updates or deletes an event.

use precinct_audit::event::{AuditEvent, Fields};
use precinct_audit::merkle::{self, CompactRange, Hash};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row};
use std::borrow::Cow;
use std::collections::HashMap;

mod native_pg;
mod native_sqlite;
mod tiles;

pub(crate) use native_pg::sequence_on as sequence_on_postgres;
pub(crate) use native_sqlite::sequence_on as sequence_on_sqlite;
pub(crate) use native_sqlite::SqliteNative;
use tiles::{Edge, TileKey};

/// Full tiles kept in memory, by key (see `Store::nodes`).
pub(crate) type TileCache = HashMap<TileKey, std::sync::Arc<[u8]>>;

use crate::{int, text, Engine, Native, Result, Store, StoreError};

/// An event's row: its place in the log, the columns searches filter on,
/// the event itself (its canonical encoding), and its leaf hash.
pub(crate) const ENTRY_COLUMNS: &str = "seq, id, time_us, action, outcome, entry, leaf_hash";
const ENTRY_COLUMN_COUNT: usize = 7;
/// Full tiles above the lowest level are kept in memory once read: they
/// never change, and most proofs share them (a 10,000,000-entry log has
/// about 10,000, 10 MB), up to this many.
const TILE_CACHE_MAX: usize = 1 << 16;
/// Events indexed per transaction when a search brings the index up to date.
const SEARCH_CATCH_UP: u64 = 20_000;
/// Rows per multi-row INSERT: stays under SQLite's bind limit.
const ROWS_PER_INSERT: usize = 20;
/// Serialises sequencers on PostgreSQL (any constant both sides agree on).
pub(crate) const SEQUENCER_LOCK: i64 = 0x5052_4543_494e_4354;

/// An entry of the log as stored: its place and its event.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub seq: u64,
    pub event: AuditEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    /// The size of the checkpoint before this one (0 for the first).
    pub previous: u64,
    pub root: Vec<u8>,
    pub note: String,
    pub signed_at: i64,
}

/// Which events an auditor asks for. Every field narrows the search.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub actor_id: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
}

fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let inner: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", inner.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn u64_of(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative log position".into()))
}

pub(crate) fn i64_of(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt("log position out of range".into()))
}

/// The search index's terms for an event: who acted, and on what.
pub(crate) fn search_terms(
    actor_id: Option<&str>,
    object_type: Option<&str>,
    object_id: Option<&str>,
) -> impl Iterator<Item = String> {
    let actor = actor_id.map(|a| format!("actor:{a}"));
    let object = match (object_type, object_id) {
        (Some(t), Some(i)) => Some(format!("object:{t}:{i}")),
        _ => None,
    };
    actor.into_iter().chain(object)
}

/// The filter fields of an event, as plain text.
struct Plain<'a> {
    id: Cow<'a, str>,
    time_us: i64,
    actor_id: Option<Cow<'a, str>>,
    action: Cow<'a, str>,
    object_type: Option<Cow<'a, str>>,
    object_id: Option<Cow<'a, str>>,
    outcome: Cow<'a, str>,
}

impl<'a> Plain<'a> {
    /// From the canonical bytes; None if they are not a canonical encoding.
    fn of(entry: &'a [u8]) -> Option<Self> {
        let f = Fields::of(entry)?;
        if !f.escaped {
            return Some(Plain {
                id: f.id.into(),
                time_us: f.time_us,
                actor_id: f.actor_id.map(Cow::from),
                action: f.action.into(),
                object_type: f.object_type.map(Cow::from),
                object_id: f.object_id.map(Cow::from),
                outcome: f.outcome.into(),
            });
        }
        // Rare: escapes in a value. Decode the whole event.
        let e: AuditEvent = serde_json::from_slice(entry).ok()?;
        Some(Plain {
            id: e.id.into(),
            time_us: e.time_us,
            actor_id: e.actor_id.map(Cow::from),
            action: e.action.into(),
            object_type: e.object_type.map(Cow::from),
            object_id: e.object_id.map(Cow::from),
            outcome: e.outcome.into(),
        })
    }

    /// Whether a search-index term (as stored: `search_terms`) is one of
    /// this event's.
    fn has_term(&self, term: &[u8]) -> bool {
        if let Some(a) = term.strip_prefix(b"actor:") {
            return self.actor_id.as_deref().map(str::as_bytes) == Some(a);
        }
        match (
            term.strip_prefix(b"object:"),
            self.object_type.as_deref(),
            self.object_id.as_deref(),
        ) {
            (Some(rest), Some(t), Some(i)) => rest
                .strip_prefix(t.as_bytes())
                .and_then(|r| r.strip_prefix(b":"))
                .is_some_and(|r| r == i.as_bytes()),
            _ => false,
        }
    }

    fn terms(&self) -> usize {
        usize::from(self.actor_id.is_some())
            + usize::from(self.object_type.is_some() && self.object_id.is_some())
    }
}

/// An event's row as read for checking: the filter columns (text as its
/// bytes: compared, never decoded), the canonical bytes, and the stored
/// leaf hash.
pub(crate) struct RowRef<'a> {
    pub seq: u64,
    pub id: &'a [u8],
    pub time_us: i64,
    pub action: &'a [u8],
    pub outcome: &'a [u8],
    pub entry: &'a [u8],
    pub leaf: &'a [u8],
}

/// The search terms of an event's canonical bytes.
pub(crate) fn terms_of(entry: &[u8]) -> Result<Vec<String>> {
    let p = Plain::of(entry)
        .ok_or_else(|| StoreError::Corrupt("an audit event is not in its encoding".into()))?;
    Ok(search_terms(
        p.actor_id.as_deref(),
        p.object_type.as_deref(),
        p.object_id.as_deref(),
    )
    .collect())
}

/// What checking a chunk of the log found: the compact range of the leaves
/// recomputed from its events (perfect subtrees, largest first), the same
/// at each size asked for inside the chunk, and the first problem, if any.
#[derive(Debug, Clone, Default)]
pub struct ChunkCheck {
    pub range: Vec<(u32, Hash)>,
    pub marks: Vec<(u64, Vec<(u32, Hash)>)>,
    pub problem: Option<ChunkProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkProblem {
    /// Entry `seq` is missing; the next one present is `next`.
    Gap { seq: u64, next: u64 },
    /// The event at `seq` no longer hashes to the leaf written with it.
    Changed { seq: u64, event_id: String },
    /// The search index's entries for `seq` differ from its event.
    SearchIndex { seq: u64 },
}

/// The search index's rows for a chunk, by (seq, term), read one at a time
/// into a buffer the checker keeps (no allocation per row).
pub(crate) trait IndexRows {
    /// The next row's seq, its term's bytes written into `term`; None at
    /// the end.
    fn next_row(&mut self, term: &mut Vec<u8>) -> Result<Option<u64>>;
}

/// Checks entries fed in log order against what the log should hold.
pub(crate) struct ChunkChecker<I: IndexRows> {
    from: u64,
    to: u64,
    tree: CompactRange,
    marks: std::iter::Peekable<std::vec::IntoIter<u64>>,
    indexed: u64,
    next: u64,
    index: I,
    /// The index row read but not yet matched: its seq, and its term.
    pending: Option<u64>,
    term: Vec<u8>,
    error: Option<StoreError>,
    out: ChunkCheck,
}

impl<I: IndexRows> ChunkChecker<I> {
    /// `index`: the search index's rows for `from..to`, by (seq, term);
    /// `marks`: sizes in `from+1..=to` to report the range at, ascending.
    pub(crate) fn new((from, to): (u64, u64), indexed: u64, mut index: I, marks: Vec<u64>) -> Self {
        let mut term = Vec::with_capacity(128);
        let (pending, error) = match index.next_row(&mut term) {
            Ok(p) => (p, None),
            Err(e) => (None, Some(e)),
        };
        Self {
            from,
            to,
            tree: CompactRange::default(),
            marks: marks.into_iter().peekable(),
            indexed,
            next: from,
            index,
            pending,
            term,
            error,
            out: ChunkCheck::default(),
        }
    }

    fn fail(&mut self, p: ChunkProblem) -> bool {
        self.out.problem = Some(p);
        false
    }

    /// Checks one entry; false once a problem is found (stop feeding).
    pub(crate) fn entry(&mut self, row: &RowRef<'_>) -> bool {
        let seq = row.seq;
        if seq != self.next {
            return self.fail(ChunkProblem::Gap {
                seq: self.next,
                next: seq,
            });
        }
        let leaf = merkle::leaf_hash(row.entry);
        let plain = Plain::of(row.entry).filter(|p| {
            p.id.as_bytes() == row.id
                && p.time_us == row.time_us
                && p.action.as_bytes() == row.action
                && p.outcome.as_bytes() == row.outcome
        });
        let Some(e) = plain.filter(|_| leaf.as_slice() == row.leaf) else {
            return self.fail(ChunkProblem::Changed {
                seq,
                event_id: String::from_utf8_lossy(row.id).into_owned(),
            });
        };
        // Index rows for earlier places point at nothing.
        if let Some(at) = self.pending.filter(|s| *s < seq) {
            return self.fail(ChunkProblem::SearchIndex { seq: at });
        }
        let mut found = 0usize;
        while self.pending == Some(seq) {
            if !e.has_term(&self.term) {
                return self.fail(ChunkProblem::SearchIndex { seq });
            }
            found += 1;
            match self.index.next_row(&mut self.term) {
                Ok(p) => self.pending = p,
                Err(err) => {
                    self.error = Some(err);
                    return false;
                }
            }
        }
        let expected = e.terms();
        // Behind the index's end every term must be there; past it, the
        // indexer may be part way.
        if (seq < self.indexed && found != expected) || found > expected {
            return self.fail(ChunkProblem::SearchIndex { seq });
        }
        self.tree.append(leaf);
        self.next += 1;
        if self.marks.next_if_eq(&self.next).is_some() {
            self.out
                .marks
                .push((self.next, self.tree.subtrees().to_vec()));
        }
        true
    }

    pub(crate) fn finish(mut self) -> Result<ChunkCheck> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        debug_assert_eq!(self.from + self.tree.size(), self.next);
        self.out.range = self.tree.subtrees().to_vec();
        if self.out.problem.is_none() {
            if self.next != self.to {
                let (seq, next) = (self.next, self.to);
                self.fail(ChunkProblem::Gap { seq, next });
            } else if let Some(seq) = self.pending.take() {
                self.fail(ChunkProblem::SearchIndex { seq });
            }
        }
        Ok(self.out)
    }
}

fn entry_from_row(row: &AnyRow) -> Result<LogEntry> {
    Ok(LogEntry {
        seq: u64_of(int(row, "seq")?)?,
        event: event_from_row(row)?,
    })
}

/// The event of a row, from its canonical encoding.
fn event_from_row(row: &AnyRow) -> Result<AuditEvent> {
    let entry: Vec<u8> = row.try_get("entry")?;
    serde_json::from_slice(&entry)
        .map_err(|_| StoreError::Corrupt("an audit event is not in its encoding".into()))
}

/// Gives events their place in the log inside the caller's write
/// transaction: they commit or vanish with the change they record. On
/// PostgreSQL an advisory lock makes one transaction at a time, across every
/// server, the sequencer; it is held only from here to the commit.
pub(crate) async fn sequence_in(
    tx: &mut crate::WriteTx,
    engine: Engine,
    events: &[AuditEvent],
) -> Result<()> {
    let conn: &mut AnyConnection = tx;
    if engine == Engine::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SEQUENCER_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    // The lock above (PostgreSQL) or the write lock `begin_write` took
    // (SQLite) makes this size the one to append at.
    let row = sqlx::query("SELECT size FROM audit_state WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let size = u64_of(int(&row, "size")?)?;
    let edge = tiles_in(conn, &edge_keys(size)).await?;
    let plan = plan_append(size, edge, events)?;
    for (chunk, places) in events
        .chunks(ROWS_PER_INSERT)
        .zip(plan.entries.chunks(ROWS_PER_INSERT))
    {
        let sql = format!(
            "INSERT INTO audit_events ({ENTRY_COLUMNS}) VALUES {}",
            placeholders(chunk.len(), ENTRY_COLUMN_COUNT)
        );
        let mut q = sqlx::query::<Any>(&sql);
        for (e, p) in chunk.iter().zip(places) {
            q = q
                .bind(p.seq)
                .bind(e.id.clone())
                .bind(e.time_us)
                .bind(e.action.clone())
                .bind(e.outcome.clone())
                .bind(p.entry.clone())
                .bind(p.leaf.to_vec());
        }
        q.execute(&mut *conn).await?;
    }
    write_tiles(conn, &plan.tiles).await?;
    sqlx::query("UPDATE audit_state SET size = $1 WHERE id = 1")
        .bind(plan.size)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// An event's place in the log, its canonical encoding, and its leaf.
pub(crate) struct Placed {
    pub seq: i64,
    pub entry: Vec<u8>,
    pub leaf: Hash,
}

/// What appending events to a log of some size writes: each event placed,
/// the tiles of the tree they change (to insert or replace), and the new
/// size.
pub(crate) struct Append {
    pub entries: Vec<Placed>,
    pub tiles: Vec<(TileKey, Vec<u8>)>,
    pub size: i64,
}

/// Plans an append from the log's right edge (the tiles `edge_keys(size)`
/// names, as read).
pub(crate) fn plan_append(
    mut size: u64,
    edge: HashMap<TileKey, Vec<u8>>,
    events: &[AuditEvent],
) -> Result<Append> {
    let mut tree = Edge::new(size, edge).ok_or_else(tiles_missing)?;
    let mut entries = Vec::with_capacity(events.len());
    for event in events {
        let entry = event.canonical();
        let leaf = merkle::leaf_hash(&entry);
        tree.push(leaf);
        entries.push(Placed {
            seq: i64_of(size)?,
            entry,
            leaf,
        });
        size += 1;
    }
    Ok(Append {
        entries,
        tiles: tree.into_changed(),
        size: i64_of(size)?,
    })
}

/// The tiles at the right edge of a log of `size`: what appending needs.
pub(crate) fn edge_keys(size: u64) -> Vec<TileKey> {
    tiles::edge_tiles(size)
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

fn tiles_missing() -> StoreError {
    StoreError::Corrupt("audit log tile missing".into())
}

fn tile_of(level: i64, idx: i64, hashes: Vec<u8>) -> Result<(TileKey, Vec<u8>)> {
    let level = u32::try_from(level).map_err(|_| StoreError::Corrupt("tile level".into()))?;
    if hashes.is_empty() || hashes.len() > tiles::TILE_BYTES || !hashes.len().is_multiple_of(32) {
        return Err(StoreError::Corrupt("tile length".into()));
    }
    Ok(((level, u64_of(idx)?), hashes))
}

/// Reads tiles inside a transaction through `Any`; every key must be found.
async fn tiles_in(conn: &mut AnyConnection, keys: &[TileKey]) -> Result<HashMap<TileKey, Vec<u8>>> {
    let mut out = HashMap::with_capacity(keys.len());
    if keys.is_empty() {
        return Ok(out);
    }
    let conds: Vec<String> = (0..keys.len())
        .map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    let sql = format!(
        "SELECT level, idx, hashes FROM audit_tiles WHERE {}",
        conds.join(" OR ")
    );
    let mut q = sqlx::query::<Any>(&sql);
    for (l, i) in keys {
        q = q.bind(i64::from(*l)).bind(i64_of(*i)?);
    }
    for row in q.fetch_all(&mut *conn).await? {
        let (k, v) = tile_of(
            int(&row, "level")?,
            int(&row, "idx")?,
            row.try_get("hashes")?,
        )?;
        out.insert(k, v);
    }
    check_tiles(out.len(), keys.len())?;
    Ok(out)
}

/// Inserts or replaces tiles through `Any` (SQLite and PostgreSQL share
/// the upsert's syntax).
async fn write_tiles(conn: &mut AnyConnection, tiles: &[(TileKey, Vec<u8>)]) -> Result<()> {
    for chunk in tiles.chunks(ROWS_PER_INSERT * 2) {
        let sql = format!(
            "INSERT INTO audit_tiles (level, idx, hashes) VALUES {} \
             ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
            placeholders(chunk.len(), 3)
        );
        let mut q = sqlx::query::<Any>(&sql);
        for ((l, i), h) in chunk {
            q = q.bind(i64::from(*l)).bind(i64_of(*i)?).bind(h.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

fn check_tiles(found: usize, wanted: usize) -> Result<()> {
    if found == wanted {
        Ok(())
    } else {
        Err(tiles_missing())
    }
}

/// Whether native SQLite work writes (and so must take the writer's turn).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Turn {
    Read,
    Write,
}

impl Store {
    /// Runs blocking `rusqlite` work on the blocking pool; writes first take
    /// the store's writer turn, as every sqlx write does.
    async fn on_sqlite<T: Send + 'static>(
        &self,
        db: &std::sync::Arc<SqliteNative>,
        turn: Turn,
        work: impl FnOnce(&SqliteNative) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let held = match turn {
            Turn::Write => Some(self.sqlite_writer.clone().lock_owned().await),
            Turn::Read => None,
        };
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            let _held = held;
            work(&db)
        })
        .await
        .map_err(|_| StoreError::Corrupt("a native SQLite task stopped".into()))?
    }

    /// Writes events that accompany no change (reads, denials, and the
    /// group commit of many of them) in their own transaction, with their
    /// place in the log; when this returns, they are durable. The hot path:
    /// it goes through the engine's native driver where there is one.
    pub async fn record_and_sequence(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Err(StoreError::MissingAudit);
        }
        let written = match &self.native {
            Native::Sqlite(db) => {
                let events = events.to_vec();
                self.on_sqlite(db, Turn::Write, move |db| db.record_and_sequence(&events))
                    .await
            }
            Native::Postgres(pool) => native_pg::record_and_sequence(pool, events).await,
        };
        if written.is_err() {
            self.audit_write_failed();
        }
        written
    }

    /// Subtree hashes by (level, idx), from the tiles that hold them. Full
    /// tiles above the lowest level are kept in memory once read: a full
    /// tile never changes, and most proofs share them. (`audit verify`
    /// never reads them.)
    async fn nodes(&self, keys: &[(u32, u64)]) -> Result<HashMap<(u32, u64), Hash>> {
        let mut wanted: Vec<TileKey> = keys.iter().map(|&(l, i)| tiles::locate(l, i).0).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut have: HashMap<TileKey, std::sync::Arc<[u8]>> = HashMap::new();
        let mut missing = Vec::with_capacity(wanted.len());
        {
            let cache = self
                .tile_cache
                .lock()
                .map_err(|_| StoreError::Corrupt("tile cache".into()))?;
            for k in wanted {
                match cache.get(&k) {
                    Some(t) => {
                        have.insert(k, t.clone());
                    }
                    None => missing.push(k),
                }
            }
        }
        if !missing.is_empty() {
            let found = match &self.native {
                Native::Sqlite(db) => {
                    self.on_sqlite(db, Turn::Read, move |db| db.tiles(&missing))
                        .await?
                }
                Native::Postgres(pool) => native_pg::tiles(pool, &missing).await?,
            };
            let mut cache = self
                .tile_cache
                .lock()
                .map_err(|_| StoreError::Corrupt("tile cache".into()))?;
            for (k, t) in found {
                let t: std::sync::Arc<[u8]> = t.into();
                if k.0 >= 1 && t.len() == tiles::TILE_BYTES {
                    if cache.len() >= TILE_CACHE_MAX {
                        cache.clear();
                    }
                    cache.insert(k, t.clone());
                }
                have.insert(k, t);
            }
        }
        keys.iter()
            .map(|&(l, i)| {
                let (k, _) = tiles::locate(l, i);
                have.get(&k)
                    .and_then(|t| tiles::node_in_tile(t, l, i))
                    .map(|h| ((l, i), h))
                    .ok_or_else(tiles_missing)
            })
            .collect()
    }
}

impl Store {
    /// The number of sequenced events.
    pub async fn audit_size(&self) -> Result<u64> {
        let row = sqlx::query("SELECT size FROM audit_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        u64_of(int(&row, "size")?)
    }

    /// The root of the log at `size`, from the stored subtree hashes.
    pub async fn audit_root(&self, size: u64) -> Result<Hash> {
        let keys = merkle::required_nodes(None, None, size);
        let mut nodes = self.nodes(&keys).await?;
        Ok(merkle::root(&mut nodes, size))
    }

    /// The inclusion proof of entry `seq` in the log of `size`.
    /// One indexed lookup; a size beyond the log finds nodes missing and is
    /// "not found".
    pub async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>> {
        if seq >= size {
            return Err(StoreError::NotFound);
        }
        let keys = merkle::required_nodes(Some(seq), None, size);
        let mut nodes = match self.nodes(&keys).await {
            Err(StoreError::Corrupt(_)) => return Err(StoreError::NotFound),
            other => other?,
        };
        merkle::inclusion_proof(&mut nodes, seq, size).ok_or(StoreError::NotFound)
    }

    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        if old > new || new > self.audit_size().await? {
            return Err(StoreError::NotFound);
        }
        let keys = merkle::required_nodes(None, Some(old), new);
        let mut nodes = self.nodes(&keys).await?;
        merkle::consistency_proof(&mut nodes, old, new).ok_or(StoreError::NotFound)
    }

    pub async fn insert_checkpoint(&self, cp: &StoredCheckpoint) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_checkpoints (size, previous, root, note, signed_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(i64_of(cp.size)?)
        .bind(i64_of(cp.previous)?)
        .bind(cp.root.clone())
        .bind(cp.note.clone())
        .bind(cp.signed_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::conflict_on_unique(e, "checkpoint"))?;
        Ok(())
    }

    fn checkpoint_from_row(row: &AnyRow) -> Result<StoredCheckpoint> {
        Ok(StoredCheckpoint {
            size: u64_of(int(row, "size")?)?,
            previous: u64_of(int(row, "previous")?)?,
            root: row.try_get("root")?,
            note: text(row, "note")?,
            signed_at: int(row, "signed_at")?,
        })
    }

    pub async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        sqlx::query(
            "SELECT size, previous, root, note, signed_at FROM audit_checkpoints ORDER BY size",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(Self::checkpoint_from_row)
        .collect()
    }

    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        sqlx::query(
            "SELECT size, previous, root, note, signed_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(Self::checkpoint_from_row)
        .transpose()
    }

    /// The first checkpoint whose tree includes entry `seq`.
    pub async fn checkpoint_covering(&self, seq: u64) -> Result<Option<StoredCheckpoint>> {
        sqlx::query("SELECT size, previous, root, note, signed_at FROM audit_checkpoints WHERE size > $1 ORDER BY size LIMIT 1")
            .bind(i64_of(seq)?)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(Self::checkpoint_from_row)
            .transpose()
    }

    pub async fn checkpoint_at(&self, size: u64) -> Result<StoredCheckpoint> {
        sqlx::query(
            "SELECT size, previous, root, note, signed_at FROM audit_checkpoints WHERE size = $1",
        )
        .bind(i64_of(size)?)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(Self::checkpoint_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound)
    }

    /// Up to `limit` log entries from `from_seq` on, in order.
    pub async fn log_entries(&self, from_seq: u64, limit: u64) -> Result<Vec<LogEntry>> {
        sqlx::query("SELECT seq, entry FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2")
            .bind(i64_of(from_seq)?)
            .bind(i64_of(limit)?)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    /// Checks the log entries `from..to` (recomputing each leaf from its
    /// event, and the search index entries for it), on the native driver's
    /// thread; several chunks can be checked at once. `indexed` is where the
    /// search index ended when verification began.
    /// `marks`: sizes inside the chunk whose compact range to report.
    pub async fn check_chunk(
        &self,
        (from, to): (u64, u64),
        indexed: u64,
        marks: Vec<u64>,
    ) -> Result<ChunkCheck> {
        match &self.native {
            Native::Sqlite(db) => {
                self.on_sqlite(db, Turn::Read, move |db| {
                    db.check_chunk((from, to), indexed, marks)
                })
                .await
            }
            Native::Postgres(pool) => {
                native_pg::check_chunk(pool, (from, to), indexed, marks).await
            }
        }
    }

    /// Indexes up to `max` events behind the search index's end, in one
    /// transaction; returns how many. Run it until it returns less.
    pub async fn index_search(&self, max: u64) -> Result<u64> {
        match &self.native {
            Native::Sqlite(db) => {
                self.on_sqlite(db, Turn::Write, move |db| db.index_search(max))
                    .await
            }
            Native::Postgres(pool) => native_pg::index_search(pool, max).await,
        }
    }

    /// Where the search index ends (searches bring it up to date first).
    pub async fn search_indexed(&self) -> Result<u64> {
        let row = sqlx::query("SELECT indexed FROM audit_search_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        u64_of(int(&row, "indexed")?)
    }

    /// Events past the end of the log: rows someone inserted behind the
    /// server's back (one statement, so the size and the rows agree).
    pub async fn stray_events(&self) -> Result<Vec<String>> {
        sqlx::query(
            "SELECT id FROM audit_events WHERE seq >= (SELECT size FROM audit_state WHERE id = 1) \
             UNION ALL SELECT id FROM audit_events WHERE seq < 0 LIMIT 100",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| text(r, "id"))
        .collect()
    }

    /// The log position of an event.
    pub async fn event_seq(&self, event_id: &str) -> Result<Option<u64>> {
        sqlx::query("SELECT seq FROM audit_events WHERE id = $1")
            .bind(event_id.to_owned())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| int(&r, "seq").and_then(u64_of))
            .transpose()
    }

    /// Events matching a filter, newest first, with their log positions.
    pub async fn search_events(
        &self,
        f: &EventFilter,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<(u64, AuditEvent)>> {
        // By user or case through the search index, brought up to date
        // first (the log keeper leaves it at most a second behind); the
        // index is checked by `audit verify` like the events.
        while self.index_search(SEARCH_CATCH_UP).await? == SEARCH_CATCH_UP {}
        let object = match (&f.object_type, &f.object_id) {
            (Some(t), Some(i)) => search_terms(None, Some(t), Some(i)).next(),
            (None, None) => None,
            _ => {
                return Err(StoreError::Conflict(
                    "an object filter without its type or id",
                ))
            }
        };
        let actor = f
            .actor_id
            .as_deref()
            .and_then(|a| search_terms(Some(a), None, None).next());
        let mut conds: Vec<String> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        for term in actor.into_iter().chain(object) {
            texts.push(term);
            conds.push(format!(
                "e.seq IN (SELECT seq FROM audit_search WHERE term = ${})",
                texts.len()
            ));
        }
        for (col, v) in [("action", &f.action), ("outcome", &f.outcome)] {
            if let Some(v) = v {
                texts.push(v.clone());
                conds.push(format!("e.{col} = ${}", texts.len()));
            }
        }
        let mut ints: Vec<i64> = Vec::new();
        let base = texts.len();
        if let Some(from) = f.from_us {
            ints.push(from);
            conds.push(format!("e.time_us >= ${}", base + ints.len()));
        }
        if let Some(to) = f.to_us {
            ints.push(to);
            conds.push(format!("e.time_us < ${}", base + ints.len()));
        }
        let where_ = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let k = base + ints.len();
        let sql = format!(
            "SELECT e.seq, e.entry FROM audit_events e {where_} \
             ORDER BY e.time_us DESC, e.id LIMIT ${} OFFSET ${}",
            k + 1,
            k + 2
        );
        let mut q = sqlx::query::<Any>(&sql);
        for t in texts {
            q = q.bind(t);
        }
        for i in ints {
            q = q.bind(i);
        }
        q = q.bind(i64_of(limit)?).bind(i64_of(offset)?);
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok((u64_of(int(row, "seq")?)?, event_from_row(row)?)))
            .collect()
    }
}

impl Store {
    /// For benchmarks only: fills an empty log with `size` synthetic leaves
    /// (the tree's tiles and size, no events), so that proofs can be timed on
    /// a large tree. Such a log does not verify; use a throw-away database.
    pub async fn seed_synthetic_log(
        &self,
        size: u64,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<()> {
        if self.audit_size().await? != 0 {
            return Err(StoreError::Conflict("a non-empty audit log"));
        }
        let mut done = 0u64;
        while done < size {
            let batch = (size - done).min(200_000);
            let mut tx = self.begin_write().await?;
            let edge = tiles_in(&mut tx, &edge_keys(done)).await?;
            let mut tree = Edge::new(done, edge).ok_or_else(tiles_missing)?;
            for i in done..done + batch {
                tree.push(merkle::leaf_hash(&i.to_be_bytes()));
            }
            write_tiles(&mut tx, &tree.into_changed()).await?;
            tx.commit().await?;
            done += batch;
            progress(done);
        }
        sqlx::query("UPDATE audit_state SET size = $1 WHERE id = 1")
            .bind(i64_of(size)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_every_row() {
        assert_eq!(placeholders(2, 2), "($1, $2), ($3, $4)");
    }
}
