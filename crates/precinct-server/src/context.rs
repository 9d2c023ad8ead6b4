//! The layer every request passes first: it gives the request an id,
//! decides its channel from what the connection proved (or, from a trusted
//! proxy only, from the proxy's certificate header), and sets the security
//! headers on the way out. If the channel cannot be decided the request is
//! refused.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use precinct_domain::channel::decide_channel;
use precinct_domain::Fingerprint;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::metrics::{ChannelLabels, StatusLabels};
use crate::problem::Problem;
use crate::state::{AppState, ConnInfo, RequestContext};

/// Paths a load balancer probes; they get no channel and need none.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

pub async fn context_layer(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let conn = req
        .extensions()
        .get::<ConnInfo>()
        .cloned()
        .unwrap_or(ConnInfo {
            peer: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            client_cert: None,
            tls: false,
        });
    let tls = conn.tls;
    let path = req.uri().path().to_owned();
    let mut res = if is_probe(&path) {
        next.run(req).await
    } else {
        match decide(&state, &conn, req.headers()).await {
            Ok((channel, client_ip)) => {
                state
                    .metrics
                    .channels
                    .get_or_create(&ChannelLabels {
                        channel: channel.kind().to_owned(),
                    })
                    .inc();
                req.extensions_mut().insert(RequestContext {
                    request_id: request_id.clone(),
                    channel,
                    client_ip,
                });
                next.run(req).await
            }
            Err(p) => p.into_response(),
        }
    };
    state
        .metrics
        .http_responses
        .get_or_create(&StatusLabels {
            class: format!("{}xx", res.status().as_u16() / 100),
        })
        .inc();
    set_security_headers(res.headers_mut(), &path, tls);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    res
}

async fn decide(
    state: &AppState,
    conn: &ConnInfo,
    headers: &HeaderMap,
) -> Result<(precinct_domain::Channel, IpAddr), Problem> {
    let peer_ip = conn.peer.ip();
    let (client_ip, presented) = if state.config.is_trusted_proxy(peer_ip) {
        let ip = forwarded_for(headers, |ip| state.config.is_trusted_proxy(ip)).unwrap_or(peer_ip);
        let fp = match headers.get(state.config.client_cert_header.as_str()) {
            Some(v) => Some(certificate_from_header(v).ok_or_else(|| {
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_client_certificate_header",
                    "The proxy's client-certificate header could not be read",
                )
            })?),
            None => None,
        };
        (ip, fp)
    } else {
        // The header from anyone but a trusted proxy is ignored.
        (peer_ip, conn.client_cert.clone())
    };
    let fingerprint = presented.clone();
    let binding = match presented {
        Some(fp) => Some(
            state
                .services
                .store
                .certificate_binding(&fp)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "channel lookup failed");
                    state.metrics.storage_failures.inc();
                    Problem::unavailable()
                })?,
        ),
        None => None,
    };
    let channel = match decide_channel(binding.as_ref(), client_ip) {
        Ok(c) => c,
        Err(_) => {
            // Recorded before it is answered; if it cannot be, 503.
            let origin = crate::service::audit::Origin {
                channel: "offsite".into(),
                source_ip: Some(client_ip.to_string()),
                ..Default::default()
            };
            let e = state
                .services
                .event(
                    &origin,
                    "channel.certificate",
                    crate::service::audit::Outcome::Denied,
                )
                .object(
                    "certificate",
                    fingerprint
                        .as_ref()
                        .map(|f| f.to_string())
                        .unwrap_or_default(),
                )
                .reason("unregistered_certificate")
                .build();
            state
                .services
                .record(&[e])
                .await
                .map_err(|_| Problem::unavailable())?;
            return Err(Problem::unregistered_certificate());
        }
    };
    Ok((channel, client_ip))
}

/// The original client: proxies append to `X-Forwarded-For`, so only the
/// right end is theirs. Walk it from the right past our own trusted proxies;
/// the first other address is the client. Anything to its left was written
/// by the client and is ignored.
fn forwarded_for(headers: &HeaderMap, trusted: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
    let list = headers.get("x-forwarded-for")?.to_str().ok()?;
    let mut last = None;
    for hop in list.rsplit(',') {
        let ip: IpAddr = hop.trim().parse().ok()?;
        last = Some(ip);
        if !trusted(ip) {
            return Some(ip);
        }
    }
    last
}

/// A URL-encoded PEM certificate (nginx `$ssl_client_escaped_cert`, AWS ALB)
/// or a bare SHA-256 fingerprint.
fn certificate_from_header(v: &HeaderValue) -> Option<Fingerprint> {
    let raw = v.to_str().ok()?;
    if let Ok(fp) = Fingerprint::parse(raw) {
        return Some(fp);
    }
    let pem = urlencoding::decode(raw).ok()?;
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
    Some(Fingerprint::of_der(der.as_ref()))
}

fn set_security_headers(h: &mut HeaderMap, path: &str, tls: bool) {
    let pairs: [(HeaderName, &'static str); 6] = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
    ];
    for (k, v) in pairs {
        h.insert(k, HeaderValue::from_static(v));
    }
    if !path.starts_with("/static/") {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}
