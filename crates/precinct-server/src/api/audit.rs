//! The audit trail over the API, for the auditor role: searching events,
//! an event's inclusion proof against any checkpoint, the checkpoints, a
//! consistency proof between two of them, and CSV. The use-cases check the
//! role and record every read.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use precinct_audit::event::AuditEvent;
use precinct_audit::time_rfc3339;
use precinct_domain::DomainError;
use precinct_store::StoredCheckpoint;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiPath;
use crate::auth::ActiveUser;
use crate::problem::{ApiResult, Problem};
use crate::service::admin::Actor;
use crate::service::auditor::{page_limit, page_offset, AuditQuery, AuditSearch};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit/events", get(search_events))
        .route("/audit/events.csv", get(events_csv))
        .route("/audit/events/{id}/proof", get(event_proof))
        .route("/audit/checkpoints", get(checkpoints))
        .route("/audit/consistency", get(consistency))
}

fn actor(u: &ActiveUser) -> Actor<'_> {
    Actor::User(&u.0.auth.user.user, &u.0.origin)
}

/// A query string read strictly (unknown parameters are refused); any
/// problem with it is a 400 `invalid_query` naming what is wrong.
#[derive(Debug)]
pub struct StrictQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = Problem;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(StrictQuery(v)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                Err(invalid_query().with_detail(detail.to_owned()))
            }
        }
    }
}

fn invalid_query() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        "The query string is not valid",
    )
}

/// A parameter's value is not acceptable.
fn bad_param(e: DomainError) -> Problem {
    invalid_query().with_detail(e.to_string())
}

/// Which events: every parameter narrows the search; blank is absent.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// A username: the events that user performed.
    pub user: Option<String>,
    /// A case id: the events about that case.
    pub case: Option<String>,
    /// An action code, e.g. `auth.login`.
    pub action: Option<String>,
    /// `allowed`, `denied` or `failed`.
    pub outcome: Option<String>,
    /// Events at or after this instant: RFC 3339 UTC (`2026-12-01T08:00:00Z`)
    /// or a date (`2026-12-01`, its first instant).
    pub from: Option<String>,
    /// Events before this instant; a date alone includes that whole day.
    pub to: Option<String>,
    /// Page size, 1 to 500 (larger values are capped); 50 when absent.
    #[param(value_type = Option<u64>)]
    pub limit: Option<String>,
    /// Events to skip, newest first; 0 when absent.
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

impl EventsParams {
    fn search(&self) -> ApiResult<AuditSearch> {
        AuditQuery {
            user: self.user.clone(),
            case: self.case.clone(),
            action: self.action.clone(),
            outcome: self.outcome.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
        .parse()
        .map_err(bad_param)
    }

    fn page(&self) -> ApiResult<(u64, u64)> {
        let number = |field: &'static str, v: &Option<String>| match v
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Ok(None),
            Some(s) => s
                .parse::<u64>()
                .map(Some)
                .map_err(|_| bad_param(DomainError::invalid(field, "must be a whole number"))),
        };
        let limit = page_limit(number("limit", &self.limit)?).map_err(bad_param)?;
        let offset = page_offset(number("offset", &self.offset)?).map_err(bad_param)?;
        Ok((limit, offset))
    }
}

/// The same filters as the search, without paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CsvParams {
    pub user: Option<String>,
    pub case: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProofParams {
    /// The tree size of the checkpoint to prove against; the first
    /// checkpoint that includes the event when absent.
    pub checkpoint: Option<u64>,
}

/// No parameters: any given is refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    /// The older checkpoint's tree size.
    pub from: u64,
    /// The newer checkpoint's tree size.
    pub to: u64,
}

/// One audit event, as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    /// The event's place in the log.
    pub seq: u64,
    /// RFC 3339 UTC with microseconds.
    pub time: String,
    /// Microseconds since the Unix epoch, UTC.
    pub time_us: i64,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub session_id: Option<String>,
    /// `workstation`, `department_device`, `offsite` or `console`.
    pub channel: String,
    pub workstation_id: Option<String>,
    pub device_id: Option<String>,
    pub source_ip: Option<String>,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// `allowed`, `denied` or `failed`.
    pub outcome: String,
    pub reason: Option<String>,
    pub grant_id: Option<String>,
    pub request_id: Option<String>,
}

impl AuditEventView {
    fn new(seq: u64, e: &AuditEvent) -> Self {
        Self {
            id: e.id.clone(),
            seq,
            time: time_rfc3339(e.time_us),
            time_us: e.time_us,
            actor_id: e.actor_id.clone(),
            actor_name: e.actor_name.clone(),
            session_id: e.session_id.clone(),
            channel: e.channel.clone(),
            workstation_id: e.workstation_id.clone(),
            device_id: e.device_id.clone(),
            source_ip: e.source_ip.clone(),
            action: e.action.clone(),
            object_type: e.object_type.clone(),
            object_id: e.object_id.clone(),
            outcome: e.outcome.clone(),
            reason: e.reason.clone(),
            grant_id: e.grant_id.clone(),
            request_id: e.request_id.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventsResponse {
    /// Newest first.
    pub events: Vec<AuditEventView>,
    pub limit: u64,
    pub offset: u64,
    /// The offset of the next page; null on the last page.
    pub next_offset: Option<u64>,
}

/// A signed tree head of the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointView {
    /// The number of events the log held when it was signed.
    pub tree_size: u64,
    /// The Merkle root, lower-case hex.
    pub root: String,
    /// RFC 3339 UTC.
    pub signed_at: String,
    /// The signed note (C2SP signed-note format).
    pub note: String,
}

impl From<&StoredCheckpoint> for CheckpointView {
    fn from(c: &StoredCheckpoint) -> Self {
        Self {
            tree_size: c.size,
            root: hex::encode(&c.root),
            signed_at: time_rfc3339(c.signed_at),
            note: c.note.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointsResponse {
    /// Oldest first.
    pub checkpoints: Vec<CheckpointView>,
    /// The log's public key (`LogVerifier::encode`), to verify the notes.
    pub verifier_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventProofResponse {
    pub event: AuditEventView,
    /// The event's leaf index in the log.
    pub seq: u64,
    /// The leaf hash of the event's canonical encoding, hex.
    pub leaf_hash: String,
    /// The size of the tree the proof is against.
    pub tree_size: u64,
    /// The checkpoint's root, hex.
    pub root: String,
    /// The RFC 9162 inclusion proof (audit path), leaf to root, hex.
    pub proof: Vec<String>,
    /// The signed checkpoint note whose root the proof leads to.
    pub checkpoint: String,
    /// The log's public key (`LogVerifier::encode`).
    pub verifier_key: String,
    /// The server checked the proof against the root and the note's
    /// signature against the key; verify them yourself too.
    pub verified: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyResponse {
    pub from: CheckpointView,
    pub to: CheckpointView,
    /// The RFC 9162 consistency proof, hex.
    pub proof: Vec<String>,
    pub verifier_key: String,
    /// The server checked the proof and both notes' signatures.
    pub verified: bool,
}

#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", params(EventsParams),
    responses((status = 200, body = AuditEventsResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn search_events(
    State(state): State<AppState>,
    caller: ActiveUser,
    StrictQuery(params): StrictQuery<EventsParams>,
) -> ApiResult<Json<AuditEventsResponse>> {
    let search = params.search()?;
    let (limit, offset) = params.page()?;
    let page = state
        .services
        .search_audit(actor(&caller), &search, limit, offset)
        .await?;
    Ok(Json(AuditEventsResponse {
        events: page
            .events
            .iter()
            .map(|(seq, e)| AuditEventView::new(*seq, e))
            .collect(),
        limit: page.limit,
        offset: page.offset,
        next_offset: page.more.then_some(page.offset + page.limit),
    }))
}

#[utoipa::path(get, path = "/api/v1/audit/events.csv", tag = "audit", params(CsvParams),
    responses((status = 200, description = "The events as CSV (RFC 4180), oldest first", content_type = "text/csv"),
        (status = 400, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn events_csv(
    State(state): State<AppState>,
    caller: ActiveUser,
    StrictQuery(p): StrictQuery<CsvParams>,
) -> ApiResult<Response> {
    let search = AuditQuery {
        user: p.user,
        case: p.case,
        action: p.action,
        outcome: p.outcome,
        from: p.from,
        to: p.to,
    }
    .parse()
    .map_err(bad_param)?;
    let csv = state.services.audit_csv(actor(&caller), &search).await?;
    Ok(csv_response(csv))
}

/// CSV as a download.
pub fn csv_response(csv: String) -> Response {
    super::download(
        "text/csv; charset=utf-8",
        "audit-events.csv",
        csv.into_bytes(),
    )
}

#[utoipa::path(get, path = "/api/v1/audit/events/{id}/proof", tag = "audit",
    params(("id" = Uuid, Path, description = "The event id"), ProofParams),
    responses((status = 200, body = EventProofResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn event_proof(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    StrictQuery(p): StrictQuery<ProofParams>,
) -> ApiResult<Json<EventProofResponse>> {
    let a = state
        .services
        .audit_event_proof(actor(&caller), &id.to_string(), p.checkpoint)
        .await?;
    let proof = &a.proof;
    Ok(Json(EventProofResponse {
        event: AuditEventView::new(proof.seq, &proof.event),
        seq: proof.seq,
        leaf_hash: hex::encode(proof.event.leaf_hash()),
        tree_size: proof.checkpoint.size,
        root: hex::encode(&proof.checkpoint.root),
        proof: proof.proof.iter().map(hex::encode).collect(),
        checkpoint: proof.checkpoint.note.clone(),
        verifier_key: a.verifier_key,
        verified: a.verified,
    }))
}

#[utoipa::path(get, path = "/api/v1/audit/checkpoints", tag = "audit",
    responses((status = 200, body = CheckpointsResponse), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn checkpoints(
    State(state): State<AppState>,
    caller: ActiveUser,
    StrictQuery(NoParams {}): StrictQuery<NoParams>,
) -> ApiResult<Json<CheckpointsResponse>> {
    let c = state.services.audit_checkpoints(actor(&caller)).await?;
    Ok(Json(CheckpointsResponse {
        checkpoints: c.checkpoints.iter().map(CheckpointView::from).collect(),
        verifier_key: c.verifier_key,
    }))
}

#[utoipa::path(get, path = "/api/v1/audit/consistency", tag = "audit", params(ConsistencyParams),
    responses((status = 200, body = ConsistencyResponse), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn consistency(
    State(state): State<AppState>,
    caller: ActiveUser,
    StrictQuery(p): StrictQuery<ConsistencyParams>,
) -> ApiResult<Json<ConsistencyResponse>> {
    if p.from > p.to {
        return Err(bad_param(DomainError::invalid(
            "from",
            "must not be larger than to",
        )));
    }
    let c = state
        .services
        .audit_consistency(actor(&caller), p.from, p.to)
        .await?;
    Ok(Json(ConsistencyResponse {
        from: CheckpointView::from(&c.from),
        to: CheckpointView::from(&c.to),
        proof: c.proof.iter().map(hex::encode).collect(),
        verifier_key: c.verifier_key,
        verified: c.verified,
    }))
}
