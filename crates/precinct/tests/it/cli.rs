//! The `precinct` command as an administrator uses it: set up a precinct,
//! a workstation and its certificate with the department PKI, then serve
//! over TLS and connect from that workstation.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_precinct");

fn precinct(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("PRECINCT_DATABASE_URL")
        .output()
        .expect("run precinct");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "precinct {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn precinct_fails(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("run precinct");
    assert!(!out.status.success(), "precinct {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn every_command_has_help() {
    for cmd in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["user", "add", "--help"],
        vec!["user", "list", "--help"],
        vec!["user", "disable", "--help"],
        vec!["user", "unlock", "--help"],
        vec!["user", "reset-mfa", "--help"],
        vec!["workstation", "add", "--help"],
        vec!["workstation", "list", "--help"],
        vec!["workstation", "disable", "--help"],
        vec!["device", "enroll", "--help"],
        vec!["device", "list", "--help"],
        vec!["device", "revoke", "--help"],
        vec!["pki", "init", "--help"],
        vec!["pki", "issue", "--help"],
    ] {
        let out = Command::new(BIN).args(&cmd).output().unwrap();
        assert!(out.status.success(), "{cmd:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{cmd:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_sets_up_a_workstation_and_serves_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.as_path();

    precinct(data, &["migrate"]);
    precinct(
        data,
        &["unit", "add", "Central Precinct", "--kind", "precinct"],
    );
    let out = precinct(
        data,
        &[
            "user",
            "add",
            "sam",
            "--name",
            "Sam Spade",
            "--roles",
            "officer,detective",
            "--unit",
            "Central Precinct",
        ],
    );
    assert!(out.contains("one-time password"), "{out}");
    let list = precinct(data, &["user", "list"]);
    assert!(list.contains("sam") && list.contains("detective"), "{list}");
    assert!(precinct_fails(
        data,
        &["user", "add", "Bad Name", "--name", "x", "--roles", "officer"]
    )
    .contains("username"));
    assert!(precinct_fails(
        data,
        &["user", "add", "tom", "--name", "Tom", "--roles", "sheriff"]
    )
    .contains("role"));

    precinct(
        data,
        &["workstation", "add", "desk 4", "--unit", "Central Precinct"],
    );
    precinct(
        data,
        &[
            "device", "enroll", "laptop 7", "--kind", "laptop", "--user", "sam",
        ],
    );
    precinct(data, &["pki", "init"]);
    assert!(precinct_fails(data, &["pki", "init"])
        .to_lowercase()
        .contains("already"));
    let issued = precinct(
        data,
        &[
            "pki",
            "issue",
            "--workstation",
            "desk 4",
            "--out",
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(issued.contains("fingerprint"), "{issued}");
    let ws = precinct(data, &["workstation", "list"]);
    assert!(
        ws.contains("desk 4") && ws.contains("Central Precinct"),
        "{ws}"
    );
    precinct(data, &["device", "revoke", "laptop 7"]);
    assert!(precinct(data, &["device", "list"]).contains("revoked"));

    // Serve over TLS on a free port; the first start prints the admin's one-time password.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--tls", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut admin_password = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        if let Some(p) = line.split("one-time password:").nth(1) {
            admin_password = Some(p.trim().trim_end_matches('|').trim().to_owned());
        }
        if line.contains("listening on") {
            break;
        }
    }
    let admin_password =
        admin_password.expect("the first start prints the administrator's password");

    let ca = std::fs::read(data.join("pki/ca.pem")).unwrap();
    let cert = std::fs::read_to_string(dir.path().join("desk_4.pem")).unwrap();
    let key = std::fs::read_to_string(dir.path().join("desk_4-key.pem")).unwrap();
    let identity = reqwest::Identity::from_pem(format!("{cert}\n{key}").as_bytes()).unwrap();
    let client = |id: Option<reqwest::Identity>| {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap());
        if let Some(id) = id {
            b = b.identity(id);
        }
        b.build().unwrap()
    };
    let base = format!("https://localhost:{port}");
    let desk = client(Some(identity));
    let res = desk.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // The login page, seen from the registered workstation, names it.
    let page = desk
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Designated workstation: Central Precinct, desk 4"),
        "{page}"
    );
    let page = client(None)
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Off-site"));
    // The printed password logs the administrator in (first step).
    let res = desk
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({"username": "admin", "password": admin_password, "acknowledge_notice": true}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["stage"], "change_password", "{body}");
}

/// Kills a real server with SIGKILL while it answers requests and sequences,
/// three times; after each restart the log verifies and holds the event of
/// every request that was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let mut up = false;
        for _ in 0..100 {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "server {round} did not start");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (client, base, stop) = (client.clone(), base.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let res = client
                        .post(format!("{base}/api/v1/session"))
                        .json(&serde_json::json!({"username": "nobody", "password": "a wrong password", "acknowledge_notice": true}))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().as_u16() == 401 => {
                            if let Some(id) = r.headers().get("x-request-id").and_then(|v| v.to_str().ok()) {
                                ids.push(id.to_owned());
                            }
                        }
                        _ => break,
                    }
                }
                ids
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500 + 300 * round)).await;
        // SIGKILL: no shutdown, no final sequencing.
        child.kill().unwrap();
        child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            acknowledged.extend(t.await.unwrap());
        }
    }
    assert!(
        acknowledged.len() > 20,
        "only {} requests were answered",
        acknowledged.len()
    );
    // Restart, let it sequence, and check.
    precinct(
        &data,
        &[
            "audit",
            "export",
            "--out",
            dir.path().join("all").to_str().unwrap(),
        ],
    );
    let out = precinct(&data, &["audit", "verify"]);
    assert!(out.contains("The audit log verifies"), "{out}");
    let bundle = std::fs::read_to_string(dir.path().join("all/bundle.json")).unwrap();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !bundle.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events are missing, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    // The bundle verifies offline, and a tampered one does not.
    let key = precinct(&data, &["audit", "key"]);
    let file = dir.path().join("all/bundle.json");
    let ok = precinct(
        &data,
        &[
            "audit",
            "verify-bundle",
            file.to_str().unwrap(),
            "--key",
            key.trim(),
        ],
    );
    assert!(ok.contains("Verified"), "{ok}");
    let tampered = bundle.replacen("\"outcome\": \"denied\"", "\"outcome\": \"allowed\"", 1);
    assert_ne!(tampered, bundle);
    std::fs::write(&file, tampered).unwrap();
    let err = precinct_fails(
        &data,
        &[
            "audit",
            "verify-bundle",
            file.to_str().unwrap(),
            "--key",
            key.trim(),
        ],
    );
    assert!(err.contains("NOT VERIFIED"), "{err}");
}

#[test]
fn audit_verify_on_the_command_line_names_a_tampered_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    precinct(
        &data,
        &["unit", "add", "North Precinct", "--kind", "precinct"],
    );
    precinct(
        &data,
        &["user", "add", "una", "--name", "Una", "--roles", "officer"],
    );
    precinct(
        &data,
        &[
            "audit",
            "export",
            "--out",
            dir.path().join("x").to_str().unwrap(),
        ],
    );
    assert!(precinct(&data, &["audit", "verify"]).contains("The audit log verifies"));
    let db = format!("sqlite://{}", data.join("precinct.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(crate::support::raw_sql(
        &db,
        "UPDATE audit_events SET entry = CAST(REPLACE(CAST(entry AS TEXT), '\"outcome\":\"allowed\"', \
         '\"outcome\":\"denied\"') AS BLOB) WHERE action = 'user.create'",
    ))
    .unwrap();
    let err = precinct_fails(&data, &["audit", "verify"]);
    assert!(
        err.contains("DOES NOT VERIFY") && err.contains("was changed after it was logged"),
        "{err}"
    );
}

const SHIPPED_POLICY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/precinct.cedar");

#[test]
fn policy_files_are_checked_and_an_invalid_one_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let out = precinct(dir.path(), &["policy", "check", SHIPPED_POLICY]);
    assert!(out.contains("valid"), "{out}");
    let broken = dir.path().join("broken.cedar");
    let text = std::fs::read_to_string(SHIPPED_POLICY)
        .unwrap()
        .replace("principal.on_duty", "principal.on_dutty");
    std::fs::write(&broken, text).unwrap();
    let err = precinct_fails(dir.path(), &["policy", "check", broken.to_str().unwrap()]);
    assert!(
        err.contains("is not valid") && err.contains("on_dutty"),
        "{err}"
    );
    // The server refuses to start on it, saying why.
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "--policy-file",
            broken.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("PRECINCT_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.cedar is not valid"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_explain_names_the_deciding_policies() {
    use precinct_domain::org::UnitKind;
    use precinct_domain::Role;
    use precinct_server::service::admin::{Actor, CreateUser};
    use precinct_server::service::audit::Origin;
    use precinct_server::service::cases::{Asker, OpenCase};

    let dir = tempfile::tempdir().unwrap();
    precinct(dir.path(), &["migrate"]);
    let url = format!("sqlite://{}", dir.path().join("precinct.db").display());
    let store = precinct_store::Store::open(&url).await.unwrap();
    let services = precinct_server::service::Services::new(
        store.clone(),
        std::sync::Arc::new(precinct_domain::SystemClock),
        Default::default(),
        precinct_server::service::auditlog::ephemeral_log_key(),
        precinct_policy::PolicyEngine::shipped().unwrap(),
    );
    let unit = services
        .create_unit(Actor::Console, "Burglary", UnitKind::Precinct, None, None)
        .await
        .unwrap();
    let (user, _) = services
        .create_user(
            Actor::Console,
            CreateUser {
                username: "dana".into(),
                display_name: "Dana".into(),
                roles: vec![Role::Detective],
                units: vec![unit.id],
            },
        )
        .await
        .unwrap();
    let origin = Origin {
        channel: "workstation".into(),
        ..Origin::console()
    };
    let case = services
        .open_case(
            Asker {
                user: &user,
                origin: &origin,
            },
            OpenCase {
                title: "Burglary at the bakery".into(),
                offense: "220".into(),
                classification: None,
                unit: unit.id,
                narrative: String::new(),
                due: None,
                lead: None,
                team: vec![],
            },
        )
        .await
        .unwrap();
    store.close().await;
    let number = case.number.to_string();
    let out = precinct(
        dir.path(),
        &[
            "policy",
            "explain",
            "--user",
            "dana",
            "--case",
            &number,
            "--channel",
            "offsite",
        ],
    );
    assert!(
        out.starts_with(&format!("DENIED: dana view case {number} from offsite")),
        "{out}"
    );
    assert!(out.contains("designated-workstation-only"), "{out}");
    assert!(
        out.contains("is available only at a designated workstation"),
        "{out}"
    );
    let out = precinct(
        dir.path(),
        &["policy", "explain", "--user", "dana", "--case", &number],
    );
    assert!(
        out.starts_with("ALLOWED") && out.contains("need-to-know"),
        "{out}"
    );
}
