//! Channels over real TLS: registered, unregistered, disabled and revoked
//! client certificates, network ranges, and the trusted-proxy header from
//! trusted and untrusted peers.

use precinct_domain::channel::DeviceKind;
use precinct_domain::ids::UnitId;
use precinct_domain::org::UnitKind;
use precinct_domain::Role;
use precinct_server::pki::{DepartmentCa, IssuedCertificate};
use precinct_server::service::admin::Actor;
use serde_json::json;

use crate::support::{dbtest, get_with, AppOptions, TestApp, TestDb};

async fn precinct_unit(app: &TestApp) -> UnitId {
    app.services
        .create_unit(
            Actor::Console,
            "Central Precinct",
            UnitKind::Precinct,
            None,
            None,
        )
        .await
        .unwrap()
        .id
}

/// Registers a workstation with a freshly issued certificate.
async fn workstation(
    app: &TestApp,
    unit: UnitId,
    name: &str,
    networks: &[&str],
) -> (precinct_domain::ids::WorkstationId, IssuedCertificate) {
    let nets = networks.iter().map(|n| n.parse().unwrap()).collect();
    let ws = app
        .services
        .add_workstation(Actor::Console, name, unit, nets)
        .await
        .unwrap();
    let cert = app.ca.as_ref().unwrap().issue_client(name, 30).unwrap();
    app.services
        .register_workstation_certificate(Actor::Console, ws.id, &cert.fingerprint)
        .await
        .unwrap();
    (ws.id, cert)
}

async fn channel_of(
    client: &reqwest::Client,
    app: &TestApp,
    token: &str,
) -> (u16, serde_json::Value) {
    let (status, body) = get_with(client, &app.url("/api/v1/me"), Some(token)).await;
    (status, body["channel"].clone())
}

async fn channel_from_client_certificates(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        AppOptions {
            tls: true,
            ..Default::default()
        },
    )
    .await;
    let unit = precinct_unit(&app).await;
    let (ws_id, ws_cert) = workstation(&app, unit, "desk 4", &[]).await;
    let gina = app.onboard("gina", &[Role::Officer]).await;

    // No certificate: off-site.
    let plain = app.client_with_cert(None);
    let (status, ch) = channel_of(&plain, &app, &gina.token).await;
    assert_eq!(status, 200);
    assert_eq!(ch, json!({"kind": "offsite", "description": "Off-site"}));

    // The registered workstation certificate.
    let desk = app.client_with_cert(Some(&ws_cert));
    let (_, ch) = channel_of(&desk, &app, &gina.token).await;
    assert_eq!(ch["kind"], "workstation");
    assert_eq!(
        ch["description"],
        "Designated workstation: Central Precinct, desk 4"
    );

    // A certificate nobody registered, even one from the department CA:
    // a clear 403 problem, before any handler runs.
    let stray = app
        .ca
        .as_ref()
        .unwrap()
        .issue_client("desk 99", 30)
        .unwrap();
    let res = app
        .client_with_cert(Some(&stray))
        .get(app.url("/api/v1/me"))
        .bearer_auth(&gina.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "unregistered_certificate");
    // A certificate from another CA altogether gets the same answer.
    let foreign = DepartmentCa::generate_ephemeral()
        .unwrap()
        .issue_client("desk 4", 30)
        .unwrap();
    let (status, body) = get_with(
        &app.client_with_cert(Some(&foreign)),
        &app.url("/api/v1/me"),
        Some(&gina.token),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("unregistered_certificate"))
    );

    // Disabling the workstation takes effect on the next request, on the same connection.
    app.services
        .set_workstation_enabled(Actor::Console, ws_id, false)
        .await
        .unwrap();
    let (_, ch) = channel_of(&desk, &app, &gina.token).await;
    assert_eq!(ch["kind"], "offsite");
    app.services
        .set_workstation_enabled(Actor::Console, ws_id, true)
        .await
        .unwrap();
    assert_eq!(
        channel_of(&desk, &app, &gina.token).await.1["kind"],
        "workstation"
    );

    // An enrolled department device, then revoked.
    let dev = app
        .services
        .enroll_device(
            Actor::Console,
            "laptop 7",
            DeviceKind::Laptop,
            Some(gina.id),
        )
        .await
        .unwrap();
    let dev_cert = app
        .ca
        .as_ref()
        .unwrap()
        .issue_client("laptop 7", 30)
        .unwrap();
    app.services
        .register_device_certificate(Actor::Console, dev.id, &dev_cert.fingerprint)
        .await
        .unwrap();
    let laptop = app.client_with_cert(Some(&dev_cert));
    let (_, ch) = channel_of(&laptop, &app, &gina.token).await;
    assert_eq!(
        ch,
        json!({"kind": "department_device", "description": "Department laptop: laptop 7"})
    );
    app.services
        .revoke_device(Actor::Console, dev.id)
        .await
        .unwrap();
    assert_eq!(
        channel_of(&laptop, &app, &gina.token).await.1["kind"],
        "offsite"
    );

    // A workstation bound to a network it is not on counts as off-site.
    let (_, far) = workstation(&app, unit, "desk 5", &["192.0.2.0/24"]).await;
    assert_eq!(
        channel_of(&app.client_with_cert(Some(&far)), &app, &gina.token)
            .await
            .1["kind"],
        "offsite"
    );
    let (_, near) = workstation(&app, unit, "desk 6", &["127.0.0.0/8"]).await;
    assert_eq!(
        channel_of(&app.client_with_cert(Some(&near)), &app, &gina.token)
            .await
            .1["kind"],
        "workstation"
    );

    // The same certificate cannot be bound twice.
    let again = app
        .services
        .register_device_certificate(Actor::Console, dev.id, &ws_cert.fingerprint)
        .await;
    assert!(again.is_err());
}
dbtest!(channel_from_client_certificates);

fn escaped_pem(cert: &IssuedCertificate) -> String {
    urlencoding::encode(&cert.cert_pem).into_owned()
}

async fn proxy_header_believed_only_from_trusted_proxies(db: TestDb) {
    // This server trusts the loopback address as its load balancer.
    let app = TestApp::spawn_with(
        db.clone(),
        AppOptions {
            trusted_proxies: vec!["127.0.0.1/32"],
            ..Default::default()
        },
    )
    .await;
    let dept = DepartmentCa::generate_ephemeral().unwrap();
    let unit = precinct_unit(&app).await;
    let ws = app
        .services
        .add_workstation(
            Actor::Console,
            "desk 4",
            unit,
            vec!["10.20.0.0/16".parse().unwrap()],
        )
        .await
        .unwrap();
    let cert = dept.issue_client("desk 4", 30).unwrap();
    app.services
        .register_workstation_certificate(Actor::Console, ws.id, &cert.fingerprint)
        .await
        .unwrap();
    let hank = app.onboard("hank", &[Role::Officer]).await;

    let me = |headers: Vec<(&'static str, String)>| {
        let mut req = app.http.get(app.url("/api/v1/me")).bearer_auth(&hank.token);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    // The proxy verified the certificate and forwards it with the client's address.
    let (status, body) = me(vec![
        ("x-client-cert", escaped_pem(&cert)),
        ("x-forwarded-for", "10.20.3.4".into()),
    ])
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["channel"]["description"],
        "Designated workstation: Central Precinct, desk 4"
    );
    // A fingerprint form of the header works too.
    let (_, body) = me(vec![
        ("x-client-cert", cert.fingerprint.to_string()),
        ("x-forwarded-for", "10.20.3.4".into()),
    ])
    .await;
    assert_eq!(body["channel"]["kind"], "workstation");
    // A client cannot pretend to be inside: proxies append the address they
    // saw, so only the right end of the list counts.
    let (_, body) = me(vec![
        ("x-client-cert", escaped_pem(&cert)),
        ("x-forwarded-for", "10.20.3.4, 198.51.100.7".into()),
    ])
    .await;
    assert_eq!(
        body["channel"]["kind"], "offsite",
        "a spoofed first hop is ignored"
    );
    // From outside the workstation's network: off-site.
    let (_, body) = me(vec![
        ("x-client-cert", escaped_pem(&cert)),
        ("x-forwarded-for", "198.51.100.7".into()),
    ])
    .await;
    assert_eq!(body["channel"]["kind"], "offsite");
    // No header: off-site. Garbage header: 400. Unknown certificate: 403.
    assert_eq!(me(vec![]).await.1["channel"]["kind"], "offsite");
    let (status, body) = me(vec![("x-client-cert", "not a certificate".into())]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_client_certificate_header"))
    );
    let stranger = dept.issue_client("desk 99", 30).unwrap();
    let (status, body) = me(vec![("x-client-cert", escaped_pem(&stranger))]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("unregistered_certificate"))
    );

    // A server whose trusted proxy is elsewhere ignores the same header from us.
    let strict = TestApp::spawn_with(
        db,
        AppOptions {
            trusted_proxies: vec!["10.99.0.0/16"],
            ..Default::default()
        },
    )
    .await;
    let res = strict
        .http
        .get(strict.url("/api/v1/me"))
        .bearer_auth(&hank.token)
        .header("x-client-cert", escaped_pem(&cert))
        .header("x-forwarded-for", "10.20.3.4")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["channel"]["kind"], "offsite", "{body}");
}
dbtest!(proxy_header_believed_only_from_trusted_proxies);
