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

struct World {
    officer: UserId,
    teammate: UserId,
    sergeant: UserId,
    outsider_sergeant: UserId,
    stranger: UserId,
    unit: UnitId,
}

fn world() -> World {
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
            },
        })
    };
    assert!(ask(mine, "workstation").allowed);
    let d = ask(mine, "offsite");
    assert_eq!(d.policies, vec!["open-case-at-workstation".to_owned()]);
    assert!(!ask(other, "workstation").allowed);
}
