//! What every handler can reach: the use-cases, the settings and the
//! metrics; plus what the listener and the context layer learn about each
//! request.

use precinct_domain::{Channel, Fingerprint};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::service::Services;

/// Cloned for every request (and by every layer), so one reference count.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub services: Services,
    pub config: Arc<ServerConfig>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(services: Services, config: ServerConfig) -> Self {
        Self(Arc::new(Shared {
            metrics: Arc::new(Metrics::default()),
            services,
            config: Arc::new(config),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the connection proved, set by the listener.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// Fingerprint of the client certificate presented in the TLS handshake.
    pub client_cert: Option<Fingerprint>,
    pub tls: bool,
}

/// What the server decided about a request, set by the context layer.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub channel: Channel,
    pub client_ip: IpAddr,
}

impl RequestContext {
    /// Where the request came from, for the audit trail.
    pub fn origin(&self) -> crate::service::audit::Origin {
        crate::service::audit::Origin::network(
            &self.channel,
            Some(self.client_ip.to_string()),
            Some(self.request_id.clone()),
        )
    }
}
