//! A log of events, bundles made from it, and every way of tampering with
//! them that the verifier must catch.

use super::*;
use crate::checkpoint::LogKey;
use crate::merkle::MemoryLog;

pub(crate) const ORIGIN: &str = "precinct.example/audit";

pub(crate) fn key() -> LogKey {
    LogKey::from_secret(ORIGIN, [7u8; 32]).expect("key")
}

pub(crate) fn event(i: u64) -> AuditEvent {
    AuditEvent {
        v: ENCODING_VERSION,
        id: format!("ev-{i:04}"),
        time_us: 1_793_520_000_000_000 + i as i64 * 61_000_123,
        actor_id: Some(format!("u-{}", i % 3)),
        actor_name: Some(["alice", "bob", "carol"][(i % 3) as usize].into()),
        session_id: Some(format!("s-{}", i / 4)),
        channel: "workstation".into(),
        workstation_id: Some("ws-12".into()),
        device_id: None,
        source_ip: Some("10.0.4.17".into()),
        action: ["case.view", "evidence.custody.transfer", "auth.login"][(i % 3) as usize].into(),
        object_type: Some("case".into()),
        object_id: Some(format!("2026-{:05}", 100 + i)),
        outcome: if i % 7 == 3 { "denied" } else { "allowed" }.into(),
        reason: (i % 7 == 3).then(|| "not_assigned".into()),
        grant_id: None,
        request_id: Some(format!("req-{i}")),
    }
}

/// A bundle of the events at `seqs` from a log of `size` events, proved
/// against the checkpoint of the whole log.
pub(crate) fn bundle_of(size: u64, seqs: &[u64], k: &LogKey) -> Bundle {
    let mut log = MemoryLog::default();
    let events: Vec<AuditEvent> = (0..size).map(event).collect();
    for e in &events {
        log.append_leaf_hash(e.leaf_hash());
    }
    let checkpoint = k.sign(size, log.root());
    let entries = seqs
        .iter()
        .map(|&s| {
            let proof = log.inclusion_proof(s, size).expect("proof");
            BundleEntry::new(s, events[s as usize].clone(), &proof)
        })
        .collect();
    Bundle::new(
        "Events of case 2026-00105, 2026-11-01 to 2026-11-30".into(),
        1_796_000_000_000_000,
        &k.verifier(),
        checkpoint,
        entries,
    )
}

/// Five entries of a log of twenty.
pub(crate) fn sample_bundle() -> (Bundle, LogKey) {
    let k = key();
    (bundle_of(20, &[0, 3, 7, 12, 19], &k), k)
}

fn fails_at(bundle: &Bundle, code: &str, seq: u64, event_id: &str) {
    let err = verify(bundle).expect_err("must not verify");
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(err.entry(), Some((seq, event_id)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("entry seq {seq} ")) && text.contains(event_id),
        "{text}"
    );
}

#[test]
fn a_good_bundle_verifies() {
    let (bundle, k) = sample_bundle();
    let v = verify(&bundle).expect("verifies");
    assert_eq!(v.tree_size, 20);
    assert_eq!(v.entries, 5);
    assert_eq!(v.origin, ORIGIN);
    assert_eq!(v.key, k.verifier());
    let again = verify_with_key(&bundle, Some(&k.verifier().encode())).expect("verifies");
    assert_eq!(again, v);
    // Through its file form too.
    let text = bundle.to_json().expect("json");
    let back = Bundle::from_json(&text).expect("parses");
    assert_eq!(back, bundle);
    assert_eq!(verify(&back), Ok(v));
}

#[test]
fn an_empty_bundle_proves_only_the_checkpoint() {
    let k = key();
    let v = verify(&bundle_of(20, &[], &k)).expect("verifies");
    assert_eq!((v.tree_size, v.entries), (20, 0));
}

#[test]
fn an_edited_event_is_caught() {
    let (bundle, _) = sample_bundle();
    let edits: [fn(&mut AuditEvent); 5] = [
        |e| e.outcome = "allowed".into(),
        |e| e.time_us += 1,
        |e| e.actor_name = Some("mallory".into()),
        |e| e.reason = None,
        |e| e.source_ip = None,
    ];
    for edit in edits {
        let mut b = bundle.clone();
        edit(&mut b.entries[1].event);
        assert_ne!(b, bundle);
        fails_at(&b, "not_included", 3, "ev-0003");
    }
}

#[test]
fn a_moved_entry_is_caught() {
    let (mut bundle, _) = sample_bundle();
    bundle.entries[2].seq = 8;
    fails_at(&bundle, "not_included", 8, "ev-0007");
    bundle.entries[2].seq = 20;
    fails_at(&bundle, "seq_out_of_range", 20, "ev-0007");
}

#[test]
fn a_damaged_proof_is_caught() {
    let (bundle, _) = sample_bundle();

    let mut dropped = bundle.clone();
    dropped.entries[3].proof.pop();
    fails_at(&dropped, "not_included", 12, "ev-0012");

    let mut swapped = bundle.clone();
    swapped.entries[3].proof.swap(0, 1);
    fails_at(&swapped, "not_included", 12, "ev-0012");

    let mut extra = bundle.clone();
    let first = extra.entries[3].proof[0].clone();
    extra.entries[3].proof.push(first);
    fails_at(&extra, "not_included", 12, "ev-0012");

    let mut flipped = bundle.clone();
    let p = &mut flipped.entries[3].proof[2];
    let digit = if p.starts_with('0') { "1" } else { "0" };
    p.replace_range(0..1, digit);
    fails_at(&flipped, "not_included", 12, "ev-0012");

    let mut garbled = bundle.clone();
    garbled.entries[3].proof[1] = "not hex".into();
    fails_at(&garbled, "bad_proof_encoding", 12, "ev-0012");
    let mut short = bundle;
    short.entries[3].proof[1].truncate(62);
    fails_at(&short, "bad_proof_encoding", 12, "ev-0012");
}

#[test]
fn a_duplicated_entry_is_caught() {
    let (mut bundle, _) = sample_bundle();
    let again = bundle.entries[1].clone();
    bundle.entries.push(again);
    fails_at(&bundle, "duplicate_seq", 3, "ev-0003");
}

#[test]
fn another_events_version_is_named() {
    let (mut bundle, _) = sample_bundle();
    bundle.entries[4].event.v = 2;
    fails_at(&bundle, "unsupported_event_version", 19, "ev-0019");
}

#[test]
fn a_checkpoint_of_another_key_is_refused() {
    let (mut bundle, k) = sample_bundle();
    let forger = LogKey::from_secret(ORIGIN, [8u8; 32]).expect("key");
    let cp = k.verifier().open(&bundle.checkpoint).expect("opens");
    bundle.checkpoint = forger.sign(cp.size, cp.root);
    let err = verify(&bundle).expect_err("refused");
    assert_eq!(
        err,
        BundleError::BadCheckpoint(CheckpointError::NoSignature)
    );

    // An edited checkpoint is refused too.
    let (mut bundle, _) = sample_bundle();
    bundle.checkpoint = bundle.checkpoint.replacen("\n20\n", "\n21\n", 1);
    let err = verify(&bundle).expect_err("refused");
    assert_eq!(
        err,
        BundleError::BadCheckpoint(CheckpointError::BadSignature)
    );
}

#[test]
fn a_bundle_forged_with_its_own_key_is_caught_by_the_expected_key() {
    let k = key();
    let forger = LogKey::from_secret(ORIGIN, [9u8; 32]).expect("key");
    let mut forged = bundle_of(20, &[0, 3], &forger);
    // An edited event with a log rebuilt around it and signed by a key of
    // the forger's own: the forgery is self-consistent...
    let mut log = MemoryLog::default();
    let mut events: Vec<AuditEvent> = (0..20).map(event).collect();
    events[0].outcome = "denied".into();
    for e in &events {
        log.append_leaf_hash(e.leaf_hash());
    }
    forged.checkpoint = forger.sign(20, log.root());
    forged.entries = [0u64, 3]
        .iter()
        .map(|&s| {
            let p = log.inclusion_proof(s, 20).expect("proof");
            BundleEntry::new(s, events[s as usize].clone(), &p)
        })
        .collect();
    assert!(verify(&forged).is_ok());
    // ...but not signed by the department's key.
    let err = verify_with_key(&forged, Some(&k.verifier().encode())).expect_err("refused");
    assert_eq!(err.code(), "key_mismatch");
    let err = verify_with_key(&forged, Some("no-such-key")).expect_err("refused");
    assert_eq!(err, BundleError::BadExpectedKey);
}

#[test]
fn format_and_key_problems_are_named() {
    let (bundle, _) = sample_bundle();
    let mut b = bundle.clone();
    b.format = "precinct-audit-bundle/2".into();
    assert_eq!(verify(&b).map_err(|e| e.code()), Err("unknown_format"));
    let text = b.to_json().expect("json");
    assert_eq!(
        Bundle::from_json(&text),
        Err(BundleError::UnknownFormat {
            found: "precinct-audit-bundle/2".into()
        })
    );
    let mut b = bundle.clone();
    b.verifier_key.push('x');
    assert_eq!(verify(&b), Err(BundleError::BadKey));
    assert_eq!(
        Bundle::from_json("{\"format\": 1}").map_err(|e| e.code()),
        Err("malformed")
    );
    assert_eq!(
        Bundle::from_json("[]").map_err(|e| e.code()),
        Err("malformed")
    );
    // Unknown fields are refused, not ignored.
    let text = bundle
        .to_json()
        .expect("json")
        .replacen("\"seq\"", "\"note\": \"x\", \"seq\"", 1);
    assert_eq!(
        Bundle::from_json(&text).map_err(|e| e.code()),
        Err("malformed")
    );
}

#[test]
fn witness_checkpoints() {
    let (bundle, k) = sample_bundle();
    let v = verify(&bundle).expect("verifies");
    assert_eq!(v.check_witness(&bundle.checkpoint), Ok(()));
    let cp = k.verifier().open(&bundle.checkpoint).expect("opens");
    // The same tree head signed again is the same witness.
    assert_eq!(v.check_witness(&k.sign(cp.size, cp.root)), Ok(()));
    let later = k.sign(cp.size + 1, [1u8; 32]);
    assert_eq!(
        v.check_witness(&later).map_err(|e| e.code()),
        Err("witness_mismatch")
    );
    let forger = LogKey::from_secret(ORIGIN, [8u8; 32]).expect("key");
    assert_eq!(
        v.check_witness(&forger.sign(cp.size, cp.root)),
        Err(BundleError::BadWitness(CheckpointError::NoSignature))
    );
}
