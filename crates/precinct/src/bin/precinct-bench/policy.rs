//! `precinct-bench policy`: the policy decision alone, no database. One
//! decision (`view`, alternately at a workstation, allowed, and off-site,
//! denied) and a case page's five questions in one `decide_each`, over a
//! realistic case: a team of six, two supervisors; and a list's 200 cases
//! (and a search batch's 2,048) one at a time against `decide_all`. These
//! are Cedar's own work: the engine remembers nothing for them. Then the
//! same questions asked again of an engine that remembers its answers
//! (`memo`). `precinct-bench cases` runs the first as part of its report. `--decisions N` (100,000) sets
//! how many decisions each part times: a few thousand are enough for
//! `valgrind --tool=callgrind`, whose instruction counts do not depend on
//! how busy the machine is.

use precinct_domain::ids::{UnitId, UserId};
use precinct_domain::{Role, Roles, Timestamp};
use precinct_policy::{
    AccessRequest, Action, PolicyEngine, Principal, RequestContext, Resource, ResourceKind,
};
use std::time::Instant;

use super::cases::uuid_hex;
use super::{median, percentile};

/// A case page's questions: view, and the four the page's buttons need.
const ASKED: [Action; 5] = [
    Action::View,
    Action::AddDocument,
    Action::Manage,
    Action::ViewProtected,
    Action::ViewAudit,
];

/// Decisions each part times, unless `--decisions` says otherwise.
pub const DECISIONS: usize = 100_000;

pub fn run(mut args: impl Iterator<Item = String>) {
    let usage = || -> ! {
        eprintln!(
            "usage: precinct-bench policy [--single-only] [--baseline-policy FILE] [--decisions N]"
        );
        std::process::exit(2)
    };
    let mut page = true;
    let mut baseline = None;
    let mut n = DECISIONS;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--single-only" => page = false,
            "--baseline-policy" => baseline = Some(args.next().unwrap_or_else(|| usage())),
            "--decisions" => {
                n = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n: &usize| n >= 10)
                    .unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    println!(
        "# precinct-bench policy ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let shipped = PolicyEngine::shipped().expect("policy").without_memo();
    // Another policy file against the same schema, measured in the same
    // run (say, the policy before a change).
    let other = baseline.map(|path| {
        let text = std::fs::read_to_string(&path).expect("baseline policy file");
        let engine = PolicyEngine::new(precinct_policy::SHIPPED_SCHEMA, &text)
            .expect("baseline policy")
            .without_memo();
        (path, engine)
    });
    for round in 0..3 {
        policy_decisions(&shipped, "shipped policy", round, n);
        if let Some((path, engine)) = &other {
            policy_decisions(engine, path, round, n);
        }
    }
    under_a_grant(&shipped, n);
    if page {
        case_page(&shipped, n);
        // A list; a late search batch (decided 128 at a time).
        together(&shipped, n, 200);
        together(&shipped, n, 2048);
    }
    remembered(n);
}

/// The questions above asked of an engine that remembers its answers:
/// the same `view` again, and a case page's five questions again.
fn remembered(n: usize) {
    let engine = PolicyEngine::shipped().expect("policy");
    let f = fixture();
    let principal = f.principal();
    let resource = f.case();
    let (mut one, mut page) = (Vec::with_capacity(n), Vec::with_capacity(n / ASKED.len()));
    for i in 0..n {
        let t = Instant::now();
        let d = engine.decide(&AccessRequest {
            principal: &principal,
            action: Action::View,
            resource: &resource,
            context: context("workstation"),
        });
        one.push(t.elapsed().as_secs_f64() * 1e6);
        assert!(d.allowed);
        if i % ASKED.len() == 0 {
            let t = Instant::now();
            let d = engine.decide_each(&principal, &resource, context("workstation"), &ASKED);
            page.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(d.len(), ASKED.len());
        }
    }
    one.sort_by(f64::total_cmp);
    page.sort_by(f64::total_cmp);
    println!(
        "policy decision remembered (the same question again): p50 {:.2} µs, p99 {:.2} µs; \
         a case page's {} questions remembered: p50 {:.2} µs, p99 {:.2} µs ({} answers held)",
        percentile(&one, 0.50),
        percentile(&one, 0.99),
        ASKED.len(),
        percentile(&page, 0.50),
        percentile(&page, 0.99),
        engine.remembered()
    );
}

struct Fixture {
    roles: Roles,
    me: UserId,
    unit: UnitId,
    units: [UnitId; 1],
    team: Vec<UserId>,
    named: [UserId; 1],
    supervisors: [UserId; 2],
    id: String,
}

fn fixture() -> Fixture {
    let roles = Roles::new([Role::Detective]).expect("roles");
    let me = UserId::new_random();
    let unit = UnitId::new_random();
    let mut team: Vec<_> = (0..5).map(|_| UserId::new_random()).collect();
    team.push(me);
    let named = [team[0]];
    Fixture {
        roles,
        me,
        unit,
        units: [unit],
        team,
        named,
        supervisors: [UserId::new_random(), UserId::new_random()],
        id: uuid_hex(),
    }
}

impl Fixture {
    fn principal(&self) -> Principal<'_> {
        Principal {
            id: self.me,
            roles: &self.roles,
            units: &self.units,
            on_duty: false,
            training_current: true,
        }
    }

    fn case(&self) -> Resource<'_> {
        Resource {
            kind: ResourceKind::Case,
            id: self.id.clone(),
            number: "2026-000123".into(),
            unit: self.unit,
            classification: "case",
            sealed: false,
            lead: Some(self.team[0]),
            team: &self.team,
            named: &self.named,
            supervisors: &self.supervisors,
        }
    }
}

fn context(channel: &str) -> RequestContext<'_> {
    RequestContext {
        channel,
        break_glass: false,
        now: Timestamp::from_micros(0),
        device: "",
        grant: None,
    }
}

/// One decision with a realistic case: a team of six, two supervisors.
pub fn policy_decisions(engine: &PolicyEngine, label: &str, round: usize, n: usize) {
    let f = fixture();
    let principal = f.principal();
    let resource = f.case();
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let channel = if i % 2 == 0 { "workstation" } else { "offsite" };
        let t = Instant::now();
        let d = engine.decide(&AccessRequest {
            principal: &principal,
            action: Action::View,
            resource: &resource,
            context: context(channel),
        });
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(d.allowed, i % 2 == 0);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "policy decision (Cedar, {label}, one thread, round {}): p50 {:.1} µs, p99 {:.1} µs, median of all {:.1} µs",
        round + 1,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        median(lat.clone())
    );
}

/// One decision off-site under an off-duty investigation grant: on its
/// device (allowed) and from a personal computer (denied), alternately.
fn under_a_grant(engine: &PolicyEngine, n: usize) {
    let f = fixture();
    let principal = f.principal();
    let resource = f.case();
    let grant = precinct_policy::GrantContext {
        kind: "off_duty_investigation".into(),
        cases: vec!["2026-000123".into()],
        documents: vec![],
        may_add_notes: true,
        device: "laptop-7".into(),
        ends_at: Timestamp::from_micros(3_600_000_000),
    };
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let (channel, device) = if i % 2 == 0 {
            ("department_device", "laptop-7")
        } else {
            ("offsite", "")
        };
        let t = Instant::now();
        let d = engine.decide(&AccessRequest {
            principal: &principal,
            action: Action::View,
            resource: &resource,
            context: RequestContext {
                device,
                grant: Some(&grant),
                ..context(channel)
            },
        });
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(d.allowed, i % 2 == 0);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "policy decision under an off-site grant (one thread): p50 {:.1} µs, p99 {:.1} µs",
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
    );
}

/// A case page's questions (view, and the four the page's buttons need),
/// in one `decide_each`, at a workstation.
fn case_page(engine: &PolicyEngine, n: usize) {
    let f = fixture();
    let principal = f.principal();
    let resource = f.case();
    let rounds = n / ASKED.len();
    let mut lat = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let d = engine.decide_each(&principal, &resource, context("workstation"), &ASKED);
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        // The detective is on the team, not named, not the lead, not a
        // supervisor: view and add a document, nothing else.
        let allowed: Vec<bool> = d.iter().map(|d| d.allowed).collect();
        assert_eq!(allowed, [true, true, false, false, false]);
    }
    lat.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&lat, 0.50), percentile(&lat, 0.99));
    println!(
        "case page ({} actions in one decide_each): p50 {p50:.1} µs ({:.1} µs an action), p99 {p99:.1} µs ({:.1} µs an action)",
        ASKED.len(),
        p50 / ASKED.len() as f64,
        p99 / ASKED.len() as f64,
    );
}

/// `cases` cases (a list's 200, a search batch's) decided one at a time
/// and together, in one `decide_all` (one user, one context, one entity
/// set for each 128), alternately, with the same answers.
fn together(engine: &PolicyEngine, n: usize, cases: usize) {
    let fixtures: Vec<Fixture> = (0..cases).map(|_| fixture()).collect();
    // The list is the first fixture's detective's: on every case's team.
    let me = fixtures[0].me;
    let teams: Vec<Vec<UserId>> = fixtures
        .iter()
        .map(|f| {
            let mut t = f.team.clone();
            t[5] = me;
            t
        })
        .collect();
    let resources: Vec<Resource<'_>> = fixtures
        .iter()
        .zip(&teams)
        .map(|(f, team)| Resource { team, ..f.case() })
        .collect();
    let principal = fixtures[0].principal();
    let asked: Vec<(&Resource<'_>, &[Action])> =
        resources.iter().map(|r| (r, &[Action::View][..])).collect();
    let rounds = (n / cases).max(1);
    let (mut alone, mut all) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let t = Instant::now();
        let one_by_one: Vec<bool> = resources
            .iter()
            .map(|r| {
                engine.decide_each(&principal, r, context("workstation"), &[Action::View])[0]
                    .allowed
            })
            .collect();
        alone.push(t.elapsed().as_secs_f64() * 1e6 / cases as f64);
        let t = Instant::now();
        let together: Vec<bool> = engine
            .decide_all(&principal, context("workstation"), &asked)
            .iter()
            .map(|d| d[0].allowed)
            .collect();
        all.push(t.elapsed().as_secs_f64() * 1e6 / cases as f64);
        assert_eq!(one_by_one, together);
        assert!(together.iter().all(|a| *a));
    }
    let (alone, all) = (median(alone), median(all));
    println!(
        "{cases} cases decided one at a time: median {alone:.1} µs a case; together (decide_all): {all:.1} µs a case ({:.2}×)",
        all / alone
    );
}
