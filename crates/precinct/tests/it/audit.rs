//! The audit trail: what is recorded, that nothing happens without its
//! record, and that `verify` catches every kind of tampering with the rows,
//! on SQLite and PostgreSQL.

use precinct_audit::merkle::{verify_consistency, verify_inclusion};
use precinct_domain::Role;
use precinct_server::service::audit::{Origin, Outcome};
use precinct_server::service::auditlog::read_witness;
use precinct_server::service::verify::{
    verify_log, verify_log_in_chunks, VerifyFailure, VerifyReport,
};
use precinct_store::EventFilter;
use serde_json::json;

use crate::support::{dbtest, raw_sql, AppOptions, TestApp, TestDb};

/// Verifies the log, in one chunk and in chunks of 16 (so that small logs
/// cross chunk boundaries and checkpoints fall inside chunks); both must
/// agree.
async fn verify(app: &TestApp, witness: &[String]) -> Result<VerifyReport, VerifyFailure> {
    let verifier = app.services.log_verifier();
    let whole = verify_log(&app.db.store, &verifier, witness, &mut |_, _| {}).await;
    let small = verify_log_in_chunks(&app.db.store, &verifier, witness, &mut |_, _| {}, 16).await;
    // The log may grow between the two on a live server; compare outcomes.
    assert_eq!(
        whole.as_ref().err(),
        small.as_ref().err(),
        "chunked verification differs"
    );
    whole
}

/// A server that leaves sequencing and signing to the test.
async fn quiet_app(db: TestDb) -> TestApp {
    TestApp::spawn_with(
        db,
        AppOptions {
            log_keeper: Some(false),
            ..Default::default()
        },
    )
    .await
}

/// Writes `n` plain events through the use-cases.
async fn some_events(app: &TestApp, n: usize) {
    let origin = Origin::console();
    let events: Vec<_> = (0..n)
        .map(|i| {
            app.services
                .event(&origin, "test.event", Outcome::Allowed)
                .object("case", format!("2026-{i:06}"))
                .build()
        })
        .collect();
    app.services.record(&events).await.unwrap();
}

async fn checkpoint(app: &TestApp) -> u64 {
    app.services.sign_checkpoint().await.unwrap();
    app.db.store.audit_size().await.unwrap()
}

async fn events_of(app: &TestApp, action: &str) -> Vec<precinct_audit::event::AuditEvent> {
    let f = EventFilter {
        action: Some(action.into()),
        ..Default::default()
    };
    app.db
        .store
        .search_events(&f, 1000, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

async fn logins_and_admin_actions_are_recorded(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin().await;
    let vic = app.onboard("vic", &[Role::Officer]).await;
    app.login("vic", "not the right password").await;
    app.login("ghost", "not the right password").await;
    let (status, _) = app
        .post(
            "/api/v1/users",
            Some(&vic.token),
            json!({"username": "x1", "display_name": "X", "roles": ["officer"]}),
        )
        .await;
    assert_eq!(status, 403);
    app.post(
        &format!("/api/v1/users/{}/disable", vic.id),
        Some(&admin),
        json!({}),
    )
    .await;
    let (status, _) = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "xavi", "display_name": "X", "roles": ["officer"]}),
        )
        .await;
    assert_eq!(status, 201);

    let failures = events_of(&app, "auth.login").await;
    let denied: Vec<_> = failures.iter().filter(|e| e.outcome == "denied").collect();
    assert_eq!(denied.len(), 2, "{denied:?}");
    let wrong = denied
        .iter()
        .find(|e| e.reason.as_deref() == Some("invalid_password"))
        .unwrap();
    assert_eq!(wrong.actor_name.as_deref(), Some("vic"));
    assert_eq!(wrong.channel, "offsite");
    assert_eq!(wrong.source_ip.as_deref(), Some("127.0.0.1"));
    assert!(wrong.request_id.is_some());
    let unknown = denied
        .iter()
        .find(|e| e.reason.as_deref() == Some("unknown_user"))
        .unwrap();
    assert_eq!(
        unknown.actor_name, None,
        "a mistyped name (maybe a password) is not recorded"
    );
    assert!(failures
        .iter()
        .any(|e| e.outcome == "allowed" && e.actor_name.as_deref() == Some("vic")));

    let forbidden = events_of(&app, "user.create").await;
    assert!(forbidden.iter().any(|e| e.outcome == "denied"
        && e.reason.as_deref() == Some("forbidden")
        && e.actor_name.as_deref() == Some("vic")));
    assert!(forbidden
        .iter()
        .any(|e| e.outcome == "allowed" && e.actor_name.as_deref() == Some("chief")));
    let disabled = events_of(&app, "user.disable").await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(
        disabled[0].object_id.as_deref(),
        Some(vic.id.to_string().as_str())
    );
    assert!(disabled[0].session_id.is_some());
    for action in [
        "auth.mfa.enrol",
        "auth.password.change",
        "auth.session.stage",
    ] {
        assert!(!events_of(&app, action).await.is_empty(), "{action}");
    }
    // No secret ever reaches the trail.
    let all = app
        .db
        .store
        .search_events(&EventFilter::default(), 10_000, 0)
        .await
        .unwrap();
    let text = format!("{all:?}");
    assert!(
        !text.contains("not the right password")
            && !text.contains(&vic.secret)
            && !text.contains(&vic.token)
    );
    assert!(verify(&app, &[]).await.is_ok());
}
dbtest!(logins_and_admin_actions_are_recorded);

async fn nothing_happens_without_its_audit_record(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin().await;
    let users = app.db.store.count_users().await.unwrap();
    // The audit trail becomes unwritable: every action must now be refused.
    raw_sql(
        &app.db.url,
        "ALTER TABLE audit_tiles RENAME TO audit_tiles_gone",
    )
    .await
    .unwrap();
    let (status, body) = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "wes", "display_name": "Wes", "roles": ["officer"]}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (503, Some("unavailable")));
    assert_eq!(
        app.db.store.count_users().await.unwrap(),
        users,
        "the change did not happen"
    );
    let (status, _) = app.login("chief", "wrong password attempt").await;
    assert_eq!(
        status, 503,
        "even a denial must be recorded before it is answered"
    );
    let (status, _) = app.login("chief", crate::support::GOOD_PASSWORD).await;
    assert_eq!(status, 503, "no session without its login event");
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures = metrics
        .lines()
        .find(|l| l.starts_with("precinct_audit_write_failures_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap();
    assert!(failures >= 3, "{metrics}");
    raw_sql(
        &app.db.url,
        "ALTER TABLE audit_tiles_gone RENAME TO audit_tiles",
    )
    .await
    .unwrap();
    let (status, _) = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "wes", "display_name": "Wes", "roles": ["officer"]}),
        )
        .await;
    assert_eq!(status, 201);
}
dbtest!(nothing_happens_without_its_audit_record);

async fn proofs_verify_against_signed_checkpoints(db: TestDb) {
    let app = quiet_app(db).await;
    some_events(&app, 37).await;
    let first = checkpoint(&app).await;
    some_events(&app, 100).await;
    let second = checkpoint(&app).await;
    assert_eq!((first, second), (37, 137));
    let verifier = app.services.log_verifier();
    let events = app.db.store.log_entries(0, 1000).await.unwrap();
    for entry in [&events[0], &events[20], &events[36]] {
        let id = &entry.event.id;
        for size in [None, Some(second)] {
            let p = app
                .services
                .prove_event(&Origin::console(), id, size)
                .await
                .unwrap();
            let cp = verifier.open(&p.checkpoint.note).unwrap();
            assert!(verify_inclusion(
                p.seq,
                cp.size,
                &p.event.leaf_hash(),
                &p.proof,
                &cp.root
            ));
        }
    }
    let (a, b, proof) = app
        .services
        .prove_consistency(&Origin::console(), first, second)
        .await
        .unwrap();
    let (ra, rb) = (
        verifier.open(&a.note).unwrap().root,
        verifier.open(&b.note).unwrap().root,
    );
    assert!(verify_consistency(first, second, &ra, &rb, &proof));
    assert!(!verify_consistency(first, second, &rb, &ra, &proof));
    // Asking for proofs is itself recorded.
    assert!(!events_of(&app, "audit.prove").await.is_empty());
    assert!(!events_of(&app, "audit.consistency").await.is_empty());
    // Those records are in the log at once: 137 + 6 proofs + 1 consistency.
    let report = verify(&app, &[]).await.unwrap();
    assert_eq!((report.checkpoints, report.events), (2, 144));
}
dbtest!(proofs_verify_against_signed_checkpoints);

/// A log of 60 events under three checkpoints (20, 40, 60).
async fn three_checkpoints(db: TestDb) -> TestApp {
    let app = quiet_app(db).await;
    for _ in 0..3 {
        some_events(&app, 20).await;
        checkpoint(&app).await;
    }
    assert!(verify(&app, &[]).await.is_ok());
    app
}

async fn event_id_at(app: &TestApp, seq: u64) -> String {
    app.db.store.log_entries(seq, 1).await.unwrap()[0]
        .event
        .id
        .clone()
}

async fn verify_names_an_edited_field(db: TestDb) {
    let app = three_checkpoints(db).await;
    let id = event_id_at(&app, 7).await;
    raw_sql(
        &app.db.url,
        &format!("UPDATE audit_events SET outcome = 'denied' WHERE id = '{id}'"),
    )
    .await
    .unwrap();
    assert_eq!(
        verify(&app, &[]).await,
        Err(VerifyFailure::EventChanged {
            seq: 7,
            event_id: id
        })
    );
}
dbtest!(verify_names_an_edited_field);

async fn verify_names_a_deleted_event(db: TestDb) {
    let app = three_checkpoints(db).await;
    let id = event_id_at(&app, 11).await;
    raw_sql(
        &app.db.url,
        &format!("DELETE FROM audit_events WHERE id = '{id}'"),
    )
    .await
    .unwrap();
    assert_eq!(
        verify(&app, &[]).await,
        Err(VerifyFailure::Gap { seq: 11, next: 12 })
    );
}
dbtest!(verify_names_a_deleted_event);

async fn verify_names_an_inserted_event(db: TestDb) {
    let app = three_checkpoints(db).await;
    // Past the end of the log (every place in it is taken).
    let leaf = if app.db.url.starts_with("sqlite") {
        "X'00'"
    } else {
        "decode('00', 'hex')"
    };
    raw_sql(
        &app.db.url,
        &format!(
            "INSERT INTO audit_events (seq, id, time_us, action, outcome, entry, leaf_hash) \
         VALUES (60, 'forged-1', 1, 'case.read', 'allowed', {leaf}, {leaf})"
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        verify(&app, &[]).await,
        Err(VerifyFailure::StrayEvent {
            event_id: "forged-1".into()
        })
    );
}
dbtest!(verify_names_an_inserted_event);

/// Migration 0004 builds the tree's tiles from the layout before it (one
/// row per perfect subtree): after the upgrade the log verifies and gives
/// the same proofs.
async fn the_tree_upgrades_from_subtree_rows_to_tiles(db: TestDb) {
    use sqlx::Connection;
    let app = quiet_app(db).await;
    // Past the tile boundaries at 32 and 1,024 entries.
    some_events(&app, 1100).await;
    let size = checkpoint(&app).await;
    let proof = app.db.store.inclusion_proof(700, size).await.unwrap();
    let root = app.db.store.audit_root(size).await.unwrap();

    // Back to the layout before 0004, from the leaf hashes as stored.
    let mut conn = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    let leaves: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT leaf_hash FROM audit_events ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut nodes = std::collections::HashMap::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let leaf: [u8; 32] = leaf.as_slice().try_into().unwrap();
        let done = precinct_audit::merkle::completed_nodes(i as u64, leaf, |l, i| {
            nodes.get(&(l, i)).copied()
        })
        .unwrap();
        nodes.extend(done.into_iter().map(|(l, i, h)| ((l, i), h)));
    }
    let ty = if app.db.url.starts_with("sqlite") {
        "BLOB"
    } else {
        "BYTEA"
    };
    sqlx::raw_sql(&format!(
        "DROP TABLE audit_tiles; DELETE FROM _sqlx_migrations WHERE version = 4; \
         CREATE TABLE audit_nodes (level BIGINT NOT NULL, idx BIGINT NOT NULL, \
         hash {ty} NOT NULL, PRIMARY KEY (level, idx))"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    for ((l, i), h) in &nodes {
        sqlx::query("INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)")
            .bind(i64::from(*l))
            .bind(*i as i64)
            .bind(h.to_vec())
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();

    // A server of this version starts on it: the migration runs.
    let db = app.db.reopen().await;
    db.store.migrate().await.unwrap();
    assert_eq!(db.store.audit_root(size).await.unwrap(), root);
    assert_eq!(db.store.inclusion_proof(700, size).await.unwrap(), proof);
    let verifier = app.services.log_verifier();
    let report = verify_log(&db.store, &verifier, &[], &mut |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.events, size);
    // And the log grows from the tiles the migration built.
    some_events(&app, 40).await;
    let grown = checkpoint(&app).await;
    assert_eq!(verify(&app, &[]).await.unwrap().events, grown);
}
dbtest!(the_tree_upgrades_from_subtree_rows_to_tiles);

async fn verify_catches_reordered_events(db: TestDb) {
    let app = three_checkpoints(db).await;
    // Swap two whole log rows (events and their leaf hashes move together).
    raw_sql(
        &app.db.url,
        "UPDATE audit_events SET seq = -1 WHERE seq = 24; UPDATE audit_events SET seq = 24 WHERE seq = 25; UPDATE audit_events SET seq = 25 WHERE seq = -1",
    )
    .await
    .unwrap();
    assert_eq!(
        verify(&app, &[]).await,
        Err(VerifyFailure::CheckpointRoot { size: 40, from: 20 })
    );
}
dbtest!(verify_catches_reordered_events);

async fn verify_names_an_edited_or_deleted_checkpoint(db: TestDb) {
    let app = three_checkpoints(db).await;
    raw_sql(
        &app.db.url,
        "UPDATE audit_checkpoints SET note = REPLACE(note, '\n40\n', '\n41\n') WHERE size = 40",
    )
    .await
    .unwrap();
    assert!(matches!(
        verify(&app, &[]).await,
        Err(VerifyFailure::CheckpointSignature { size: 40, .. })
    ));
    raw_sql(&app.db.url, "DELETE FROM audit_checkpoints WHERE size = 40")
        .await
        .unwrap();
    assert_eq!(
        verify(&app, &[]).await,
        Err(VerifyFailure::CheckpointMissing {
            size: 60,
            previous: 40
        })
    );
}
dbtest!(verify_names_an_edited_or_deleted_checkpoint);

async fn a_witness_catches_a_rewritten_database(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("checkpoints.txt");
    let key = precinct_server::service::auditlog::ephemeral_log_key();
    let secret = key.secret_bytes();
    let app = TestApp::spawn_with(
        db,
        AppOptions {
            witness_file: Some(witness.clone()),
            log_key: Some(key),
            log_keeper: Some(false),
            ..Default::default()
        },
    )
    .await;
    some_events(&app, 30).await;
    checkpoint(&app).await;
    let notes = read_witness(&std::fs::read_to_string(&witness).unwrap());
    assert_eq!(notes.len(), 1);
    assert!(verify(&app, &notes).await.is_ok());

    // Someone with the database *and* the signing key rebuilds the whole
    // log without one event: the database agrees with itself, the witness
    // does not.
    let other = TestApp::spawn_with(
        TestDb::sqlite().await,
        AppOptions {
            log_key: Some(
                precinct_audit::checkpoint::LogKey::from_secret("precinct.local/audit", secret)
                    .unwrap(),
            ),
            log_keeper: Some(false),
            ..Default::default()
        },
    )
    .await;
    some_events(&other, 30).await;
    checkpoint(&other).await;
    assert!(verify(&other, &[]).await.is_ok());
    assert!(matches!(
        verify(&other, &notes).await,
        Err(VerifyFailure::Witness { size: 30, .. })
    ));
    // A truncated log is caught too.
    some_events(&app, 5).await;
    checkpoint(&app).await;
    let notes = read_witness(&std::fs::read_to_string(&witness).unwrap());
    assert!(matches!(
        verify(&other, &notes).await,
        Err(VerifyFailure::Witness { size: 35, .. })
    ));
}
dbtest!(a_witness_catches_a_rewritten_database);

async fn two_servers_write_at_once_and_one_log_verifies(db: TestDb) {
    let key = precinct_server::service::auditlog::ephemeral_log_key();
    let secret = key.secret_bytes();
    let same_key =
        || precinct_audit::checkpoint::LogKey::from_secret("precinct.local/audit", secret).unwrap();
    // Both servers sequence and sign in the background, at the same time.
    let a = TestApp::spawn_with(
        db.clone(),
        AppOptions {
            log_key: Some(key),
            ..Default::default()
        },
    )
    .await;
    let b = TestApp::spawn_with(
        db.reopen().await,
        AppOptions {
            log_key: Some(same_key()),
            ..Default::default()
        },
    )
    .await;
    let mut writers = Vec::new();
    for i in 0..8 {
        let services = if i % 2 == 0 {
            a.services.clone()
        } else {
            b.services.clone()
        };
        writers.push(tokio::spawn(async move {
            for j in 0..40 {
                let e = services
                    .event(&Origin::console(), "test.concurrent", Outcome::Allowed)
                    .object("case", format!("{i}-{j}"))
                    .build();
                services.record(&[e]).await.unwrap();
            }
        }));
    }
    // And real requests to both, over HTTP.
    for _ in 0..5 {
        a.login("nobody", "wrong password here").await;
        b.login("nobody", "wrong password here").await;
    }
    // A verification while both are still writing sees a consistent log.
    verify(&a, &[]).await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let latest =
            a.db.store
                .latest_checkpoint()
                .await
                .unwrap()
                .map_or(0, |c| c.size);
        if latest == a.db.store.audit_size().await.unwrap() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the log keepers did not catch up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let report = verify(&a, &[]).await.unwrap();
    assert_eq!(report.events, 8 * 40 + 10);
    assert!(report.checkpoints >= 1);
    assert_eq!(events_of(&a, "test.concurrent").await.len(), 320);
}
dbtest!(two_servers_write_at_once_and_one_log_verifies);

async fn a_witness_that_cannot_be_written_is_counted_and_caught_up(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let witness = dir.path().join("later").join("checkpoints.txt");
    let app = TestApp::spawn_with(
        db,
        AppOptions {
            witness_file: Some(witness.clone()),
            log_keeper: Some(false),
            ..Default::default()
        },
    )
    .await;
    some_events(&app, 3).await;
    checkpoint(&app).await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("precinct_witness_write_failures_total 1"),
        "{metrics}"
    );
    // Once the directory exists, the missed checkpoint goes out with the next.
    std::fs::create_dir_all(witness.parent().unwrap()).unwrap();
    some_events(&app, 3).await;
    checkpoint(&app).await;
    let notes = read_witness(&std::fs::read_to_string(&witness).unwrap());
    assert_eq!(notes.len(), 2);
    assert!(verify(&app, &notes).await.is_ok());
}
dbtest!(a_witness_that_cannot_be_written_is_counted_and_caught_up);

async fn case_search(app: &TestApp, case: &str) -> Vec<u64> {
    let f = EventFilter {
        object_type: Some("case".into()),
        object_id: Some(case.into()),
        ..Default::default()
    };
    let mut seqs: Vec<u64> = app
        .db
        .store
        .search_events(&f, 1000, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    seqs.sort_unstable();
    seqs
}

async fn searches_by_case_use_a_verified_index(db: TestDb) {
    let app = quiet_app(db).await;
    some_events(&app, 30).await;
    // Nothing is indexed yet; a search brings the index up to date first.
    assert_eq!(app.db.store.search_indexed().await.unwrap(), 0);
    assert!(
        verify(&app, &[]).await.is_ok(),
        "an index behind the log is fine"
    );
    assert_eq!(case_search(&app, "2026-000007").await, vec![7]);
    assert_eq!(app.db.store.search_indexed().await.unwrap(), 30);
    // Ten more, the same case again: the log keeper's indexer takes them.
    some_events(&app, 10).await;
    assert_eq!(app.services.index_search().await.unwrap(), 10);
    assert_eq!(case_search(&app, "2026-000007").await, vec![7, 37]);
    assert!(verify(&app, &[]).await.is_ok());

    // An index entry removed would hide the event from a search by case.
    raw_sql(&app.db.url, "DELETE FROM audit_search WHERE seq = 7")
        .await
        .unwrap();
    assert_eq!(case_search(&app, "2026-000007").await, vec![37]);
    assert_eq!(
        verify(&app, &[]).await,
        Err(VerifyFailure::SearchIndex { seq: 7 })
    );
    // Pointed at another event instead: still caught.
    raw_sql(
        &app.db.url,
        "INSERT INTO audit_search (seq, term) VALUES (7, 'object:case:2026-000008')",
    )
    .await
    .unwrap();
    assert_eq!(
        verify(&app, &[]).await,
        Err(VerifyFailure::SearchIndex { seq: 7 })
    );
}
dbtest!(searches_by_case_use_a_verified_index);
