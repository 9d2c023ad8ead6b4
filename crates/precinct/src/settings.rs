//! Validated settings: the command line and environment merged with the TOML
//! file (flag or environment > file > default) and checked, so that the
//! commands only act. Raw arguments become domain values here.

use anyhow::bail;
use ipnet::IpNet;
use precinct_domain::channel::DeviceKind;
use precinct_domain::org::UnitKind;
use precinct_domain::user::Username;
use precinct_domain::Role;
use precinct_server::config::{ServerConfig, TlsFiles};
use precinct_server::pki::{PkiPaths, MAX_LEAF_DAYS};
use precinct_store::Engine;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::cli::{self, Cli, Command};
use crate::config_file::ConfigFile;

const DEFAULT_DATA_DIR: &str = "./precinct-data";

/// The database URL and its engine; only the engine ever prints.
pub struct Database {
    url: SecretString,
    engine: Engine,
}

impl Database {
    fn parse(url: SecretString) -> anyhow::Result<Self> {
        let url = SecretString::from(url.expose_secret().trim().to_owned());
        let engine = Engine::from_url(url.expose_secret())?;
        Ok(Self { url, engine })
    }
    pub fn url(&self) -> &SecretString {
        &self.url
    }
    pub fn engine(&self) -> Engine {
        self.engine
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("engine", &self.engine.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database: Database,
    /// The audit log's signing key file and origin name.
    pub audit_key: PathBuf,
    pub audit_origin: String,
    /// A department's policy file instead of the shipped policy.
    pub policy_file: Option<PathBuf>,
    /// The attachment encryption key file.
    pub attachment_key: PathBuf,
    /// Where the server listens (or would), for the hints commands print.
    pub listen: SocketAddr,
    pub task: Task,
}

/// A demo department to seed: how many cases, from which seed.
#[derive(Debug, Clone, Copy)]
pub struct DemoSeed {
    pub cases: u64,
    pub seed: Option<u64>,
}

/// The most cases `demo seed` writes (numbers stay within six digits a year).
pub const MAX_DEMO_CASES: u64 = 10_000_000;
/// The department `serve --demo` seeds into an empty database.
pub const SERVE_DEMO_CASES: u64 = 2_000;

#[derive(Debug)]
pub enum Task {
    /// The server, and the demo department to start on, if asked for.
    Serve(Box<ServerConfig>, Option<DemoSeed>),
    Migrate,
    Admin(AdminTask),
    PkiInit {
        names: Vec<String>,
    },
    PkiIssue(PkiIssue),
    Audit(cli::AuditCommand),
    Policy(cli::PolicyCommand),
    DemoSeed(DemoSeed),
}

/// Users, units, workstations and devices.
#[derive(Debug)]
pub enum AdminTask {
    User(UserTask),
    UnitAdd {
        name: String,
        kind: UnitKind,
        parent: Option<String>,
        supervisor: Option<Username>,
    },
    UnitList,
    WorkstationAdd {
        name: String,
        unit: String,
        networks: Vec<IpNet>,
    },
    WorkstationList,
    WorkstationEnabled {
        name: String,
        enabled: bool,
    },
    DeviceEnroll {
        name: String,
        kind: DeviceKind,
        user: Option<Username>,
    },
    DeviceList,
    DeviceRevoke {
        name: String,
    },
}

#[derive(Debug)]
pub enum UserTask {
    Add {
        username: Username,
        display_name: String,
        roles: Vec<Role>,
        units: Vec<String>,
    },
    List,
    Disable(Username),
    Enable(Username),
    Unlock(Username),
    ResetMfa(Username),
    ResetPassword(Username),
}

#[derive(Debug)]
pub enum CertificateHolder {
    Workstation(String),
    Device(String),
}

#[derive(Debug)]
pub struct PkiIssue {
    pub holder: CertificateHolder,
    pub out_dir: PathBuf,
    /// File name stem safe on any file system, derived from the name.
    pub file_stem: String,
    pub days: u32,
}

impl Settings {
    pub fn from_cli(cli: Cli) -> anyhow::Result<Self> {
        let file = match &cli.global.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        let data_dir = cli
            .global
            .data_dir
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let base = ServerConfig::for_data_dir(data_dir.clone());
        let database = Database::parse(
            cli.global
                .database_url
                .or_else(|| file.database_url.clone())
                .unwrap_or_else(|| base.database_url.clone()),
        )?;
        let listen = match &cli.command {
            Command::Serve(args) => args.listen,
            _ => None,
        };
        let listen = listen.or(file.listen).unwrap_or(base.listen);
        let policy_file = cli.global.policy_file.or(file.policy_file.clone());
        let attachment_key = cli
            .global
            .attachment_key
            .or(file.attachment_key.clone())
            .unwrap_or_else(|| data_dir.join("attachments.key"));
        let task = match cli.command {
            Command::Serve(args) => {
                let demo = args.demo.then_some(DemoSeed {
                    cases: SERVE_DEMO_CASES,
                    seed: None,
                });
                Task::Serve(
                    Box::new(server_config(args, file, base, &database, listen)?),
                    demo,
                )
            }
            Command::Migrate => Task::Migrate,
            Command::User(c) => Task::Admin(AdminTask::User(user_task(c)?)),
            Command::Unit(c) => Task::Admin(unit_task(c)?),
            Command::Workstation(c) => Task::Admin(workstation_task(c)),
            Command::Device(c) => Task::Admin(device_task(c)?),
            Command::Pki(cli::PkiCommand::Init { names }) => Task::PkiInit { names },
            Command::Pki(cli::PkiCommand::Issue(args)) => {
                Task::PkiIssue(pki_issue(args, &data_dir.join("pki"))?)
            }
            Command::Audit(c) => Task::Audit(c),
            Command::Policy(c) => Task::Policy(c),
            Command::Demo(cli::DemoCommand::Seed(a)) => {
                if !(1..=MAX_DEMO_CASES).contains(&a.cases) {
                    bail!("--cases must be 1 to {MAX_DEMO_CASES}");
                }
                Task::DemoSeed(DemoSeed {
                    cases: a.cases,
                    seed: a.seed,
                })
            }
        };
        let audit_key = cli
            .global
            .audit_key
            .unwrap_or_else(|| data_dir.join("audit-signing.key"));
        let audit_origin = cli
            .global
            .audit_origin
            .unwrap_or_else(|| precinct_server::service::auditlog::DEFAULT_ORIGIN.to_owned());
        Ok(Self {
            data_dir,
            database,
            audit_key,
            audit_origin,
            policy_file,
            attachment_key,
            listen,
            task,
        })
    }
}

fn unit_task(c: cli::UnitCommand) -> anyhow::Result<AdminTask> {
    Ok(match c {
        cli::UnitCommand::Add {
            name,
            kind,
            parent,
            supervisor,
        } => AdminTask::UnitAdd {
            name,
            kind: match kind {
                cli::UnitKindArg::Precinct => UnitKind::Precinct,
                cli::UnitKindArg::Unit => UnitKind::Unit,
            },
            parent,
            supervisor: supervisor.as_deref().map(Username::parse).transpose()?,
        },
        cli::UnitCommand::List => AdminTask::UnitList,
    })
}

fn workstation_task(c: cli::WorkstationCommand) -> AdminTask {
    match c {
        cli::WorkstationCommand::Add {
            name,
            unit,
            networks,
        } => AdminTask::WorkstationAdd {
            name,
            unit,
            networks,
        },
        cli::WorkstationCommand::List => AdminTask::WorkstationList,
        cli::WorkstationCommand::Disable { name } => AdminTask::WorkstationEnabled {
            name,
            enabled: false,
        },
        cli::WorkstationCommand::Enable { name } => AdminTask::WorkstationEnabled {
            name,
            enabled: true,
        },
    }
}

fn device_task(c: cli::DeviceCommand) -> anyhow::Result<AdminTask> {
    Ok(match c {
        cli::DeviceCommand::Enroll { name, kind, user } => AdminTask::DeviceEnroll {
            name,
            kind: match kind {
                cli::DeviceKindArg::Phone => DeviceKind::Phone,
                cli::DeviceKindArg::Tablet => DeviceKind::Tablet,
                cli::DeviceKindArg::Laptop => DeviceKind::Laptop,
            },
            user: user.as_deref().map(Username::parse).transpose()?,
        },
        cli::DeviceCommand::List => AdminTask::DeviceList,
        cli::DeviceCommand::Revoke { name } => AdminTask::DeviceRevoke { name },
    })
}

fn user_task(c: cli::UserCommand) -> anyhow::Result<UserTask> {
    use cli::UserCommand as C;
    let parse = |s: String| Username::parse(&s);
    Ok(match c {
        C::Add(a) => UserTask::Add {
            username: Username::parse(&a.username)?,
            display_name: a.name,
            roles: a.roles,
            units: a.units,
        },
        C::List => UserTask::List,
        C::Disable { username } => UserTask::Disable(parse(username)?),
        C::Enable { username } => UserTask::Enable(parse(username)?),
        C::Unlock { username } => UserTask::Unlock(parse(username)?),
        C::ResetMfa { username } => UserTask::ResetMfa(parse(username)?),
        C::ResetPassword { username } => UserTask::ResetPassword(parse(username)?),
    })
}

fn server_config(
    args: cli::ServeArgs,
    file: ConfigFile,
    base: ServerConfig,
    database: &Database,
    listen: SocketAddr,
) -> anyhow::Result<ServerConfig> {
    let cert = args.tls_cert.or(file.tls_cert);
    let key = args.tls_key.or(file.tls_key);
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (Some(_), None) => bail!("a TLS certificate was given without --tls-key"),
        (None, Some(_)) => bail!("a TLS key was given without --tls-cert"),
        (None, None) if args.tls => {
            let pki = PkiPaths::in_dir(&base.data_dir.join("pki"));
            Some(TlsFiles {
                cert: pki.server_cert,
                key: pki.server_key,
            })
        }
        (None, None) => None,
    };
    if let Some(files) = &tls {
        for path in [&files.cert, &files.key] {
            if !path.is_file() {
                bail!(
                    "TLS is on but {} does not exist; create the department CA and server \
                     certificate with `precinct pki init`, or give --tls-cert and --tls-key",
                    path.display()
                );
            }
        }
    }
    let client_cert_header = args
        .client_cert_header
        .or(file.client_cert_header)
        .unwrap_or(base.client_cert_header)
        .trim()
        .to_ascii_lowercase();
    let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if client_cert_header.is_empty() || !client_cert_header.chars().all(token_char) {
        bail!("the client certificate header must be an HTTP header name, e.g. x-client-cert");
    }
    let max_body_bytes = args
        .max_body_bytes
        .or(file.max_body_bytes)
        .unwrap_or(base.max_body_bytes);
    if max_body_bytes == 0 {
        bail!("max_body_bytes must be greater than 0");
    }
    let trusted_proxies = if args.trusted_proxies.is_empty() {
        file.trusted_proxies.unwrap_or_default()
    } else {
        args.trusted_proxies
    };
    let mail = match (
        args.smtp_host.or(file.smtp_host),
        args.mail_from.or(file.mail_from),
        args.mail_domain.or(file.mail_domain),
    ) {
        (None, None, None) => None,
        (Some(host), Some(from), Some(domain)) => {
            let mail = precinct_server::service::mail::MailSettings {
                host,
                port: args.smtp_port.or(file.smtp_port).unwrap_or(587),
                security: args
                    .smtp_security
                    .or(file.smtp_security)
                    .unwrap_or_else(|| "starttls".into()),
                from,
                domain,
            };
            precinct_server::service::mail::Mailer::new(&mail).map_err(|e| anyhow::anyhow!(e))?;
            Some(mail)
        }
        _ => bail!("e-mail needs all three of --smtp-host, --mail-from and --mail-domain"),
    };
    let mut grant_limits = precinct_domain::offsite::GrantLimits::default();
    if let Some(h) = args.grant_max_hours.or(file.grant_max_hours) {
        if !(1..=24 * 14).contains(&h) {
            bail!("--grant-max-hours must be 1 to 336");
        }
        grant_limits.max_investigation = std::time::Duration::from_secs(h * 3600);
    }
    let weekly_hours_warning = args
        .weekly_hours_warning
        .or(file.weekly_hours_warning)
        .unwrap_or(base.weekly_hours_warning);
    if !(weekly_hours_warning > 0.0 && weekly_hours_warning <= 168.0) {
        bail!("--weekly-hours-warning must be more than 0 and at most 168");
    }
    Ok(ServerConfig {
        mail,
        grant_limits,
        weekly_hours_warning,
        listen,
        database_url: database.url().clone(),
        tls,
        trusted_proxies,
        client_cert_header,
        max_body_bytes,
        checkpoint_file: args.checkpoint_file,
        ..base
    })
}

fn pki_issue(args: cli::PkiIssueArgs, pki_dir: &Path) -> anyhow::Result<PkiIssue> {
    if !(1..=MAX_LEAF_DAYS).contains(&args.days) {
        bail!("--days must be 1 to {MAX_LEAF_DAYS}");
    }
    let holder = match (args.holder.workstation, args.holder.device) {
        (Some(name), None) => CertificateHolder::Workstation(name),
        (None, Some(name)) => CertificateHolder::Device(name),
        _ => bail!("give exactly one of --workstation NAME or --device NAME"),
    };
    let name = match &holder {
        CertificateHolder::Workstation(n) | CertificateHolder::Device(n) => n,
    };
    Ok(PkiIssue {
        file_stem: file_stem(name),
        out_dir: args.out.unwrap_or_else(|| pki_dir.join("issued")),
        holder,
        days: args.days,
    })
}

/// Letters, digits, `-`, `_` and `.` only, never a hidden or parent name.
fn file_stem(name: &str) -> String {
    let safe: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match safe.trim_start_matches('.') {
        "" => "certificate".to_owned(),
        s => s.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(args: &[&str]) -> anyhow::Result<Settings> {
        Settings::from_cli(Cli::try_parse_from(args)?)
    }

    /// Defaults can only be checked when no PRECINCT_* variable (say, a
    /// test database URL) overrides them.
    fn environment_is_clean() -> bool {
        std::env::vars_os().all(|(k, _)| !k.to_string_lossy().starts_with("PRECINCT_"))
    }

    #[test]
    fn mail_needs_a_host_a_sender_and_a_domain() {
        if !environment_is_clean() {
            return;
        }
        let serve = |extra: &[&str]| {
            let mut args = vec!["precinct", "serve"];
            args.extend_from_slice(extra);
            settings(&args)
        };
        let err = serve(&["--smtp-host", "mail.pd.example"]).unwrap_err();
        assert!(err.to_string().contains("all three"), "{err}");
        let err = serve(&[
            "--smtp-host",
            "mail.pd.example",
            "--mail-from",
            "not an address",
            "--mail-domain",
            "pd.example",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("mail.from"), "{err}");
        let err = serve(&["--grant-max-hours", "0"]).unwrap_err();
        assert!(err.to_string().contains("grant-max-hours"), "{err}");
        let err = serve(&["--weekly-hours-warning=0"]).unwrap_err();
        assert!(err.to_string().contains("weekly-hours-warning"), "{err}");
        let ok = serve(&[
            "--smtp-host",
            "mail.pd.example",
            "--mail-from",
            "Precinct <precinct@pd.example>",
            "--mail-domain",
            "pd.example",
            "--grant-max-hours",
            "48",
        ]);
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn file_stems_are_safe() {
        assert_eq!(file_stem("WS Central/01"), "WS_Central_01");
        assert_eq!(file_stem("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_stem(".."), "certificate");
        assert_eq!(file_stem("tablet-7.b"), "tablet-7.b");
    }

    #[test]
    fn defaults_follow_the_data_dir() {
        if !environment_is_clean() {
            return;
        }
        let s = settings(&["precinct", "--data-dir", "/srv/p", "migrate"]).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/p"));
        assert_eq!(
            s.database.url().expose_secret(),
            "sqlite:///srv/p/precinct.db"
        );
        assert_eq!(s.database.engine(), Engine::Sqlite);
    }

    #[test]
    fn the_database_url_never_prints() {
        let s = settings(&[
            "precinct",
            "--database-url",
            "postgres://u:hunter2@db/precinct",
            "user",
            "list",
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres"));
    }

    #[test]
    fn flags_win_over_the_file_and_unknown_keys_are_named() {
        if !environment_is_clean() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("precinct-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("precinct.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\nmax_body_bytes = 1000\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let config = path.to_str().unwrap();
        let s = settings(&[
            "precinct",
            "--config",
            config,
            "serve",
            "--max-body-bytes",
            "5",
        ])
        .unwrap();
        let Task::Serve(server, _) = s.task else {
            panic!("not serve")
        };
        assert_eq!(server.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(server.max_body_bytes, 5);
        assert_eq!(
            server.trusted_proxies,
            vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );

        std::fs::write(
            &path,
            "listen = \"127.0.0.1:1\"\ndatabse_url = \"postgres://u:pw@h/d\"\n",
        )
        .unwrap();
        let err = settings(&["precinct", "--config", config, "migrate"]).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("line 2") && msg.contains("databse_url"),
            "{msg}"
        );
        assert!(!msg.contains("pw@"), "{msg}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn tls_without_files_points_at_pki_init() {
        if !environment_is_clean() {
            return;
        }
        let err =
            settings(&["precinct", "--data-dir", "/nonexistent", "serve", "--tls"]).unwrap_err();
        assert!(err.to_string().contains("precinct pki init"), "{err}");
    }
}
