//! The login flow over the API: password (with the notice acknowledged),
//! second factor, first-login password change, MFA enrolment, logout.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use secrecy::ExposeSecret;

use super::{
    ApiJson, ChannelView, CodeRequest, EnrolmentResponse, LoginRequest, LoginResponse, MeResponse,
    PasswordChangeRequest, RecoveryCodesResponse, StageResponse, UserView,
};
use crate::auth::{ActiveUser, Caller};
use crate::problem::{ApiResult, Problem};
use crate::service::ServiceError;
use crate::state::{AppState, RequestContext};

pub(crate) fn login_outcome(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::AccountLocked => "locked",
        ServiceError::Unavailable => "unavailable",
        _ => "failure",
    }
}

#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ctx: RequestContext,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let password = req.password;
    match state
        .services
        .begin_login(
            &ctx.origin(),
            &req.username,
            &password,
            req.acknowledge_notice,
        )
        .await
    {
        Ok(issued) => {
            state.metrics.login("password_ok");
            Ok(Json(LoginResponse {
                token: issued.token.expose_secret().to_owned(),
                stage: issued.session.stage.as_str().to_owned(),
            }))
        }
        Err(e) => {
            state.metrics.login(login_outcome(&e));
            Err(e.into())
        }
    }
}

#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 401, body = Problem)), security(("bearer" = [])))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    state
        .services
        .logout(&caller.auth, &caller.ctx.origin())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/session/mfa", tag = "session", request_body = CodeRequest,
    responses((status = 200, body = StageResponse), (status = 401, body = Problem)), security(("bearer" = [])))]
pub async fn verify_mfa(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Json<StageResponse>> {
    match state
        .services
        .verify_mfa(&caller.auth, &caller.ctx.origin(), &req.code)
        .await
    {
        Ok(stage) => {
            state.metrics.login("mfa_ok");
            Ok(Json(StageResponse {
                stage: stage.as_str().to_owned(),
            }))
        }
        Err(e) => {
            state.metrics.login(login_outcome(&e));
            Err(e.into())
        }
    }
}

#[utoipa::path(post, path = "/api/v1/session/password", tag = "session", request_body = PasswordChangeRequest,
    responses((status = 200, body = StageResponse), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PasswordChangeRequest>,
) -> ApiResult<Json<StageResponse>> {
    let current = req.current_password;
    let new = req.new_password;
    let stage = state
        .services
        .change_password(&caller.auth, &caller.ctx.origin(), current.as_ref(), &new)
        .await?;
    Ok(Json(StageResponse {
        stage: stage.as_str().to_owned(),
    }))
}

#[utoipa::path(post, path = "/api/v1/session/mfa/enrolment", tag = "session",
    responses((status = 200, body = EnrolmentResponse), (status = 403, body = Problem)), security(("bearer" = [])))]
pub async fn start_enrolment(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<EnrolmentResponse>> {
    let e = state.services.start_enrolment(&caller.auth).await?;
    Ok(Json(EnrolmentResponse {
        secret: e.secret_base32,
        otpauth_uri: e.otpauth_uri,
    }))
}

#[utoipa::path(post, path = "/api/v1/session/mfa/enrolment/confirm", tag = "session", request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodesResponse), (status = 401, body = Problem)), security(("bearer" = [])))]
pub async fn confirm_enrolment(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CodeRequest>,
) -> ApiResult<Json<RecoveryCodesResponse>> {
    let codes = state
        .services
        .confirm_enrolment(&caller.auth, &caller.ctx.origin(), &req.code)
        .await?;
    Ok(Json(RecoveryCodesResponse {
        recovery_codes: codes,
        stage: "active".to_owned(),
    }))
}

#[utoipa::path(get, path = "/api/v1/me", tag = "session",
    responses((status = 200, body = MeResponse), (status = 401, body = Problem)), security(("bearer" = [])))]
pub async fn me(ActiveUser(caller): ActiveUser) -> Json<MeResponse> {
    Json(MeResponse {
        user: UserView::from(&caller.auth.user.user),
        stage: caller.auth.session.stage.as_str().to_owned(),
        channel: ChannelView::from(&caller.ctx.channel),
    })
}
