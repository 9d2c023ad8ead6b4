//! The raw command line as clap parses it: flags, environment variables and
//! their help. Nothing here looks at the configuration file or the disk;
//! `settings` turns these into what the commands run on.

use clap::builder::{BoolishValueParser, PossibleValuesParser, TypedValueParser};
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;
use precinct_domain::Role;
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;

const GLOBAL: &str = "Global options";
const ABOUT: &str = "Precinct: case management for a police department.";
const LONG_ABOUT: &str = "\
Precinct: case management for a police department.

Serve the web UI and JSON API, and administer users, units, designated
workstations, department devices and the department's certificate authority
from the server's own console.

Every option can also be set with the PRECINCT_* environment variable shown in
its help. A flag or environment variable wins over the --config file, which
wins over the built-in default.";

#[derive(Debug, Parser)]
#[command(name = "precinct", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory for the embedded database, the PKI and issued certificates
    /// [default: ./precinct-data]
    #[arg(long, global = true, env = "PRECINCT_DATA_DIR", value_name = "DIR", help_heading = GLOBAL)]
    pub data_dir: Option<PathBuf>,

    /// sqlite://FILE, or postgres://USER:PASSWORD@HOST:PORT/DATABASE
    /// [default: sqlite://<data-dir>/precinct.db]
    #[arg(
        long,
        global = true,
        env = "PRECINCT_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true,
        help_heading = GLOBAL,
        value_parser = |s: &str| Ok::<_, std::convert::Infallible>(SecretString::from(s))
    )]
    pub database_url: Option<SecretString>,

    /// TOML configuration file (keys: listen, data_dir, database_url, tls_cert,
    /// tls_key, trusted_proxies, client_cert_header, max_body_bytes,
    /// policy_file, attachment_key)
    #[arg(long, global = true, env = "PRECINCT_CONFIG", value_name = "FILE", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,

    /// The audit log's Ed25519 signing key (created on first start; every
    /// server on one database needs the same file)
    /// [default: <data-dir>/audit-signing.key]
    #[arg(long, global = true, env = "PRECINCT_AUDIT_KEY", value_name = "FILE", help_heading = GLOBAL)]
    pub audit_key: Option<PathBuf>,

    /// The audit log's name in its signed checkpoints [default: precinct.local/audit]
    #[arg(long, global = true, env = "PRECINCT_AUDIT_ORIGIN", value_name = "NAME", help_heading = GLOBAL)]
    pub audit_origin: Option<String>,

    /// The department's Cedar policy, replacing the shipped one; an invalid
    /// file stops the server at start [default: policies/precinct.cedar, built in]
    #[arg(long, global = true, env = "PRECINCT_POLICY_FILE", value_name = "FILE", help_heading = GLOBAL)]
    pub policy_file: Option<PathBuf>,

    /// The AES-256-GCM key attachments are encrypted with (created on first
    /// start; every server on one database needs the same file)
    /// [default: <data-dir>/attachments.key]
    #[arg(long, global = true, env = "PRECINCT_ATTACHMENT_KEY", value_name = "FILE", help_heading = GLOBAL)]
    pub attachment_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (creates the first administrator on first start)
    #[command(long_about = "\
Run the server: open the database, apply migrations, and listen until Ctrl-C
or SIGTERM.

On the first start (no administrator yet) an administrator `admin` is created and
its one-time password is printed once, here. If <data-dir>/banned-passwords.txt
exists (one password a line), users may not choose those passwords.")]
    Serve(ServeArgs),
    /// Create or update the database schema, then exit
    Migrate,
    /// Manage user accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Manage precincts and units
    #[command(subcommand)]
    Unit(UnitCommand),
    /// Manage designated workstations
    #[command(subcommand)]
    Workstation(WorkstationCommand),
    /// Manage enrolled department devices
    #[command(subcommand)]
    Device(DeviceCommand),
    /// The department's certificate authority and client certificates
    #[command(subcommand)]
    Pki(PkiCommand),
    /// The tamper-evident audit trail: verify, prove, export
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The authorization policy: validate a file, explain a decision
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// A fictional department to try Precinct on
    #[command(subcommand)]
    Demo(DemoCommand),
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Fill an empty database with a fictional department and its cases
    #[command(long_about = "\
Fill an empty database with a fictional department: precincts, units (patrol,
burglary, robbery, homicide, juvenile, domestic violence, fraud, ...), their
supervisors, captains, officers and detectives, a records clerk, an auditor, a
workstation per unit, and --cases cases with narratives, people (some
protected: juveniles, protected witnesses, confidential informants) and
reports, spread over the last years and over the case life cycle. All names
are made up.

The organisation is created through the ordinary administration (audited as
usual); the cases are written in batches, each batch with an audit event
(`demo.seed`), so `precinct audit verify` passes afterwards.

A database that already holds cases is refused: seed a new --data-dir or an
empty --database-url. The users `demo.officer`, `demo.supervisor` and
`demo.auditor` get one-time passwords, printed at the end with the steps to
reach the cases from a designated workstation.")]
    Seed(DemoSeedArgs),
}

#[derive(Debug, Args)]
pub struct DemoSeedArgs {
    /// How many cases
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub cases: u64,
    /// Seed of the generator: the same seed gives the same department and
    /// cases (dated back from today) [default: random, printed]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a Cedar policy file strictly against Precinct's schema
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Say whether a user may act on a case from a channel, and which
    /// policies decided
    Explain {
        /// The user's name
        #[arg(long, value_name = "USERNAME")]
        user: String,
        /// The case number (2026-000123) or id
        #[arg(long = "case", value_name = "CASE")]
        case_ref: String,
        /// workstation, department_device or offsite
        #[arg(long, default_value = "workstation")]
        channel: String,
        /// view, add_document, amend, manage, view_protected or view_audit
        #[arg(long, default_value = "view")]
        action: String,
        /// With --channel department_device: the enrolled device's name
        /// (an off-duty investigation grant works only on its own device)
        #[arg(long, value_name = "NAME")]
        device: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every leaf from the stored events, rebuild the tree, check
    /// every checkpoint's root and signature; exit non-zero naming the first
    /// event or checkpoint that does not match
    Verify {
        /// Also check against checkpoints published outside the database
        /// (the witness file written by `serve --checkpoint-file`)
        #[arg(long, value_name = "FILE")]
        against: Option<PathBuf>,
    },
    /// An inclusion proof of one event against a checkpoint
    Prove {
        /// The event's id
        #[arg(long, value_name = "ID")]
        event: String,
        /// The checkpoint's tree size [default: the first that covers the event]
        #[arg(long, value_name = "N")]
        checkpoint: Option<u64>,
    },
    /// A consistency proof between two checkpoints (tree sizes)
    Consistency {
        #[arg(long, value_name = "N")]
        from: u64,
        #[arg(long, value_name = "M")]
        to: u64,
    },
    /// Write a bundle (events, proofs, checkpoint, public key, CSV and PDF)
    /// that `precinct audit verify-bundle` or `precinct-verify` checks offline
    Export {
        /// Events about this case (object id)
        #[arg(long, value_name = "ID")]
        case: Option<String>,
        /// Events by this user
        #[arg(long, value_name = "USERNAME")]
        user: Option<String>,
        /// From this day or time (UTC), e.g. 2026-11-01
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Up to (not including) this day or time (UTC)
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// Directory to write bundle.json, events.csv and events.pdf into
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Check an exported bundle offline, without any database
    VerifyBundle {
        /// The bundle.json file
        file: PathBuf,
        /// The verifier key the department publishes (name+id+key)
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// A witness copy of the checkpoint, published outside the database
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Print the log's public verifier key
    Key,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "PRECINCT_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Terminate TLS here; without --tls-cert/--tls-key, use
    /// <data-dir>/pki/server.pem and server-key.pem from `precinct pki init`
    #[arg(long, env = "PRECINCT_TLS", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub tls: bool,

    /// PEM certificate chain the server presents (implies TLS)
    #[arg(long, env = "PRECINCT_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert
    #[arg(long, env = "PRECINCT_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Network of a front proxy whose client-certificate header is believed;
    /// repeat for several (the environment variable takes a comma list)
    #[arg(
        long = "trusted-proxy",
        env = "PRECINCT_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<IpNet>,

    /// Header in which a trusted proxy passes the verified client certificate
    /// (URL-encoded PEM) [default: x-client-cert]
    #[arg(long, env = "PRECINCT_CLIENT_CERT_HEADER", value_name = "NAME")]
    pub client_cert_header: Option<String>,

    /// Largest request body accepted, in bytes [default: 65536]
    #[arg(long, env = "PRECINCT_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,

    /// Append every signed checkpoint to this file too: a witness copy to
    /// keep where database administrators cannot rewrite it
    #[arg(long, env = "PRECINCT_CHECKPOINT_FILE", value_name = "FILE")]
    pub checkpoint_file: Option<PathBuf>,

    /// SMTP server for notification e-mail (host name); without it,
    /// notifications are in-app only
    #[arg(long, env = "PRECINCT_SMTP_HOST", value_name = "HOST")]
    pub smtp_host: Option<String>,

    /// SMTP port [default: 587]
    #[arg(long, env = "PRECINCT_SMTP_PORT", value_name = "PORT")]
    pub smtp_port: Option<u16>,

    /// SMTP transport security: none, starttls or tls [default: starttls]
    #[arg(long, env = "PRECINCT_SMTP_SECURITY", value_name = "MODE")]
    pub smtp_security: Option<String>,

    /// Sender of notification e-mail, e.g. "Precinct <precinct@pd.example>"
    #[arg(long, env = "PRECINCT_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,

    /// Users are mailed at USERNAME@DOMAIN
    #[arg(long, env = "PRECINCT_MAIL_DOMAIN", value_name = "DOMAIN")]
    pub mail_domain: Option<String>,

    /// Longest off-duty investigation grant, in hours [default: 72]
    #[arg(long, env = "PRECINCT_GRANT_MAX_HOURS", value_name = "HOURS")]
    pub grant_max_hours: Option<u64>,

    /// Weekly off-duty hours under grants past which supervisors are
    /// warned [default: 8]
    #[arg(long, env = "PRECINCT_WEEKLY_HOURS_WARNING", value_name = "HOURS")]
    pub weekly_hours_warning: Option<f64>,

    /// Try it out: on an empty database, first seed a fictional department
    /// (2,000 cases, as `precinct demo seed`); print how to log in as its
    /// officer, supervisor and auditor, and how to reach its cases
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints a one-time password, to be changed (and MFA
    /// enrolled) at first login
    Add(UserAddArgs),
    /// List all users
    List,
    /// Disable an account (it can no longer log in)
    Disable { username: String },
    /// Enable a disabled account
    Enable { username: String },
    /// Unlock an account locked by failed logins
    Unlock { username: String },
    /// Remove the user's MFA; they enrol again at next login
    ResetMfa { username: String },
    /// Issue a new one-time password (printed once)
    ResetPassword { username: String },
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// Login name: lowercase letters, digits, '.', '_' and '-'
    pub username: String,
    /// Display name, e.g. "Sgt. Jane Doe"
    #[arg(long, value_name = "DISPLAY_NAME")]
    pub name: String,
    /// Comma-separated roles
    #[arg(
        long,
        required = true,
        value_delimiter = ',',
        value_parser = PossibleValuesParser::new(Role::ALL.map(Role::as_str))
            .try_map(|s| s.parse::<Role>())
    )]
    pub roles: Vec<Role>,
    /// Precinct or unit the user belongs to; repeat for several
    #[arg(long = "unit", value_name = "UNIT")]
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitKindArg {
    Precinct,
    Unit,
}

#[derive(Debug, Subcommand)]
pub enum UnitCommand {
    /// Create a precinct or a unit
    Add {
        name: String,
        #[arg(long, value_enum)]
        kind: UnitKindArg,
        /// The precinct or unit this one belongs to
        #[arg(long, value_name = "NAME")]
        parent: Option<String>,
        /// Username of the unit's supervisor
        #[arg(long, value_name = "USERNAME")]
        supervisor: Option<String>,
    },
    /// List precincts and units
    List,
}

#[derive(Debug, Subcommand)]
pub enum WorkstationCommand {
    /// Register a designated workstation (then issue its certificate with
    /// `precinct pki issue --workstation NAME`)
    Add {
        name: String,
        /// The precinct or unit it stands in
        #[arg(long, value_name = "UNIT")]
        unit: String,
        /// Count it as this workstation only from these networks; repeat for
        /// several
        #[arg(long = "network", value_name = "CIDR")]
        networks: Vec<IpNet>,
    },
    /// List workstations
    List,
    /// Stop treating it as a designated workstation
    Disable { name: String },
    /// Treat it as a designated workstation again
    Enable { name: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DeviceKindArg {
    Phone,
    Tablet,
    Laptop,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Enrol a department device (then issue its certificate with
    /// `precinct pki issue --device NAME`)
    Enroll {
        name: String,
        #[arg(long, value_enum)]
        kind: DeviceKindArg,
        /// Username of the officer it is issued to
        #[arg(long, value_name = "USERNAME")]
        user: Option<String>,
    },
    /// List devices
    List,
    /// Revoke a lost or retired device; its certificate stops counting
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create the department CA and the server's TLS certificate in
    /// <data-dir>/pki (never overwrites an existing CA)
    Init {
        /// DNS name or IP address clients use to reach the server; repeat for
        /// several (localhost and 127.0.0.1 are always included)
        #[arg(long = "name", value_name = "DNS_OR_IP")]
        names: Vec<String>,
    },
    /// Issue a client certificate for a workstation or device and register
    /// its fingerprint
    Issue(PkiIssueArgs),
}

#[derive(Debug, Args)]
pub struct PkiIssueArgs {
    #[command(flatten)]
    pub holder: CertificateHolderArgs,
    /// Directory for NAME.pem and NAME-key.pem [default: <data-dir>/pki/issued]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Validity in days
    #[arg(long, default_value_t = 365)]
    pub days: u32,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct CertificateHolderArgs {
    /// The registered workstation the certificate identifies
    #[arg(long, value_name = "NAME")]
    pub workstation: Option<String>,
    /// The enrolled device the certificate identifies
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
