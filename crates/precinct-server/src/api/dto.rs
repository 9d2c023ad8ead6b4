//! The API's request and response bodies. Requests reject unknown fields.

use precinct_domain::org::Unit;
use precinct_domain::user::User;
use precinct_domain::{Channel, Role};
use precinct_store::{DeviceRecord, WorkstationRecord};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    #[schema(value_type = String)]
    pub password: SecretString,
    /// The user read and accepts the system-use notice (restricted system,
    /// monitored, consent). Must be true.
    pub acknowledge_notice: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for this session.
    pub token: String,
    /// The next login step: `mfa`, `change_password`, `enrol_mfa` or `active`.
    pub stage: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// A 6-digit TOTP code or a recovery code.
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StageResponse {
    pub stage: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    /// Required once logged in; not at the first-login step.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub current_password: Option<SecretString>,
    #[schema(value_type = String)]
    pub new_password: SecretString,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentResponse {
    /// Base32 secret for manual entry.
    pub secret: String,
    pub otpauth_uri: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesResponse {
    /// Shown once; store them safely.
    pub recovery_codes: Vec<String>,
    pub stage: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    /// `workstation`, `department_device` or `offsite`.
    pub kind: String,
    /// In plain words, e.g. "Designated workstation: Central Precinct, desk 4".
    pub description: String,
}

impl From<&Channel> for ChannelView {
    fn from(c: &Channel) -> Self {
        Self {
            kind: c.kind().to_owned(),
            description: c.describe(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub units: Vec<Uuid>,
    /// `active` or `disabled`.
    pub status: String,
    pub locked: bool,
    pub mfa_enrolled: bool,
    pub must_change_password: bool,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.as_uuid(),
            username: u.username.as_str().to_owned(),
            display_name: u.display_name.clone(),
            roles: u.roles.to_vec(),
            units: u.units.iter().map(|x| x.as_uuid()).collect(),
            status: u.status.as_str().to_owned(),
            locked: u.is_locked(),
            mfa_enrolled: u.mfa_enrolled,
            must_change_password: u.must_change_password,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    pub stage: String,
    pub channel: ChannelView,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub units: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUserResponse {
    pub user: UserView,
    /// Shown once; the user must change it and enrol MFA at first login.
    pub one_time_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OneTimePasswordResponse {
    pub one_time_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesRequest {
    pub roles: Vec<Role>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitsRequest {
    pub units: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitView {
    pub id: Uuid,
    pub name: String,
    /// `precinct` or `unit`.
    pub kind: String,
    pub parent: Option<Uuid>,
    pub supervisor: Option<Uuid>,
}

impl From<&Unit> for UnitView {
    fn from(u: &Unit) -> Self {
        Self {
            id: u.id.as_uuid(),
            name: u.name.clone(),
            kind: u.kind.as_str().to_owned(),
            parent: u.parent.map(|p| p.as_uuid()),
            supervisor: u.supervisor.map(|s| s.as_uuid()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUnitRequest {
    pub name: String,
    /// `precinct` or `unit`.
    pub kind: String,
    #[serde(default)]
    pub parent: Option<Uuid>,
    #[serde(default)]
    pub supervisor: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupervisorRequest {
    pub supervisor: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkstationView {
    pub id: Uuid,
    pub name: String,
    pub unit: Uuid,
    pub unit_name: String,
    pub fingerprint: Option<String>,
    pub networks: Vec<String>,
    pub enabled: bool,
}

impl From<&WorkstationRecord> for WorkstationView {
    fn from(w: &WorkstationRecord) -> Self {
        Self {
            id: w.id.as_uuid(),
            name: w.name.clone(),
            unit: w.unit_id.as_uuid(),
            unit_name: w.unit_name.clone(),
            fingerprint: w.fingerprint.clone(),
            networks: w.networks.iter().map(ToString::to_string).collect(),
            enabled: w.enabled,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkstationRequest {
    pub name: String,
    pub unit: Uuid,
    /// Optional CIDR ranges the workstation must connect from.
    #[serde(default)]
    pub networks: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// SHA-256 fingerprint of the certificate's DER (64 hex digits).
    pub fingerprint: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub id: Uuid,
    pub name: String,
    /// `phone`, `tablet` or `laptop`.
    pub kind: String,
    pub assigned_user: Option<Uuid>,
    pub fingerprint: Option<String>,
    pub revoked: bool,
}

impl From<&DeviceRecord> for DeviceView {
    fn from(d: &DeviceRecord) -> Self {
        Self {
            id: d.id.as_uuid(),
            name: d.name.clone(),
            kind: d.kind.as_str().to_owned(),
            assigned_user: d.assigned_user_id.map(|u| u.as_uuid()),
            fingerprint: d.fingerprint.clone(),
            revoked: d.revoked_at.is_some(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollDeviceRequest {
    pub name: String,
    /// `phone`, `tablet` or `laptop`.
    pub kind: String,
    #[serde(default)]
    pub assigned_user: Option<Uuid>,
}
