//! The `precinct` command. Two stages, as ripgrep: clap parses the raw
//! command line (`cli`), `settings` merges it with the configuration file
//! and validates it, and `main` only wires a task to the module that runs it.

mod admin;
mod audit;
mod certificates;
mod cli;
mod config_file;
mod demo;
mod output;
mod policy;
mod serve;
mod settings;

use anyhow::Context;
use clap::Parser;
use precinct_domain::credentials::parse_banned_list;
use precinct_domain::SystemClock;
use precinct_server::service::vault::AttachmentKey;
use precinct_server::service::Services;
use precinct_store::{Engine, Store};
use secrecy::ExposeSecret;
use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tracing_subscriber::EnvFilter;

use settings::{Database, Settings, Task};

/// mimalloc, not glibc's malloc: docs/decisions/0009-mimalloc.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // sqlx reports every PostgreSQL notice at info; those are not news.
    let filter = EnvFilter::try_from_env("PRECINCT_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let Settings {
        data_dir,
        database,
        audit_key,
        audit_origin,
        policy_file,
        attachment_key,
        listen,
        task,
    } = Settings::from_cli(cli)?;
    // What a server needs besides its database: the log's signing key, the
    // department's policy and the attachment key.
    let log_key = || -> anyhow::Result<Keys> {
        for key in [&audit_key, &attachment_key] {
            if let Some(parent) = key.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_private_dir(parent)?;
            }
        }
        let log =
            precinct_server::service::auditlog::load_or_create_log_key(&audit_key, &audit_origin)
                .map_err(|e| anyhow::anyhow!("the audit signing key: {e}"))?;
        let attachments = AttachmentKey::load_or_create(&attachment_key)
            .map_err(|e| anyhow::anyhow!("the attachment key: {e}"))?;
        Ok(Keys {
            log,
            policy: policy::load(policy_file.as_deref())?,
            attachments,
        })
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let pki_dir = data_dir.join("pki");
    runtime.block_on(async {
        match task {
            Task::Serve(config, demo) => {
                create_private_dir(&data_dir)?;
                let mailer = config
                    .mail
                    .as_ref()
                    .map(precinct_server::service::mail::Mailer::new)
                    .transpose()
                    .map_err(|e| anyhow::anyhow!(e))?;
                let services = open(&data_dir, &database, log_key()?)
                    .await?
                    .with_witness_file(config.checkpoint_file.clone())
                    .with_offsite(config.grant_limits, config.weekly_hours_warning)
                    .with_mail(mailer);
                serve::run(*config, services, demo).await
            }
            Task::DemoSeed(demo) => {
                let services = open(&data_dir, &database, log_key()?).await?;
                let default = precinct_server::config::ServerConfig::for_data_dir(data_dir.clone());
                let reach = demo::Reach {
                    data_dir: &data_dir,
                    custom_database: database.url().expose_secret()
                        != default.database_url.expose_secret(),
                    host: demo::host_for(listen),
                    tls: None,
                    listen: (listen != default.listen).then_some(listen),
                };
                demo::seed_command(&services, demo, &reach).await
            }
            Task::Migrate => {
                open(&data_dir, &database, log_key()?).await?;
                println!(
                    "Database ({}): migrations applied.",
                    database.engine().as_str()
                );
                Ok(())
            }
            Task::Admin(t) => admin::run(&open(&data_dir, &database, log_key()?).await?, t).await,
            Task::Audit(cli::AuditCommand::VerifyBundle {
                file,
                key,
                checkpoint,
            }) => audit::verify_bundle(&file, key.as_deref(), checkpoint.as_deref()),
            Task::Audit(t) => audit::run(&open(&data_dir, &database, log_key()?).await?, t).await,
            Task::PkiInit { names } => certificates::init(&pki_dir, &names),
            Task::Policy(cli::PolicyCommand::Check { file }) => policy::check(&file),
            Task::Policy(cli::PolicyCommand::Explain {
                user,
                case_ref,
                channel,
                action,
                device,
            }) => {
                let services = open(&data_dir, &database, log_key()?).await?;
                let asked = policy::Asked {
                    username: &user,
                    case_ref: &case_ref,
                    channel: &channel,
                    action: &action,
                    device: device.as_deref(),
                };
                policy::explain(&services, asked).await
            }
            Task::PkiIssue(t) => {
                let services = open(&data_dir, &database, log_key()?).await?;
                certificates::issue(&services, &pki_dir, listen, t).await
            }
        }
    })
}

struct Keys {
    log: precinct_audit::checkpoint::LogKey,
    policy: precinct_policy::PolicyEngine,
    attachments: AttachmentKey,
}

/// Opens and migrates the database and builds the use-cases on the system
/// clock. An embedded database lives in the data directory.
async fn open(data_dir: &Path, database: &Database, keys: Keys) -> anyhow::Result<Services> {
    let engine = database.engine();
    if engine == Engine::Sqlite {
        create_private_dir(data_dir)?;
    }
    let store = Store::open(database.url().expose_secret())
        .await
        .with_context(|| format!("cannot open the {} database", engine.as_str()))?;
    store
        .migrate()
        .await
        .context("cannot apply the database migrations")?;
    tracing::debug!(engine = engine.as_str(), "database ready");
    Ok(Services::new(
        store,
        Arc::new(SystemClock),
        banned_passwords(data_dir)?,
        keys.log,
        keys.policy,
    )
    .with_attachment_key(keys.attachments))
}

/// The department's own banned passwords, `<data-dir>/banned-passwords.txt`
/// if it exists, on top of the built-in list.
fn banned_passwords(data_dir: &Path) -> anyhow::Result<HashSet<String>> {
    let path = data_dir.join("banned-passwords.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(parse_banned_list(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Creates a directory (and parents) readable by its owner only; an existing
/// one is left as it is.
pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))
}
