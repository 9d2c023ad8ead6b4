//! Audit bundles: what Precinct exports for a court or an auditor. A bundle
//! holds events, each with an RFC 6962 inclusion proof against one signed
//! checkpoint, and the log's public key, so that `verify` can check it with
//! this crate alone: no database, no network, no Precinct server.
//!
//! The JSON bundle is the evidence; the CSV (`to_csv`) and the PDF
//! (`to_pdf`) are renderings of it for people.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::checkpoint::{CheckpointError, LogVerifier};
use crate::event::{AuditEvent, ENCODING_VERSION};
use crate::merkle::{verify_inclusion, Hash};

mod csv;
#[cfg(feature = "pdf")]
mod pdf;

pub use csv::{row as csv_row, to_csv};
#[cfg(feature = "pdf")]
pub use pdf::{table_pdf, to_pdf};

pub const BUNDLE_FORMAT: &str = "precinct-audit-bundle/1";

/// An export: events with their proofs, the checkpoint they are proved
/// against, and the key that signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// `BUNDLE_FORMAT`.
    pub format: String,
    /// What was selected, e.g. "Events of user alice, 2026-11-01 to
    /// 2026-11-30": identifiers and dates only, no other personal data.
    pub description: String,
    /// Microseconds since the Unix epoch, UTC.
    pub exported_at_us: i64,
    /// `LogVerifier::encode()` of the log's key.
    pub verifier_key: String,
    /// The signed checkpoint note every proof is against.
    pub checkpoint: String,
    pub entries: Vec<BundleEntry>,
}

/// One event at its position (`seq`, the leaf index from 0) in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    pub seq: u64,
    pub event: AuditEvent,
    /// The inclusion proof (audit path), leaf to root, as lower-case hex.
    pub proof: Vec<String>,
}

impl BundleEntry {
    pub fn new(seq: u64, event: AuditEvent, proof: &[Hash]) -> Self {
        Self {
            seq,
            event,
            proof: proof.iter().map(hex::encode).collect(),
        }
    }
}

impl Bundle {
    /// A bundle in the current format. Sort `entries` by seq: the CSV and
    /// the PDF list them in the order given.
    pub fn new(
        description: String,
        exported_at_us: i64,
        key: &LogVerifier,
        checkpoint: String,
        entries: Vec<BundleEntry>,
    ) -> Self {
        Self {
            format: BUNDLE_FORMAT.to_owned(),
            description,
            exported_at_us,
            verifier_key: key.encode(),
            checkpoint,
            entries,
        }
    }

    /// Reads a bundle file. The format is checked first, so that a bundle
    /// of a later format is reported as such and not as an unknown field.
    pub fn from_json(text: &str) -> Result<Self, BundleError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| BundleError::Malformed(e.to_string()))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(BUNDLE_FORMAT) => {}
            Some(other) => {
                return Err(BundleError::UnknownFormat {
                    found: other.to_owned(),
                })
            }
            None => return Err(BundleError::Malformed("no \"format\" field".into())),
        }
        serde_json::from_value(value).map_err(|e| BundleError::Malformed(e.to_string()))
    }

    /// Pretty JSON, so that a reader can see the events without tools.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

/// What a bundle proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    pub tree_size: u64,
    pub root: Hash,
    pub origin: String,
    /// How many entries were verified: all of them.
    pub entries: usize,
    /// The key the checkpoint verified with.
    pub key: LogVerifier,
}

/// Why a bundle does not verify. Entry errors name the first failing entry
/// in bundle order; `code()` is stable for scripts.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("the bundle is not readable JSON of the bundle format: {0}")]
    Malformed(String),
    #[error("unknown bundle format {found:?}; this verifier reads {BUNDLE_FORMAT:?}")]
    UnknownFormat { found: String },
    #[error("the bundle's verifier key is malformed")]
    BadKey,
    #[error("the expected verifier key that was given is malformed")]
    BadExpectedKey,
    #[error(
        "the bundle carries the key {found:?}, not the expected key {expected:?}: \
         it was not signed by the expected log and may be forged"
    )]
    KeyMismatch { expected: String, found: String },
    #[error("the bundle's checkpoint does not verify with its key: {0}")]
    BadCheckpoint(CheckpointError),
    #[error(
        "entry seq {seq} (event {event_id:?}): seq is not below the checkpoint's \
         tree size {tree_size}, so the log held no such entry when it was signed"
    )]
    SeqOutOfRange {
        seq: u64,
        event_id: String,
        tree_size: u64,
    },
    #[error(
        "entry seq {seq} (event {event_id:?}): seq {seq} already appeared, \
         for event {first_event_id:?}"
    )]
    DuplicateSeq {
        seq: u64,
        event_id: String,
        first_event_id: String,
    },
    #[error(
        "entry seq {seq} (event {event_id:?}): event encoding version {version} \
         is not {ENCODING_VERSION}, the one this verifier knows"
    )]
    UnsupportedEventVersion {
        seq: u64,
        event_id: String,
        version: u32,
    },
    #[error(
        "entry seq {seq} (event {event_id:?}): proof element {index} is not a \
         SHA-256 hash in hex"
    )]
    BadProofEncoding {
        seq: u64,
        event_id: String,
        index: usize,
    },
    #[error(
        "entry seq {seq} (event {event_id:?}): the inclusion proof does not \
         verify: the event was changed, or is not in the log at this seq"
    )]
    NotIncluded { seq: u64, event_id: String },
    #[error("the witness checkpoint does not verify with the bundle's key: {0}")]
    BadWitness(CheckpointError),
    #[error(
        "the witness checkpoint (tree size {witness_size}, root {witness_root}) \
         is not the bundle's (tree size {bundle_size}, root {bundle_root})"
    )]
    WitnessMismatch {
        witness_size: u64,
        witness_root: String,
        bundle_size: u64,
        bundle_root: String,
    },
    #[error("the report would need more PDF objects than a PDF file can hold")]
    ReportTooLarge,
}

impl BundleError {
    /// A stable, machine-readable name for the failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnknownFormat { .. } => "unknown_format",
            Self::BadKey => "bad_key",
            Self::BadExpectedKey => "bad_expected_key",
            Self::KeyMismatch { .. } => "key_mismatch",
            Self::BadCheckpoint(_) => "bad_checkpoint",
            Self::SeqOutOfRange { .. } => "seq_out_of_range",
            Self::DuplicateSeq { .. } => "duplicate_seq",
            Self::UnsupportedEventVersion { .. } => "unsupported_event_version",
            Self::BadProofEncoding { .. } => "bad_proof_encoding",
            Self::NotIncluded { .. } => "not_included",
            Self::BadWitness(_) => "bad_witness",
            Self::WitnessMismatch { .. } => "witness_mismatch",
            Self::ReportTooLarge => "report_too_large",
        }
    }

    /// The failing entry's seq and event id, for entry errors.
    pub fn entry(&self) -> Option<(u64, &str)> {
        match self {
            Self::SeqOutOfRange { seq, event_id, .. }
            | Self::DuplicateSeq { seq, event_id, .. }
            | Self::UnsupportedEventVersion { seq, event_id, .. }
            | Self::BadProofEncoding { seq, event_id, .. }
            | Self::NotIncluded { seq, event_id } => Some((*seq, event_id)),
            _ => None,
        }
    }
}

/// Verifies a bundle against the key it carries. That proves the events
/// are in the log that key signs, not that the key is the department's:
/// use `verify_with_key` with the published key for that.
pub fn verify(bundle: &Bundle) -> Result<VerifiedBundle, BundleError> {
    verify_with_key(bundle, None)
}

/// Verifies a bundle; with `expected_key` (a verifier key as
/// `LogVerifier::encode` writes it), also that the bundle's key is that
/// one, so that a bundle forged with a key of its own is refused.
pub fn verify_with_key(
    bundle: &Bundle,
    expected_key: Option<&str>,
) -> Result<VerifiedBundle, BundleError> {
    if bundle.format != BUNDLE_FORMAT {
        return Err(BundleError::UnknownFormat {
            found: bundle.format.clone(),
        });
    }
    let key = LogVerifier::parse(&bundle.verifier_key).map_err(|_| BundleError::BadKey)?;
    if let Some(expected) = expected_key {
        let expected = LogVerifier::parse(expected).map_err(|_| BundleError::BadExpectedKey)?;
        if expected != key {
            return Err(BundleError::KeyMismatch {
                expected: expected.encode(),
                found: key.encode(),
            });
        }
    }
    let cp = key
        .open(&bundle.checkpoint)
        .map_err(BundleError::BadCheckpoint)?;
    let mut seen: HashMap<u64, &str> = HashMap::new();
    for entry in &bundle.entries {
        let (seq, id) = (entry.seq, &entry.event.id);
        if seq >= cp.size {
            return Err(BundleError::SeqOutOfRange {
                seq,
                event_id: id.clone(),
                tree_size: cp.size,
            });
        }
        if let Some(first) = seen.insert(seq, id) {
            return Err(BundleError::DuplicateSeq {
                seq,
                event_id: id.clone(),
                first_event_id: first.to_owned(),
            });
        }
        if entry.event.v != ENCODING_VERSION {
            return Err(BundleError::UnsupportedEventVersion {
                seq,
                event_id: id.clone(),
                version: entry.event.v,
            });
        }
        let proof = decode_proof(&entry.proof).map_err(|index| BundleError::BadProofEncoding {
            seq,
            event_id: id.clone(),
            index,
        })?;
        if !verify_inclusion(seq, cp.size, &entry.event.leaf_hash(), &proof, &cp.root) {
            return Err(BundleError::NotIncluded {
                seq,
                event_id: id.clone(),
            });
        }
    }
    Ok(VerifiedBundle {
        tree_size: cp.size,
        root: cp.root,
        origin: cp.origin,
        entries: bundle.entries.len(),
        key,
    })
}

/// The proof's hashes, or the index of the first that is not 64 hex digits.
fn decode_proof(proof: &[String]) -> Result<Vec<Hash>, usize> {
    proof
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut h = [0u8; 32];
            hex::decode_to_slice(p, &mut h).map_err(|_| i)?;
            Ok(h)
        })
        .collect()
}

impl VerifiedBundle {
    /// Checks a witness copy of a checkpoint, one published outside the
    /// database: it must verify with the bundle's key and be the same tree
    /// head (size and root) as the bundle's checkpoint.
    pub fn check_witness(&self, note: &str) -> Result<(), BundleError> {
        let witness = self.key.open(note).map_err(BundleError::BadWitness)?;
        if witness.size != self.tree_size || witness.root != self.root {
            return Err(BundleError::WitnessMismatch {
                witness_size: witness.size,
                witness_root: hex::encode(witness.root),
                bundle_size: self.tree_size,
                bundle_root: hex::encode(self.root),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
