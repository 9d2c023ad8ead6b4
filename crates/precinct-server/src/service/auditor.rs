//! The auditor's view of the audit trail: searching events, their proofs,
//! checkpoints, consistency between checkpoints, and CSV. Only the auditor
//! role reads here (an administrator is refused like anyone else), and
//! every read is itself recorded, before any data is returned.

use precinct_audit::bundle::to_csv;
use precinct_audit::checkpoint::LogVerifier;
use precinct_audit::event::AuditEvent;
use precinct_audit::merkle::{verify_consistency, verify_inclusion, Hash};
use precinct_domain::user::Username;
use precinct_domain::{DomainError, Role};
use precinct_store::{EventFilter, StoredCheckpoint};

use super::admin::Actor;
use super::audit::Outcome;
use super::export::EventProof;
use super::{ServiceError, ServiceResult, Services, StoreResultExt};

/// At most this many events come back from one search.
pub const MAX_PAGE: u64 = 500;
/// A search without a limit returns this many.
pub const DEFAULT_PAGE: u64 = 50;
/// Offsets beyond this are refused (they are no use, and keep the store's
/// integers in range).
pub const MAX_OFFSET: u64 = 1_000_000_000;
const MAX_IDENTIFIER: usize = 64;
const READ: &str = "audit.read";

/// A search of the trail as typed: every field optional, blank means
/// absent. `parse` turns it into an [`AuditSearch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// A username: the events that user performed.
    pub user: Option<String>,
    /// A case id: the events about that case.
    pub case: Option<String>,
    pub action: Option<String>,
    /// `allowed`, `denied` or `failed`.
    pub outcome: Option<String>,
    /// RFC 3339 UTC (`2026-12-01T08:00:00Z`) or a date (`2026-12-01`).
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A validated search. Only identifiers, codes and instants: nothing here
/// is free text, so its description can go into the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSearch {
    pub user: Option<Username>,
    pub case: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    /// Events at or after this instant (microseconds since the epoch).
    pub from_us: Option<i64>,
    /// Events before this instant.
    pub to_us: Option<i64>,
}

fn blank_is_none(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl AuditQuery {
    pub fn parse(&self) -> Result<AuditSearch, DomainError> {
        let user = blank_is_none(&self.user).map(Username::parse).transpose()?;
        let case = blank_is_none(&self.case)
            .map(|c| {
                identifier("case", c, |ch| {
                    ch.is_ascii_alphanumeric() || "._:-".contains(ch)
                })
            })
            .transpose()?;
        let action = blank_is_none(&self.action)
            .map(|a| {
                identifier("action", a, |ch| {
                    ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch)
                })
            })
            .transpose()?;
        let outcome = blank_is_none(&self.outcome)
            .map(parse_outcome)
            .transpose()?;
        let from_us = blank_is_none(&self.from)
            .map(|t| parse_instant("from", t, false))
            .transpose()?;
        let to_us = blank_is_none(&self.to)
            .map(|t| parse_instant("to", t, true))
            .transpose()?;
        if let (Some(f), Some(t)) = (from_us, to_us) {
            if f >= t {
                return Err(DomainError::invalid("to", "must be later than from"));
            }
        }
        Ok(AuditSearch {
            user,
            case,
            action,
            outcome,
            from_us,
            to_us,
        })
    }
}

impl AuditSearch {
    /// The search as the audit trail records it: `user:alice,action:auth.login`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(u) = &self.user {
            parts.push(format!("user:{}", u.as_str()));
        }
        if let Some(c) = &self.case {
            parts.push(format!("case:{c}"));
        }
        if let Some(a) = &self.action {
            parts.push(format!("action:{a}"));
        }
        if let Some(o) = self.outcome {
            parts.push(format!("outcome:{}", o.as_str()));
        }
        if let Some(f) = self.from_us {
            parts.push(format!("from:{f}"));
        }
        if let Some(t) = self.to_us {
            parts.push(format!("to:{t}"));
        }
        if parts.is_empty() {
            "all".into()
        } else {
            parts.join(",")
        }
    }
}

fn identifier(
    field: &'static str,
    s: &str,
    allowed: impl Fn(char) -> bool,
) -> Result<String, DomainError> {
    if s.chars().count() > MAX_IDENTIFIER || !s.chars().all(allowed) {
        return Err(DomainError::invalid(
            field,
            format!("must be an identifier of at most {MAX_IDENTIFIER} letters, digits, '.', '_', ':' or '-'"),
        ));
    }
    Ok(s.to_owned())
}

fn parse_outcome(s: &str) -> Result<Outcome, DomainError> {
    [Outcome::Allowed, Outcome::Denied, Outcome::Failed]
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| DomainError::invalid("outcome", "must be allowed, denied or failed"))
}

/// `2026-12-01T08:00:00Z` (seconds may have up to six decimals; `+00:00`
/// is UTC too) or `2026-12-01`. A date alone is its first instant, or with
/// `end_of_day` the first instant of the next day, so that `to` a date
/// includes that whole day.
pub fn parse_instant(field: &'static str, s: &str, end_of_day: bool) -> Result<i64, DomainError> {
    let bad = || {
        DomainError::invalid(
            field,
            "must be a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ)",
        )
    };
    let (date, time) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let days = parse_date(date).ok_or_else(bad)?;
    let micros = match time {
        None => (days + i64::from(end_of_day)) * 86_400_000_000,
        Some(t) => {
            let t = t
                .strip_suffix(['Z', 'z'])
                .or_else(|| t.strip_suffix("+00:00"))
                .ok_or_else(|| DomainError::invalid(field, "must be in UTC (end with Z)"))?;
            days * 86_400_000_000 + parse_time_of_day(t).ok_or_else(bad)?
        }
    };
    Ok(micros)
}

fn digits(s: &str, len: usize) -> Option<i64> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Days since 1970-01-01 of a proleptic Gregorian date, after Howard
/// Hinnant's `days_from_civil`.
fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let (y, m, d) = (
        digits(parts.next()?, 4)?,
        digits(parts.next()?, 2)?,
        digits(parts.next()?, 2)?,
    );
    if parts.next().is_some() || !(1..=12).contains(&m) {
        return None;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_len = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=month_len).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Microseconds into the day of `HH:MM:SS` or `HH:MM:SS.ffffff`.
fn parse_time_of_day(s: &str) -> Option<i64> {
    let (hms, frac) = match s.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (s, None),
    };
    let mut parts = hms.split(':');
    let (h, m, sec) = (
        digits(parts.next()?, 2)?,
        digits(parts.next()?, 2)?,
        digits(parts.next()?, 2)?,
    );
    if parts.next().is_some() || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let micros = match frac {
        None => 0,
        Some(f) if (1..=6).contains(&f.len()) => {
            digits(f, f.len())? * 10i64.pow(6 - f.len() as u32)
        }
        Some(_) => return None,
    };
    Some(((h * 60 + m) * 60 + sec) * 1_000_000 + micros)
}

/// The page size asked for (`None` for the default), checked and capped.
pub fn page_limit(limit: Option<u64>) -> Result<u64, DomainError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(0) => Err(DomainError::invalid("limit", "must be at least 1")),
        Some(n) => Ok(n.min(MAX_PAGE)),
    }
}

pub fn page_offset(offset: Option<u64>) -> Result<u64, DomainError> {
    match offset {
        Some(n) if n > MAX_OFFSET => Err(DomainError::invalid(
            "offset",
            format!("must be at most {MAX_OFFSET}"),
        )),
        other => Ok(other.unwrap_or(0)),
    }
}

/// One page of a search, newest first, each event with its log position.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<(u64, AuditEvent)>,
    pub limit: u64,
    pub offset: u64,
    /// Another page follows this one.
    pub more: bool,
}

/// An event's inclusion proof, checked here against the checkpoint's root
/// and the checkpoint's signature against the log's key.
#[derive(Debug, Clone)]
pub struct AuditProof {
    pub proof: EventProof,
    pub verifier_key: String,
    pub verified: bool,
}

/// A consistency proof between two checkpoints, checked here too.
#[derive(Debug, Clone)]
pub struct AuditConsistency {
    pub from: StoredCheckpoint,
    pub to: StoredCheckpoint,
    pub proof: Vec<Hash>,
    pub verifier_key: String,
    pub verified: bool,
}

/// The signed checkpoints, oldest first, and the key they verify with.
#[derive(Debug, Clone)]
pub struct AuditCheckpoints {
    pub checkpoints: Vec<StoredCheckpoint>,
    pub verifier_key: String,
}

/// The note is signed by `key` and states the stored size and root.
fn note_matches(key: &LogVerifier, cp: &StoredCheckpoint) -> bool {
    key.open(&cp.note)
        .is_ok_and(|c| c.size == cp.size && c.root.as_slice() == cp.root.as_slice())
}

fn root_of(cp: &StoredCheckpoint) -> Option<Hash> {
    cp.root.as_slice().try_into().ok()
}

/// Whether an event's proof leads to its checkpoint's signed root.
pub fn proof_verifies(key: &LogVerifier, p: &EventProof) -> bool {
    note_matches(key, &p.checkpoint)
        && root_of(&p.checkpoint).is_some_and(|root| {
            verify_inclusion(
                p.seq,
                p.checkpoint.size,
                &p.event.leaf_hash(),
                &p.proof,
                &root,
            )
        })
}

impl Services {
    /// Only auditors read the trail here; a refusal is recorded first.
    async fn require_auditor(&self, actor: Actor<'_>, object: (&str, &str)) -> ServiceResult<()> {
        match actor {
            Actor::Console => Ok(()),
            Actor::User(u, _) if u.roles.contains(Role::Auditor) => Ok(()),
            Actor::User(_, origin) => {
                let e = self
                    .event(origin, READ, Outcome::Denied)
                    .object(object.0, object.1)
                    .reason("forbidden")
                    .build();
                Err(self.deny(e, ServiceError::Forbidden("auditor")).await)
            }
        }
    }

    /// Records the read; if it cannot be recorded, nothing is returned.
    async fn record_read(&self, actor: Actor<'_>, object: (&str, &str)) -> ServiceResult<()> {
        let e = self
            .event(&actor.origin(), READ, Outcome::Allowed)
            .object(object.0, object.1)
            .build();
        self.record(&[e]).await
    }

    /// The store's filter for a search; an unknown username is recorded as
    /// a failed read and answered "not found".
    async fn event_filter(
        &self,
        actor: Actor<'_>,
        search: &AuditSearch,
        description: &str,
    ) -> ServiceResult<EventFilter> {
        let actor_id = match &search.user {
            None => None,
            Some(name) => match self.store.user_by_username(name.as_str()).await {
                Ok(r) => Some(r.user.id.to_string()),
                Err(precinct_store::StoreError::NotFound) => {
                    let e = self
                        .event(&actor.origin(), READ, Outcome::Failed)
                        .object("audit_query", description)
                        .reason("not_found")
                        .build();
                    return Err(self.deny(e, ServiceError::NotFound("user")).await);
                }
                Err(e) => return Err(ServiceError::from_store(e, "user")),
            },
        };
        Ok(EventFilter {
            actor_id,
            object_type: search.case.as_ref().map(|_| "case".to_owned()),
            object_id: search.case.clone(),
            action: search.action.clone(),
            outcome: search.outcome.map(|o| o.as_str().to_owned()),
            from_us: search.from_us,
            to_us: search.to_us,
        })
    }

    /// A page of the events matching `search`, newest first. `limit` is
    /// capped at [`MAX_PAGE`].
    pub async fn search_audit(
        &self,
        actor: Actor<'_>,
        search: &AuditSearch,
        limit: u64,
        offset: u64,
    ) -> ServiceResult<AuditPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let offset = offset.min(MAX_OFFSET);
        let description = format!("{},offset:{offset},limit:{limit}", search.describe());
        let object = ("audit_query", description.as_str());
        // A case's own trail is also open to those the policy lets see its
        // audit tab (its supervisors), for that case alone.
        let case_tab = match (actor, search.case.as_deref()) {
            (Actor::User(u, origin), Some(case)) if !u.roles.contains(Role::Auditor) => {
                self.may_view_case_audit(super::cases::Asker { user: u, origin }, case)
                    .await
            }
            _ => false,
        };
        if !case_tab {
            self.require_auditor(actor, object).await?;
        }
        let filter = self.event_filter(actor, search, &description).await?;
        self.record_read(actor, object).await?;
        let mut events = self
            .store
            .search_events(&filter, limit + 1, offset)
            .await
            .or_service("audit events")?;
        let more = events.len() as u64 > limit;
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(AuditPage {
            events,
            limit,
            offset,
            more,
        })
    }

    /// Every signed checkpoint, oldest first.
    pub async fn audit_checkpoints(&self, actor: Actor<'_>) -> ServiceResult<AuditCheckpoints> {
        let object = ("audit_checkpoints", "all");
        self.require_auditor(actor, object).await?;
        self.record_read(actor, object).await?;
        let checkpoints = self.store.checkpoints().await.or_service("checkpoint")?;
        Ok(AuditCheckpoints {
            checkpoints,
            verifier_key: self.log_verifier().encode(),
        })
    }

    /// An event with its inclusion proof against the checkpoint of size
    /// `checkpoint`, or the first that covers it. An event that no
    /// checkpoint covers yet is sequenced and a checkpoint signed first, so
    /// that a fresh event has its proof at once.
    pub async fn audit_event_proof(
        &self,
        actor: Actor<'_>,
        event_id: &str,
        checkpoint: Option<u64>,
    ) -> ServiceResult<AuditProof> {
        if uuid::Uuid::parse_str(event_id).is_err() {
            return Err(DomainError::invalid("event", "must be an event id").into());
        }
        let object = ("audit_event", event_id);
        self.require_auditor(actor, object).await?;
        self.record_read(actor, object).await?;
        if checkpoint.is_none() && !self.covered(event_id).await? {
            self.checkpoint_now().await?;
        }
        let proof = self
            .prove_event(&actor.origin(), event_id, checkpoint)
            .await?;
        let key = self.log_verifier();
        Ok(AuditProof {
            verified: proof_verifies(&key, &proof),
            verifier_key: key.encode(),
            proof,
        })
    }

    /// The event is sequenced and a signed checkpoint includes it.
    async fn covered(&self, event_id: &str) -> ServiceResult<bool> {
        let Some(seq) = self
            .store
            .event_seq(event_id)
            .await
            .or_service("audit event")?
        else {
            return Ok(false);
        };
        let latest = self
            .store
            .latest_checkpoint()
            .await
            .or_service("checkpoint")?;
        Ok(latest.is_some_and(|c| c.size > seq))
    }

    /// A proof that the log at checkpoint `to` extends the log at
    /// checkpoint `from` (sizes), and whether it verifies.
    pub async fn audit_consistency(
        &self,
        actor: Actor<'_>,
        from: u64,
        to: u64,
    ) -> ServiceResult<AuditConsistency> {
        let range = format!("{from}..{to}");
        let object = ("checkpoint", range.as_str());
        self.require_auditor(actor, object).await?;
        if from > to {
            return Err(DomainError::invalid("from", "must not be larger than to").into());
        }
        self.record_read(actor, object).await?;
        let (a, b, proof) = self.prove_consistency(&actor.origin(), from, to).await?;
        let key = self.log_verifier();
        let verified = note_matches(&key, &a)
            && note_matches(&key, &b)
            && match (root_of(&a), root_of(&b)) {
                (Some(ra), Some(rb)) => verify_consistency(a.size, b.size, &ra, &rb, &proof),
                _ => false,
            };
        Ok(AuditConsistency {
            from: a,
            to: b,
            proof,
            verifier_key: key.encode(),
            verified,
        })
    }

    /// The events matching `search` as CSV, oldest first: the rendering of
    /// an export bundle (so every row is in a signed checkpoint), with its
    /// guard against spreadsheet formulas.
    pub async fn audit_csv(&self, actor: Actor<'_>, search: &AuditSearch) -> ServiceResult<String> {
        let description = format!("{},format:csv", search.describe());
        let object = ("audit_query", description.as_str());
        // A case's own trail is also open to those the policy lets see its
        // audit tab (its supervisors), for that case alone.
        let case_tab = match (actor, search.case.as_deref()) {
            (Actor::User(u, origin), Some(case)) if !u.roles.contains(Role::Auditor) => {
                self.may_view_case_audit(super::cases::Asker { user: u, origin }, case)
                    .await
            }
            _ => false,
        };
        if !case_tab {
            self.require_auditor(actor, object).await?;
        }
        let filter = self.event_filter(actor, search, &description).await?;
        self.record_read(actor, object).await?;
        let bundle = self
            .export_bundle(
                &actor.origin(),
                &filter,
                &format!("Audit events: {}", search.describe()),
            )
            .await?;
        Ok(to_csv(&bundle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(f: impl FnOnce(&mut AuditQuery)) -> Result<AuditSearch, DomainError> {
        let mut q = AuditQuery::default();
        f(&mut q);
        q.parse()
    }

    #[test]
    fn instants() {
        // 2026-12-01T08:00:00Z
        let t0 = 1_796_112_000_000_000;
        assert_eq!(parse_instant("from", "2026-12-01T08:00:00Z", false), Ok(t0));
        assert_eq!(
            parse_instant("from", "2026-12-01T08:00:00.5+00:00", false),
            Ok(t0 + 500_000)
        );
        assert_eq!(
            parse_instant("from", "2026-12-01", false),
            Ok(t0 - 8 * 3_600_000_000)
        );
        assert_eq!(
            parse_instant("to", "2026-12-01", true),
            Ok(t0 + 16 * 3_600_000_000)
        );
        assert_eq!(parse_instant("from", "1970-01-01T00:00:00Z", false), Ok(0));
        assert_eq!(
            parse_instant("from", "2000-02-29", false),
            Ok(951_782_400_000_000)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "2025-02-29",
            "2026-1-01",
            "2026-12-01T08:00:00",
            "2026-12-01T24:00:00Z",
            "2026-12-01T08:00Z",
            "2026-12-01T08:00:00.1234567Z",
            "2026-12-01T08:00:00+02:00",
            "+026-12-01",
        ] {
            assert!(parse_instant("from", bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn queries() {
        assert_eq!(query(|_| {}), Ok(AuditSearch::default()));
        let s = query(|q| {
            q.user = Some("alice".into());
            q.action = Some("auth.login".into());
            q.outcome = Some("denied".into());
            q.case = Some(" ".into());
        })
        .expect("valid");
        assert_eq!(s.outcome, Some(Outcome::Denied));
        assert_eq!(s.case, None);
        assert_eq!(s.describe(), "user:alice,action:auth.login,outcome:denied");
        assert!(query(|q| q.outcome = Some("maybe".into())).is_err());
        assert!(query(|q| q.action = Some("DROP TABLE".into())).is_err());
        assert!(query(|q| q.case = Some("a,b".into())).is_err());
        assert!(query(|q| q.user = Some("Robert'); --".into())).is_err());
        assert!(query(|q| {
            q.from = Some("2026-12-02".into());
            q.to = Some("2026-12-01".into());
        })
        .is_err());
        assert_eq!(page_limit(None), Ok(DEFAULT_PAGE));
        assert_eq!(page_limit(Some(10_000)), Ok(MAX_PAGE));
        assert!(page_limit(Some(0)).is_err());
        assert!(page_offset(Some(MAX_OFFSET + 1)).is_err());
    }
}
