//! The audit trail's hot loops on PostgreSQL through sqlx's native driver:
//! a whole group commit in a handful of statements (arrays unnested on the
//! server, which `Any` cannot bind), prepared node lookups for proofs, the
//! search indexer, and chunked reads for verification.

use precinct_audit::event::AuditEvent;
use precinct_audit::merkle::Hash;
use sqlx::{PgPool, Postgres, Row};
use std::collections::HashMap;

use super::{
    frontier_keys, i64_of, plan_append, terms_of, u64_of, ChunkCheck, ChunkChecker, RowRef,
    ENTRY_COLUMNS, SEQUENCER_LOCK,
};
use crate::{Result, StoreError};

async fn nodes_on<'c, E>(conn: E, keys: &[(u32, u64)]) -> Result<HashMap<(u32, u64), Hash>>
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
        "SELECT k.level, k.idx, n.hash FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS k (level, idx) \
         CROSS JOIN LATERAL (SELECT hash FROM audit_nodes WHERE level = k.level AND idx = k.idx) n",
    )
    .bind(levels)
    .bind(idxs)
    .fetch_all(conn)
    .await?;
    let mut out = HashMap::with_capacity(keys.len());
    for row in rows {
        let level = u32::try_from(row.try_get::<i64, _>(0)?)
            .map_err(|_| StoreError::Corrupt("level".into()))?;
        let idx = u64_of(row.try_get(1)?)?;
        let hash: Hash = row
            .try_get::<&[u8], _>(2)?
            .try_into()
            .map_err(|_| StoreError::Corrupt("node hash length".into()))?;
        out.insert((level, idx), hash);
    }
    super::check_nodes(out.len(), keys.len())?;
    Ok(out)
}

pub(crate) async fn nodes(pool: &PgPool, keys: &[(u32, u64)]) -> Result<HashMap<(u32, u64), Hash>> {
    nodes_on(pool, keys).await
}

/// Writes events with their place in the log in one transaction: the
/// sequencer's advisory lock, the size, the right edge of the tree, then
/// every row in two statements.
pub(crate) async fn record_and_sequence(pool: &PgPool, events: &[AuditEvent]) -> Result<()> {
    let mut tx = pool.begin().await?;
    // Plans made for this transaction alone: a generic plan cached while the
    // log was small would scan the whole table once it is large.
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1), set_config('plan_cache_mode', 'force_custom_plan', true)",
    )
    .bind(SEQUENCER_LOCK)
        .execute(&mut *tx)
        .await?;
    let size: i64 = sqlx::query_scalar("SELECT size FROM audit_state WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    let size = u64_of(size)?;
    let frontier = nodes_on(&mut *tx, &frontier_keys(size)).await?;
    let plan = plan_append(size, frontier, events)?;

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
        "INSERT INTO audit_nodes (level, idx, hash) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BYTEA[])",
    )
    .bind(plan.nodes.iter().map(|n| n.0).collect::<Vec<i64>>())
    .bind(plan.nodes.iter().map(|n| n.1).collect::<Vec<i64>>())
    .bind(
        plan.nodes
            .iter()
            .map(|n| n.2.to_vec())
            .collect::<Vec<Vec<u8>>>(),
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_state SET size = $1 WHERE id = 1")
        .bind(plan.size)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks the entries `from..to` in one read-only transaction (one
/// snapshot): every leaf recomputed from its row, and the search index's
/// rows for them.
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
    let (lo, hi) = (i64_of(from)?, i64_of(to)?);
    let index = sqlx::query(
        "SELECT seq, term FROM audit_search WHERE seq >= $1 AND seq < $2 ORDER BY seq, term",
    )
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| Ok((u64_of(r.try_get(0)?)?, r.try_get::<String, _>(1)?)))
    .collect::<Result<Vec<_>>>()?;
    let rows = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_events WHERE seq >= $1 AND seq < $2 ORDER BY seq"
    ))
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut check = ChunkChecker::new((from, to), indexed, index.into_iter(), marks);
    for row in &rows {
        let entry = RowRef {
            seq: u64_of(row.try_get(0)?)?,
            id: row.try_get(1)?,
            time_us: row.try_get(2)?,
            action: row.try_get(3)?,
            outcome: row.try_get(4)?,
            entry: row.try_get(5)?,
            leaf: row.try_get(6)?,
        };
        if !check.entry(&entry) {
            break;
        }
    }
    check.finish()
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
