//! Decisions remembered by the exact question Cedar was asked, so that a
//! question asked again (a case page read again, a list or a search over
//! the same cases) is answered without building entities or evaluating a
//! policy. The answer is the one Cedar gave; nothing is remembered by a
//! coarser name than everything the evaluation could observe
//! (docs/decisions/0007).
//!
//! What an evaluation can observe, and so what a key holds: the action and
//! the resource's kind (the shape, and with it the policies decided
//! against), the user's and the resource's ids, the attributes of theirs
//! that a policy of the shape names (the same `AttrSet` that decides which
//! are built; an attribute no policy names cannot change an answer), the
//! case number (which the message names), and the whole context but its
//! time. Resources decided together are invisible to each other: no
//! attribute refers to a case or a document, and a batch with a unit
//! among its resources is not remembered at all.
//!
//! The time is left out only where it cannot matter, and Cedar is what
//! says so: the question is first evaluated with no `now` in the context.
//! A policy that reads `context.now` then fails, and the question is
//! evaluated again with the time and not remembered. A policy that does
//! not read it (the grant window's is skipped at a workstation by the
//! `&&` before it) answers as it would at any time, and that answer is
//! kept. This holds only while no policy can tell a missing `now` from a
//! present one otherwise (`context has now`, or the context compared as a
//! whole): `remembers` refuses a policy set where one could, and nothing is
//! remembered under it.

use cedar_policy::PolicySet;

use crate::{AttrSet, Decision, GrantContext, Principal, RequestContext, Resource, ResourceKind};

/// No grant, as the context gives it to Cedar (`cedar_context`).
pub(crate) static NO_GRANT: std::sync::LazyLock<GrantContext> =
    std::sync::LazyLock::new(|| GrantContext {
        kind: "none".into(),
        cases: vec![],
        documents: vec![],
        may_add_notes: false,
        device: String::new(),
        ends_at: precinct_domain::Timestamp::from_micros(0),
    });

/// Bytes of keys and answers the memo holds at most: about 100,000
/// decisions about a case with a team of four.
const CAPACITY_BYTES: u64 = 64 << 20;
/// Decisions it expects to hold, for its table's size.
const EXPECTED_ITEMS: usize = 100_000;

#[derive(Debug, Clone)]
struct Weight;

impl quick_cache::Weighter<Box<[u8]>, Decision> for Weight {
    fn weight(&self, key: &Box<[u8]>, d: &Decision) -> u64 {
        let policies: usize = d.policies.iter().map(|p| p.len() + 24).sum();
        let message = d.message.as_ref().map_or(0, String::len);
        (key.len() + 64 + policies + message) as u64
    }
}

/// Answers by question, bounded (the least used go first).
pub(crate) struct Memo {
    answers: quick_cache::sync::Cache<Box<[u8]>, Decision, Weight>,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("answers", &self.answers.len())
            .finish()
    }
}

impl Memo {
    /// A memo for `policies`, or none if a policy could tell a context
    /// without its time from one with it.
    pub(crate) fn for_policies(policies: &PolicySet) -> Option<Self> {
        policies.policies().all(remembers).then(|| Memo {
            answers: quick_cache::sync::Cache::with_weighter(
                EXPECTED_ITEMS,
                CAPACITY_BYTES,
                Weight,
            ),
        })
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<Decision> {
        self.answers.get(key)
    }

    pub(crate) fn insert(&self, key: Vec<u8>, answer: &Decision) {
        self.answers.insert(key.into_boxed_slice(), answer.clone());
    }

    /// How many answers it holds.
    pub(crate) fn len(&self) -> usize {
        self.answers.len()
    }
}

/// Whether `policy` uses the context only by reading its attributes by
/// name, and never tests whether it has a `now`: then a context without
/// its time either answers as one with it, or fails where `now` is read.
/// A policy that cannot be read back counts as one that could tell.
pub(crate) fn remembers(policy: &cedar_policy::Policy) -> bool {
    fn fine(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                if crate::is_var(v, "context") {
                    // The context itself, not one of its attributes.
                    return false;
                }
                m.iter().all(|(op, operands)| {
                    let on_context = operands
                        .get("left")
                        .is_some_and(|l| crate::is_var(l, "context"));
                    match op.as_str() {
                        "." if on_context => true,
                        "has" if on_context => {
                            operands.get("attr").and_then(|a| a.as_str()) != Some("now")
                        }
                        _ => fine(operands),
                    }
                })
            }
            serde_json::Value::Array(a) => a.iter().all(fine),
            _ => true,
        }
    }
    policy.to_json().is_ok_and(|json| fine(&json))
}

/// Writes a key's fields, each one self-delimiting, so that two different
/// questions never have the same key.
#[derive(Default)]
struct Key(Vec<u8>);

impl Key {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn flag(&mut self, b: bool) {
        self.0.push(u8::from(b));
    }
    fn long(&mut self, n: i64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }
    fn uuid(&mut self, u: uuid::Uuid) {
        self.0.extend_from_slice(u.as_bytes());
    }
    fn uuids(&mut self, us: impl ExactSizeIterator<Item = uuid::Uuid>) {
        self.0.extend_from_slice(&(us.len() as u32).to_le_bytes());
        for u in us {
            self.uuid(u);
        }
    }
    fn strs(&mut self, ss: &[String]) {
        self.0.extend_from_slice(&(ss.len() as u32).to_le_bytes());
        for s in ss {
            self.str(s);
        }
    }
}

/// The key of one question: of the shape `shape` (action and resource
/// kind), whose policies read `reads`, by `p` about `r` in `ctx`, the time
/// left out.
pub(crate) fn key(
    shape: usize,
    reads: AttrSet,
    p: &Principal<'_>,
    r: &Resource<'_>,
    ctx: &RequestContext<'_>,
) -> Vec<u8> {
    let mut k = Key(Vec::with_capacity(256));
    k.long(shape as i64);
    k.uuid(p.id.as_uuid());
    if reads.contains("roles") {
        k.0.push(1);
        let roles: Vec<_> = p.roles.iter().collect();
        k.0.extend_from_slice(&(roles.len() as u32).to_le_bytes());
        for role in roles {
            k.str(role.as_str());
        }
    }
    if reads.contains("units") {
        k.0.push(2);
        k.uuids(p.units.iter().map(|u| u.as_uuid()));
    }
    if reads.contains("on_duty") {
        k.0.push(3);
        k.flag(p.on_duty);
    }
    if reads.contains("training_current") {
        k.0.push(4);
        k.flag(p.training_current);
    }
    // The resource: its kind, id and number always.
    match r.kind {
        ResourceKind::Case => k.0.push(10),
        ResourceKind::Document { author } => {
            k.0.push(11);
            if reads.contains("author") {
                k.uuid(author.as_uuid());
            }
        }
        ResourceKind::Unit => k.0.push(12),
    }
    k.str(&r.id);
    k.str(&r.number);
    if reads.contains("unit") {
        k.0.push(13);
        k.uuid(r.unit.as_uuid());
    }
    if reads.contains("classification") {
        k.0.push(14);
        k.str(r.classification);
    }
    if reads.contains("sealed") {
        k.0.push(15);
        k.flag(r.sealed);
    }
    if reads.contains("lead") {
        k.0.push(16);
        match r.lead {
            Some(u) => {
                k.flag(true);
                k.uuid(u.as_uuid());
            }
            None => k.flag(false),
        }
    }
    for (tag, name, users) in [
        (17, "team", r.team),
        (18, "named", r.named),
        (19, "supervisors", r.supervisors),
    ] {
        if reads.contains(name) {
            k.0.push(tag);
            k.uuids(users.iter().map(|u| u.as_uuid()));
        }
    }
    // The context, all but its time; no grant is the grant record of kind
    // `none` that `cedar_context` gives Cedar.
    k.0.push(20);
    k.str(ctx.channel);
    k.flag(ctx.break_glass);
    k.str(ctx.device);
    let g = ctx.grant.unwrap_or(&NO_GRANT);
    k.str(&g.kind);
    k.strs(&g.cases);
    k.strs(&g.documents);
    k.flag(g.may_add_notes);
    k.str(&g.device);
    k.long(g.ends_at.as_micros());
    k.0
}

#[cfg(test)]
mod tests {
    use crate::tests::{assert_same, detective, each_request, officer, world, Tally};
    use crate::*;
    use precinct_domain::ids::{UnitId, UserId};
    use precinct_domain::Role;

    /// The shipped policy's answers, each question asked again at times
    /// before, at and after the grants' ends, and again with each one
    /// thing about it changed (so that most come from the memo, and a key
    /// that left out anything a policy reads would answer for the wrong
    /// question), are those Cedar gives each time.
    #[test]
    fn remembered_answers_are_those_cedar_gives() {
        remembered_as_asked(SHIPPED_POLICIES);
    }

    /// The same with policies that read, without the time, what the
    /// shipped ones read only beside it (off-site, under a grant, where
    /// nothing is remembered): the device, each of the grant's fields and
    /// the resource's id.
    #[test]
    fn remembered_answers_are_those_cedar_gives_whatever_the_policy_reads() {
        let readers = [
            "context.device == \"laptop\"",
            "context.grant.device == \"phone\"",
            "context.grant.cases.contains(\"2026-000123\")",
            "context.grant.documents.contains(resource.id)",
            "context.grant.may_add_notes",
            "context.grant.ends_at == 1",
            "context.grant.kind == \"administrative\"",
            "resource.id == \"c1\"",
        ];
        let mut policies = SHIPPED_POLICIES.to_owned();
        for (i, when) in readers.iter().enumerate() {
            policies.push_str(&format!(
                "\n@id(\"reads-{i}\")\nforbid (principal, action, resource is Precinct::Document) when {{ {when} }};"
            ));
        }
        remembered_as_asked(&policies);
    }

    fn remembered_as_asked(policies: &str) {
        let w = world();
        let engine = PolicyEngine::new(SHIPPED_SCHEMA, policies).expect("policy");
        assert!(engine.remembers(), "these policies are remembered");
        let reference = PolicyEngine::new(SHIPPED_SCHEMA, policies)
            .expect("policy")
            .without_memo();
        let mut tally = Tally::default();
        let mut turn = 0usize;
        let others = [UserId::new_random(), w.teammate];
        let no_roles = Roles::new([Role::Auditor]).expect("roles");
        let other_units = [UnitId::new_random()];
        let grant = GrantContext {
            kind: "off_duty_investigation".into(),
            cases: vec!["2026-000123".into()],
            documents: vec![],
            may_add_notes: true,
            device: "laptop".into(),
            ends_at: Timestamp::from_micros(0),
        };
        each_request(&w, 600, |p, r, ctx, actions| {
            turn += 1;
            let mut ask = |p: &Principal<'_>, r: &Resource<'_>, ctx: RequestContext<'_>| {
                let remembered = engine.decide_each(p, r, ctx, actions);
                let asked = reference.decide_each(p, r, ctx, actions);
                assert_same(&remembered, &asked, &(p, r, ctx, actions));
                tally.add(&remembered);
            };
            let times: [i64; 5] = if turn.is_multiple_of(2) {
                [1, 0, -1, 0, 1]
            } else {
                [-1, 0, 1, 0, -1]
            };
            for now in times {
                let ctx = RequestContext {
                    now: Timestamp::from_micros(now),
                    ..ctx
                };
                ask(p, r, ctx);
            }
            // One thing changed, each in turn (the question itself again
            // first, so that the change is what differs from a remembered
            // answer).
            let author = match r.kind {
                ResourceKind::Document { author } if author == w.officer => w.teammate,
                _ => w.officer,
            };
            let changed = [
                Resource {
                    number: "2026-000999".into(),
                    ..r.clone()
                },
                Resource {
                    id: if r.id == "c1" { "c2" } else { "c1" }.into(),
                    ..r.clone()
                },
                Resource {
                    team: &others,
                    ..r.clone()
                },
                Resource {
                    named: &others,
                    ..r.clone()
                },
                Resource {
                    supervisors: &others,
                    ..r.clone()
                },
                Resource {
                    sealed: !r.sealed,
                    ..r.clone()
                },
                Resource {
                    lead: r.lead.map_or(Some(w.officer), |_| None),
                    ..r.clone()
                },
                Resource {
                    unit: other_units[0],
                    ..r.clone()
                },
                Resource {
                    classification: if r.classification == "restricted" {
                        "case"
                    } else {
                        "restricted"
                    },
                    ..r.clone()
                },
                Resource {
                    kind: match r.kind {
                        ResourceKind::Document { .. } => ResourceKind::Document { author },
                        k => k,
                    },
                    ..r.clone()
                },
            ];
            let (mut people, mut contexts) = (vec![], vec![]);
            people.push(Principal {
                on_duty: !p.on_duty,
                ..p.clone()
            });
            people.push(Principal {
                training_current: !p.training_current,
                ..p.clone()
            });
            people.push(Principal {
                roles: &no_roles,
                ..p.clone()
            });
            people.push(Principal {
                units: &other_units,
                ..p.clone()
            });
            contexts.push(RequestContext {
                break_glass: !ctx.break_glass,
                ..ctx
            });
            contexts.push(RequestContext {
                device: if ctx.device.is_empty() { "laptop" } else { "" },
                ..ctx
            });
            for channel in ["workstation", "department_device", "offsite"] {
                contexts.push(RequestContext { channel, ..ctx });
            }
            let g = ctx.grant.unwrap_or(&grant);
            let grants = [
                GrantContext {
                    kind: "administrative".into(),
                    ..g.clone()
                },
                GrantContext {
                    cases: vec![],
                    ..g.clone()
                },
                GrantContext {
                    documents: vec![r.id.clone()],
                    ..g.clone()
                },
                GrantContext {
                    may_add_notes: !g.may_add_notes,
                    ..g.clone()
                },
                GrantContext {
                    device: "phone".into(),
                    ..g.clone()
                },
                GrantContext {
                    ends_at: Timestamp::from_micros(g.ends_at.as_micros() + 1),
                    ..g.clone()
                },
            ];
            for g in &grants {
                contexts.push(RequestContext {
                    grant: Some(g),
                    ..ctx
                });
            }
            contexts.push(RequestContext { grant: None, ..ctx });
            for c in &changed {
                ask(p, r, ctx);
                ask(p, c, ctx);
            }
            for q in &people {
                ask(p, r, ctx);
                ask(q, r, ctx);
            }
            for c in contexts {
                ask(p, r, ctx);
                ask(p, r, c);
            }
        });
        tally.reaches_both();
        assert!(engine.remembered() > 100, "{}", engine.remembered());
        assert_eq!(reference.remembered(), 0);
    }

    /// A grant's window is decided at the time of each question: the
    /// answer inside the window is never given after it.
    #[test]
    fn an_answer_that_depends_on_the_time_is_never_remembered() {
        let w = world();
        let engine = PolicyEngine::shipped().expect("policy");
        let (roles, units) = detective(&w);
        let principal = officer(&w, &roles, &units);
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
            named: &team,
            supervisors: &[],
        };
        let grant = GrantContext {
            kind: "off_duty_investigation".into(),
            cases: vec!["2026-000123".into()],
            documents: vec![],
            may_add_notes: false,
            device: "laptop".into(),
            ends_at: Timestamp::from_micros(1_000),
        };
        let at = |now: i64| {
            engine.decide(&AccessRequest {
                principal: &principal,
                action: Action::View,
                resource: &case,
                context: RequestContext {
                    channel: "department_device",
                    break_glass: false,
                    now: Timestamp::from_micros(now),
                    device: "laptop",
                    grant: Some(&grant),
                },
            })
        };
        for _ in 0..3 {
            assert!(at(999).allowed, "inside the window");
            let after = at(1_000);
            assert!(!after.allowed, "the window has ended");
            assert_eq!(after.policies, vec!["off-duty-grant-window".to_owned()]);
        }
        // At a workstation the window is not read: that answer is kept.
        let before = engine.remembered();
        let plain = |now: i64| {
            engine.decide(&AccessRequest {
                principal: &principal,
                action: Action::View,
                resource: &case,
                context: RequestContext::plain("workstation", Timestamp::from_micros(now)),
            })
        };
        assert!(plain(5).allowed);
        assert_eq!(engine.remembered(), before + 1);
        assert!(plain(6).allowed);
        assert_eq!(engine.remembered(), before + 1, "the same question");
    }

    /// A policy that could tell a context without the time from one with
    /// it turns the memo off; one that only reads the time does not.
    #[test]
    fn a_policy_that_could_tell_the_time_is_missing_turns_the_memo_off() {
        let with = |extra: &str| {
            PolicyEngine::new(SHIPPED_SCHEMA, &format!("{SHIPPED_POLICIES}\n{extra}"))
                .expect("valid")
        };
        let reads = with(
            "@id(\"late\")\nforbid (principal, action, resource) when { context.now > 99999999999999999 };",
        );
        assert!(reads.remembers());
        let tests =
            with("@id(\"has\")\nforbid (principal, action, resource) when { !(context has now) };");
        assert!(!tests.remembers());
        let whole = with(
            "@id(\"whole\")\nforbid (principal, action, resource) when { {c: context}.c.channel == \"x\" };",
        );
        assert!(!whole.remembers());
        // Testing another attribute is fine.
        let other = with(
            "@id(\"other\")\nforbid (principal, action, resource) when { !(context has channel) };",
        );
        assert!(other.remembers());
    }

    /// Two resources by one name refuse every question, whatever the memo
    /// holds about either.
    #[test]
    fn two_resources_by_one_name_are_refused_even_when_remembered() {
        let w = world();
        let engine = PolicyEngine::shipped().expect("policy");
        let (roles, units) = detective(&w);
        let principal = officer(&w, &roles, &units);
        let (mine, theirs) = ([w.officer], [w.teammate]);
        let case = |team| Resource {
            kind: ResourceKind::Case,
            id: "c1".into(),
            number: "2026-000001".into(),
            unit: w.unit,
            classification: "case",
            sealed: false,
            lead: None,
            team,
            named: &[],
            supervisors: &[],
        };
        let (a, b) = (case(&mine), case(&theirs));
        let ctx = RequestContext::plain("workstation", Timestamp::from_micros(0));
        assert!(engine.decide_each(&principal, &a, ctx, &[Action::View])[0].allowed);
        let both = engine.decide_all(
            &principal,
            ctx,
            &[(&a, &[Action::View][..]), (&b, &[Action::View][..])],
        );
        assert!(both.iter().flatten().all(|d| !d.allowed), "{both:?}");
    }
}
