//! The browser suite: Debian's Chromium, driven through ChromeDriver, logs
//! in for the first time, sets a password, enrols MFA from the enrolment
//! page, lands on the home page and sees the channel indicator. Runs when
//! PRECINCT_TEST_CHROMIUM names the browser (PRECINCT_TEST_CHROMEDRIVER the
//! driver, default `chromedriver` on the PATH); says it was skipped
//! otherwise.

use fantoccini::{Client, ClientBuilder, Locator};
use precinct_domain::credentials::TotpSecret;
use precinct_domain::{Clock, Role};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{TestApp, TestDb, GOOD_PASSWORD};

pub(crate) const CHROMIUM_ENV: &str = "PRECINCT_TEST_CHROMIUM";
const DRIVER_ENV: &str = "PRECINCT_TEST_CHROMEDRIVER";

/// ChromeDriver on a free port, killed when dropped; each browser session
/// gets a profile directory of its own under `profiles`.
pub(crate) struct Driver {
    child: Child,
    pub(crate) port: u16,
    pub(crate) profiles: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn start_driver() -> Driver {
    let driver = std::env::var(DRIVER_ENV).unwrap_or_else(|_| "chromedriver".into());
    let port = free_port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{CHROMIUM_ENV} is set but ChromeDriver ({driver}) did not start: {e}")
        });
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver {
        child,
        port,
        profiles: tempfile::tempdir().unwrap(),
    }
}

async fn browser(driver: &Driver, chromium: &str, width: u32, height: u32) -> Client {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-quic", "--no-first-run", format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", driver.profiles.path().join(format!("{width}")).display()),
            ]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session through ChromeDriver")
}

async fn fill(c: &Client, css: &str, text: &str) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn text(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

/// Waits (up to 10 s) for a navigation that a click started to land on
/// `want`; returns where the browser is.
async fn landed(c: &Client, want: &str) -> String {
    for _ in 0..100 {
        let p = path(c).await;
        if p == want {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    path(c).await
}

fn save_screenshot(name: &str, png: &[u8]) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, png).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG image");
    println!("screenshot saved: {}", file.display());
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_login_enrols_mfa_and_shows_the_channel() {
    let Some(chromium) = std::env::var(CHROMIUM_ENV).ok().filter(|s| !s.is_empty()) else {
        eprintln!("skipped: {CHROMIUM_ENV} is not set, so the Chromium suite did not run");
        return;
    };
    let app = TestApp::spawn(TestDb::sqlite().await).await;
    let (_, otp) = app
        .create_user("quinn", &[Role::Officer, Role::Detective])
        .await;
    let driver = start_driver().await;
    let c = browser(&driver, &chromium, 1280, 900).await;

    c.goto(&app.url("/login")).await.unwrap();
    let notice = text(&c, "#system-use-notice").await.to_lowercase();
    for words in [
        "restricted",
        "monitored",
        "criminal and civil penalties",
        "consent",
    ] {
        assert!(
            notice.contains(words),
            "the notice says {words:?}: {notice}"
        );
    }
    assert_eq!(text(&c, "#channel-text").await, "Off-site");

    // Without the acknowledgement the login is refused.
    fill(&c, "#username", "quinn").await;
    fill(&c, "#password", &otp).await;
    c.execute(
        "document.getElementById('acknowledge_notice').removeAttribute('required')",
        vec![],
    )
    .await
    .unwrap();
    click(&c, "#login-submit").await;
    // The refused form comes back with the password emptied (never echoed).
    let mut reloaded = false;
    for _ in 0..100 {
        // Mid-navigation the field can be missing or stale: not yet.
        let value = match c.find(Locator::Css("#password")).await {
            Ok(e) => e.prop("value").await.ok().flatten(),
            Err(_) => None,
        };
        if value.as_deref() == Some("") {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reloaded, "the login was refused and the form shown again");
    assert_eq!(path(&c).await, "/login");
    assert!(
        text(&c, "body").await.contains("acknowledge"),
        "the page says why"
    );

    fill(&c, "#password", &otp).await;
    click(&c, "#acknowledge_notice").await;
    click(&c, "#login-submit").await;
    assert_eq!(
        landed(&c, "/password").await,
        "/password",
        "a one-time password must be replaced first"
    );

    fill(&c, "#new_password", GOOD_PASSWORD).await;
    fill(&c, "#confirm_password", GOOD_PASSWORD).await;
    click(&c, "#password-submit").await;
    assert_eq!(landed(&c, "/mfa/enrol").await, "/mfa/enrol");

    let qr = c.find(Locator::Css("#totp-qr svg")).await;
    assert!(qr.is_ok(), "the enrolment page shows a QR code");
    let secret = c
        .find(Locator::Css("#totp-secret"))
        .await
        .unwrap()
        .attr("data-secret")
        .await
        .unwrap()
        .expect("data-secret");
    let code = TotpSecret::from_base32(&secret)
        .unwrap()
        .code_at(app.clock.now().as_secs());
    fill(&c, "#code", &code).await;
    click(&c, "#enrol-submit").await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#recovery-codes li"))
        .await
        .expect("the recovery codes page");
    let codes = c
        .find_all(Locator::Css("#recovery-codes li"))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    save_screenshot("recovery-codes.png", &c.screenshot().await.unwrap());
    click(&c, "#continue").await;

    assert_eq!(landed(&c, "/home").await, "/home");
    let channel = c.find(Locator::Css("#channel")).await.unwrap();
    assert_eq!(
        channel.attr("data-channel").await.unwrap().as_deref(),
        Some("offsite")
    );
    assert_eq!(text(&c, "#channel-text").await, "Off-site");
    assert!(text(&c, "#home-roles").await.contains("Detective"));
    save_screenshot("home-desktop.png", &c.screenshot().await.unwrap());

    // The account is now fully set up: MFA enrolled, no password change due.
    let rec = app.db.store.user_by_username("quinn").await.unwrap();
    assert!(rec.user.mfa_enrolled && !rec.user.must_change_password);

    // Logging out and in again asks for the second factor.
    click(&c, "#logout").await;
    assert_eq!(landed(&c, "/login").await, "/login");
    app.advance(Duration::from_secs(30));
    fill(&c, "#username", "quinn").await;
    fill(&c, "#password", GOOD_PASSWORD).await;
    click(&c, "#acknowledge_notice").await;
    click(&c, "#login-submit").await;
    assert_eq!(landed(&c, "/login/mfa").await, "/login/mfa");
    let code = TotpSecret::from_base32(&secret)
        .unwrap()
        .code_at(app.clock.now().as_secs());
    fill(&c, "#code", &code).await;
    click(&c, "#mfa-submit").await;
    assert_eq!(landed(&c, "/home").await, "/home");
    c.close().await.unwrap();

    // The same page on a phone-sized screen.
    let phone = browser(&driver, &chromium, 390, 844).await;
    phone.goto(&app.url("/login")).await.unwrap();
    assert!(text(&phone, "#system-use-notice")
        .await
        .to_lowercase()
        .contains("restricted"));
    save_screenshot("login-phone.png", &phone.screenshot().await.unwrap());
    phone.close().await.unwrap();
}
