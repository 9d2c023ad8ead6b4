//! The server's validated settings. The command line turns flags, the
//! environment and the TOML file into a `ServerConfig`; nothing downstream
//! parses configuration again.

use ipnet::IpNet;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CLIENT_CERT_HEADER: &str = "x-client-cert";
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Certificate chain and private key (PEM) the server presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// May hold a password, so it never prints.
    pub database_url: SecretString,
    /// Terminate TLS here and ask for an optional client certificate.
    pub tls: Option<TlsFiles>,
    /// Peers (load balancers) whose client-certificate header is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The header a trusted proxy puts the verified client certificate in
    /// (URL-encoded PEM, as nginx's `$ssl_client_escaped_cert`).
    pub client_cert_header: String,
    pub max_body_bytes: usize,
    /// Where each signed audit checkpoint is also appended (a witness copy).
    pub checkpoint_file: Option<PathBuf>,
    /// Sequence the audit log and sign checkpoints in this process. Safe on
    /// every server of a cluster: one sequencer runs at a time.
    pub log_keeper: bool,
    /// The SMTP server notifications are e-mailed through, if any.
    pub mail: Option<crate::service::mail::MailSettings>,
    /// The department's limits on off-site grants.
    pub grant_limits: precinct_domain::offsite::GrantLimits,
    /// Weekly off-duty hours under grants past which supervisors are warned.
    pub weekly_hours_warning: f64,
}

impl ServerConfig {
    /// Settings for a data directory with the embedded SQLite database.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        let db = data_dir.join("precinct.db");
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: SecretString::from(format!("sqlite://{}", db.display())),
            data_dir,
            tls: None,
            trusted_proxies: Vec::new(),
            client_cert_header: DEFAULT_CLIENT_CERT_HEADER.to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            checkpoint_file: None,
            log_keeper: true,
            mail: None,
            grant_limits: Default::default(),
            weekly_hours_warning: 8.0,
        }
    }

    pub fn is_trusted_proxy(&self, peer: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&peer))
    }
}
