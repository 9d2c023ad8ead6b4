//! Cases under need-to-know, over the API on both engines: the
//! authorization matrix (role × connection × channel × classification ×
//! sealed), masking of protected people, search that never leaks,
//! append-only documentation, the life cycle, bad input that changes
//! nothing, encrypted attachments and break-glass.

use precinct_domain::channel::DeviceKind;
use precinct_domain::ids::{DeviceId, UnitId, UserId};
use precinct_domain::org::UnitKind;
use precinct_domain::{Fingerprint, Role};
use precinct_server::service::admin::Actor;
use precinct_store::EventFilter;
use serde_json::{json, Value};
use std::collections::HashMap;

use crate::support::{dbtest, raw_sql, read, AppOptions, TestApp, TestDb};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ch {
    Workstation,
    Device,
    Offsite,
}

pub(crate) struct Dept {
    pub(crate) app: TestApp,
    pub(crate) ws: Fingerprint,
    pub(crate) device: Fingerprint,
    /// The laptop the device certificate belongs to, assigned to `lead`.
    pub(crate) device_id: DeviceId,
    pub(crate) burglary: UnitId,
    pub(crate) fraud: UnitId,
    /// Tokens by username.
    pub(crate) tokens: HashMap<&'static str, String>,
    pub(crate) ids: HashMap<&'static str, UserId>,
}

fn random_fingerprint() -> Fingerprint {
    Fingerprint::parse(&format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    ))
    .unwrap()
}

/// Central precinct (captain `cap`) with Burglary (sergeant `sgt`) and
/// Fraud (sergeant `fsgt`); a workstation and a department laptop that a
/// trusted proxy on the loopback address vouches for.
pub(crate) async fn department(db: TestDb) -> Dept {
    department_with(db, None).await
}

/// The same department, e-mailing notifications through `mail`.
pub(crate) async fn department_with(
    db: TestDb,
    mail: Option<precinct_server::service::mail::MailSettings>,
) -> Dept {
    let app = TestApp::spawn_with(
        db,
        AppOptions {
            trusted_proxies: vec!["127.0.0.1/32"],
            mail,
            ..Default::default()
        },
    )
    .await;
    let s = &app.services;
    let central = s
        .create_unit(Actor::Console, "Central", UnitKind::Precinct, None, None)
        .await
        .unwrap()
        .id;
    let burglary = s
        .create_unit(
            Actor::Console,
            "Burglary",
            UnitKind::Unit,
            Some(central),
            None,
        )
        .await
        .unwrap()
        .id;
    let fraud = s
        .create_unit(Actor::Console, "Fraud", UnitKind::Unit, Some(central), None)
        .await
        .unwrap()
        .id;
    let people: [(&'static str, &[Role], Vec<UnitId>); 9] = [
        ("lead", &[Role::Officer], vec![burglary]),
        ("mate", &[Role::Detective], vec![burglary]),
        ("other", &[Role::Officer], vec![burglary]),
        ("sgt", &[Role::Supervisor], vec![burglary]),
        ("fsgt", &[Role::Supervisor], vec![fraud]),
        ("cap", &[Role::Supervisor], vec![central]),
        ("clerk", &[Role::RecordsClerk], vec![burglary]),
        ("aud", &[Role::Auditor], vec![]),
        ("adm", &[Role::Administrator], vec![]),
    ];
    let mut tokens = HashMap::new();
    let mut ids = HashMap::new();
    for (name, roles, units) in people {
        let o = app.onboard_in(name, roles, units).await;
        tokens.insert(name, o.token);
        ids.insert(name, o.id);
    }
    // Setting supervisors changes units only, so sessions stay.
    s.set_unit_supervisor(Actor::Console, burglary, Some(ids["sgt"]))
        .await
        .unwrap();
    s.set_unit_supervisor(Actor::Console, fraud, Some(ids["fsgt"]))
        .await
        .unwrap();
    s.set_unit_supervisor(Actor::Console, central, Some(ids["cap"]))
        .await
        .unwrap();
    let ws = random_fingerprint();
    let w = s
        .add_workstation(Actor::Console, "burglary desk 1", burglary, vec![])
        .await
        .unwrap();
    s.register_workstation_certificate(Actor::Console, w.id, &ws)
        .await
        .unwrap();
    let device = random_fingerprint();
    let d = s
        .enroll_device(
            Actor::Console,
            "laptop 7",
            DeviceKind::Laptop,
            Some(ids["lead"]),
        )
        .await
        .unwrap();
    s.register_device_certificate(Actor::Console, d.id, &device)
        .await
        .unwrap();
    Dept {
        app,
        ws,
        device,
        device_id: d.id,
        burglary,
        fraud,
        tokens,
        ids,
    }
}

impl Dept {
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        who: &str,
        ch: Ch,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .app
            .http
            .request(method, self.app.url(path))
            .bearer_auth(&self.tokens[who]);
        match ch {
            Ch::Workstation => req = req.header("x-client-cert", self.ws.to_string()),
            Ch::Device => req = req.header("x-client-cert", self.device.to_string()),
            Ch::Offsite => {}
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        read(req.send().await.unwrap()).await
    }

    pub(crate) async fn get(&self, path: &str, who: &str, ch: Ch) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, who, ch, None).await
    }

    pub(crate) async fn post(&self, path: &str, who: &str, ch: Ch, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, who, ch, Some(body))
            .await
    }

    /// Opens a Burglary case led by `lead` with `mate` on the team.
    pub(crate) async fn open(&self, title: &str, classification: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/cases",
                "lead",
                Ch::Workstation,
                json!({
                    "title": title, "offense": "220", "classification": classification,
                    "unit": self.burglary, "narrative": "Rear window forced on Elm Street.",
                    "team": [self.ids["mate"]],
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn events(
        &self,
        action: &str,
        object: &str,
        outcome: &str,
    ) -> Vec<precinct_audit::event::AuditEvent> {
        let kind = if action.starts_with("case.") {
            "case"
        } else {
            "document"
        };
        let f = EventFilter {
            action: Some(action.into()),
            object_type: Some(kind.into()),
            object_id: Some(object.into()),
            outcome: Some(outcome.into()),
            ..Default::default()
        };
        self.app
            .db
            .store
            .search_events(&f, 10_000, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }
}

const USERS: [&str; 8] = [
    "lead", "mate", "other", "sgt", "fsgt", "clerk", "aud", "adm",
];

/// Expected status of `GET /api/v1/cases/{id}` for each user, as
/// (workstation, department device, off-site) for a case of each kind.
/// 200 allowed; 403 refused with the reason (the user is connected to the
/// case or is a supervisor who could break the glass); 404 refused as if
/// the case did not exist.
fn expected(user: &str) -> [[u16; 3]; 3] {
    match user {
        // Lead (named): everything at the workstation, nothing elsewhere.
        "lead" => [[200, 403, 403], [200, 403, 403], [200, 403, 403]],
        // Team member, not named: no restricted, no sealed material.
        "mate" => [[200, 403, 403], [403, 403, 403], [403, 403, 403]],
        // The unit's supervisor: restricted yes, sealed no.
        "sgt" => [[200, 403, 403], [200, 403, 403], [403, 403, 403]],
        // Another unit's supervisor: told why (could break the glass).
        "fsgt" => [[403, 403, 403], [403, 403, 403], [403, 403, 403]],
        // No connection, no break-glass: as if there were no case.
        _ => [[404, 404, 404], [404, 404, 404], [404, 404, 404]],
    }
}

async fn authorization_matrix(db: TestDb) {
    let d = department(db).await;
    let normal = d.open("Burglary at 12 Elm Street", "case").await;
    let restricted = d.open("Burglary by a juvenile", "restricted").await;
    let sealed = d.open("Burglary, record sealed", "case").await;
    for t in ["activate", "close"] {
        let (s, b) = d
            .post(
                &format!("/api/v1/cases/{sealed}/status"),
                "lead",
                Ch::Workstation,
                json!({"transition": t}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = d
        .post(
            &format!("/api/v1/cases/{sealed}/status"),
            "sgt",
            Ch::Workstation,
            json!({"transition": "seal", "court_order": "CR-2026-0042"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    let cases = [&normal, &restricted, &sealed];
    let channels = [Ch::Workstation, Ch::Device, Ch::Offsite];
    let mut cells = 0;
    for user in USERS {
        for (ci, case) in cases.iter().enumerate() {
            for (hi, ch) in channels.iter().enumerate() {
                let denied_before = d.events("case.read", case, "denied").await.len();
                let (status, body) = d.get(&format!("/api/v1/cases/{case}"), user, *ch).await;
                let want = expected(user)[ci][hi];
                assert_eq!(status, want, "{user} case#{ci} {ch:?}: {body}");
                let denied_after = d.events("case.read", case, "denied").await.len();
                match status {
                    200 => {
                        assert_eq!(body["id"], **case);
                        assert_eq!(denied_after, denied_before);
                    }
                    403 => {
                        assert_eq!(body["code"], "access_denied", "{body}");
                        assert_eq!(
                            denied_after,
                            denied_before + 1,
                            "{user} {ch:?}: denial audited"
                        );
                    }
                    _ => {
                        assert_eq!(body["code"], "not_found", "{body}");
                        assert_eq!(
                            denied_after,
                            denied_before + 1,
                            "{user} {ch:?}: denial audited"
                        );
                    }
                }
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 72);

    // The user is told why, in the department's words.
    let (_, body) = d
        .get(&format!("/api/v1/cases/{normal}"), "lead", Ch::Offsite)
        .await;
    let number = d
        .get(&format!("/api/v1/cases/{normal}"), "lead", Ch::Workstation)
        .await
        .1["number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        body["title"],
        format!("Case {number} is available only at a designated workstation")
    );
    let (_, body) = d
        .get(&format!("/api/v1/cases/{sealed}"), "mate", Ch::Workstation)
        .await;
    assert!(
        body["title"]
            .as_str()
            .unwrap()
            .contains("sealed by court order"),
        "{body}"
    );
    // Each denial names the deciding policy in the audit trail.
    let off = d.events("case.read", &normal, "denied").await;
    assert!(off
        .iter()
        .any(|e| e.reason.as_deref() == Some("designated-workstation-only")));
    assert!(off
        .iter()
        .all(|e| e.actor_id.is_some() && e.request_id.is_some()));

    // Writing: the team at the workstation; on the department device only
    // on duty (duty status arrives with off-site work, so not yet).
    let report = json!({"kind": "report", "title": "Canvass of the street", "body": "Two neighbours saw a van."});
    for (user, ch, want) in [
        ("mate", Ch::Workstation, 201),
        ("lead", Ch::Device, 403),
        ("lead", Ch::Offsite, 403),
        ("other", Ch::Workstation, 404),
        ("adm", Ch::Workstation, 404),
    ] {
        let (s, b) = d
            .post(
                &format!("/api/v1/cases/{normal}/documents"),
                user,
                ch,
                report.clone(),
            )
            .await;
        assert_eq!(s, want, "{user} {ch:?}: {b}");
    }
    // Managing: the lead and the unit's supervisor.
    for (user, want) in [("mate", 403), ("sgt", 201), ("lead", 201)] {
        let (s, b) = d
            .post(
                &format!("/api/v1/cases/{normal}/tasks"),
                user,
                Ch::Workstation,
                json!({"title": "Collect doorbell video"}),
            )
            .await;
        assert_eq!(s, want, "{user}: {b}");
    }
    // Opening cases: only in one's own unit, only at a workstation.
    let open = |unit: UnitId| json!({"title": "Bicycle theft", "offense": "23C", "unit": unit, "narrative": ""});
    assert_eq!(
        d.post("/api/v1/cases", "lead", Ch::Offsite, open(d.burglary))
            .await
            .0,
        403
    );
    assert_eq!(
        d.post("/api/v1/cases", "lead", Ch::Workstation, open(d.fraud))
            .await
            .0,
        403
    );
    assert_eq!(
        d.post("/api/v1/cases", "adm", Ch::Workstation, open(d.burglary))
            .await
            .0,
        403
    );
}
dbtest!(authorization_matrix);

async fn protected_people_are_masked_everywhere(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary with a young witness", "case").await;
    let (s, b) = d
        .post(
            &format!("/api/v1/cases/{case}/people"),
            "mate",
            Ch::Workstation,
            json!({"role": "witness", "name": "Robin Quayle", "address": "4 Larch Lane",
                   "phone": "+1 555 0101", "date_of_birth": "2012-05-06", "juvenile": true}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, _) = d
        .post(
            &format!("/api/v1/cases/{case}/people"),
            "lead",
            Ch::Workstation,
            json!({"role": "victim", "name": "Morgan Vale"}),
        )
        .await;
    assert_eq!(s, 201);

    let person = |body: &Value, role: &str| {
        body["people"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["role"] == role)
            .cloned()
            .unwrap()
    };
    // The lead is named by the case: unmasked.
    let (_, lead_view) = d
        .get(&format!("/api/v1/cases/{case}"), "lead", Ch::Workstation)
        .await;
    let w = person(&lead_view, "witness");
    assert_eq!(w["name"], "Robin Quayle");
    assert_eq!(w["masked"], false);
    // The team member who added the witness and the unit's supervisor are
    // not named: every identifying detail is masked.
    for user in ["mate", "sgt"] {
        let (s, view) = d
            .get(&format!("/api/v1/cases/{case}"), user, Ch::Workstation)
            .await;
        assert_eq!(s, 200);
        let w = person(&view, "witness");
        assert_eq!(w["masked"], true, "{user}");
        for field in ["name", "address", "phone", "date_of_birth"] {
            assert_eq!(w[field], "[protected]", "{user} {field}");
        }
        assert!(!view.to_string().contains("Quayle"), "{user}: {view}");
        assert!(!view.to_string().contains("Larch"), "{user}");
        // An unprotected victim is shown.
        assert_eq!(person(&view, "victim")["name"], "Morgan Vale");
    }
    // Search by the protected name finds the case only for named users.
    let (_, r) = d
        .get("/api/v1/cases/search?q=Quayle", "lead", Ch::Workstation)
        .await;
    assert_eq!(r["total"], 1, "{r}");
    for user in ["mate", "sgt"] {
        let (_, r) = d
            .get("/api/v1/cases/search?q=Quayle", user, Ch::Workstation)
            .await;
        assert_eq!(r["total"], 0, "{user}: {r}");
        assert_eq!(r["results"], json!([]));
    }
    let (_, r) = d
        .get("/api/v1/cases/search?q=Vale", "mate", Ch::Workstation)
        .await;
    assert_eq!(r["total"], 1, "{r}");
    // Naming the team member opens the identity to them.
    let (s, b) = d
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/cases/{case}/assignment"),
            "sgt",
            Ch::Workstation,
            Some(json!({"lead": d.ids["lead"], "team": [d.ids["mate"]], "named": [d.ids["mate"]]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, view) = d
        .get(&format!("/api/v1/cases/{case}"), "mate", Ch::Workstation)
        .await;
    assert_eq!(person(&view, "witness")["name"], "Robin Quayle");
    // Neither the timeline nor the audit trail carries the identity.
    assert!(!lead_view["timeline"].to_string().contains("Quayle"));
    let all = d
        .app
        .db
        .store
        .search_events(&EventFilter::default(), 100_000, 0)
        .await
        .unwrap();
    let text = serde_json::to_string(&all.iter().map(|(_, e)| e).collect::<Vec<_>>()).unwrap();
    assert!(!text.contains("Quayle") && !text.contains("Larch"));
}
dbtest!(protected_people_are_masked_everywhere);

async fn search_never_leaks(db: TestDb) {
    let d = department(db).await;
    let visible = d.open("Burglary of a jewellery shop", "case").await;
    // A Fraud case, opened by the Fraud sergeant: out of reach of everyone
    // in Burglary below the captain.
    let (s, b) = d
        .post(
            "/api/v1/cases",
            "fsgt",
            Ch::Workstation,
            json!({"title": "Jewellery invoice fraud", "offense": "26A", "unit": d.fraud,
                   "narrative": "Forged jewellery invoices."}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let hidden = b["id"].as_str().unwrap().to_owned();
    let hidden_number = b["number"].as_str().unwrap().to_owned();

    let d = &d;
    let search = |who: &'static str, q: &'static str| async move {
        d.get(&format!("/api/v1/cases/search?q={q}"), who, Ch::Workstation)
            .await
    };
    let (_, r) = search("lead", "jewellery").await;
    assert_eq!(r["total"], 1, "{r}");
    assert_eq!(r["results"][0]["id"], visible);
    let (_, r) = search("other", "jewellery").await;
    assert_eq!(r, json!({"total": 0, "page": 1, "results": []}));
    // The captain supervises both units.
    let (_, r) = search("cap", "jewellery").await;
    assert_eq!(r["total"], 2, "{r}");
    // Off-site even the lead finds nothing.
    let (_, r) = d
        .get("/api/v1/cases/search?q=jewellery", "lead", Ch::Offsite)
        .await;
    assert_eq!(r["total"], 0);

    // A hidden case answers exactly as a case that does not exist: by id
    // and by number, status and body alike.
    let missing_id = uuid::Uuid::new_v4().to_string();
    let strip = |mut v: Value| {
        v.as_object_mut().map(|o| o.remove("instance"));
        v
    };
    let (s1, b1) = d
        .get(&format!("/api/v1/cases/{hidden}"), "lead", Ch::Workstation)
        .await;
    let (s2, b2) = d
        .get(
            &format!("/api/v1/cases/{missing_id}"),
            "lead",
            Ch::Workstation,
        )
        .await;
    assert_eq!((s1, strip(b1)), (s2, strip(b2)));
    let (s1, b1) = d
        .get(
            &format!("/api/v1/cases/by-number/{hidden_number}"),
            "lead",
            Ch::Workstation,
        )
        .await;
    let (s2, b2) = d
        .get(
            "/api/v1/cases/by-number/2026-999999",
            "lead",
            Ch::Workstation,
        )
        .await;
    assert_eq!((s1, strip(b1)), (s2, strip(b2)));
    assert_eq!(s1, 404);
    // The number as a search term: the same empty page.
    let (_, r1) = d
        .get(
            &format!("/api/v1/cases/search?q={hidden_number}"),
            "lead",
            Ch::Workstation,
        )
        .await;
    let (_, r2) = d
        .get(
            "/api/v1/cases/search?q=2026-999999",
            "lead",
            Ch::Workstation,
        )
        .await;
    assert_eq!(r1, r2);
    assert_eq!(r1["total"], 0);
    // Searches are audited; bad queries change nothing and say why.
    let (s, b) = d
        .get("/api/v1/cases/search?q=", "lead", Ch::Workstation)
        .await;
    assert_eq!((s, b["code"].as_str()), (422, Some("invalid_input")));
    let (s, _) = d
        .get(
            "/api/v1/cases/search?q=x&sort=desc",
            "lead",
            Ch::Workstation,
        )
        .await;
    assert_eq!(s, 400);
}
dbtest!(search_never_leaks);

/// The search index follows a case's members: a new team member finds the
/// case by its title, its entries and its people; a removed one no longer
/// does.
async fn search_follows_membership(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Theft of a quartz clock", "case").await;
    let (s, b) = d
        .post(
            &format!("/api/v1/cases/{case}/documents"),
            "lead",
            Ch::Workstation,
            json!({"kind": "note", "title": "Canvass", "body": "A neighbour saw a tangerine van."}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = d
        .post(
            &format!("/api/v1/cases/{case}/people"),
            "lead",
            Ch::Workstation,
            json!({"role": "witness", "name": "Avery Pendleton"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let d = &d;
    let totals = |who: &'static str| async move {
        let mut out = Vec::new();
        for q in ["quartz", "tangerine", "Pendleton"] {
            let (s, r) = d
                .get(&format!("/api/v1/cases/search?q={q}"), who, Ch::Workstation)
                .await;
            assert_eq!(s, 200, "{r}");
            out.push(r["total"].as_u64().unwrap_or(99));
        }
        out
    };
    assert_eq!(totals("mate").await, [1, 1, 1]);
    assert_eq!(totals("other").await, [0, 0, 0]);
    let (s, b) = d
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/cases/{case}/assignment"),
            "sgt",
            Ch::Workstation,
            Some(json!({"lead": d.ids["lead"], "team": [d.ids["other"]]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(totals("other").await, [1, 1, 1]);
    assert_eq!(totals("mate").await, [0, 0, 0]);
    assert_eq!(totals("lead").await, [1, 1, 1]);
    // What is written after the change carries the new members too.
    let (s, b) = d
        .post(
            &format!("/api/v1/cases/{case}/documents"),
            "other",
            Ch::Workstation,
            json!({"kind": "note", "title": "Follow-up", "body": "The van was a vermilion hatchback."}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (_, r) = d
        .get("/api/v1/cases/search?q=vermilion", "other", Ch::Workstation)
        .await;
    assert_eq!(r["total"], 1, "{r}");
    assert_eq!(r["results"][0]["matched"], json!(["document"]));
    let (_, r) = d
        .get("/api/v1/cases/search?q=vermilion", "mate", Ch::Workstation)
        .await;
    assert_eq!(r["total"], 0, "{r}");
}
dbtest!(search_follows_membership);

/// Above the cap the count says "more than": counted after policy like
/// the rest, exact below it, newest first, and every page's labels whole.
async fn search_counts_up_to_a_cap(db: TestDb) {
    let d = department(db).await;
    let cap = precinct_server::service::cases::COUNT_CAP;
    // The oldest case also matches by a person's name; the walk reaches
    // its case row last.
    let first = d.open("Zircon theft 0", "case").await;
    let (s, b) = d
        .post(
            &format!("/api/v1/cases/{first}/people"),
            "lead",
            Ch::Workstation,
            json!({"role": "victim", "name": "Zircon Hale"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // More matches than the walk's first batch holds, so that it stops
    // early; below that the count is exact anyway.
    let n = cap + 30;
    let mut ids = vec![first.clone()];
    for i in 1..n {
        ids.push(d.open(&format!("Zircon theft {i}"), "case").await);
    }
    // Cases out of reach with the same word are not counted.
    for _ in 0..3 {
        let (s, b) = d
            .post(
                "/api/v1/cases",
                "fsgt",
                Ch::Workstation,
                json!({"title": "Zircon invoice fraud", "offense": "26A", "unit": d.fraud,
                       "narrative": "Forged zircon invoices."}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
    }
    let d = &d;
    let search = |who: &'static str, page: usize| async move {
        let (s, r) = d
            .get(
                &format!("/api/v1/cases/search?q=zircon&page={page}"),
                who,
                Ch::Workstation,
            )
            .await;
        assert_eq!(s, 200, "{r}");
        r
    };
    let r = search("lead", 1).await;
    assert_eq!(r["total"], cap, "{r}");
    assert_eq!(r["more"], true, "{r}");
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 25);
    // Newest first.
    assert_eq!(results[0]["id"], ids[ids.len() - 1].as_str());
    assert_eq!(results[1]["id"], ids[ids.len() - 2].as_str());
    // The last page: walked to its end, the count is exact again.
    let last = n.div_ceil(25);
    let r = search("lead", last).await;
    assert_eq!(r["total"], n, "{r}");
    assert!(r.get("more").is_none(), "{r}");
    let results = r["results"].as_array().unwrap();
    let oldest = results.last().unwrap();
    assert_eq!(oldest["id"], first.as_str());
    assert_eq!(oldest["matched"], json!(["person", "case"]));
    // The captain reaches the Fraud cases too.
    let r = search("cap", last).await;
    assert_eq!(r["total"], n + 3, "{r}");
    // Exact below the cap: the Fraud sergeant sees only the three.
    let r = search("fsgt", 1).await;
    assert_eq!(r["total"], 3, "{r}");
    assert!(r.get("more").is_none(), "{r}");
    // Someone with no connection: nothing, and no "more".
    let r = search("other", 1).await;
    assert_eq!(r, json!({"total": 0, "page": 1, "results": []}));
}
dbtest!(search_counts_up_to_a_cap);

/// A walk that stops at its budget of decided cases before the matches end
/// says its count is a floor; one that reaches the end is exact.
async fn search_says_when_it_stopped_at_its_budget(db: TestDb) {
    use precinct_server::service::audit::Origin;
    use precinct_server::service::cases::{Asker, SearchWalk};
    let d = department(db).await;
    // Two the team member may see, then five newer restricted ones in
    // reach (the team) that the policy refuses.
    let mut visible = Vec::new();
    for i in 0..2 {
        visible.push(d.open(&format!("Garnet theft {i}"), "case").await);
    }
    for i in 0..5 {
        d.open(&format!("Garnet theft, juvenile {i}"), "restricted")
            .await;
    }
    let mate = d.app.db.store.user(d.ids["mate"]).await.unwrap().user;
    let origin = Origin {
        channel: "workstation".into(),
        ..Origin::console()
    };
    let asker = Asker {
        user: &mate,
        origin: &origin,
    };
    let s = &d.app.services;
    let search = |case_budget, first_batch| async move {
        s.search_cases_walking(
            asker,
            "garnet",
            1,
            SearchWalk {
                case_budget,
                first_batch,
            },
        )
        .await
        .unwrap()
    };
    // Whole: exact.
    let all = search(5000, 128).await;
    assert_eq!((all.total, all.more, all.incomplete), (2, false, false));
    // Six decided (two rows, then four), one of them visible: a floor.
    let cut = search(3, 2).await;
    assert_eq!((cut.total, cut.more, cut.incomplete), (1, false, true));
    assert_eq!(cut.results[0].id.to_string(), visible[1]);
    // Stopped before any visible case: none found, and not "none match".
    let none = search(2, 2).await;
    assert_eq!((none.total, none.incomplete), (0, true));
    assert!(none.results.is_empty());
    // The API gives the flag only when it is set.
    let (status, r) = d
        .get("/api/v1/cases/search?q=garnet", "mate", Ch::Workstation)
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["total"], 2, "{r}");
    assert!(r.get("incomplete").is_none(), "{r}");
}
dbtest!(search_says_when_it_stopped_at_its_budget);

/// On PostgreSQL a search walks the index back a few buckets of rows at a
/// time (`text_seq >> 15`), as many as the matches seen so far call for,
/// and reads what is left in one query once few matches remain: matches
/// in far-apart stretches, dense and sparse, come back whole and newest
/// first, in batches of any size, on both engines.
async fn search_walks_back_through_sparse_and_dense_stretches(db: TestDb) {
    use precinct_store::{SearchScope, TextCursor};
    let d = department(db).await;
    let url = d.app.db.url.clone();
    const BUCKET: i64 = 1 << 15;
    // (first index row, cases): four in the oldest bucket, a dense stretch
    // across a bucket's end, a sparse one, the newest few.
    let stretches = [
        (0, 4),
        (9 * BUCKET - 30, 60),
        (30 * BUCKET + 7, 3),
        (70 * BUCKET + 2, 12),
    ];
    let mut ids = Vec::new();
    for (k, (first, n)) in stretches.into_iter().enumerate() {
        if first > 0 && url.starts_with("postgres") {
            let jump = format!("ALTER TABLE case_text ALTER COLUMN text_seq RESTART WITH {first}");
            raw_sql(&url, &jump).await.unwrap();
        }
        for i in 0..n {
            ids.push(d.open(&format!("Quartz theft {k}-{i}"), "case").await);
        }
    }
    ids.reverse();
    let store = &d.app.db.store;
    let scope = SearchScope {
        user: Some(d.ids["lead"]),
        units: vec![],
    };
    for limit in [1, 7, 64, 1000] {
        let mut walked = Vec::new();
        let mut cursor = TextCursor::default();
        loop {
            let hits = store
                .search_text("quartz", &scope, &mut cursor, limit)
                .await
                .unwrap();
            assert!(hits.windows(2).all(|w| w[0].position > w[1].position));
            assert!(hits.len() <= usize::try_from(limit).unwrap());
            let done = hits.len() < usize::try_from(limit).unwrap();
            walked.extend(hits.iter().map(|h| h.case_id.to_string()));
            if done {
                break;
            }
        }
        assert_eq!(walked, ids, "batches of {limit}");
    }
    // The captain's scope (units) finds the same; an outsider nothing.
    let units = SearchScope {
        user: None,
        units: vec![d.burglary, d.fraud],
    };
    let hits = store
        .search_text("quartz", &units, &mut TextCursor::default(), 100)
        .await
        .unwrap();
    let found: Vec<String> = hits.iter().map(|h| h.case_id.to_string()).collect();
    assert_eq!(found, ids[..hits.len()]);
    assert_eq!(hits.len(), ids.len());
    let other = SearchScope {
        user: Some(d.ids["other"]),
        units: vec![],
    };
    let none = store
        .search_text("quartz", &other, &mut TextCursor::default(), 100)
        .await
        .unwrap();
    assert!(none.is_empty());
    // Over the API, page by page, the same order.
    let mut paged = Vec::new();
    for page in 1..=ids.len().div_ceil(25) {
        let (s, r) = d
            .get(
                &format!("/api/v1/cases/search?q=quartz&page={page}"),
                "lead",
                Ch::Workstation,
            )
            .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["total"], ids.len(), "{r}");
        let page: Vec<String> = r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        paged.extend(page);
    }
    assert_eq!(paged, ids);
}
dbtest!(search_walks_back_through_sparse_and_dense_stretches);

/// The ids of a case list, in its order.
async fn list_order(d: &Dept, path: &str, who: &str) -> Vec<String> {
    let (s, v) = d.get(path, who, Ch::Workstation).await;
    assert_eq!(s, 200, "{path} as {who}: {v}");
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The case lists put the most recently changed case first: a new entry
/// or a new member moves its case to the top of its members' "my cases"
/// and of the supervisor's unit list.
async fn case_lists_follow_the_latest_change(db: TestDb) {
    let d = department(db).await;
    let minute = std::time::Duration::from_secs(60);
    let older = d.open("Shed break-in on Alder Row", "case").await;
    d.app.advance(minute);
    let newer = d.open("Garage break-in on Birch Lane", "case").await;
    let lists = [
        ("/api/v1/cases", "lead"),
        ("/api/v1/cases?scope=mine", "mate"),
        ("/api/v1/cases?scope=unit", "sgt"),
    ];
    for (path, who) in lists {
        assert_eq!(
            list_order(&d, path, who).await,
            [newer.as_str(), older.as_str()],
            "{who}"
        );
    }
    d.app.advance(minute);
    let (s, b) = d
        .post(
            &format!("/api/v1/cases/{older}/documents"),
            "mate",
            Ch::Workstation,
            json!({"kind": "note", "title": "Neighbour", "body": "Heard a van at 03:00."}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    for (path, who) in lists {
        assert_eq!(
            list_order(&d, path, who).await,
            [older.as_str(), newer.as_str()],
            "{who}"
        );
    }
    assert!(list_order(&d, "/api/v1/cases", "other").await.is_empty());
    d.app.advance(minute);
    let (s, b) = d
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/cases/{newer}/assignment"),
            "sgt",
            Ch::Workstation,
            Some(json!({"lead": d.ids["lead"], "team": [d.ids["mate"], d.ids["other"]]})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    for (path, who) in lists {
        assert_eq!(
            list_order(&d, path, who).await,
            [newer.as_str(), older.as_str()],
            "{who}"
        );
    }
    assert_eq!(
        list_order(&d, "/api/v1/cases", "other").await,
        [newer.as_str()]
    );
}
dbtest!(case_lists_follow_the_latest_change);

async fn documentation_is_append_only(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary at the bakery", "case").await;
    let (s, first) = d
        .post(
            &format!("/api/v1/cases/{case}/documents"),
            "lead",
            Ch::Workstation,
            json!({"kind": "report", "title": "Initial report", "body": "Entry by the back door at 02:10."}),
        )
        .await;
    assert_eq!(s, 201, "{first}");
    let first_id = first["id"].as_str().unwrap().to_owned();
    let (s, amended) = d
        .post(
            &format!("/api/v1/documents/{first_id}/amendments"),
            "lead",
            Ch::Workstation,
            json!({"title": "Initial report", "body": "Entry by the back door at 02:40 (time corrected)."}),
        )
        .await;
    assert_eq!(s, 201, "{amended}");
    assert_eq!(amended["amends"], first_id);
    let (_, view) = d
        .get(&format!("/api/v1/cases/{case}"), "mate", Ch::Workstation)
        .await;
    let docs = view["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 1, "one entry, two versions");
    assert_eq!(
        docs[0]["current"]["body"],
        "Entry by the back door at 02:40 (time corrected)."
    );
    let versions: Vec<&str> = docs[0]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        versions,
        [
            "Entry by the back door at 02:10.",
            "Entry by the back door at 02:40 (time corrected)."
        ]
    );
    // Only the latest version is amended; a team member may not amend the
    // lead's entry; an attachment is not amended in place.
    let again = json!({"title": "Initial report", "body": "x"});
    let (s, b) = d
        .post(
            &format!("/api/v1/documents/{first_id}/amendments"),
            "lead",
            Ch::Workstation,
            again.clone(),
        )
        .await;
    assert_eq!(s, 409, "{b}");
    let latest = amended["id"].as_str().unwrap();
    let (s, _) = d
        .post(
            &format!("/api/v1/documents/{latest}/amendments"),
            "mate",
            Ch::Workstation,
            again,
        )
        .await;
    assert_eq!(s, 403);
    // Not even the database lets an entry be rewritten or removed.
    for sql in [
        format!("UPDATE documents SET body = 'rewritten' WHERE id = '{first_id}'"),
        format!("DELETE FROM documents WHERE id = '{first_id}'"),
    ] {
        let err = raw_sql(&d.app.db.url, &sql).await.expect_err("append-only");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    let (_, view) = d
        .get(&format!("/api/v1/cases/{case}"), "lead", Ch::Workstation)
        .await;
    let what: Vec<&str> = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["what"].as_str().unwrap())
        .collect();
    assert_eq!(what, ["case.opened", "document.added", "document.amended"]);
    // The page names the people it mentions: the timeline's actor and
    // every member.
    let lead_name = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["membership"] == "lead")
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .unwrap();
    assert!(!lead_name.is_empty());
    assert!(view["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| !m["name"].as_str().unwrap().is_empty()));
    assert!(view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["actor"] == lead_name.as_str()));
}
dbtest!(documentation_is_append_only);

async fn life_cycle_and_bad_input_change_nothing(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary of a garden shed", "case").await;
    let (d, case) = (&d, &case);
    let page = |who| async move {
        d.get(&format!("/api/v1/cases/{case}"), who, Ch::Workstation)
            .await
            .1
    };
    let before = page("lead").await;
    let status = |body: Value| {
        let case = case.clone();
        async move {
            d.post(
                &format!("/api/v1/cases/{case}/status"),
                "lead",
                Ch::Workstation,
                body,
            )
            .await
        }
    };
    for (body, want, code) in [
        (json!({"transition": "close"}), 422, "invalid_input"),
        (json!({"transition": "resume"}), 422, "invalid_input"),
        (json!({"transition": "archive"}), 422, "invalid_input"),
        (json!({"transition": "seal"}), 422, "invalid_input"),
        (
            json!({"transition": "activate", "extra": 1}),
            422,
            "unknown_field",
        ),
    ] {
        let (s, b) = status(body.clone()).await;
        assert_eq!(s, want, "{body}: {b}");
        if code != "unknown_field" {
            assert_eq!(b["code"], code, "{body}: {b}");
        }
    }
    let after = page("lead").await;
    assert_eq!(after["status"], "open");
    assert_eq!(after["timeline"], before["timeline"], "nothing changed");
    // The valid path, step by step.
    for (t, want) in [
        ("activate", "active"),
        ("suspend", "suspended"),
        ("resume", "active"),
        ("close", "closed"),
        ("reopen", "active"),
    ] {
        let (s, b) = status(json!({"transition": t})).await;
        assert_eq!((s, b["status"].as_str()), (200, Some(want)), "{t}: {b}");
    }
    // Bad input to other writes: refused, nothing stored.
    let bad_cases = [
        json!({"title": "x", "offense": "220", "unit": d.burglary}),
        json!({"title": "Valid title", "offense": "999", "unit": d.burglary}),
        json!({"title": "Valid title", "offense": "220", "unit": d.burglary, "classification": "secret"}),
        json!({"title": "Valid title", "offense": "220", "unit": d.burglary, "lead": uuid::Uuid::new_v4()}),
        json!({"title": "Valid title", "offense": "220", "unit": d.burglary, "due": "tomorrow"}),
    ];
    let (_, mine_before) = d.get("/api/v1/cases", "lead", Ch::Workstation).await;
    for body in bad_cases {
        let (s, b) = d
            .post("/api/v1/cases", "lead", Ch::Workstation, body.clone())
            .await;
        assert_eq!(s, 422, "{body}: {b}");
    }
    let (_, mine_after) = d.get("/api/v1/cases", "lead", Ch::Workstation).await;
    assert_eq!(mine_before, mine_after);
    for body in [
        json!({"role": "bystander", "name": "A B"}),
        json!({"role": "witness", "name": "  "}),
        json!({"role": "witness", "name": "A B", "date_of_birth": "1990-02-31x"}),
        json!({"role": "witness", "name": "A B", "phone": "call me maybe"}),
    ] {
        let (s, b) = d
            .post(
                &format!("/api/v1/cases/{case}/people"),
                "lead",
                Ch::Workstation,
                body.clone(),
            )
            .await;
        assert_eq!(s, 422, "{body}: {b}");
    }
    let (s, _) = d
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/cases/{case}/assignment"),
            "lead",
            Ch::Workstation,
            Some(json!({"lead": uuid::Uuid::new_v4()})),
        )
        .await;
    assert_eq!(s, 422);
    let last = page("lead").await;
    assert_eq!(last["people"], json!([]));
    assert_eq!(last["members"], before["members"]);
    let (s, _) = d
        .post(
            &format!("/api/v1/cases/{case}/documents"),
            "lead",
            Ch::Workstation,
            json!({"kind": "report", "title": "Report", "body": "  "}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(page("lead").await["documents"], json!([]));
}
dbtest!(life_cycle_and_bad_input_change_nothing);

async fn attachments_are_encrypted_and_checked(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary with a photo", "case").await;
    let photo = b"JPEG-ish bytes of the broken window, frame 1".to_vec();
    let res = d
        .app
        .http
        .post(d.app.url(&format!(
            "/api/v1/cases/{case}/attachments?title=Broken%20window&filename=window.jpg"
        )))
        .bearer_auth(&d.tokens["lead"])
        .header("x-client-cert", d.ws.to_string())
        .header("content-type", "image/jpeg")
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    let (s, doc) = read(res).await;
    assert_eq!(s, 201, "{doc}");
    let id = doc["id"].as_str().unwrap().to_owned();
    assert_eq!(
        doc["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&photo))
    );
    let get = || async {
        d.app
            .http
            .get(d.app.url(&format!("/api/v1/documents/{id}/content")))
            .bearer_auth(&d.tokens["mate"])
            .header("x-client-cert", d.ws.to_string())
            .send()
            .await
            .unwrap()
    };
    let res = get().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert_eq!(res.bytes().await.unwrap().to_vec(), photo);
    // Off-site the bytes do not leave.
    let res = d
        .app
        .http
        .get(d.app.url(&format!("/api/v1/documents/{id}/content")))
        .bearer_auth(&d.tokens["lead"])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // At rest the bytes are ciphertext; altering them is detected, recorded
    // as a failure, and nothing is sent.
    let flip = match d.app.db.store.engine() {
        precinct_store::Engine::Sqlite => format!(
            "UPDATE attachment_blobs SET ciphertext = zeroblob(length(ciphertext)) WHERE document_id = '{id}'"
        ),
        precinct_store::Engine::Postgres => format!(
            "UPDATE attachment_blobs SET ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) WHERE document_id = '{id}'"
        ),
    };
    raw_sql(&d.app.db.url, &flip).await.unwrap();
    let (s, b) = read(get().await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (500, Some("integrity_failure")),
        "{b}"
    );
    assert_eq!(d.events("attachment.read", &id, "failed").await.len(), 1);
    assert_eq!(d.events("attachment.read", &id, "allowed").await.len(), 1);
}
dbtest!(attachments_are_encrypted_and_checked);

async fn break_glass_is_marked_and_reviewed(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary at the fraud suspect's home", "case").await;
    let path = format!("/api/v1/cases/{case}/break-glass");
    // A reason is required, and only supervisors may break the glass.
    let (s, _) = d
        .post(&path, "fsgt", Ch::Workstation, json!({"reason": "need it"}))
        .await;
    assert_eq!(s, 422);
    let (s, _) = d
        .post(
            &path,
            "other",
            Ch::Workstation,
            json!({"reason": "I am curious about this case"}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = d
        .post(
            &path,
            "fsgt",
            Ch::Offsite,
            json!({"reason": "Suspect overlaps with fraud case"}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, view) = d
        .post(
            &path,
            "fsgt",
            Ch::Workstation,
            json!({"reason": "Suspect overlaps with fraud case"}),
        )
        .await;
    assert_eq!(s, 200, "{view}");
    assert_eq!(view["break_glass"], true);
    let allowed = d.events("case.read", &case, "allowed").await;
    let glass: Vec<_> = allowed
        .iter()
        .filter(|e| e.reason.as_deref() == Some("break_glass"))
        .collect();
    assert_eq!(glass.len(), 1);
    assert_eq!(
        glass[0].actor_id.as_deref(),
        Some(d.ids["fsgt"].to_string().as_str())
    );
    // The reason stays out of the audit trail's text.
    assert!(!serde_json::to_string(glass[0])
        .unwrap()
        .contains("overlaps"));
    // The captain above the Fraud sergeant reviews it; the sergeant does
    // not review their own opening, nor does Burglary's sergeant.
    let (_, list) = d.get("/api/v1/break-glass", "cap", Ch::Workstation).await;
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["reason"], "Suspect overlaps with fraud case");
    assert_eq!(list[0]["user_name"], "Officer fsgt");
    assert!(list[0]["case_number"].as_str().unwrap().contains('-'));
    assert_eq!(list[0]["audit_event"], glass[0].id);
    for who in ["fsgt", "sgt"] {
        let (_, l) = d.get("/api/v1/break-glass", who, Ch::Workstation).await;
        assert_eq!(l, json!([]), "{who}");
    }
    let id = list[0]["id"].as_str().unwrap();
    let (s, _) = d
        .post(
            &format!("/api/v1/break-glass/{id}/review"),
            "sgt",
            Ch::Workstation,
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = d
        .post(
            &format!("/api/v1/break-glass/{id}/review"),
            "cap",
            Ch::Workstation,
            json!({}),
        )
        .await;
    assert_eq!(s, 204);
    let (_, list) = d.get("/api/v1/break-glass", "cap", Ch::Workstation).await;
    assert!(list[0]["reviewed_at"].is_string());
    // Break-glass never opens sealed or restricted material.
    let restricted = d.open("Burglary by a juvenile suspect", "restricted").await;
    let (s, _) = d
        .post(
            &format!("/api/v1/cases/{restricted}/break-glass"),
            "fsgt",
            Ch::Workstation,
            json!({"reason": "Suspect overlaps with fraud case"}),
        )
        .await;
    assert_eq!(s, 403);
    // The case's own audit trail: its supervisors (at a workstation) and
    // auditors; not its team, and nobody else's cases.
    let trail = format!("/api/v1/audit/events?case={case}");
    assert_eq!(d.get(&trail, "sgt", Ch::Workstation).await.0, 200);
    assert_eq!(d.get(&trail, "aud", Ch::Offsite).await.0, 200);
    for (who, ch) in [
        ("sgt", Ch::Offsite),
        ("lead", Ch::Workstation),
        ("fsgt", Ch::Workstation),
    ] {
        assert_eq!(d.get(&trail, who, ch).await.0, 403, "{who} {ch:?}");
    }
    assert_eq!(
        d.get("/api/v1/audit/events", "sgt", Ch::Workstation)
            .await
            .0,
        403
    );
    // Everything is in the OpenAPI document.
    let (_, doc) = d.app.get("/api/v1/openapi.json", None).await;
    for (p, m) in [
        ("/api/v1/cases", "get"),
        ("/api/v1/cases", "post"),
        ("/api/v1/cases/search", "get"),
        ("/api/v1/cases/{id}", "get"),
        ("/api/v1/cases/by-number/{number}", "get"),
        ("/api/v1/cases/{id}/break-glass", "post"),
        ("/api/v1/cases/{id}/documents", "post"),
        ("/api/v1/cases/{id}/attachments", "post"),
        ("/api/v1/documents/{id}/content", "get"),
        ("/api/v1/documents/{id}/amendments", "post"),
        ("/api/v1/cases/{id}/people", "post"),
        ("/api/v1/cases/{id}/status", "post"),
        ("/api/v1/cases/{id}/assignment", "put"),
        ("/api/v1/cases/{id}/tasks", "post"),
        ("/api/v1/cases/{id}/tasks/{task}/complete", "post"),
        ("/api/v1/break-glass", "get"),
        ("/api/v1/break-glass/{id}/review", "post"),
        ("/api/v1/offenses", "get"),
    ] {
        assert!(doc["paths"][p][m].is_object(), "{m} {p}");
    }
}
dbtest!(break_glass_is_marked_and_reviewed);

/// A case read again unchanged is answered from what the store kept; a
/// change shows at the next read whoever wrote it — here another
/// connection writing the tables directly, as another server or process
/// would, behind this server's back: the case row, its people, timeline,
/// tasks and members, a user's name and the unit tree. Losing a membership
/// loses the case at once.
async fn kept_reads_see_every_change_whoever_writes_it(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary at the corner shop", "case").await;
    let path = format!("/api/v1/cases/{case}");
    let (s, b) = d
        .post(
            &format!("{path}/people"),
            "lead",
            Ch::Workstation,
            json!({"role": "witness", "name": "Dana Whitfield"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = d
        .post(
            &format!("{path}/tasks"),
            "lead",
            Ch::Workstation,
            json!({"title": "Canvass the street"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let store = &d.app.db.store;
    let read = || async {
        let (s, v) = d.get(&path, "mate", Ch::Workstation).await;
        assert_eq!(s, 200, "{v}");
        v
    };
    let first = read().await;
    let before = store.kept().1;
    assert_eq!(read().await, first, "unchanged");
    let after = store.kept().1;
    assert!(
        after.cases > before.cases && after.material > before.material,
        "{after:?}"
    );
    let sql = |s: String| {
        let url = d.app.db.url.clone();
        async move { raw_sql(&url, &s).await.unwrap() }
    };
    let burglary = d.burglary.to_string();
    let mate = d.ids["mate"].to_string();
    sql(format!(
        "UPDATE cases SET title = 'Burglary at the corner shop (two entries)' WHERE id = '{case}'"
    ))
    .await;
    assert_eq!(
        read().await["title"],
        "Burglary at the corner shop (two entries)"
    );
    sql(format!(
        "UPDATE case_people SET name = 'Dana Whitfield-Ross' WHERE case_id = '{case}'"
    ))
    .await;
    assert_eq!(read().await["people"][0]["name"], "Dana Whitfield-Ross");
    sql(format!(
        "UPDATE case_tasks SET done_at = 1 WHERE case_id = '{case}'"
    ))
    .await;
    assert!(read().await["tasks"][0]["done_at"].is_string());
    sql(format!(
        "INSERT INTO case_timeline (id, case_id, at, actor_id, what, detail) \
         VALUES ('{}', '{case}', 2, NULL, 'note', 'Written elsewhere')",
        uuid::Uuid::new_v4()
    ))
    .await;
    let timeline = read().await["timeline"].clone();
    assert!(
        timeline
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["detail"] == "Written elsewhere"),
        "{timeline}"
    );
    sql(format!("DELETE FROM case_tasks WHERE case_id = '{case}'")).await;
    assert_eq!(read().await["tasks"], json!([]));
    sql(format!(
        "UPDATE users SET display_name = 'Det. Mate Renamed' WHERE id = '{mate}'"
    ))
    .await;
    let members = read().await["members"].clone();
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "Det. Mate Renamed"),
        "{members}"
    );
    sql(format!(
        "UPDATE units SET name = 'Burglary Squad' WHERE id = '{burglary}'"
    ))
    .await;
    assert_eq!(read().await["unit_name"], "Burglary Squad");
    // Off the team: the next read is refused as for any stranger.
    sql(format!(
        "DELETE FROM case_members WHERE case_id = '{case}' AND user_id = '{mate}'"
    ))
    .await;
    let (s, _) = d.get(&path, "mate", Ch::Workstation).await;
    assert_eq!(s, 404);
    let (s, v) = d.get(&path, "lead", Ch::Workstation).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["members"].as_array().unwrap().len(), 1);
}
dbtest!(kept_reads_see_every_change_whoever_writes_it);
