//! Case work in Chromium: an officer at a designated workstation opens a
//! case from the new-case form and writes a report; the unit's supervisor,
//! in a second browser session, finds the case in the unit's list, reads
//! the report, amends it and adds a supplement; the officer's page then
//! shows the amendment with the original still in the history, on a
//! workstation screen and on a phone-sized one. Off the workstation the
//! same page is refused with the policy's sentence. Gated like the browser
//! suite in `browser.rs`: runs when PRECINCT_TEST_CHROMIUM names the
//! browser (PRECINCT_TEST_CHROMEDRIVER the driver, default `chromedriver`).
//!
//! The workstation channel: the server trusts 127.0.0.1 as its TLS
//! terminating proxy, and the browser sends the header such a proxy adds
//! (`x-client-cert` with the SHA-256 fingerprint of a workstation
//! certificate registered to a real workstation). WebDriver itself cannot
//! set headers, but ChromeDriver passes DevTools commands through
//! (`goog/cdp/execute`), and `Network.setExtraHTTPHeaders` adds the header
//! to every request of the page, htmx's included. That exercises the
//! server's real proxy path (trusted peer, registry lookup on every
//! request) without teaching Chromium a client certificate: that would
//! need an NSS database in the profile, the department CA trusted there
//! and an auto-select policy file in /etc. Taking the header away again
//! shows the refusal an off-site browser gets.
//!
//! `pages` below drives the same pages over plain HTTP with the session
//! cookie, on both engines and without a browser: the refusals, break-glass
//! and its review, and forms answered with their message.

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use precinct_domain::org::UnitKind;
use precinct_domain::Role;
use precinct_server::pki::DepartmentCa;
use precinct_server::service::admin::Actor;
use serde_json::{json, Value};
use std::str::FromStr;
use std::time::Duration;

use crate::browser::{start_driver, Driver, CHROMIUM_ENV};
use crate::support::{AppOptions, TestApp, TestDb, GOOD_PASSWORD};

pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A headless Chromium session; `profile` names its own user-data
/// directory (two sessions cannot share one).
pub(crate) async fn browser(driver: &Driver, chromium: &str, profile: &str) -> Client {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-quic", "--no-first-run", "--window-size=1280,900",
                format!("--user-data-dir={}", driver.profiles.path().join(profile).display()),
            ]
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session through ChromeDriver")
}

/// A DevTools command through ChromeDriver's `goog/cdp/execute`.
#[derive(Debug)]
struct DevTools {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for DevTools {
    fn endpoint(
        &self,
        base: &reqwest::Url,
        session: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as FromStr>::Err> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (reqwest::Method, Option<String>) {
        let body = json!({"cmd": self.cmd, "params": self.params});
        (reqwest::Method::POST, Some(body.to_string()))
    }
}

/// From now on the browser's requests carry what the department's proxy
/// adds for a workstation's certificate (or, with `None`, nothing: the
/// browser is off-site).
pub(crate) async fn at_workstation(c: &Client, fingerprint: Option<&str>) {
    let headers = match fingerprint {
        Some(fp) => json!({ "x-client-cert": fp }),
        None => json!({}),
    };
    for (cmd, params) in [
        ("Network.enable", json!({})),
        ("Network.setExtraHTTPHeaders", json!({ "headers": headers })),
    ] {
        c.issue_cmd(DevTools { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    }
}

pub(crate) async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

pub(crate) async fn fill(c: &Client, css: &str, text: &str) {
    find(c, css).await.send_keys(text).await.unwrap();
}

pub(crate) async fn click(c: &Client, css: &str) {
    find(c, css).await.click().await.unwrap();
}

pub(crate) async fn choose(c: &Client, css: &str, value: &str) {
    find(c, css).await.select_by_value(value).await.unwrap();
}

/// Waits for an element whose text contains `needle` (the page a click
/// started may still be loading, or the element may go stale under us).
pub(crate) async fn text_with(c: &Client, css: &str, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if t.contains(needle) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never said {needle:?}; it said {last:?}");
}

pub(crate) async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

/// Waits (up to 10 s) for the browser to land on a path that `want`
/// accepts; returns where it is.
pub(crate) async fn landed(c: &Client, want: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        let p = path(c).await;
        if want(&p) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    path(c).await
}

pub(crate) fn save_screenshot(name: &str, png: &[u8]) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG image");
    std::fs::write(dir.join(name), png).unwrap();
    println!("screenshot saved: {}", dir.join(name).display());
}

/// Logs in through the login page with password and a fresh TOTP code.
pub(crate) async fn log_in(app: &TestApp, c: &Client, username: &str, secret: &str) {
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "#username", username).await;
    fill(c, "#password", GOOD_PASSWORD).await;
    click(c, "#acknowledge_notice").await;
    click(c, "#login-submit").await;
    assert_eq!(landed(c, |p| p == "/login/mfa").await, "/login/mfa");
    app.advance(Duration::from_secs(30));
    fill(c, "#code", &app.totp_now(secret)).await;
    click(c, "#mfa-submit").await;
    assert_eq!(landed(c, |p| p == "/home").await, "/home");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_writes_a_report_and_supervisor_reviews_it() {
    let Some(chromium) = std::env::var(CHROMIUM_ENV).ok().filter(|s| !s.is_empty()) else {
        eprintln!("skipped: {CHROMIUM_ENV} is not set, so the Chromium suite did not run");
        return;
    };
    // Nothing below depends on the engine: `dbtest!` would run it on
    // PostgreSQL too, as soon as the browser suite does.
    report_and_review(TestDb::sqlite().await, &chromium).await;
}

async fn report_and_review(db: TestDb, chromium: &str) {
    // The server believes 127.0.0.1 (where the browser connects from) as
    // its proxy.
    let app = TestApp::spawn_with(
        db,
        AppOptions {
            trusted_proxies: vec!["127.0.0.1/32"],
            ..Default::default()
        },
    )
    .await;
    let sergeant = app.onboard("sgt.reyes", &[Role::Supervisor]).await;
    let officer = app.onboard("olsen", &[Role::Officer]).await;
    let unit = app
        .services
        .create_unit(
            Actor::Console,
            "Central Precinct",
            UnitKind::Precinct,
            None,
            Some(sergeant.id),
        )
        .await
        .unwrap();
    app.services
        .set_units(Actor::Console, officer.id, vec![unit.id])
        .await
        .unwrap();
    let desk = app
        .services
        .add_workstation(Actor::Console, "desk 4", unit.id, vec![])
        .await
        .unwrap();
    let cert = DepartmentCa::generate_ephemeral()
        .unwrap()
        .issue_client("desk 4", 30)
        .unwrap();
    app.services
        .register_workstation_certificate(Actor::Console, desk.id, &cert.fingerprint)
        .await
        .unwrap();
    let fingerprint = cert.fingerprint.to_string();

    let driver = start_driver().await;

    // The officer, at desk 4, opens a case from the form.
    let o = browser(&driver, chromium, "officer").await;
    at_workstation(&o, Some(&fingerprint)).await;
    log_in(&app, &o, "olsen", &officer.secret).await;
    assert_eq!(
        find(&o, "#channel")
            .await
            .attr("data-channel")
            .await
            .unwrap()
            .as_deref(),
        Some("workstation")
    );
    text_with(
        &o,
        "#channel-text",
        "Designated workstation: Central Precinct, desk 4",
    )
    .await;
    click(&o, "#nav-cases").await;
    assert_eq!(landed(&o, |p| p == "/cases").await, "/cases");
    text_with(&o, "#cases-empty", "not on any case").await;
    click(&o, "#new-case").await;
    assert_eq!(landed(&o, |p| p == "/cases/new").await, "/cases/new");
    fill(&o, "#case-title", "Burglary at 14 Elm Street").await;
    choose(&o, "#case-offense", "220").await;
    fill(&o, "#case-narrative", "Rear door forced overnight.").await;
    click(&o, "#new-case-submit").await;
    let case_path = landed(&o, |p| p.starts_with("/cases/") && p != "/cases/new").await;
    assert!(
        case_path.starts_with("/cases/"),
        "on the case page: {case_path}"
    );
    text_with(&o, "#flash", "You are its lead investigator").await;
    let number = find(&o, "#case-number").await.text().await.unwrap();
    assert!(number.starts_with("2026-"), "{number}");
    text_with(&o, "#case-offense", "Burglary/Breaking & Entering").await;
    text_with(&o, "#case-members", "Officer olsen").await;
    // No audit tab for an officer.
    assert!(o.find(Locator::Css("#case-audit-link")).await.is_err());

    // ... and writes the report.
    choose(&o, "#entry-kind", "report").await;
    fill(&o, "#entry-title", "Initial report").await;
    fill(
        &o,
        "#entry-body",
        "Called at 06:10. Rear door forced.\nA laptop and jewellery are missing.",
    )
    .await;
    click(&o, "#entry-submit").await;
    text_with(&o, "#flash", "added to the documentation").await;
    let entry = text_with(&o, "#entries .entry", "Initial report").await;
    assert!(
        entry.contains("A laptop and jewellery are missing."),
        "{entry}"
    );
    assert!(entry.contains("By Officer olsen"), "{entry}");
    save_screenshot("case-officer-desktop.png", &o.screenshot().await.unwrap());

    // The supervisor, in a browser of their own at the same desk, finds the
    // case among the unit's cases.
    let s = browser(&driver, chromium, "supervisor").await;
    at_workstation(&s, Some(&fingerprint)).await;
    log_in(&app, &s, "sgt.reyes", &sergeant.secret).await;
    s.goto(&app.url("/cases?scope=unit")).await.unwrap();
    text_with(&s, "#case-list", &number).await;
    click(&s, "#case-list a.case-link").await;
    assert_eq!(landed(&s, |p| p == case_path).await, case_path);
    text_with(&s, "#entries .entry", "A laptop and jewellery are missing.").await;
    save_screenshot(
        "case-supervisor-desktop.png",
        &s.screenshot().await.unwrap(),
    );
    let audit = find(&s, "#case-audit-link")
        .await
        .attr("href")
        .await
        .unwrap();
    let case_id = case_path.trim_start_matches("/cases/");
    assert_eq!(
        audit.as_deref(),
        Some(format!("/audit?case={case_id}").as_str())
    );

    // The review: a correction to the report, and a supplement.
    let entry_id = find(&s, "#entries .entry")
        .await
        .attr("id")
        .await
        .unwrap()
        .expect("the entry's id");
    click(
        &s,
        &format!(
            "#amend-panel-{} > summary",
            entry_id.trim_start_matches("entry-")
        ),
    )
    .await;
    let body = find(&s, &format!("#{entry_id} textarea[name=body]")).await;
    body.clear().await.unwrap();
    body.send_keys(
        "Called at 06:10. Rear door forced.\nA laptop, jewellery and a passport are missing.",
    )
    .await
    .unwrap();
    click(&s, &format!("#{entry_id} .amend-submit")).await;
    text_with(&s, "#flash", "stays in the history").await;
    text_with(&s, "#entries .entry", "a passport are missing").await;
    choose(&s, "#entry-kind", "supplement").await;
    fill(&s, "#entry-title", "Supervisor review").await;
    fill(
        &s,
        "#entry-body",
        "Reviewed; the passport was added from the victim's call.",
    )
    .await;
    click(&s, "#entry-submit").await;
    text_with(&s, "#entries", "Supervisor review").await;
    s.close().await.unwrap();

    // The officer's page: the amendment, the original in the history, the
    // supplement.
    o.refresh().await.unwrap();
    let report = text_with(&o, "#entries .entry", "a passport are missing").await;
    assert!(
        report.contains("Written by Officer olsen")
            && report.contains("amended by Officer sgt.reyes"),
        "{report}"
    );
    assert!(report.contains("Amended"), "{report}");
    click(&o, "#entries .entry .history > summary").await;
    let history = text_with(&o, "#entries .entry .history", "Original").await;
    assert!(
        history.contains("A laptop and jewellery are missing."),
        "the original stays: {history}"
    );
    assert!(history.contains("Amendment 1"), "{history}");
    assert!(
        history.contains("Officer olsen") && history.contains("Officer sgt.reyes"),
        "{history}"
    );
    text_with(&o, "#entries", "Supervisor review").await;
    text_with(&o, "#timeline-list", "Report amended").await;
    save_screenshot("case-amended-desktop.png", &o.screenshot().await.unwrap());

    // The same page on a phone-sized screen: nothing wider than the screen.
    o.set_window_size(390, 844).await.unwrap();
    o.refresh().await.unwrap();
    text_with(&o, "#entries", "Supervisor review").await;
    let fits = o
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "the case page fits a phone's width");
    save_screenshot("case-phone.png", &o.screenshot().await.unwrap());

    // Off the workstation the case is refused, saying why, with no
    // break-glass for an officer.
    at_workstation(&o, None).await;
    o.refresh().await.unwrap();
    let refused = text_with(&o, "#denied-message", "designated workstation").await;
    assert_eq!(
        refused,
        format!("Case {number} is available only at a designated workstation")
    );
    text_with(&o, "#channel-text", "Off-site").await;
    assert!(o.find(Locator::Css("#break-glass-form")).await.is_err());
    assert!(!o.source().await.unwrap().contains("a passport are missing"));
    o.close().await.unwrap();
}

/// The pages a browser would get, over plain HTTP with the session
/// cookie: refused input shown again with its message and nothing changed,
/// CSRF, the refusal and break-glass pages, "not found" for a case out of
/// reach, masking, status, tasks, search and the break-glass review.
pub(crate) mod pages {
    use super::*;
    use crate::support::dbtest;

    /// A page request as a browser session sends it: the session cookie,
    /// the channel's certificate header (from the trusted proxy),
    /// `text/html`.
    pub(crate) struct Page<'a> {
        pub(crate) app: &'a TestApp,
        pub(crate) token: String,
        pub(crate) fingerprint: &'a str,
    }

    pub(crate) struct Answer {
        pub(crate) status: u16,
        pub(crate) body: String,
        pub(crate) location: String,
    }

    impl Page<'_> {
        pub(crate) fn req(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
            r.header("cookie", format!("precinct_session={}", self.token))
                .header("x-client-cert", self.fingerprint)
                .header("accept", "text/html")
        }
        pub(crate) async fn answer(r: reqwest::RequestBuilder) -> Answer {
            let res = r.send().await.unwrap();
            let status = res.status().as_u16();
            let location = res
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            Answer {
                status,
                location,
                body: res.text().await.unwrap(),
            }
        }
        pub(crate) async fn get(&self, path: &str) -> Answer {
            Self::answer(self.req(self.app.http.get(self.app.url(path)))).await
        }
        /// Posts a form with the session's CSRF token, read from `from`.
        pub(crate) async fn post(&self, from: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
            let page = self.get(from).await.body;
            let csrf = page
                .split("name=\"csrf\" value=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .expect("a CSRF field")
                .to_owned();
            let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
            form.extend_from_slice(fields);
            Self::answer(self.req(self.app.http.post(self.app.url(path)).form(&form))).await
        }
    }

    async fn case_pages_over_http(db: TestDb) {
        let app = TestApp::spawn_with(
            db,
            AppOptions {
                trusted_proxies: vec!["127.0.0.1/32"],
                ..Default::default()
            },
        )
        .await;
        let sgt = app.onboard("sgt", &[Role::Supervisor]).await;
        let lt = app.onboard("lieutenant", &[Role::Supervisor]).await;
        let sgt2 = app.onboard("sgt2", &[Role::Supervisor]).await;
        let olsen = app.onboard("olsen", &[Role::Officer]).await;
        let park = app.onboard("park", &[Role::Officer]).await;
        let unit = |name: &'static str, sup| {
            let app = &app;
            async move {
                app.services
                    .create_unit(Actor::Console, name, UnitKind::Precinct, None, Some(sup))
                    .await
                    .unwrap()
            }
        };
        let central = unit("Central Precinct", sgt.id).await;
        let north = unit("North Precinct", lt.id).await;
        for (user, u) in [
            (olsen.id, central.id),
            (park.id, north.id),
            (sgt2.id, north.id),
        ] {
            app.services
                .set_units(Actor::Console, user, vec![u])
                .await
                .unwrap();
        }
        let desk = app
            .services
            .add_workstation(Actor::Console, "desk 4", central.id, vec![])
            .await
            .unwrap();
        let cert = DepartmentCa::generate_ephemeral()
            .unwrap()
            .issue_client("desk 4", 30)
            .unwrap();
        app.services
            .register_workstation_certificate(Actor::Console, desk.id, &cert.fingerprint)
            .await
            .unwrap();
        let fp = cert.fingerprint.to_string();
        let mut pages = Vec::new();
        for (name, who) in [
            ("olsen", &olsen),
            ("sgt", &sgt),
            ("sgt2", &sgt2),
            ("park", &park),
            ("lieutenant", &lt),
        ] {
            pages.push(Page {
                app: &app,
                token: app.login_with_mfa(name, &who.secret).await,
                fingerprint: &fp,
            });
        }
        let [officer, supervisor, other_sgt, stranger, lieutenant] = &pages[..] else {
            unreachable!()
        };

        // The new-case form: refused input comes back filled in, with the
        // message; without the CSRF token nothing happens at all.
        let page = officer.get("/cases/new").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("<option value=\"220\">220 Burglary"));
        let bad = officer
            .post(
                "/cases/new",
                "/cases",
                &[
                    ("title", "x"),
                    ("offense", "220"),
                    ("unit", &central.id.to_string()),
                    ("narrative", "Rear door forced."),
                ],
            )
            .await;
        assert_eq!(bad.status, 422, "{}", bad.body);
        assert!(
            bad.body.contains("Title: must be 3 to 200 characters"),
            "{}",
            bad.body
        );
        assert!(bad.body.contains("Rear door forced."), "the draft is kept");
        let forged = officer
            .req(
                app.http
                    .post(app.url("/cases"))
                    .form(&[("title", "Burglary at 14 Elm Street"), ("offense", "220")]),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 403);
        assert!(officer.get("/cases").await.body.contains("not on any case"));
        let made = officer
            .post(
                "/cases/new",
                "/cases",
                &[
                    ("title", "Burglary at 14 Elm Street"),
                    ("offense", "220"),
                    ("classification", "case"),
                    ("unit", &central.id.to_string()),
                    ("narrative", "Rear door forced."),
                ],
            )
            .await;
        assert_eq!(made.status, 303, "{}", made.body);
        let case_path = made.location.split('?').next().unwrap().to_owned();
        let case_id = case_path.trim_start_matches("/cases/").to_owned();
        let page = officer.get(&made.location).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("You are its lead investigator"));
        let number = page
            .body
            .split("id=\"case-number\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap()
            .to_owned();
        assert!(officer.get("/cases").await.body.contains(&number));

        // A report without text is refused, and the title kept.
        let bad = officer
            .post(
                &case_path,
                &format!("{case_path}/entries"),
                &[
                    ("kind", "report"),
                    ("title", "Initial report"),
                    ("body", "  "),
                ],
            )
            .await;
        assert_eq!(bad.status, 422);
        assert!(
            bad.body.contains("Body: must not be empty."),
            "{}",
            bad.body
        );
        assert!(bad.body.contains("value=\"Initial report\""));
        assert!(officer
            .get(&case_path)
            .await
            .body
            .contains("id=\"entries-empty\""));

        // People: a protected witness is masked for the unit's supervisor
        // (not named), shown to the lead.
        let added = officer
            .post(
                &case_path,
                &format!("{case_path}/people"),
                &[
                    ("role", "witness"),
                    ("name", "Jo Doe"),
                    ("phone", "+1 555 0100"),
                    ("protected_witness", "yes"),
                ],
            )
            .await;
        assert_eq!(added.status, 303, "{}", added.body);
        assert!(officer.get(&case_path).await.body.contains("Jo Doe"));
        let seen = supervisor.get(&case_path).await.body;
        assert!(
            !seen.contains("Jo Doe") && seen.contains("badge-protected"),
            "masked"
        );
        // The audit tab: the case's own trail opens to its supervisor, not
        // to its officer.
        let tab = supervisor.get(&format!("/audit?case={case_id}")).await;
        assert_eq!(tab.status, 200, "{}", tab.body);
        assert!(
            tab.body.contains("case.open"),
            "the trail lists the case's events"
        );
        assert_eq!(
            officer.get(&format!("/audit?case={case_id}")).await.status,
            403
        );

        // Status: only the lead or a supervisor; sealing needs an order.
        let sealed = supervisor
            .post(
                &case_path,
                &format!("{case_path}/status"),
                &[("transition", "seal")],
            )
            .await;
        assert_eq!(sealed.status, 422);
        assert!(
            sealed.body.contains("Court order: a court order reference"),
            "{}",
            sealed.body
        );
        let moved = officer
            .post(
                &case_path,
                &format!("{case_path}/status"),
                &[("transition", "activate")],
            )
            .await;
        assert_eq!(moved.status, 303);
        assert!(officer
            .get(&case_path)
            .await
            .body
            .contains("id=\"case-status\">Active"));

        // Tasks: added and done.
        let task = supervisor
            .post(
                &case_path,
                &format!("{case_path}/tasks"),
                &[
                    ("title", "Canvass the street"),
                    ("assignee", &olsen.id.to_string()),
                    ("due", "2026-12-05"),
                ],
            )
            .await;
        assert_eq!(task.status, 303, "{}", task.body);
        let page = officer.get(&case_path).await.body;
        assert!(page.contains("Canvass the street") && page.contains("due 2026-12-05"));
        let task_id = page
            .split("class=\"task\" id=\"task-")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned();
        let done = officer
            .post(
                &case_path,
                &format!("{case_path}/tasks/{task_id}/complete"),
                &[],
            )
            .await;
        assert_eq!(done.status, 303);
        assert!(officer.get(&case_path).await.body.contains("task-done"));

        // Assignment: a lead is required.
        let member = olsen.id.to_string();
        let no_lead = supervisor
            .post(
                &case_path,
                &format!("{case_path}/assignment"),
                &[("member", &member), (&format!("access-{member}"), "team")],
            )
            .await;
        assert_eq!(no_lead.status, 422);
        assert!(no_lead
            .body
            .contains("Lead: a case needs a lead investigator"));

        // Search: counted after policy; the unconnected officer finds nothing.
        let found = officer.get("/cases/search?q=Elm").await.body;
        assert!(
            found.contains("1 case matches") && found.contains(&number),
            "{found}"
        );
        assert!(stranger
            .get("/cases/search?q=Elm")
            .await
            .body
            .contains("No case you may see matches"));
        assert_eq!(officer.get("/cases/search?q=Elm&page=x").await.status, 422);
        assert_eq!(officer.get("/cases/search").await.status, 200);

        // Out of reach is "not found", exactly like a case that does not exist.
        let hidden = stranger.get(&case_path).await;
        let missing = stranger
            .get(&format!("/cases/{}", uuid::Uuid::new_v4()))
            .await;
        assert_eq!((hidden.status, missing.status), (404, 404));
        assert_eq!(
            hidden.body.replace(&case_id, ""),
            missing.body.replace(&case_id, "")
        );

        // A supervisor outside the chain is told why, and may break the glass
        // with a reason of at least 10 characters.
        let refused = other_sgt.get(&case_path).await;
        assert_eq!(refused.status, 403);
        assert!(refused.body.contains("id=\"break-glass-form\""));
        let short = other_sgt
            .post(
                &case_path,
                &format!("{case_path}/break-glass"),
                &[("reason", "because")],
            )
            .await;
        assert_eq!(short.status, 422);
        assert!(
            short.body.contains("at least 10 characters"),
            "{}",
            short.body
        );
        assert!(
            !short.body.contains("Rear door forced."),
            "nothing of the case"
        );
        let opened = other_sgt
            .post(
                &case_path,
                &format!("{case_path}/break-glass"),
                &[("reason", "Suspect in custody in North; need the statement")],
            )
            .await;
        assert_eq!(opened.status, 200, "{}", opened.body);
        assert!(opened
            .body
            .contains("Opened by break-glass; this is recorded and reviewed"));
        assert!(opened.body.contains(&number));
        // The next read is refused again.
        assert_eq!(other_sgt.get(&case_path).await.status, 403);

        // The lieutenant (sgt2's chain of command) reviews the opening.
        let list = lieutenant.get("/break-glass").await.body;
        assert!(
            list.contains("Suspect in custody in North") && list.contains("1 waiting for review"),
            "{list}"
        );
        let opening = list
            .split("id=\"opening-")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned();
        assert!(supervisor
            .get("/break-glass")
            .await
            .body
            .contains("No openings to review"));
        let reviewed = lieutenant
            .post(
                "/break-glass",
                &format!("/break-glass/{opening}/review"),
                &[],
            )
            .await;
        assert_eq!(reviewed.status, 303);
        let list = lieutenant.get(&reviewed.location).await.body;
        assert!(list.contains("marked reviewed") && list.contains("All openings are reviewed"));
        let again = supervisor
            .post("/cases", &format!("/break-glass/{opening}/review"), &[])
            .await;
        assert_eq!(again.status, 404, "not in the supervisor's chain");
    }
    dbtest!(case_pages_over_http);
}
