//! The TOML configuration file: the same settings as the server flags, for
//! deployments that keep them in a file. Relative paths are relative to the
//! working directory, as on the command line.

use anyhow::Context;
use ipnet::IpNet;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The TOML configuration file. Unknown keys are an error, so that a typo
/// does not silently fall back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<SecretString>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub trusted_proxies: Option<Vec<IpNet>>,
    pub client_cert_header: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub policy_file: Option<PathBuf>,
    pub attachment_key: Option<PathBuf>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_security: Option<String>,
    pub mail_from: Option<String>,
    pub mail_domain: Option<String>,
    pub grant_max_hours: Option<u64>,
    pub weekly_hours_warning: Option<f64>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        // Only the message and line: toml's own rendering quotes the line,
        // which may hold the database password.
        toml::from_str(&text).map_err(|e| {
            let newlines_before = |at: usize| {
                let before = text.as_bytes().get(..at).unwrap_or_default();
                before.iter().filter(|b| **b == b'\n').count()
            };
            let line = e.span().map(|s| newlines_before(s.start) + 1);
            match line {
                Some(n) => anyhow::anyhow!("{} line {n}: {}", path.display(), e.message()),
                None => anyhow::anyhow!("{}: {}", path.display(), e.message()),
            }
        })
    }
}
