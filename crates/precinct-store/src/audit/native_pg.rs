//! The audit trail's hot loops on PostgreSQL through sqlx's native driver:
//! a whole group commit in a handful of statements (arrays unnested on the
//! server, which `Any` cannot bind), prepared node lookups for proofs, the
//! search indexer, and chunked reads for verification.

use precinct_audit::event::AuditEvent;
use sqlx::{PgConnection, PgPool, Postgres, Row};
use std::collections::HashMap;

use super::tiles::TileKey;
use super::{
    check_tiles, edge_keys, i64_of, plan_append, terms_of, tile_of, u64_of, ChunkCheck,
    ChunkChecker, IndexRows, RowRef, ENTRY_COLUMNS, SEQUENCER_LOCK,
};
use crate::{Result, StoreError};

async fn tiles_on<'c, E>(conn: E, keys: &[TileKey]) -> Result<HashMap<TileKey, Vec<u8>>>
where
    E: sqlx::Executor<'c, Database = Postgres>,
{
    let levels: Vec<i64> = keys.iter().map(|&(l, _)| i64::from(l)).collect();
    let idxs = keys
        .iter()
        .map(|&(_, i)| i64_of(i))
        .collect::<Result<Vec<_>>>()?;
    let rows = sqlx::query(
        // LATERAL: one primary-key lookup per key, whatever the planner
        // thinks of the array's size.
        "SELECT k.level, k.idx, t.hashes FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS k (level, idx) \
         CROSS JOIN LATERAL (SELECT hashes FROM audit_tiles WHERE level = k.level AND idx = k.idx) t",
    )
    .bind(levels)
    .bind(idxs)
    .fetch_all(conn)
    .await?;
    let mut out = HashMap::with_capacity(keys.len());
    for row in rows {
        let (k, v) = tile_of(row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)?;
        out.insert(k, v);
    }
    check_tiles(out.len(), keys.len())?;
    Ok(out)
}

pub(crate) async fn tiles(pool: &PgPool, keys: &[TileKey]) -> Result<HashMap<TileKey, Vec<u8>>> {
    tiles_on(pool, keys).await
}

/// Writes events with their place in the log in one transaction.
pub(crate) async fn record_and_sequence(pool: &PgPool, events: &[AuditEvent]) -> Result<()> {
    let mut tx = pool.begin().await?;
    sequence_on(&mut tx, events).await?;
    tx.commit().await?;
    Ok(())
}

/// Places events in the log inside the caller's transaction: the
/// sequencer's advisory lock, the size, the right edge of the tree, then
/// every row in two statements (the bulk seed uses it for its batches too).
pub(crate) async fn sequence_on(tx: &mut sqlx::PgConnection, events: &[AuditEvent]) -> Result<()> {
    // The one sequencer lock every writer of the log takes (`sequence_in`
    // too). Plans are custom on these connections (`Store::open`).
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEQUENCER_LOCK)
        .execute(&mut *tx)
        .await?;
    let size: i64 = sqlx::query_scalar("SELECT size FROM audit_state WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    let size = u64_of(size)?;
    let edge = tiles_on(&mut *tx, &edge_keys(size)).await?;
    let plan = plan_append(size, edge, events)?;

    let req = |f: fn(&AuditEvent) -> &String| -> Vec<String> {
        events.iter().map(|e| f(e).clone()).collect()
    };
    sqlx::query(&format!(
        "INSERT INTO audit_events ({ENTRY_COLUMNS}) SELECT * FROM UNNEST(\
         $1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::BYTEA[], $7::BYTEA[])"
    ))
    .bind(plan.entries.iter().map(|p| p.seq).collect::<Vec<i64>>())
    .bind(req(|e| &e.id))
    .bind(events.iter().map(|e| e.time_us).collect::<Vec<i64>>())
    .bind(req(|e| &e.action))
    .bind(req(|e| &e.outcome))
    .bind(
        plan.entries
            .iter()
            .map(|p| p.entry.clone())
            .collect::<Vec<Vec<u8>>>(),
    )
    .bind(
        plan.entries
            .iter()
            .map(|p| p.leaf.to_vec())
            .collect::<Vec<Vec<u8>>>(),
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO audit_tiles (level, idx, hashes) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BYTEA[]) \
         ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
    )
    .bind(
        plan.tiles
            .iter()
            .map(|((l, _), _)| i64::from(*l))
            .collect::<Vec<i64>>(),
    )
    .bind(
        plan.tiles
            .iter()
            .map(|((_, i), _)| i64_of(*i))
            .collect::<Result<Vec<i64>>>()?,
    )
    .bind(
        plan.tiles
            .iter()
            .map(|(_, h)| h.clone())
            .collect::<Vec<Vec<u8>>>(),
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_state SET size = $1 WHERE id = 1")
        .bind(plan.size)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Checks the entries `from..to` in one read-only transaction (one
/// snapshot): every leaf recomputed from its row, and the search index's
/// rows for them. Both are read as binary `COPY`: the server sends each
/// row as it is stored, and the check reads the fields where they lie.
pub(crate) async fn check_chunk(
    pool: &PgPool,
    (from, to): (u64, u64),
    indexed: u64,
    marks: Vec<u64>,
) -> Result<ChunkCheck> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    // Both reads walk their primary key in order. Left to itself, on a
    // table not yet analysed the planner gathers the rows by bitmap and
    // sorts them, in temporary files once they pass `work_mem`.
    sqlx::query(
        "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true)",
    )
    .execute(&mut *tx)
    .await?;
    let (lo, hi) = (i64_of(from)?, i64_of(to)?);
    // Bounds are integers formatted here: COPY takes no parameters.
    let index = copy_out(
        &mut tx,
        &format!(
            "SELECT seq, term FROM audit_search WHERE seq >= {lo} AND seq < {hi} ORDER BY seq, term"
        ),
    )
    .await?;
    let events = copy_out(
        &mut tx,
        &format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_events WHERE seq >= {lo} AND seq < {hi} ORDER BY seq"
        ),
    )
    .await?;
    tx.commit().await?;
    let mut check = ChunkChecker::new(
        (from, to),
        indexed,
        CopyIndex(CopyTuples::new(&index)?),
        marks,
    );
    let mut rows = CopyTuples::new(&events)?;
    while let Some([seq, id, time_us, action, outcome, entry, leaf]) = rows.next()? {
        let entry = RowRef {
            seq: u64_of(int8(seq)?)?,
            id,
            time_us: int8(time_us)?,
            action,
            outcome,
            entry,
            leaf,
        };
        if !check.entry(&entry) {
            break;
        }
    }
    check.finish()
}

/// The whole output of `COPY (query) TO STDOUT (FORMAT binary)`.
async fn copy_out(conn: &mut PgConnection, query: &str) -> Result<Vec<u8>> {
    use futures_util::StreamExt;
    let mut out = Vec::new();
    let mut stream = conn
        .copy_out_raw(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))
        .await?;
    while let Some(data) = stream.next().await {
        out.extend_from_slice(&data?);
    }
    Ok(out)
}

fn copy_corrupt() -> StoreError {
    StoreError::Corrupt("unexpected binary COPY data".into())
}

/// The tuples of a binary `COPY`: the signature and header, then per
/// tuple a field count and each field's length and bytes (big-endian),
/// then -1.
struct CopyTuples<'a>(&'a [u8]);

impl<'a> CopyTuples<'a> {
    const SIGNATURE: &'static [u8] = b"PGCOPY\n\xff\r\n\0";

    fn new(data: &'a [u8]) -> Result<Self> {
        let rest = data
            .strip_prefix(Self::SIGNATURE)
            .ok_or_else(copy_corrupt)?;
        let mut t = CopyTuples(rest);
        let _flags = t.take(4)?;
        let ext = usize::try_from(be_i32(t.take(4)?)).map_err(|_| copy_corrupt())?;
        t.take(ext)?;
        Ok(t)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(copy_corrupt());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// The next tuple's `N` fields (none may be NULL); None after the last.
    fn next<const N: usize>(&mut self) -> Result<Option<[&'a [u8]; N]>> {
        let count = i16::from_be_bytes(self.take(2)?.try_into().map_err(|_| copy_corrupt())?);
        if count == -1 {
            return Ok(None);
        }
        if usize::try_from(count).ok() != Some(N) {
            return Err(copy_corrupt());
        }
        let mut fields = [&[][..]; N];
        for f in &mut fields {
            let len = usize::try_from(be_i32(self.take(4)?)).map_err(|_| copy_corrupt())?;
            *f = self.take(len)?;
        }
        Ok(Some(fields))
    }
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes(b.try_into().unwrap_or([0xff; 4]))
}

fn int8(b: &[u8]) -> Result<i64> {
    Ok(i64::from_be_bytes(
        b.try_into().map_err(|_| copy_corrupt())?,
    ))
}

/// The search index's rows, from their binary COPY.
struct CopyIndex<'a>(CopyTuples<'a>);

impl IndexRows for CopyIndex<'_> {
    fn next_row(&mut self, term: &mut Vec<u8>) -> Result<Option<u64>> {
        let Some([seq, t]) = self.0.next()? else {
            return Ok(None);
        };
        term.clear();
        term.extend_from_slice(t);
        Ok(Some(u64_of(int8(seq)?)?))
    }
}

/// Adds the search terms of up to `max` events behind the index's end, in
/// one transaction (the state row's lock makes one indexer at a time).
pub(crate) async fn index_search(pool: &PgPool, max: u64) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let indexed: i64 =
        sqlx::query_scalar("SELECT indexed FROM audit_search_state WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
    let rows =
        sqlx::query("SELECT seq, entry FROM audit_events WHERE seq >= $1 ORDER BY seq LIMIT $2")
            .bind(indexed)
            .bind(i64_of(max)?)
            .fetch_all(&mut *tx)
            .await?;
    let (mut seqs, mut terms) = (Vec::new(), Vec::new());
    let mut end = indexed;
    for row in &rows {
        let seq: i64 = row.try_get(0)?;
        for term in terms_of(row.try_get(1)?)? {
            seqs.push(seq);
            terms.push(term);
        }
        end = seq + 1;
    }
    sqlx::query(
        "INSERT INTO audit_search (seq, term) SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[])",
    )
    .bind(seqs)
    .bind(terms)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_search_state SET indexed = $1 WHERE id = 1")
        .bind(end)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows.len() as u64)
}
