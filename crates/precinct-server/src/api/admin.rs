//! Administration over the API: users, units, workstations, devices. The
//! use-cases check the administrator role.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use ipnet::IpNet;
use precinct_domain::channel::DeviceKind;
use precinct_domain::ids::{DeviceId, UnitId, UserId, WorkstationId};
use precinct_domain::org::UnitKind;
use precinct_domain::user::UserStatus;
use precinct_domain::{DomainError, Fingerprint};
use uuid::Uuid;

use super::*;
use crate::auth::ActiveUser;
use crate::problem::{ApiResult, Problem};
use crate::service::admin::{Actor, CreateUser};
use crate::service::ServiceError;

fn actor(u: &ActiveUser) -> Actor<'_> {
    Actor::User(&u.0.auth.user.user, &u.0.origin)
}

type Users = Json<Vec<UserView>>;

#[utoipa::path(get, path = "/api/v1/users", tag = "admin",
    responses((status = 200, body = Vec<UserView>), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn list_users(State(state): State<AppState>, caller: ActiveUser) -> ApiResult<Users> {
    let users = state.services.list_users(actor(&caller)).await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = CreateUserRequest,
    responses((status = 201, body = CreatedUserResponse), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<CreatedUserResponse>)> {
    let (user, password) = state
        .services
        .create_user(
            actor(&caller),
            CreateUser {
                username: req.username,
                display_name: req.display_name,
                roles: req.roles,
                units: req.units.into_iter().map(UnitId::from_uuid).collect(),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUserResponse {
            user: UserView::from(&user),
            one_time_password: password.expose().to_owned(),
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<UserView>> {
    let u = state
        .services
        .get_user(actor(&caller), UserId::from_uuid(id))
        .await?;
    Ok(Json(UserView::from(&u)))
}

#[utoipa::path(put, path = "/api/v1/users/{id}/roles", tag = "admin", params(("id" = Uuid, Path)), request_body = RolesRequest,
    responses((status = 200, body = UserView), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn set_roles(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RolesRequest>,
) -> ApiResult<Json<UserView>> {
    let u = state
        .services
        .set_roles(actor(&caller), UserId::from_uuid(id), req.roles)
        .await?;
    Ok(Json(UserView::from(&u)))
}

#[utoipa::path(put, path = "/api/v1/users/{id}/units", tag = "admin", params(("id" = Uuid, Path)), request_body = UnitsRequest,
    responses((status = 200, body = UserView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn set_units(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UnitsRequest>,
) -> ApiResult<Json<UserView>> {
    let units = req.units.into_iter().map(UnitId::from_uuid).collect();
    let u = state
        .services
        .set_units(actor(&caller), UserId::from_uuid(id), units)
        .await?;
    Ok(Json(UserView::from(&u)))
}

/// The account actions that take no body and answer with the user.
#[derive(Debug, Clone, Copy)]
enum UserAction {
    Disable,
    Enable,
    Unlock,
    ResetMfa,
}

async fn user_action(
    state: &AppState,
    caller: &ActiveUser,
    id: Uuid,
    action: UserAction,
) -> ApiResult<Json<UserView>> {
    let a = actor(caller);
    let id = UserId::from_uuid(id);
    let s = &state.services;
    let u = match action {
        UserAction::Disable => s.set_user_status(a, id, UserStatus::Disabled).await?,
        UserAction::Enable => s.set_user_status(a, id, UserStatus::Active).await?,
        UserAction::Unlock => s.unlock_user(a, id).await?,
        UserAction::ResetMfa => s.reset_mfa(a, id).await?,
    };
    Ok(Json(UserView::from(&u)))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/disable", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn disable_user(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<UserView>> {
    user_action(&state, &caller, id, UserAction::Disable).await
}

#[utoipa::path(post, path = "/api/v1/users/{id}/enable", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn enable_user(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<UserView>> {
    user_action(&state, &caller, id, UserAction::Enable).await
}

#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn unlock_user(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<UserView>> {
    user_action(&state, &caller, id, UserAction::Unlock).await
}

#[utoipa::path(post, path = "/api/v1/users/{id}/reset-mfa", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn reset_mfa(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<UserView>> {
    user_action(&state, &caller, id, UserAction::ResetMfa).await
}

#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = OneTimePasswordResponse), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn reset_password(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<OneTimePasswordResponse>> {
    let p = state
        .services
        .reset_password(actor(&caller), UserId::from_uuid(id))
        .await?;
    Ok(Json(OneTimePasswordResponse {
        one_time_password: p.expose().to_owned(),
    }))
}

#[utoipa::path(get, path = "/api/v1/units", tag = "admin",
    responses((status = 200, body = Vec<UnitView>)), security(("bearer" = [])))]
pub async fn list_units(
    State(state): State<AppState>,
    caller: ActiveUser,
) -> ApiResult<Json<Vec<UnitView>>> {
    let units = state.services.list_units(actor(&caller)).await?;
    Ok(Json(units.iter().map(UnitView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/units", tag = "admin", request_body = CreateUnitRequest,
    responses((status = 201, body = UnitView), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_unit(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiJson(req): ApiJson<CreateUnitRequest>,
) -> ApiResult<(StatusCode, Json<UnitView>)> {
    let kind = UnitKind::parse(&req.kind).map_err(ServiceError::from)?;
    let unit = state
        .services
        .create_unit(
            actor(&caller),
            &req.name,
            kind,
            req.parent.map(UnitId::from_uuid),
            req.supervisor.map(UserId::from_uuid),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(UnitView::from(&unit))))
}

#[utoipa::path(put, path = "/api/v1/units/{id}/supervisor", tag = "admin", params(("id" = Uuid, Path)),
    request_body = SupervisorRequest, responses((status = 200, body = UnitView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn set_supervisor(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<SupervisorRequest>,
) -> ApiResult<Json<UnitView>> {
    let unit = state
        .services
        .set_unit_supervisor(
            actor(&caller),
            UnitId::from_uuid(id),
            req.supervisor.map(UserId::from_uuid),
        )
        .await?;
    Ok(Json(UnitView::from(&unit)))
}

#[utoipa::path(get, path = "/api/v1/workstations", tag = "admin",
    responses((status = 200, body = Vec<WorkstationView>)), security(("bearer" = [])))]
pub async fn list_workstations(
    State(state): State<AppState>,
    caller: ActiveUser,
) -> ApiResult<Json<Vec<WorkstationView>>> {
    let ws = state.services.list_workstations(actor(&caller)).await?;
    Ok(Json(ws.iter().map(WorkstationView::from).collect()))
}

/// Parses CIDR ranges, naming the field on error.
pub(crate) fn parse_networks(list: &[String]) -> Result<Vec<IpNet>, Problem> {
    list.iter()
        .map(|n| {
            n.trim().parse::<IpNet>().map_err(|_| {
                Problem::from(ServiceError::Invalid(DomainError::invalid(
                    "networks",
                    "each entry must be a CIDR range such as 10.20.0.0/16",
                )))
            })
        })
        .collect()
}

#[utoipa::path(post, path = "/api/v1/workstations", tag = "admin", request_body = CreateWorkstationRequest,
    responses((status = 201, body = WorkstationView), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_workstation(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiJson(req): ApiJson<CreateWorkstationRequest>,
) -> ApiResult<(StatusCode, Json<WorkstationView>)> {
    let networks = parse_networks(&req.networks)?;
    let w = state
        .services
        .add_workstation(
            actor(&caller),
            &req.name,
            UnitId::from_uuid(req.unit),
            networks,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(WorkstationView::from(&w))))
}

#[utoipa::path(post, path = "/api/v1/workstations/{id}/disable", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkstationView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn disable_workstation(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<WorkstationView>> {
    let w = state
        .services
        .set_workstation_enabled(actor(&caller), WorkstationId::from_uuid(id), false)
        .await?;
    Ok(Json(WorkstationView::from(&w)))
}

#[utoipa::path(post, path = "/api/v1/workstations/{id}/enable", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = WorkstationView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn enable_workstation(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<WorkstationView>> {
    let w = state
        .services
        .set_workstation_enabled(actor(&caller), WorkstationId::from_uuid(id), true)
        .await?;
    Ok(Json(WorkstationView::from(&w)))
}

fn parse_fingerprint(s: &str) -> Result<Fingerprint, Problem> {
    Fingerprint::parse(s).map_err(|e| Problem::from(ServiceError::Invalid(e)))
}

#[utoipa::path(put, path = "/api/v1/workstations/{id}/certificate", tag = "admin", params(("id" = Uuid, Path)),
    request_body = CertificateRequest, responses((status = 200, body = WorkstationView), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn workstation_certificate(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CertificateRequest>,
) -> ApiResult<Json<WorkstationView>> {
    let fp = parse_fingerprint(&req.fingerprint)?;
    let w = state
        .services
        .register_workstation_certificate(actor(&caller), WorkstationId::from_uuid(id), &fp)
        .await?;
    Ok(Json(WorkstationView::from(&w)))
}

#[utoipa::path(get, path = "/api/v1/devices", tag = "admin",
    responses((status = 200, body = Vec<DeviceView>)), security(("bearer" = [])))]
pub async fn list_devices(
    State(state): State<AppState>,
    caller: ActiveUser,
) -> ApiResult<Json<Vec<DeviceView>>> {
    let ds = state.services.list_devices(actor(&caller)).await?;
    Ok(Json(ds.iter().map(DeviceView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/devices", tag = "admin", request_body = EnrollDeviceRequest,
    responses((status = 201, body = DeviceView), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn enroll_device(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiJson(req): ApiJson<EnrollDeviceRequest>,
) -> ApiResult<(StatusCode, Json<DeviceView>)> {
    let kind = DeviceKind::parse(&req.kind).map_err(ServiceError::from)?;
    let d = state
        .services
        .enroll_device(
            actor(&caller),
            &req.name,
            kind,
            req.assigned_user.map(UserId::from_uuid),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(DeviceView::from(&d))))
}

#[utoipa::path(post, path = "/api/v1/devices/{id}/revoke", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = DeviceView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn revoke_device(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<DeviceView>> {
    let d = state
        .services
        .revoke_device(actor(&caller), DeviceId::from_uuid(id))
        .await?;
    Ok(Json(DeviceView::from(&d)))
}

#[utoipa::path(put, path = "/api/v1/devices/{id}/certificate", tag = "admin", params(("id" = Uuid, Path)),
    request_body = CertificateRequest, responses((status = 200, body = DeviceView), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn device_certificate(
    State(state): State<AppState>,
    caller: ActiveUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CertificateRequest>,
) -> ApiResult<Json<DeviceView>> {
    let fp = parse_fingerprint(&req.fingerprint)?;
    let d = state
        .services
        .register_device_certificate(actor(&caller), DeviceId::from_uuid(id), &fp)
        .await?;
    Ok(Json(DeviceView::from(&d)))
}
