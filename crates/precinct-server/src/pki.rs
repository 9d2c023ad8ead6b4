//! The department's own certificate authority: it signs the server's TLS
//! certificate and the client certificates that identify designated
//! workstations and enrolled devices. Keys are ECDSA P-256 and are written
//! readable by their owner only.

use precinct_domain::Fingerprint;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

pub const CA_COMMON_NAME: &str = "Precinct Department CA";
const CA_DAYS: u32 = 3650;
const SERVER_DAYS: u32 = 730;
/// Longest validity a leaf certificate may be issued for.
pub const MAX_LEAF_DAYS: u32 = 3650;

/// Where `init` puts the CA and the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiPaths {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl PkiPaths {
    pub fn in_dir(pki_dir: &Path) -> Self {
        Self {
            ca_cert: pki_dir.join("ca.pem"),
            ca_key: pki_dir.join("ca-key.pem"),
            server_cert: pki_dir.join("server.pem"),
            server_key: pki_dir.join("server-key.pem"),
        }
    }
}

/// Messages name files and names, never key material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("a department CA already exists at {0}; it is never overwritten")]
    AlreadyInitialised(PathBuf),
    #[error("{0} does not exist; create the department CA with `precinct pki init`")]
    Missing(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a valid PEM private key")]
    InvalidKey(PathBuf),
    #[error("`{0}` is not a valid DNS name or IP address")]
    InvalidName(String),
    #[error("the validity must be 1 to {MAX_LEAF_DAYS} days")]
    InvalidDays,
    #[error("could not create the certificate: {0}")]
    Certificate(#[from] rcgen::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A certificate and its new private key, as PEM, with its fingerprint.
pub struct IssuedCertificate {
    pub cert_pem: String,
    pub key_pem: SecretString,
    pub der: Vec<u8>,
    pub fingerprint: Fingerprint,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("fingerprint", &self.fingerprint)
            .field("key_pem", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl IssuedCertificate {
    /// Writes the certificate (mode 0644) and the key (mode 0600), replacing
    /// earlier files of the same names.
    pub fn write_to(&self, cert_path: &Path, key_path: &Path) -> Result<(), PkiError> {
        std::fs::write(cert_path, &self.cert_pem).map_err(io_err(cert_path))?;
        match std::fs::remove_file(key_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(key_path)(e)),
            _ => {}
        }
        write_private(key_path, self.key_pem.expose_secret())
    }
}

/// The CA's signing identity. rcgen signs with an issuer `Certificate`; after
/// `load` that is rebuilt from the stored key and the fixed subject, which
/// yields the same issuer name and key identifier as the certificate on disk.
pub struct DepartmentCa {
    issuer: Certificate,
    key: KeyPair,
    cert_pem: String,
}

impl fmt::Debug for DepartmentCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DepartmentCa").finish_non_exhaustive()
    }
}

fn subject(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Validity from an hour ago (tolerates clocks slightly behind ours).
fn params_for(days: u32, dn: DistinguishedName, is_ca: IsCa) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(i64::from(days));
    params.distinguished_name = dn;
    params.is_ca = is_ca;
    params
}

fn ca_params() -> CertificateParams {
    let mut params = params_for(
        CA_DAYS,
        subject(CA_COMMON_NAME),
        IsCa::Ca(BasicConstraints::Constrained(0)),
    );
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn new_key() -> Result<KeyPair, PkiError> {
    Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?)
}

impl DepartmentCa {
    /// A new CA in memory (`init` persists one; tests use it directly).
    pub fn generate_ephemeral() -> Result<Self, PkiError> {
        let key = new_key()?;
        let issuer = ca_params().self_signed(&key)?;
        let cert_pem = issuer.pem();
        Ok(Self {
            issuer,
            key,
            cert_pem,
        })
    }

    /// Reads `ca.pem` and `ca-key.pem` from the PKI directory.
    pub fn load(pki_dir: &Path) -> Result<Self, PkiError> {
        let paths = PkiPaths::in_dir(pki_dir);
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => PkiError::Missing(path.to_owned()),
                _ => io_err(path)(e),
            })
        };
        let cert_pem = read(&paths.ca_cert)?;
        let key_pem = SecretString::from(read(&paths.ca_key)?);
        let key = KeyPair::from_pem(key_pem.expose_secret())
            .map_err(|_| PkiError::InvalidKey(paths.ca_key.clone()))?;
        let issuer = ca_params().self_signed(&key)?;
        Ok(Self {
            issuer,
            key,
            cert_pem,
        })
    }

    pub fn ca_cert_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// A client certificate (clientAuth) naming a workstation or device.
    pub fn issue_client(
        &self,
        common_name: &str,
        days: u32,
    ) -> Result<IssuedCertificate, PkiError> {
        self.issue(
            days,
            subject(common_name),
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    /// A server certificate (serverAuth) for DNS names and IP addresses.
    pub fn issue_server(&self, names: &[String], days: u32) -> Result<IssuedCertificate, PkiError> {
        let sans = names
            .iter()
            .map(|n| san(n))
            .collect::<Result<Vec<_>, _>>()?;
        let cn = names.first().map_or("localhost", |n| n.trim());
        self.issue(days, subject(cn), sans, ExtendedKeyUsagePurpose::ServerAuth)
    }

    fn issue(
        &self,
        days: u32,
        dn: DistinguishedName,
        sans: Vec<SanType>,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<IssuedCertificate, PkiError> {
        if !(1..=MAX_LEAF_DAYS).contains(&days) {
            return Err(PkiError::InvalidDays);
        }
        let mut params = params_for(days, dn, IsCa::ExplicitNoCa);
        params.subject_alt_names = sans;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        // rcgen derives the serial from the fresh public key, so it is unique.
        let key = new_key()?;
        let cert = params.signed_by(&key, &self.issuer, &self.key)?;
        let der = cert.der().to_vec();
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: SecretString::from(key.serialize_pem()),
            fingerprint: Fingerprint::of_der(&der),
            der,
        })
    }
}

fn san(name: &str) -> Result<SanType, PkiError> {
    let name = name.trim();
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    match name.to_owned().try_into() {
        Ok(dns) if name.len() <= 253 && name.split('.').all(label_ok) => Ok(SanType::DnsName(dns)),
        _ => Err(PkiError::InvalidName(name.to_owned())),
    }
}

/// Creates a file readable by its owner only; fails if it exists.
fn write_private(path: &Path, contents: &str) -> Result<(), PkiError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io_err(path))?;
    file.write_all(contents.as_bytes()).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

/// Creates the department CA and a server certificate for `server_names`
/// (plus `localhost` and `127.0.0.1`) in `pki_dir`. Never overwrites a CA.
pub fn init(pki_dir: &Path, server_names: &[String]) -> Result<PkiPaths, PkiError> {
    let paths = PkiPaths::in_dir(pki_dir);
    for existing in [&paths.ca_cert, &paths.ca_key] {
        if existing.exists() {
            return Err(PkiError::AlreadyInitialised(existing.clone()));
        }
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(pki_dir).map_err(io_err(pki_dir))?;

    let mut names: Vec<String> = Vec::new();
    for name in server_names
        .iter()
        .map(|n| n.trim().to_owned())
        .chain(["localhost".into(), "127.0.0.1".into()])
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let ca = DepartmentCa::generate_ephemeral()?;
    let server = ca.issue_server(&names, SERVER_DAYS)?;

    // The key first: if it cannot be written, no certificate claims a CA.
    write_private(&paths.ca_key, &ca.key.serialize_pem())?;
    std::fs::write(&paths.ca_cert, &ca.cert_pem).map_err(io_err(&paths.ca_cert))?;
    server.write_to(&paths.server_cert, &paths.server_key)?;
    Ok(paths)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, UnixTime};
    use sha2::{Digest, Sha256};
    use std::sync::Arc;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("precinct-pki-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Whether `cert_der` chains to `ca_pem` as a TLS client certificate.
    fn client_chains_to(ca_pem: &str, cert_der: &[u8]) -> bool {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        let end_entity = CertificateDer::from(cert_der.to_vec());
        verifier
            .verify_client_cert(&end_entity, &[], UnixTime::now())
            .is_ok()
    }

    #[test]
    fn issues_a_client_certificate_with_its_fingerprint() {
        let ca = DepartmentCa::generate_ephemeral().unwrap();
        let issued = ca.issue_client("ws-central-01", 365).unwrap();
        assert!(issued.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(issued.key_pem.expose_secret().contains("PRIVATE KEY"));
        assert_eq!(
            issued.fingerprint.as_str(),
            hex::encode(Sha256::digest(&issued.der))
        );
        assert_eq!(issued.fingerprint, Fingerprint::of_der(&issued.der));
        assert!(client_chains_to(&ca.ca_cert_pem(), &issued.der));
        let other = DepartmentCa::generate_ephemeral().unwrap();
        assert!(!client_chains_to(&other.ca_cert_pem(), &issued.der));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let ca = DepartmentCa::generate_ephemeral().unwrap();
        let issued = ca.issue_client("tablet-7", 30).unwrap();
        let shown = format!("{issued:?} {ca:?}");
        assert!(!shown.contains("PRIVATE KEY"));
        assert!(!shown.contains(issued.key_pem.expose_secret()));
    }

    #[test]
    fn rejects_bad_days_and_names() {
        let ca = DepartmentCa::generate_ephemeral().unwrap();
        assert!(matches!(
            ca.issue_client("x", 0),
            Err(PkiError::InvalidDays)
        ));
        assert!(matches!(
            ca.issue_server(&["bad name".into()], 30),
            Err(PkiError::InvalidName(_))
        ));
        assert!(ca
            .issue_server(&["precinct.example.org".into(), "10.0.0.5".into()], 30)
            .is_ok());
    }

    #[test]
    fn init_writes_private_keys_and_refuses_to_overwrite() {
        let dir = temp_dir("init");
        let pki = dir.join("pki");
        let paths = init(&pki, &["precinct.local".into()]).unwrap();
        assert_eq!(paths, PkiPaths::in_dir(&pki));
        for p in [
            &paths.ca_cert,
            &paths.ca_key,
            &paths.server_cert,
            &paths.server_key,
        ] {
            assert!(p.is_file(), "{}", p.display());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for key in [&paths.ca_key, &paths.server_key] {
                assert_eq!(
                    std::fs::metadata(key).unwrap().permissions().mode() & 0o777,
                    0o600
                );
            }
        }
        let ca_before = std::fs::read(&paths.ca_cert).unwrap();
        assert!(matches!(
            init(&pki, &[]),
            Err(PkiError::AlreadyInitialised(_))
        ));
        assert_eq!(std::fs::read(&paths.ca_cert).unwrap(), ca_before);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn load_round_trips_and_signs_as_the_stored_ca() {
        let dir = temp_dir("load");
        let paths = init(&dir, &[]).unwrap();
        let ca_pem = std::fs::read_to_string(&paths.ca_cert).unwrap();
        let ca = DepartmentCa::load(&dir).unwrap();
        assert_eq!(ca.ca_cert_pem(), ca_pem);
        let issued = ca.issue_client("laptop-3", 365).unwrap();
        assert!(client_chains_to(&ca_pem, &issued.der));
        let missing = DepartmentCa::load(&dir.join("nowhere"));
        assert!(matches!(missing, Err(PkiError::Missing(_))));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
