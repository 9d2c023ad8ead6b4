//! `audit verify`: recomputes every leaf from the stored events, rebuilds
//! the tree, and checks every stored checkpoint's signature and root (and,
//! given a witness file, the checkpoints published outside the database).
//! It trusts nothing the database says about hashes: the first event or
//! checkpoint that does not match is named.

use precinct_audit::checkpoint::LogVerifier;
use precinct_audit::merkle::{CompactRange, Hash};
use precinct_store::Store;
use std::collections::BTreeMap;
use thiserror::Error;

use super::auditlog::PREVIOUS_EXTENSION;

const CHUNK: u64 = 20_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub checkpoints: usize,
    pub witnessed: usize,
    pub root: Hash,
    /// Events written but not yet sequenced (they are not covered yet).
    pub pending: u64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum VerifyFailure {
    #[error("log entry {seq} is missing (the log jumps from {seq} to {next})")]
    Gap { seq: u64, next: u64 },
    #[error("log entry {seq}: event {event_id} is missing from the events table")]
    EventMissing { seq: u64, event_id: String },
    #[error("log entry {seq}: event {event_id} was changed after it was logged")]
    EventChanged { seq: u64, event_id: String },
    #[error("event {event_id} is in the events table but was never logged (inserted)")]
    StrayEvent { event_id: String },
    #[error("the log holds {found} entries but says it holds {claimed}")]
    SizeMismatch { found: u64, claimed: u64 },
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
    let mut next_target = targets.iter().peekable();
    // Size-0 targets (none are signed) would be checked here.
    while let Some((&size, _)) = next_target.peek() {
        if size > 0 {
            break;
        }
        next_target.next();
    }
    // The log may grow while it is checked; check what it held at the start.
    while tree.size() < claimed {
        let want = CHUNK.min(claimed - tree.size());
        let entries = store.log_entries(tree.size(), want).await.map_err(db)?;
        if entries.is_empty() {
            break;
        }
        for entry in entries {
            if entry.seq != tree.size() {
                return Err(VerifyFailure::Gap {
                    seq: tree.size(),
                    next: entry.seq,
                });
            }
            let Some(event) = entry.event else {
                return Err(VerifyFailure::EventMissing {
                    seq: entry.seq,
                    event_id: entry.event_id,
                });
            };
            let leaf = event.leaf_hash();
            if leaf.as_slice() != entry.leaf_hash.as_slice() || event.id != entry.event_id {
                return Err(VerifyFailure::EventChanged {
                    seq: entry.seq,
                    event_id: entry.event_id,
                });
            }
            tree.append(leaf);
            while let Some((&size, list)) = next_target.peek() {
                if size != tree.size() {
                    break;
                }
                let root = tree.root();
                for t in list.iter() {
                    if t.root != root {
                        return Err(if t.witness {
                            VerifyFailure::Witness {
                                size,
                                reason:
                                    "the log's root at this size differs: the log was rewritten"
                                        .into(),
                            }
                        } else {
                            VerifyFailure::CheckpointRoot {
                                size,
                                from: last_checked,
                            }
                        });
                    }
                }
                last_checked = size;
                next_target.next();
            }
        }
        progress(tree.size(), claimed);
    }
    if tree.size() != claimed {
        return Err(VerifyFailure::SizeMismatch {
            found: tree.size(),
            claimed,
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
        pending: store.pending_events().await.map_err(db)?,
    })
}
