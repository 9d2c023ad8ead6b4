//! The listener: accepts TCP connections, terminates TLS when configured
//! (asking for an optional client certificate), and hands each request to
//! the router with what the connection proved.
//!
//! Client certificates are accepted at the TLS layer whatever their issuer,
//! as long as the client proves it holds the key; whether a certificate
//! means anything is decided per request by its registered fingerprint
//! (docs/decisions/0003-client-certificates-by-fingerprint.md). That is what
//! lets an unknown certificate get a clear 403 instead of a failed
//! handshake, and a revoked device lose its channel on the next request.

use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use precinct_domain::Fingerprint;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::config::{ServerConfig, TlsFiles};
use crate::service::Services;
use crate::state::{AppState, ConnInfo};

const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read TLS file {path}: {reason}")]
    TlsFile { path: String, reason: String },
    #[error("TLS configuration is not valid: {0}")]
    Tls(#[from] rustls::Error),
}

/// Binds the configured address and serves until `shutdown` completes.
pub async fn serve(
    config: ServerConfig,
    services: Services,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    serve_on(listener, config, services, shutdown).await
}

/// Serves on an already bound listener (tests bind port 0).
pub async fn serve_on(
    listener: TcpListener,
    config: ServerConfig,
    services: Services,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let tls = config.tls.as_ref().map(tls_server_config).transpose()?;
    let services = services.with_group_commit();
    let (stop_log, log_stopped) = tokio::sync::watch::channel(false);
    let keeper = config.log_keeper.then(|| {
        tokio::spawn(crate::service::auditlog::keep_log(
            services.clone(),
            log_stopped,
        ))
    });
    let app = crate::app::router(AppState::new(services, config));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(handle_connection(stream, peer, tls.clone(), app.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    let _ = stop_log.send(true);
    if let Some(k) = keeper {
        let _ = k.await;
    }
    Ok(())
}

async fn handle_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => {
            let info = ConnInfo {
                peer,
                client_cert: None,
                tls: false,
            };
            serve_http(TokioIo::new(stream), info, app).await;
        }
        Some(cfg) => {
            let accepted =
                tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, TlsAcceptor::from(cfg).accept(stream))
                    .await;
            let stream = match accepted {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let client_cert = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| Fingerprint::of_der(c.as_ref()));
            let info = ConnInfo {
                peer,
                client_cert,
                tls: true,
            };
            serve_http(TokioIo::new(stream), info, app).await;
        }
    }
}

async fn serve_http<I>(io: TokioIo<I>, info: ConnInfo, app: Router)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(info.clone());
        app.clone().oneshot(req)
    });
    if let Err(e) = auto::Builder::new(TokioExecutor::new())
        .serve_connection_with_upgrades(io, service)
        .await
    {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|e| ServeError::TlsFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The rustls configuration for the server's certificate and key, asking
/// clients for an optional certificate.
pub fn tls_server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let bad = |path: &std::path::Path, reason: &str| ServeError::TlsFile {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    };
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read_file(&files.cert)?)
            .collect::<Result<_, _>>()
            .map_err(|_| bad(&files.cert, "not a PEM certificate chain"))?;
    if certs.is_empty() {
        return Err(bad(&files.cert, "no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_slice(&read_file(&files.key)?)
        .map_err(|_| bad(&files.key, "not a PEM private key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyClientCertificate {
        algorithms: provider.signature_verification_algorithms,
    });
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Asks for a client certificate, does not require one, and accepts any
/// whose holder proves possession of its key. The registry decides.
#[derive(Debug)]
struct AnyClientCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
