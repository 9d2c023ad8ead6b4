//! `precinct demo seed` and `precinct serve --demo`: a fictional police
//! department to try Precinct on. The organisation (precincts, units,
//! supervisors, officers, workstations) is made through the ordinary
//! administration use-cases, audited as usual; its cases, people, reports
//! and timelines are generated from templates and written in large batches
//! through the store's seeding path, each batch with its audit event.

use anyhow::Context;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use precinct_domain::case::{CaseMember, CaseStatus, Classification, Membership};
use precinct_domain::credentials::NewPassword;
use precinct_domain::document::{Document, DocumentKind};
use precinct_domain::ids::{CaseId, DocumentId, PersonId, UnitId, UserId};
use precinct_domain::org::UnitKind;
use precinct_domain::person::{CasePerson, Identity, PersonFlags, PersonRole};
use precinct_domain::{Role, Timestamp};
use precinct_server::service::admin::{Actor, CreateUser};
use precinct_server::service::audit::{Origin, Outcome};
use precinct_server::service::{ServiceError, Services};
use precinct_store::{Line, SeedCase, SeedLine, SeedPerson, SeededBatch, StoreError};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::output::{print_boxed, shell_word};
pub use crate::settings::DemoSeed;

const CONSOLE: Actor<'static> = Actor::Console;
pub const DEPARTMENT: &str = "Port Alder Police Department";
const CITY: &str = "Port Alder";
pub const OFFICER: &str = "demo.officer";
pub const SUPERVISOR: &str = "demo.supervisor";
pub const AUDITOR: &str = "demo.auditor";
/// Cases per transaction, at most.
const BATCH_MAX: u64 = 2_000;
/// Cases per calendar year, at most (numbers have six digits).
const CASES_PER_YEAR: u64 = 400_000;
const DAY_US: i64 = 86_400_000_000;
const HOUR_US: i64 = 3_600_000_000;

/// How to log in to a demo department, and where to see a case.
#[derive(Debug)]
pub struct Logins {
    pub people: Vec<Login>,
    /// The workstation of the demo officer's unit.
    pub workstation: String,
    /// A case the demo officer leads.
    pub sample_case: Option<String>,
    /// What was created, when this run created it.
    pub summary: Option<String>,
}

#[derive(Debug)]
pub struct Login {
    pub persona: &'static str,
    pub username: &'static str,
    pub who: String,
    /// A fresh one-time password, or None once the user has set their own.
    pub password: Option<NewPassword>,
}

/// How the commands the guide prints reach this server.
#[derive(Debug)]
pub struct Reach<'a> {
    pub data_dir: &'a Path,
    /// The database is not the data directory's own SQLite file.
    pub custom_database: bool,
    /// `localhost:8080`: the server certificate always names localhost.
    pub host: String,
    /// Whether the server is on TLS; None when not serving.
    pub tls: Option<bool>,
    /// The address to serve on, when it is not the default.
    pub listen: Option<std::net::SocketAddr>,
}

/// `precinct demo seed`: fills an empty database and says how to log in.
pub async fn seed_command(
    services: &Services,
    demo: DemoSeed,
    reach: &Reach<'_>,
) -> anyhow::Result<()> {
    if services
        .store
        .has_cases()
        .await
        .context("cannot read the cases")?
    {
        anyhow::bail!(
            "the database already holds cases; a demo department is seeded only into an empty \
             database (give a new --data-dir, or an empty --database-url)"
        );
    }
    let logins = seed(services, demo).await?;
    print_guide(&logins, reach);
    Ok(())
}

/// `precinct serve --demo`, before listening: seeds a small department
/// into an empty database; on one seeded before, issues fresh one-time
/// passwords to the demo users who never logged in. None when the database
/// holds cases but is not a demo department.
pub async fn prepare(services: &Services, demo: DemoSeed) -> anyhow::Result<Option<Logins>> {
    if !services
        .store
        .has_cases()
        .await
        .context("cannot read the cases")?
    {
        return Ok(Some(seed(services, demo).await?));
    }
    let mut people = Vec::new();
    let mut officer = None;
    for (persona, username) in [
        ("officer", OFFICER),
        ("supervisor", SUPERVISOR),
        ("auditor", AUDITOR),
    ] {
        let user = match services.store.user_by_username(username).await {
            Ok(r) => r.user,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(anyhow::anyhow!("cannot read the demo users: {e}")),
        };
        if persona == "officer" {
            officer = Some(user.id);
        }
        let password = if user.must_change_password {
            Some(services.reset_password(CONSOLE, user.id).await?)
        } else {
            None
        };
        people.push(Login {
            persona,
            username,
            who: user.display_name.clone(),
            password,
        });
    }
    let workstation = match officer {
        Some(id) => officer_workstation(services, id).await?,
        None => return Ok(None),
    };
    Ok(Some(Logins {
        sample_case: match officer {
            Some(id) => sample_case(services, id).await?,
            None => None,
        },
        people,
        workstation,
        summary: None,
    }))
}

async fn officer_workstation(services: &Services, officer: UserId) -> anyhow::Result<String> {
    let user = services.get_user(CONSOLE, officer).await?;
    let ws = services.list_workstations(CONSOLE).await?;
    Ok(ws
        .iter()
        .find(|w| user.units.contains(&w.unit_id))
        .or(ws.first())
        .map(|w| w.name.clone())
        .unwrap_or_default())
}

async fn sample_case(services: &Services, officer: UserId) -> anyhow::Result<Option<String>> {
    let ids = services
        .store
        .case_ids_of_user(officer, 50)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the demo officer's cases: {e}"))?;
    for id in ids {
        let case = services
            .store
            .case(id)
            .await
            .map_err(|e| anyhow::anyhow!("cannot read a case: {e}"))?;
        if case.lead() == Some(officer) && !case.is_sealed() {
            return Ok(Some(case.number.to_string()));
        }
    }
    Ok(None)
}

/// Seeds the department and its cases.
async fn seed(services: &Services, demo: DemoSeed) -> anyhow::Result<Logins> {
    let seed = demo.seed.unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let plan = Plan::new(demo.cases, &mut rng);
    eprintln!(
        "Creating the {DEPARTMENT} (seed {seed}): {} precincts, {} units, {} users, {} workstations",
        plan.precincts.len(),
        plan.units.len(),
        plan.users.len(),
        plan.units.len()
    );
    let org = create_organisation(services, &plan).await?;
    let now = services.clock.now();
    let generator = Generator::new(&plan, &org, demo.cases, now, rng);
    let started = Instant::now();
    seed_cases(services, generator, demo.cases).await?;
    services
        .store
        .after_bulk_load()
        .await
        .context("finishing the bulk load")?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "Seeded {} cases in {secs:.1} s ({:.0} cases/s), seed {seed}.",
        demo.cases,
        demo.cases as f64 / secs.max(1e-9)
    );
    let officer = org.user(OFFICER)?;
    let mut people = Vec::new();
    for (persona, username) in [
        ("officer", OFFICER),
        ("supervisor", SUPERVISOR),
        ("auditor", AUDITOR),
    ] {
        let u = org.user(username)?;
        people.push(Login {
            persona,
            username,
            who: u.role_line.clone(),
            password: Some(u.password.clone()),
        });
    }
    Ok(Logins {
        sample_case: sample_case(services, officer.id).await?,
        workstation: plan.units[0].workstation.clone(),
        people,
        summary: Some(format!(
            "{DEPARTMENT}: {} precincts, {} units, {} users, {} workstations, {} cases (seed {seed})",
            plan.precincts.len(),
            plan.units.len(),
            plan.users.len(),
            plan.units.len(),
            demo.cases
        )),
    })
}

// ---- The organisation ----

/// A kind of unit: what it investigates and how busy it is.
struct Speciality {
    name: &'static str,
    /// NIBRS offense codes its cases carry.
    offenses: &'static [&'static str],
    /// Its share of the department's cases.
    weight: u32,
    /// Its cases are restricted (juveniles, domestic violence).
    restricted: bool,
    /// Officers, fewest and most.
    staff: (usize, usize),
    patrol: bool,
}

const PATROL: Speciality = Speciality {
    name: "Patrol",
    offenses: &[
        "23C", "23F", "23H", "290", "13B", "90C", "90D", "90J", "35A",
    ],
    weight: 30,
    restricted: false,
    staff: (6, 15),
    patrol: true,
};
const BURGLARY: Speciality = Speciality {
    name: "Burglary",
    offenses: &["220", "220", "220", "23D", "280"],
    weight: 14,
    restricted: false,
    staff: (5, 12),
    patrol: false,
};
const ROBBERY: Speciality = Speciality {
    name: "Robbery",
    offenses: &["120", "120", "23A", "23B", "13A"],
    weight: 8,
    restricted: false,
    staff: (5, 10),
    patrol: false,
};
const HOMICIDE: Speciality = Speciality {
    name: "Homicide",
    offenses: &["09A", "09A", "09B", "13A", "100"],
    weight: 2,
    restricted: false,
    staff: (5, 8),
    patrol: false,
};
const JUVENILE: Speciality = Speciality {
    name: "Juvenile",
    offenses: &["13B", "290", "23C", "90B", "35A", "220"],
    weight: 6,
    restricted: true,
    staff: (5, 8),
    patrol: false,
};
const DOMESTIC: Speciality = Speciality {
    name: "Domestic Violence",
    offenses: &["13A", "13B", "13B", "13C", "90F"],
    weight: 8,
    restricted: true,
    staff: (5, 10),
    patrol: false,
};
const FRAUD: Speciality = Speciality {
    name: "Fraud",
    offenses: &["26A", "26B", "26C", "26E", "26F", "250", "270", "90A"],
    weight: 10,
    restricted: false,
    staff: (5, 10),
    patrol: false,
};
const NARCOTICS: Speciality = Speciality {
    name: "Narcotics",
    offenses: &["35A", "35A", "35B", "520"],
    weight: 6,
    restricted: false,
    staff: (5, 10),
    patrol: false,
};
const AUTO_THEFT: Speciality = Speciality {
    name: "Auto Theft",
    offenses: &["240", "240", "23G", "280"],
    weight: 8,
    restricted: false,
    staff: (5, 10),
    patrol: false,
};

/// The precincts, each with its units; the first unit of the first is the
/// demo officer's.
const PRECINCTS: [(&str, &[&Speciality]); 3] = [
    (
        "Central",
        &[&BURGLARY, &PATROL, &ROBBERY, &HOMICIDE, &JUVENILE],
    ),
    ("Harbor", &[&PATROL, &DOMESTIC, &FRAUD, &NARCOTICS]),
    ("Northside", &[&PATROL, &AUTO_THEFT, &BURGLARY, &ROBBERY]),
];

const FIRST_NAMES: &[&str] = &[
    "Alex", "Amara", "Ben", "Carmen", "Chen", "Dana", "Darius", "Elena", "Emeka", "Farah", "Felix",
    "Grace", "Hana", "Hector", "Ines", "Isaac", "Jada", "Jonah", "Kai", "Kenji", "Lena", "Luis",
    "Maya", "Mateo", "Nadia", "Noah", "Olga", "Omar", "Priya", "Quinn", "Rafael", "Rosa", "Sam",
    "Selin", "Tariq", "Tessa", "Uma", "Victor", "Wren", "Yusuf", "Zoe", "Aiden", "Bianca", "Caleb",
    "Delia", "Ezra", "Fiona", "Gideon", "Helena", "Ivan", "June", "Kofi", "Lucia", "Milo", "Nora",
    "Oscar", "Paloma", "Reuben", "Sofia", "Theo",
];
const LAST_NAMES: &[&str] = &[
    "Abernathy",
    "Alvarez",
    "Bancroft",
    "Bellweather",
    "Castellano",
    "Chandra",
    "Delacroix",
    "Donnelly",
    "Eastwick",
    "Ferrante",
    "Fairbanks",
    "Galloway",
    "Grimaldi",
    "Hartigan",
    "Holloway",
    "Ibarra",
    "Jablonski",
    "Kavanagh",
    "Kessler",
    "Lindqvist",
    "Larkspur",
    "Marchetti",
    "Mbeki",
    "Novak",
    "Oduya",
    "Okonkwo",
    "Pemberton",
    "Petrakis",
    "Quintero",
    "Radcliffe",
    "Ramaswamy",
    "Salazar",
    "Sorensen",
    "Thornbury",
    "Takahashi",
    "Underhill",
    "Valdivia",
    "Vasquez",
    "Whitlock",
    "Winslow",
    "Yamamoto",
    "Zielinski",
    "Ashgrove",
    "Blackwood",
    "Carrow",
    "Dunmore",
    "Ellery",
    "Fenwick",
    "Greaves",
    "Haverford",
    "Ingram",
    "Juniper",
    "Kettering",
    "Lowell",
    "Merriweather",
    "Northcott",
    "Oakhurst",
    "Prescott",
    "Rowntree",
    "Stanhope",
];

struct PlannedUnit {
    name: String,
    precinct: usize,
    speciality: &'static Speciality,
    workstation: String,
}

struct PlannedUser {
    username: String,
    display_name: String,
    /// Who they are, for the guide.
    role_line: String,
    roles: Vec<Role>,
    /// Index into `Plan::units`, or a precinct.
    place: Place,
    job: Job,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Unit(usize),
    Precinct(usize),
    Department,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Job {
    Officer,
    Supervisor,
    Captain,
    Other,
}

/// The department, decided before anything is written (from the seed).
struct Plan {
    precincts: Vec<String>,
    units: Vec<PlannedUnit>,
    users: Vec<PlannedUser>,
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn word(rng: &mut StdRng, words: &[&'static str]) -> &'static str {
    words[rng.gen_range(0..words.len())]
}

fn slug(s: &str) -> String {
    s.to_ascii_lowercase().replace(' ', "-")
}

impl Plan {
    fn new(cases: u64, rng: &mut StdRng) -> Self {
        let precinct_count = if cases < 10_000 { 2 } else { 3 };
        // A bigger case load, a bigger department (up to each unit's most).
        let scale = (cases.min(200_000) as f64) / 200_000.0;
        let mut taken: HashSet<String> = [OFFICER, SUPERVISOR, AUDITOR]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let mut person = |rng: &mut StdRng| -> (String, String) {
            loop {
                let first = pick(rng, FIRST_NAMES);
                let last = pick(rng, LAST_NAMES);
                let base = format!("{}.{}", first, last).to_ascii_lowercase();
                for n in 1..100 {
                    let username = if n == 1 {
                        base.clone()
                    } else {
                        format!("{base}{n}")
                    };
                    if taken.insert(username.clone()) {
                        return (username, format!("{first} {last}"));
                    }
                }
            }
        };
        let mut plan = Plan {
            precincts: Vec::new(),
            units: Vec::new(),
            users: Vec::new(),
        };
        for (p, (short, specialities)) in PRECINCTS.iter().take(precinct_count).enumerate() {
            plan.precincts.push(format!("{short} Precinct"));
            let (username, name) = person(rng);
            plan.users.push(PlannedUser {
                username,
                display_name: format!("Capt. {name}"),
                role_line: format!("Capt. {name}, commands {short} Precinct"),
                roles: vec![Role::Supervisor],
                place: Place::Precinct(p),
                job: Job::Captain,
            });
            for s in specialities.iter() {
                let u = plan.units.len();
                let unit_name = format!("{short} {}", s.name);
                plan.units.push(PlannedUnit {
                    workstation: format!("{}-ws1", slug(&unit_name)),
                    name: unit_name.clone(),
                    precinct: p,
                    speciality: s,
                });
                let demo = u == 0;
                let (username, name) = if demo {
                    (SUPERVISOR.to_owned(), "Marcus Bell".to_owned())
                } else {
                    person(rng)
                };
                plan.users.push(PlannedUser {
                    username,
                    display_name: format!("Sgt. {name}"),
                    role_line: format!("Sgt. {name}, supervises {unit_name}"),
                    roles: vec![
                        Role::Supervisor,
                        if s.patrol {
                            Role::Officer
                        } else {
                            Role::Detective
                        },
                    ],
                    place: Place::Unit(u),
                    job: Job::Supervisor,
                });
                let (lo, hi) = s.staff;
                let staff = lo + ((hi - lo) as f64 * scale).round() as usize;
                for i in 0..staff {
                    let (username, name) = if demo && i == 0 {
                        (OFFICER.to_owned(), "Dana Whitfield".to_owned())
                    } else {
                        person(rng)
                    };
                    let (rank, role) = if s.patrol {
                        ("Ofc.", Role::Officer)
                    } else {
                        ("Det.", Role::Detective)
                    };
                    plan.users.push(PlannedUser {
                        username,
                        display_name: format!("{rank} {name}"),
                        role_line: format!("{rank} {name}, {unit_name}"),
                        roles: vec![role],
                        place: Place::Unit(u),
                        job: Job::Officer,
                    });
                }
            }
        }
        let (username, name) = person(rng);
        plan.users.push(PlannedUser {
            username,
            display_name: name.clone(),
            role_line: format!("{name}, records clerk"),
            roles: vec![Role::RecordsClerk],
            place: Place::Precinct(0),
            job: Job::Other,
        });
        plan.users.push(PlannedUser {
            username: AUDITOR.to_owned(),
            display_name: "Priya Raman".to_owned(),
            role_line: "Priya Raman, auditor (the audit trail, no case content)".to_owned(),
            roles: vec![Role::Auditor],
            place: Place::Department,
            job: Job::Other,
        });
        plan
    }
}

/// The organisation as created: ids by plan index.
struct Organisation {
    units: Vec<UnitId>,
    users: Vec<CreatedUser>,
}

struct CreatedUser {
    id: UserId,
    username: String,
    display_name: String,
    role_line: String,
    password: NewPassword,
    place: Place,
    job: Job,
}

impl Organisation {
    fn user(&self, username: &str) -> anyhow::Result<&CreatedUser> {
        self.users
            .iter()
            .find(|u| u.username == username)
            .ok_or_else(|| anyhow::anyhow!("the demo user {username} was not created"))
    }
}

/// Precincts, units, users, supervisors and workstations, each through its
/// use-case as the console.
async fn create_organisation(services: &Services, plan: &Plan) -> anyhow::Result<Organisation> {
    let mut precincts = Vec::new();
    for name in &plan.precincts {
        let unit = services
            .create_unit(CONSOLE, name, UnitKind::Precinct, None, None)
            .await
            .map_err(|e| already(e, "a precinct of the demo department"))?;
        precincts.push(unit.id);
    }
    let mut units = Vec::new();
    for u in &plan.units {
        let unit = services
            .create_unit(
                CONSOLE,
                &u.name,
                UnitKind::Unit,
                Some(precincts[u.precinct]),
                None,
            )
            .await
            .map_err(|e| already(e, "a unit of the demo department"))?;
        units.push(unit.id);
    }
    // Two at a time: each password hash takes a core for a moment.
    type Made = Result<(usize, (UserId, NewPassword)), ServiceError>;
    let mut created: Vec<Option<(UserId, NewPassword)>> = plan.users.iter().map(|_| None).collect();
    let mut running: tokio::task::JoinSet<Made> = tokio::task::JoinSet::new();
    let mut collect = |done: Result<Made, tokio::task::JoinError>| -> anyhow::Result<()> {
        let (j, user) = done
            .context("a user could not be created")?
            .map_err(|e| already(e, "a user of the demo department"))?;
        created[j] = Some(user);
        Ok(())
    };
    for (i, u) in plan.users.iter().enumerate() {
        if running.len() >= 2 {
            if let Some(done) = running.join_next().await {
                collect(done)?;
            }
        }
        let input = CreateUser {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            roles: u.roles.clone(),
            units: match u.place {
                Place::Unit(x) => vec![units[x]],
                Place::Precinct(p) => vec![precincts[p]],
                Place::Department => vec![],
            },
        };
        let services = services.clone();
        running.spawn(async move {
            services
                .create_user(CONSOLE, input)
                .await
                .map(|(user, password)| (i, (user.id, password)))
        });
    }
    while let Some(done) = running.join_next().await {
        collect(done)?;
    }
    let mut users = Vec::new();
    for (u, c) in plan.users.iter().zip(created) {
        let (id, password) = c.ok_or_else(|| anyhow::anyhow!("a user could not be created"))?;
        users.push(CreatedUser {
            id,
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role_line: u.role_line.clone(),
            password,
            place: u.place,
            job: u.job,
        });
    }
    for u in &users {
        let unit = match (u.job, u.place) {
            (Job::Supervisor, Place::Unit(x)) => units[x],
            (Job::Captain, Place::Precinct(p)) => precincts[p],
            _ => continue,
        };
        services
            .set_unit_supervisor(CONSOLE, unit, Some(u.id))
            .await?;
    }
    for (u, id) in plan.units.iter().zip(&units) {
        services
            .add_workstation(CONSOLE, &u.workstation, *id, vec![])
            .await
            .map_err(|e| already(e, "a workstation of the demo department"))?;
    }
    Ok(Organisation { units, users })
}

fn already(e: ServiceError, what: &str) -> anyhow::Error {
    match e {
        ServiceError::Conflict(_) => anyhow::anyhow!(
            "{what} already exists: this database was seeded before (perhaps interrupted); \
             seed a new one (a new --data-dir, or an empty --database-url)"
        ),
        e => e.into(),
    }
}

// ---- Writing the cases ----

/// Generates batches on a thread of its own while the store writes the one
/// before (the two cores each have their half), with progress on stderr.
async fn seed_cases(
    services: &Services,
    mut generator: Generator,
    total: u64,
) -> anyhow::Result<()> {
    let batch = (total / 10).clamp(100, BATCH_MAX) as usize;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<SeedCase>>(2);
    let producer = tokio::task::spawn_blocking(move || {
        while let Some(cases) = generator.next_batch(batch) {
            if tx.blocking_send(cases).is_err() {
                break;
            }
        }
    });
    let mut seeder = services
        .store
        .case_seeder()
        .await
        .map_err(|e| anyhow::anyhow!("cannot start seeding: {e}"))?;
    let mut progress = Progress::new(total);
    while let Some(cases) = rx.recv().await {
        let event = services.event(&Origin::console(), "demo.seed", Outcome::Allowed);
        let written = seeder
            .write(cases, move |b: &SeededBatch| {
                vec![event
                    .object("case_batch", format!("{}..{}", b.first, b.last))
                    .build()]
            })
            .await
            .map_err(|e| anyhow::anyhow!("a batch of cases could not be written: {e}"))?;
        progress.add(written.cases as u64);
    }
    producer.await.context("the case generator stopped")?;
    progress.finish();
    Ok(())
}

/// A bar with cases, rate and time left on a terminal; a plain line every
/// tenth (or every ten seconds) otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    started: Instant,
    reported: (u64, Instant),
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template(
                "Seeding cases [{bar:40.cyan/blue}] {human_pos}/{human_len} {rate} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} cases/s", s.per_sec());
            })
            .progress_chars("=> ");
            ProgressBar::new(total).with_style(style)
        });
        let now = Instant::now();
        Self {
            bar,
            total,
            done: 0,
            started: now,
            reported: (0, now),
        }
    }

    fn add(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        let (at, when) = self.reported;
        if self.done - at >= self.total.div_ceil(10) || when.elapsed() >= Duration::from_secs(10) {
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            let rate = self.done as f64 / secs;
            let left = (self.total - self.done) as f64 / rate.max(1e-9);
            eprintln!(
                "seeded {} of {} cases ({rate:.0} cases/s, {left:.0} s left)",
                self.done, self.total
            );
            self.reported = (self.done, Instant::now());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A unit as the generator sees it.
struct GenUnit {
    id: UnitId,
    speciality: &'static Speciality,
    officers: Vec<(UserId, String)>,
    supervisor: UserId,
}

/// Makes the department's cases in order of time: the oldest first, spread
/// evenly from `start` to an hour ago.
struct Generator {
    rng: StdRng,
    units: Vec<GenUnit>,
    weights: Vec<u32>,
    start: i64,
    now: i64,
    total: u64,
    made: u64,
}

impl Generator {
    fn new(plan: &Plan, org: &Organisation, total: u64, now: Timestamp, rng: StdRng) -> Self {
        let mut units = Vec::new();
        for (i, u) in plan.units.iter().enumerate() {
            let officers = org
                .users
                .iter()
                .filter(|x| x.job == Job::Officer && x.place == Place::Unit(i))
                .map(|x| (x.id, x.display_name.clone()))
                .collect();
            let supervisor = org
                .users
                .iter()
                .find(|x| x.job == Job::Supervisor && x.place == Place::Unit(i))
                .map(|x| x.id);
            if let Some(supervisor) = supervisor {
                units.push(GenUnit {
                    id: org.units[i],
                    speciality: u.speciality,
                    officers,
                    supervisor,
                });
            }
        }
        units.retain(|u| !u.officers.is_empty());
        let weights = units.iter().map(|u| u.speciality.weight).collect();
        // Whole years, enough of them that no year runs out of numbers.
        let years = total.div_ceil(CASES_PER_YEAR).max(3);
        let today = now.as_micros() - now.as_micros().rem_euclid(DAY_US);
        Self {
            rng,
            units,
            weights,
            start: today - i64::try_from(years).unwrap_or(3) * 365 * DAY_US,
            now: today - HOUR_US,
            total,
            made: 0,
        }
    }

    fn next_batch(&mut self, n: usize) -> Option<Vec<SeedCase>> {
        if self.made >= self.total || self.units.is_empty() {
            return None;
        }
        let n = (self.total - self.made).min(n as u64);
        Some((0..n).map(|_| self.next_case()).collect())
    }

    fn weighted_unit(&mut self) -> usize {
        let total: u32 = self.weights.iter().sum();
        let mut x = self.rng.gen_range(0..total.max(1));
        for (i, w) in self.weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        0
    }

    /// A time-ordered id (UUIDv7 of `at`) from the seeded generator, so that
    /// ids written together sit together in the indexes.
    fn id(&mut self, at: i64) -> uuid::Uuid {
        let bytes: [u8; 10] = self.rng.gen();
        let ms = u64::try_from(at / 1000).unwrap_or_default();
        uuid::Builder::from_unix_timestamp_millis(ms, &bytes).into_uuid()
    }

    fn next_case(&mut self) -> SeedCase {
        let span = self.now - self.start;
        let total = i64::try_from(self.total).unwrap_or(i64::MAX).max(1);
        let slot = span / total;
        let i = i64::try_from(self.made).unwrap_or_default();
        self.made += 1;
        let created = self.start
            + (i128::from(span) * i128::from(i) / i128::from(total)) as i64
            + self.rng.gen_range(0..slot.max(1));
        let u = self.weighted_unit();
        let (unit_id, spec, supervisor) = {
            let unit = &self.units[u];
            (unit.id, unit.speciality, unit.supervisor)
        };
        let offense = (*pick(&mut self.rng, spec.offenses)).to_owned();
        let family = Family::of(&offense, spec);
        let staff = self.units[u].officers.len();
        let lead_at = self.rng.gen_range(0..staff);
        let (lead, lead_name) = self.units[u].officers[lead_at].clone();
        let mut members = vec![CaseMember {
            user: lead,
            membership: Membership::Lead,
            named: true,
        }];
        let team = match family {
            Family::Homicide => self.rng.gen_range(2..=3),
            _ => self.rng.gen_range(0..=2),
        };
        for _ in 0..team {
            let who = self.units[u].officers[self.rng.gen_range(0..staff)].0;
            if members.iter().all(|m| m.user != who) {
                members.push(CaseMember {
                    user: who,
                    membership: Membership::Team,
                    named: self.rng.gen_bool(0.25),
                });
            }
        }
        let classification =
            if spec.restricted || (family == Family::Homicide && self.rng.gen_bool(0.1)) {
                Classification::Restricted
            } else {
                Classification::Case
            };
        let life = Life::draw(&mut self.rng, created, self.now, spec);
        let id = CaseId::from_uuid(self.id(created));
        let mut text = Text::new(&mut self.rng, family, created, lead_name.clone());
        let people = self.people(&mut text, family, spec, id, lead, created);
        let title = text.title(&mut self.rng);
        let narrative = text.narrative(&mut self.rng, &life);
        let mut timeline = vec![SeedLine {
            at: Timestamp::from_micros(created),
            line: Line {
                actor: Some(lead),
                what: "case.opened",
                detail: "Case opened".into(),
            },
        }];
        for p in &people {
            timeline.push(SeedLine {
                at: p.added_at,
                line: Line {
                    actor: Some(lead),
                    what: "person.added",
                    detail: if p.person.flags.is_protected() {
                        format!("{} added (protected)", p.person.role.label())
                    } else {
                        format!("{} added", p.person.role.label())
                    },
                },
            });
        }
        let documents = self.documents(&mut text, id, &members, &life, classification, created);
        for d in &documents {
            timeline.push(SeedLine {
                at: d.created_at,
                line: Line {
                    actor: Some(d.author),
                    what: "document.added",
                    detail: format!("{} added", d.kind.label()),
                },
            });
        }
        for (at, from, to) in life.moves(&mut self.rng) {
            let detail = if to == CaseStatus::Sealed {
                format!(
                    "Status changed from {} to {} by court order CR-{}-{:04}",
                    from.as_str(),
                    to.as_str(),
                    Timestamp::from_micros(at).year(),
                    self.rng.gen_range(1..10_000)
                )
            } else {
                format!("Status changed from {} to {}", from.as_str(), to.as_str())
            };
            timeline.push(SeedLine {
                at: Timestamp::from_micros(at),
                line: Line {
                    actor: Some(if to == CaseStatus::Sealed {
                        supervisor
                    } else {
                        lead
                    }),
                    what: "status.changed",
                    detail,
                },
            });
        }
        timeline.sort_by_key(|l| l.at);
        let due = if matches!(life.status, CaseStatus::Open | CaseStatus::Active)
            && self.rng.gen_bool(0.4)
        {
            Some(Timestamp::from_micros(
                created + self.rng.gen_range(30..90) * DAY_US,
            ))
        } else {
            None
        };
        SeedCase {
            id,
            title,
            offense,
            status: life.status,
            status_before_seal: (life.status == CaseStatus::Sealed).then_some(CaseStatus::Closed),
            classification,
            unit: unit_id,
            narrative,
            due,
            members,
            created_by: lead,
            created_at: Timestamp::from_micros(created),
            people,
            documents,
            timeline,
        }
    }

    fn people(
        &mut self,
        text: &mut Text,
        family: Family,
        spec: &Speciality,
        case: CaseId,
        lead: UserId,
        created: i64,
    ) -> Vec<SeedPerson> {
        let mut roles = vec![if family == Family::Fraud {
            PersonRole::Complainant
        } else {
            PersonRole::Victim
        }];
        if matches!(family, Family::Drugs | Family::Dui | Family::Disorder) {
            roles[0] = PersonRole::Suspect;
        } else if self.rng.gen_bool(0.55) {
            roles.push(PersonRole::Suspect);
        }
        for _ in 0..self.rng.gen_range(0..=2) {
            roles.push(PersonRole::Witness);
        }
        if self.rng.gen_bool(0.25) {
            roles.push(PersonRole::ReportingParty);
        }
        roles.truncate(4);
        let year = Timestamp::from_micros(created).year();
        let mut out = Vec::new();
        for (k, role) in roles.into_iter().enumerate() {
            let r = &mut self.rng;
            let juvenile = match role {
                PersonRole::Victim | PersonRole::Suspect if spec.name == JUVENILE.name => {
                    r.gen_bool(0.7)
                }
                PersonRole::Victim | PersonRole::Witness => r.gen_bool(0.03),
                _ => false,
            };
            let protected_witness = role == PersonRole::Witness
                && matches!(
                    family,
                    Family::Homicide | Family::Robbery | Family::Domestic | Family::Drugs
                )
                && r.gen_bool(0.2);
            let confidential_informant =
                role == PersonRole::Witness && family == Family::Drugs && r.gen_bool(0.25);
            let first = *pick(r, FIRST_NAMES);
            let last = *pick(r, LAST_NAMES);
            let age = if juvenile {
                r.gen_range(11..18)
            } else {
                r.gen_range(18..81)
            };
            let identity = Identity {
                name: format!("{first} {last}"),
                address: Some(format!(
                    "{} {}, {CITY}",
                    r.gen_range(10..9_000),
                    text::street(r)
                )),
                phone: r
                    .gen_bool(0.8)
                    .then(|| format!("(360) 555-01{:02}", r.gen_range(0..100))),
                date_of_birth: Some(format!(
                    "{:04}-{:02}-{:02}",
                    year - age,
                    r.gen_range(1..=12),
                    r.gen_range(1..=28)
                )),
            };
            let flags = PersonFlags {
                juvenile,
                protected_witness,
                confidential_informant,
            };
            let person = CasePerson {
                id: PersonId::from_uuid(self.id(created)),
                case_id: case,
                role,
                flags,
                identity,
            };
            text.cast(&person, &mut self.rng);
            out.push(SeedPerson {
                person,
                added_by: lead,
                added_at: Timestamp::from_micros(created + (k as i64 + 1) * 60_000_000),
            });
        }
        out
    }

    fn documents(
        &mut self,
        text: &mut Text,
        case: CaseId,
        members: &[CaseMember],
        life: &Life,
        classification: Classification,
        created: i64,
    ) -> Vec<Document> {
        let lead = members[0].user;
        let count = self.rng.gen_range(1..=3);
        let mut out = Vec::new();
        let first = (created + self.rng.gen_range(1..8) * HOUR_US).min(life.end - 1);
        for k in 0..count {
            let r = &mut self.rng;
            let (kind, title, body, class, author, at) = if k == 0 {
                (
                    DocumentKind::Report,
                    "Incident report".to_owned(),
                    text.report(r),
                    classification,
                    lead,
                    first,
                )
            } else {
                let author = pick(r, members).user;
                let at = first + ((life.end - first) as f64 * r.gen_range(0.05..0.9)) as i64;
                if r.gen_bool(0.15) {
                    let (title, body) = text::paperwork(r);
                    (
                        DocumentKind::Note,
                        title.to_owned(),
                        body,
                        Classification::Administrative,
                        author,
                        at,
                    )
                } else {
                    let (kind, title, body) = text.supplement(r);
                    (kind, title, body, classification, author, at)
                }
            };
            out.push(Document {
                id: DocumentId::from_uuid(self.id(created)),
                case_id: case,
                kind,
                classification: class,
                title,
                body,
                author,
                created_at: Timestamp::from_micros(at.max(created)),
                amends: None,
                attachment: None,
            });
        }
        out
    }
}

/// Where a case stands now, and when it got there.
struct Life {
    status: CaseStatus,
    created: i64,
    now: i64,
    /// When work on it stopped (closed), or now.
    end: i64,
    active: i64,
    suspended: Option<i64>,
}

impl Life {
    fn draw(rng: &mut StdRng, created: i64, now: i64, spec: &Speciality) -> Self {
        let age = (now - created).max(HOUR_US);
        let days = age / DAY_US;
        let roll = rng.gen_range(0..100);
        let mut status = match days {
            0..14 => match roll {
                0..45 => CaseStatus::Open,
                45..95 => CaseStatus::Active,
                _ => CaseStatus::Suspended,
            },
            14..120 => match roll {
                0..5 => CaseStatus::Open,
                5..60 => CaseStatus::Active,
                60..80 => CaseStatus::Suspended,
                _ => CaseStatus::Closed,
            },
            120..365 => match roll {
                0..25 => CaseStatus::Active,
                25..50 => CaseStatus::Suspended,
                _ => CaseStatus::Closed,
            },
            _ => match roll {
                0..5 => CaseStatus::Active,
                5..20 => CaseStatus::Suspended,
                _ => CaseStatus::Closed,
            },
        };
        let seal_share = if spec.name == JUVENILE.name {
            0.1
        } else {
            0.005
        };
        if status == CaseStatus::Closed && rng.gen_bool(seal_share) {
            status = CaseStatus::Sealed;
        }
        let active = created + (age as f64 * rng.gen_range(0.002..0.05)) as i64 + HOUR_US / 2;
        let end = match status {
            CaseStatus::Closed | CaseStatus::Sealed => {
                active + ((now - active) as f64 * rng.gen_range(0.2..0.8)) as i64
            }
            _ => now,
        };
        let suspended = (status == CaseStatus::Suspended)
            .then(|| active + ((now - active) as f64 * rng.gen_range(0.3..0.9)) as i64);
        Self {
            status,
            created,
            now,
            end: end.max(created + HOUR_US).min(now),
            active: active.min(now),
            suspended,
        }
    }

    /// The status changes that led here: (time, from, to).
    fn moves(&self, rng: &mut StdRng) -> Vec<(i64, CaseStatus, CaseStatus)> {
        use CaseStatus::*;
        let mut out = Vec::new();
        if self.status == Open {
            return out;
        }
        out.push((self.active.max(self.created + 1), Open, Active));
        match self.status {
            Suspended => out.push((self.suspended.unwrap_or(self.active) + 1, Active, Suspended)),
            Closed => out.push((self.end, Active, Closed)),
            Sealed => {
                out.push((self.end, Active, Closed));
                let later =
                    self.end + ((self.now - self.end) as f64 * rng.gen_range(0.1..0.9)) as i64;
                out.push((later.max(self.end + 1), Closed, Sealed));
            }
            _ => {}
        }
        out
    }
}

// ---- Words: titles, narratives and reports from templates ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Burglary,
    Robbery,
    Homicide,
    Assault,
    Theft,
    Vehicle,
    Fraud,
    Drugs,
    Vandalism,
    Disorder,
    Dui,
    Domestic,
}

impl Family {
    fn of(code: &str, spec: &Speciality) -> Self {
        if spec.name == DOMESTIC.name {
            return Family::Domestic;
        }
        match code {
            "220" | "23D" => Family::Burglary,
            "120" | "23A" | "23B" => Family::Robbery,
            "09A" | "09B" => Family::Homicide,
            "13A" | "13B" | "13C" | "100" => Family::Assault,
            "240" | "23G" => Family::Vehicle,
            "26A" | "26B" | "26C" | "26E" | "26F" | "250" | "270" | "90A" => Family::Fraud,
            "35A" | "35B" | "520" => Family::Drugs,
            "290" => Family::Vandalism,
            "90D" => Family::Dui,
            "90B" | "90C" | "90F" | "90J" => Family::Disorder,
            _ => Family::Theft,
        }
    }
}

/// One case's words: its place and time, and how its people are named in
/// text (a protected person never by name).
struct Text {
    family: Family,
    date: String,
    time: String,
    street: String,
    address: String,
    business: &'static str,
    officer: String,
    victim: String,
    suspect: String,
    witness: String,
}

impl Text {
    fn new(rng: &mut StdRng, family: Family, created: i64, officer: String) -> Self {
        let (date, time) = text::date_and_time(created);
        let street = text::street(rng);
        Self {
            family,
            date,
            time,
            address: format!("{} {street}", rng.gen_range(10..9_000)),
            street,
            business: word(rng, text::BUSINESSES),
            officer,
            victim: "the victim".into(),
            suspect: format!("a suspect described as {}", pick(rng, text::DESCRIPTIONS)),
            witness: "a neighbour".into(),
        }
    }

    /// How the text names a person of the case.
    fn cast(&mut self, p: &CasePerson, rng: &mut StdRng) {
        let name = if p.flags.confidential_informant {
            format!(
                "a confidential informant (CI-{:04})",
                rng.gen_range(1000..10_000)
            )
        } else if p.flags.protected_witness {
            "a protected witness".to_owned()
        } else if p.flags.juvenile {
            "a juvenile (name withheld)".to_owned()
        } else {
            p.identity.name.clone()
        };
        match p.role {
            PersonRole::Victim | PersonRole::Complainant => self.victim = name,
            PersonRole::Suspect => self.suspect = name,
            PersonRole::Witness => self.witness = name,
            PersonRole::ReportingParty => {}
        }
    }

    /// The template with its blanks filled, starting with a capital.
    fn fill(&self, template: &str, rng: &mut StdRng) -> String {
        let mut out = self.fill_blanks(template, rng);
        if let Some(first) = out
            .get(..1)
            .filter(|c| c.chars().all(|c| c.is_ascii_lowercase()))
        {
            let upper = first.to_ascii_uppercase();
            out.replace_range(..1, &upper);
        }
        out
    }

    fn fill_blanks(&self, template: &str, rng: &mut StdRng) -> String {
        let mut out = String::with_capacity(template.len() + 64);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[open..]);
                return out;
            };
            let key = &after[..close];
            match key {
                "date" => out.push_str(&self.date),
                "time" => out.push_str(&self.time),
                "street" => out.push_str(&self.street),
                "address" => out.push_str(&self.address),
                "business" => out.push_str(self.business),
                "officer" => out.push_str(&self.officer),
                "victim" => out.push_str(&self.victim),
                "suspect" => out.push_str(&self.suspect),
                "witness" => out.push_str(&self.witness),
                "landmark" => out.push_str(word(rng, text::LANDMARKS)),
                "item" => out.push_str(word(rng, text::ITEMS)),
                "vehicle" => out.push_str(word(rng, text::VEHICLES)),
                "weapon" => out.push_str(word(rng, text::WEAPONS)),
                "entry" => out.push_str(word(rng, text::ENTRIES)),
                "evidence" => out.push_str(word(rng, text::EVIDENCE)),
                "amount" => out.push_str(&format!("${}", rng.gen_range(40..9_000))),
                "plate" => out.push_str(&format!(
                    "{}{}{}-{:04}",
                    char::from(b'A' + rng.gen_range(0..26u8)),
                    char::from(b'A' + rng.gen_range(0..26u8)),
                    char::from(b'A' + rng.gen_range(0..26u8)),
                    rng.gen_range(0..10_000)
                )),
                other => {
                    out.push('{');
                    out.push_str(other);
                    out.push('}');
                }
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }

    fn title(&self, rng: &mut StdRng) -> String {
        let t = text::TITLES
            .iter()
            .find(|(f, _)| *f == self.family)
            .map_or("Incident on {street}", |(_, t)| t);
        self.fill(t, rng)
    }

    fn narrative(&self, rng: &mut StdRng, life: &Life) -> String {
        let mut parts = vec![self.fill(text::opening(self.family), rng)];
        let details = text::details(self.family);
        let skip = rng.gen_range(0..details.len());
        for (k, d) in details.iter().enumerate() {
            if k != skip {
                parts.push(self.fill(d, rng));
            }
        }
        parts.push(self.fill(word(rng, text::CANVASS), rng));
        parts.push(self.fill(word(rng, text::EVIDENCE_LINES), rng));
        parts.push(
            match life.status {
                CaseStatus::Open => "The case is assigned for follow-up.",
                CaseStatus::Active => {
                    "Follow-up interviews are scheduled and the evidence has been submitted to the lab."
                }
                CaseStatus::Suspended => {
                    "All leads have been exhausted; the case is suspended pending new information."
                }
                CaseStatus::Closed | CaseStatus::Sealed => {
                    "The suspect was identified and the case was referred to the prosecutor's office."
                }
            }
            .to_owned(),
        );
        parts.join(" ")
    }

    fn report(&self, rng: &mut StdRng) -> String {
        let mut parts = vec![self.fill(
            "On {date} at about {time} hours I, {officer}, was dispatched to {address}.",
            rng,
        )];
        let details = text::details(self.family);
        let first = rng.gen_range(0..details.len());
        parts.push(self.fill(details[first], rng));
        parts.push(self.fill(details[(first + 1) % details.len()], rng));
        parts.push(self.fill(word(rng, text::EVIDENCE_LINES), rng));
        parts.push(self.fill(word(rng, text::CANVASS), rng));
        parts.join("\n\n")
    }

    fn supplement(&self, rng: &mut StdRng) -> (DocumentKind, String, String) {
        let (kind, title, template) = *pick(rng, text::SUPPLEMENTS);
        (kind, title.to_owned(), self.fill(template, rng))
    }
}

mod text {
    //! The department's words: fictional streets, businesses and things,
    //! and the sentences cases are told in.

    use super::{pick, Family};
    use precinct_domain::document::DocumentKind;
    use precinct_domain::Timestamp;
    use rand::rngs::StdRng;

    const STREETS: &[&str] = &[
        "Alder",
        "Birch",
        "Cedar Hollow",
        "Dockside",
        "Elm",
        "Ferry",
        "Granite",
        "Harbor View",
        "Ironwood",
        "Juniper",
        "Kestrel",
        "Lighthouse",
        "Mariner",
        "Netmaker",
        "Orchard",
        "Pilot",
        "Quarry",
        "Rope Walk",
        "Saltmarsh",
        "Tidewater",
        "Upland",
        "Vine",
        "Wharf",
        "Yarrow",
        "Beacon",
        "Chandler",
        "Driftwood",
        "Foundry",
        "Gull",
        "Heron",
    ];
    const STREET_KINDS: &[&str] = &["Street", "Avenue", "Road", "Lane", "Court", "Way"];
    pub const BUSINESSES: &[&str] = &[
        "Harborview Market",
        "Alder Street Pharmacy",
        "Tidewater Diner",
        "Beacon Hardware",
        "Pier 9 Liquor",
        "Saltmarsh Gas & Go",
        "Northside Laundromat",
        "the Mariner Bank branch",
        "Kestrel Electronics",
        "Lighthouse Cafe",
        "Foundry Fitness",
        "Quarry Auto Parts",
        "the Ferry Terminal kiosk",
        "the Orchard Mall food court",
        "Dockside Tavern",
        "Ironwood Jewelers",
    ];
    pub const LANDMARKS: &[&str] = &[
        "the Ferry Terminal",
        "the Central Library",
        "Gull Point Park",
        "the Rope Walk pier",
        "the Northside Transit Center",
        "Saltmarsh Elementary School",
        "the Granite Street underpass",
        "Harbor Stadium",
    ];
    pub const ITEMS: &[&str] = &[
        "a laptop computer",
        "a gold necklace",
        "two televisions",
        "a handgun safe",
        "power tools",
        "prescription medication",
        "a game console",
        "a mountain bicycle",
        "cash from a drawer",
        "a wedding ring",
        "a camera bag",
        "designer handbags",
        "copper wiring",
        "a tablet computer",
    ];
    pub const VEHICLES: &[&str] = &[
        "a grey 2016 Honda Civic",
        "a white Ford Transit van",
        "a black Toyota Camry",
        "a red Subaru Outback",
        "a blue Chevrolet Silverado",
        "a silver Nissan Altima",
        "a green Kia Soul",
    ];
    pub const WEAPONS: &[&str] = &[
        "a handgun",
        "a folding knife",
        "a baseball bat",
        "a tire iron",
        "what appeared to be a revolver",
    ];
    pub const ENTRIES: &[&str] = &[
        "the rear door had been forced",
        "a side window was broken",
        "the garage door was pried open",
        "a sliding door was lifted off its track",
        "the front door lock was punched",
    ];
    pub const EVIDENCE: &[&str] = &[
        "a latent fingerprint lift",
        "a shoe impression",
        "a set of DNA swabs",
        "surveillance video",
        "a discarded glove",
        "a tool mark cast",
        "a cigarette butt",
        "a torn receipt",
        "a blood sample",
    ];
    pub const DESCRIPTIONS: &[&str] = &[
        "a man in his twenties wearing a dark hooded sweatshirt",
        "a tall woman with a red backpack",
        "two men in grey work jackets",
        "a teenager on a black bicycle",
        "a heavy-set man with a beard and a ball cap",
    ];

    pub const TITLES: &[(Family, &str)] = &[
        (Family::Burglary, "Residential burglary, {address}"),
        (Family::Robbery, "Robbery near {business}"),
        (Family::Homicide, "Death investigation, {address}"),
        (Family::Assault, "Assault on {street}"),
        (Family::Theft, "Theft at {business}"),
        (Family::Vehicle, "Stolen vehicle, {street}"),
        (Family::Fraud, "Fraud reported by {business}"),
        (Family::Drugs, "Narcotics investigation, {street}"),
        (Family::Vandalism, "Vandalism on {street}"),
        (Family::Disorder, "Disturbance at {business}"),
        (Family::Dui, "Impaired driver stopped on {street}"),
        (Family::Domestic, "Domestic disturbance, {address}"),
    ];

    pub fn opening(f: Family) -> &'static str {
        match f {
            Family::Burglary => "On {date} at approximately {time} hours officers responded to a burglary at {address}. {victim} returned home to find that {entry}; {item} and {item} were missing.",
            Family::Robbery => "On {date} at approximately {time} hours {victim} was robbed outside {business} on {street} by {suspect}, who displayed {weapon} and demanded a wallet and phone.",
            Family::Homicide => "On {date} at {time} hours patrol units were dispatched to {address} for a report of a person down. The victim was pronounced dead at the scene; the medical examiner and the homicide unit were called out.",
            Family::Assault => "On {date} at about {time} hours {victim} reported being assaulted on {street} near {landmark} by {suspect}, who struck the victim with {weapon}.",
            Family::Theft => "On {date} at about {time} hours staff at {business} reported a theft: {suspect} took {item} and left on foot toward {landmark}.",
            Family::Vehicle => "On {date} {victim} reported {vehicle}, plate {plate}, stolen from in front of {address} overnight.",
            Family::Fraud => "On {date} {victim} reported unauthorised charges of {amount} on a debit card after a caller claiming to be from {business} asked for a verification code.",
            Family::Drugs => "On {date} at {time} hours officers watched a hand-to-hand exchange near {landmark}. {suspect} was stopped on {street} and found in possession of suspected narcotics packaged for sale.",
            Family::Vandalism => "On {date} {victim} reported that the windows of {business} on {street} had been smashed and the walls spray-painted overnight.",
            Family::Disorder => "On {date} at {time} hours officers responded to {business} for a disturbance; {suspect} was shouting at customers and refused to leave when asked by staff.",
            Family::Dui => "On {date} at {time} hours {vehicle}, plate {plate}, was seen weaving across lanes on {street}. The driver, {suspect}, showed signs of impairment and failed field sobriety tests.",
            Family::Domestic => "On {date} at {time} hours officers responded to {address} after a neighbour called about shouting. {victim} reported being pushed and threatened by a household member.",
        }
    }

    pub fn details(f: Family) -> &'static [&'static str] {
        match f {
            Family::Burglary => &[
                "Pry marks were found on the door frame and a flashlight was left behind in the hallway.",
                "A neighbour saw {vehicle} parked in the driveway with its engine running at about {time} hours.",
                "Serial numbers of the stolen property were entered into the pawn database.",
            ],
            Family::Robbery => &[
                "The suspect fled toward {landmark}; a perimeter was set up but the suspect was not located.",
                "The victim suffered minor injuries and declined transport to the hospital.",
                "Surveillance video from {business} shows the suspect's face clearly.",
            ],
            Family::Homicide => &[
                "The victim had a gunshot wound to the chest; two shell casings were recovered from the sidewalk.",
                "{witness} heard an argument and saw {vehicle} leave at high speed.",
                "The scene was secured, photographed and processed by the crime scene unit.",
            ],
            Family::Assault => &[
                "The victim was treated at Port Alder General Hospital for a cut above the eye.",
                "{witness} saw the fight and gave a statement at the scene.",
                "The victim and the suspect had argued earlier that evening at {business}.",
            ],
            Family::Theft => &[
                "The loss is estimated at {amount}.",
                "Store security kept the receipt roll and the footage from the register cameras.",
                "Similar thefts were reported at {business} the same week.",
            ],
            Family::Vehicle => &[
                "The owner still has both keys; a tracking request was sent to the manufacturer.",
                "The vehicle was entered into the stolen vehicle system and a hotlist alert was set for plate readers.",
                "Glass on the curb suggests a window was broken to gain entry.",
            ],
            Family::Fraud => &[
                "The bank froze the account and provided the transaction records and the merchant details.",
                "The caller used a spoofed number that appears to belong to {business}.",
                "Three other residents of {street} reported the same scheme this month.",
            ],
            Family::Drugs => &[
                "The substance field-tested positive and was sent to the state laboratory.",
                "A search incident to arrest found {amount} in small bills and a digital scale.",
                "Information from {witness} had identified the location as a sales point.",
            ],
            Family::Vandalism => &[
                "The damage is estimated at {amount}.",
                "The tags match others found near {landmark} this month.",
                "Paint cans were found in a dumpster behind the building.",
            ],
            Family::Disorder => &[
                "The suspect was issued a trespass warning and escorted off the property.",
                "Staff reported that the same person caused a disturbance last week.",
                "The suspect appeared intoxicated and was released to a family member.",
            ],
            Family::Dui => &[
                "A breath test at the precinct recorded a result above the legal limit.",
                "The vehicle was impounded and the driver's licence was seized.",
                "An open container was found on the passenger seat.",
            ],
            Family::Domestic => &[
                "The victim had visible redness on the arms; photographs were taken with consent.",
                "A protection order was explained and an advocate was contacted for the victim.",
                "Children were present in the home and were not injured.",
            ],
        }
    }

    pub const CANVASS: &[&str] = &[
        "A canvass of {street} found one neighbour who heard noises at about {time} hours.",
        "Surveillance cameras at {business} were identified and a request for the footage was sent.",
        "No witnesses were located during an area canvass of {street}.",
        "{witness} was interviewed and gave a description of the suspect.",
    ];
    pub const EVIDENCE_LINES: &[&str] = &[
        "Photographs of the scene were taken and {evidence} was collected and booked into property.",
        "The crime scene unit collected {evidence} and {evidence}.",
        "{evidence} was submitted to the laboratory for analysis.",
    ];
    pub const SUPPLEMENTS: &[(DocumentKind, &str, &str)] = &[
        (
            DocumentKind::Supplement,
            "Supplemental report: canvass",
            "I canvassed {street} between {landmark} and {business}. Two residents reported seeing {vehicle} in the area. Footage from {business} was downloaded and attached to the evidence log.",
        ),
        (
            DocumentKind::Supplement,
            "Supplemental report: follow-up interview",
            "I re-contacted {victim} by phone. The victim added that {suspect} had been seen near {landmark} earlier in the week. A photo line-up will be prepared.",
        ),
        (
            DocumentKind::Supplement,
            "Evidence log",
            "Item 1: {evidence}. Item 2: {evidence}. Both items were sealed, labelled and booked into the property room; the custody record was signed at intake.",
        ),
        (
            DocumentKind::Note,
            "Case note",
            "Called {business} about the surveillance footage; the manager will have a copy ready by the end of the week.",
        ),
    ];

    /// Non-sensitive paperwork (classified administrative).
    pub fn paperwork(rng: &mut StdRng) -> (&'static str, String) {
        let (title, body) = *pick(
            rng,
            &[
                (
                    "Property release form",
                    "Release of recovered property to the owner authorised; identification verified at the front desk.",
                ),
                (
                    "Court date notice",
                    "Arraignment scheduled in Port Alder District Court; a subpoena was requested for the reporting officer.",
                ),
                (
                    "Records request",
                    "A copy of the incident report was requested by the insurer and released in redacted form under department policy.",
                ),
            ],
        );
        (title, body.to_owned())
    }

    pub fn street(rng: &mut StdRng) -> String {
        format!("{} {}", pick(rng, STREETS), pick(rng, STREET_KINDS))
    }

    /// "March 3, 2025" and "2140".
    pub fn date_and_time(us: i64) -> (String, String) {
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let s = Timestamp::from_micros(us).to_string();
        let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<usize>().ok());
        let (Some(y), Some(m), Some(d), Some(h), Some(min)) =
            (num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16))
        else {
            return (s, String::new());
        };
        let month = MONTHS.get(m.wrapping_sub(1)).copied().unwrap_or("January");
        (format!("{month} {d}, {y}"), format!("{h:02}{min:02}"))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn dates_read_like_a_report() {
            // 2026-12-01T08:03:15Z
            let (d, t) = date_and_time(1_796_112_195_123_456);
            assert_eq!((d.as_str(), t.as_str()), ("December 1, 2026", "0803"));
        }
    }
}

// ---- What to print ----

/// The listen address as a client on this machine reaches it; the server
/// certificate always names `localhost`.
pub fn host_for(listen: std::net::SocketAddr) -> String {
    if listen.ip().is_unspecified() || listen.ip().is_loopback() {
        format!("localhost:{}", listen.port())
    } else {
        listen.to_string()
    }
}

/// The logins (boxed: one-time passwords print once), then how to reach
/// case material from a designated workstation.
pub fn print_guide(logins: &Logins, reach: &Reach<'_>) {
    if let Some(s) = &logins.summary {
        println!("Demo department ready: {s}.");
    }
    let mut lines = vec!["Log in as:".to_owned()];
    let width = logins
        .people
        .iter()
        .map(|l| l.username.len())
        .max()
        .unwrap_or(0);
    for l in &logins.people {
        let password = match &l.password {
            Some(p) => format!("one-time password {}", p.expose()),
            None => "(already set up: the password they chose)".to_owned(),
        };
        lines.push(format!(
            "  {:<10} {:<width$}  {password}",
            l.persona, l.username
        ));
        lines.push(format!("  {:<10} {:<width$}  {}", "", "", l.who));
    }
    lines.push(String::new());
    lines.push("At first login each sets a new password (12+ characters) and enrols".to_owned());
    lines
        .push("an authenticator app (TOTP: scan the QR code); keep the recovery codes.".to_owned());
    lines.push("One-time passwords are shown only once; `precinct user reset-password`".to_owned());
    lines.push("issues new ones.".to_owned());
    print_boxed(&lines);

    let dir = reach.data_dir.display().to_string();
    let mut cmd = format!("precinct --data-dir {}", shell_word(&dir));
    if reach.custom_database {
        cmd.push_str(" --database-url <the same URL>");
    }
    let pki = reach.data_dir.join("pki");
    let ws = &logins.workstation;
    let cert = pki.join("issued").join(format!("{ws}.pem"));
    let key = pki.join("issued").join(format!("{ws}-key.pem"));
    let ca = pki.join("ca.pem");
    let q = |p: &Path| shell_word(&p.display().to_string());
    println!();
    println!("Case material opens only at a designated workstation. To be workstation `{ws}`:");
    let mut step = 0;
    let mut say = |s: String| {
        step += 1;
        println!("  {step}. {s}");
    };
    if !ca.is_file() {
        say(format!(
            "{cmd} pki init            # the department CA and the server certificate"
        ));
    }
    if !cert.is_file() {
        say(format!("{cmd} pki issue --workstation {ws}"));
    }
    if reach.tls != Some(true) {
        let also = if reach.tls == Some(false) {
            "stop this server, then "
        } else {
            ""
        };
        let listen = reach
            .listen
            .map(|l| format!(" --listen {l}"))
            .unwrap_or_default();
        say(format!("{also}{cmd} serve --demo --tls{listen}"));
    }
    say(format!(
        "check: curl -s --cacert {} --cert {} --key {} https://{}/login | grep -o 'Designated workstation[^<]*'",
        q(&ca),
        q(&cert),
        q(&key),
        reach.host
    ));
    say(format!(
        "for a browser: openssl pkcs12 -export -in {} -inkey {} -out {ws}.p12 -passout pass:demo",
        q(&cert),
        q(&key)
    ));
    say(format!(
        "import {ws}.p12 (password demo) and trust {}, open https://{}/ and log in as {OFFICER}",
        q(&ca),
        reach.host
    ));
    match &logins.sample_case {
        Some(n) => println!(
            "Then open case {n} (one of {OFFICER}'s), or search for \"burglary\", a street or a name."
        ),
        None => println!("Then search for \"burglary\", a street or a name."),
    }
}
