//! The auditor's view: searching the trail over the API and the pages,
//! proofs that verify with the audit crate alone, CSV, refusals of anyone
//! without the auditor role (administrators included), and reads of the
//! trail being recorded themselves.

use precinct_audit::checkpoint::LogVerifier;
use precinct_audit::event::AuditEvent;
use precinct_audit::merkle::{verify_consistency, verify_inclusion, Hash};
use precinct_domain::Role;
use precinct_store::EventFilter;
use serde_json::{json, Value};
use std::time::Duration;

use crate::support::{dbtest, TestApp, TestDb};

fn hash(hex_text: &Value) -> Hash {
    hex::decode(hex_text.as_str().expect("hex"))
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

fn hashes(list: &Value) -> Vec<Hash> {
    list.as_array().expect("list").iter().map(hash).collect()
}

/// The event as the API shows it, back as the struct whose encoding the
/// log hashes: what the auditor sees is what was proved.
fn event_of(view: &Value) -> AuditEvent {
    let mut v = view.clone();
    let map = v.as_object_mut().expect("object");
    map.remove("seq");
    map.remove("time");
    map.insert("v".into(), json!(1));
    serde_json::from_value(v).expect("event fields")
}

/// Signs a checkpoint; returns its tree size.
async fn checkpoint(app: &TestApp) -> u64 {
    app.services.sign_checkpoint().await.expect("sign");
    app.db
        .store
        .latest_checkpoint()
        .await
        .expect("checkpoint")
        .expect("one signed")
        .size
}

async fn events_of(app: &TestApp, action: &str, actor: &str) -> Vec<AuditEvent> {
    let filter = EventFilter {
        action: Some(action.into()),
        ..EventFilter::default()
    };
    app.db
        .store
        .search_events(&filter, 1000, 0)
        .await
        .expect("search")
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.actor_name.as_deref() == Some(actor))
        .collect()
}

async fn get_text(app: &TestApp, path: &str, cookie: &str) -> (u16, String, String) {
    let res = app
        .http
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, res.text().await.expect("body"))
}

async fn wrong_password(app: &TestApp, username: &str) {
    let (status, body) = app.login(username, "not the password at all").await;
    assert_eq!(status, 401, "{body}");
}

async fn auditor_searches_the_trail(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let ada = app.onboard("ada", &[Role::Auditor]).await;
    app.onboard("bob", &[Role::Officer]).await;
    app.onboard("carl", &[Role::Officer]).await;
    // 09:00 and 10:00 UTC: bob mistypes his password; carl once at 09:00.
    app.advance(Duration::from_secs(3600));
    wrong_password(&app, "bob").await;
    wrong_password(&app, "carl").await;
    app.advance(Duration::from_secs(3600));
    wrong_password(&app, "bob").await;
    checkpoint(&app).await;

    // The clock moved past the idle lock: ada logs in again.
    let token = app.login_with_mfa("ada", &ada.secret).await;
    let t = Some(token.as_str());
    let (status, body) = app
        .get(
            "/api/v1/audit/events?user=bob&action=auth.login&outcome=denied",
            t,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{body}");
    for e in events {
        assert_eq!(e["actor_name"], "bob");
        assert_eq!(e["action"], "auth.login");
        assert_eq!(e["outcome"], "denied");
        assert_eq!(e["reason"], "invalid_password");
        assert!(e["seq"].is_u64(), "sequenced: {e}");
    }
    // Newest first.
    assert_eq!(events[0]["time"], "2026-12-01T10:00:00.000000Z");
    assert_eq!(events[1]["time"], "2026-12-01T09:00:00.000000Z");
    assert_eq!(body["next_offset"], Value::Null);

    // A time window holds one of them; "to" a date includes that day.
    let (_, body) = app
        .get(
            "/api/v1/audit/events?user=bob&outcome=denied&from=2026-12-01T08:30:00Z&to=2026-12-01T09:30:00Z",
            t,
        )
        .await;
    assert_eq!(body["events"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(
        body["events"][0]["time_us"],
        json!(crate::support::T0 + 3_600_000_000)
    );
    let (_, body) = app
        .get(
            "/api/v1/audit/events?outcome=denied&action=auth.login&from=2026-12-01&to=2026-12-01",
            t,
        )
        .await;
    assert_eq!(body["events"].as_array().unwrap().len(), 3, "{body}");
    let (_, body) = app
        .get("/api/v1/audit/events?user=bob&to=2026-11-30", t)
        .await;
    assert_eq!(body["events"], json!([]));

    // Paging.
    let (_, body) = app
        .get("/api/v1/audit/events?user=bob&outcome=denied&limit=1", t)
        .await;
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
    assert_eq!(body["next_offset"], 1);
    let (_, second) = app
        .get(
            "/api/v1/audit/events?user=bob&outcome=denied&limit=1&offset=1",
            t,
        )
        .await;
    assert_eq!(second["events"][0]["time"], "2026-12-01T09:00:00.000000Z");
    assert_eq!(second["next_offset"], Value::Null);
    let (_, body) = app.get("/api/v1/audit/events?limit=100000", t).await;
    assert_eq!(body["limit"], 500);

    // Every read was recorded, as ada, with the search (identifiers only).
    let reads = events_of(&app, "audit.read", "ada").await;
    assert!(reads.len() >= 7, "{reads:?}");
    assert!(reads.iter().all(|e| e.outcome == "allowed"));
    assert!(reads
        .iter()
        .any(|e| e.object_type.as_deref() == Some("audit_query")
            && e.object_id.as_deref()
                == Some("user:bob,action:auth.login,outcome:denied,offset:0,limit:50")));
}
dbtest!(auditor_searches_the_trail);

async fn others_are_refused_and_the_refusal_recorded(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let chief = app.admin().await;
    let dana = app.onboard("dana", &[Role::InternalAffairs]).await;
    let ada = app.onboard("ada", &[Role::Auditor]).await;
    let size = checkpoint(&app).await;
    let (_, body) = app
        .get("/api/v1/audit/events?limit=1", Some(&ada.token))
        .await;
    let id = body["events"][0]["id"].as_str().unwrap().to_owned();
    for path in [
        "/api/v1/audit/events".to_owned(),
        "/api/v1/audit/events?user=ada".to_owned(),
        "/api/v1/audit/events.csv".to_owned(),
        "/api/v1/audit/checkpoints".to_owned(),
        format!("/api/v1/audit/events/{id}/proof"),
        format!("/api/v1/audit/consistency?from={size}&to={size}"),
    ] {
        for token in [&chief, &dana.token] {
            let (status, body) = app.get(&path, Some(token)).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (403, Some("forbidden")),
                "{path}"
            );
        }
    }
    let denied = events_of(&app, "audit.read", "chief").await;
    assert_eq!(denied.len(), 6, "{denied:?}");
    assert!(denied
        .iter()
        .all(|e| e.outcome == "denied" && e.reason.as_deref() == Some("forbidden")));
    assert_eq!(events_of(&app, "audit.read", "dana").await.len(), 6);
    // Nothing was sequenced into a proof for them.
    assert!(events_of(&app, "audit.prove", "chief").await.is_empty());
    // Without a session: 401.
    assert_eq!(app.get("/api/v1/audit/events", None).await.0, 401);
}
dbtest!(others_are_refused_and_the_refusal_recorded);

async fn proofs_verify_with_the_audit_crate(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let ada = app.onboard("ada", &[Role::Auditor]).await;
    app.onboard("bob", &[Role::Officer]).await;
    let first = checkpoint(&app).await;
    wrong_password(&app, "bob").await;
    let second = checkpoint(&app).await;
    assert!(second > first);
    let t = Some(ada.token.as_str());

    let (_, body) = app
        .get(
            "/api/v1/audit/events?user=bob&action=auth.login&outcome=denied",
            t,
        )
        .await;
    let event = body["events"][0].clone();
    let id = event["id"].as_str().unwrap();
    let (_, keys) = app.get("/api/v1/audit/checkpoints", t).await;
    let key = keys["verifier_key"].as_str().unwrap().to_owned();
    assert_eq!(key, app.services.log_verifier().encode());
    let sizes: Vec<u64> = keys["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tree_size"].as_u64().unwrap())
        .collect();
    assert!(sizes.contains(&first) && sizes.contains(&second), "{keys}");
    let verifier = LogVerifier::parse(&key).unwrap();

    // Against a checkpoint chosen by the caller (a later one than the first
    // covering the event would be, too).
    for size in [Some(second), None] {
        let path = match size {
            Some(s) => format!("/api/v1/audit/events/{id}/proof?checkpoint={s}"),
            None => format!("/api/v1/audit/events/{id}/proof"),
        };
        let (status, p) = app.get(&path, t).await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(p["verified"], true);
        assert_eq!(p["verifier_key"], key.as_str());
        let leaf = event_of(&p["event"]).leaf_hash();
        assert_eq!(hex::encode(leaf), p["leaf_hash"].as_str().unwrap());
        assert_eq!(event_of(&p["event"]), event_of(&event));
        let cp = verifier
            .open(p["checkpoint"].as_str().unwrap())
            .expect("the note verifies with the log's key");
        assert_eq!(cp.size, p["tree_size"].as_u64().unwrap());
        assert_eq!(cp.root, hash(&p["root"]));
        assert!(verify_inclusion(
            p["seq"].as_u64().unwrap(),
            cp.size,
            &leaf,
            &hashes(&p["proof"]),
            &cp.root
        ));
        if let Some(s) = size {
            assert_eq!(cp.size, s);
        }
    }
    // An event before the first checkpoint, against it and against the
    // second.
    let (_, early) = app
        .get(
            "/api/v1/audit/events?user=ada&action=auth.login&outcome=allowed&limit=1",
            t,
        )
        .await;
    let early_id = early["events"][0]["id"].as_str().unwrap();
    for size in [first, second] {
        let (status, p) = app
            .get(
                &format!("/api/v1/audit/events/{early_id}/proof?checkpoint={size}"),
                t,
            )
            .await;
        assert_eq!(status, 200, "{p}");
        let cp = verifier.open(p["checkpoint"].as_str().unwrap()).unwrap();
        assert!(verify_inclusion(
            p["seq"].as_u64().unwrap(),
            size,
            &event_of(&p["event"]).leaf_hash(),
            &hashes(&p["proof"]),
            &cp.root
        ));
    }
    // bob's failure is not in the first checkpoint.
    let (status, p) = app
        .get(
            &format!("/api/v1/audit/events/{id}/proof?checkpoint={first}"),
            t,
        )
        .await;
    assert_eq!(
        (status, p["code"].as_str()),
        (404, Some("not_found")),
        "{p}"
    );
    // A fresh event (not yet sequenced) gets its proof at once.
    wrong_password(&app, "bob").await;
    let (_, body) = app
        .get("/api/v1/audit/events?user=bob&outcome=denied&limit=1", t)
        .await;
    let fresh = body["events"][0]["id"].as_str().unwrap();
    let (status, p) = app
        .get(&format!("/api/v1/audit/events/{fresh}/proof"), t)
        .await;
    assert_eq!((status, &p["verified"]), (200, &json!(true)), "{p}");
    // An unknown event.
    let (status, _) = app
        .get(
            &format!("/api/v1/audit/events/{}/proof", uuid::Uuid::new_v4()),
            t,
        )
        .await;
    assert_eq!(status, 404);

    // Consistency between the two checkpoints.
    let (status, c) = app
        .get(
            &format!("/api/v1/audit/consistency?from={first}&to={second}"),
            t,
        )
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["verified"], true);
    let a = verifier.open(c["from"]["note"].as_str().unwrap()).unwrap();
    let b = verifier.open(c["to"]["note"].as_str().unwrap()).unwrap();
    assert_eq!((a.size, b.size), (first, second));
    assert_eq!(a.root, hash(&c["from"]["root"]));
    assert!(verify_consistency(
        a.size,
        b.size,
        &a.root,
        &b.root,
        &hashes(&c["proof"])
    ));
    // Not a checkpoint size.
    let (status, _) = app
        .get(
            &format!(
                "/api/v1/audit/consistency?from={first}&to={}",
                second + 1000
            ),
            t,
        )
        .await;
    assert_eq!(status, 404);

    // The proofs were read as ada, and recorded.
    let reads = events_of(&app, "audit.read", "ada").await;
    assert!(reads
        .iter()
        .any(|e| e.object_type.as_deref() == Some("audit_event")
            && e.object_id.as_deref() == Some(id)));
    assert!(reads
        .iter()
        .any(|e| e.object_type.as_deref() == Some("checkpoint")
            && e.object_id == Some(format!("{first}..{second}"))));
}
dbtest!(proofs_verify_with_the_audit_crate);

async fn csv_has_a_header_and_the_rows(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let ada = app.onboard("ada", &[Role::Auditor]).await;
    app.onboard("bob", &[Role::Officer]).await;
    wrong_password(&app, "bob").await;
    wrong_password(&app, "bob").await;
    // A name an attacker could choose cannot become a formula: usernames
    // cannot start with "=", and the CSV guards every cell anyway.
    let res = app
        .http
        .get(app.url("/api/v1/audit/events.csv?user=bob&outcome=denied"))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/csv"));
    assert!(header("content-disposition").starts_with("attachment"));
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("seq,time (UTC),actor,"), "{text}");
    assert_eq!(lines.len(), 3, "{text}");
    for row in &lines[1..] {
        assert!(row.contains(",bob,"), "{row}");
        assert!(row.contains(",auth.login,"), "{row}");
        assert!(row.contains(",denied,invalid_password,"), "{row}");
    }
    let reads = events_of(&app, "audit.read", "ada").await;
    assert!(reads
        .iter()
        .any(|e| e.object_id.as_deref() == Some("user:bob,outcome:denied,format:csv")));
}
dbtest!(csv_has_a_header_and_the_rows);

async fn bad_queries_are_problems(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let ada = app.onboard("ada", &[Role::Auditor]).await;
    let t = Some(ada.token.as_str());
    for path in [
        "/api/v1/audit/events?colour=blue",
        "/api/v1/audit/events?from=yesterday",
        "/api/v1/audit/events?to=2026-02-30",
        "/api/v1/audit/events?from=2026-12-01T08:00:00",
        "/api/v1/audit/events?from=2026-12-02&to=2026-12-01",
        "/api/v1/audit/events?outcome=maybe",
        "/api/v1/audit/events?action=DROP%20TABLE",
        "/api/v1/audit/events?case=a%2Cb",
        "/api/v1/audit/events?user=Robert%27%29",
        "/api/v1/audit/events?limit=abc",
        "/api/v1/audit/events?limit=0",
        "/api/v1/audit/events?offset=-1",
        "/api/v1/audit/events.csv?limit=5",
        "/api/v1/audit/checkpoints?all=1",
        "/api/v1/audit/consistency?from=1",
        "/api/v1/audit/consistency?from=2&to=1",
        "/api/v1/audit/consistency?from=a&to=1",
    ] {
        let (status, body) = app.get(path, t).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("invalid_query")),
            "{path}: {body}"
        );
    }
    let (status, body) = app.get("/api/v1/audit/events/not-an-id/proof", t).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_id")));
    let id = uuid::Uuid::new_v4();
    let (status, body) = app
        .get(&format!("/api/v1/audit/events/{id}/proof?checkpoint=x"), t)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_query"))
    );
    // The detail says what is wrong without echoing much else.
    let (_, body) = app.get("/api/v1/audit/events?outcome=maybe", t).await;
    assert_eq!(body["detail"], "outcome: must be allowed, denied or failed");
    // An unknown user is "not found", and the failed read recorded.
    let (status, body) = app.get("/api/v1/audit/events?user=nobody", t).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let reads = events_of(&app, "audit.read", "ada").await;
    assert!(reads
        .iter()
        .any(|e| e.outcome == "failed" && e.reason.as_deref() == Some("not_found")));
    // The documented parameters and endpoints are in the OpenAPI document.
    let (_, doc) = app.get("/api/v1/openapi.json", None).await;
    for p in [
        "/api/v1/audit/events",
        "/api/v1/audit/events.csv",
        "/api/v1/audit/events/{id}/proof",
        "/api/v1/audit/checkpoints",
        "/api/v1/audit/consistency",
    ] {
        assert!(doc["paths"][p]["get"].is_object(), "{p}");
    }
}
dbtest!(bad_queries_are_problems);

async fn the_audit_pages(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let chief = app.admin().await;
    let ada = app.onboard("ada", &[Role::Auditor]).await;
    app.onboard("bob", &[Role::Officer]).await;
    wrong_password(&app, "bob").await;
    checkpoint(&app).await;
    let auditor = format!("precinct_session={}", ada.token);
    let admin = format!("precinct_session={chief}");

    let (status, kind, html) = get_text(&app, "/audit", &auditor).await;
    assert_eq!(status, 200, "{html}");
    assert!(kind.starts_with("text/html"));
    assert!(html.contains(r#"id="audit-filter""#));
    assert!(html.contains(r#"id="audit-events""#));
    assert!(html.contains(r#"id="checkpoints""#));
    assert!(html.contains(r#"href="/audit/events.csv""#));

    let (status, _, html) = get_text(
        &app,
        "/audit?user=bob&case=&action=&outcome=denied&from=&to=",
        &auditor,
    )
    .await;
    assert_eq!(status, 200);
    assert!(html.contains("invalid_password"), "{html}");
    assert!(html.contains(r#"value="bob""#));
    assert!(html.contains(r#"<option value="denied" selected>"#));
    assert!(
        html.contains("/audit/events.csv?user=bob&#38;outcome=denied"),
        "{html}"
    );
    let id = html
        .split("href=\"/audit/events/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a link to the event")
        .to_owned();

    let (status, _, html) = get_text(&app, &format!("/audit/events/{id}"), &auditor).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(r#"id="proof-status""#));
    assert!(html.contains("The proof verifies"), "{html}");
    assert!(html.contains(r#"id="checkpoint-note""#));
    assert!(html.contains(&id));

    let (status, kind, csv) =
        get_text(&app, "/audit/events.csv?user=bob&outcome=denied", &auditor).await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/csv"));
    assert!(csv.starts_with("seq,time (UTC)"));

    // A bad filter is a 400 page that keeps the form.
    let (status, _, html) = get_text(&app, "/audit?from=yesterday", &auditor).await;
    assert_eq!(status, 400);
    assert!(html.contains(r#"id="audit-filter""#));
    assert!(html.contains(r#"value="yesterday""#));
    assert!(!html.contains(r#"id="audit-events""#));

    // Anyone else: the 403 page, and the refusal recorded.
    for path in [
        "/audit",
        "/audit/events.csv",
        &format!("/audit/events/{id}"),
    ] {
        let (status, kind, html) = get_text(&app, path, &admin).await;
        assert_eq!(status, 403, "{path}");
        assert!(kind.starts_with("text/html"));
        assert!(!html.contains(r#"id="audit-events""#));
        assert!(!html.contains("invalid_password"));
    }
    assert_eq!(events_of(&app, "audit.read", "chief").await.len(), 3);
}
dbtest!(the_audit_pages);

async fn the_audit_pages_page_through_results(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let ada = app.onboard("ada", &[Role::Auditor]).await;
    // 55 reads at 08:00, then the clock moves on: a search up to 08:05
    // finds exactly those, however many reads the pages add later.
    for _ in 0..55 {
        let (status, _) = app.get("/api/v1/audit/checkpoints", Some(&ada.token)).await;
        assert_eq!(status, 200);
    }
    app.advance(Duration::from_secs(600));
    let auditor = format!("precinct_session={}", ada.token);
    let search = "/audit?user=ada&action=audit.read&to=2026-12-01T08%3A05%3A00Z";
    let (status, _, html) = get_text(&app, search, &auditor).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("href=\"/audit/events/").count(), 50);
    assert!(html.contains(r#"id="audit-next""#));
    assert!(!html.contains(r#"id="audit-previous""#));
    let next =
        "/audit?user=ada&#38;action=audit.read&#38;to=2026-12-01T08%3A05%3A00Z&#38;offset=50";
    assert!(html.contains(next), "{html}");
    let (_, _, html) = get_text(&app, &format!("{search}&offset=50"), &auditor).await;
    assert_eq!(html.matches("href=\"/audit/events/").count(), 5);
    assert!(html.contains(r#"id="audit-previous""#));
    assert!(html.contains(
        r#"href="/audit?user=ada&#38;action=audit.read&#38;to=2026-12-01T08%3A05%3A00Z""#
    ));
    assert!(!html.contains(r#"id="audit-next""#));
}
dbtest!(the_audit_pages_page_through_results);
