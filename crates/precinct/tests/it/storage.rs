//! The storage layer on both engines: the same story, run once per engine.

use precinct_audit::event::AuditEvent;
use precinct_domain::channel::{CertificateBinding, DeviceKind};
use precinct_domain::ids::{DeviceId, UnitId, UserId, WorkstationId};
use precinct_domain::org::{Unit, UnitKind};
use precinct_domain::session::{Session, Stage};
use precinct_domain::user::{UserStatus, Username};
use precinct_domain::{Fingerprint, Role, Roles, Timestamp};
use precinct_store::{NewUser, StoreError};
use std::time::Duration;

use crate::support::{dbtest, TestDb, T0};

/// An audit event to go with a change (the store refuses changes without one).
fn ev() -> Vec<AuditEvent> {
    vec![AuditEvent {
        v: 1,
        id: uuid::Uuid::new_v4().to_string(),
        time_us: T0,
        actor_id: None,
        actor_name: None,
        session_id: None,
        channel: "console".into(),
        workstation_id: None,
        device_id: None,
        source_ip: None,
        action: "test.change".into(),
        object_type: None,
        object_id: None,
        outcome: "allowed".into(),
        reason: None,
        grant_id: None,
        request_id: None,
    }]
}

fn t(secs: u64) -> Timestamp {
    Timestamp::from_micros(T0).plus(Duration::from_secs(secs))
}

fn new_user(name: &str, units: Vec<UnitId>) -> NewUser {
    NewUser {
        id: UserId::new_random(),
        username: Username::parse(name).unwrap(),
        display_name: name.to_uppercase(),
        password_hash: "$argon2id$stub-not-verified-here".into(),
        roles: Roles::new([Role::Officer]).unwrap(),
        units,
        must_change_password: true,
    }
}

fn session(user: UserId, token: &str, at: Timestamp) -> Session {
    Session {
        token_hash: token.into(),
        user_id: user,
        stage: Stage::Active,
        csrf_token: "csrf".into(),
        created_at: at,
        last_seen_at: at,
    }
}

async fn users_units_and_sessions(db: TestDb) {
    let s = &db.store;
    let precinct = Unit {
        id: UnitId::new_random(),
        name: "Central".into(),
        kind: UnitKind::Precinct,
        parent: None,
        supervisor: None,
    };
    s.create_unit(&precinct, t(0), &ev()).await.unwrap();
    let dup = Unit {
        id: UnitId::new_random(),
        ..precinct.clone()
    };
    assert!(matches!(
        s.create_unit(&dup, t(0), &ev()).await,
        Err(StoreError::Conflict(_))
    ));

    let u = new_user("mona", vec![precinct.id]);
    s.create_user(&u, t(0), &ev()).await.unwrap();
    assert!(matches!(
        s.create_user(&new_user("mona", vec![]), t(0), &ev()).await,
        Err(StoreError::Conflict("username"))
    ));
    assert!(matches!(
        s.create_user(&new_user("nina", vec![UnitId::new_random()]), t(0), &ev())
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(
        matches!(s.user_by_username("nina").await, Err(StoreError::NotFound)),
        "a failed create leaves nothing"
    );

    let rec = s.user(u.id).await.unwrap();
    assert_eq!(rec.user.units, vec![precinct.id]);
    assert!(rec.user.must_change_password && !rec.user.mfa_enrolled);
    assert_eq!(rec.user.status, UserStatus::Active);

    // Sessions end with a role change, and only that user's.
    let other = new_user("olga", vec![]);
    s.create_user(&other, t(0), &ev()).await.unwrap();
    s.create_session(&session(u.id, "a", t(0)), &ev())
        .await
        .unwrap();
    s.create_session(&session(other.id, "b", t(0)), &ev())
        .await
        .unwrap();
    s.set_roles(
        u.id,
        &Roles::new([Role::Detective, Role::Supervisor]).unwrap(),
        t(1),
        &ev(),
    )
    .await
    .unwrap();
    assert!(matches!(s.session("a").await, Err(StoreError::NotFound)));
    assert!(s.session("b").await.is_ok());
    assert_eq!(
        s.user(u.id).await.unwrap().user.roles.to_vec(),
        vec![Role::Detective, Role::Supervisor]
    );

    // A password change keeps only the session that made it.
    s.create_session(&session(u.id, "c", t(2)), &ev())
        .await
        .unwrap();
    s.create_session(&session(u.id, "d", t(2)), &ev())
        .await
        .unwrap();
    s.set_password(u.id, "$argon2id$new", false, Some("c"), t(3), &ev())
        .await
        .unwrap();
    assert!(s.session("c").await.is_ok());
    assert!(s.session("d").await.is_err());
    s.touch_session("c", t(90)).await.unwrap();
    assert_eq!(s.session("c").await.unwrap().0.last_seen_at, t(90));
}
dbtest!(users_units_and_sessions);

async fn lockout_and_second_factors(db: TestDb) {
    let s = &db.store;
    let u = new_user("pete", vec![]);
    s.create_user(&u, t(0), &ev()).await.unwrap();
    for i in 0..4 {
        assert_eq!(
            s.claim_login_attempt(u.id, t(i * 60))
                .await
                .unwrap()
                .in_window,
            i as u32 + 1
        );
    }
    // Twenty minutes later the window has forgotten those four.
    assert_eq!(
        s.claim_login_attempt(u.id, t(20 * 60))
            .await
            .unwrap()
            .in_window,
        1
    );
    s.lock_account(u.id, t(20 * 60), &ev()).await.unwrap();
    assert!(s.user(u.id).await.unwrap().user.is_locked());
    assert!(matches!(
        s.lock_account(u.id, t(20 * 60), &[]).await,
        Err(StoreError::MissingAudit)
    ));
    // A locked account gets no session.
    assert!(matches!(
        s.create_session(&session(u.id, "z", t(20 * 60)), &ev())
            .await,
        Err(StoreError::NotFound)
    ));
    s.unlock(u.id, t(3600), &ev()).await.unwrap();
    assert!(!s.user(u.id).await.unwrap().user.is_locked());
    assert_eq!(
        s.claim_login_attempt(u.id, t(3601))
            .await
            .unwrap()
            .in_window,
        1,
        "unlock forgets old failures"
    );

    // TOTP steps only move forward; recovery codes are single-use.
    s.enrol_totp(
        u.id,
        "JBSWY3DPEHPK3PXP",
        100,
        &["h1".into(), "h2".into()],
        t(4000),
        &ev(),
    )
    .await
    .unwrap();
    assert!(!s.claim_totp_step(u.id, 100).await.unwrap());
    assert!(s.claim_totp_step(u.id, 101).await.unwrap());
    assert!(!s.claim_totp_step(u.id, 99).await.unwrap());
    assert!(s.use_recovery_code(u.id, "h1", t(4001)).await.unwrap());
    assert!(!s.use_recovery_code(u.id, "h1", t(4002)).await.unwrap());
    assert!(!s.use_recovery_code(u.id, "nope", t(4002)).await.unwrap());
    assert_eq!(s.remaining_recovery_codes(u.id).await.unwrap(), 1);
    s.reset_mfa(u.id, t(5000), &ev()).await.unwrap();
    let rec = s.user(u.id).await.unwrap();
    assert!(!rec.user.mfa_enrolled && rec.totp_secret.is_none());
    assert_eq!(s.remaining_recovery_codes(u.id).await.unwrap(), 0);
}
dbtest!(lockout_and_second_factors);

async fn certificate_registry(db: TestDb) {
    let s = &db.store;
    let unit = Unit {
        id: UnitId::new_random(),
        name: "North".into(),
        kind: UnitKind::Precinct,
        parent: None,
        supervisor: None,
    };
    s.create_unit(&unit, t(0), &ev()).await.unwrap();
    let ws = WorkstationId::new_random();
    s.create_workstation(
        ws,
        "desk 1",
        unit.id,
        &["10.0.0.0/8".parse().unwrap()],
        t(0),
        &ev(),
    )
    .await
    .unwrap();
    assert!(matches!(
        s.create_workstation(
            WorkstationId::new_random(),
            "desk 1",
            unit.id,
            &[],
            t(0),
            &ev()
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.create_workstation(
            WorkstationId::new_random(),
            "desk 2",
            UnitId::new_random(),
            &[],
            t(0),
            &ev()
        )
        .await,
        Err(StoreError::NotFound)
    ));
    let fp = Fingerprint::of_der(b"desk 1 certificate");
    s.set_workstation_fingerprint(ws, &fp, &ev()).await.unwrap();
    match s.certificate_binding(&fp).await.unwrap() {
        CertificateBinding::Workstation(w) => {
            assert_eq!(
                (w.name.as_str(), w.location.as_str(), w.enabled),
                ("desk 1", "North", true)
            );
            assert_eq!(w.networks, vec!["10.0.0.0/8".parse().unwrap()]);
        }
        other => panic!("{other:?}"),
    }
    let dev = DeviceId::new_random();
    s.enroll_device(dev, "phone 3", DeviceKind::Phone, None, t(0), &ev())
        .await
        .unwrap();
    assert!(
        matches!(
            s.set_device_fingerprint(dev, &fp, &ev()).await,
            Err(StoreError::Conflict(_))
        ),
        "one certificate, one binding"
    );
    let fp2 = Fingerprint::of_der(b"phone 3 certificate");
    s.set_device_fingerprint(dev, &fp2, &ev()).await.unwrap();
    s.revoke_device(dev, t(10), &ev()).await.unwrap();
    match s.certificate_binding(&fp2).await.unwrap() {
        CertificateBinding::Device(d) => assert!(d.revoked),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.certificate_binding(&Fingerprint::of_der(b"unknown"))
            .await
            .unwrap(),
        CertificateBinding::Unknown
    );
    assert!(matches!(
        s.revoke_device(DeviceId::new_random(), t(11), &ev()).await,
        Err(StoreError::NotFound)
    ));
}
dbtest!(certificate_registry);

async fn changes_without_an_audit_record_are_refused(db: TestDb) {
    let s = &db.store;
    let unit = Unit {
        id: UnitId::new_random(),
        name: "South".into(),
        kind: UnitKind::Precinct,
        parent: None,
        supervisor: None,
    };
    assert!(matches!(
        s.create_unit(&unit, t(0), &[]).await,
        Err(StoreError::MissingAudit)
    ));
    assert!(
        s.list_units().await.unwrap().is_empty(),
        "nothing was written"
    );
    s.create_unit(&unit, t(0), &ev()).await.unwrap();
    assert_eq!(
        s.audit_size().await.unwrap(),
        1,
        "the event has its place in the log"
    );
}
dbtest!(changes_without_an_audit_record_are_refused);
