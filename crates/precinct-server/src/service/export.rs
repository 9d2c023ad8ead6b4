//! Exports of the audit trail for court and auditors, and proofs on
//! request. Every read of the trail is itself recorded.

use precinct_audit::bundle::{Bundle, BundleEntry};
use precinct_audit::merkle::Hash;
use precinct_store::{EventFilter, StoredCheckpoint};

use super::audit::{Origin, Outcome};
use super::{ServiceError, ServiceResult, Services, StoreResultExt};

/// At most this many events go in one bundle.
pub const MAX_EXPORT: u64 = 1_000_000;

/// An event's proof against a checkpoint.
#[derive(Debug, Clone)]
pub struct EventProof {
    pub seq: u64,
    pub event: precinct_audit::event::AuditEvent,
    pub proof: Vec<Hash>,
    pub checkpoint: StoredCheckpoint,
}

impl Services {
    /// Signs a checkpoint covering every event written so far; returns the
    /// latest checkpoint.
    pub async fn checkpoint_now(&self) -> ServiceResult<StoredCheckpoint> {
        // Another server may sign between our reading the size and our
        // signing; try again until the latest checkpoint covers it.
        for _ in 0..5 {
            let size = self.store.audit_size().await.or_service("audit log")?;
            self.sign_checkpoint().await?;
            let latest = self
                .store
                .latest_checkpoint()
                .await
                .or_service("checkpoint")?;
            if let Some(cp) = latest.filter(|c| c.size >= size) {
                return Ok(cp);
            }
        }
        Err(ServiceError::Unavailable)
    }

    /// A bundle of the events matching `filter`, each with its inclusion
    /// proof against one signed checkpoint.
    pub async fn export_bundle(
        &self,
        origin: &Origin,
        filter: &EventFilter,
        description: &str,
    ) -> ServiceResult<Bundle> {
        let e = self
            .event(origin, "audit.export", Outcome::Allowed)
            .object("audit_export", description_code(filter))
            .build();
        self.record(&[e]).await?;
        let cp = self.checkpoint_now().await?;
        let found = self
            .store
            .search_events(filter, MAX_EXPORT + 1, 0)
            .await
            .or_service("audit events")?;
        if found.len() as u64 > MAX_EXPORT {
            // Never a silently partial export: narrow the period instead.
            return Err(ServiceError::Invalid(
                precinct_domain::DomainError::invalid(
                    "filter",
                    "more than 1,000,000 events match; export a shorter period",
                ),
            ));
        }
        let mut covered: Vec<(u64, precinct_audit::event::AuditEvent)> = found
            .into_iter()
            .filter(|(seq, _)| *seq < cp.size)
            .collect();
        covered.sort_by_key(|(s, _)| *s);
        let mut entries = Vec::with_capacity(covered.len());
        for (seq, event) in covered {
            let proof = self
                .store
                .inclusion_proof(seq, cp.size)
                .await
                .or_service("proof")?;
            entries.push(BundleEntry::new(seq, event, &proof));
        }
        Ok(Bundle::new(
            description.to_owned(),
            self.clock.now().as_micros(),
            &self.log_verifier(),
            cp.note,
            entries,
        ))
    }

    /// An event's inclusion proof against the checkpoint of `size`, or the
    /// first checkpoint that covers it.
    pub async fn prove_event(
        &self,
        origin: &Origin,
        event_id: &str,
        checkpoint: Option<u64>,
    ) -> ServiceResult<EventProof> {
        let e = self
            .event(origin, "audit.prove", Outcome::Allowed)
            .object("audit_event", event_id)
            .build();
        self.record(&[e]).await?;
        let seq = self
            .store
            .event_seq(event_id)
            .await
            .or_service("audit event")?
            .ok_or(ServiceError::NotFound("sequenced audit event"))?;
        let cp = match checkpoint {
            Some(size) => self
                .store
                .checkpoint_at(size)
                .await
                .or_service("checkpoint")?,
            None => self
                .store
                .checkpoint_covering(seq)
                .await
                .or_service("checkpoint")?
                .ok_or(ServiceError::NotFound("checkpoint covering the event"))?,
        };
        if seq >= cp.size {
            return Err(ServiceError::NotFound("event in that checkpoint"));
        }
        let proof = self
            .store
            .inclusion_proof(seq, cp.size)
            .await
            .or_service("proof")?;
        let event = self
            .store
            .log_entries(seq, 1)
            .await
            .or_service("audit event")?
            .into_iter()
            .next()
            .map(|e| e.event)
            .ok_or(ServiceError::NotFound("audit event"))?;
        Ok(EventProof {
            seq,
            event,
            proof,
            checkpoint: cp,
        })
    }

    /// A consistency proof between two stored checkpoints.
    pub async fn prove_consistency(
        &self,
        origin: &Origin,
        from: u64,
        to: u64,
    ) -> ServiceResult<(StoredCheckpoint, StoredCheckpoint, Vec<Hash>)> {
        let e = self
            .event(origin, "audit.consistency", Outcome::Allowed)
            .object("checkpoint", format!("{from}..{to}"))
            .build();
        self.record(&[e]).await?;
        let a = self
            .store
            .checkpoint_at(from)
            .await
            .or_service("checkpoint")?;
        let b = self
            .store
            .checkpoint_at(to)
            .await
            .or_service("checkpoint")?;
        let proof = self
            .store
            .consistency_proof(from, to)
            .await
            .or_service("proof")?;
        Ok((a, b, proof))
    }
}

fn description_code(f: &EventFilter) -> String {
    let mut parts = Vec::new();
    if let (Some(t), Some(i)) = (&f.object_type, &f.object_id) {
        parts.push(format!("{t}:{i}"));
    }
    if let Some(a) = &f.actor_id {
        parts.push(format!("actor:{a}"));
    }
    if let Some(from) = f.from_us {
        parts.push(format!("from:{from}"));
    }
    if let Some(to) = f.to_us {
        parts.push(format!("to:{to}"));
    }
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(",")
    }
}
