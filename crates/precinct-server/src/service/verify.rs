//! `audit verify`: recomputes every leaf from the stored events, rebuilds
//! the tree, and checks every stored checkpoint's signature and root (and,
//! given a witness file, the checkpoints published outside the database).
//! It trusts nothing the database says about hashes: the first event or
//! checkpoint that does not match is named.

use precinct_audit::checkpoint::LogVerifier;
use precinct_audit::merkle::{CompactRange, Hash};
use precinct_store::{ChunkProblem, Store};
use std::collections::BTreeMap;
use thiserror::Error;

use super::auditlog::PREVIOUS_EXTENSION;

/// Entries per chunk, checked as one unit on one core.
/// A power of two, so that chunks are whole subtrees of the log.
const CHUNK: u64 = 16_384;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub checkpoints: usize,
    pub witnessed: usize,
    pub root: Hash,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum VerifyFailure {
    #[error("log entry {seq} is missing (the log jumps from {seq} to {next})")]
    Gap { seq: u64, next: u64 },
    #[error("log entry {seq}: event {event_id} was changed after it was logged")]
    EventChanged { seq: u64, event_id: String },
    #[error("event {event_id} lies past the end of the log: it was inserted")]
    StrayEvent { event_id: String },
    #[error("the search index's entries for log entry {seq} differ from its event: a search by user or case could miss it")]
    SearchIndex { seq: u64 },
    #[error("checkpoint at size {size}: the signature does not verify ({reason})")]
    CheckpointSignature { size: u64, reason: String },
    #[error("checkpoint at size {size}: its root does not match the log (an entry between {from} and {size} differs)")]
    CheckpointRoot { size: u64, from: u64 },
    #[error("checkpoint at size {size} names {previous} as the one before it, which is not stored (deleted)")]
    CheckpointMissing { size: u64, previous: u64 },
    #[error("checkpoint at size {size} is beyond the end of the log ({log})")]
    CheckpointBeyondLog { size: u64, log: u64 },
    #[error("witness checkpoint at size {size}: {reason}")]
    Witness { size: u64, reason: String },
    #[error("the database could not be read: {0}")]
    Database(String),
}

fn db(e: precinct_store::StoreError) -> VerifyFailure {
    VerifyFailure::Database(e.to_string())
}

/// A checkpoint to check a root against: where it came from and its root.
struct Target {
    root: Hash,
    witness: bool,
}

/// Verifies the whole log. `progress(done, total)` is called as entries are
/// checked.
pub async fn verify_log(
    store: &Store,
    verifier: &LogVerifier,
    witness_notes: &[String],
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, VerifyFailure> {
    verify_log_in_chunks(store, verifier, witness_notes, progress, CHUNK).await
}

/// `verify_log`, checking `chunk` entries at a time (a power of two; tests
/// use small ones to cross chunk boundaries in small logs).
pub async fn verify_log_in_chunks(
    store: &Store,
    verifier: &LogVerifier,
    witness_notes: &[String],
    progress: &mut dyn FnMut(u64, u64),
    chunk: u64,
) -> Result<VerifyReport, VerifyFailure> {
    let chunk = if chunk.is_power_of_two() {
        chunk
    } else {
        CHUNK
    };
    // Checkpoints first, then the size: on a running system both only grow,
    // so every checkpoint read is within the size read after it, and later
    // ones are left for the next run.
    let stored = store.checkpoints().await.map_err(db)?;
    let claimed = store.audit_size().await.map_err(db)?;
    let mut targets: BTreeMap<u64, Vec<Target>> = BTreeMap::new();
    let mut previous = 0u64;
    for cp in &stored {
        let (note, ext) = verifier.open_with_extensions(&cp.note).map_err(|e| {
            VerifyFailure::CheckpointSignature {
                size: cp.size,
                reason: e.to_string(),
            }
        })?;
        if note.size != cp.size || note.root.as_slice() != cp.root.as_slice() {
            return Err(VerifyFailure::CheckpointSignature {
                size: cp.size,
                reason: "the stored size or root differs from the signed note".into(),
            });
        }
        let named = ext
            .iter()
            .find_map(|l| l.strip_prefix(PREVIOUS_EXTENSION).map(str::trim))
            .and_then(|v| v.parse::<u64>().ok());
        let Some(named) = named else {
            return Err(VerifyFailure::CheckpointSignature {
                size: cp.size,
                reason: format!("it does not name the checkpoint before it ({PREVIOUS_EXTENSION})"),
            });
        };
        if named != previous {
            return Err(VerifyFailure::CheckpointMissing {
                size: cp.size,
                previous: named,
            });
        }
        previous = cp.size;
        targets.entry(cp.size).or_default().push(Target {
            root: note.root,
            witness: false,
        });
    }
    for note in witness_notes {
        let cp = verifier.open(note).map_err(|e| VerifyFailure::Witness {
            size: 0,
            reason: e.to_string(),
        })?;
        targets.entry(cp.size).or_default().push(Target {
            root: cp.root,
            witness: true,
        });
    }
    if let Some((&last, _)) = targets.iter().next_back() {
        if last > claimed {
            let witness = targets[&last].iter().any(|t| t.witness);
            return Err(if witness {
                VerifyFailure::Witness {
                    size: last,
                    reason: format!(
                        "the database's log holds only {claimed} entries (truncated or rewritten)"
                    ),
                }
            } else {
                VerifyFailure::CheckpointBeyondLog {
                    size: last,
                    log: claimed,
                }
            });
        }
    }

    let mut tree = CompactRange::default();
    let mut last_checked = 0u64;
    // The log may grow while it is checked; check what it held at the start.
    // Chunks are checked on every core at once (each reads and hashes its
    // own range) and their leaves are added to the tree in order.
    let indexed = store.search_indexed().await.map_err(db)?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
    let sizes: Vec<u64> = targets.keys().copied().collect();
    let mut in_flight = std::collections::VecDeque::new();
    let mut next_from = 0u64;
    loop {
        while in_flight.len() < workers && next_from < claimed {
            let (from, to) = (next_from, (next_from + chunk).min(claimed));
            let marks = sizes
                .iter()
                .copied()
                .filter(|&s| s > from && s <= to)
                .collect();
            let store = store.clone();
            in_flight.push_back(tokio::spawn(async move {
                store.check_chunk((from, to), indexed, marks).await
            }));
            next_from = to;
        }
        let Some(job) = in_flight.pop_front() else {
            break;
        };
        let chunk = job
            .await
            .map_err(|e| VerifyFailure::Database(e.to_string()))?
            .map_err(db)?;
        match chunk.problem {
            None => {}
            Some(ChunkProblem::Gap { seq, next }) => return Err(VerifyFailure::Gap { seq, next }),
            Some(ChunkProblem::Changed { seq, event_id }) => {
                return Err(VerifyFailure::EventChanged { seq, event_id })
            }
            Some(ChunkProblem::SearchIndex { seq }) => {
                return Err(VerifyFailure::SearchIndex { seq })
            }
        }
        // The roots at the checkpoints inside this chunk: the tree so far
        // joined with the chunk's range at that size.
        for (size, subtrees) in &chunk.marks {
            let mut at = tree.clone();
            for &(level, hash) in subtrees {
                at.push_subtree(level, hash);
            }
            let root = at.root();
            for t in targets.get(size).into_iter().flatten() {
                if t.root != root {
                    return Err(if t.witness {
                        VerifyFailure::Witness {
                            size: *size,
                            reason: "the log's root at this size differs: the log was rewritten"
                                .into(),
                        }
                    } else {
                        VerifyFailure::CheckpointRoot {
                            size: *size,
                            from: last_checked,
                        }
                    });
                }
            }
            last_checked = *size;
        }
        for &(level, hash) in &chunk.range {
            tree.push_subtree(level, hash);
        }
        progress(tree.size(), claimed);
    }
    if tree.size() != claimed {
        return Err(VerifyFailure::Gap {
            seq: tree.size(),
            next: claimed,
        });
    }
    if let Some(event_id) = store.stray_events().await.map_err(db)?.into_iter().next() {
        return Err(VerifyFailure::StrayEvent { event_id });
    }
    Ok(VerifyReport {
        events: tree.size(),
        checkpoints: stored.len(),
        witnessed: witness_notes.len(),
        root: tree.root(),
    })
}
