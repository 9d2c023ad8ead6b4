//! `precinct demo seed`: a small department seeded on each engine keeps
//! the invariants of the one-case path (numbers, one lead, the search
//! index, the timeline), its cases are found by its officers at a
//! workstation and by no one else, its audit log verifies, and a second
//! seed is refused.

use precinct_domain::channel::Channel;
use precinct_server::service::audit::Origin;
use precinct_server::service::cases::{Asker, ReadFor};
use precinct_server::service::verify::verify_log_in_chunks;
use precinct_server::service::Services;
use sqlx::Row;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use crate::support::{dbtest, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_precinct");
const CASES: i64 = 300;

fn precinct(data: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["--database-url", url])
        .args(args)
        .env_remove("PRECINCT_DATABASE_URL")
        .output()
        .expect("run precinct")
}

async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .try_get::<i64, _>(0)
        .unwrap()
}

async fn a_demo_department_is_seeded_and_verifies(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let out = precinct(
        dir.path(),
        &db.url,
        &["demo", "seed", "--cases", &CASES.to_string(), "--seed", "7"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "demo seed failed:\n{stdout}\n{stderr}"
    );
    for shown in [
        "demo.officer",
        "demo.supervisor",
        "demo.auditor",
        "one-time password",
        "pki issue --workstation central-burglary-ws1",
    ] {
        assert!(stdout.contains(shown), "{shown} missing from:\n{stdout}");
    }
    // Without a terminal, progress comes as plain lines.
    assert!(stderr.contains("seeded 300 of 300 cases"), "{stderr}");

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM cases").await, CASES);
    let people = count(&pool, "SELECT COUNT(*) FROM case_people").await;
    let documents = count(&pool, "SELECT COUNT(*) FROM documents").await;
    assert!(
        people >= CASES && documents >= CASES,
        "{people} {documents}"
    );
    // Numbers: unique, counted per year from 1 with no gap, counters at the end.
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM (SELECT DISTINCT year, seq FROM cases) n"
        )
        .await,
        CASES
    );
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM case_counters k WHERE k.last <> \
             (SELECT COUNT(*) FROM cases c WHERE c.year = k.year) OR k.last <> \
             (SELECT MAX(seq) FROM cases c WHERE c.year = k.year)"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "SELECT CAST(COALESCE(SUM(last), 0) AS BIGINT) FROM case_counters"
        )
        .await,
        CASES
    );
    // Exactly one lead each.
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM cases c WHERE (SELECT COUNT(*) FROM case_members m \
             WHERE m.case_id = c.id AND m.membership = 'lead') <> 1"
        )
        .await,
        0
    );
    // The search index: one row per case, person and document, of the right kind.
    assert_eq!(
        count(&pool, "SELECT COUNT(*) FROM case_text WHERE kind = 'case'").await,
        CASES
    );
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM case_text WHERE kind IN ('person', 'protected_person')"
        )
        .await,
        people
    );
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM case_text WHERE kind IN ('document', 'restricted_document')"
        )
        .await,
        documents
    );
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM case_people WHERE juvenile + protected_witness + confidential_informant > 0"
        )
        .await,
        count(&pool, "SELECT COUNT(*) FROM case_text WHERE kind = 'protected_person'").await
    );
    assert!(
        count(
            &pool,
            "SELECT COUNT(*) FROM case_text WHERE kind = 'protected_person'"
        )
        .await
            > 0
    );
    assert!(
        count(
            &pool,
            "SELECT COUNT(*) FROM case_text WHERE kind = 'restricted_document'"
        )
        .await
            > 0
    );
    assert!(
        count(
            &pool,
            "SELECT COUNT(*) FROM cases WHERE classification = 'restricted'"
        )
        .await
            > 0
    );
    assert!(
        count(&pool, "SELECT COUNT(DISTINCT status) FROM cases").await >= 4,
        "statuses spread over the life cycle"
    );
    // Every case's timeline starts with its opening and ends at its last change.
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM case_timeline WHERE what = 'case.opened'"
        )
        .await,
        CASES
    );
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM cases c WHERE c.updated_at <> \
             (SELECT MAX(at) FROM case_timeline t WHERE t.case_id = c.id)"
        )
        .await,
        0
    );
    // Every foreign key holds (PostgreSQL's seed, as a superuser, writes
    // with its checks off) and every case has its revision.
    for (child, column, parent) in [
        ("cases", "unit_id", "units"),
        ("cases", "created_by", "users"),
        ("case_members", "case_id", "cases"),
        ("case_members", "user_id", "users"),
        ("case_people", "case_id", "cases"),
        ("case_people", "added_by", "users"),
        ("documents", "case_id", "cases"),
        ("documents", "author_id", "users"),
        ("documents", "amends_id", "documents"),
        ("case_timeline", "case_id", "cases"),
        ("case_timeline", "actor_id", "users"),
        ("case_text", "case_id", "cases"),
        ("case_revisions", "case_id", "cases"),
    ] {
        let sql = format!(
            "SELECT COUNT(*) FROM {child} c WHERE c.{column} IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM {parent} p WHERE p.id = c.{column})"
        );
        assert_eq!(count(&pool, &sql).await, 0, "{child}.{column}");
    }
    assert_eq!(
        count(&pool, "SELECT COUNT(DISTINCT case_id) FROM case_revisions").await,
        CASES
    );

    // One event per batch, with no personal data in it.
    assert!(
        count(
            &pool,
            "SELECT COUNT(*) FROM audit_events WHERE action = 'demo.seed'"
        )
        .await
            >= 3
    );

    // The demo officer finds their case at their unit's workstation.
    let services = Services::new(
        db.store.clone(),
        Arc::new(precinct_domain::SystemClock),
        HashSet::new(),
        precinct_server::service::auditlog::ephemeral_log_key(),
        precinct_policy::PolicyEngine::shipped().unwrap(),
    );
    let officer = db
        .store
        .user_by_username("demo.officer")
        .await
        .unwrap()
        .user;
    let ws = db
        .store
        .workstation_by_name("central-burglary-ws1")
        .await
        .unwrap();
    let at_workstation = Origin::network(
        &Channel::Workstation {
            id: ws.id,
            name: ws.name.clone(),
            location: ws.unit_name.clone(),
        },
        None,
        None,
    );
    let mut led = None;
    for id in db.store.case_ids_of_user(officer.id, 200).await.unwrap() {
        let case = db.store.case(id).await.unwrap();
        if case.lead() == Some(officer.id) {
            led = Some(case);
            break;
        }
    }
    let case = led.expect("the demo officer leads a case");
    let origin = at_workstation.as_user(&officer, None);
    let asker = Asker {
        user: &officer,
        origin: &origin,
    };
    // Read as its page is, by its revision, twice: the second is answered
    // from what the first kept.
    let (_, before) = db.store.kept();
    for _ in 0..2 {
        let view = services
            .read_case(asker, case.id, None, ReadFor::Record)
            .await
            .unwrap();
        assert_eq!(view.case.id, case.id);
    }
    let (_, after) = db.store.kept();
    assert!(
        after.cases > before.cases && after.material > before.material,
        "{before:?} {after:?}"
    );
    let words = case.title.clone();
    let page = services.search_cases(asker, &words, 1).await.unwrap();
    assert!(page.total >= 1, "nothing found for {words:?}");
    let mut found = page.results.iter().any(|r| r.id == case.id);
    for p in 2..=page.total.div_ceil(25) {
        found |= services
            .search_cases(asker, &words, p)
            .await
            .unwrap()
            .results
            .iter()
            .any(|r| r.id == case.id);
    }
    assert!(found, "{} not found by {words:?}", case.number);
    // An officer of another precinct is not connected to it: not found.
    let stranger = db
        .store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| {
            u.units != officer.units
                && u.roles.contains(precinct_domain::Role::Officer)
                && !u.roles.contains(precinct_domain::Role::Supervisor)
        })
        .expect("a patrol officer");
    let origin = at_workstation.as_user(&stranger, None);
    let page = services
        .search_cases(
            Asker {
                user: &stranger,
                origin: &origin,
            },
            &words,
            1,
        )
        .await
        .unwrap();
    assert!(page.results.iter().all(|r| r.id != case.id));

    // The whole log verifies, in chunks that cross the batches, and with
    // the command an auditor runs.
    let report = verify_log_in_chunks(&db.store, &services.log_verifier(), &[], &mut |_, _| {}, 16)
        .await
        .unwrap();
    assert!(report.events > 0);
    let out = precinct(dir.path(), &db.url, &["audit", "verify"]);
    assert!(
        out.status.success(),
        "audit verify failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A database with cases is not seeded again.
    let out = precinct(dir.path(), &db.url, &["demo", "seed", "--cases", "10"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already holds cases"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM cases").await, CASES);
    pool.close().await;
}
dbtest!(a_demo_department_is_seeded_and_verifies);
