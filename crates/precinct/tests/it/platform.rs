//! The platform around the API: probes, metrics, the OpenAPI document,
//! security headers, the first administrator and the migration trees.

use precinct_store::{migration_versions, Engine};

use crate::support::{dbtest, TestApp, TestDb};

#[test]
fn migration_trees_move_in_lock_step() {
    let sqlite = migration_versions(Engine::Sqlite);
    let postgres = migration_versions(Engine::Postgres);
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "the SQLite and PostgreSQL migration trees differ"
    );
    let names = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(format!(
            "{}/../precinct-store/migrations/{dir}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"), "file names differ");
}

async fn probes_metrics_openapi_and_headers(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);

    let admin = app.admin().await;
    let res = app
        .http
        .get(app.url("/api/v1/me"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let h = res.headers();
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h.contains_key("x-request-id"));

    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("precinct_logins_total{outcome=\"password_ok\"}"),
        "{text}"
    );
    assert!(
        text.contains("precinct_requests_by_channel_total{channel=\"offsite\"}"),
        "{text}"
    );

    let (status, doc) = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/session",
        "/api/v1/session/mfa",
        "/api/v1/users",
        "/api/v1/users/{id}/unlock",
        "/api/v1/workstations",
        "/api/v1/devices/{id}/revoke",
        "/api/v1/units",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());
}
dbtest!(probes_metrics_openapi_and_headers);

async fn first_start_creates_one_administrator(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let first = app
        .services
        .ensure_first_admin()
        .await
        .unwrap()
        .expect("a password on first start");
    assert!(first.expose().len() >= 16);
    assert!(
        app.services.ensure_first_admin().await.unwrap().is_none(),
        "only once"
    );
    let (status, body) = app.login("admin", first.expose()).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["stage"], "change_password",
        "must set a new password, then enrol MFA"
    );
}
dbtest!(first_start_creates_one_administrator);
