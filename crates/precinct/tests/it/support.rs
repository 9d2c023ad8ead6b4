//! Test support: databases on both engines, a real server on port 0 with a
//! fake clock, and a client that speaks to it over HTTP or TLS.

use precinct_domain::credentials::TotpSecret;
use precinct_domain::ids::UserId;
use precinct_domain::{Clock, FakeClock, Role, Timestamp};
use precinct_server::config::{ServerConfig, TlsFiles};
use precinct_server::pki::{DepartmentCa, IssuedCertificate};
use precinct_server::service::admin::{Actor, CreateUser};
use precinct_server::service::Services;
use precinct_store::Store;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

pub const POSTGRES_ENV: &str = "PRECINCT_TEST_POSTGRES_URL";
/// 2026-12-01T08:00:00Z
pub const T0: i64 = 1_796_112_000_000_000;
pub const GOOD_PASSWORD: &str = "a long and quiet evening shift";

/// Runs one async test body once per engine: `dbtest!(name);` for
/// `async fn name(db: TestDb)`. The PostgreSQL variant runs when
/// PRECINCT_TEST_POSTGRES_URL names a server and says it was skipped
/// otherwise.
macro_rules! dbtest {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::support::TestDb::sqlite().await;
                super::$name(db.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::support::TestDb::postgres().await else {
                    eprintln!(
                        "skipped: {} is not set, so the PostgreSQL variant did not run",
                        $crate::support::POSTGRES_ENV
                    );
                    return;
                };
                super::$name(db.clone()).await;
            }
        }
    };
}
pub(crate) use dbtest;

/// A fresh, migrated database; removed when the last clone is dropped.
#[derive(Clone)]
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _guard: Arc<DbGuard>,
}

enum DbGuard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let DbGuard::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside any runtime we may block; use a thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async move {
                        let _ = raw_sql(
                            &admin_url,
                            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        )
                        .await;
                    });
                }
            })
            .join();
        }
    }
}

impl TestDb {
    /// The same database through a pool of its own, as a second server
    /// process would have it.
    pub async fn reopen(&self) -> Self {
        Self {
            store: Store::open(&self.url).await.expect("reopen"),
            url: self.url.clone(),
            _guard: self._guard.clone(),
        }
    }

    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("precinct.db").display());
        let store = Store::open(&url).await.expect("open sqlite");
        store.migrate().await.expect("migrate sqlite");
        Self {
            store,
            url,
            _guard: Arc::new(DbGuard::Sqlite(dir)),
        }
    }

    pub async fn postgres() -> Option<Self> {
        let admin_url = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty())?;
        let name = format!("precinct_t_{}", uuid::Uuid::new_v4().simple());
        raw_sql(&admin_url, &format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but PostgreSQL is unreachable: {e}"));
        let url = database_url_with_name(&admin_url, &name);
        let store = Store::open(&url).await.expect("open postgres");
        store.migrate().await.expect("migrate postgres");
        Some(Self {
            store,
            url,
            _guard: Arc::new(DbGuard::Postgres { admin_url, name }),
        })
    }
}

/// Runs one statement on a database of our own, outside the store: to make
/// and drop test databases, and to tamper with rows the way an attacker with
/// database access would.
pub async fn raw_sql(url: &str, sql: &str) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    sqlx::raw_sql(sql).execute(&mut conn).await?;
    conn.close().await
}

/// The same server URL with another database name.
fn database_url_with_name(url: &str, name: &str) -> String {
    let (main, query) = url.split_once('?').map_or((url, ""), |(m, q)| (m, q));
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let (scheme, rest) = main.split_once("://").unwrap_or(("postgres", main));
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    format!("{scheme}://{host}/{name}{query}")
}

/// How to start the test server.
#[derive(Default)]
pub struct AppOptions {
    pub tls: bool,
    pub trusted_proxies: Vec<&'static str>,
    pub log_key: Option<precinct_audit::checkpoint::LogKey>,
    pub witness_file: Option<std::path::PathBuf>,
    /// Run the background sequencer and signer (default: yes).
    pub log_keeper: Option<bool>,
    /// E-mail notifications through this SMTP server.
    pub mail: Option<precinct_server::service::mail::MailSettings>,
}

pub struct TestApp {
    pub base: String,
    pub clock: FakeClock,
    pub services: Services,
    pub db: TestDb,
    pub ca: Option<DepartmentCa>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, AppOptions::default()).await
    }

    pub async fn spawn_with(db: TestDb, opts: AppOptions) -> Self {
        let clock = FakeClock::new(Timestamp::from_micros(T0));
        let services = Services::new(
            db.store.clone(),
            Arc::new(clock.clone()),
            HashSet::new(),
            opts.log_key
                .unwrap_or_else(precinct_server::service::auditlog::ephemeral_log_key),
            precinct_policy::PolicyEngine::shipped().expect("shipped policy"),
        )
        .with_attachment_key(precinct_server::service::vault::AttachmentKey::ephemeral())
        .with_witness_file(opts.witness_file.clone())
        .with_mail(
            opts.mail
                .as_ref()
                .map(|m| precinct_server::service::mail::Mailer::new(m).expect("mail settings")),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServerConfig::for_data_dir(dir.path().to_path_buf());
        config.database_url = SecretString::from(db.url.clone());
        config.trusted_proxies = opts
            .trusted_proxies
            .iter()
            .map(|s| s.parse().expect("cidr"))
            .collect();
        config.log_keeper = opts.log_keeper.unwrap_or(true);
        let mut ca = None;
        if opts.tls {
            let dept = DepartmentCa::generate_ephemeral().expect("ca");
            let server = dept
                .issue_server(&["localhost".into(), "127.0.0.1".into()], 30)
                .expect("server cert");
            let cert = dir.path().join("server.pem");
            let key = dir.path().join("server-key.pem");
            server.write_to(&cert, &key).expect("write server cert");
            config.tls = Some(TlsFiles { cert, key });
            ca = Some(dept);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let svc = services.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            precinct_server::serve_on(listener, config, svc, shutdown)
                .await
                .expect("serve");
        });
        let scheme = if opts.tls { "https" } else { "http" };
        let host = if opts.tls { "localhost" } else { "127.0.0.1" };
        let base = format!("{scheme}://{host}:{}", addr.port());
        let http = match &ca {
            Some(ca) => tls_client(ca, None, addr.port()),
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        };
        Self {
            base,
            clock,
            services,
            db,
            ca,
            http,
            _dir: dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A TLS client that presents `cert` (if any) and trusts the test CA.
    pub fn client_with_cert(&self, cert: Option<&IssuedCertificate>) -> reqwest::Client {
        let ca = self.ca.as_ref().expect("tls app");
        let port = self
            .base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        tls_client(ca, cert, port)
    }

    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    pub fn totp_now(&self, secret: &str) -> String {
        TotpSecret::from_base32(secret)
            .expect("secret")
            .code_at(self.clock.now().as_secs())
    }

    /// Creates a user on the console; returns id and one-time password.
    pub async fn create_user(&self, username: &str, roles: &[Role]) -> (UserId, String) {
        self.create_user_in(username, roles, vec![]).await
    }

    /// The same, as a member of `units`.
    pub async fn create_user_in(
        &self,
        username: &str,
        roles: &[Role],
        units: Vec<precinct_domain::ids::UnitId>,
    ) -> (UserId, String) {
        let (user, password) = self
            .services
            .create_user(
                Actor::Console,
                CreateUser {
                    username: username.into(),
                    display_name: format!("Officer {username}"),
                    roles: roles.to_vec(),
                    units,
                },
            )
            .await
            .expect("create user");
        (user.id, password.expose().to_owned())
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.expect("request")).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        read(
            self.http
                .put(self.url(path))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        get_with(&self.http, &self.url(path), token).await
    }

    /// Logs in with a password; returns the token and stage.
    pub async fn login(&self, username: &str, password: &str) -> (u16, Value) {
        self.post(
            "/api/v1/session",
            None,
            json!({"username": username, "password": password, "acknowledge_notice": true}),
        )
        .await
    }

    /// Creates a user and walks the whole first login: one-time password,
    /// new password, MFA enrolment. Returns (id, token, TOTP secret).
    pub async fn onboard(&self, username: &str, roles: &[Role]) -> Onboarded {
        self.onboard_in(username, roles, vec![]).await
    }

    /// The same, as a member of `units`.
    pub async fn onboard_in(
        &self,
        username: &str,
        roles: &[Role],
        units: Vec<precinct_domain::ids::UnitId>,
    ) -> Onboarded {
        let (id, otp) = self.create_user_in(username, roles, units).await;
        let (status, body) = self.login(username, &otp).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["stage"], "change_password");
        let token = body["token"].as_str().expect("token").to_owned();
        let (status, body) = self
            .post(
                "/api/v1/session/password",
                Some(&token),
                json!({"new_password": GOOD_PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["stage"], "enrol_mfa");
        let (status, body) = self
            .post("/api/v1/session/mfa/enrolment", Some(&token), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        let secret = body["secret"].as_str().expect("secret").to_owned();
        let code = self.totp_now(&secret);
        let (status, body) = self
            .post(
                "/api/v1/session/mfa/enrolment/confirm",
                Some(&token),
                json!({"code": code}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let recovery: Vec<String> = body["recovery_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        Onboarded {
            id,
            token,
            secret,
            recovery,
        }
    }

    /// A later login with password and TOTP (moves the clock one TOTP step
    /// so that the code is a fresh one).
    pub async fn login_with_mfa(&self, username: &str, secret: &str) -> String {
        self.advance(Duration::from_secs(30));
        let (status, body) = self.login(username, GOOD_PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["stage"], "mfa");
        let token = body["token"].as_str().expect("token").to_owned();
        let code = self.totp_now(secret);
        let (status, body) = self
            .post("/api/v1/session/mfa", Some(&token), json!({"code": code}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["stage"], "active");
        token
    }

    /// An administrator, fully logged in.
    pub async fn admin(&self) -> String {
        self.onboard("chief", &[Role::Administrator]).await.token
    }
}

pub struct Onboarded {
    pub id: UserId,
    pub token: String,
    pub secret: String,
    pub recovery: Vec<String>,
}

pub async fn get_with(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    read(req.send().await.expect("request")).await
}

pub async fn read(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn tls_client(ca: &DepartmentCa, cert: Option<&IssuedCertificate>, port: u16) -> reqwest::Client {
    let root = reqwest::Certificate::from_pem(ca.ca_cert_pem().as_bytes()).expect("ca pem");
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(root)
        .redirect(reqwest::redirect::Policy::none())
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        );
    if let Some(c) = cert {
        use secrecy::ExposeSecret;
        let pem = format!("{}\n{}", c.cert_pem, c.key_pem.expose_secret());
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
    }
    b.build().expect("tls client")
}
