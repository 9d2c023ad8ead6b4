//! `precinct policy check FILE` and `precinct policy explain`: the
//! department's Cedar policy, validated strictly against Precinct's schema,
//! and a decision with the policies that made it.

use anyhow::Context;
use precinct_domain::case::CaseNumber;
use precinct_domain::ids::CaseId;
use precinct_policy::{Action, PolicyEngine, SHIPPED_SCHEMA};
use precinct_server::service::Services;
use std::path::Path;

/// The configured policy file, or the shipped policy. An invalid file is an
/// error that stops the command (and the server) with the reason.
pub fn load(file: Option<&Path>) -> anyhow::Result<PolicyEngine> {
    match file {
        None => PolicyEngine::shipped().context("the shipped policy"),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the policy file {}", path.display()))?;
            PolicyEngine::new(SHIPPED_SCHEMA, &text)
                .with_context(|| format!("the policy file {} is not valid", path.display()))
        }
    }
}

pub fn check(file: &Path) -> anyhow::Result<()> {
    let engine = load(Some(file))?;
    println!(
        "{}: valid ({} policies, strict validation against Precinct's schema).",
        file.display(),
        engine.len()
    );
    Ok(())
}

/// What `policy explain` is asked.
pub struct Asked<'a> {
    pub username: &'a str,
    pub case_ref: &'a str,
    pub channel: &'a str,
    pub action: &'a str,
    pub device: Option<&'a str>,
}

pub async fn explain(services: &Services, asked: Asked<'_>) -> anyhow::Result<()> {
    let Asked {
        username,
        case_ref,
        channel,
        action,
        device,
    } = asked;
    let action = Action::parse(action).with_context(|| {
        format!("unknown action {action:?}: use view, add_document, amend, manage, view_protected or view_audit")
    })?;
    if !matches!(channel, "workstation" | "department_device" | "offsite") {
        anyhow::bail!("the channel must be workstation, department_device or offsite");
    }
    let user = services
        .store
        .user_by_username(username)
        .await
        .with_context(|| format!("no user {username}"))?
        .user;
    let id = match case_ref.parse::<CaseNumber>() {
        Ok(n) => services
            .store
            .case_id_by_number(n)
            .await
            .with_context(|| format!("no case {n}"))?,
        Err(_) => case_ref
            .parse::<CaseId>()
            .map_err(|_| anyhow::anyhow!("--case must be a case number (2026-000123) or id"))?,
    };
    let device = match device {
        None => None,
        Some(_) if channel != "department_device" => {
            anyhow::bail!("--device goes with --channel department_device")
        }
        Some(name) => Some(
            services
                .store
                .device_by_name(name)
                .await
                .with_context(|| format!("no device {name}"))?
                .id,
        ),
    };
    let (case, d, grant) = services
        .explain(&user, id, action, channel, device)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let verdict = if d.allowed { "ALLOWED" } else { "DENIED" };
    println!(
        "{verdict}: {username} {} case {} from {channel}",
        action.as_str(),
        case.number
    );
    if d.policies.is_empty() {
        println!("  decided by: no policy permitted it (default deny)");
    } else {
        println!("  decided by: {}", d.policies.join(", "));
    }
    if let Some(g) = grant {
        println!(
            "  under off-site grant {} ({}, {}, ends {})",
            g.id,
            g.kind.as_str(),
            g.status.as_str(),
            g.ended_at()
        );
    }
    if let Some(m) = d.message {
        println!("  the user is told: {m}");
    }
    Ok(())
}
