//! The administration commands: users, units, workstations and devices. Each
//! resolves names to ids, calls one use-case as the console, and prints the
//! outcome.

use precinct_domain::user::{User, UserStatus, Username};
use precinct_domain::Role;
use precinct_server::service::admin::{Actor, CreateUser};
use precinct_server::service::Services;
use std::collections::HashMap;

use crate::output::{print_one_time_password, print_table, shell_word, yes_no, ByName};
use crate::settings::{AdminTask as Task, UserTask};

const CONSOLE: Actor<'static> = Actor::Console;

pub async fn run(services: &Services, task: Task) -> anyhow::Result<()> {
    match task {
        Task::User(t) => user(services, t).await,
        Task::UnitAdd {
            name,
            kind,
            parent,
            supervisor,
        } => {
            let parent = match parent {
                Some(p) => Some(
                    services
                        .unit_by_name(CONSOLE, &p)
                        .await
                        .by_name("parent unit", &p)?
                        .id,
                ),
                None => None,
            };
            let supervisor = match supervisor {
                Some(u) => Some(find_user(services, &u).await?.id),
                None => None,
            };
            let unit = services
                .create_unit(CONSOLE, &name, kind, parent, supervisor)
                .await?;
            println!("Created {} `{}`.", unit.kind.as_str(), unit.name);
            Ok(())
        }
        Task::UnitList => unit_list(services).await,
        Task::WorkstationAdd {
            name,
            unit,
            networks,
        } => {
            let unit = services
                .unit_by_name(CONSOLE, &unit)
                .await
                .by_name("unit", &unit)?;
            let ws = services
                .add_workstation(CONSOLE, &name, unit.id, networks)
                .await?;
            println!("Registered workstation `{}` in {}.", ws.name, ws.unit_name);
            println!(
                "Next: issue its client certificate with `precinct pki issue --workstation {}`.",
                shell_word(&ws.name)
            );
            Ok(())
        }
        Task::WorkstationList => {
            let rows: Vec<Vec<String>> = services
                .list_workstations(CONSOLE)
                .await?
                .into_iter()
                .map(|w| {
                    let networks: Vec<String> = w.networks.iter().map(|n| n.to_string()).collect();
                    vec![
                        w.name,
                        w.unit_name,
                        if networks.is_empty() {
                            "any".into()
                        } else {
                            networks.join(",")
                        },
                        yes_no(w.enabled),
                        certificate(w.fingerprint.as_deref()),
                    ]
                })
                .collect();
            print_table(
                &["NAME", "UNIT", "NETWORKS", "ENABLED", "CERTIFICATE"],
                &rows,
                "No workstations.",
            );
            Ok(())
        }
        Task::WorkstationEnabled { name, enabled } => {
            let ws = services
                .workstation_by_name(CONSOLE, &name)
                .await
                .by_name("workstation", &name)?;
            services
                .set_workstation_enabled(CONSOLE, ws.id, enabled)
                .await?;
            let state = if enabled { "enabled" } else { "disabled" };
            println!("Workstation `{}` {state}.", ws.name);
            Ok(())
        }
        Task::DeviceEnroll { name, kind, user } => {
            let user = match user {
                Some(u) => Some(find_user(services, &u).await?.id),
                None => None,
            };
            let device = services.enroll_device(CONSOLE, &name, kind, user).await?;
            println!("Enrolled {} `{}`.", device.kind.as_str(), device.name);
            println!(
                "Next: issue its client certificate with `precinct pki issue --device {}`.",
                shell_word(&device.name)
            );
            Ok(())
        }
        Task::DeviceList => device_list(services).await,
        Task::DeviceRevoke { name } => {
            let device = services
                .device_by_name(CONSOLE, &name)
                .await
                .by_name("device", &name)?;
            services.revoke_device(CONSOLE, device.id).await?;
            println!(
                "Device `{}` revoked; its certificate no longer counts.",
                device.name
            );
            Ok(())
        }
    }
}

async fn find_user(services: &Services, username: &Username) -> anyhow::Result<User> {
    services
        .user_by_username(CONSOLE, username.as_str())
        .await
        .by_name("user", username.as_str())
}

async fn user(services: &Services, task: UserTask) -> anyhow::Result<()> {
    match task {
        UserTask::Add {
            username,
            display_name,
            roles,
            units,
        } => {
            let mut unit_ids = Vec::new();
            for name in &units {
                let unit = services
                    .unit_by_name(CONSOLE, name)
                    .await
                    .by_name("unit", name)?;
                unit_ids.push(unit.id);
            }
            let input = CreateUser {
                username: username.as_str().to_owned(),
                display_name,
                roles,
                units: unit_ids,
            };
            let (user, password) = services.create_user(CONSOLE, input).await?;
            print_one_time_password("User created.", user.username.as_str(), &password);
        }
        UserTask::List => {
            let rows: Vec<Vec<String>> = services
                .list_users(CONSOLE)
                .await?
                .into_iter()
                .map(|u| {
                    let roles: Vec<&str> = u.roles.iter().map(Role::as_str).collect();
                    vec![
                        u.username.as_str().to_owned(),
                        u.display_name.clone(),
                        roles.join(","),
                        u.status.as_str().to_owned(),
                        yes_no(u.is_locked()),
                        if u.mfa_enrolled {
                            "enrolled"
                        } else {
                            "not enrolled"
                        }
                        .to_owned(),
                    ]
                })
                .collect();
            print_table(
                &["USERNAME", "NAME", "ROLES", "STATUS", "LOCKED", "MFA"],
                &rows,
                "No users.",
            );
        }
        UserTask::Disable(u) => {
            let user = find_user(services, &u).await?;
            services
                .set_user_status(CONSOLE, user.id, UserStatus::Disabled)
                .await?;
            println!("User `{}` disabled; their sessions have ended.", u.as_str());
        }
        UserTask::Enable(u) => {
            let user = find_user(services, &u).await?;
            services
                .set_user_status(CONSOLE, user.id, UserStatus::Active)
                .await?;
            println!("User `{}` enabled.", u.as_str());
        }
        UserTask::Unlock(u) => {
            let user = find_user(services, &u).await?;
            services.unlock_user(CONSOLE, user.id).await?;
            println!("User `{}` unlocked.", u.as_str());
        }
        UserTask::ResetMfa(u) => {
            let user = find_user(services, &u).await?;
            services.reset_mfa(CONSOLE, user.id).await?;
            println!(
                "MFA of `{}` removed; they enrol a new authenticator at next login.",
                u.as_str()
            );
        }
        UserTask::ResetPassword(u) => {
            let user = find_user(services, &u).await?;
            let password = services.reset_password(CONSOLE, user.id).await?;
            print_one_time_password("Password reset.", u.as_str(), &password);
        }
    }
    Ok(())
}

async fn unit_list(services: &Services) -> anyhow::Result<()> {
    let units = services.list_units(CONSOLE).await?;
    let usernames: HashMap<_, _> = services
        .list_users(CONSOLE)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username.as_str().to_owned()))
        .collect();
    let names: HashMap<_, _> = units.iter().map(|u| (u.id, u.name.clone())).collect();
    let rows: Vec<Vec<String>> = units
        .iter()
        .map(|u| {
            let parent = u.parent.and_then(|p| names.get(&p).cloned());
            let supervisor = u.supervisor.and_then(|s| usernames.get(&s).cloned());
            vec![
                u.name.clone(),
                u.kind.as_str().to_owned(),
                parent.unwrap_or_else(|| "-".into()),
                supervisor.unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print_table(
        &["NAME", "KIND", "PARENT", "SUPERVISOR"],
        &rows,
        "No units.",
    );
    Ok(())
}

async fn device_list(services: &Services) -> anyhow::Result<()> {
    let usernames: HashMap<_, _> = services
        .list_users(CONSOLE)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username.as_str().to_owned()))
        .collect();
    let rows: Vec<Vec<String>> = services
        .list_devices(CONSOLE)
        .await?
        .into_iter()
        .map(|d| {
            let user = d
                .assigned_user_id
                .and_then(|id| usernames.get(&id).cloned());
            vec![
                d.name,
                d.kind.as_str().to_owned(),
                user.unwrap_or_else(|| "-".into()),
                match d.revoked_at {
                    Some(t) => format!("revoked {t}"),
                    None => "active".to_owned(),
                },
                certificate(d.fingerprint.as_deref()),
            ]
        })
        .collect();
    print_table(
        &["NAME", "KIND", "USER", "STATUS", "CERTIFICATE"],
        &rows,
        "No devices.",
    );
    Ok(())
}

/// The start of a registered fingerprint, enough to tell certificates apart.
fn certificate(fingerprint: Option<&str>) -> String {
    match fingerprint {
        Some(f) => format!("sha256:{}…", f.get(..16).unwrap_or(f)),
        None => "none".to_owned(),
    }
}
