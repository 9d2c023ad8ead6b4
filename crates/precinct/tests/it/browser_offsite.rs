//! Off-site work in Chromium, in two browser sessions: an officer on the
//! department laptop assigned to them is refused a case page ("only at a
//! designated workstation"), asks for an off-duty investigation of that
//! case from `/offsite` (on a phone-sized screen); the unit's supervisor,
//! at a designated workstation, finds the request in the approval queue
//! and approves it with a condition; the officer's laptop then opens the
//! case and adds a note under the grant, and the supervisor sees both
//! accesses on the grant's page. Gated like the browser suite in
//! `browser.rs` (PRECINCT_TEST_CHROMIUM), with the helpers of
//! `browser_cases.rs`: the laptop's channel is the header the trusted proxy
//! adds for its certificate (`x-client-cert`, set through DevTools), just
//! like a workstation's.
//!
//! `pages` below drives the same pages over plain HTTP with the session
//! cookie and CSRF token, on both engines: a request with bad input is
//! refused with its message and changes nothing, nobody approves their own
//! request, and a supervisor's queue holds only their chain of command.

use fantoccini::{Client, Locator};
use precinct_domain::channel::DeviceKind;
use precinct_domain::ids::UnitId;
use precinct_domain::org::UnitKind;
use precinct_domain::{Clock, Role};
use precinct_server::pki::DepartmentCa;
use precinct_server::service::admin::Actor;
use serde_json::json;
use std::time::Duration;

use crate::browser::{start_driver, CHROMIUM_ENV};
use crate::browser_cases::{
    at_workstation, browser, choose, click, fill, find, landed, log_in, save_screenshot, text_with,
};
use crate::support::{AppOptions, Onboarded, TestApp, TestDb};

use crate::browser_cases::pages::Page;

/// A department: a precinct with a supervisor, a designated workstation
/// (desk 4) and a department laptop enrolled for the officer.
struct Department {
    app: TestApp,
    central: UnitId,
    desk: String,
    laptop: String,
    laptop_id: String,
}

async fn department(
    db: TestDb,
    sergeant: &str,
    officer: &str,
) -> (Department, Onboarded, Onboarded) {
    let app = TestApp::spawn_with(
        db,
        AppOptions {
            trusted_proxies: vec!["127.0.0.1/32"],
            ..Default::default()
        },
    )
    .await;
    let sgt = app.onboard(sergeant, &[Role::Supervisor]).await;
    let off = app.onboard(officer, &[Role::Officer]).await;
    let central = app
        .services
        .create_unit(
            Actor::Console,
            "Central Precinct",
            UnitKind::Precinct,
            None,
            Some(sgt.id),
        )
        .await
        .unwrap();
    app.services
        .set_units(Actor::Console, off.id, vec![central.id])
        .await
        .unwrap();
    let ca = DepartmentCa::generate_ephemeral().unwrap();
    let desk = app
        .services
        .add_workstation(Actor::Console, "desk 4", central.id, vec![])
        .await
        .unwrap();
    let desk_cert = ca.issue_client("desk 4", 30).unwrap();
    app.services
        .register_workstation_certificate(Actor::Console, desk.id, &desk_cert.fingerprint)
        .await
        .unwrap();
    let laptop = app
        .services
        .enroll_device(Actor::Console, "laptop 7", DeviceKind::Laptop, Some(off.id))
        .await
        .unwrap();
    let laptop_cert = ca.issue_client("laptop 7", 30).unwrap();
    app.services
        .register_device_certificate(Actor::Console, laptop.id, &laptop_cert.fingerprint)
        .await
        .unwrap();
    let dept = Department {
        central: central.id,
        desk: desk_cert.fingerprint.to_string(),
        laptop: laptop_cert.fingerprint.to_string(),
        laptop_id: laptop.id.to_string(),
        app,
    };
    (dept, sgt, off)
}

/// Opens a case from the new-case form at the desk; its id and number.
async fn open_case(page: &Page<'_>, unit: UnitId, title: &str) -> (String, String) {
    let made = page
        .post(
            "/cases/new",
            "/cases",
            &[
                ("title", title),
                ("offense", "220"),
                ("classification", "case"),
                ("unit", &unit.to_string()),
                ("narrative", "Rear door forced overnight."),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let id = made
        .location
        .split('?')
        .next()
        .unwrap()
        .trim_start_matches("/cases/")
        .to_owned();
    let body = page.get(&format!("/cases/{id}")).await.body;
    let number = body
        .split("id=\"case-number\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    (id, number)
}

/// The end of a window `hours` from the fake clock's now, as a
/// `datetime-local` field holds it.
fn window_end(app: &TestApp, hours: u64) -> String {
    app.clock
        .now()
        .plus(Duration::from_secs(hours * 3600))
        .to_string()[..16]
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_requests_offsite_work_and_supervisor_approves_it() {
    let Some(chromium) = std::env::var(CHROMIUM_ENV).ok().filter(|s| !s.is_empty()) else {
        eprintln!("skipped: {CHROMIUM_ENV} is not set, so the Chromium suite did not run");
        return;
    };
    request_approve_access(TestDb::sqlite().await, &chromium).await;
}

/// The browser's document is no wider than its window.
async fn fits(c: &Client) {
    let fits = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "the page fits a phone's width");
}

async fn request_approve_access(db: TestDb, chromium: &str) {
    let (d, sgt, officer) = department(db, "sgt.reyes", "olsen").await;
    let app = &d.app;
    // The case the officer works on, opened earlier at the desk.
    let desk_page = Page {
        app,
        token: app.login_with_mfa("olsen", &officer.secret).await,
        fingerprint: &d.desk,
    };
    let (case_id, number) = open_case(&desk_page, d.central, "Burglary at 14 Elm Street").await;
    let case_path = format!("/cases/{case_id}");

    let driver = start_driver().await;

    // The officer, off duty at home on the department laptop: the case is
    // refused there.
    let o = browser(&driver, chromium, "officer").await;
    at_workstation(&o, Some(&d.laptop)).await;
    log_in(app, &o, "olsen", &officer.secret).await;
    assert_eq!(
        find(&o, "#channel")
            .await
            .attr("data-channel")
            .await
            .unwrap()
            .as_deref(),
        Some("department_device")
    );
    text_with(&o, "#channel-text", "Department laptop: laptop 7").await;
    o.goto(&app.url(&case_path)).await.unwrap();
    text_with(
        &o,
        "#denied-message",
        &format!("Case {number} is available only at a designated workstation"),
    )
    .await;

    // ... so they ask for an off-duty investigation, on a phone-sized
    // screen.
    o.set_window_size(390, 844).await.unwrap();
    click(&o, "#nav-offsite").await;
    assert_eq!(landed(&o, |p| p == "/offsite").await, "/offsite");
    text_with(&o, "#grants-empty", "no off-site requests").await;
    click(&o, "#kind-investigation").await;
    fill(
        &o,
        "#grant-justification",
        "The suspect's alibi witness calls back tonight; I need the interview notes.",
    )
    .await;
    fill(&o, "#grant-cases", &number).await;
    let ends = window_end(app, 24);
    o.execute(
        "document.getElementById('grant-ends').value = arguments[0]",
        vec![json!(ends)],
    )
    .await
    .unwrap();
    click(&o, "#access-notes").await;
    choose(&o, "#grant-device", &d.laptop_id).await;
    fits(&o).await;
    o.execute(
        "document.getElementById('request').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    save_screenshot("offsite-request-phone.png", &o.screenshot().await.unwrap());
    click(&o, "#request-submit").await;
    let grant_path = landed(&o, |p| p.starts_with("/offsite/grants/")).await;
    assert!(grant_path.starts_with("/offsite/grants/"), "{grant_path}");
    text_with(&o, "#flash", "sent to your supervisors").await;
    text_with(&o, "#grant-status", "Waiting for approval").await;
    text_with(&o, "#grant-cases", &number).await;
    // Still refused: a request is not a grant.
    o.goto(&app.url(&case_path)).await.unwrap();
    text_with(&o, "#denied-message", "only at a designated workstation").await;

    // The supervisor, at desk 4 in a browser of their own, finds it in
    // the queue.
    let s = browser(&driver, chromium, "supervisor").await;
    at_workstation(&s, Some(&d.desk)).await;
    log_in(app, &s, "sgt.reyes", &sgt.secret).await;
    click(&s, "#nav-queue").await;
    assert_eq!(
        landed(&s, |p| p == "/offsite/queue").await,
        "/offsite/queue"
    );
    let row = text_with(&s, "#queue-list", "Officer olsen").await;
    assert!(row.contains(&number), "{row}");
    click(&s, "#queue-list a.grant-link").await;
    assert_eq!(landed(&s, |p| p == grant_path).await, grant_path);
    text_with(&s, "#grant-facts", "alibi witness calls back tonight").await;
    text_with(&s, "#grant-access", "May add notes").await;
    text_with(&s, "#grant-device", "laptop 7 (laptop)").await;

    // ... and approves it with a condition, on a phone.
    s.set_window_size(390, 844).await.unwrap();
    s.refresh().await.unwrap();
    fill(
        &s,
        "#approve-note",
        "Notes only on this case; call me before contacting the witness.",
    )
    .await;
    fits(&s).await;
    save_screenshot("offsite-approval-phone.png", &s.screenshot().await.unwrap());
    click(&s, "#approve-submit").await;
    text_with(&s, "#flash", "The request was approved").await;
    text_with(&s, "#grant-status", "In force").await;
    text_with(
        &s,
        "#grant-decision-note",
        "call me before contacting the witness",
    )
    .await;
    text_with(&s, "#accesses-empty", "Nothing was opened").await;
    s.set_window_size(1280, 900).await.unwrap();

    // The officer reloads: the grant is in force, the case opens on the
    // laptop, and a note goes in under the grant.
    o.set_window_size(1280, 900).await.unwrap();
    o.goto(&app.url(&grant_path)).await.unwrap();
    text_with(&o, "#grant-status", "In force").await;
    text_with(&o, "#grant-thread", "call me before contacting the witness").await;
    o.goto(&app.url(&case_path)).await.unwrap();
    text_with(&o, "#case-number", &number).await;
    choose(&o, "#entry-kind", "note").await;
    fill(&o, "#entry-title", "Alibi call").await;
    fill(
        &o,
        "#entry-body",
        "Witness confirms the suspect was at the diner until 23:00.",
    )
    .await;
    click(&o, "#entry-submit").await;
    text_with(&o, "#flash", "added to the documentation").await;
    text_with(&o, "#entries .entry", "Witness confirms the suspect").await;
    save_screenshot(
        "offsite-case-note-laptop.png",
        &o.screenshot().await.unwrap(),
    );
    o.goto(&app.url("/offsite")).await.unwrap();
    text_with(&o, "#grant-list", "In force").await;
    o.close().await.unwrap();

    // The supervisor sees both accesses on the grant's page.
    s.refresh().await.unwrap();
    let accesses = text_with(&s, "#access-list", "document.add").await;
    assert!(accesses.contains("case.read"), "{accesses}");
    assert!(
        s.find(Locator::Css("#access-list .access-denied"))
            .await
            .is_err(),
        "nothing was refused under it"
    );
    s.execute(
        "document.getElementById('grant-accesses').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    save_screenshot(
        "offsite-grant-accesses-desktop.png",
        &s.screenshot().await.unwrap(),
    );
    // The team's work-life chart counts the quarter hour it was used.
    s.goto(&app.url("/work-life")).await.unwrap();
    text_with(&s, "#work-life-chart figcaption", "Officer olsen").await;
    text_with(&s, "#work-life-table", "0.25").await;
    find(&s, "#work-life-chart svg polyline").await;
    find(&s, "#work-life-threshold").await;
    save_screenshot(
        "offsite-work-life-desktop.png",
        &s.screenshot().await.unwrap(),
    );
    s.close().await.unwrap();
}

/// The pages over plain HTTP on both engines.
mod pages {
    use super::*;
    use crate::support::dbtest;

    async fn offsite_pages_over_http(db: TestDb) {
        let (d, sgt, olsen) = department(db, "sgt", "olsen").await;
        let app = &d.app;
        // A second precinct with its own supervisor and officer.
        let lt = app.onboard("lieutenant", &[Role::Supervisor]).await;
        let park = app.onboard("park", &[Role::Officer]).await;
        let north = app
            .services
            .create_unit(
                Actor::Console,
                "North Precinct",
                UnitKind::Precinct,
                None,
                Some(lt.id),
            )
            .await
            .unwrap();
        app.services
            .set_units(Actor::Console, park.id, vec![north.id])
            .await
            .unwrap();
        let page = |token: String, fingerprint| Page {
            app,
            token,
            fingerprint,
        };
        let officer_desk = page(app.login_with_mfa("olsen", &olsen.secret).await, &d.desk);
        let officer = page(officer_desk.token.clone(), &d.laptop);
        let supervisor = page(app.login_with_mfa("sgt", &sgt.secret).await, &d.desk);
        let park_desk = page(app.login_with_mfa("park", &park.secret).await, &d.desk);
        let lieutenant = page(app.login_with_mfa("lieutenant", &lt.secret).await, &d.desk);
        let (case_id, number) =
            open_case(&officer_desk, d.central, "Burglary at 14 Elm Street").await;
        let (_, north_number) = open_case(&park_desk, north.id, "Theft on Dock Road").await;

        // The form: the duty status, the device preselected.
        let form = officer.get("/offsite").await;
        assert_eq!(form.status, 200, "{}", form.body);
        assert!(form.body.contains("id=\"grants-empty\""));
        assert!(form
            .body
            .contains("id=\"duty-status\">You are <strong>off duty"));
        assert!(
            form.body.contains(&format!(
                "<option value=\"{}\" selected>laptop 7 (laptop)",
                d.laptop_id
            )),
            "{}",
            form.body
        );

        // Bad input comes back with its message and the draft; nothing is
        // filed.
        let ends = window_end(app, 24);
        let good = |justification: &'static str, cases: String, ends: String| {
            vec![
                ("kind", "off_duty_investigation".to_owned()),
                ("justification", justification.to_owned()),
                ("cases", cases),
                ("ends_at", ends),
                ("access", "notes".to_owned()),
                ("device", d.laptop_id.clone()),
            ]
        };
        let send = |fields: Vec<(&'static str, String)>| {
            let officer = &officer;
            async move {
                let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                officer.post("/offsite", "/offsite/grants", &f).await
            }
        };
        let short = send(good("tonight", number.clone(), ends.clone())).await;
        assert_eq!(short.status, 422, "{}", short.body);
        assert!(
            short
                .body
                .contains("Justification: state the reason in at least 10 characters."),
            "{}",
            short.body
        );
        assert!(
            short.body.contains(&format!("value=\"{number}\"")),
            "the draft is kept"
        );
        let long = send(good(
            "The alibi witness calls back tonight.",
            number.clone(),
            window_end(app, 80),
        ))
        .await;
        assert_eq!(long.status, 422);
        assert!(
            long.body
                .contains("Ends at: the window may be at most 72 hours."),
            "{}",
            long.body
        );
        let unknown = send(good(
            "The alibi witness calls back tonight.",
            "2026-999999".into(),
            ends.clone(),
        ))
        .await;
        assert_eq!(unknown.status, 422);
        assert!(
            unknown
                .body
                .contains("Cases: 2026-999999: no case of yours has this number."),
            "{}",
            unknown.body
        );
        let not_mine = send(good(
            "The alibi witness calls back tonight.",
            north_number.clone(),
            ends.clone(),
        ))
        .await;
        // A case of someone else's reads exactly like one that does not exist.
        assert_eq!(not_mine.status, 422);
        assert!(
            not_mine.body.contains(&format!(
                "Cases: {north_number}: no case of yours has this number."
            )),
            "{}",
            not_mine.body
        );
        let mut no_device = good(
            "The alibi witness calls back tonight.",
            number.clone(),
            ends.clone(),
        );
        no_device.retain(|(k, _)| *k != "device");
        let no_device = send(no_device).await;
        assert_eq!(no_device.status, 422);
        assert!(no_device
            .body
            .contains("Device: name the department device"));
        let forged = officer
            .req(app.http.post(app.url("/offsite/grants")).form(&good(
                "The alibi witness calls back tonight.",
                number.clone(),
                ends.clone(),
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 403, "no CSRF token, no request");
        assert!(officer
            .get("/offsite")
            .await
            .body
            .contains("id=\"grants-empty\""));
        assert!(supervisor
            .get("/offsite/queue")
            .await
            .body
            .contains("id=\"queue-empty\""));

        // Clocking in works on the laptop, not off-site.
        let clocked = officer
            .post("/offsite", "/offsite/duty", &[("on_duty", "yes")])
            .await;
        assert_eq!(clocked.status, 303, "{}", clocked.body);
        assert!(officer
            .get(&clocked.location)
            .await
            .body
            .contains("You are <strong>on duty"));
        // The same session from a browser at home (no certificate).
        let refused = Page::answer(
            app.http
                .post(app.url("/offsite/duty"))
                .header("cookie", format!("precinct_session={}", officer.token))
                .header("accept", "text/html")
                .form(&[
                    ("csrf", csrf_of(&officer.get("/offsite").await.body)),
                    ("on_duty", "no".into()),
                ]),
        )
        .await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused
            .body
            .contains("Clock in and out at a designated workstation or a department device."));
        officer
            .post("/offsite", "/offsite/duty", &[("on_duty", "no")])
            .await;

        // Filed: a request, not yet a grant.
        let filed = send(good(
            "The alibi witness calls back tonight.",
            number.clone(),
            ends.clone(),
        ))
        .await;
        assert_eq!(filed.status, 303, "{}", filed.body);
        let grant_path = filed.location.split('?').next().unwrap().to_owned();
        let shown = officer.get(&filed.location).await.body;
        assert!(shown.contains("sent to your supervisors"), "{shown}");
        assert!(shown.contains("id=\"grant-status\">Waiting for approval"));
        assert!(shown.contains("id=\"withdraw-form\"") && !shown.contains("id=\"approve-form\""));
        // The requester cannot approve it (the form is not offered, and a
        // forged step is refused with the rule's sentence).
        let own = officer
            .post(
                &grant_path,
                &format!("{grant_path}/steps"),
                &[("step", "approve"), ("note", "")],
            )
            .await;
        assert_eq!(own.status, 403, "{}", own.body);
        assert!(
            own.body.contains("Nobody approves their own request."),
            "{}",
            own.body
        );

        // A supervisor's own request: not in their queue, and not theirs to
        // approve.
        let sgt_laptop = app
            .services
            .enroll_device(Actor::Console, "laptop 9", DeviceKind::Laptop, Some(sgt.id))
            .await
            .unwrap();
        let mine = supervisor
            .post(
                "/offsite",
                "/offsite/grants",
                &[
                    ("kind", "off_duty_investigation"),
                    ("justification", "Reviewing the burglary file before court."),
                    ("cases", &number),
                    ("ends_at", &ends),
                    ("access", "read_only"),
                    ("device", &sgt_laptop.id.to_string()),
                ],
            )
            .await;
        assert_eq!(mine.status, 303, "{}", mine.body);
        let sgt_grant = mine.location.split('?').next().unwrap().to_owned();
        let page_of_own = supervisor.get(&sgt_grant).await.body;
        assert!(
            !page_of_own.contains("id=\"approve-form\""),
            "{page_of_own}"
        );
        let self_approved = supervisor
            .post(
                &sgt_grant,
                &format!("{sgt_grant}/steps"),
                &[("step", "approve"), ("note", "fine")],
            )
            .await;
        assert_eq!(self_approved.status, 403);
        assert!(self_approved
            .body
            .contains("Nobody approves their own request."));
        assert!(supervisor
            .get(&sgt_grant)
            .await
            .body
            .contains("id=\"grant-status\">Waiting for approval"));

        // Park, in North, asks too.
        let north_request = park_desk
            .post(
                "/offsite",
                "/offsite/grants",
                &[
                    ("kind", "administrative"),
                    ("justification", "Overtime sheets for last month."),
                    ("ends_at", &window_end(app, 4)),
                    ("access", "read_only"),
                    // Left on a device: it does not count for this kind.
                    ("device", &d.laptop_id),
                ],
            )
            .await;
        assert_eq!(north_request.status, 303, "{}", north_request.body);
        assert!(park_desk
            .get(&north_request.location)
            .await
            .body
            .contains("Your administrative task is in force"));
        let park_inv = park_desk
            .post(
                "/offsite",
                "/offsite/grants",
                &[
                    ("kind", "off_duty_investigation"),
                    ("justification", "Dock Road witness is free only on Sunday."),
                    ("cases", &north_number),
                    ("ends_at", &ends),
                    ("access", "read_only"),
                    (
                        "device",
                        &app.services
                            .enroll_device(
                                Actor::Console,
                                "tablet 3",
                                DeviceKind::Tablet,
                                Some(park.id),
                            )
                            .await
                            .unwrap()
                            .id
                            .to_string(),
                    ),
                ],
            )
            .await;
        assert_eq!(park_inv.status, 303, "{}", park_inv.body);
        let park_grant = park_inv.location.split('?').next().unwrap().to_owned();

        // Each queue holds its own chain of command's requests only.
        let queue = supervisor.get("/offsite/queue").await.body;
        assert!(
            queue.contains(&grant_path) && queue.contains(&number),
            "{queue}"
        );
        assert!(
            !queue.contains(&park_grant) && !queue.contains(&north_number),
            "{queue}"
        );
        assert!(!queue.contains(&sgt_grant), "not their own: {queue}");
        let north_queue = lieutenant.get("/offsite/queue").await.body;
        assert!(north_queue.contains(&park_grant), "{north_queue}");
        assert!(!north_queue.contains(&grant_path), "{north_queue}");
        // Another chain's request is "not found"; an officer has no queue.
        assert_eq!(lieutenant.get(&grant_path).await.status, 404);
        let declined = lieutenant
            .post(
                "/offsite/queue",
                &format!("{grant_path}/steps"),
                &[("step", "approve"), ("note", "")],
            )
            .await;
        assert_eq!(declined.status, 404);
        assert_eq!(officer.get("/offsite/queue").await.status, 403);

        // The sergeant asks, the officer answers, the sergeant approves
        // with a condition; a denial needs a reason.
        let no_reason = supervisor
            .post(
                &grant_path,
                &format!("{grant_path}/steps"),
                &[("step", "deny"), ("note", " ")],
            )
            .await;
        assert_eq!(no_reason.status, 422);
        assert!(
            no_reason.body.contains("Note: say why"),
            "{}",
            no_reason.body
        );
        let asked = supervisor
            .post(
                &grant_path,
                &format!("{grant_path}/steps"),
                &[("step", "ask_info"), ("note", "Which notes exactly?")],
            )
            .await;
        assert_eq!(asked.status, 303, "{}", asked.body);
        let waiting = officer.get(&grant_path).await.body;
        assert!(
            waiting.contains("Information requested") && waiting.contains("id=\"answer-form\"")
        );
        let answered = officer
            .post(
                &grant_path,
                &format!("{grant_path}/steps"),
                &[
                    ("step", "answer"),
                    ("note", "The witness interview of Tuesday."),
                ],
            )
            .await;
        assert_eq!(answered.status, 303, "{}", answered.body);
        let approved = supervisor
            .post(
                &grant_path,
                &format!("{grant_path}/steps"),
                &[("step", "approve"), ("note", "Notes only; call me first.")],
            )
            .await;
        assert_eq!(approved.status, 303, "{}", approved.body);
        let shown = supervisor.get(&approved.location).await.body;
        assert!(shown.contains("The request was approved"), "{shown}");
        assert!(shown.contains("id=\"grant-status\">In force"));
        assert!(shown.contains("Notes only; call me first."));
        assert!(shown.contains("id=\"accesses-empty\""));

        // On the laptop the case now opens; the access shows on the grant.
        let case = officer.get(&format!("/cases/{case_id}")).await;
        assert_eq!(case.status, 200, "{}", case.body);
        let shown = supervisor.get(&grant_path).await.body;
        assert!(
            shown.contains("id=\"access-list\"") && shown.contains("case.read"),
            "{shown}"
        );
        // The officer was told, and marks it read.
        let told = officer.get("/notifications").await.body;
        assert!(told.contains("approved your off-site request"), "{told}");
        let id = told
            .split("action=\"/notifications/")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .unwrap()
            .to_owned();
        let read = officer
            .post("/notifications", &format!("/notifications/{id}/read"), &[])
            .await;
        assert_eq!(read.status, 303);
        assert!(officer
            .get(&read.location)
            .await
            .body
            .contains("marked read"));

        // The records clerk: the file leaves the premises only under the
        // officer's grant, and back by its end.
        let clerk = app.onboard("clerk", &[Role::RecordsClerk]).await;
        let clerk = page(app.login_with_mfa("clerk", &clerk.secret).await, &d.desk);
        assert!(clerk
            .get("/paper-files")
            .await
            .body
            .contains("id=\"files-empty\""));
        let bad = clerk
            .post(
                "/paper-files",
                "/paper-files",
                &[("case", "nope"), ("location", "Shelf B4")],
            )
            .await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        assert!(
            bad.body.contains("Case: nope is not a case number"),
            "{}",
            bad.body
        );
        let registered = clerk
            .post(
                "/paper-files",
                "/paper-files",
                &[("case", &number), ("location", "Shelf B4")],
            )
            .await;
        assert_eq!(registered.status, 303, "{}", registered.body);
        let file_path = format!("/paper-files/{case_id}");
        assert!(registered.location.starts_with(&file_path));
        assert!(clerk
            .get(&registered.location)
            .await
            .body
            .contains("In the records room"));
        let out = |holder: String, due: String| {
            let clerk = &clerk;
            let file_path = file_path.clone();
            async move {
                clerk
                    .post(
                        &file_path,
                        &format!("{file_path}/check-out"),
                        &[
                            ("holder", &holder),
                            ("due_at", &due),
                            ("off_premises", "yes"),
                        ],
                    )
                    .await
            }
        };
        let stranger = out(park.id.to_string(), window_end(app, 12)).await;
        assert_eq!(stranger.status, 403, "{}", stranger.body);
        assert!(stranger
            .body
            .contains(&format!("Officer park is not on case {number}")));
        let late = out(olsen.id.to_string(), window_end(app, 48)).await;
        assert_eq!(late.status, 422, "{}", late.body);
        assert!(
            late.body
                .contains("Due at: off the premises the file is due back by the grant"),
            "{}",
            late.body
        );
        let taken = out(olsen.id.to_string(), window_end(app, 12)).await;
        assert_eq!(taken.status, 303, "{}", taken.body);
        let shown = clerk.get(&file_path).await.body;
        assert!(
            shown.contains("With Officer olsen, off the premises"),
            "{shown}"
        );
        assert!(shown.contains("Checked out") && shown.contains("id=\"check-in-form\""));
        assert!(clerk.get("/paper-files").await.body.contains(&number));
        let back = clerk
            .post(&file_path, &format!("{file_path}/check-in"), &[])
            .await;
        assert_eq!(back.status, 303, "{}", back.body);
        let shown = clerk.get(&file_path).await.body;
        assert!(shown.contains("In the records room") && shown.contains("Checked in"));
        // The officer on the case sees the history, without the clerk's
        // forms.
        let theirs = officer.get(&file_path).await;
        assert_eq!(theirs.status, 200, "{}", theirs.body);
        assert!(theirs.body.contains("Checked in") && !theirs.body.contains("check-out-form"));

        // The other pages answer, by role.
        assert_eq!(supervisor.get("/work-life").await.status, 200);
        assert!(supervisor
            .get("/work-life")
            .await
            .body
            .contains("Officer olsen"));
        assert_eq!(supervisor.get("/work-life?weeks=99").await.status, 422);
        assert_eq!(supervisor.get("/incidents").await.status, 200);
        assert_eq!(officer.get("/incidents").await.status, 403);
        assert_eq!(officer.get("/paper-files").await.status, 403);
        let report = supervisor
            .get("/offsite/report?from=2026-12-01&to=2026-12-31&unit=")
            .await;
        assert_eq!(report.status, 200, "{}", report.body);
        assert!(report.body.contains("Officer olsen") && report.body.contains("in force"));
        let csv = supervisor
            .get("/offsite/report.csv?from=2026-12-01&to=2026-12-31&unit=")
            .await;
        assert_eq!(csv.status, 200);
        assert!(csv.body.starts_with("grant,kind,requester"), "{}", csv.body);
        assert!(
            !csv.body.contains("Officer park"),
            "only the sergeant's chain"
        );
        assert_eq!(
            officer
                .get("/offsite/report.csv?from=2026-12-01&to=2026-12-31")
                .await
                .status,
            403
        );
    }
    dbtest!(offsite_pages_over_http);

    fn csrf_of(page: &str) -> String {
        page.split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a CSRF field")
            .to_owned()
    }
}
