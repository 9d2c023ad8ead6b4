//! `precinct-bench cases`: case work at department scale. Seeds a demo
//! department with `precinct demo seed` (timed), starts a server in this
//! process behind a "trusted proxy" that vouches for a designated
//! workstation, and measures, beside a `/healthz` baseline measured the
//! same way in the same run (and on PostgreSQL beside `pgbench`):
//! audited case reads at N concurrent clients, one policy decision, and
//! policy-filtered full-text search.

use precinct_domain::credentials::TotpSecret;
use precinct_domain::ids::UnitId;
use precinct_domain::org::UnitKind;
use precinct_domain::{Fingerprint, Role, SystemClock};
use precinct_server::config::ServerConfig;
use precinct_server::service::admin::Actor;
use precinct_server::service::Services;
use precinct_store::Store;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{median, percentile, raw};

struct CaseArgs {
    database_url: Option<String>,
    dir: PathBuf,
    cases: u64,
    clients: usize,
    seconds: u64,
    /// Reuse a database seeded by an earlier run.
    reuse: bool,
    /// Measure search only (no reads, baselines or decisions).
    search_only: bool,
    /// Measure the reads and their baselines only (no decisions, search or
    /// lists).
    reads_only: bool,
    /// Rounds of the captain's searches (the officer's: five).
    captain_rounds: usize,
    /// Also load the server from a second process, `wrk` (on PATH).
    wrk: bool,
    /// Read the database's files once before measuring, into the page
    /// cache.
    warm: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: precinct-bench cases [--database-url postgres://…] [--dir DIR] [--cases 1000000] \
         [--clients 64] [--seconds 10] [--reuse] [--search-only | --reads-only] [--captain-rounds 1] [--wrk] [--warm]"
    );
    std::process::exit(2)
}

fn parse(mut it: impl Iterator<Item = String>) -> CaseArgs {
    let mut a = CaseArgs {
        database_url: None,
        dir: PathBuf::from("target/bench-data"),
        cases: 1_000_000,
        clients: 64,
        seconds: 10,
        reuse: false,
        search_only: false,
        reads_only: false,
        captain_rounds: 1,
        wrk: false,
        warm: false,
    };
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--database-url" => a.database_url = Some(val()),
            "--dir" => a.dir = PathBuf::from(val()),
            "--cases" => a.cases = val().parse().unwrap_or_else(|_| usage()),
            "--clients" => a.clients = val().parse().unwrap_or_else(|_| usage()),
            "--seconds" => a.seconds = val().parse().unwrap_or_else(|_| usage()),
            "--reuse" => a.reuse = true,
            "--search-only" => a.search_only = true,
            "--reads-only" => a.reads_only = true,
            "--captain-rounds" => a.captain_rounds = val().parse().unwrap_or_else(|_| usage()),
            "--wrk" => a.wrk = true,
            "--warm" => a.warm = true,
            _ => usage(),
        }
    }
    a
}

/// The database the run uses: `<dir>/cases-<N>/precinct.db`, or a
/// PostgreSQL database named after the case count (its keys in
/// `<dir>/cases-<N>-postgres`, so that neither run clears the other's).
fn database(a: &CaseArgs) -> (PathBuf, String, Option<(String, String)>) {
    let pg = if a.database_url.is_some() {
        "-postgres"
    } else {
        ""
    };
    let data = a.dir.join(format!("cases-{}{pg}", a.cases));
    match &a.database_url {
        None => {
            let url = format!("sqlite://{}", data.join("precinct.db").display());
            (data, url, None)
        }
        Some(admin) => {
            let db = format!("precinct_bench_cases_{}", a.cases);
            let (main, _) = admin.split_once('?').unwrap_or((admin.as_str(), ""));
            let base = main.rsplit_once('/').map_or(main, |(b, _)| b);
            (data, format!("{base}/{db}"), Some((admin.clone(), db)))
        }
    }
}

pub async fn run(it: impl Iterator<Item = String>) {
    let a = parse(it);
    let engine = if a.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    println!(
        "# precinct-bench cases ({engine}, {} cases, {} clients)",
        a.cases, a.clients
    );
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        super::cpu_name()
    );
    let (data, url, pg) = database(&a);
    if !a.reuse {
        let _ = std::fs::remove_dir_all(&data);
        if let Some((admin, db)) = &pg {
            raw(admin, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
            raw(admin, &format!("CREATE DATABASE {db}")).await;
        }
        seed(&data, &url, a.cases);
    }

    let files = database_files(&data, &pg).await;
    if a.warm {
        warm(&files);
    }
    let store = Store::open(&url).await.expect("open");
    store.migrate().await.expect("migrate");
    let services = Services::new(
        store.clone(),
        Arc::new(SystemClock),
        Default::default(),
        precinct_server::service::auditlog::ephemeral_log_key(),
        precinct_policy::PolicyEngine::shipped().expect("policy"),
    )
    .with_attachment_key(precinct_server::service::vault::AttachmentKey::ephemeral())
    .with_group_commit();
    let base = start_server(&data, &url, services.clone()).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients * 2)
        .build()
        .expect("client");
    let bench = Bench::prepare(&services, &http, &base).await;
    println!(
        "officer with {} cases; captain over {} units",
        bench.case_urls.len(),
        bench.captain_units
    );

    if a.search_only {
        cached(&files, "before search");
        search(&http, &base, &bench, a.captain_rounds).await;
        lists(&http, &base, &bench).await;
        store.close().await;
        return;
    }
    let secs = Duration::from_secs(a.seconds);
    let health = load(
        &http,
        vec![format!("{base}/healthz")],
        None,
        a.clients,
        secs,
    )
    .await;
    health.print("baseline: GET /healthz");
    let commits = || {
        services
            .group_commit
            .as_ref()
            .map_or((0, 0), |g| g.commits())
    };
    cached(&files, "before the reads");
    let before = commits();
    let reads = load(
        &http,
        bench.case_urls.clone(),
        Some(&bench),
        a.clients,
        secs,
    )
    .await;
    reads.print("audited case reads: GET /api/v1/cases/{id} at a workstation");
    let after = commits();
    let (txs, events) = (after.0 - before.0, after.1 - before.1);
    println!(
        "group commit while reading: {txs} transactions ({:.0}/s), {:.1} events each",
        txs as f64 / a.seconds as f64,
        events as f64 / txs.max(1) as f64
    );
    println!(
        "ratio: case reads / healthz = {:.2}; errors {}",
        reads.rate / health.rate,
        reads.errors
    );
    if a.wrk {
        let health = wrk(
            &data,
            &base,
            &[format!("{base}/healthz")],
            None,
            a.clients,
            a.seconds,
        )
        .await;
        health.print("baseline, from wrk (a second process): GET /healthz");
        let reads = wrk(
            &data,
            &base,
            &bench.case_urls,
            Some(&bench),
            a.clients,
            a.seconds,
        )
        .await;
        reads.print("audited case reads, from wrk: GET /api/v1/cases/{id} at a workstation");
        println!(
            "ratio, from wrk: case reads / healthz = {:.2}; failed {}",
            reads.rate / health.rate,
            reads.errors
        );
    }
    if let Some((admin, _)) = &pg {
        pgbench(admin, a.clients, a.seconds).await;
    }
    let (kept, served) = store.kept();
    println!(
        "kept from earlier reads: {kept} cases; {} case reads and {} pages' material answered from them",
        served.cases, served.material
    );
    if a.reads_only {
        store.close().await;
        return;
    }
    super::policy::policy_decisions(
        &precinct_policy::PolicyEngine::shipped()
            .expect("policy")
            .without_memo(),
        "shipped policy",
        0,
        super::policy::DECISIONS,
    );
    cached(&files, "before search");
    search(&http, &base, &bench, a.captain_rounds).await;
    lists(&http, &base, &bench).await;
    store.close().await;
}

/// The database's files: SQLite's file and its log, or the files of the
/// PostgreSQL database under the server's data directory (readable when
/// the bench runs as the user that owns them, or as root).
async fn database_files(data: &std::path::Path, pg: &Option<(String, String)>) -> Vec<PathBuf> {
    let Some((admin, db)) = pg else {
        return ["precinct.db", "precinct.db-wal"]
            .iter()
            .map(|f| data.join(f))
            .filter(|p| p.exists())
            .collect();
    };
    let Ok(pool) = sqlx::PgPool::connect(admin).await else {
        return vec![];
    };
    let dir: Option<String> = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&pool)
        .await
        .ok();
    let oid: Option<i64> =
        sqlx::query_scalar("SELECT oid::int8 FROM pg_database WHERE datname = $1")
            .bind(db)
            .fetch_one(&pool)
            .await
            .ok();
    pool.close().await;
    let (Some(dir), Some(oid)) = (dir, oid) else {
        return vec![];
    };
    std::fs::read_dir(PathBuf::from(dir).join("base").join(oid.to_string()))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// How much of the database's files the page cache holds, by
/// util-linux's `fincore`. This machine kind gives back idle page cache
/// (about 12 MiB/s here), so a database read minutes ago may come from the
/// disk again: search's p95 depends on it more than on the code.
fn cached(files: &[PathBuf], when: &str) {
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--raw", "--output", "RES,SIZE"])
        .args(files)
        .output();
    let sums = out.ok().filter(|o| o.status.success()).map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace().map(|v| v.parse::<u64>().ok());
                Some((f.next()??, f.next()??))
            })
            .fold((0, 0), |(r, t), (res, size)| (r + res, t + size))
    });
    const GIB: f64 = (1u64 << 30) as f64;
    match sums {
        Some((res, size)) if size > 0 => println!(
            "page cache {when}: {:.1} of {:.1} GiB of the database ({:.0} %)",
            res as f64 / GIB,
            size as f64 / GIB,
            100.0 * res as f64 / size as f64
        ),
        _ => println!("page cache {when}: unknown (no fincore, or the files are not readable)"),
    }
}

/// Reads the database's files once, so that the page cache holds them.
fn warm(files: &[PathBuf]) {
    let t = Instant::now();
    let mut bytes = 0;
    for f in files {
        if let Ok(mut file) = std::fs::File::open(f) {
            bytes += std::io::copy(&mut file, &mut std::io::sink()).unwrap_or(0);
        }
    }
    println!(
        "warmed: read {:.1} GiB of the database in {:.1} s",
        bytes as f64 / (1u64 << 30) as f64,
        t.elapsed().as_secs_f64()
    );
}

/// Runs `precinct demo seed` (the release binary beside this one) and
/// reports its time.
fn seed(data: &std::path::Path, url: &str, cases: u64) {
    let exe = std::env::current_exe().expect("exe");
    let precinct = exe.with_file_name("precinct");
    let started = Instant::now();
    let status = std::process::Command::new(&precinct)
        .arg("--data-dir")
        .arg(data)
        .args([
            "--database-url",
            url,
            "demo",
            "seed",
            "--cases",
            &cases.to_string(),
        ])
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "run {}: {e} (build it: cargo build --release -p precinct)",
                precinct.display()
            )
        });
    assert!(status.success(), "demo seed failed");
    let t = started.elapsed().as_secs_f64();
    println!(
        "seeding: {cases} cases in {t:.1} s ({:.0} cases/s), `precinct demo seed --cases {cases}`",
        cases as f64 / t
    );
}

async fn start_server(data: &std::path::Path, url: &str, services: Services) -> String {
    let mut config = ServerConfig::for_data_dir(data.to_path_buf());
    config.database_url = SecretString::from(url.to_owned());
    config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("cidr")];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        precinct_server::serve_on(listener, config, services, std::future::pending())
            .await
            .expect("serve");
    });
    format!("http://127.0.0.1:{port}")
}

struct Bench {
    token: String,
    captain_token: String,
    fingerprint: String,
    case_urls: Vec<String>,
    captain_units: usize,
    words: Vec<String>,
}

const PASSWORD: &str = "a long and quiet evening shift";

async fn post(http: &reqwest::Client, url: &str, token: &str, body: Value) -> Value {
    let res = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("post");
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}

/// Logs a seeded user in through the whole first-login flow (one-time
/// password from an administrator's reset, new password, TOTP).
async fn log_in(
    services: &Services,
    http: &reqwest::Client,
    base: &str,
    user: &precinct_domain::user::User,
) -> String {
    // A fresh first login every run, also on a reused database.
    services
        .reset_mfa(Actor::Console, user.id)
        .await
        .expect("reset MFA");
    let otp = services
        .reset_password(Actor::Console, user.id)
        .await
        .expect("reset password");
    let login = http
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"username": user.username.as_str(), "password": otp.expose(), "acknowledge_notice": true}))
        .send()
        .await
        .expect("login")
        .json::<Value>()
        .await
        .expect("login body");
    let token = login["token"].as_str().expect("token").to_owned();
    let mut stage = login["stage"].as_str().unwrap_or_default().to_owned();
    let mut secret = None;
    for _ in 0..4 {
        stage = match stage.as_str() {
            "change_password" => post(
                http,
                &format!("{base}/api/v1/session/password"),
                &token,
                json!({"new_password": PASSWORD}),
            )
            .await["stage"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            "enrol_mfa" => {
                let e = post(
                    http,
                    &format!("{base}/api/v1/session/mfa/enrolment"),
                    &token,
                    json!({}),
                )
                .await;
                let s = e["secret"].as_str().expect("secret").to_owned();
                let code = TotpSecret::from_base32(&s)
                    .expect("secret")
                    .code_at(now_secs());
                secret = Some(s);
                post(
                    http,
                    &format!("{base}/api/v1/session/mfa/enrolment/confirm"),
                    &token,
                    json!({"code": code}),
                )
                .await;
                "active".to_owned()
            }
            "mfa" => {
                let s = secret.clone().expect("enrolled");
                let code = TotpSecret::from_base32(&s)
                    .expect("secret")
                    .code_at(now_secs());
                post(
                    http,
                    &format!("{base}/api/v1/session/mfa"),
                    &token,
                    json!({"code": code}),
                )
                .await["stage"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }
            _ => break,
        };
    }
    assert_eq!(stage, "active", "login of {}", user.username.as_str());
    token
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Bench {
    async fn prepare(services: &Services, http: &reqwest::Client, base: &str) -> Self {
        let store = &services.store;
        let units = store.list_units().await.expect("units");
        let users = store.list_users().await.expect("users");
        // The officer with the most cases.
        let mut best = None;
        for u in users
            .iter()
            .filter(|u| u.roles.contains(Role::Officer) || u.roles.contains(Role::Detective))
        {
            let ids = store.case_ids_of_user(u.id, 200).await.expect("cases");
            if best
                .as_ref()
                .is_none_or(|(_, n): &(_, Vec<_>)| ids.len() > n.len())
            {
                best = Some((u.clone(), ids));
            }
        }
        let (officer, ids) = best.expect("a seeded officer");
        let unit: UnitId = officer.units.first().copied().expect("officer's unit");
        let fp = Fingerprint::parse(&format!("{}{}", uuid_hex(), uuid_hex())).expect("fp");
        let ws = services
            .add_workstation(
                Actor::Console,
                &format!("bench desk {}", now_secs()),
                unit,
                vec![],
            )
            .await
            .expect("workstation");
        services
            .register_workstation_certificate(Actor::Console, ws.id, &fp)
            .await
            .expect("certificate");
        let captain_id = units
            .iter()
            .find(|u| u.kind == UnitKind::Precinct && u.supervisor.is_some())
            .and_then(|u| u.supervisor)
            .expect("a precinct with a captain");
        let captain = users
            .iter()
            .find(|u| u.id == captain_id)
            .expect("captain")
            .clone();
        let captain_units = units
            .iter()
            .filter(|u| {
                precinct_domain::org::chain_of_command(
                    u.id,
                    &units.iter().map(|u| (u.id, u.clone())).collect(),
                )
                .contains(&captain_id)
            })
            .count();
        // Only the cases the officer may open here (not sealed ones they
        // are not named on, for instance): a read of each, as the server
        // would do it.
        let origin = precinct_server::service::audit::Origin {
            channel: "workstation".into(),
            ..precinct_server::service::audit::Origin::console()
        };
        let asker = precinct_server::service::cases::Asker {
            user: &officer,
            origin: &origin,
        };
        let mut ids = ids;
        let mut readable = Vec::new();
        for id in ids.drain(..) {
            if services
                .read_case(
                    asker,
                    id,
                    None,
                    precinct_server::service::cases::ReadFor::Record,
                )
                .await
                .is_ok()
            {
                readable.push(id);
            }
        }
        let ids = readable;
        let token = log_in(services, http, base, &officer).await;
        let captain_token = log_in(services, http, base, &captain).await;
        let cases = store.cases(&ids).await.expect("cases");
        let mut words: Vec<String> = cases
            .iter()
            .flat_map(|c| {
                c.title
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|w| w.len() > 4 && w.chars().all(char::is_alphabetic))
            .collect();
        words.sort();
        words.dedup();
        words.truncate(20);
        Self {
            token,
            captain_token,
            fingerprint: fp.to_string(),
            case_urls: ids
                .iter()
                .map(|id| format!("{base}/api/v1/cases/{id}"))
                .collect(),
            captain_units,
            words,
        }
    }
}

pub(super) fn uuid_hex() -> String {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    hex::encode(b)
}

struct Load {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    /// The server's CPU time a request, where the load came from another
    /// process.
    server_cpu_us: Option<f64>,
}

impl Load {
    fn print(&self, what: &str) {
        let cpu = self.server_cpu_us.map_or(String::new(), |us| {
            format!(", server CPU {us:.0} µs a request")
        });
        println!(
            "{what}: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms{cpu}",
            self.rate, self.p50_ms, self.p99_ms
        );
    }
}

/// `clients` concurrent clients, each sending its next request when the
/// last is answered, for `dur`.
async fn load(
    http: &reqwest::Client,
    urls: Vec<String>,
    auth: Option<&Bench>,
    clients: usize,
    dur: Duration,
) -> Load {
    let urls = Arc::new(urls);
    let auth = auth.map(|b| (b.token.clone(), b.fingerprint.clone()));
    let started = Instant::now();
    let deadline = started + dur;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, urls, auth) = (http.clone(), urls.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = c;
            while Instant::now() < deadline {
                let url = &urls[i % urls.len()];
                i += clients;
                let mut req = http.get(url);
                if let Some((token, fp)) = &auth {
                    req = req.bearer_auth(token).header("x-client-cert", fp);
                }
                let t = Instant::now();
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    Ok(r) => {
                        errors += 1;
                        if errors == 1 {
                            let status = r.status();
                            let body = r.text().await.unwrap_or_default();
                            eprintln!(
                                "error: {status} {}",
                                body.chars().take(200).collect::<String>()
                            );
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("error: {e}");
                        }
                    }
                }
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("client");
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Load {
        rate: all.len() as f64 / elapsed,
        p50_ms: percentile(&all, 0.50),
        p99_ms: percentile(&all, 0.99),
        errors,
        server_cpu_us: None,
    }
}

/// The same load from `wrk` in a process of its own (one thread a core,
/// `clients` connections, the paths in turn): the load generator no longer
/// shares this process's runtime with the server.
async fn wrk(
    data: &std::path::Path,
    base: &str,
    urls: &[String],
    auth: Option<&Bench>,
    clients: usize,
    seconds: u64,
) -> Load {
    let paths: Vec<String> = urls
        .iter()
        .map(|u| format!("{:?}", u.strip_prefix(base).unwrap_or(u)))
        .collect();
    let headers = auth.map_or_else(String::new, |b| {
        format!(
            "wrk.headers[\"Authorization\"] = \"Bearer {}\"\nwrk.headers[\"x-client-cert\"] = \"{}\"\n",
            b.token, b.fingerprint
        )
    });
    let script = data.join("wrk-load.lua");
    std::fs::write(
        &script,
        format!(
            "{headers}local paths = {{{}}}\nlocal i = 0\n\
             request = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n",
            paths.join(", ")
        ),
    )
    .expect("write the wrk script");
    // wrk wants at least a connection a thread.
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(clients);
    // Waited for off the runtime, which is serving the load meanwhile.
    let args = [
        format!("-t{threads}"),
        format!("-c{clients}"),
        format!("-d{seconds}s"),
        "--latency".into(),
        "-s".into(),
        script.display().to_string(),
        base.to_owned(),
    ];
    let cpu = process_cpu_seconds();
    let out =
        tokio::task::spawn_blocking(move || std::process::Command::new("wrk").args(args).output())
            .await
            .expect("wrk")
            .unwrap_or_else(|e| panic!("run wrk (apt-get install wrk): {e}"));
    let cpu = process_cpu_seconds() - cpu;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut load = parse_wrk(&text).unwrap_or_else(|| panic!("unexpected wrk output: {text}"));
    load.server_cpu_us = Some(cpu * 1e6 / (load.rate * seconds as f64).max(1.0));
    load
}

/// The CPU time this process has used, user and system, in seconds (from
/// `/proc/self/stat`, in clock ticks of 1/100 s). With the load in another
/// process, it is the server's: CPU time a request is what a noisy machine
/// changes least (time stolen by the host is not counted).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's closing parenthesis, from the state
    // on: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Requests/s, the 50th and 99th latency percentiles and the failures
/// (non-2xx answers and socket errors: a timed-out request is missing from
/// the latencies, so it must count here) from wrk's `--latency` report.
fn parse_wrk(text: &str) -> Option<Load> {
    let ms = |v: &str| -> Option<f64> {
        let unit = v.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        let n: f64 = v[..v.len() - unit.len()].parse().ok()?;
        Some(match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            "m" => n * 60_000.0,
            _ => return None,
        })
    };
    let field = |key: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    Some(Load {
        rate: field("Requests/sec:")?.parse().ok()?,
        p50_ms: ms(field("50%")?)?,
        p99_ms: ms(field("99%")?)?,
        errors: field("Non-2xx or 3xx responses:").map_or(Some(0), |n| n.parse().ok())?
            + socket_errors(field("Socket errors:"))?,
        server_cpu_us: None,
    })
}

/// The sum of wrk's `Socket errors: connect 0, read 0, write 0, timeout 0`.
fn socket_errors(line: Option<&str>) -> Option<u64> {
    line.map_or(Some(0), |l| {
        l.split(',')
            .map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
            .sum()
    })
}

/// pgbench's default (TPC-B-like) script on the same server, same clients.
async fn pgbench(admin: &str, clients: usize, seconds: u64) {
    let db = format!("precinct_bench_pgbench_{}", std::process::id());
    raw(admin, &format!("CREATE DATABASE {db}")).await;
    let (main, _) = admin.split_once('?').unwrap_or((admin, ""));
    let base = main.rsplit_once('/').map_or(main, |(b, _)| b);
    let url = format!("{base}/{db}");
    let init = std::process::Command::new("pgbench")
        .args(["-i", "-q", &url])
        .output()
        .expect("pgbench -i (install postgresql-client)");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let out = std::process::Command::new("pgbench")
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            &url,
        ])
        .output()
        .expect("pgbench");
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .unwrap_or("tps = ?")
        .to_owned();
    println!("baseline: pgbench default script, {clients} clients, {seconds} s: {tps}");
    raw(admin, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
}

/// The case lists, one request at a time: the officer's own cases (the
/// first page after signing in) and the captain's units' cases, each the
/// 200 most recently changed, decided by policy.
async fn lists(http: &reqwest::Client, base: &str, b: &Bench) {
    for (who, token, scope) in [
        ("officer", &b.token, "mine"),
        ("captain", &b.captain_token, "unit"),
    ] {
        let mut lat = Vec::new();
        let mut shown = Vec::new();
        for _ in 0..40 {
            let t = Instant::now();
            let res = http
                .get(format!("{base}/api/v1/cases"))
                .query(&[("scope", scope)])
                .bearer_auth(token)
                .header("x-client-cert", &b.fingerprint)
                .send()
                .await
                .expect("case list");
            assert!(res.status().is_success(), "case list: {}", res.status());
            let v: Value = res.json().await.unwrap_or(Value::Null);
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            shown.push(v.as_array().map_or(0, Vec::len) as f64);
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "case list ({scope}) as {who}: {} requests, p50 {:.1} ms, p95 {:.1} ms, {:.0} cases each",
            lat.len(),
            percentile(&lat, 0.50),
            percentile(&lat, 0.95),
            median(shown)
        );
    }
}

/// Policy-filtered search, one query at a time, as the officer and as the
/// captain (whose scope is the whole precinct).
async fn search(http: &reqwest::Client, base: &str, b: &Bench, captain_rounds: usize) {
    let mut words = b.words.clone();
    words.extend(["burglary", "window", "vehicle", "street", "witness"].map(str::to_owned));
    for (who, token) in [("officer", &b.token), ("captain", &b.captain_token)] {
        let mut lat = Vec::new();
        let mut found = Vec::new();
        let mut capped = 0;
        // The captain: `--captain-rounds` rounds (one by default).
        let rounds = if who == "officer" { 5 } else { captain_rounds };
        for round in 0..rounds {
            for w in &words {
                let q = if round % 2 == 0 {
                    w.clone()
                } else {
                    format!("{w} {}", words[0])
                };
                let t = Instant::now();
                let res = http
                    .get(format!("{base}/api/v1/cases/search"))
                    .query(&[("q", q.as_str())])
                    .bearer_auth(token)
                    .header("x-client-cert", &b.fingerprint)
                    .send()
                    .await
                    .expect("search");
                let v: Value = res.json().await.unwrap_or(Value::Null);
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                found.push(v["total"].as_u64().unwrap_or(0) as f64);
                capped += usize::from(v["more"].as_bool() == Some(true));
            }
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "search as {who}: {} queries, p50 {:.1} ms, p95 {:.1} ms, median results {:.0}, \
             {capped} counts capped (\"more than\")",
            lat.len(),
            percentile(&lat, 0.50),
            percentile(&lat, 0.95),
            median(found)
        );
    }
}
