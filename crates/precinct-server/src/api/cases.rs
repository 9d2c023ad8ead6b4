//! Cases over the API: lists, search, the case, documentation, people,
//! status, assignment, tasks and break-glass. Each handler parses, calls
//! one use-case in `service::cases` and answers JSON or a problem.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use precinct_domain::case::Transition;
use precinct_domain::ids::{CaseId, DocumentId, TaskId, UnitId, UserId};
use precinct_domain::person::PersonFlags;
use precinct_domain::{nibrs, DomainError, Timestamp};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::audit::StrictQuery;
use super::case_dto::*;
use super::{ApiJson, ApiPath};
use crate::auth::ActiveUser;
use crate::problem::{ApiResult, Problem};
use crate::service::auditor::parse_instant;
use crate::service::cases::{
    Asker, Assignment, NewAttachment, NewEntry, NewPerson, OpenCase, ReadFor,
};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cases", get(list_cases).post(open_case))
        .route("/cases/search", get(search_cases))
        .route("/cases/by-number/{number}", get(case_by_number))
        .route("/cases/{id}", get(get_case))
        .route("/cases/{id}/break-glass", post(break_glass))
        .route("/cases/{id}/documents", post(add_entry))
        .route("/cases/{id}/attachments", post(add_attachment))
        .route("/cases/{id}/people", post(add_person))
        .route("/cases/{id}/status", post(change_status))
        .route("/cases/{id}/assignment", put(assign))
        .route("/cases/{id}/tasks", post(add_task))
        .route("/cases/{id}/tasks/{task}/complete", post(complete_task))
        .route("/documents/{id}/amendments", post(amend_entry))
        .route("/documents/{id}", get(get_document))
        .route("/documents/{id}/content", get(attachment_content))
        .route("/break-glass", get(break_glass_reviews))
        .route("/break-glass/{id}/review", post(review_break_glass))
        .route("/offenses", get(offenses))
}

fn asker(u: &ActiveUser) -> Asker<'_> {
    Asker {
        user: &u.0.auth.user.user,
        origin: &u.0.origin,
    }
}

fn optional_instant(
    field: &'static str,
    s: Option<&str>,
) -> Result<Option<Timestamp>, DomainError> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_instant(field, s, true).map(Timestamp::from_micros))
        .transpose()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `mine` (default): cases you are on; `unit`: your units' cases.
    pub scope: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(ListParams),
    responses((status = 200, body = Vec<CaseSummaryView>), (status = 400, body = Problem)), security(("bearer" = [])))]
pub async fn list_cases(
    State(state): State<AppState>,
    caller: ActiveUser,
    StrictQuery(p): StrictQuery<ListParams>,
) -> ApiResult<Json<Vec<CaseSummaryView>>> {
    let list = match p.scope.as_deref().unwrap_or("mine") {
        "mine" => state.services.my_cases(asker(&caller)).await?,
        "unit" => state.services.unit_cases(asker(&caller)).await?,
        _ => {
            return Err(Problem::from(crate::service::ServiceError::Invalid(
                DomainError::invalid("scope", "must be mine or unit"),
            )))
        }
    };
    Ok(Json(list.iter().map(CaseSummaryView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = OpenCaseRequest,
    responses((status = 201, body = CaseOut), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn open_case(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiJson(req): ApiJson<OpenCaseRequest>,
) -> ApiResult<(StatusCode, Json<CaseOut>)> {
    let due =
        optional_instant("due", req.due.as_deref()).map_err(crate::service::ServiceError::from)?;
    let a = asker(&caller);
    let case = state
        .services
        .open_case(
            a,
            OpenCase {
                title: req.title,
                offense: req.offense,
                classification: req.classification,
                unit: UnitId::from_uuid(req.unit),
                narrative: req.narrative,
                due,
                lead: req.lead.map(UserId::from_uuid),
                team: req.team.into_iter().map(UserId::from_uuid).collect(),
            },
        )
        .await?;
    let view = state
        .services
        .read_case(a, case.id, None, ReadFor::Record)
        .await?;
    Ok((StatusCode::CREATED, Json(CaseOut::from(&view))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to find in titles, narratives, documentation and names, or a
    /// case number.
    pub q: String,
    /// From 1.
    #[param(value_type = Option<u64>)]
    pub page: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/cases/search", tag = "cases", params(SearchParams),
    responses((status = 200, body = SearchView), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn search_cases(
    State(state): State<AppState>,
    caller: ActiveUser,
    StrictQuery(p): StrictQuery<SearchParams>,
) -> ApiResult<Json<SearchView>> {
    let page = match p.page.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 1,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                crate::service::ServiceError::Invalid(DomainError::invalid(
                    "page",
                    "must be 1 to 1000",
                ))
            })?,
    };
    let found = state
        .services
        .search_cases(asker(&caller), &p.q, page)
        .await?;
    Ok(Json(SearchView::new(&found, page)))
}

#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = Uuid, Path)),
    responses((status = 200, body = CaseOut), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_case(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<CaseOut>> {
    let view = state
        .services
        .read_case(asker(&caller), CaseId::from_uuid(id), None, ReadFor::Record)
        .await?;
    Ok(Json(CaseOut::from(&view)))
}

#[utoipa::path(get, path = "/api/v1/cases/by-number/{number}", tag = "cases", params(("number" = String, Path, example = "2026-000123")),
    responses((status = 200, body = CaseOut), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn case_by_number(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Json<CaseOut>> {
    let a = asker(&caller);
    let id = state.services.case_id_by_number(a, &number).await?;
    let view = state
        .services
        .read_case(a, id, None, ReadFor::Record)
        .await?;
    Ok(Json(CaseOut::from(&view)))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/break-glass", tag = "cases", params(("id" = Uuid, Path)), request_body = BreakGlassRequest,
    responses((status = 200, body = CaseOut), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn break_glass(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<BreakGlassRequest>,
) -> ApiResult<Json<CaseOut>> {
    let view = state
        .services
        .read_case(
            asker(&caller),
            CaseId::from_uuid(id),
            Some(&req.reason),
            ReadFor::Record,
        )
        .await?;
    Ok(Json(CaseOut::from(&view)))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/documents", tag = "cases", params(("id" = Uuid, Path)), request_body = EntryRequest,
    responses((status = 201, body = DocumentOut), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_entry(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<EntryRequest>,
) -> ApiResult<(StatusCode, Json<DocumentOut>)> {
    let doc = state
        .services
        .add_entry(
            asker(&caller),
            CaseId::from_uuid(id),
            NewEntry {
                kind: req.kind,
                classification: req.classification,
                title: req.title,
                body: req.body,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(DocumentOut::from(&doc))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttachmentParams {
    pub title: String,
    pub filename: String,
    pub classification: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/attachments", tag = "cases", params(("id" = Uuid, Path), AttachmentParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file; its Content-Type is recorded"),
    responses((status = 201, body = DocumentOut), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_attachment(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    StrictQuery(p): StrictQuery<AttachmentParams>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<DocumentOut>)> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let doc = state
        .services
        .add_attachment(
            asker(&caller),
            CaseId::from_uuid(id),
            NewAttachment {
                title: p.title,
                classification: p.classification,
                filename: p.filename,
                media_type,
                bytes: body.to_vec(),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(DocumentOut::from(&doc))))
}

#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "cases", params(("id" = Uuid, Path)),
    responses((status = 200, body = DocumentOut), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_document(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<DocumentOut>> {
    let doc = state
        .services
        .read_document(asker(&caller), DocumentId::from_uuid(id))
        .await?;
    Ok(Json(DocumentOut::from(&doc)))
}

#[utoipa::path(get, path = "/api/v1/documents/{id}/content", tag = "cases", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The attachment's bytes, checked against their SHA-256"), (status = 404, body = Problem), (status = 500, body = Problem)),
    security(("bearer" = [])))]
pub async fn attachment_content(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let (meta, bytes) = state
        .services
        .read_attachment(asker(&caller), DocumentId::from_uuid(id))
        .await?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        meta.filename.replace(['"', '\\'], "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, meta.media_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::HeaderName::from_static("x-content-sha256"),
                meta.sha256,
            ),
        ],
        bytes,
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/documents/{id}/amendments", tag = "cases", params(("id" = Uuid, Path)), request_body = AmendRequest,
    responses((status = 201, body = DocumentOut), (status = 403, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn amend_entry(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<AmendRequest>,
) -> ApiResult<(StatusCode, Json<DocumentOut>)> {
    let doc = state
        .services
        .amend_entry(
            asker(&caller),
            DocumentId::from_uuid(id),
            &req.title,
            &req.body,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(DocumentOut::from(&doc))))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/people", tag = "cases", params(("id" = Uuid, Path)), request_body = PersonRequest,
    responses((status = 201, description = "Added"), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_person(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<PersonRequest>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let p = state
        .services
        .add_person(
            asker(&caller),
            CaseId::from_uuid(id),
            NewPerson {
                role: req.role,
                flags: PersonFlags {
                    juvenile: req.juvenile,
                    protected_witness: req.protected_witness,
                    confidential_informant: req.confidential_informant,
                },
                name: req.name,
                address: req.address,
                phone: req.phone,
                date_of_birth: req.date_of_birth,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": p.id.as_uuid() })),
    ))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/status", tag = "cases", params(("id" = Uuid, Path)), request_body = StatusRequest,
    responses((status = 200, body = CaseSummaryView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn change_status(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<StatusRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let t = Transition::parse(&req.transition, req.court_order.as_deref())
        .map_err(crate::service::ServiceError::from)?;
    let case = state
        .services
        .change_status(asker(&caller), CaseId::from_uuid(id), t)
        .await?;
    Ok(Json(serde_json::json!({
        "id": case.id.as_uuid(),
        "number": case.number.to_string(),
        "status": case.status.as_str(),
    })))
}

#[utoipa::path(put, path = "/api/v1/cases/{id}/assignment", tag = "cases", params(("id" = Uuid, Path)), request_body = AssignmentRequest,
    responses((status = 200, description = "Assigned"), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<AssignmentRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let ids = |v: Vec<Uuid>| v.into_iter().map(UserId::from_uuid).collect();
    let case = state
        .services
        .assign(
            asker(&caller),
            CaseId::from_uuid(id),
            Assignment {
                lead: Some(UserId::from_uuid(req.lead)),
                team: ids(req.team),
                shared: ids(req.shared),
                named: ids(req.named),
            },
        )
        .await?;
    Ok(Json(serde_json::json!({
        "id": case.id.as_uuid(),
        "members": case.members.iter().map(|m| serde_json::json!({
            "user": m.user.as_uuid(), "membership": m.membership.as_str(), "named": m.named
        })).collect::<Vec<_>>(),
    })))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/tasks", tag = "cases", params(("id" = Uuid, Path)), request_body = TaskRequest,
    responses((status = 201, body = TaskOut), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_task(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<TaskRequest>,
) -> ApiResult<(StatusCode, Json<TaskOut>)> {
    let due =
        optional_instant("due", req.due.as_deref()).map_err(crate::service::ServiceError::from)?;
    let task = state
        .services
        .add_task(
            asker(&caller),
            CaseId::from_uuid(id),
            &req.title,
            req.assignee.map(UserId::from_uuid),
            due,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(TaskOut::from(&task))))
}

#[utoipa::path(post, path = "/api/v1/cases/{id}/tasks/{task}/complete", tag = "cases", params(("id" = Uuid, Path), ("task" = Uuid, Path)),
    responses((status = 204, description = "Completed"), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn complete_task(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath((id, task)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state
        .services
        .complete_task(
            asker(&caller),
            CaseId::from_uuid(id),
            TaskId::from_uuid(task),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/break-glass", tag = "cases",
    responses((status = 200, body = Vec<BreakGlassOut>)), security(("bearer" = [])))]
pub async fn break_glass_reviews(
    State(state): State<AppState>,
    caller: ActiveUser,
) -> ApiResult<Json<Vec<BreakGlassOut>>> {
    let list = state.services.break_glass_reviews(asker(&caller)).await?;
    Ok(Json(list.iter().map(BreakGlassOut::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/break-glass/{id}/review", tag = "cases", params(("id" = String, Path)),
    responses((status = 204, description = "Reviewed"), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn review_break_glass(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state
        .services
        .review_break_glass(asker(&caller), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/offenses", tag = "cases",
    responses((status = 200, body = Vec<OffenseOut>)), security(("bearer" = [])))]
pub async fn offenses(_caller: ActiveUser) -> Json<Vec<OffenseOut>> {
    Json(
        nibrs::offenses()
            .iter()
            .map(|o| OffenseOut {
                code: o.code.clone(),
                description: o.description.clone(),
                group: o.group.clone(),
                crime_against: o.crime_against.clone(),
            })
            .collect(),
    )
}
