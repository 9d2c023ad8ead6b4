//! Recording what happens: where a request came from (`Origin`), the
//! events use-cases write with their changes, and the denials they record
//! before answering. An event that cannot be written means the action does
//! not happen.

use precinct_audit::event::{AuditEvent, ENCODING_VERSION};
use precinct_domain::session::Session;
use precinct_domain::user::User;
use precinct_domain::Channel;

use super::{ServiceError, ServiceResult, Services};

/// Who acts and from where; carried into every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub session_id: Option<String>,
    pub channel: String,
    pub workstation_id: Option<String>,
    pub device_id: Option<String>,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
}

impl Origin {
    /// The `precinct` command on the server itself.
    pub fn console() -> Self {
        Self {
            channel: "console".into(),
            ..Self::default()
        }
    }

    /// A request over the network, before anyone is known.
    pub fn network(
        channel: &Channel,
        source_ip: Option<String>,
        request_id: Option<String>,
    ) -> Self {
        let (workstation_id, device_id) = match channel {
            Channel::Workstation { id, .. } => (Some(id.to_string()), None),
            Channel::DepartmentDevice { id, .. } => (None, Some(id.to_string())),
            Channel::Offsite => (None, None),
        };
        Self {
            channel: channel.kind().to_owned(),
            workstation_id,
            device_id,
            source_ip,
            request_id,
            ..Self::default()
        }
    }

    /// The same origin, acting as `user` in `session`.
    pub fn as_user(&self, user: &User, session: Option<&Session>) -> Self {
        Self {
            actor_id: Some(user.id.to_string()),
            actor_name: Some(user.username.as_str().to_owned()),
            session_id: session.map(|s| public_session_id(&s.token_hash)),
            ..self.clone()
        }
    }
}

/// A session's name in the audit trail: a prefix of its token's hash, which
/// identifies it without being usable as a credential.
pub fn public_session_id(token_hash: &str) -> String {
    token_hash.chars().take(16).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// Builds one event.
#[derive(Debug, Clone)]
pub struct EventBuilder(AuditEvent);

impl EventBuilder {
    pub fn object(mut self, kind: &str, id: impl ToString) -> Self {
        self.0.object_type = Some(kind.to_owned());
        self.0.object_id = Some(id.to_string());
        self
    }
    /// The off-site grant in force for the action, if any.
    pub fn grant(mut self, id: Option<&str>) -> Self {
        self.0.grant_id = id.map(str::to_owned);
        self
    }
    pub fn reason(mut self, code: &str) -> Self {
        self.0.reason = Some(code.to_owned());
        self
    }
    pub fn build(self) -> AuditEvent {
        self.0
    }
}

/// A UUIDv7 from the event's own time: ids written together sort together,
/// so the id index grows at its right edge instead of in random pages.
fn time_ordered_id(time_us: i64) -> String {
    let us = u64::try_from(time_us).unwrap_or_default();
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        us / 1_000_000,
        (us % 1_000_000) as u32 * 1000,
    );
    uuid::Uuid::new_v7(ts).to_string()
}

impl Services {
    /// An event at the current time from `origin`.
    pub fn event(&self, origin: &Origin, action: &str, outcome: Outcome) -> EventBuilder {
        let time_us = self.clock.now().as_micros();
        EventBuilder(AuditEvent {
            v: ENCODING_VERSION,
            id: time_ordered_id(time_us),
            time_us,
            actor_id: origin.actor_id.clone(),
            actor_name: origin.actor_name.clone(),
            session_id: origin.session_id.clone(),
            channel: origin.channel.clone(),
            workstation_id: origin.workstation_id.clone(),
            device_id: origin.device_id.clone(),
            source_ip: origin.source_ip.clone(),
            action: action.to_owned(),
            object_type: None,
            object_id: None,
            outcome: outcome.as_str().to_owned(),
            reason: None,
            grant_id: None,
            request_id: origin.request_id.clone(),
        })
    }

    /// Records events that accompany no change (reads, denials); durable
    /// when this returns. If they cannot be written the caller must refuse.
    /// With group commit on, concurrent callers share one transaction (and
    /// one fsync); each still returns only once its events are durable.
    pub async fn record(&self, events: &[AuditEvent]) -> ServiceResult<()> {
        let written = match &self.group_commit {
            Some(g) => g.write(events.to_vec()).await,
            None => self
                .store
                .record_and_sequence(events)
                .await
                .map_err(|e| e.to_string()),
        };
        written.map_err(|e| {
            tracing::error!(error = %e, "audit write failed; refusing the action");
            ServiceError::Unavailable
        })
    }

    /// Records a request refused for a missing or wrong CSRF token; the
    /// answer is the refusal, or "unavailable" if it cannot be recorded.
    pub async fn deny_csrf(&self, origin: &Origin, path: &str) -> ServiceResult<()> {
        let e = self
            .event(origin, "request.csrf", Outcome::Denied)
            .object("path", path)
            .reason("csrf_token_invalid")
            .build();
        self.record(&[e]).await
    }

    /// Records a denial and returns the error to answer with; if even the
    /// denial cannot be recorded, the answer is "unavailable".
    pub async fn deny(&self, event: AuditEvent, error: ServiceError) -> ServiceError {
        match self.record(&[event]).await {
            Ok(()) => error,
            Err(e) => e,
        }
    }
}

use std::sync::atomic::{AtomicU64, Ordering};

type Ack = tokio::sync::oneshot::Sender<Result<(), String>>;

/// Group commit for events that accompany no change: whatever arrives while
/// a transaction commits goes into the next one.
#[derive(Debug, Clone)]
pub struct GroupCommit {
    queue: tokio::sync::mpsc::Sender<(Vec<AuditEvent>, Ack)>,
    /// Transactions committed, and the events in them.
    commits: std::sync::Arc<(AtomicU64, AtomicU64)>,
}

/// Most events in one transaction.
const GROUP_MAX: usize = 2000;

impl GroupCommit {
    /// Starts the writer task on the current runtime.
    pub fn start(store: precinct_store::Store) -> Self {
        let (queue, mut rx) = tokio::sync::mpsc::channel::<(Vec<AuditEvent>, Ack)>(8192);
        let commits: std::sync::Arc<(AtomicU64, AtomicU64)> = Default::default();
        let counts = commits.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Let the writers the last commit released send their next
                // events first: one yield fills the batch.
                tokio::task::yield_now().await;
                let mut events = first.0;
                let mut acks = vec![first.1];
                while events.len() < GROUP_MAX {
                    match rx.try_recv() {
                        Ok((more, ack)) => {
                            events.extend(more);
                            acks.push(ack);
                        }
                        Err(_) => break,
                    }
                }
                // Written and given their place in the log in one go.
                let result = store
                    .record_and_sequence(&events)
                    .await
                    .map_err(|e| e.to_string());
                if result.is_ok() {
                    counts.0.fetch_add(1, Ordering::Relaxed);
                    counts.1.fetch_add(events.len() as u64, Ordering::Relaxed);
                }
                for ack in acks {
                    let _ = ack.send(result.clone());
                }
            }
        });
        Self { queue, commits }
    }

    /// Transactions committed so far, and the events they held.
    pub fn commits(&self) -> (u64, u64) {
        (
            self.commits.0.load(Ordering::Relaxed),
            self.commits.1.load(Ordering::Relaxed),
        )
    }

    async fn write(&self, events: Vec<AuditEvent>) -> Result<(), String> {
        let (ack, done) = tokio::sync::oneshot::channel();
        self.queue
            .send((events, ack))
            .await
            .map_err(|_| "the audit writer has stopped".to_owned())?;
        done.await
            .map_err(|_| "the audit writer has stopped".to_owned())?
    }
}
