//! Identity and sessions: login with MFA, lockout and unlock, idle and
//! absolute expiry on a fake clock, revocation when a user changes.

use precinct_domain::Role;
use serde_json::json;
use std::time::Duration;

use crate::support::{dbtest, TestApp, TestDb, GOOD_PASSWORD};

async fn login_with_mfa(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.onboard("alice", &[Role::Officer]).await;
    let (status, me) = app.get("/api/v1/me", Some(&alice.token)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["username"], "alice");
    assert_eq!(me["user"]["mfa_enrolled"], true);
    assert_eq!(me["user"]["must_change_password"], false);
    assert_eq!(alice.recovery.len(), 10);

    // Logging in again takes password and a TOTP code.
    let token = app.login_with_mfa("alice", &alice.secret).await;
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.0, 200);

    // A session that has only passed the password step cannot act.
    app.advance(Duration::from_secs(30));
    let (_, body) = app.login("alice", GOOD_PASSWORD).await;
    let half = body["token"].as_str().unwrap().to_owned();
    let (status, body) = app.get("/api/v1/me", Some(&half)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("login_incomplete"))
    );

    // A wrong code is refused; the same valid code is not accepted twice.
    let (status, body) = app
        .post(
            "/api/v1/session/mfa",
            Some(&half),
            json!({"code": "000000"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_mfa_code"))
    );
    let code = app.totp_now(&alice.secret);
    assert_eq!(
        app.post("/api/v1/session/mfa", Some(&half), json!({"code": code}))
            .await
            .0,
        200
    );
    let (_, body) = app.login("alice", GOOD_PASSWORD).await;
    let again = body["token"].as_str().unwrap().to_owned();
    let (status, _) = app
        .post("/api/v1/session/mfa", Some(&again), json!({"code": code}))
        .await;
    assert_eq!(status, 401, "a TOTP code is single-use");

    // A recovery code works once.
    let rc = &alice.recovery[0];
    assert_eq!(
        app.post("/api/v1/session/mfa", Some(&again), json!({"code": rc}))
            .await
            .0,
        200
    );
    let (_, body) = app.login("alice", GOOD_PASSWORD).await;
    let third = body["token"].as_str().unwrap().to_owned();
    let (status, _) = app
        .post("/api/v1/session/mfa", Some(&third), json!({"code": rc}))
        .await;
    assert_eq!(status, 401);

    // The notice must be acknowledged; wrong passwords and unknown users look alike.
    let (status, body) = app
        .post(
            "/api/v1/session",
            None,
            json!({"username": "alice", "password": GOOD_PASSWORD, "acknowledge_notice": false}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("notice_not_acknowledged"))
    );
    let (s1, b1) = app.login("alice", "not the password at all").await;
    let (s2, b2) = app.login("nobody", "not the password at all").await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(b1, b2);

    // Logout ends the session.
    let req = app
        .http
        .delete(app.url("/api/v1/session"))
        .bearer_auth(&token);
    assert_eq!(req.send().await.unwrap().status().as_u16(), 204);
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.0, 401);
}
dbtest!(login_with_mfa);

async fn first_login_rules(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, otp) = app.create_user("bob", &[Role::Officer]).await;
    let (_, body) = app.login("bob", &otp).await;
    let token = body["token"].as_str().unwrap().to_owned();
    // Nothing but the password change is possible yet.
    assert_eq!(
        app.post("/api/v1/session/mfa/enrolment", Some(&token), json!({}))
            .await
            .0,
        403
    );
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.0, 403);
    for (bad, code) in [
        ("shrt9x", "password_too_short"),
        ("password1234", "password_banned"),
        ("bob-bob-bob-bob", "password_contains_username"),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/session/password",
                Some(&token),
                json!({"new_password": bad}),
            )
            .await;
        assert_eq!((status, body["code"].as_str()), (422, Some(code)), "{bad}");
        assert!(
            !body.to_string().contains(bad),
            "the refused password is not echoed"
        );
    }
    let (status, body) = app
        .post(
            "/api/v1/session/password",
            Some(&token),
            json!({"new_password": GOOD_PASSWORD}),
        )
        .await;
    assert_eq!((status, body["stage"].as_str()), (200, Some("enrol_mfa")));
    // Enrolment needs a code from the new secret.
    let (_, body) = app
        .post("/api/v1/session/mfa/enrolment", Some(&token), json!({}))
        .await;
    assert!(body["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Precinct:bob?"));
    let (status, _) = app
        .post(
            "/api/v1/session/mfa/enrolment/confirm",
            Some(&token),
            json!({"code": "123456"}),
        )
        .await;
    assert_eq!(status, 401);
    // The one-time password no longer works.
    assert_eq!(app.login("bob", &otp).await.0, 401);
}
dbtest!(first_login_rules);

async fn lockout_after_five_failures_until_admin_unlocks(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin().await;
    let carol = app.onboard("carol", &[Role::Officer]).await;

    // Four failures, then 16 minutes pass: the window forgets them.
    for _ in 0..4 {
        assert_eq!(app.login("carol", "wrong password number one").await.0, 401);
    }
    app.advance(Duration::from_secs(16 * 60));
    assert_eq!(app.login("carol", "wrong password number one").await.0, 401);
    app.login_with_mfa("carol", &carol.secret).await;

    // Five within fifteen minutes lock the account and end its sessions.
    for i in 0..5 {
        let (status, body) = app.login("carol", "wrong password number two").await;
        let expected = if i < 4 {
            (401, "invalid_credentials")
        } else {
            (403, "account_locked")
        };
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            expected,
            "attempt {i}"
        );
        app.advance(Duration::from_secs(60));
    }
    assert_eq!(app.get("/api/v1/me", Some(&carol.token)).await.0, 401);
    let (status, body) = app.login("carol", GOOD_PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("account_locked")),
        "even the right password"
    );
    // It stays locked long after the window.
    app.advance(Duration::from_secs(24 * 3600));
    assert_eq!(app.login("carol", GOOD_PASSWORD).await.0, 403);

    let (status, users) = app.get("/api/v1/users", Some(&admin)).await;
    assert_eq!(
        status, 401,
        "the admin's own session expired after 24h: {users}"
    );
    let admin = app
        .login_with_mfa("chief", &app_secret(&app, "chief").await)
        .await;
    let (_, user) = app
        .get(&format!("/api/v1/users/{}", carol.id), Some(&admin))
        .await;
    assert_eq!(user["locked"], true);
    // Only an administrator may unlock.
    let other = app.onboard("dave", &[Role::Supervisor]).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/users/{}/unlock", carol.id),
            Some(&other.token),
            json!({}),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, user) = app
        .post(
            &format!("/api/v1/users/{}/unlock", carol.id),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!((status, user["locked"].as_bool()), (200, Some(false)));
    app.login_with_mfa("carol", &carol.secret).await;

    // Wrong MFA codes count as failures too.
    app.advance(Duration::from_secs(30));
    let (_, body) = app.login("carol", GOOD_PASSWORD).await;
    let half = body["token"].as_str().unwrap().to_owned();
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..5 {
        last = app
            .post(
                "/api/v1/session/mfa",
                Some(&half),
                json!({"code": "999999"}),
            )
            .await;
    }
    assert_eq!(
        (last.0, last.1["code"].as_str()),
        (403, Some("account_locked"))
    );
}
dbtest!(lockout_after_five_failures_until_admin_unlocks);

/// The TOTP secret of a user, read back through the store (the test plays
/// the user's authenticator app).
async fn app_secret(app: &TestApp, username: &str) -> String {
    app.db
        .store
        .user_by_username(username)
        .await
        .unwrap()
        .totp_secret
        .unwrap()
}

async fn idle_and_absolute_session_expiry(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let erin = app.onboard("erin", &[Role::Detective]).await;
    let token = erin.token;
    // Activity every 29 minutes keeps the session alive...
    for _ in 0..3 {
        app.advance(Duration::from_secs(29 * 60));
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.0, 200);
    }
    // ...30 minutes of silence lock it.
    app.advance(Duration::from_secs(30 * 60));
    let (status, body) = app.get("/api/v1/me", Some(&token)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("session_locked"))
    );
    assert_eq!(
        app.get("/api/v1/me", Some(&token)).await.0,
        401,
        "and it stays gone"
    );

    // However active, a session ends 12 hours after login.
    let token = app.login_with_mfa("erin", &erin.secret).await;
    for _ in 0..((12 * 60) / 20 - 1) {
        app.advance(Duration::from_secs(20 * 60));
        assert_eq!(app.get("/api/v1/me", Some(&token)).await.0, 200);
    }
    app.advance(Duration::from_secs(20 * 60));
    let (status, body) = app.get("/api/v1/me", Some(&token)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("session_expired"))
    );
}
dbtest!(idle_and_absolute_session_expiry);

async fn sessions_end_when_the_user_changes(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin().await;
    let frank = app.onboard("frank", &[Role::Officer]).await;
    let (status, units) = app
        .post(
            "/api/v1/units",
            Some(&admin),
            json!({"name": "Central Precinct", "kind": "precinct"}),
        )
        .await;
    assert_eq!(status, 201, "{units}");
    let unit = units["id"].as_str().unwrap().to_owned();

    // Role change: the old session is rejected on its very next request.
    assert_eq!(app.get("/api/v1/me", Some(&frank.token)).await.0, 200);
    let (status, user) = app
        .put(
            &format!("/api/v1/users/{}/roles", frank.id),
            &admin,
            json!({"roles": ["officer", "detective"]}),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["roles"], json!(["officer", "detective"]));
    assert_eq!(app.get("/api/v1/me", Some(&frank.token)).await.0, 401);

    // Unit change.
    let token = app.login_with_mfa("frank", &frank.secret).await;
    let (status, _) = app
        .put(
            &format!("/api/v1/users/{}/units", frank.id),
            &admin,
            json!({"units": [unit]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.0, 401);

    // Disabling: sessions end and login is refused.
    let token = app.login_with_mfa("frank", &frank.secret).await;
    let (_, me) = app.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me["user"]["units"], json!([unit]));
    let (status, _) = app
        .post(
            &format!("/api/v1/users/{}/disable", frank.id),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.0, 401);
    assert_eq!(app.login("frank", GOOD_PASSWORD).await.0, 401);

    // MFA reset: enrol again at next login.
    app.post(
        &format!("/api/v1/users/{}/enable", frank.id),
        Some(&admin),
        json!({}),
    )
    .await;
    let token = app.login_with_mfa("frank", &frank.secret).await;
    app.post(
        &format!("/api/v1/users/{}/reset-mfa", frank.id),
        Some(&admin),
        json!({}),
    )
    .await;
    assert_eq!(app.get("/api/v1/me", Some(&token)).await.0, 401);
    let (_, body) = app.login("frank", GOOD_PASSWORD).await;
    assert_eq!(body["stage"], "enrol_mfa");

    // The admin's own session was never touched.
    assert_eq!(app.get("/api/v1/me", Some(&admin)).await.0, 200);
}
dbtest!(sessions_end_when_the_user_changes);

async fn concurrent_guesses_cannot_outrun_the_lockout(db: TestDb) {
    let app = TestApp::spawn(db).await;
    app.onboard("yara", &[Role::Officer]).await;
    // Twenty guesses at once, the right password among them.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (http, url) = (app.http.clone(), app.url("/api/v1/session"));
        let password = if i == 13 {
            GOOD_PASSWORD.to_owned()
        } else {
            format!("wrong guess number {i}")
        };
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .json(
                    &json!({"username": "yara", "password": password, "acknowledge_notice": true}),
                )
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let looked_at = statuses.iter().filter(|s| **s == 401 || **s == 200).count();
    assert!(
        looked_at <= 5,
        "at most five guesses may be checked: {statuses:?}"
    );
    let rec = app.db.store.user_by_username("yara").await.unwrap();
    assert!(rec.user.is_locked(), "{statuses:?}");
    assert_eq!(app.login("yara", GOOD_PASSWORD).await.0, 403);
}
dbtest!(concurrent_guesses_cannot_outrun_the_lockout);
