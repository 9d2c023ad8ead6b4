//! The verifier binary on files, as a defence expert would run it: a good
//! bundle, a tampered one, a forged key, a witness checkpoint, bad usage.

// Test helpers outside #[test] functions are not covered by clippy.toml.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

use precinct_audit::bundle::{Bundle, BundleEntry};
use precinct_audit::checkpoint::LogKey;
use precinct_audit::event::{AuditEvent, ENCODING_VERSION};
use precinct_audit::merkle::MemoryLog;

const ORIGIN: &str = "precinct.example/audit";

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        v: ENCODING_VERSION,
        id: format!("ev-{i}"),
        time_us: 1_793_520_000_000_000 + i as i64 * 1_000_000,
        actor_id: Some("u-1".into()),
        actor_name: Some("alice".into()),
        session_id: None,
        channel: "workstation".into(),
        workstation_id: Some("ws-1".into()),
        device_id: None,
        source_ip: None,
        action: "case.view".into(),
        object_type: Some("case".into()),
        object_id: Some(format!("2026-{i:05}")),
        outcome: "allowed".into(),
        reason: None,
        grant_id: None,
        request_id: None,
    }
}

/// A bundle of events 2, 5 and 9 of a log of 12, and the checkpoint note.
fn bundle(k: &LogKey) -> (Bundle, String) {
    let events: Vec<AuditEvent> = (0..12).map(event).collect();
    let mut log = MemoryLog::default();
    for e in &events {
        log.append_leaf_hash(e.leaf_hash());
    }
    let checkpoint = k.sign(12, log.root());
    let entries = [2u64, 5, 9]
        .iter()
        .map(|&s| {
            let proof = log.inclusion_proof(s, 12).expect("proof");
            BundleEntry::new(s, events[s as usize].clone(), &proof)
        })
        .collect();
    let b = Bundle::new(
        "Events of case 2026-00005".into(),
        1_796_000_000_000_000,
        &k.verifier(),
        checkpoint.clone(),
        entries,
    );
    (b, checkpoint)
}

fn file(name: &str, text: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("precinct-verify-{name}"));
    std::fs::write(&path, text).expect("write");
    path
}

fn verifier(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_precinct-verify"))
        .args(args)
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn verifies_a_good_bundle_and_names_the_tampered_entry() {
    let k = LogKey::from_secret(ORIGIN, [3u8; 32]).expect("key");
    let key = k.verifier().encode();
    let (good, checkpoint) = bundle(&k);
    let good_path = file("good.json", &good.to_json().expect("json"));

    let out = verifier(&[good_path.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("VERIFIED: 3 entries"), "{stdout}");
    assert!(stdout.contains("tree size:    12"), "{stdout}");
    assert!(stdout.contains("taken from the bundle itself"), "{stdout}");

    let witness = file("witness.txt", &checkpoint);
    let out = verifier(&[
        good_path.as_os_str(),
        "--key".as_ref(),
        key.as_ref(),
        "--checkpoint".as_ref(),
        witness.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("the key given with --key"));

    let mut tampered = good.clone();
    tampered.entries[1].event.outcome = "denied".into();
    let bad_path = file("tampered.json", &tampered.to_json().expect("json"));
    let out = verifier(&[bad_path.as_os_str(), "--key".as_ref(), key.as_ref()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("[not_included]") && stderr.contains("entry seq 5 (event \"ev-5\")"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    // A bundle made with another key fails against the published one, and
    // so does a witness checkpoint of another tree head.
    let forger = LogKey::from_secret(ORIGIN, [4u8; 32]).expect("key");
    let forged = file("forged.json", &bundle(&forger).0.to_json().expect("json"));
    let out = verifier(&[forged.as_os_str(), "--key".as_ref(), key.as_ref()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[key_mismatch]"));
    let later = file("later.txt", &k.sign(13, [0u8; 32]));
    let out = verifier(&[
        good_path.as_os_str(),
        "--checkpoint".as_ref(),
        later.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("[witness_mismatch]"));

    let junk = file("junk.json", "{ not json");
    assert_eq!(verifier(&[junk.as_os_str()]).status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(verifier(&[]).status.code(), Some(2));
    let out = verifier(&["b.json".as_ref(), "--bogus".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("usage: precinct-verify"));
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-bundle.json");
    assert_eq!(verifier(&[missing.as_os_str()]).status.code(), Some(2));
    let out = verifier(&["--help".as_ref()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("--checkpoint FILE"));
}
