//! `precinct pki`: the department CA, and client certificates for
//! workstations and devices whose fingerprints are registered as they are
//! issued.

use precinct_domain::ids::{DeviceId, WorkstationId};
use precinct_server::pki::{self, DepartmentCa, PkiPaths};
use precinct_server::service::admin::Actor;
use precinct_server::service::Services;
use std::net::SocketAddr;
use std::path::Path;

use crate::output::{shell_word, ByName};
use crate::settings::{CertificateHolder, PkiIssue};

enum Holder {
    Workstation(WorkstationId),
    Device(DeviceId),
}

pub fn init(pki_dir: &Path, names: &[String]) -> anyhow::Result<()> {
    let paths = pki::init(pki_dir, names)?;
    println!("Created the department CA and the server certificate:");
    println!("  CA certificate:     {}", paths.ca_cert.display());
    println!("  CA key (keep safe): {}", paths.ca_key.display());
    println!("  server certificate: {}", paths.server_cert.display());
    println!("  server key:         {}", paths.server_key.display());
    println!(
        "Start the server with `precinct serve --tls`; clients trust {}.",
        paths.ca_cert.display()
    );
    Ok(())
}

pub async fn issue(
    services: &Services,
    pki_dir: &Path,
    listen: SocketAddr,
    task: PkiIssue,
) -> anyhow::Result<()> {
    let console = Actor::Console;
    // Look the holder up first, so that nothing is written for a typo.
    let (name, holder) = match &task.holder {
        CertificateHolder::Workstation(name) => {
            let ws = services
                .workstation_by_name(console, name)
                .await
                .by_name("workstation", name)?;
            (ws.name, Holder::Workstation(ws.id))
        }
        CertificateHolder::Device(name) => {
            let device = services
                .device_by_name(console, name)
                .await
                .by_name("device", name)?;
            if device.revoked_at.is_some() {
                anyhow::bail!("device `{name}` is revoked; enrol it again under a new name");
            }
            (device.name, Holder::Device(device.id))
        }
    };
    let ca = DepartmentCa::load(pki_dir)?;
    let issued = ca.issue_client(&name, task.days)?;
    crate::create_private_dir(&task.out_dir)?;
    let cert_path = task.out_dir.join(format!("{}.pem", task.file_stem));
    let key_path = task.out_dir.join(format!("{}-key.pem", task.file_stem));
    issued.write_to(&cert_path, &key_path)?;
    match holder {
        Holder::Workstation(id) => {
            services
                .register_workstation_certificate(console, id, &issued.fingerprint)
                .await?;
        }
        Holder::Device(id) => {
            services
                .register_device_certificate(console, id, &issued.fingerprint)
                .await?;
        }
    }
    let ca_cert = PkiPaths::in_dir(pki_dir).ca_cert;
    println!(
        "Issued a client certificate for `{name}`, valid {} days, and registered it:",
        task.days
    );
    println!("  certificate: {}", cert_path.display());
    println!("  key:         {}", key_path.display());
    println!("  fingerprint: sha256:{}", issued.fingerprint);
    println!("Any earlier certificate of `{name}` no longer counts. Try it:");
    println!(
        "  curl --cacert {} --cert {} --key {} https://{}/healthz",
        shell_word(&ca_cert.display().to_string()),
        shell_word(&cert_path.display().to_string()),
        shell_word(&key_path.display().to_string()),
        host_for(listen)
    );
    Ok(())
}

/// The listen address as a client on this machine reaches it; the server
/// certificate always names `localhost`.
fn host_for(listen: SocketAddr) -> String {
    if listen.ip().is_unspecified() || listen.ip().is_loopback() {
        format!("localhost:{}", listen.port())
    } else {
        listen.to_string()
    }
}
