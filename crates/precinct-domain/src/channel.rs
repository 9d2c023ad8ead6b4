//! Where a request comes from, decided by the server alone: a designated
//! workstation, an enrolled department device, or off-site. Certificates are
//! recognised by the SHA-256 fingerprint of their DER encoding.

use ipnet::IpNet;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::IpAddr;

use crate::ids::{DeviceId, WorkstationId};
use crate::DomainError;

/// SHA-256 of a certificate's DER, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn of_der(der: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(der)))
    }
    /// Accepts hex with or without colons and an optional `sha256:` prefix.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let t = s.trim();
        let t = t.strip_prefix("sha256:").unwrap_or(t);
        let hexed: String = t
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_lowercase();
        if hexed.len() != 64 || !hexed.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(
                "fingerprint",
                "must be a SHA-256 fingerprint (64 hex digits)",
            ));
        }
        Ok(Self(hexed))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Phone,
    Tablet,
    Laptop,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Phone => "phone",
            DeviceKind::Tablet => "tablet",
            DeviceKind::Laptop => "laptop",
        }
    }
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "phone" => Ok(DeviceKind::Phone),
            "tablet" => Ok(DeviceKind::Tablet),
            "laptop" => Ok(DeviceKind::Laptop),
            _ => Err(DomainError::invalid(
                "kind",
                "must be phone, tablet or laptop",
            )),
        }
    }
}

/// The channel of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    Workstation {
        id: WorkstationId,
        name: String,
        /// The precinct or unit the workstation stands in.
        location: String,
    },
    DepartmentDevice {
        id: DeviceId,
        name: String,
        device_kind: DeviceKind,
    },
    Offsite,
}

impl Channel {
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Workstation { .. } => "workstation",
            Channel::DepartmentDevice { .. } => "department_device",
            Channel::Offsite => "offsite",
        }
    }
    /// The channel in plain words, as the UI shows it at all times.
    pub fn describe(&self) -> String {
        match self {
            Channel::Workstation { name, location, .. } => {
                format!("Designated workstation: {location}, {name}")
            }
            Channel::DepartmentDevice {
                name, device_kind, ..
            } => format!("Department {}: {name}", device_kind.as_str()),
            Channel::Offsite => "Off-site".to_owned(),
        }
    }
}

/// A registered workstation as channel detection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkstationBinding {
    pub id: WorkstationId,
    pub name: String,
    pub location: String,
    pub enabled: bool,
    /// When set, the workstation counts only from these networks.
    pub networks: Vec<IpNet>,
}

/// An enrolled device as channel detection sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceBinding {
    pub id: DeviceId,
    pub name: String,
    pub kind: DeviceKind,
    pub revoked: bool,
}

/// What the registry knows of a presented certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateBinding {
    Workstation(WorkstationBinding),
    Device(DeviceBinding),
    Unknown,
}

/// Why a request was refused before it reached any handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelRefusal {
    /// A certificate was presented that no workstation or device holds.
    UnregisteredCertificate,
}

/// Decides the channel from what the connection proved. No certificate means
/// off-site; a disabled workstation, a revoked device or a workstation used
/// from outside its networks falls back to off-site; an unknown certificate
/// is refused, so that a misconfigured machine is noticed at once.
pub fn decide_channel(
    presented: Option<&CertificateBinding>,
    client_ip: IpAddr,
) -> Result<Channel, ChannelRefusal> {
    match presented {
        None => Ok(Channel::Offsite),
        Some(CertificateBinding::Unknown) => Err(ChannelRefusal::UnregisteredCertificate),
        Some(CertificateBinding::Workstation(w)) => {
            let in_network =
                w.networks.is_empty() || w.networks.iter().any(|n| n.contains(&client_ip));
            if w.enabled && in_network {
                Ok(Channel::Workstation {
                    id: w.id,
                    name: w.name.clone(),
                    location: w.location.clone(),
                })
            } else {
                Ok(Channel::Offsite)
            }
        }
        Some(CertificateBinding::Device(d)) => {
            if d.revoked {
                Ok(Channel::Offsite)
            } else {
                Ok(Channel::DepartmentDevice {
                    id: d.id,
                    name: d.name.clone(),
                    device_kind: d.kind,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(enabled: bool, networks: Vec<IpNet>) -> CertificateBinding {
        CertificateBinding::Workstation(WorkstationBinding {
            id: WorkstationId::new_random(),
            name: "desk 4".into(),
            location: "Central Precinct".into(),
            enabled,
            networks,
        })
    }

    #[test]
    fn decides_channels() {
        let ip: IpAddr = [10, 1, 2, 3].into();
        assert_eq!(decide_channel(None, ip), Ok(Channel::Offsite));
        assert_eq!(
            decide_channel(Some(&CertificateBinding::Unknown), ip),
            Err(ChannelRefusal::UnregisteredCertificate)
        );
        let c = decide_channel(Some(&ws(true, vec![])), ip).expect("ok");
        assert_eq!(
            c.describe(),
            "Designated workstation: Central Precinct, desk 4"
        );
        assert_eq!(
            decide_channel(Some(&ws(false, vec![])), ip),
            Ok(Channel::Offsite)
        );
        let lan: IpNet = "10.1.0.0/16".parse().expect("net");
        let other: IpNet = "192.0.2.0/24".parse().expect("net");
        assert_eq!(
            decide_channel(Some(&ws(true, vec![lan])), ip).map(|c| c.kind()),
            Ok("workstation")
        );
        assert_eq!(
            decide_channel(Some(&ws(true, vec![other])), ip),
            Ok(Channel::Offsite)
        );
        let dev = |revoked| {
            CertificateBinding::Device(DeviceBinding {
                id: DeviceId::new_random(),
                name: "laptop 7".into(),
                kind: DeviceKind::Laptop,
                revoked,
            })
        };
        assert_eq!(
            decide_channel(Some(&dev(false)), ip).map(|c| c.kind()),
            Ok("department_device")
        );
        assert_eq!(decide_channel(Some(&dev(true)), ip), Ok(Channel::Offsite));
    }

    #[test]
    fn fingerprints() {
        let f = Fingerprint::of_der(b"x");
        assert_eq!(
            Fingerprint::parse(&format!("sha256:{}", f.as_str().to_uppercase())),
            Ok(f.clone())
        );
        assert!(Fingerprint::parse("abc").is_err());
    }
}
