//! Administration: users, units, workstations and devices. Only an
//! administrator (or the local console, which already holds the database)
//! may call these.

use ipnet::IpNet;
use precinct_domain::channel::DeviceKind;
use precinct_domain::credentials::NewPassword;
use precinct_domain::ids::{DeviceId, UnitId, UserId, WorkstationId};
use precinct_domain::org::{validate_name, validate_parent, Unit, UnitKind};
use precinct_domain::user::{User, UserStatus, Username};
use precinct_domain::{Fingerprint, Role, Roles};
use precinct_store::{DeviceRecord, NewUser, WorkstationRecord};
use std::collections::HashMap;

use super::audit::{Origin, Outcome};
use super::{ServiceError, ServiceResult, Services, StoreResultExt};

/// Who asks for an administrative change.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A logged-in user, and where the request came from (`as_user` applied).
    User(&'a User, &'a Origin),
    /// The `precinct` command line on the server itself.
    Console,
}

impl Actor<'_> {
    pub fn origin(&self) -> Origin {
        match self {
            Actor::User(_, o) => (*o).clone(),
            Actor::Console => Origin::console(),
        }
    }
}

fn is_self(actor: Actor<'_>, id: UserId) -> bool {
    matches!(actor, Actor::User(u, _) if u.id == id)
}

#[derive(Debug, Clone)]
pub struct CreateUser {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub units: Vec<UnitId>,
}

pub const FIRST_ADMIN: &str = "admin";

impl Services {
    /// Only administrators (and the console) administer; a refusal is
    /// recorded before it is answered.
    async fn require_admin(&self, actor: Actor<'_>, action: &str) -> ServiceResult<()> {
        match actor {
            Actor::Console => Ok(()),
            Actor::User(u, _) if u.roles.contains(Role::Administrator) => Ok(()),
            Actor::User(_, origin) => {
                let e = self
                    .event(origin, action, Outcome::Denied)
                    .reason("forbidden")
                    .build();
                Err(self.deny(e, ServiceError::Forbidden("administrator")).await)
            }
        }
    }

    fn admin_event(
        &self,
        actor: Actor<'_>,
        action: &str,
        kind: &str,
        id: impl ToString,
    ) -> Vec<precinct_audit::event::AuditEvent> {
        vec![self
            .event(&actor.origin(), action, Outcome::Allowed)
            .object(kind, id)
            .build()]
    }

    /// On first start (no administrator at all, even if users were added
    /// on the console) creates `admin` with a one-time password, to be
    /// printed once; later starts return None.
    pub async fn ensure_first_admin(&self) -> ServiceResult<Option<NewPassword>> {
        let users = self.store.list_users().await.or_service("user")?;
        if users.iter().any(|u| u.roles.contains(Role::Administrator)) {
            return Ok(None);
        }
        let created = self
            .create_user(
                Actor::Console,
                CreateUser {
                    username: FIRST_ADMIN.into(),
                    display_name: "Administrator".into(),
                    roles: vec![Role::Administrator],
                    units: vec![],
                },
            )
            .await;
        match created {
            Ok((_, password)) => Ok(Some(password)),
            // Another server created it first.
            Err(ServiceError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a user with a one-time password that must be changed (and MFA
    /// enrolled) at first login.
    pub async fn create_user(
        &self,
        actor: Actor<'_>,
        input: CreateUser,
    ) -> ServiceResult<(User, NewPassword)> {
        self.require_admin(actor, "user.create").await?;
        let username = Username::parse(&input.username)?;
        let display_name = validate_name("display_name", &input.display_name)?;
        let roles = Roles::new(input.roles)?;
        let password = NewPassword::generate();
        let hash = {
            let p = password.clone();
            tokio::task::spawn_blocking(move || p.hash())
                .await
                .map_err(|_| ServiceError::Unavailable)??
        };
        let id = UserId::new_random();
        let new = NewUser {
            id,
            username,
            display_name,
            password_hash: hash,
            roles,
            units: input.units,
            must_change_password: true,
        };
        let now = self.clock.now();
        self.store
            .create_user(
                &new,
                now,
                &self.admin_event(actor, "user.create", "user", id),
            )
            .await
            .or_service("unit")?;
        let user = self.store.user(id).await.or_service("user")?.user;
        Ok((user, password))
    }

    pub async fn list_users(&self, actor: Actor<'_>) -> ServiceResult<Vec<User>> {
        self.require_admin(actor, "user.list").await?;
        self.store.list_users().await.or_service("user")
    }

    pub async fn get_user(&self, actor: Actor<'_>, id: UserId) -> ServiceResult<User> {
        self.require_admin(actor, "user.read").await?;
        Ok(self.store.user(id).await.or_service("user")?.user)
    }

    pub async fn user_by_username(&self, actor: Actor<'_>, username: &str) -> ServiceResult<User> {
        self.require_admin(actor, "user.read").await?;
        let username = Username::parse(username)?;
        Ok(self
            .store
            .user_by_username(username.as_str())
            .await
            .or_service("user")?
            .user)
    }

    pub async fn set_roles(
        &self,
        actor: Actor<'_>,
        id: UserId,
        roles: Vec<Role>,
    ) -> ServiceResult<User> {
        self.require_admin(actor, "user.roles.set").await?;
        if is_self(actor, id) && roles.contains(&Role::Auditor) {
            let current = self.store.user(id).await.or_service("user")?.user;
            if !current.roles.contains(Role::Auditor) {
                // Separation of duties: who administers does not audit himself in.
                return Err(precinct_domain::DomainError::invalid(
                    "roles",
                    "you cannot give yourself the auditor role; ask another administrator",
                )
                .into());
            }
        }
        if is_self(actor, id) && !roles.contains(&Role::Administrator) {
            return Err(precinct_domain::DomainError::invalid(
                "roles",
                "you cannot remove your own administrator role; ask another administrator",
            )
            .into());
        }
        let roles = Roles::new(roles)?;
        self.store
            .set_roles(
                id,
                &roles,
                self.clock.now(),
                &self.admin_event(actor, "user.roles.set", "user", id),
            )
            .await
            .or_service("user")?;
        self.get_user(actor, id).await
    }

    pub async fn set_units(
        &self,
        actor: Actor<'_>,
        id: UserId,
        units: Vec<UnitId>,
    ) -> ServiceResult<User> {
        self.require_admin(actor, "user.units.set").await?;
        self.store
            .set_units(
                id,
                &units,
                self.clock.now(),
                &self.admin_event(actor, "user.units.set", "user", id),
            )
            .await
            .or_service("user or unit")?;
        self.get_user(actor, id).await
    }

    pub async fn set_user_status(
        &self,
        actor: Actor<'_>,
        id: UserId,
        status: UserStatus,
    ) -> ServiceResult<User> {
        self.require_admin(actor, "user.status.set").await?;
        if is_self(actor, id) && status == UserStatus::Disabled {
            return Err(precinct_domain::DomainError::invalid(
                "status",
                "you cannot disable your own account; ask another administrator",
            )
            .into());
        }
        self.store
            .set_status(
                id,
                status,
                self.clock.now(),
                &self.admin_event(
                    actor,
                    if status == UserStatus::Disabled {
                        "user.disable"
                    } else {
                        "user.enable"
                    },
                    "user",
                    id,
                ),
            )
            .await
            .or_service("user")?;
        self.get_user(actor, id).await
    }

    pub async fn unlock_user(&self, actor: Actor<'_>, id: UserId) -> ServiceResult<User> {
        self.require_admin(actor, "user.unlock").await?;
        self.store
            .unlock(
                id,
                self.clock.now(),
                &self.admin_event(actor, "user.unlock", "user", id),
            )
            .await
            .or_service("user")?;
        self.get_user(actor, id).await
    }

    pub async fn reset_mfa(&self, actor: Actor<'_>, id: UserId) -> ServiceResult<User> {
        self.require_admin(actor, "user.mfa.reset").await?;
        self.store
            .reset_mfa(
                id,
                self.clock.now(),
                &self.admin_event(actor, "user.mfa.reset", "user", id),
            )
            .await
            .or_service("user")?;
        self.get_user(actor, id).await
    }

    /// Issues a new one-time password; the user must change it at next login.
    pub async fn reset_password(&self, actor: Actor<'_>, id: UserId) -> ServiceResult<NewPassword> {
        self.require_admin(actor, "user.password.reset").await?;
        let password = NewPassword::generate();
        let p = password.clone();
        let hash = tokio::task::spawn_blocking(move || p.hash())
            .await
            .map_err(|_| ServiceError::Unavailable)??;
        self.store
            .set_password(
                id,
                &hash,
                true,
                None,
                self.clock.now(),
                &self.admin_event(actor, "user.password.reset", "user", id),
            )
            .await
            .or_service("user")?;
        Ok(password)
    }

    pub async fn create_unit(
        &self,
        actor: Actor<'_>,
        name: &str,
        kind: UnitKind,
        parent: Option<UnitId>,
        supervisor: Option<UserId>,
    ) -> ServiceResult<Unit> {
        self.require_admin(actor, "unit.create").await?;
        let name = validate_name("name", name)?;
        let units = self.store.list_units().await.or_service("unit")?;
        let parents: HashMap<UnitId, Option<UnitId>> =
            units.iter().map(|u| (u.id, u.parent)).collect();
        if let Some(p) = parent {
            if !parents.contains_key(&p) {
                return Err(ServiceError::NotFound("parent unit"));
            }
        }
        let id = UnitId::new_random();
        validate_parent(id, kind, parent, &parents)?;
        let unit = Unit {
            id,
            name,
            kind,
            parent,
            supervisor,
        };
        self.store
            .create_unit(
                &unit,
                self.clock.now(),
                &self.admin_event(actor, "unit.create", "unit", id),
            )
            .await
            .or_service("supervisor")?;
        Ok(unit)
    }

    pub async fn list_units(&self, actor: Actor<'_>) -> ServiceResult<Vec<Unit>> {
        self.require_admin(actor, "unit.list").await?;
        self.store.list_units().await.or_service("unit")
    }

    pub async fn unit_by_name(&self, actor: Actor<'_>, name: &str) -> ServiceResult<Unit> {
        self.require_admin(actor, "unit.read").await?;
        self.store.unit_by_name(name).await.or_service("unit")
    }

    pub async fn set_unit_supervisor(
        &self,
        actor: Actor<'_>,
        unit: UnitId,
        supervisor: Option<UserId>,
    ) -> ServiceResult<Unit> {
        self.require_admin(actor, "unit.supervisor.set").await?;
        self.store
            .set_unit_supervisor(
                unit,
                supervisor,
                &self.admin_event(actor, "unit.supervisor.set", "unit", unit),
            )
            .await
            .or_service("unit or supervisor")?;
        self.store.unit(unit).await.or_service("unit")
    }

    pub async fn add_workstation(
        &self,
        actor: Actor<'_>,
        name: &str,
        unit: UnitId,
        networks: Vec<IpNet>,
    ) -> ServiceResult<WorkstationRecord> {
        self.require_admin(actor, "workstation.create").await?;
        let name = validate_name("name", name)?;
        let id = WorkstationId::new_random();
        self.store
            .create_workstation(
                id,
                &name,
                unit,
                &networks,
                self.clock.now(),
                &self.admin_event(actor, "workstation.create", "workstation", id),
            )
            .await
            .or_service("unit")?;
        self.store.workstation(id).await.or_service("workstation")
    }

    pub async fn list_workstations(
        &self,
        actor: Actor<'_>,
    ) -> ServiceResult<Vec<WorkstationRecord>> {
        self.require_admin(actor, "workstation.list").await?;
        self.store
            .list_workstations()
            .await
            .or_service("workstation")
    }

    pub async fn workstation_by_name(
        &self,
        actor: Actor<'_>,
        name: &str,
    ) -> ServiceResult<WorkstationRecord> {
        self.require_admin(actor, "workstation.read").await?;
        self.store
            .workstation_by_name(name)
            .await
            .or_service("workstation")
    }

    pub async fn set_workstation_enabled(
        &self,
        actor: Actor<'_>,
        id: WorkstationId,
        enabled: bool,
    ) -> ServiceResult<WorkstationRecord> {
        self.require_admin(actor, "workstation.enabled.set").await?;
        self.store
            .set_workstation_enabled(
                id,
                enabled,
                &self.admin_event(
                    actor,
                    if enabled {
                        "workstation.enable"
                    } else {
                        "workstation.disable"
                    },
                    "workstation",
                    id,
                ),
            )
            .await
            .or_service("workstation")?;
        self.store.workstation(id).await.or_service("workstation")
    }

    pub async fn register_workstation_certificate(
        &self,
        actor: Actor<'_>,
        id: WorkstationId,
        fingerprint: &Fingerprint,
    ) -> ServiceResult<WorkstationRecord> {
        self.require_admin(actor, "workstation.certificate.set")
            .await?;
        self.store
            .set_workstation_fingerprint(
                id,
                fingerprint,
                &self.admin_event(actor, "workstation.certificate.set", "workstation", id),
            )
            .await
            .or_service("workstation")?;
        self.store.workstation(id).await.or_service("workstation")
    }

    pub async fn enroll_device(
        &self,
        actor: Actor<'_>,
        name: &str,
        kind: DeviceKind,
        assigned_user: Option<UserId>,
    ) -> ServiceResult<DeviceRecord> {
        self.require_admin(actor, "device.enroll").await?;
        let name = validate_name("name", name)?;
        let id = DeviceId::new_random();
        self.store
            .enroll_device(
                id,
                &name,
                kind,
                assigned_user,
                self.clock.now(),
                &self.admin_event(actor, "device.enroll", "device", id),
            )
            .await
            .or_service("assigned user")?;
        self.store.device(id).await.or_service("device")
    }

    pub async fn list_devices(&self, actor: Actor<'_>) -> ServiceResult<Vec<DeviceRecord>> {
        self.require_admin(actor, "device.list").await?;
        self.store.list_devices().await.or_service("device")
    }

    pub async fn device_by_name(
        &self,
        actor: Actor<'_>,
        name: &str,
    ) -> ServiceResult<DeviceRecord> {
        self.require_admin(actor, "device.read").await?;
        self.store.device_by_name(name).await.or_service("device")
    }

    pub async fn revoke_device(
        &self,
        actor: Actor<'_>,
        id: DeviceId,
    ) -> ServiceResult<DeviceRecord> {
        self.require_admin(actor, "device.revoke").await?;
        self.store
            .revoke_device(
                id,
                self.clock.now(),
                &self.admin_event(actor, "device.revoke", "device", id),
            )
            .await
            .or_service("device")?;
        self.store.device(id).await.or_service("device")
    }

    pub async fn register_device_certificate(
        &self,
        actor: Actor<'_>,
        id: DeviceId,
        fingerprint: &Fingerprint,
    ) -> ServiceResult<DeviceRecord> {
        self.require_admin(actor, "device.certificate.set").await?;
        self.store
            .set_device_fingerprint(
                id,
                fingerprint,
                &self.admin_event(actor, "device.certificate.set", "device", id),
            )
            .await
            .or_service("device")?;
        self.store.device(id).await.or_service("device")
    }
}
