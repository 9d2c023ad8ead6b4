//! Prometheus counters served at `/metrics`. Labels carry outcomes and
//! channels, never user names or addresses.

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub class: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    pub channel: String,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub http_responses: Family<StatusLabels, Counter>,
    pub logins: Family<OutcomeLabels, Counter>,
    pub channels: Family<ChannelLabels, Counter>,
    pub storage_failures: Counter,
    /// Mirrors the store's count of failed audit writes.
    pub audit_failures: Counter,
    /// Mirrors the count of failed copies to the witness file.
    pub witness_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let audit_failures = Counter::default();
        let witness_failures = Counter::default();
        let mut registry = Registry::with_prefix("precinct");
        let http_responses = Family::<StatusLabels, Counter>::default();
        let logins = Family::<OutcomeLabels, Counter>::default();
        let channels = Family::<ChannelLabels, Counter>::default();
        let storage_failures = Counter::default();
        registry.register(
            "http_responses",
            "HTTP responses by status class",
            http_responses.clone(),
        );
        registry.register("logins", "Login attempts by outcome", logins.clone());
        registry.register(
            "requests_by_channel",
            "Requests by decided channel",
            channels.clone(),
        );
        registry.register(
            "storage_failures",
            "Requests refused because the database was unavailable",
            storage_failures.clone(),
        );
        registry.register(
            "audit_write_failures",
            "Actions refused because their audit event could not be written",
            audit_failures.clone(),
        );
        registry.register(
            "witness_write_failures",
            "Checkpoints that could not be appended to the witness file (retried)",
            witness_failures.clone(),
        );
        Self {
            registry,
            http_responses,
            logins,
            channels,
            storage_failures,
            audit_failures,
            witness_failures,
        }
    }
}

impl Metrics {
    pub fn login(&self, outcome: &str) {
        self.logins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Brings the mirrored counters up to their sources' counts.
    pub fn sync_failures(&self, audit: u64, witness: u64) {
        for (counter, total) in [
            (&self.audit_failures, audit),
            (&self.witness_failures, witness),
        ] {
            let seen = counter.get();
            if total > seen {
                counter.inc_by(total - seen);
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
