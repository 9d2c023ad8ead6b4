//! Off-site work over the API on both engines, with the fake clock: the
//! whole story of an off-duty investigation (denied at home, requested,
//! approved by the chain of command, read and noted within scope, refused
//! outside it, ended at its second, reviewed with exactly its accesses),
//! personal devices, self-approval, revocation, administrative tasks,
//! duty status, paper files, incidents, work-life hours and the report.

use precinct_domain::Timestamp;
use precinct_store::EventFilter;
use serde_json::{json, Value};
use std::time::Duration;

use crate::cases::{department, Ch, Dept};
use crate::support::{dbtest, TestDb};

/// What a problem document says: its detail, or its title.
fn msg(problem: &Value) -> &str {
    problem["detail"]
        .as_str()
        .or(problem["title"].as_str())
        .unwrap_or_default()
}

impl Dept {
    /// What a case's timeline says happened, in order (`what` of each line).
    async fn timeline(&self, case: &str) -> Vec<String> {
        let (s, body) = self
            .get(&format!("/api/v1/cases/{case}"), "lead", Ch::Workstation)
            .await;
        assert_eq!(s, 200, "{body}");
        body["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["what"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A UTC time as the API takes it, `seconds` from the server's now.
    fn at(&self, seconds: i64) -> String {
        let now = self.app.services.clock.now().as_micros();
        let s = Timestamp::from_micros(now + seconds * 1_000_000).to_string();
        format!("{}Z", &s[..19])
    }

    /// Moves the clock on by `minutes`, in steps that keep everyone's
    /// session from its 30-minute idle lock.
    async fn pass(&self, minutes: u64) {
        let mut left = minutes;
        while left > 0 {
            let step = left.min(20);
            self.app.advance(Duration::from_secs(step * 60));
            for who in ["lead", "mate", "sgt", "fsgt", "cap", "clerk", "aud"] {
                let (s, _) = self.get("/api/v1/me", who, Ch::Offsite).await;
                assert_eq!(s, 200, "{who}'s session");
            }
            left -= step;
        }
    }

    async fn request(&self, who: &str, ch: Ch, body: Value) -> (u16, Value) {
        self.post("/api/v1/grants", who, ch, body).await
    }

    async fn step(&self, grant: &str, who: &str, step: &str, note: Option<&str>) -> (u16, Value) {
        self.post(
            &format!("/api/v1/grants/{grant}/steps"),
            who,
            Ch::Workstation,
            json!({"step": step, "note": note}),
        )
        .await
    }

    fn investigation(&self, cases: &[&str], until: i64, notes: bool) -> Value {
        json!({
            "kind": "off_duty_investigation",
            "justification": "Witness can only meet after my shift tonight",
            "cases": cases,
            "ends_at": self.at(until),
            "may_add_notes": notes,
            "device": self.device_id,
        })
    }

    /// `lead`'s investigation of `case` for `seconds`, approved by `sgt`.
    async fn approved(&self, case: &str, seconds: i64) -> String {
        let (s, g) = self
            .request(
                "lead",
                Ch::Device,
                self.investigation(&[case], seconds, false),
            )
            .await;
        assert_eq!(s, 201, "{g}");
        let grant = g["id"].as_str().unwrap().to_owned();
        assert_eq!(self.step(&grant, "sgt", "approve", None).await.0, 200);
        grant
    }

    /// `lead`'s row of a work-life chart.
    fn lead_hours(&self, chart: &Value) -> Value {
        chart["officers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["user"] == json!(self.ids["lead"]))
            .unwrap()
            .clone()
    }

    /// Incidents of `kind` the unit's sergeant sees for `lead`.
    async fn incidents(&self, kind: &str) -> Vec<Value> {
        let (s, list) = self.get("/api/v1/incidents", "sgt", Ch::Workstation).await;
        assert_eq!(s, 200, "{list}");
        list.as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == kind && i["user"] == json!(self.ids["lead"]))
            .cloned()
            .collect()
    }

    /// The audit trail's events carrying `grant`, oldest first.
    async fn under(&self, grant: &str) -> Vec<(String, String, String)> {
        let f = EventFilter {
            actor_id: Some(self.ids["lead"].to_string()),
            ..Default::default()
        };
        let mut v: Vec<(u64, precinct_audit::event::AuditEvent)> = self
            .app
            .db
            .store
            .search_events(&f, 10_000, 0)
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, e)| e.grant_id.as_deref() == Some(grant))
            .collect();
        // In the log's order.
        v.sort_by_key(|(seq, _)| *seq);
        v.into_iter()
            .map(|(_, e)| (e.action, e.outcome, e.object_id.unwrap_or_default()))
            .collect()
    }

    async fn wait_for(&self, path: &str, who: &str, found: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..100 {
            let (s, body) = self.get(path, who, Ch::Workstation).await;
            assert_eq!(s, 200, "{body}");
            if found(&body) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{path} never showed it");
    }
}

async fn off_duty_investigation_story(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary at 12 Elm Street", "case").await;
    let other = d.open("Burglary at 3 Oak Lane", "case").await;
    let path = format!("/api/v1/cases/{case}");

    // At home on the department laptop, off duty: denied, and an incident.
    let (s, body) = d.get(&path, "lead", Ch::Device).await;
    assert_eq!(s, 403, "{body}");
    assert!(
        msg(&body).contains("only at a designated workstation"),
        "{body}"
    );
    assert_eq!(d.incidents("offsite_without_grant").await.len(), 1);

    // The request names the case, a window, may-add-notes and the laptop.
    let (s, g) = d
        .request("lead", Ch::Device, d.investigation(&[&case], 3600, true))
        .await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(g["status"], "pending");
    assert_eq!(g["in_force"], false);
    let grant = g["id"].as_str().unwrap().to_owned();
    // Pending is not approved.
    assert_eq!(d.get(&path, "lead", Ch::Device).await.0, 403);

    // Never the requester, never someone outside the chain of command.
    let (s, body) = d.step(&grant, "lead", "approve", None).await;
    assert_eq!(s, 403, "{body}");
    assert!(msg(&body).contains("own request"), "{body}");
    let (s, body) = d.step(&grant, "fsgt", "approve", None).await;
    assert_eq!(s, 404, "the other unit's sergeant does not see it: {body}");
    assert_eq!(
        d.get(&format!("/api/v1/grants/{grant}"), "lead", Ch::Offsite)
            .await
            .1["grant"]["status"],
        "pending"
    );

    // The sergeant finds it in the queue, asks, is answered, approves.
    let (s, queue) = d.get("/api/v1/grants/queue", "sgt", Ch::Workstation).await;
    assert_eq!(s, 200);
    assert!(queue
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["id"] == grant.as_str()));
    let (s, fq) = d.get("/api/v1/grants/queue", "fsgt", Ch::Workstation).await;
    assert_eq!(s, 200);
    assert!(fq.as_array().unwrap().is_empty(), "{fq}");
    let (s, b) = d
        .step(&grant, "sgt", "ask_info", Some("Which witness?"))
        .await;
    assert_eq!(
        (s, b["status"].as_str()),
        (200, Some("info_requested")),
        "{b}"
    );
    let (s, b) = d.step(&grant, "sgt", "approve", None).await;
    assert_eq!(
        s, 200,
        "approving while waiting for an answer is allowed: {b}"
    );
    let (s, _) = d.step(&grant, "sgt", "approve", None).await;
    assert_eq!(s, 422, "approving twice is not a valid step");
    let (s, notes) = d.get("/api/v1/notifications", "lead", Ch::Offsite).await;
    assert_eq!(s, 200);
    assert!(
        notes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "grant.approve"),
        "{notes}"
    );

    // `policy explain` decides under the same grant, on the same device.
    let lead_user = d.app.db.store.user(d.ids["lead"]).await.unwrap().user;
    let case_id: precinct_domain::ids::CaseId = case.parse().unwrap();
    let explain = |channel: &'static str, device| {
        let (s, u) = (&d.app.services, &lead_user);
        async move {
            let (_, decision, grant) = s
                .explain(u, case_id, precinct_policy::Action::View, channel, device)
                .await
                .unwrap();
            (decision.allowed, grant.map(|g| g.id), decision.policies)
        }
    };
    let (allowed, under, _) = explain("department_device", Some(d.device_id)).await;
    assert_eq!((allowed, under.as_deref()), (true, Some(grant.as_str())));
    let (allowed, _, policies) = explain("offsite", None).await;
    assert_eq!(
        (allowed, policies),
        (false, vec!["off-duty-grant-device".to_owned()])
    );

    // Within scope on the laptop: read, and add a note (only a note).
    let (s, body) = d.get(&path, "lead", Ch::Device).await;
    assert_eq!(s, 200, "{body}");
    let (s, note) = d
        .post(
            &format!("{path}/documents"),
            "lead",
            Ch::Device,
            json!({"kind": "note", "title": "Evening call", "body": "Witness confirms the van."}),
        )
        .await;
    assert_eq!(s, 201, "{note}");
    let (s, body) = d
        .post(
            &format!("{path}/documents"),
            "lead",
            Ch::Device,
            json!({"kind": "report", "title": "Report", "body": "Not under a grant."}),
        )
        .await;
    assert_eq!(s, 403, "{body}");
    // Another case: denied, outside the grant's scope.
    let (s, body) = d
        .get(&format!("/api/v1/cases/{other}"), "lead", Ch::Device)
        .await;
    assert_eq!(s, 403, "{body}");
    assert!(msg(&body).contains("does not cover"), "{body}");
    // A personal computer never receives case material.
    let (s, body) = d.get(&path, "lead", Ch::Offsite).await;
    assert_eq!(s, 403, "{body}");
    assert!(msg(&body).contains("department device"), "{body}");
    assert_eq!(d.incidents("outside_grant_scope").await.len(), 3);

    // The window ends at its second: open one second before, closed at it.
    d.pass(59).await;
    d.app.advance(Duration::from_secs(59));
    assert_eq!(d.get(&path, "lead", Ch::Device).await.0, 200);
    d.app.advance(Duration::from_secs(1));
    let (s, body) = d.get(&path, "lead", Ch::Device).await;
    assert_eq!(s, 403, "{body}");
    assert!(msg(&body).contains("has ended"), "{body}");
    assert_eq!(d.incidents("outside_grant_window").await.len(), 1);

    // The sergeant's review item lists exactly the accesses made under it.
    let reviews = d
        .wait_for("/api/v1/grants/reviews", "sgt", |v| {
            v.as_array()
                .unwrap()
                .iter()
                .any(|g| g["id"] == grant.as_str())
        })
        .await;
    assert_eq!(reviews.as_array().unwrap().len(), 1);
    let (s, detail) = d
        .get(&format!("/api/v1/grants/{grant}"), "sgt", Ch::Workstation)
        .await;
    assert_eq!(s, 200, "{detail}");
    assert_eq!(detail["may_review"], true);
    let listed: Vec<(String, String, String)> = detail["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["outcome"].as_str().unwrap().to_owned(),
                a["object_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let note_id = note["id"].as_str().unwrap().to_owned();
    let expected: Vec<(String, String, String)> = [
        ("case.read", "allowed", case.as_str()),
        ("document.add", "allowed", note_id.as_str()),
        ("document.add", "denied", case.as_str()),
        ("case.read", "denied", other.as_str()),
        ("case.read", "denied", case.as_str()),
        ("case.read", "allowed", case.as_str()),
    ]
    .iter()
    .map(|(a, o, i)| ((*a).to_owned(), (*o).to_owned(), (*i).to_owned()))
    .collect();
    assert_eq!(listed, expected);
    assert_eq!(
        listed,
        d.under(&grant).await,
        "the review is the audit trail's"
    );
    let (s, _) = d
        .post(
            &format!("/api/v1/grants/{grant}/review"),
            "sgt",
            Ch::Workstation,
            json!({}),
        )
        .await;
    assert_eq!(s, 204);
    let (_, reviews) = d
        .get("/api/v1/grants/reviews", "sgt", Ch::Workstation)
        .await;
    assert!(reviews.as_array().unwrap().is_empty());

    // Work-life: the evening's off-duty work shows in the sergeant's chart.
    let (s, wl) = d
        .get("/api/v1/work-life?weeks=2", "sgt", Ch::Workstation)
        .await;
    assert_eq!(s, 200, "{wl}");
    let lead = d.lead_hours(&wl);
    assert_eq!(lead["hours"].as_array().unwrap().len(), 2);
    assert!(lead["hours"][1].as_f64().unwrap() >= 0.25, "{lead}");
    assert_eq!(lead["warning"], false);

    // The report: CSV and PDF, for the unit.
    let report = format!(
        "/api/v1/reports/offsite?from={}&to={}&unit={}",
        d.at(-3600),
        d.at(7200),
        d.burglary
    );
    let (s, rows) = d.get(&report, "sgt", Ch::Workstation).await;
    assert_eq!(s, 200, "{rows}");
    let row = &rows.as_array().unwrap()[0];
    assert_eq!(
        (
            row["outcome"].as_str(),
            row["accesses"].as_u64(),
            row["denied"].as_u64()
        ),
        (Some("expired"), Some(3), Some(3))
    );
    let csv = d
        .app
        .http
        .get(d.app.url(&format!("{report}&format=csv")))
        .bearer_auth(&d.tokens["sgt"])
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.text().await.unwrap().contains(&grant));
    let pdf = d
        .app
        .http
        .get(d.app.url(&format!("{report}&format=pdf")))
        .bearer_auth(&d.tokens["sgt"])
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));
    // Officers do not read the report, nor others' incidents.
    assert_eq!(d.get(&report, "lead", Ch::Workstation).await.0, 403);
    assert_eq!(
        d.get("/api/v1/incidents", "lead", Ch::Workstation).await.0,
        403
    );
}
dbtest!(off_duty_investigation_story);

async fn revocation_ends_access_at_once(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary at 12 Elm Street", "case").await;
    let path = format!("/api/v1/cases/{case}");
    let (_, g) = d
        .request(
            "lead",
            Ch::Device,
            d.investigation(&[&case], 4 * 3600, false),
        )
        .await;
    let grant = g["id"].as_str().unwrap().to_owned();
    let (s, b) = d
        .step(&grant, "cap", "approve", Some("Back by midnight"))
        .await;
    assert_eq!(s, 200, "the captain is in the chain of command too: {b}");
    assert_eq!(b["decision_note"], "Back by midnight");
    assert_eq!(d.get(&path, "lead", Ch::Device).await.0, 200);
    // Read-only: no notes.
    let (s, _) = d
        .post(
            &format!("{path}/documents"),
            "lead",
            Ch::Device,
            json!({"kind": "note", "title": "Evening call", "body": "Witness called back."}),
        )
        .await;
    assert_eq!(s, 403);
    d.pass(20).await;
    let (s, b) = d
        .step(&grant, "sgt", "revoke", Some("Case reassigned"))
        .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("revoked")), "{b}");
    let (s, body) = d.get(&path, "lead", Ch::Device).await;
    assert_eq!(s, 403, "{body}");
    assert!(msg(&body).contains("has ended"));
    // The captain approved it; the review is theirs, once it is over.
    let reviews = d
        .wait_for("/api/v1/grants/reviews", "cap", |v| {
            !v.as_array().unwrap().is_empty()
        })
        .await;
    assert_eq!(reviews[0]["id"], grant.as_str());
    let (s, detail) = d
        .get(&format!("/api/v1/grants/{grant}"), "cap", Ch::Workstation)
        .await;
    assert_eq!(s, 200);
    let accesses = detail["accesses"].as_array().unwrap();
    assert_eq!(accesses.len(), 2, "{detail}");
    assert_eq!(
        (
            accesses[0]["action"].as_str(),
            accesses[0]["outcome"].as_str()
        ),
        (Some("case.read"), Some("allowed"))
    );
    // The case's timeline shows both.
    let lines = d.timeline(&case).await;
    assert!(
        lines.iter().any(|w| w == "grant.approved") && lines.iter().any(|w| w == "grant.revoked"),
        "{lines:?}"
    );
    // A revoked grant is not approved again.
    assert_eq!(d.step(&grant, "sgt", "approve", None).await.0, 422);
}
dbtest!(revocation_ends_access_at_once);

async fn requests_are_checked_and_change_nothing(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary at 12 Elm Street", "case").await;
    let fraud_case = {
        // A case `lead` is not on.
        let (s, b) = d
            .post(
                "/api/v1/cases",
                "mate",
                Ch::Workstation,
                json!({"title": "Mate's own case", "offense": "220", "unit": d.burglary, "narrative": "n"}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        b["id"].as_str().unwrap().to_owned()
    };
    let bad = [
        (d.investigation(&[&case], 73 * 3600, false), "72 hours"),
        (d.investigation(&[&case], -60, false), "after the start"),
        (d.investigation(&[], 3600, false), "name the case"),
        (
            json!({"kind": "off_duty_investigation", "justification": "Witness tonight please", "cases": [case], "ends_at": d.at(3600)}),
            "department device",
        ),
        (
            json!({"kind": "vacation", "justification": "Witness tonight please", "ends_at": d.at(3600)}),
            "kind",
        ),
        (
            json!({"kind": "administrative", "justification": "short", "ends_at": d.at(3600)}),
            "10 characters",
        ),
        (
            json!({"kind": "administrative", "justification": "Overtime forms", "cases": [case], "ends_at": d.at(3600)}),
            "administrative",
        ),
    ];
    for (body, says) in bad {
        let (s, b) = d.request("lead", Ch::Offsite, body.clone()).await;
        assert_eq!(s, 422, "{body} -> {b}");
        assert!(msg(&b).contains(says), "{says}: {b}");
    }
    // A case the requester is not on is "not found", like a missing one.
    let (s, _) = d
        .request(
            "lead",
            Ch::Offsite,
            d.investigation(&[&fraud_case], 3600, false),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = d
        .request(
            "lead",
            Ch::Offsite,
            d.investigation(&[&uuid::Uuid::new_v4().to_string()], 3600, false),
        )
        .await;
    assert_eq!(s, 404);
    // Someone else's laptop is refused.
    let (s, b) = d
        .request("mate", Ch::Offsite, d.investigation(&[&case], 3600, false))
        .await;
    assert_eq!(s, 422, "{b}");
    let (_, mine) = d.get("/api/v1/grants", "lead", Ch::Offsite).await;
    assert!(
        mine.as_array().unwrap().is_empty(),
        "nothing was filed: {mine}"
    );
    // Denying needs a reason.
    let (_, g) = d
        .request("lead", Ch::Offsite, d.investigation(&[&case], 3600, false))
        .await;
    let grant = g["id"].as_str().unwrap();
    assert_eq!(d.step(grant, "sgt", "deny", None).await.0, 422);
    assert_eq!(
        d.step(grant, "sgt", "deny", Some("Meet the witness on shift"))
            .await
            .0,
        200
    );
    assert_eq!(
        d.get(&format!("/api/v1/cases/{case}"), "lead", Ch::Device)
            .await
            .0,
        403
    );
    assert_eq!(
        d.step(grant, "sgt", "approve", None).await.0,
        422,
        "denied stays denied"
    );
}
dbtest!(requests_are_checked_and_change_nothing);

async fn administrative_tasks_never_expose_case_material(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary at 12 Elm Street", "case").await;
    let mut docs = Vec::new();
    for (classification, title) in [
        ("administrative", "Overtime form"),
        ("case", "Witness report"),
        ("restricted", "Juvenile interview"),
    ] {
        let (s, b) = d
            .post(
                &format!("/api/v1/cases/{case}/documents"),
                "lead",
                Ch::Workstation,
                json!({"kind": "report", "classification": classification, "title": title, "body": "text"}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        docs.push(b["id"].as_str().unwrap().to_owned());
    }
    // Self-service: in force at once, no approval.
    let (s, g) = d
        .request(
            "lead",
            Ch::Offsite,
            json!({"kind": "administrative", "justification": "Overtime and leave forms", "ends_at": d.at(2 * 3600)}),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    assert_eq!(
        (g["status"].as_str(), g["in_force"].as_bool()),
        (Some("approved"), Some(true))
    );
    let grant = g["id"].as_str().unwrap().to_owned();
    for ch in [Ch::Offsite, Ch::Device] {
        let (s, b) = d
            .get(&format!("/api/v1/documents/{}", docs[0]), "lead", ch)
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["title"], "Overtime form");
        for other in &docs[1..] {
            let (s, b) = d
                .get(&format!("/api/v1/documents/{other}"), "lead", ch)
                .await;
            assert_eq!(s, 403, "{b}");
            assert!(msg(&b).contains("administrative paperwork"), "{b}");
        }
        let (s, _) = d.get(&format!("/api/v1/cases/{case}"), "lead", ch).await;
        assert_eq!(s, 403, "the case itself is case material");
        let (s, _) = d
            .post(
                &format!("/api/v1/cases/{case}/documents"),
                "lead",
                ch,
                json!({"kind": "note", "title": "Evening call", "body": "Witness called back."}),
            )
            .await;
        assert_eq!(s, 403);
    }
    // Someone not on the case gets nothing from an administrative task.
    let (_, g2) = d
        .request("other", Ch::Offsite, json!({"kind": "administrative", "justification": "Overtime and leave forms", "ends_at": d.at(3600)}))
        .await;
    assert_eq!(g2["status"], "approved");
    assert_eq!(
        d.get(
            &format!("/api/v1/documents/{}", docs[0]),
            "other",
            Ch::Offsite
        )
        .await
        .0,
        404
    );
    // Reading it was marked with the grant.
    let under = d.under(&grant).await;
    assert!(
        under.contains(&("document.read".into(), "allowed".into(), docs[0].clone())),
        "{under:?}"
    );
    // It ends by itself.
    d.pass(120).await;
    let (s, _) = d
        .get(
            &format!("/api/v1/documents/{}", docs[0]),
            "lead",
            Ch::Offsite,
        )
        .await;
    assert_eq!(s, 403);
}
dbtest!(administrative_tasks_never_expose_case_material);

async fn duty_paper_files_and_overdue_incidents(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary at 12 Elm Street", "case").await;
    // Clock in at a department device or workstation, never from home.
    assert_eq!(
        d.post(
            "/api/v1/duty",
            "lead",
            Ch::Offsite,
            json!({"on_duty": true})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        d.post("/api/v1/duty", "lead", Ch::Device, json!({"on_duty": true}))
            .await
            .0,
        204
    );
    assert_eq!(
        d.post("/api/v1/duty", "lead", Ch::Device, json!({"on_duty": true}))
            .await
            .0,
        409
    );
    // On duty, the laptop adds field documentation to the lead's case.
    let (s, b) = d
        .post(
            &format!("/api/v1/cases/{case}/documents"),
            "lead",
            Ch::Device,
            json!({"kind": "note", "title": "Scene", "body": "Glass on the path."}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // The sergeant corrects it; the other unit's sergeant may not.
    let correct = format!("/api/v1/users/{}/duty", d.ids["lead"]);
    assert_eq!(
        d.post(&correct, "fsgt", Ch::Workstation, json!({"on_duty": false}))
            .await
            .0,
        403
    );
    assert_eq!(
        d.post(&correct, "sgt", Ch::Workstation, json!({"on_duty": false}))
            .await
            .0,
        204
    );
    let (s, _) = d
        .post(
            &format!("/api/v1/cases/{case}/documents"),
            "lead",
            Ch::Device,
            json!({"kind": "note", "title": "Later", "body": "Off duty now."}),
        )
        .await;
    assert_eq!(s, 403, "off duty, no field documentation");

    // The records room.
    let files = "/api/v1/paper-files";
    assert_eq!(
        d.post(
            files,
            "lead",
            Ch::Workstation,
            json!({"case": case, "location": "Shelf B3"})
        )
        .await
        .0,
        403
    );
    let (s, b) = d
        .post(
            files,
            "clerk",
            Ch::Workstation,
            json!({"case": case, "location": "Shelf B3"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let out = format!("{files}/{case}/check-out");
    // Off the premises needs the holder's grant for the case.
    let (s, b) = d
        .post(
            &out,
            "clerk",
            Ch::Workstation,
            json!({"holder": d.ids["lead"], "due_at": d.at(3600), "off_premises": true}),
        )
        .await;
    assert_eq!(s, 403, "{b}");
    assert!(msg(&b).contains("grant"), "{b}");
    let grant = d.approved(&case, 2 * 3600).await;
    let (s, b) = d
        .post(
            &out,
            "clerk",
            Ch::Workstation,
            json!({"holder": d.ids["lead"], "due_at": d.at(3 * 3600), "off_premises": true}),
        )
        .await;
    assert_eq!(s, 422, "due after the grant's end: {b}");
    let (s, b) = d
        .post(
            &out,
            "clerk",
            Ch::Workstation,
            json!({"holder": d.ids["lead"], "due_at": d.at(3600), "off_premises": true}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["grant"], grant.as_str());
    assert_eq!(
        d.post(
            &out,
            "clerk",
            Ch::Workstation,
            json!({"holder": d.ids["mate"], "due_at": d.at(3600)})
        )
        .await
        .0,
        409
    );
    // Overdue: an incident, flagged to the holder and the supervisor.
    d.pass(61).await;
    d.wait_for("/api/v1/incidents", "sgt", |v| {
        v.as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "overdue_paper_file")
    })
    .await;
    let (_, notes) = d.get("/api/v1/notifications", "lead", Ch::Offsite).await;
    assert!(
        notes
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "paper_file.overdue"),
        "{notes}"
    );
    let (s, b) = d
        .post(
            &format!("{files}/{case}/check-in"),
            "clerk",
            Ch::Workstation,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, detail) = d
        .get(&format!("{files}/{case}"), "sgt", Ch::Workstation)
        .await;
    assert_eq!(s, 200, "{detail}");
    let steps: Vec<&str> = detail["custody"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["registered", "check_out", "check_in"]);
    assert_eq!(detail["custody"][1]["holder"], json!(d.ids["lead"]));
    let lines = d.timeline(&case).await;
    let moves: Vec<&String> = lines
        .iter()
        .filter(|w| w.starts_with("paper_file."))
        .collect();
    assert_eq!(
        moves,
        ["paper_file.check_out", "paper_file.check_in"],
        "{lines:?}"
    );
    // Someone with no connection to the case does not see its file.
    assert_eq!(
        d.get(&format!("{files}/{case}"), "fsgt", Ch::Workstation)
            .await
            .0,
        404
    );
}
dbtest!(duty_paper_files_and_overdue_incidents);

/// A real SMTP server for the test: Python's `smtpd` (CPython 3.11),
/// appending each message it receives to a file.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    inbox: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

const SMTP_SERVER: &str = r#"
import asyncore, smtpd, sys, warnings
warnings.simplefilter("ignore")
class Inbox(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        with open(sys.argv[2], "ab") as f:
            f.write(b"RCPT " + " ".join(rcpttos).encode() + b"\n" + data + b"\n.\n")
Inbox(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
asyncore.loop()
"#;

impl SmtpServer {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("inbox");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("python3")
            .args(["-c", SMTP_SERVER, &port.to_string()])
            .arg(&inbox)
            .spawn()
            .expect("python3 (with the smtpd module of CPython 3.11) runs the test's SMTP server");
        // Killed and waited for on drop, whatever happens next.
        let server = Self {
            child,
            port,
            inbox,
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the test SMTP server did not start");
    }

    async fn wait_for(&self, text: &str) -> String {
        for _ in 0..200 {
            let got = std::fs::read_to_string(&self.inbox).unwrap_or_default();
            if got.contains(text) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no e-mail with {text:?} arrived");
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn supervisors_are_emailed(db: TestDb) {
    let smtp = SmtpServer::start().await;
    let d = crate::cases::department_with(
        db,
        Some(precinct_server::service::mail::MailSettings {
            host: "127.0.0.1".into(),
            port: smtp.port,
            security: "none".into(),
            from: "Precinct <precinct@pd.example>".into(),
            domain: "pd.example".into(),
        }),
    )
    .await;
    let case = d.open("Burglary at 12 Elm Street", "case").await;
    let (s, g) = d
        .request("lead", Ch::Device, d.investigation(&[&case], 3600, false))
        .await;
    assert_eq!(s, 201, "{g}");
    // The sergeant and the captain are told by e-mail, from the keeper's round.
    let inbox = smtp.wait_for("RCPT cap@pd.example").await;
    assert!(inbox.contains("RCPT sgt@pd.example"), "{inbox}");
    assert!(
        inbox.contains("asks to continue an investigation off duty"),
        "{inbox}"
    );
    assert!(
        !inbox.contains("Elm Street"),
        "no case material in e-mail: {inbox}"
    );
    // The approval reaches the officer; the reminder comes before the end.
    let grant = g["id"].as_str().unwrap().to_owned();
    assert_eq!(d.step(&grant, "sgt", "approve", None).await.0, 200);
    smtp.wait_for("RCPT lead@pd.example").await;
    d.pass(20).await;
    d.app.advance(Duration::from_secs(60));
    smtp.wait_for("Your off-site grant ends at").await;
    // Each e-mail once (a failed attempt is retried on the next round, a
    // sent one never again).
    for _ in 0..60 {
        let inbox = std::fs::read_to_string(&smtp.inbox).unwrap();
        if inbox.matches("RCPT lead@pd.example").count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let inbox = std::fs::read_to_string(&smtp.inbox).unwrap();
    assert_eq!(inbox.matches("RCPT lead@pd.example").count(), 2, "{inbox}");
}
dbtest!(supervisors_are_emailed);

async fn work_life_warns_past_the_threshold(db: TestDb) {
    let d = department(db).await;
    let case = d.open("Burglary at 12 Elm Street", "case").await;
    let path = format!("/api/v1/cases/{case}");
    let grant = d.approved(&case, 10 * 3600).await;
    // An evening of reading: 34 quarter hours with an access is 8.5 hours.
    for _ in 0..34 {
        assert_eq!(d.get(&path, "lead", Ch::Device).await.0, 200);
        d.pass(15).await;
    }
    let (_, wl) = d
        .get("/api/v1/work-life?weeks=1", "sgt", Ch::Workstation)
        .await;
    let lead = d.lead_hours(&wl);
    assert_eq!(
        (lead["hours"][0].as_f64(), lead["warning"].as_bool()),
        (Some(8.5), Some(true)),
        "{wl}"
    );
    // When the grant ends, the supervisors are warned.
    assert_eq!(d.step(&grant, "lead", "revoke", None).await.0, 200);
    let notes = d
        .wait_for("/api/v1/notifications", "cap", |v| {
            v.as_array()
                .unwrap()
                .iter()
                .any(|n| n["kind"] == "worklife.warning")
        })
        .await;
    let warning = notes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "worklife.warning")
        .unwrap();
    assert!(
        warning["message"].as_str().unwrap().contains("8.50 hours"),
        "{warning}"
    );
}
dbtest!(work_life_warns_past_the_threshold);
