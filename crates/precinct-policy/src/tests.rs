//! The shipped policy validates strictly, replacements that do not are
//! refused, and the decision table of SPEC.md's rules holds cell by cell.

use super::*;
use precinct_domain::Role;

#[test]
fn the_shipped_policy_validates_strictly() {
    let engine = PolicyEngine::shipped().expect("shipped policy validates");
    assert!(engine.len() >= 9);
}

#[test]
fn invalid_files_are_refused_with_the_reason() {
    let typo = SHIPPED_POLICIES.replace("resource.team.contains", "resource.teams.contains");
    let err = PolicyEngine::new(SHIPPED_SCHEMA, &typo).expect_err("unknown attribute");
    assert!(matches!(err, PolicyError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("teams"), "{err}");
    let err = PolicyEngine::new(SHIPPED_SCHEMA, "permit (principal, action, resource")
        .expect_err("syntax");
    assert!(matches!(err, PolicyError::Parse(_)));
    let err = PolicyEngine::new(SHIPPED_SCHEMA, "permit (principal, action, resource);")
        .expect_err("no id");
    assert!(matches!(err, PolicyError::MissingId(_)));
    let err = PolicyEngine::new("namespace {", SHIPPED_POLICIES).expect_err("schema");
    assert!(matches!(err, PolicyError::Schema(_)));
}

pub(crate) struct World {
    pub(crate) officer: UserId,
    pub(crate) teammate: UserId,
    pub(crate) sergeant: UserId,
    outsider_sergeant: UserId,
    stranger: UserId,
    pub(crate) unit: UnitId,
}

/// The world's officer, a detective of its unit, off duty, trained.
pub(crate) fn officer<'a>(w: &World, roles: &'a Roles, units: &'a [UnitId]) -> Principal<'a> {
    Principal {
        id: w.officer,
        roles,
        units,
        on_duty: false,
        training_current: true,
    }
}

/// A detective's roles, and the world's unit.
pub(crate) fn detective(w: &World) -> (Roles, [UnitId; 1]) {
    (Roles::new([Role::Detective]).expect("roles"), [w.unit])
}

pub(crate) fn world() -> World {
    World {
        officer: UserId::new_random(),
        teammate: UserId::new_random(),
        sergeant: UserId::new_random(),
        outsider_sergeant: UserId::new_random(),
        stranger: UserId::new_random(),
        unit: UnitId::new_random(),
    }
}

struct Ask<'a> {
    user: UserId,
    roles: &'a [Role],
    action: Action,
    channel: &'a str,
    classification: &'a str,
    sealed: bool,
    break_glass: bool,
    on_duty: bool,
    training_current: bool,
    document_by: Option<UserId>,
}

fn decide(engine: &PolicyEngine, w: &World, ask: &Ask<'_>) -> Decision {
    let roles = Roles::new(ask.roles.iter().copied()).expect("roles");
    let units = [w.unit];
    let principal = Principal {
        id: ask.user,
        roles: &roles,
        units: &units,
        on_duty: ask.on_duty,
        training_current: ask.training_current,
    };
    let team = [w.officer, w.teammate];
    let named = [w.officer];
    let supervisors = [w.sergeant];
    let resource = Resource {
        kind: match ask.document_by {
            Some(author) => ResourceKind::Document { author },
            None => ResourceKind::Case,
        },
        id: "c1".into(),
        number: "2026-000123".into(),
        unit: w.unit,
        classification: ask.classification,
        sealed: ask.sealed,
        lead: Some(w.officer),
        team: &team,
        named: &named,
        supervisors: &supervisors,
    };
    engine.decide(&AccessRequest {
        principal: &principal,
        action: ask.action,
        resource: &resource,
        context: RequestContext {
            channel: ask.channel,
            break_glass: ask.break_glass,
            now: Timestamp::from_micros(0),
            device: "",
            grant: None,
        },
    })
}

fn base(user: UserId) -> Ask<'static> {
    Ask {
        user,
        roles: &[Role::Officer],
        action: Action::View,
        channel: "workstation",
        classification: "case",
        sealed: false,
        break_glass: false,
        on_duty: false,
        training_current: true,
        document_by: None,
    }
}

#[test]
fn need_to_know_at_a_designated_workstation() {
    let engine = PolicyEngine::shipped().expect("policy");
    let w = world();
    let sup: &[Role] = &[Role::Supervisor];
    let cells: Vec<(&str, Ask<'_>, bool, &str)> = vec![
        ("lead at workstation", base(w.officer), true, "need-to-know"),
        (
            "team at workstation",
            base(w.teammate),
            true,
            "need-to-know",
        ),
        (
            "unit supervisor",
            Ask {
                roles: sup,
                ..base(w.sergeant)
            },
            true,
            "need-to-know",
        ),
        ("stranger", base(w.stranger), false, ""),
        (
            "other supervisor",
            Ask {
                roles: sup,
                ..base(w.outsider_sergeant)
            },
            false,
            "",
        ),
        (
            "administrator is no reason",
            Ask {
                roles: &[Role::Administrator],
                ..base(w.stranger)
            },
            false,
            "",
        ),
        (
            "lead off-site",
            Ask {
                channel: "offsite",
                ..base(w.officer)
            },
            false,
            "designated-workstation-only",
        ),
        (
            "lead on a department device reading",
            Ask {
                channel: "department_device",
                on_duty: true,
                ..base(w.officer)
            },
            false,
            "designated-workstation-only",
        ),
        (
            "lead on a department device writing on duty",
            Ask {
                channel: "department_device",
                on_duty: true,
                action: Action::AddDocument,
                ..base(w.officer)
            },
            true,
            "need-to-know",
        ),
        (
            "lead on a department device writing off duty",
            Ask {
                channel: "department_device",
                action: Action::AddDocument,
                ..base(w.officer)
            },
            false,
            "designated-workstation-only",
        ),
        (
            "break-glass by another supervisor",
            Ask {
                roles: sup,
                break_glass: true,
                ..base(w.outsider_sergeant)
            },
            true,
            "break-glass",
        ),
        (
            "break-glass by an officer",
            Ask {
                break_glass: true,
                ..base(w.stranger)
            },
            false,
            "",
        ),
        (
            "break-glass off-site",
            Ask {
                roles: sup,
                break_glass: true,
                channel: "offsite",
                ..base(w.outsider_sergeant)
            },
            false,
            "designated-workstation-only",
        ),
        (
            "sealed, named lead",
            Ask {
                sealed: true,
                ..base(w.officer)
            },
            true,
            "need-to-know",
        ),
        (
            "sealed, team member",
            Ask {
                sealed: true,
                ..base(w.teammate)
            },
            false,
            "sealed-named-users-only",
        ),
        (
            "sealed, break-glass",
            Ask {
                roles: sup,
                sealed: true,
                break_glass: true,
                ..base(w.outsider_sergeant)
            },
            false,
            "sealed-named-users-only",
        ),
        (
            "sealed, supervisor manages",
            Ask {
                roles: sup,
                sealed: true,
                action: Action::Manage,
                ..base(w.sergeant)
            },
            true,
            "manage-lead-or-supervisor",
        ),
        (
            "restricted, team member",
            Ask {
                classification: "restricted",
                ..base(w.teammate)
            },
            false,
            "restricted-named-or-supervisor",
        ),
        (
            "restricted, named",
            Ask {
                classification: "restricted",
                ..base(w.officer)
            },
            true,
            "need-to-know",
        ),
        (
            "restricted, training overdue",
            Ask {
                classification: "restricted",
                training_current: false,
                ..base(w.officer)
            },
            false,
            "training-current-for-restricted",
        ),
        (
            "restricted, break-glass",
            Ask {
                roles: sup,
                classification: "restricted",
                break_glass: true,
                ..base(w.outsider_sergeant)
            },
            false,
            "restricted-named-or-supervisor",
        ),
        (
            "protected people, named",
            Ask {
                action: Action::ViewProtected,
                ..base(w.officer)
            },
            true,
            "protected-people-named-users",
        ),
        (
            "protected people, team",
            Ask {
                action: Action::ViewProtected,
                ..base(w.teammate)
            },
            false,
            "",
        ),
        (
            "manage, team member",
            Ask {
                action: Action::Manage,
                ..base(w.teammate)
            },
            false,
            "",
        ),
        (
            "amend own entry",
            Ask {
                action: Action::Amend,
                document_by: Some(w.teammate),
                ..base(w.teammate)
            },
            true,
            "amend-own-or-lead",
        ),
        (
            "amend someone else's entry",
            Ask {
                action: Action::Amend,
                document_by: Some(w.officer),
                ..base(w.teammate)
            },
            false,
            "",
        ),
        (
            "audit tab, auditor",
            Ask {
                roles: &[Role::Auditor],
                action: Action::ViewAudit,
                ..base(w.stranger)
            },
            true,
            "audit-tab",
        ),
        (
            "audit tab, lead",
            Ask {
                action: Action::ViewAudit,
                ..base(w.officer)
            },
            false,
            "",
        ),
    ];
    for (name, ask, allowed, policy) in cells {
        let d = decide(&engine, &w, &ask);
        assert_eq!(d.allowed, allowed, "{name}: {d:?}");
        if policy.is_empty() {
            assert!(d.policies.is_empty(), "{name}: {d:?}");
        } else {
            assert!(d.policies.iter().any(|p| p == policy), "{name}: {d:?}");
        }
        assert_eq!(d.message.is_some(), !allowed, "{name}");
    }
    let off = decide(
        &engine,
        &w,
        &Ask {
            channel: "offsite",
            ..base(w.officer)
        },
    );
    assert_eq!(
        off.message.as_deref(),
        Some("Case 2026-000123 is available only at a designated workstation")
    );
}

#[test]
fn an_erroring_policy_denies() {
    // `lead` is optional; reading it unguarded errors when it is absent, and
    // an erroring forbid must not turn into an allow.
    let policies = format!(
        "{SHIPPED_POLICIES}\n@id(\"unguarded\")\nforbid (principal, action, resource is Precinct::Case) when {{ resource.lead == principal && false }};"
    );
    // Strict validation already refuses the unguarded read.
    assert!(PolicyEngine::new(SHIPPED_SCHEMA, &policies).is_err());
}

#[test]
fn cases_are_opened_in_ones_own_unit_at_a_workstation() {
    let engine = PolicyEngine::shipped().expect("policy");
    let roles = Roles::new([Role::Officer]).expect("roles");
    let (mine, other) = (UnitId::new_random(), UnitId::new_random());
    let units = [mine];
    let principal = Principal {
        id: UserId::new_random(),
        roles: &roles,
        units: &units,
        on_duty: false,
        training_current: true,
    };
    let ask = |unit, channel| {
        engine.decide(&AccessRequest {
            principal: &principal,
            action: Action::OpenCase,
            resource: &Resource::unit(unit),
            context: RequestContext {
                channel,
                break_glass: false,
                now: Timestamp::from_micros(0),
                device: "",
                grant: None,
            },
        })
    };
    assert!(ask(mine, "workstation").allowed);
    let d = ask(mine, "offsite");
    assert_eq!(d.policies, vec!["open-case-at-workstation".to_owned()]);
    assert!(!ask(other, "workstation").allowed);
}

/// A policy that permits everything, to see what the schema alone refuses.
const PERMIT_ALL: &str = "@id(\"all\")\npermit (principal, action, resource);";

fn someone() -> (Roles, [UnitId; 1]) {
    (
        Roles::new([Role::Supervisor]).expect("roles"),
        [UnitId::new_random()],
    )
}

fn at_workstation() -> RequestContext<'static> {
    RequestContext {
        channel: "workstation",
        break_glass: false,
        now: Timestamp::from_micros(0),
        device: "",
        grant: None,
    }
}

fn a_case(kind: ResourceKind, unit: UnitId) -> Resource<'static> {
    Resource {
        kind,
        id: UserId::new_random().to_string(),
        number: "2026-000123".into(),
        unit,
        classification: "case",
        sealed: false,
        lead: None,
        team: &[],
        named: &[],
        supervisors: &[],
    }
}

#[test]
fn a_request_the_schema_does_not_allow_is_refused_whatever_the_policy() {
    // Requests are no longer validated one by one where a sample validated
    // at load; where it did not, each still is, and refused.
    let engine = PolicyEngine::new(SHIPPED_SCHEMA, PERMIT_ALL).expect("permit-all validates");
    let (roles, units) = someone();
    let principal = Principal {
        id: UserId::new_random(),
        roles: &roles,
        units: &units,
        on_duty: true,
        training_current: true,
    };
    let unit = units[0];
    let document = ResourceKind::Document {
        author: principal.id,
    };
    let ask = |action, resource: &Resource<'_>| {
        engine.decide(&AccessRequest {
            principal: &principal,
            action,
            resource,
            context: at_workstation(),
        })
    };
    // What the schema's appliesTo allows, the policy permits.
    for (action, kind) in [
        (Action::View, ResourceKind::Case),
        (Action::View, document),
        (Action::AddDocument, ResourceKind::Case),
        (Action::Amend, document),
        (Action::Manage, ResourceKind::Case),
        (Action::ViewProtected, ResourceKind::Case),
        (Action::ViewAudit, ResourceKind::Case),
    ] {
        let d = ask(action, &a_case(kind, unit));
        assert!(d.allowed, "{action:?} on {kind:?}: {d:?}");
    }
    assert!(ask(Action::OpenCase, &Resource::unit(unit)).allowed);
    // Everything else is refused, as a decision that could not be made.
    for action in Action::ALL {
        for kind in [ResourceKind::Case, document, ResourceKind::Unit] {
            let applies = matches!(
                (action, kind),
                (
                    Action::View,
                    ResourceKind::Case | ResourceKind::Document { .. }
                ) | (Action::AddDocument, ResourceKind::Case)
                    | (Action::Amend, ResourceKind::Document { .. })
                    | (Action::Manage, ResourceKind::Case)
                    | (Action::ViewProtected, ResourceKind::Case)
                    | (Action::ViewAudit, ResourceKind::Case)
                    | (Action::OpenCase, ResourceKind::Unit)
            );
            let resource = if kind == ResourceKind::Unit {
                Resource::unit(unit)
            } else {
                a_case(kind, unit)
            };
            let d = ask(action, &resource);
            assert_eq!(d.allowed, applies, "{action:?} on {kind:?}: {d:?}");
            if !applies {
                assert!(d.policies.is_empty(), "{d:?}");
                let m = d.message.unwrap_or_default();
                assert!(
                    m.contains("could not be made"),
                    "{action:?} on {kind:?}: {m}"
                );
            }
        }
    }
}

#[test]
fn a_context_the_schema_types_otherwise_is_refused() {
    // A schema whose context says `now` is a string: the context this crate
    // builds (a Long) no longer conforms, so every decision is refused even
    // though the policy permits everything.
    let schema = SHIPPED_SCHEMA.replace("now: Long,", "now: String,");
    assert_ne!(schema, SHIPPED_SCHEMA);
    let engine = PolicyEngine::new(&schema, PERMIT_ALL).expect("permit-all validates");
    let (roles, units) = someone();
    let principal = Principal {
        id: UserId::new_random(),
        roles: &roles,
        units: &units,
        on_duty: true,
        training_current: true,
    };
    let case = a_case(ResourceKind::Case, units[0]);
    let d = engine.decide_each(&principal, &case, at_workstation(), &Action::ALL);
    assert_eq!(d.len(), Action::ALL.len());
    for d in d {
        assert!(!d.allowed, "{d:?}");
        assert!(d.message.unwrap_or_default().contains("could not be made"));
    }
    // A context attribute the schema does not declare is refused too.
    let schema = SHIPPED_SCHEMA.replace("now: Long,", "");
    let engine = PolicyEngine::new(&schema, PERMIT_ALL).expect("permit-all validates");
    assert!(!engine.decide_each(&principal, &case, at_workstation(), &[Action::View])[0].allowed);
    // And the shipped schema with the shipped context permits.
    let engine = PolicyEngine::new(SHIPPED_SCHEMA, PERMIT_ALL).expect("permit-all validates");
    assert!(engine.decide_each(&principal, &case, at_workstation(), &[Action::View])[0].allowed);
}

#[test]
fn an_enumerated_entity_type_is_still_checked_id_by_id() {
    // With units an enumeration, whether a request conforms depends on the
    // unit's id, not only its type: such requests are validated each time.
    let schema = SHIPPED_SCHEMA.replace("entity Unit;", "entity Unit enum [\"north\", \"south\"];");
    assert_ne!(schema, SHIPPED_SCHEMA);
    let engine = PolicyEngine::new(&schema, PERMIT_ALL).expect("permit-all validates");
    let (roles, units) = someone();
    let principal = Principal {
        id: UserId::new_random(),
        roles: &roles,
        units: &units,
        on_duty: true,
        training_current: true,
    };
    let open_in = |id: &str| {
        let unit = Resource {
            id: id.to_owned(),
            ..Resource::unit(units[0])
        };
        engine.decide(&AccessRequest {
            principal: &principal,
            action: Action::OpenCase,
            resource: &unit,
            context: at_workstation(),
        })
    };
    assert!(open_in("north").allowed);
    assert!(open_in("south").allowed);
    let d = open_in("west");
    assert!(!d.allowed, "{d:?}");
    assert!(d.message.unwrap_or_default().contains("could not be made"));
}

/// Many requests, a little of everything: who asks (on the team, named,
/// the lead, a supervisor of the unit, a supervisor elsewhere, a stranger),
/// with which roles, from where, on what (case, document by one or
/// another author, one's own unit or another), classified and sealed how,
/// by break-glass or not, and the actions in varying order.
pub(crate) fn each_request(
    w: &World,
    n: usize,
    mut visit: impl FnMut(&Principal<'_>, &Resource<'_>, RequestContext<'_>, &[Action]),
) {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |k: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % k as u64) as usize
    };
    let users = [
        w.officer,
        w.teammate,
        w.sergeant,
        w.outsider_sergeant,
        w.stranger,
    ];
    let roles: [&[Role]; 6] = [
        &[Role::Officer],
        &[Role::Detective],
        &[Role::Supervisor],
        &[Role::Auditor],
        &[Role::Administrator],
        &[Role::Supervisor, Role::Auditor],
    ];
    let other_unit = UnitId::new_random();
    let teams: [&[UserId]; 2] = [&[w.officer, w.teammate], &[w.teammate]];
    let nameds: [&[UserId]; 2] = [&[w.officer], &[]];
    let supervisors: [&[UserId]; 2] = [&[w.sergeant], &[w.outsider_sergeant]];
    for _ in 0..n {
        let r = Roles::new(roles[next(roles.len())].iter().copied()).expect("roles");
        let units = [w.unit];
        let principal = Principal {
            id: users[next(users.len())],
            roles: &r,
            units: &units,
            on_duty: next(2) == 0,
            training_current: next(4) != 0,
        };
        let resource = match next(5) {
            0 => Resource::unit(w.unit),
            1 => Resource::unit(other_unit),
            k => Resource {
                kind: match k {
                    2 => ResourceKind::Case,
                    3 => ResourceKind::Document { author: w.teammate },
                    _ => ResourceKind::Document { author: w.officer },
                },
                id: format!("c{}", next(3)),
                number: "2026-000123".into(),
                unit: w.unit,
                classification: ["case", "restricted", "administrative"][next(3)],
                sealed: next(3) == 0,
                lead: [Some(w.officer), None][next(2)],
                // Mostly the usual team, named users and supervisors.
                team: teams[usize::from(next(4) == 0)],
                named: nameds[usize::from(next(4) == 0)],
                supervisors: supervisors[usize::from(next(4) == 0)],
            },
        };
        // Off-site grants of each kind, covering the case or not, on the
        // device asked from or another, in or past their window.
        let grant = match next(4) {
            0 => None,
            k => Some(crate::GrantContext {
                kind: ["none", "administrative", "off_duty_investigation"][k - 1].into(),
                cases: [vec![], vec!["2026-000123".to_owned()]][next(2)].clone(),
                documents: [vec![], vec!["c1".to_owned()]][next(2)].clone(),
                may_add_notes: next(2) == 0,
                device: ["laptop", "phone"][next(2)].into(),
                ends_at: Timestamp::from_micros([-1, 0, 1][next(3)]),
            }),
        };
        let context = RequestContext {
            channel: ["workstation", "workstation", "department_device", "offsite"][next(4)],
            break_glass: next(3) == 0,
            // Before, at and after the grants' ends.
            now: Timestamp::from_micros([-1, 0, 1][next(3)]),
            device: ["", "laptop"][next(2)],
            grant: grant.as_ref(),
        };
        // Mostly what applies to the resource, sometimes anything.
        let mut actions = match (next(5), resource.kind) {
            (0, _) => Action::ALL.to_vec(),
            (_, ResourceKind::Unit) => vec![Action::OpenCase],
            (_, ResourceKind::Case) => vec![
                Action::View,
                Action::AddDocument,
                Action::Manage,
                Action::ViewProtected,
                Action::ViewAudit,
            ],
            (_, ResourceKind::Document { .. }) => vec![Action::View, Action::Amend],
        };
        for i in (1..actions.len()).rev() {
            actions.swap(i, next(i + 1));
        }
        actions.truncate(1 + next(actions.len()));
        visit(&principal, &resource, context, &actions);
    }
}

/// The same decision, but for the order in which Cedar reports the
/// policies that decided (and so, where several forbids with a message
/// decided, which message is shown).
pub(crate) fn assert_same(fast: &[Decision], reference: &[Decision], what: &dyn std::fmt::Debug) {
    assert_eq!(fast.len(), reference.len(), "{what:?}");
    for (f, r) in fast.iter().zip(reference) {
        assert_eq!(f.allowed, r.allowed, "{what:?}: {f:?} vs {r:?}");
        let (mut fp, mut rp) = (f.policies.clone(), r.policies.clone());
        fp.sort();
        rp.sort();
        assert_eq!(fp, rp, "{what:?}: {f:?} vs {r:?}");
        if r.policies.len() <= 1 {
            assert_eq!(f.message, r.message, "{what:?}");
        } else {
            assert_eq!(f.message.is_some(), r.message.is_some(), "{what:?}");
        }
    }
}

#[test]
fn decisions_are_those_of_validating_every_request() {
    let w = world();
    // Scopes of every form, to exercise which policies each request is
    // decided against: a named user, a type, an action group, a named
    // unit, a named case.
    let scoped = format!(
        r#"{SHIPPED_POLICIES}
@id("named-user-manages")
permit (principal == Precinct::User::"{officer}", action == Precinct::Action::"manage", resource is Precinct::Case);
@id("sealed-entries")
@message("Entries of sealed case {{number}} are closed")
forbid (principal is Precinct::User, action in Precinct::Action::"case_material", resource is Precinct::Document)
when {{ resource.sealed }};
@id("named-unit")
permit (principal, action == Precinct::Action::"open_case", resource == Precinct::Unit::"{unit}");
@id("named-case")
permit (principal, action in [Precinct::Action::"view", Precinct::Action::"view_audit"], resource == Precinct::Case::"c1")
when {{ principal.roles.contains("auditor") }};
@id("in-named-case")
forbid (principal, action, resource in Precinct::Case::"c2")
unless {{ principal.on_duty }};
@id("body-in-group")
forbid (principal, action, resource is Precinct::Document)
when {{ action in Precinct::Action::"case_material" && resource.classification == "administrative" && !principal.on_duty }};
@id("is-in-named-case")
forbid (principal is Precinct::User, action == Precinct::Action::"view", resource is Precinct::Case in Precinct::Case::"c1")
when {{ context.break_glass }};
"#,
        officer = w.officer,
        unit = w.unit,
    );
    for (schema, policies) in [
        (SHIPPED_SCHEMA, SHIPPED_POLICIES),
        (SHIPPED_SCHEMA, PERMIT_ALL),
        (SHIPPED_SCHEMA, scoped.as_str()),
    ] {
        let fast = PolicyEngine::new(schema, policies).expect("policy");
        let reference = PolicyEngine::new(schema, policies)
            .expect("policy")
            .validating_every_request();
        let mut tally = Tally::default();
        each_request(&w, 3000, |p, r, ctx, actions| {
            let f = fast.decide_each(p, r, ctx, actions);
            let re = reference.decide_each(p, r, ctx, actions);
            assert_same(&f, &re, &(p, r, ctx, actions));
            tally.add(&f);
        });
        tally.reaches_both();
    }
}

/// How many decisions allowed and how many denied.
#[derive(Default)]
pub(crate) struct Tally {
    allowed: usize,
    denied: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, decisions: &[Decision]) {
        let allowed = decisions.iter().filter(|d| d.allowed).count();
        self.allowed += allowed;
        self.denied += decisions.len() - allowed;
    }

    /// The sample reaches both answers, often.
    pub(crate) fn reaches_both(&self) {
        let (allowed, denied) = (self.allowed, self.denied);
        assert!(
            allowed > 500 && denied > 500,
            "{allowed} allowed, {denied} denied"
        );
    }
}

#[test]
fn resources_decided_together_are_decided_as_one_at_a_time() {
    let w = world();
    let engine = PolicyEngine::shipped().expect("policy");
    let other_team = [w.teammate];
    let mut tally = Tally::default();
    each_request(&w, 1500, |p, r, ctx, actions| {
        // The resource asked about, two entries beside it (another author,
        // another team, another classification), and the resource again.
        let entry = |id: &str, author, classification, team| Resource {
            kind: ResourceKind::Document { author },
            id: id.into(),
            classification,
            team,
            ..r.clone()
        };
        let first = entry("d1", w.officer, "restricted", r.team);
        let second = entry("d2", w.teammate, "case", &other_team);
        let asked: [(&Resource<'_>, &[Action]); 4] = [
            (r, actions),
            (&first, &[Action::View, Action::Amend]),
            (&second, &Action::ALL),
            (r, actions),
        ];
        let together = engine.decide_all(p, ctx, &asked);
        assert_eq!(together.len(), asked.len());
        for ((res, acts), d) in asked.iter().zip(&together) {
            let alone = engine.decide_each(p, res, ctx, acts);
            assert_same(d, &alone, &(p, res, ctx, acts));
            tally.add(d);
        }
    });
    tally.reaches_both();
}

#[test]
fn many_resources_are_decided_in_groups_with_the_same_answers_and_one_name_is_one_resource() {
    let w = world();
    let engine = PolicyEngine::shipped().expect("policy");
    let (roles, units) = detective(&w);
    let principal = Principal {
        on_duty: true,
        ..officer(&w, &roles, &units)
    };
    let (mine, theirs) = ([w.officer, w.teammate], [w.teammate]);
    // More than two groups' worth, every third case out of reach, every
    // fifth sealed, every seventh restricted.
    let cases: Vec<Resource<'_>> = (0..2 * TOGETHER + 7)
        .map(|i| Resource {
            kind: ResourceKind::Case,
            id: format!("c{i}"),
            number: format!("2026-{:06}", i + 1),
            unit: w.unit,
            classification: if i % 7 == 0 { "restricted" } else { "case" },
            sealed: i % 5 == 0,
            lead: Some(w.teammate),
            team: if i % 3 == 0 { &theirs } else { &mine },
            named: &[],
            supervisors: &[],
        })
        .collect();
    let asked: Vec<(&Resource<'_>, &[Action])> = cases
        .iter()
        .map(|r| (r, &[Action::View, Action::Manage][..]))
        .collect();
    let together = engine.decide_all(&principal, at_workstation(), &asked);
    assert_eq!(together.len(), cases.len());
    let mut allowed = 0;
    for ((r, actions), d) in asked.iter().zip(&together) {
        let alone = engine.decide_each(&principal, r, at_workstation(), actions);
        assert_same(d, &alone, &r.id);
        allowed += usize::from(d[0].allowed);
    }
    assert!(
        allowed > 50 && allowed < cases.len() - 50,
        "{allowed} allowed"
    );

    // Two different resources by one name are a mistake: nothing is
    // allowed.
    let team = [w.officer];
    let case = Resource {
        kind: ResourceKind::Case,
        id: "c1".into(),
        number: "2026-000123".into(),
        unit: w.unit,
        classification: "case",
        sealed: false,
        lead: Some(w.officer),
        team: &team,
        named: &[],
        supervisors: &[],
    };
    let alone = engine.decide_each(&principal, &case, at_workstation(), &[Action::View]);
    assert!(alone[0].allowed);
    let sealed = Resource {
        sealed: true,
        ..case.clone()
    };
    let both = engine.decide_all(
        &principal,
        at_workstation(),
        &[(&case, &[Action::View]), (&sealed, &[Action::View])],
    );
    assert_eq!(both.len(), 2);
    for d in both.iter().flatten() {
        assert!(!d.allowed);
        assert!(d
            .message
            .as_deref()
            .unwrap_or("")
            .contains("could not be made"));
    }
}

#[test]
fn each_action_is_decided_against_the_policies_whose_scope_admits_it() {
    let engine = PolicyEngine::shipped().expect("policy");
    let slice = |action, kind| {
        let mut ids: Vec<String> = engine.shapes[shape_index(action, kind)]
            .policies
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    };
    let (case, document, unit) = (0, 1, 2);
    let forbids = [
        "designated-workstation-only",
        "restricted-named-or-supervisor",
        "sealed-named-users-only",
        "training-current-for-restricted",
    ];
    // The off-site rules forbid on every action on case material.
    let with_offsite = |ids: &[&str]| {
        let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        v.extend(
            [
                "administrative-task-scope",
                "off-duty-grant-device",
                "off-duty-grant-scope",
                "off-duty-grant-window",
            ]
            .map(str::to_owned),
        );
        v.sort();
        v
    };
    assert_eq!(
        slice(Action::View, case),
        with_offsite(&[
            "break-glass",
            forbids[0],
            "need-to-know",
            forbids[1],
            forbids[2],
            forbids[3]
        ])
    );
    assert_eq!(slice(Action::View, document), slice(Action::View, case));
    assert_eq!(
        slice(Action::Amend, document),
        with_offsite(&[
            "amend-own-or-lead",
            forbids[0],
            forbids[1],
            forbids[2],
            forbids[3]
        ])
    );
    // `amend-own-or-lead` is for documents only.
    assert_eq!(
        slice(Action::Amend, case),
        with_offsite(&[forbids[0], forbids[1], forbids[2], forbids[3]])
    );
    assert_eq!(
        slice(Action::ViewAudit, case),
        with_offsite(&["audit-tab", forbids[0], forbids[2], forbids[3]])
    );
    assert_eq!(
        slice(Action::OpenCase, unit),
        ["open-case-at-workstation", "open-case-in-own-unit"]
    );
    // The forbid on opening cases names no resource type.
    assert_eq!(slice(Action::OpenCase, case), ["open-case-at-workstation"]);
    // Within a slice, what every request of it satisfies is gone from the
    // scope (the shipped policy names no entity in its scopes).
    for shape in &engine.shapes {
        for p in shape.policies.policies() {
            assert_eq!(p.action_constraint(), cedar_policy::ActionConstraint::Any);
            assert_eq!(p.resource_constraint(), ResourceConstraint::Any);
            assert_eq!(p.principal_constraint(), PrincipalConstraint::Any);
        }
    }
    // No shipped policy looks up the action's groups once the scopes are
    // settled: the action's entity is left out of every request.
    assert!(engine.shapes.iter().all(|s| !s.needs_action));
    // Every policy is somewhere.
    let mut all: Vec<String> = Action::ALL
        .into_iter()
        .flat_map(|a| KINDS.into_iter().flat_map(move |k| slice(a, k)))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), engine.len());
}

#[test]
fn a_policy_that_looks_up_the_action_keeps_its_entity() {
    let with = |body: &str| {
        let policies = format!(
            "@id(\"p\")\npermit (principal, action, resource is Precinct::Case) when {{ {body} }};"
        );
        let engine = PolicyEngine::new(SHIPPED_SCHEMA, &policies).expect(body);
        engine.shapes[shape_index(Action::View, 0)].needs_action
    };
    assert!(!with("action == Precinct::Action::\"view\""));
    assert!(!with(
        "Precinct::Action::\"view\" != action && resource.sealed"
    ));
    assert!(with("action in Precinct::Action::\"case_material\""));
    assert!(with("[action].contains(Precinct::Action::\"view\")"));
    assert!(with(
        "(if resource.sealed then action else action) == Precinct::Action::\"view\""
    ));
    // And a request decided against it sees the action's groups.
    let engine = PolicyEngine::new(
        SHIPPED_SCHEMA,
        "@id(\"p\")\npermit (principal, action, resource is Precinct::Case) when { action in Precinct::Action::\"case_material\" };",
    )
    .expect("policy");
    let (roles, units) = someone();
    let principal = Principal {
        id: UserId::new_random(),
        roles: &roles,
        units: &units,
        on_duty: true,
        training_current: true,
    };
    let case = a_case(ResourceKind::Case, units[0]);
    let d = engine.decide_each(
        &principal,
        &case,
        at_workstation(),
        &[Action::View, Action::Manage],
    );
    assert!(d.iter().all(|d| d.allowed), "{d:?}");
}

#[test]
fn only_the_attributes_a_policy_may_read_are_built() {
    let engine = PolicyEngine::shipped().expect("policy");
    let reads = |action, kind| {
        let r = engine.shapes[shape_index(action, kind)].reads;
        let mut names: Vec<&str> = ATTRS.into_iter().filter(|a| r.contains(a)).collect();
        names.sort();
        names
    };
    assert_eq!(
        reads(Action::View, 0),
        [
            "classification",
            "id",
            "named",
            "number",
            "on_duty",
            "roles",
            "sealed",
            "supervisors",
            "team",
            "training_current"
        ]
    );
    assert_eq!(
        reads(Action::Amend, 1),
        [
            "author",
            "classification",
            "id",
            "lead",
            "named",
            "number",
            "on_duty",
            "sealed",
            "supervisors",
            "team",
            "training_current"
        ]
    );
    assert_eq!(reads(Action::OpenCase, 2), ["roles", "units"]);
    // Accessed, indexed, tested, tested along a path: all read.
    let read_by = |body: &str| {
        let policies = format!("@id(\"p\")\npermit (principal, action == Precinct::Action::\"view\", resource is Precinct::Case) when {{ {body} }};");
        let engine = PolicyEngine::new(SHIPPED_SCHEMA, &policies).expect(body);
        let r = engine.shapes[shape_index(Action::View, 0)].reads;
        let mut names: Vec<&str> = ATTRS.into_iter().filter(|a| r.contains(a)).collect();
        names.sort();
        names
    };
    assert_eq!(read_by("resource.sealed"), ["sealed"]);
    assert_eq!(
        read_by("resource[\"sealed\"] || principal.on_duty"),
        ["on_duty", "sealed"]
    );
    assert_eq!(read_by("resource has lead"), ["lead"]);
    assert_eq!(
        read_by("resource has number && resource.number == \"x\""),
        ["number"]
    );
    assert_eq!(read_by("true"), Vec::<&str>::new());
}
