//! Benchmarks of the audit trail, with the baselines they are judged by,
//! measured in the same run on the same machine:
//!
//! ```text
//! cargo run --release -p precinct --bin precinct-bench -- audit [--database-url postgres://…]
//! ```
//!
//! Reports the disk's fsync rate and the CPU's SHA-256 rate, then durable
//! sequencing (many concurrent writers, group commit), `audit verify`, and
//! inclusion proofs in a 10,000,000-entry log. Medians and percentiles;
//! these machines are noisy.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod cases;
mod policy;

/// mimalloc, not glibc's malloc: docs/decisions/0009-mimalloc.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use precinct_domain::SystemClock;
use precinct_server::service::audit::{Origin, Outcome};
use precinct_server::service::auditlog::ephemeral_log_key;
use precinct_server::service::verify::verify_log;
use precinct_server::service::Services;
use precinct_store::Store;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    database_url: Option<String>,
    dir: PathBuf,
    seconds: u64,
    writers: usize,
    proof_log: u64,
    proofs: usize,
    verify_rounds: usize,
    /// Run only the proof part (`--only proof`).
    only_proof: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        database_url: None,
        dir: PathBuf::from("target/bench-data"),
        seconds: 10,
        writers: 64,
        proof_log: 10_000_000,
        proofs: 10_000,
        verify_rounds: 3,
        only_proof: false,
    };
    let mut it = std::env::args().skip(1);
    let Some(cmd) = it.next() else { usage() };
    if cmd != "audit" {
        usage();
    }
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--database-url" => a.database_url = Some(val()),
            "--dir" => a.dir = PathBuf::from(val()),
            "--seconds" => a.seconds = val().parse().unwrap_or_else(|_| usage()),
            "--writers" => a.writers = val().parse().unwrap_or_else(|_| usage()),
            "--proof-log" => a.proof_log = val().parse().unwrap_or_else(|_| usage()),
            "--proofs" => a.proofs = val().parse().unwrap_or_else(|_| usage()),
            "--verify-rounds" => a.verify_rounds = val().parse().unwrap_or_else(|_| usage()),
            "--only" => a.only_proof = val() == "proof",
            _ => usage(),
        }
    }
    a
}

fn usage() -> ! {
    eprintln!(
        "usage: precinct-bench cases --help, precinct-bench policy [--single-only] [--decisions N], or precinct-bench audit [--database-url postgres://…] [--dir DIR] [--seconds 10] \
         [--writers 64] [--proof-log 10000000] [--proofs 10000] [--verify-rounds 3] [--only proof]"
    );
    std::process::exit(2)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    percentile(&v, 0.5)
}

/// fdatasync'd 4 KiB appends per second, in `dir`.
fn fsync_rate(dir: &std::path::Path) -> f64 {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).expect("probe file");
    let block = [7u8; 4096];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        f.write_all(&block).expect("write");
        f.sync_data().expect("fsync");
        n += 1;
    }
    let _ = std::fs::remove_file(&path);
    n as f64 / start.elapsed().as_secs_f64()
}

/// SHA-256 of 300-byte messages (an audit event's size) per second.
fn sha256_rate() -> f64 {
    let msg = [42u8; 300];
    let start = Instant::now();
    let mut n = 0u64;
    let mut acc = 0u8;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..1000 {
            acc ^= Sha256::digest(msg)[0];
        }
        n += 1000;
    }
    std::hint::black_box(acc);
    n as f64 / start.elapsed().as_secs_f64()
}

async fn open(url: &str) -> Store {
    let s = Store::open(url).await.expect("open database");
    s.migrate().await.expect("migrate");
    s
}

/// A fresh database: a SQLite file under `dir`, or a new PostgreSQL
/// database on the given server (dropped at the end).
async fn fresh_db(args: &Args, name: &str) -> (String, Option<(String, String)>) {
    match &args.database_url {
        None => {
            let file = args.dir.join(format!("{name}.db"));
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", file.display()));
            }
            (format!("sqlite://{}", file.display()), None)
        }
        Some(admin) => {
            let db = format!("precinct_bench_{name}_{}", std::process::id());
            raw(admin, &format!("DROP DATABASE IF EXISTS {db}")).await;
            raw(admin, &format!("CREATE DATABASE {db}")).await;
            let (main, _) = admin.split_once('?').unwrap_or((admin.as_str(), ""));
            let base = main.rsplit_once('/').map_or(main, |(b, _)| b);
            (format!("{base}/{db}"), Some((admin.clone(), db)))
        }
    }
}

async fn raw(url: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await.expect("connect");
    sqlx::raw_sql(sql).execute(&mut c).await.expect("sql");
    let _ = c.close().await;
}

async fn drop_db(d: Option<(String, String)>) {
    if let Some((admin, db)) = d {
        raw(
            &admin,
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        )
        .await;
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("cases") {
        cases::run(std::env::args().skip(2)).await;
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("policy") {
        policy::run(std::env::args().skip(2));
        return;
    }
    let args = parse_args();
    std::fs::create_dir_all(&args.dir).expect("bench dir");
    let engine = if args.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    println!("# precinct-bench audit ({engine})");
    println!(
        "machine: {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_name()
    );
    let fsync = fsync_rate(&args.dir);
    let sha = sha256_rate();
    println!(
        "baseline: fsync (4 KiB, fdatasync) {fsync:.0}/s on {}",
        args.dir.display()
    );
    println!(
        "baseline: SHA-256 of 300 B {sha:.0}/s ({:.0} MiB/s)",
        sha * 300.0 / 1048576.0
    );

    if !args.only_proof {
        sequencing_and_verify(&args, fsync, sha).await;
    }
    proofs(&args).await;
}

async fn sequencing_and_verify(args: &Args, fsync: f64, sha: f64) {
    // Durable sequencing under concurrent writers.
    let (url, cleanup) = fresh_db(args, "seq").await;
    let store = open(&url).await;
    let services = Services::new(
        store.clone(),
        Arc::new(SystemClock),
        Default::default(),
        ephemeral_log_key(),
        precinct_policy::PolicyEngine::shipped().expect("shipped policy"),
    )
    .with_group_commit();
    let written = Arc::new(AtomicU64::new(0));
    // The search indexer runs behind the log once a second, as in a server.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let indexer = {
        let (s, mut stopped) = (services.clone(), stopped.clone());
        tokio::spawn(async move {
            let mut indexed = 0;
            loop {
                tokio::select! {
                    _ = stopped.changed() => break indexed,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                indexed += s.index_search().await.expect("index");
            }
        })
    };
    drop(stopped);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for w in 0..args.writers {
        let (s, written) = (services.clone(), written.clone());
        tasks.push(tokio::spawn(async move {
            let origin = Origin {
                actor_id: Some(format!("00000000-0000-4000-8000-{w:012}")),
                actor_name: Some(format!("officer{w}")),
                session_id: Some("3f2a9c0d1e4b5a6f".into()),
                channel: "workstation".into(),
                workstation_id: Some("7d6c5b4a-3928-4716-a5b4-c3d2e1f0a9b8".into()),
                device_id: None,
                source_ip: Some("10.20.3.4".into()),
                request_id: None,
            };
            let mut lat = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let e = s
                    .event(&origin, "case.read", Outcome::Allowed)
                    .object("case", format!("2026-{:06}", i % 1_000_000))
                    .build();
                let t = Instant::now();
                s.record(&[e]).await.expect("record");
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                written.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("writer"));
    }
    let write_secs = start.elapsed().as_secs_f64();
    let all_secs = write_secs;
    let _ = stop.send(true);
    let during = indexer.await.expect("indexer");
    let t = Instant::now();
    let rest = services.index_search().await.expect("index");
    println!(
        "search index: {during} events indexed while writing, the last {rest} in {:.2} s after",
        t.elapsed().as_secs_f64()
    );
    let sequenced = store.audit_size().await.expect("size");
    services.sign_checkpoint().await.expect("checkpoint");
    lat.sort_by(|a, b| a.total_cmp(b));
    let n = written.load(Ordering::Relaxed);
    if let Some(g) = &services.group_commit {
        let (commits, events) = g.commits();
        println!(
            "group commit: {commits} transactions, {:.1} events each",
            events as f64 / commits.max(1) as f64
        );
    }
    println!(
        "sequencing: {n} events from {} writers in {write_secs:.1} s: {:.0} durable events/s \
         (write p50 {:.2} ms, p99 {:.2} ms); all {sequenced} sequenced after {all_secs:.1} s: {:.0} events/s end to end \
         = {:.1}x one fsync per event",
        args.writers,
        n as f64 / write_secs,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        sequenced as f64 / all_secs,
        (sequenced as f64 / all_secs) / fsync
    );

    // audit verify over that log.
    let verifier = services.log_verifier();
    let mut rates = Vec::new();
    for _ in 0..args.verify_rounds.max(1) {
        let t = Instant::now();
        let r = verify_log(&store, &verifier, &[], &mut |_, _| {})
            .await
            .expect("verifies");
        rates.push(r.events as f64 / t.elapsed().as_secs_f64());
    }
    let (lo, hi) = rates
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    let v = median(rates);
    // The same work on one core, for the ratio.
    let t = Instant::now();
    let indexed = store.search_indexed().await.expect("indexed");
    store
        .check_chunk((0, sequenced), indexed, Vec::new())
        .await
        .expect("chunk");
    println!(
        "verify, one core: {:.0} events/s",
        sequenced as f64 / t.elapsed().as_secs_f64()
    );
    println!(
        "verify: {:.0} events/s (median of {} over {sequenced} events; {lo:.0} to {hi:.0}) = {:.2} of the SHA-256 bound",
        v,
        args.verify_rounds.max(1),
        v / sha
    );
    if args.database_url.is_some() {
        raw_copy_rate(&url, sequenced).await;
    }
    store.close().await;
    drop_db(cleanup).await;
}

/// PostgreSQL's own rate for the rows `audit verify` reads (the events and
/// their search-index rows, as binary COPY on one connection, nothing
/// checked): the bound the server sets on this machine. Then the least any
/// layout must send, each event's `(seq, entry)` alone, over one connection
/// per core at once: what the server can give a verifier with nothing
/// left over for checking.
async fn raw_copy_rate(url: &str, events: u64) {
    let t = Instant::now();
    let bytes = copy_to_nothing(
        url,
        &[
            "SELECT seq, id, time_us, action, outcome, entry, leaf_hash FROM audit_events ORDER BY seq",
            "SELECT seq, term FROM audit_search ORDER BY seq, term",
        ],
    )
    .await;
    println!(
        "baseline: PostgreSQL sends verify's rows (binary COPY, one connection, unchecked) at {:.0} events/s ({} MiB)",
        events as f64 / t.elapsed().as_secs_f64(),
        bytes >> 20
    );
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let t = Instant::now();
    let parts: Vec<_> = (0..cores)
        .map(|i| {
            let (lo, hi) = (events * i / cores, events * (i + 1) / cores);
            let url = url.to_owned();
            tokio::spawn(async move {
                let q = format!(
                    "SELECT seq, entry FROM audit_events WHERE seq >= {lo} AND seq < {hi} ORDER BY seq"
                );
                copy_to_nothing(&url, &[q.as_str()]).await
            })
        })
        .collect();
    let mut bytes = 0usize;
    for p in parts {
        bytes += p.await.expect("copy task");
    }
    println!(
        "baseline: PostgreSQL sends only (seq, entry), {cores} connections at once, unchecked, at {:.0} events/s ({} MiB)",
        events as f64 / t.elapsed().as_secs_f64(),
        bytes >> 20
    );
}

/// Receives and drops the binary COPY of each query, on one connection
/// with verify's plans; the bytes received.
async fn copy_to_nothing(url: &str, queries: &[&str]) -> usize {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    // The same plans as verify's: along the primary keys.
    sqlx::query("SELECT set_config('enable_bitmapscan', 'off', false), set_config('enable_sort', 'off', false)")
        .execute(&mut conn)
        .await
        .expect("plans");
    let mut bytes = 0usize;
    for q in queries {
        let mut stream = conn
            .copy_out_raw(&format!("COPY ({q}) TO STDOUT (FORMAT binary)"))
            .await
            .expect("copy");
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            bytes += chunk.expect("copy data").len();
        }
    }
    bytes
}

async fn proofs(args: &Args) {
    // Inclusion proofs in a large log.
    let (url, cleanup) = fresh_db(args, "proof").await;
    let store = open(&url).await;
    let t = Instant::now();
    let size = args.proof_log;
    let mut last = Instant::now();
    store
        .seed_synthetic_log(size, &mut |done| {
            if last.elapsed() > Duration::from_secs(10) {
                eprintln!("  seeding {done}/{size}");
                last = Instant::now();
            }
        })
        .await
        .expect("seed");
    println!(
        "proof log: {size} synthetic entries built in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut times = Vec::with_capacity(args.proofs);
    for _ in 0..args.proofs {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let seq = x % size;
        let t = Instant::now();
        let p = store.inclusion_proof(seq, size).await.expect("proof");
        times.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(p);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "proof: {} inclusion proofs in a {size}-entry log: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        args.proofs,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or(0.0)
    );
    store.close().await;
    drop_db(cleanup).await;
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
