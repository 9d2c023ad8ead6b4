//! Bad input gets a clear 4xx problem document and changes nothing.

use precinct_domain::Role;
use serde_json::json;

use crate::support::{dbtest, TestApp, TestDb};

async fn bad_input_is_refused_and_changes_nothing(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin().await;
    let users_before = app.db.store.count_users().await.unwrap();
    let post_raw = |path: &str, content_type: &str, body: Vec<u8>| {
        app.http
            .post(app.url(path))
            .bearer_auth(&admin)
            .header("content-type", content_type.to_owned())
            .body(body)
            .send()
    };
    let missing_user = format!("/api/v1/users/{}/disable", uuid::Uuid::new_v4());
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("/api/v1/users", "application/json", b"{\"username\": ".to_vec(), 400, "malformed_json"),
        ("/api/v1/users", "text/plain", b"{}".to_vec(), 415, "unsupported_media_type"),
        (
            "/api/v1/users",
            "application/json",
            format!("{{\"username\": \"{}\"}}", "x".repeat(100_000)).into_bytes(),
            413,
            "body_too_large",
        ),
        (
            "/api/v1/users",
            "application/json",
            json!({"username": "ivan", "display_name": "Ivan", "roles": ["officer"], "is_root": true}).to_string().into_bytes(),
            422,
            "invalid_body",
        ),
        (
            "/api/v1/users",
            "application/json",
            json!({"username": "ivan", "display_name": "Ivan", "roles": ["sheriff"]}).to_string().into_bytes(),
            422,
            "invalid_body",
        ),
        (
            "/api/v1/users",
            "application/json",
            json!({"username": "Ivan The Great", "display_name": "Ivan", "roles": ["officer"]}).to_string().into_bytes(),
            422,
            "invalid_input",
        ),
        (
            "/api/v1/users",
            "application/json",
            json!({"username": "ivan", "display_name": "Ivan", "roles": []}).to_string().into_bytes(),
            422,
            "invalid_input",
        ),
        ("/api/v1/users/not-a-uuid/disable", "application/json", b"{}".to_vec(), 400, "invalid_id"),
        (
            &missing_user,
            "application/json",
            b"{}".to_vec(),
            404,
            "not_found",
        ),
        (
            "/api/v1/units",
            "application/json",
            json!({"name": "Burglary", "kind": "unit"}).to_string().into_bytes(),
            422,
            "invalid_input",
        ),
        (
            "/api/v1/workstations",
            "application/json",
            json!({"name": "desk 1", "unit": uuid::Uuid::new_v4(), "networks": ["10.0.0.0/33"]}).to_string().into_bytes(),
            422,
            "invalid_input",
        ),
        (
            "/api/v1/devices",
            "application/json",
            json!({"name": "phone 1", "kind": "pager"}).to_string().into_bytes(),
            422,
            "invalid_input",
        ),
    ];
    for (path, ct, body, status, code) in cases {
        let res = post_raw(path, ct, body).await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{path} {code}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path} {code}"
        );
        let problem: serde_json::Value = res.json().await.unwrap();
        assert_eq!(problem["code"], code, "{path}: {problem}");
        assert_eq!(problem["status"], status);
        assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(problem["type"], format!("/problems/{code}"));
    }
    assert_eq!(app.db.store.count_users().await.unwrap(), users_before);
    assert!(app.db.store.list_units().await.unwrap().is_empty());
    assert!(app.db.store.list_workstations().await.unwrap().is_empty());
    assert!(app.db.store.list_devices().await.unwrap().is_empty());

    // A secret in a wrongly typed field is not echoed back.
    let res = post_raw(
        "/api/v1/session",
        "application/json",
        json!({"username": "chief", "password": 12345, "acknowledge_notice": true})
            .to_string()
            .into_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    assert!(!res.text().await.unwrap().contains("12345"));

    // Unknown places and methods.
    let (status, body) = app.get("/api/v1/nowhere", Some(&admin)).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let res = app
        .http
        .patch(app.url("/api/v1/users"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    // Without a session, or with a made-up one.
    let (status, body) = app.get("/api/v1/users", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    assert_eq!(app.get("/api/v1/users", Some("made-up-token")).await.0, 401);
    // A non-administrator cannot administer.
    let jane = app
        .onboard("jane", &[Role::Officer, Role::Supervisor])
        .await;
    let (status, body) = app
        .post(
            "/api/v1/users",
            Some(&jane.token),
            json!({"username": "kyle", "display_name": "Kyle", "roles": ["administrator"]}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    // Duplicates conflict.
    let (status, body) = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "jane", "display_name": "Jane", "roles": ["officer"]}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")));
}
dbtest!(bad_input_is_refused_and_changes_nothing);

async fn cookie_sessions_need_the_csrf_token(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin().await;
    let cookie = format!("precinct_session={admin}");
    let body = json!({"username": "lena", "display_name": "Lena", "roles": ["officer"]});
    let res = app
        .http
        .post(app.url("/api/v1/users"))
        .header("cookie", &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "csrf_token_invalid");
    assert_eq!(app.db.store.count_users().await.unwrap(), 1);
    // Reads need no token.
    let res = app
        .http
        .get(app.url("/api/v1/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}
dbtest!(cookie_sessions_need_the_csrf_token);
