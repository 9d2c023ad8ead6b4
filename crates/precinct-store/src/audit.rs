//! The audit trail's storage: events (written once, in the same transaction
//! as the change they record), the sequencer that gives them their place in
//! the Merkle log, the perfect subtree hashes that proofs read, and signed
//! checkpoints. No code path updates or deletes an event.

use precinct_audit::event::AuditEvent;
use precinct_audit::merkle::{self, completed_nodes, Hash};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row};
use std::collections::HashMap;

use crate::{int, opt_text, text, Engine, Result, Store, StoreError, WriteTx};

const EVENT_COLUMNS: &str =
    "id, time_us, actor_id, actor_name, session_id, channel, workstation_id, \
     device_id, source_ip, action, object_type, object_id, outcome, reason, grant_id, request_id";
const EVENT_COLUMN_COUNT: usize = 16;
/// Rows per multi-row INSERT: stays under SQLite's bind limit.
const ROWS_PER_INSERT: usize = 20;
/// Serialises sequencers on PostgreSQL (any constant both sides agree on).
const SEQUENCER_LOCK: i64 = 0x5052_4543_494e_4354;

/// An entry of the log as stored: its place, the event (None if the event
/// row is gone), and the leaf hash the sequencer computed.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub seq: u64,
    pub event_id: String,
    pub event: Option<AuditEvent>,
    pub leaf_hash: Vec<u8>,
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

fn u64_of(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative log position".into()))
}

fn i64_of(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt("log position out of range".into()))
}

pub(crate) fn event_from_row(row: &AnyRow) -> Result<AuditEvent> {
    Ok(AuditEvent {
        v: precinct_audit::event::ENCODING_VERSION,
        id: text(row, "id")?,
        time_us: int(row, "time_us")?,
        actor_id: opt_text(row, "actor_id")?,
        actor_name: opt_text(row, "actor_name")?,
        session_id: opt_text(row, "session_id")?,
        channel: text(row, "channel")?,
        workstation_id: opt_text(row, "workstation_id")?,
        device_id: opt_text(row, "device_id")?,
        source_ip: opt_text(row, "source_ip")?,
        action: text(row, "action")?,
        object_type: opt_text(row, "object_type")?,
        object_id: opt_text(row, "object_id")?,
        outcome: text(row, "outcome")?,
        reason: opt_text(row, "reason")?,
        grant_id: opt_text(row, "grant_id")?,
        request_id: opt_text(row, "request_id")?,
    })
}

/// Writes events and queues them for sequencing, inside the caller's
/// transaction: they commit or vanish with the change they record.
pub(crate) async fn append_events(conn: &mut AnyConnection, events: &[AuditEvent]) -> Result<()> {
    insert_events(conn, events).await?;
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO audit_pending (event_id) VALUES {}",
            placeholders(chunk.len(), 1)
        );
        let mut q = sqlx::query::<Any>(&sql);
        for e in chunk {
            q = q.bind(e.id.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes events (not queued).
async fn insert_events(conn: &mut AnyConnection, events: &[AuditEvent]) -> Result<()> {
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES {}",
            placeholders(chunk.len(), EVENT_COLUMN_COUNT)
        );
        let mut q = sqlx::query::<Any>(&sql);
        for e in chunk {
            q = q
                .bind(e.id.clone())
                .bind(e.time_us)
                .bind(e.actor_id.clone())
                .bind(e.actor_name.clone())
                .bind(e.session_id.clone())
                .bind(e.channel.clone())
                .bind(e.workstation_id.clone())
                .bind(e.device_id.clone())
                .bind(e.source_ip.clone())
                .bind(e.action.clone())
                .bind(e.object_type.clone())
                .bind(e.object_id.clone())
                .bind(e.outcome.clone())
                .bind(e.reason.clone())
                .bind(e.grant_id.clone())
                .bind(e.request_id.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The perfect subtrees that make up a tree of `size` leaves (its right
/// edge): what appending the next leaf needs.
fn frontier_keys(size: u64) -> Vec<(u32, u64)> {
    let mut keys = Vec::new();
    let mut start = 0u64;
    for level in (0..64u32).rev() {
        if size & (1u64 << level) != 0 {
            keys.push((level, start >> level));
            start += 1u64 << level;
        }
    }
    keys
}

impl Store {
    /// Writes events in their own transaction; when this returns, they are
    /// durable. For reads and denials, which change nothing else.
    pub async fn record_events(&self, events: &[AuditEvent]) -> Result<()> {
        let tx = self.begin_write().await?;
        self.commit_with(tx, events).await
    }

    /// Takes the sequencer's turn in a write transaction (one sequencer at
    /// a time, across every server on the database) and returns the log's
    /// size.
    async fn sequencer_turn(&self) -> Result<(WriteTx, u64)> {
        let mut tx = self.begin_write().await?;
        if self.engine == Engine::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(SEQUENCER_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        // A write first: on SQLite this takes the write lock before any read.
        sqlx::query("UPDATE audit_state SET size = size WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT size FROM audit_state WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let size = u64_of(int(&row, "size")?)?;
        Ok((tx, size))
    }

    /// Appends events to the Merkle log at `size` inside `tx`: log rows,
    /// the subtree hashes they complete, and the new size.
    async fn append_to_log(
        &self,
        tx: &mut WriteTx,
        mut size: u64,
        events: &[AuditEvent],
    ) -> Result<()> {
        let mut nodes = self.nodes_in(tx, &frontier_keys(size)).await?;
        let mut log_rows: Vec<(i64, String, Vec<u8>)> = Vec::with_capacity(events.len());
        let mut node_rows: Vec<(i64, i64, Vec<u8>)> = Vec::with_capacity(events.len() * 2);
        for event in events {
            let leaf = event.leaf_hash();
            let done = completed_nodes(size, leaf, |l, i| nodes.get(&(l, i)).copied())
                .ok_or_else(|| StoreError::Corrupt("audit log subtree missing".into()))?;
            for (l, i, h) in done {
                nodes.insert((l, i), h);
                node_rows.push((i64::from(l), i64_of(i)?, h.to_vec()));
            }
            log_rows.push((i64_of(size)?, event.id.clone(), leaf.to_vec()));
            size += 1;
        }
        for chunk in log_rows.chunks(ROWS_PER_INSERT * 4) {
            let sql = format!(
                "INSERT INTO audit_log (seq, event_id, leaf_hash) VALUES {}",
                placeholders(chunk.len(), 3)
            );
            let mut q = sqlx::query::<Any>(&sql);
            for (seq, id, leaf) in chunk {
                q = q.bind(*seq).bind(id.clone()).bind(leaf.clone());
            }
            q.execute(&mut **tx).await?;
        }
        for chunk in node_rows.chunks(ROWS_PER_INSERT * 4) {
            let sql = format!(
                "INSERT INTO audit_nodes (level, idx, hash) VALUES {}",
                placeholders(chunk.len(), 3)
            );
            let mut q = sqlx::query::<Any>(&sql);
            for (l, i, h) in chunk {
                q = q.bind(*l).bind(*i).bind(h.clone());
            }
            q.execute(&mut **tx).await?;
        }
        sqlx::query("UPDATE audit_state SET size = $1 WHERE id = 1")
            .bind(i64_of(size)?)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Gives up to `max` queued events (those written inside business
    /// transactions) their place in the log, in one transaction: log rows,
    /// subtree hashes, the new size, and the queue entries removed, all or
    /// nothing. Returns how many were sequenced.
    pub async fn sequence_pending(&self, max: usize) -> Result<u64> {
        let (mut tx, size) = self.sequencer_turn().await?;
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let rows = sqlx::query(&format!(
            "SELECT p.ingest, {} FROM audit_pending p JOIN audit_events e ON e.id = p.event_id \
             ORDER BY p.ingest LIMIT $1",
            EVENT_COLUMNS
                .split(", ")
                .map(|c| format!("e.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let events = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>>>()?;
        let ingests = rows
            .iter()
            .map(|r| int(r, "ingest"))
            .collect::<Result<Vec<_>>>()?;
        self.append_to_log(&mut tx, size, &events).await?;
        // Only the queue entries this batch read: on PostgreSQL an event with
        // a lower number may commit later, and must wait for the next batch.
        for chunk in ingests.chunks(ROWS_PER_INSERT * 4) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "DELETE FROM audit_pending WHERE ingest IN ({})",
                list.join(", ")
            );
            let mut q = sqlx::query::<Any>(&sql);
            for i in chunk {
                q = q.bind(*i);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    /// Writes events that accompany no change and sequences them at once,
    /// in one transaction (the group-commit path): no queue, no second pass.
    pub async fn record_and_sequence(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Err(StoreError::MissingAudit);
        }
        let written = async {
            let (mut tx, size) = self.sequencer_turn().await?;
            insert_events(&mut tx, events).await?;
            self.append_to_log(&mut tx, size, events).await?;
            tx.commit().await
        }
        .await;
        if written.is_err() {
            self.audit_write_failed();
        }
        written
    }

    async fn nodes_in(
        &self,
        conn: &mut AnyConnection,
        keys: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Hash>> {
        let mut out = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(200) {
            let conds: Vec<String> = (0..chunk.len())
                .map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let sql = format!(
                "SELECT level, idx, hash FROM audit_nodes WHERE {}",
                conds.join(" OR ")
            );
            let mut q = sqlx::query::<Any>(&sql);
            for (l, i) in chunk {
                q = q.bind(i64::from(*l)).bind(i64_of(*i)?);
            }
            for row in q.fetch_all(&mut *conn).await? {
                let level = u32::try_from(int(&row, "level")?)
                    .map_err(|_| StoreError::Corrupt("level".into()))?;
                let idx = u64_of(int(&row, "idx")?)?;
                let hash: Vec<u8> = row.try_get("hash")?;
                let hash: Hash = hash
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("node hash length".into()))?;
                out.insert((level, idx), hash);
            }
        }
        if out.len() != keys.len() {
            return Err(StoreError::Corrupt("audit log subtree missing".into()));
        }
        Ok(out)
    }

    /// The number of sequenced events.
    pub async fn audit_size(&self) -> Result<u64> {
        let row = sqlx::query("SELECT size FROM audit_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        u64_of(int(&row, "size")?)
    }

    pub async fn pending_events(&self) -> Result<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM audit_pending")
            .fetch_one(&self.pool)
            .await?;
        u64_of(int(&row, "n")?)
    }

    /// The root of the log at `size`, from the stored subtree hashes.
    pub async fn audit_root(&self, size: u64) -> Result<Hash> {
        let keys = merkle::required_nodes(None, None, size);
        let mut conn = self.pool.acquire().await?;
        let mut nodes = self.nodes_in(&mut conn, &keys).await?;
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
        let mut conn = self.pool.acquire().await?;
        let mut nodes = match self.nodes_in(&mut conn, &keys).await {
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
        let mut conn = self.pool.acquire().await?;
        let mut nodes = self.nodes_in(&mut conn, &keys).await?;
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

    /// Log entries from `from_seq` on, in order, with their events (a
    /// missing event row shows as None).
    pub async fn log_entries(&self, from_seq: u64, limit: u64) -> Result<Vec<LogEntry>> {
        let cols = EVENT_COLUMNS
            .split(", ")
            .map(|c| format!("e.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT l.seq, l.event_id AS log_event_id, l.leaf_hash, {cols} FROM audit_log l \
             LEFT JOIN audit_events e ON e.id = l.event_id WHERE l.seq >= $1 ORDER BY l.seq LIMIT $2"
        ))
        .bind(i64_of(from_seq)?)
        .bind(i64_of(limit)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let present = opt_text(row, "id")?.is_some();
                Ok(LogEntry {
                    seq: u64_of(int(row, "seq")?)?,
                    event_id: text(row, "log_event_id")?,
                    event: if present {
                        Some(event_from_row(row)?)
                    } else {
                        None
                    },
                    leaf_hash: row.try_get("leaf_hash")?,
                })
            })
            .collect()
    }

    /// Events that are neither in the log nor queued for it: rows someone
    /// inserted behind the server's back.
    pub async fn stray_events(&self) -> Result<Vec<String>> {
        sqlx::query(
            "SELECT e.id FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM audit_log l WHERE l.event_id = e.id) \
             AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.event_id = e.id) ORDER BY e.time_us LIMIT 100",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| text(r, "id"))
        .collect()
    }

    /// The log position of an event, once sequenced.
    pub async fn event_seq(&self, event_id: &str) -> Result<Option<u64>> {
        sqlx::query("SELECT seq FROM audit_log WHERE event_id = $1")
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
    ) -> Result<Vec<(Option<u64>, AuditEvent)>> {
        let mut conds: Vec<String> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut n = 0;
        let mut push_text = |conds: &mut Vec<String>, col: &str, v: &Option<String>| {
            if let Some(v) = v {
                n += 1;
                conds.push(format!("e.{col} = ${n}"));
                texts.push(v.clone());
            }
        };
        push_text(&mut conds, "actor_id", &f.actor_id);
        push_text(&mut conds, "object_type", &f.object_type);
        push_text(&mut conds, "object_id", &f.object_id);
        push_text(&mut conds, "action", &f.action);
        push_text(&mut conds, "outcome", &f.outcome);
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
        let cols = EVENT_COLUMNS
            .split(", ")
            .map(|c| format!("e.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT l.seq, {cols} FROM audit_events e LEFT JOIN audit_log l ON l.event_id = e.id {where_} \
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
            .map(|row| {
                let seq = row
                    .try_get::<Option<i64>, _>("seq")?
                    .map(u64_of)
                    .transpose()?;
                Ok((seq, event_from_row(row)?))
            })
            .collect()
    }
}

impl Store {
    /// For benchmarks only: fills an empty log with `size` synthetic leaves
    /// (subtree hashes and size, no events), so that proofs can be timed on
    /// a large tree. Such a log does not verify; use a throw-away database.
    pub async fn seed_synthetic_log(
        &self,
        size: u64,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<()> {
        if self.audit_size().await? != 0 {
            return Err(StoreError::Conflict("a non-empty audit log"));
        }
        let mut left: Vec<Option<Hash>> = vec![None; 65];
        let mut rows: Vec<(i64, i64, Vec<u8>)> = Vec::with_capacity(100_000);
        for i in 0..size {
            let mut h = merkle::leaf_hash(&i.to_be_bytes());
            let mut level = 0usize;
            rows.push((0, i64_of(i)?, h.to_vec()));
            while let Some(l) = left[level].take() {
                h = merkle::node_hash(&l, &h);
                level += 1;
                rows.push((level as i64, i64_of(i >> level)?, h.to_vec()));
            }
            left[level] = Some(h);
            if rows.len() >= 60_000 || i + 1 == size {
                let batch = std::mem::take(&mut rows);
                let mut tx = self.begin_write().await?;
                for chunk in batch.chunks(ROWS_PER_INSERT * 4) {
                    let sql = format!(
                        "INSERT INTO audit_nodes (level, idx, hash) VALUES {}",
                        placeholders(chunk.len(), 3)
                    );
                    let mut q = sqlx::query::<Any>(&sql);
                    for (l, i, h) in chunk {
                        q = q.bind(*l).bind(*i).bind(h.clone());
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                progress(i + 1);
            }
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
    fn frontier_is_the_right_edge() {
        assert_eq!(frontier_keys(0), vec![]);
        assert_eq!(frontier_keys(6), vec![(2, 0), (1, 2)]);
        assert_eq!(frontier_keys(7), vec![(2, 0), (1, 2), (0, 6)]);
        assert_eq!(placeholders(2, 2), "($1, $2), ($3, $4)");
    }
}
