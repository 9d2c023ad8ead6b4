//! Off-site work over the API: duty status, grants and their threads, the
//! approval queue and reviews, notifications, compliance incidents, the
//! work-life chart's numbers, the off-site access report, and the records
//! room's paper files. Each handler parses, calls one use-case in
//! `service::offsite` or `service::records`, and answers JSON or a problem.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use precinct_domain::ids::{CaseId, DeviceId, DocumentId, UnitId, UserId};
use precinct_domain::offsite::{Grant, GrantRequest, GrantStep, Incident};
use precinct_domain::Timestamp;
use precinct_store::{CustodyStep, GrantComment, Notification, PaperFile};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::audit::StrictQuery;
use super::{download, ApiJson, ApiPath};
use crate::auth::ActiveUser;
use crate::problem::{ApiResult, Problem};
use crate::service::auditor::parse_instant;
use crate::service::cases::Asker;
use crate::service::offsite::{report_csv, report_pdf, GrantDetail, ReportRow, WorkLifeChart};
use crate::service::records::PaperFileView;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/duty", post(set_duty))
        .route("/users/{id}/duty", post(correct_duty))
        .route("/grants", get(my_grants).post(request_grant))
        .route("/grants/queue", get(approval_queue))
        .route("/grants/reviews", get(grant_reviews))
        .route("/grants/{id}", get(get_grant))
        .route("/grants/{id}/steps", post(step_grant))
        .route("/grants/{id}/comments", post(comment_grant))
        .route("/grants/{id}/review", post(review_grant))
        .route("/notifications", get(notifications))
        .route("/notifications/{id}/read", post(read_notification))
        .route("/incidents", get(incidents))
        .route("/work-life", get(work_life))
        .route("/reports/offsite", get(offsite_report))
        .route(
            "/paper-files",
            get(paper_files_out).post(register_paper_file),
        )
        .route("/paper-files/{case}", get(paper_file))
        .route("/paper-files/{case}/check-out", post(check_out))
        .route("/paper-files/{case}/check-in", post(check_in))
}

fn asker(u: &ActiveUser) -> Asker<'_> {
    Asker {
        user: &u.0.auth.user.user,
        origin: &u.0.origin,
    }
}

fn instant(field: &'static str, s: &str) -> Result<Timestamp, Problem> {
    Ok(Timestamp::from_micros(parse_instant(
        field,
        s.trim(),
        false,
    )?))
}

// ---- DTOs ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DutyRequest {
    /// `true`: clock in; `false`: clock out.
    pub on_duty: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequestIn {
    /// `administrative` or `off_duty_investigation`.
    pub kind: String,
    /// Why (at least 10 characters).
    pub justification: String,
    /// The cases an investigation continues (none for administrative tasks).
    #[serde(default)]
    pub cases: Vec<Uuid>,
    /// Only these documents of those cases (optional).
    #[serde(default)]
    pub documents: Vec<Uuid>,
    /// The window's start (UTC, `YYYY-MM-DDTHH:MM:SSZ`); default now.
    pub starts_at: Option<String>,
    /// The window's end (UTC); at most the department's maximum after the
    /// start (72 hours for investigations by default).
    pub ends_at: String,
    /// Read-only (`false`, the default) or may add notes.
    #[serde(default)]
    pub may_add_notes: bool,
    /// The enrolled department device the work is done on (investigations).
    pub device: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantOut {
    pub id: String,
    pub kind: String,
    pub requester: Uuid,
    pub status: String,
    /// Approved and inside its window now.
    pub in_force: bool,
    pub justification: String,
    pub cases: Vec<Uuid>,
    pub documents: Vec<Uuid>,
    pub starts_at: String,
    pub ends_at: String,
    pub may_add_notes: bool,
    pub device: Option<Uuid>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<String>,
    /// Conditions of the approval, or the reason of the denial.
    pub decision_note: Option<String>,
    pub revoked_by: Option<Uuid>,
    pub revoked_at: Option<String>,
    pub reviewed_at: Option<String>,
    pub created_at: String,
}

impl GrantOut {
    fn of(g: &Grant, now: Timestamp) -> Self {
        Self {
            id: g.id.clone(),
            kind: g.kind.as_str().into(),
            requester: g.requester.as_uuid(),
            status: g.status.as_str().into(),
            in_force: g.in_force(now),
            justification: g.justification.clone(),
            cases: g.cases.iter().map(CaseId::as_uuid).collect(),
            documents: g.documents.iter().map(DocumentId::as_uuid).collect(),
            starts_at: g.starts_at.to_string(),
            ends_at: g.ends_at.to_string(),
            may_add_notes: g.may_add_notes,
            device: g.device.map(|d| d.as_uuid()),
            decided_by: g.decided_by.map(|u| u.as_uuid()),
            decided_at: g.decided_at.map(|t| t.to_string()),
            decision_note: g.decision_note.clone(),
            revoked_by: g.revoked_by.map(|u| u.as_uuid()),
            revoked_at: g.revoked_at.map(|t| t.to_string()),
            reviewed_at: g.reviewed_at.map(|t| t.to_string()),
            created_at: g.created_at.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentOut {
    pub id: String,
    pub author: Uuid,
    pub author_name: String,
    /// `comment`, `request`, or the step it went with.
    pub step: String,
    pub body: String,
    pub at: String,
}

/// An access made under a grant, from the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessOut {
    pub event: String,
    pub at: String,
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub outcome: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantDetailOut {
    pub grant: GrantOut,
    pub case_numbers: Vec<String>,
    pub thread: Vec<CommentOut>,
    pub may_decide: bool,
    pub may_answer: bool,
    pub may_withdraw: bool,
    pub may_revoke: bool,
    pub may_review: bool,
    /// Once approved: the accesses made under it, oldest first.
    pub accesses: Option<Vec<AccessOut>>,
}

fn comment_out(c: &GrantComment, names: &std::collections::HashMap<UserId, String>) -> CommentOut {
    CommentOut {
        id: c.id.clone(),
        author: c.author.as_uuid(),
        author_name: names.get(&c.author).cloned().unwrap_or_default(),
        step: c.step.clone(),
        body: c.body.clone(),
        at: c.at.to_string(),
    }
}

impl GrantDetailOut {
    fn of(d: &GrantDetail, now: Timestamp) -> Self {
        let mut case_numbers: Vec<String> = d
            .grant
            .cases
            .iter()
            .filter_map(|c| d.case_numbers.get(c).cloned())
            .collect();
        case_numbers.sort();
        Self {
            grant: GrantOut::of(&d.grant, now),
            case_numbers,
            thread: d
                .comments
                .iter()
                .map(|c| comment_out(c, &d.names))
                .collect(),
            may_decide: d.may.decide,
            may_answer: d.may.answer,
            may_withdraw: d.may.withdraw,
            may_revoke: d.may.revoke,
            may_review: d.may.review,
            accesses: d.accesses.as_ref().map(|a| {
                a.iter()
                    .map(|e| AccessOut {
                        event: e.id.clone(),
                        at: Timestamp::from_micros(e.time_us).to_string(),
                        action: e.action.clone(),
                        object_type: e.object_type.clone(),
                        object_id: e.object_id.clone(),
                        outcome: e.outcome.clone(),
                    })
                    .collect()
            }),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    /// `approve`, `deny`, `ask_info`, `answer`, `withdraw` or `revoke`.
    pub step: String,
    /// Conditions (approve), the reason (deny, revoke), the question
    /// (ask_info) or the answer (answer).
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationOut {
    pub id: String,
    pub kind: String,
    pub subject: Option<String>,
    pub message: String,
    pub at: String,
    pub read: bool,
}

impl From<&Notification> for NotificationOut {
    fn from(n: &Notification) -> Self {
        Self {
            id: n.id.clone(),
            kind: n.kind.clone(),
            subject: n.subject_id.clone(),
            message: n.message.clone(),
            at: n.at.to_string(),
            read: n.read_at.is_some(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentOut {
    pub id: String,
    pub kind: String,
    pub description: String,
    pub user: Uuid,
    pub at: String,
    /// The audit event that is its evidence (its proof is at
    /// `/api/v1/audit/events/{id}/proof`).
    pub audit_event: String,
    pub case: Option<Uuid>,
    pub grant: Option<String>,
}

impl From<&Incident> for IncidentOut {
    fn from(i: &Incident) -> Self {
        Self {
            id: i.id.clone(),
            kind: i.kind.as_str().into(),
            description: i.kind.describe().into(),
            user: i.user.as_uuid(),
            at: i.at.to_string(),
            audit_event: i.audit_event_id.clone(),
            case: i.case_id.map(|c| c.as_uuid()),
            grant: i.grant_id.clone(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkLifeParams {
    /// Weeks back, this one included (1 to 26; default 8).
    pub weeks: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkLifeOut {
    /// The Mondays (00:00 UTC) that start the weeks, oldest first.
    pub weeks: Vec<String>,
    pub threshold_hours: f64,
    pub officers: Vec<OfficerHours>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficerHours {
    pub user: Uuid,
    pub name: String,
    /// Active off-duty hours under grants, per week (quarter hours with
    /// at least one access).
    pub hours: Vec<f64>,
    /// Past the threshold this week.
    pub warning: bool,
}

impl From<&WorkLifeChart> for WorkLifeOut {
    fn from(c: &WorkLifeChart) -> Self {
        Self {
            weeks: c.weeks.iter().map(|w| w.to_string()).collect(),
            threshold_hours: c.threshold,
            officers: c
                .officers
                .iter()
                .map(|o| OfficerHours {
                    user: o.user.as_uuid(),
                    name: o.name.clone(),
                    hours: o.hours.clone(),
                    warning: o.warning,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// From (a date or UTC time).
    pub from: String,
    /// To (exclusive).
    pub to: String,
    /// Only this unit and the units under it.
    pub unit: Option<Uuid>,
    /// `json` (default), `csv` or `pdf`.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportRowOut {
    pub grant: GrantOut,
    pub requester: String,
    pub approver: String,
    pub cases: Vec<String>,
    pub accesses: usize,
    pub denied: usize,
    pub outcome: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPaperFile {
    pub case: Uuid,
    /// Where it is kept (shelf, cabinet).
    pub location: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckOutRequest {
    pub holder: Uuid,
    /// Due back (UTC); at most 30 days ahead, and off the premises by the
    /// end of the holder's grant.
    pub due_at: String,
    /// Taken off the premises (needs the holder's off-duty investigation
    /// grant for the case).
    #[serde(default)]
    pub off_premises: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaperFileOut {
    pub case: Uuid,
    pub location: String,
    pub holder: Option<Uuid>,
    pub checked_out_at: Option<String>,
    pub due_at: Option<String>,
    pub off_premises: bool,
    pub grant: Option<String>,
    pub overdue: bool,
}

impl From<&PaperFile> for PaperFileOut {
    fn from(f: &PaperFile) -> Self {
        Self {
            case: f.case_id.as_uuid(),
            location: f.location.clone(),
            holder: f.holder.map(|u| u.as_uuid()),
            checked_out_at: f.checked_out_at.map(|t| t.to_string()),
            due_at: f.due_at.map(|t| t.to_string()),
            off_premises: f.off_premises,
            grant: f.grant_id.clone(),
            overdue: f.overdue_flagged,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustodyOut {
    pub step: String,
    pub holder: Option<Uuid>,
    pub clerk: Uuid,
    pub at: String,
    pub due_at: Option<String>,
    pub off_premises: bool,
    pub grant: Option<String>,
}

impl From<&CustodyStep> for CustodyOut {
    fn from(s: &CustodyStep) -> Self {
        Self {
            step: s.step.clone(),
            holder: s.holder.map(|u| u.as_uuid()),
            clerk: s.clerk.as_uuid(),
            at: s.at.to_string(),
            due_at: s.due_at.map(|t| t.to_string()),
            off_premises: s.off_premises,
            grant: s.grant_id.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaperFileDetailOut {
    pub number: String,
    pub file: PaperFileOut,
    pub custody: Vec<CustodyOut>,
}

impl From<&PaperFileView> for PaperFileDetailOut {
    fn from(v: &PaperFileView) -> Self {
        Self {
            number: v.number.clone(),
            file: PaperFileOut::from(&v.file),
            custody: v.custody.iter().map(CustodyOut::from).collect(),
        }
    }
}

// ---- handlers ----

#[utoipa::path(post, path = "/api/v1/duty", tag = "offsite", request_body = DutyRequest,
    responses((status = 204, description = "Clocked in or out"), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn set_duty(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiJson(req): ApiJson<DutyRequest>,
) -> ApiResult<StatusCode> {
    state.services.clock(asker(&caller), req.on_duty).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/users/{id}/duty", tag = "offsite", params(("id" = Uuid, Path)), request_body = DutyRequest,
    responses((status = 204, description = "Corrected"), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn correct_duty(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<DutyRequest>,
) -> ApiResult<StatusCode> {
    state
        .services
        .correct_duty(asker(&caller), UserId::from_uuid(id), req.on_duty)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/grants", tag = "offsite",
    responses((status = 200, body = Vec<GrantOut>)), security(("bearer" = [])))]
pub async fn my_grants(
    State(state): State<AppState>,
    caller: ActiveUser,
) -> ApiResult<Json<Vec<GrantOut>>> {
    let now = state.services.clock.now();
    let list = state.services.my_grants(asker(&caller)).await?;
    Ok(Json(list.iter().map(|g| GrantOut::of(g, now)).collect()))
}

#[utoipa::path(post, path = "/api/v1/grants", tag = "offsite", request_body = GrantRequestIn,
    responses((status = 201, body = GrantOut), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn request_grant(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiJson(req): ApiJson<GrantRequestIn>,
) -> ApiResult<(StatusCode, Json<GrantOut>)> {
    let request = GrantRequest {
        kind: req.kind,
        justification: req.justification,
        cases: req.cases.into_iter().map(CaseId::from_uuid).collect(),
        documents: req
            .documents
            .into_iter()
            .map(DocumentId::from_uuid)
            .collect(),
        starts_at: req
            .starts_at
            .as_deref()
            .map(|s| instant("starts_at", s))
            .transpose()?,
        ends_at: instant("ends_at", &req.ends_at)?,
        may_add_notes: req.may_add_notes,
        device: req.device.map(DeviceId::from_uuid),
    };
    let g = state
        .services
        .request_grant(asker(&caller), request)
        .await?;
    let now = state.services.clock.now();
    Ok((StatusCode::CREATED, Json(GrantOut::of(&g, now))))
}

#[utoipa::path(get, path = "/api/v1/grants/queue", tag = "offsite",
    responses((status = 200, body = Vec<GrantOut>), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn approval_queue(
    State(state): State<AppState>,
    caller: ActiveUser,
) -> ApiResult<Json<Vec<GrantOut>>> {
    let now = state.services.clock.now();
    let list = state.services.approval_queue(asker(&caller)).await?;
    Ok(Json(list.iter().map(|g| GrantOut::of(g, now)).collect()))
}

#[utoipa::path(get, path = "/api/v1/grants/reviews", tag = "offsite",
    responses((status = 200, body = Vec<GrantOut>)), security(("bearer" = [])))]
pub async fn grant_reviews(
    State(state): State<AppState>,
    caller: ActiveUser,
) -> ApiResult<Json<Vec<GrantOut>>> {
    let now = state.services.clock.now();
    let list = state.services.grant_reviews(asker(&caller)).await?;
    Ok(Json(list.iter().map(|g| GrantOut::of(g, now)).collect()))
}

#[utoipa::path(get, path = "/api/v1/grants/{id}", tag = "offsite", params(("id" = String, Path)),
    responses((status = 200, body = GrantDetailOut), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get_grant(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<GrantDetailOut>> {
    let d = state.services.grant_detail(asker(&caller), &id).await?;
    Ok(Json(GrantDetailOut::of(&d, state.services.clock.now())))
}

#[utoipa::path(post, path = "/api/v1/grants/{id}/steps", tag = "offsite", params(("id" = String, Path)), request_body = StepRequest,
    responses((status = 200, body = GrantOut), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn step_grant(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<StepRequest>,
) -> ApiResult<Json<GrantOut>> {
    let step = GrantStep::parse(&req.step)?;
    let g = state
        .services
        .step_grant(asker(&caller), &id, step, req.note.as_deref())
        .await?;
    Ok(Json(GrantOut::of(&g, state.services.clock.now())))
}

#[utoipa::path(post, path = "/api/v1/grants/{id}/comments", tag = "offsite", params(("id" = String, Path)), request_body = CommentRequest,
    responses((status = 201, body = CommentOut), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn comment_grant(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CommentRequest>,
) -> ApiResult<(StatusCode, Json<CommentOut>)> {
    let c = state
        .services
        .comment_grant(asker(&caller), &id, &req.body)
        .await?;
    let names = [(
        caller.0.auth.user.user.id,
        caller.0.auth.user.user.display_name.clone(),
    )]
    .into();
    Ok((StatusCode::CREATED, Json(comment_out(&c, &names))))
}

#[utoipa::path(post, path = "/api/v1/grants/{id}/review", tag = "offsite", params(("id" = String, Path)),
    responses((status = 204, description = "Reviewed"), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn review_grant(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.services.review_grant(asker(&caller), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "offsite",
    responses((status = 200, body = Vec<NotificationOut>)), security(("bearer" = [])))]
pub async fn notifications(
    State(state): State<AppState>,
    caller: ActiveUser,
) -> ApiResult<Json<Vec<NotificationOut>>> {
    let list = state.services.my_notifications(asker(&caller)).await?;
    Ok(Json(list.iter().map(NotificationOut::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "offsite", params(("id" = String, Path)),
    responses((status = 204, description = "Marked read"), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn read_notification(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .services
        .read_notification(asker(&caller), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/incidents", tag = "offsite",
    responses((status = 200, body = Vec<IncidentOut>), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn incidents(
    State(state): State<AppState>,
    caller: ActiveUser,
) -> ApiResult<Json<Vec<IncidentOut>>> {
    let list = state.services.incidents(asker(&caller)).await?;
    Ok(Json(list.iter().map(IncidentOut::from).collect()))
}

#[utoipa::path(get, path = "/api/v1/work-life", tag = "offsite", params(WorkLifeParams),
    responses((status = 200, body = WorkLifeOut)), security(("bearer" = [])))]
pub async fn work_life(
    State(state): State<AppState>,
    caller: ActiveUser,
    StrictQuery(p): StrictQuery<WorkLifeParams>,
) -> ApiResult<Json<WorkLifeOut>> {
    let chart = state
        .services
        .work_life(asker(&caller), p.weeks.unwrap_or(8))
        .await?;
    Ok(Json(WorkLifeOut::from(&chart)))
}

fn report_out(r: &ReportRow, now: Timestamp) -> ReportRowOut {
    ReportRowOut {
        grant: GrantOut::of(&r.grant, now),
        requester: r.requester.clone(),
        approver: r.approver.clone(),
        cases: r.cases.clone(),
        accesses: r.accesses,
        denied: r.denied,
        outcome: r.outcome.clone(),
    }
}

#[utoipa::path(get, path = "/api/v1/reports/offsite", tag = "offsite", params(ReportParams),
    responses((status = 200, body = Vec<ReportRowOut>, description = "JSON, or CSV / PDF with `format`"), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn offsite_report(
    State(state): State<AppState>,
    caller: ActiveUser,
    StrictQuery(p): StrictQuery<ReportParams>,
) -> ApiResult<Response> {
    let format = p.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "pdf") {
        return Err(
            precinct_domain::DomainError::invalid("format", "must be json, csv or pdf").into(),
        );
    }
    let from = Timestamp::from_micros(parse_instant("from", p.from.trim(), false)?);
    let to = Timestamp::from_micros(parse_instant("to", p.to.trim(), true)?);
    let rows = state
        .services
        .offsite_report(asker(&caller), p.unit.map(UnitId::from_uuid), from, to)
        .await?;
    let now = state.services.clock.now();
    Ok(match format {
        "csv" => download(
            "text/csv; charset=utf-8",
            "offsite-access.csv",
            report_csv(&rows).into_bytes(),
        ),
        "pdf" => {
            let subtitle = format!(
                "Every off-site grant whose window overlaps {} to {}, with its use and outcome. {} grants.",
                crate::service::offsite::minute(from),
                crate::service::offsite::minute(to),
                rows.len()
            );
            download(
                "application/pdf",
                "offsite-access.pdf",
                report_pdf(&rows, &subtitle)?,
            )
        }
        _ => Json(rows.iter().map(|r| report_out(r, now)).collect::<Vec<_>>()).into_response(),
    })
}

#[utoipa::path(get, path = "/api/v1/paper-files", tag = "offsite",
    responses((status = 200, body = Vec<PaperFileOut>), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn paper_files_out(
    State(state): State<AppState>,
    caller: ActiveUser,
) -> ApiResult<Json<Vec<PaperFileOut>>> {
    let list = state.services.paper_files_out(asker(&caller)).await?;
    Ok(Json(list.iter().map(PaperFileOut::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/paper-files", tag = "offsite", request_body = RegisterPaperFile,
    responses((status = 201, body = PaperFileOut), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn register_paper_file(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiJson(req): ApiJson<RegisterPaperFile>,
) -> ApiResult<(StatusCode, Json<PaperFileOut>)> {
    let f = state
        .services
        .register_paper_file(asker(&caller), CaseId::from_uuid(req.case), &req.location)
        .await?;
    Ok((StatusCode::CREATED, Json(PaperFileOut::from(&f))))
}

#[utoipa::path(get, path = "/api/v1/paper-files/{case}", tag = "offsite", params(("case" = Uuid, Path)),
    responses((status = 200, body = PaperFileDetailOut), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn paper_file(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(case): ApiPath<Uuid>,
) -> ApiResult<Json<PaperFileDetailOut>> {
    let v = state
        .services
        .paper_file_view(asker(&caller), CaseId::from_uuid(case))
        .await?;
    Ok(Json(PaperFileDetailOut::from(&v)))
}

#[utoipa::path(post, path = "/api/v1/paper-files/{case}/check-out", tag = "offsite", params(("case" = Uuid, Path)), request_body = CheckOutRequest,
    responses((status = 200, body = PaperFileOut), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn check_out(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(case): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CheckOutRequest>,
) -> ApiResult<Json<PaperFileOut>> {
    let due = instant("due_at", &req.due_at)?;
    let f = state
        .services
        .check_out_paper_file(
            asker(&caller),
            CaseId::from_uuid(case),
            UserId::from_uuid(req.holder),
            due,
            req.off_premises,
        )
        .await?;
    Ok(Json(PaperFileOut::from(&f)))
}

#[utoipa::path(post, path = "/api/v1/paper-files/{case}/check-in", tag = "offsite", params(("case" = Uuid, Path)),
    responses((status = 200, body = PaperFileOut), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn check_in(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(case): ApiPath<Uuid>,
) -> ApiResult<Json<PaperFileOut>> {
    let f = state
        .services
        .check_in_paper_file(asker(&caller), CaseId::from_uuid(case))
        .await?;
    Ok(Json(PaperFileOut::from(&f)))
}
