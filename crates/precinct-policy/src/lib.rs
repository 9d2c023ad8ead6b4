//! Authorization through Cedar: the policy set in `policies/` (or a
//! department's replacement), strictly validated against the schema when it
//! is loaded, and decisions that say which policies decided and why. The
//! server builds one `AccessRequest` per decision; nothing here does I/O.
//!
//! Fail closed: a policy that errors while it is evaluated makes the
//! decision a denial, whatever else matched.

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, Policy, PolicyId, PolicySet, PrincipalConstraint, Request,
    ResourceConstraint, RestrictedExpression, Schema, ValidationMode, Validator,
};
use precinct_domain::ids::{UnitId, UserId};
use precinct_domain::{Roles, Timestamp};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use thiserror::Error;

mod memo;
use memo::Memo;

/// The shipped schema and policy set.
pub const SHIPPED_SCHEMA: &str = include_str!("../../../policies/precinct.cedarschema");
pub const SHIPPED_POLICIES: &str = include_str!("../../../policies/precinct.cedar");

#[derive(Debug, Clone, Error)]
pub enum PolicyError {
    #[error("the policy schema is not valid: {0}")]
    Schema(String),
    #[error("the policy file cannot be parsed: {0}")]
    Parse(String),
    #[error("the policy file does not validate against the schema:\n{0}")]
    Invalid(String),
    #[error("policy {0}: every policy needs a unique @id(\"...\") annotation")]
    MissingId(String),
    #[error("the decision could not be made: {0}")]
    Request(String),
}

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    View,
    AddDocument,
    Amend,
    Manage,
    ViewProtected,
    ViewAudit,
    OpenCase,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::View,
        Action::AddDocument,
        Action::Amend,
        Action::Manage,
        Action::ViewProtected,
        Action::ViewAudit,
        Action::OpenCase,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Action::View => "view",
            Action::AddDocument => "add_document",
            Action::Amend => "amend",
            Action::Manage => "manage",
            Action::ViewProtected => "view_protected",
            Action::ViewAudit => "view_audit",
            Action::OpenCase => "open_case",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The user asking.
#[derive(Debug, Clone)]
pub struct Principal<'a> {
    pub id: UserId,
    pub roles: &'a Roles,
    pub units: &'a [UnitId],
    pub on_duty: bool,
    pub training_current: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Case,
    /// A documentation entry, by its author.
    Document {
        author: UserId,
    },
    /// A unit, to open a case in.
    Unit,
}

/// A case or one of its documents, with the case's connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource<'a> {
    pub kind: ResourceKind,
    /// The case's or the document's id.
    pub id: String,
    pub number: String,
    pub unit: UnitId,
    pub classification: &'a str,
    pub sealed: bool,
    pub lead: Option<UserId>,
    pub team: &'a [UserId],
    pub named: &'a [UserId],
    pub supervisors: &'a [UserId],
}

impl Resource<'_> {
    /// A unit as the resource (opening a case in it).
    pub fn unit(unit: UnitId) -> Resource<'static> {
        Resource {
            kind: ResourceKind::Unit,
            id: unit.to_string(),
            number: String::new(),
            unit,
            classification: "case",
            sealed: false,
            lead: None,
            team: &[],
            named: &[],
            supervisors: &[],
        }
    }
}

/// Where and when.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// `workstation`, `department_device` or `offsite`.
    pub channel: &'a str,
    pub break_glass: bool,
    pub now: Timestamp,
    /// The enrolled department device the request comes from, or "".
    pub device: &'a str,
    /// The off-site grant in force for this request, if any.
    pub grant: Option<&'a GrantContext>,
}

impl<'a> RequestContext<'a> {
    /// A request from `channel` at `now`: no break-glass, no device, no
    /// grant.
    pub fn plain(channel: &'a str, now: Timestamp) -> Self {
        Self {
            channel,
            break_glass: false,
            now,
            device: "",
            grant: None,
        }
    }
}

/// An off-site grant as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantContext {
    /// `administrative` or `off_duty_investigation`.
    pub kind: String,
    /// The numbers of the cases it covers.
    pub cases: Vec<String>,
    /// The documents it covers; empty: the whole of those cases.
    pub documents: Vec<String>,
    pub may_add_notes: bool,
    /// The department device it is bound to, or "".
    pub device: String,
    pub ends_at: Timestamp,
}

#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    pub principal: &'a Principal<'a>,
    pub action: Action,
    pub resource: &'a Resource<'a>,
    pub context: RequestContext<'a>,
}

/// The answer and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The `@id`s of the policies that decided: the permits that allowed,
    /// or the forbids that denied (empty when nothing permitted).
    pub policies: Vec<String>,
    /// For a denial, what the user is told.
    pub message: Option<String>,
}

/// Most resources `decide_all` puts in one entity set.
const TOGETHER: usize = 128;

/// A loaded, validated policy set.
#[derive(Debug)]
pub struct PolicyEngine {
    schema: Schema,
    policies: PolicySet,
    messages: HashMap<PolicyId, String>,
    authorizer: Authorizer,
    names: Names,
    /// Each action's entity from the schema, its groups as parents.
    action_entities: HashMap<Action, Entity>,
    /// What each action on each kind of resource needs, by `shape_index`.
    shapes: Vec<Shape>,
    /// Answers already given, by the exact question (`memo`); none where
    /// a policy could tell when it is asked otherwise than by reading the
    /// time.
    memo: Option<Memo>,
}

/// How requests for one action on one kind of resource are decided.
#[derive(Debug)]
struct Shape {
    /// The policies whose scope admits such a request (`may_apply`); the
    /// others cannot be satisfied by it and cannot err on it.
    policies: PolicySet,
    /// Whether each request is validated against the schema
    /// (`needs_validation`).
    validate: bool,
    /// Whether a policy may look up the action's groups (`action in ...`),
    /// so the action's entity must be among the request's entities.
    needs_action: bool,
    /// The user's and the resource's attributes a policy may read.
    reads: AttrSet,
}

/// Attributes of the user or the resource, by their names in `ATTRS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AttrSet(u16);

/// The attributes `try_decide` gives the user and the resource.
const ATTRS: [&str; 14] = [
    "id",
    "roles",
    "units",
    "on_duty",
    "training_current",
    "number",
    "unit",
    "classification",
    "sealed",
    "lead",
    "team",
    "named",
    "supervisors",
    "author",
];

impl AttrSet {
    const NONE: AttrSet = AttrSet(0);
    const ALL: AttrSet = AttrSet(u16::MAX);

    fn bit(name: &str) -> u16 {
        // An attribute this crate does not build is read from no entity;
        // it needs no bit.
        ATTRS.iter().position(|a| *a == name).map_or(0, |i| 1 << i)
    }

    fn insert(&mut self, name: &str) {
        self.0 |= Self::bit(name);
    }

    fn union(self, other: AttrSet) -> AttrSet {
        AttrSet(self.0 | other.0)
    }

    fn contains(self, name: &str) -> bool {
        self.0 & Self::bit(name) != 0
    }

    /// The attribute `name`, built by `value`, if it is in the set.
    fn with(
        self,
        name: &str,
        value: impl FnOnce() -> RestrictedExpression,
    ) -> Option<(String, RestrictedExpression)> {
        self.contains(name).then(|| (name.to_owned(), value()))
    }
}

fn shape_index(action: Action, kind: usize) -> usize {
    action as usize * KINDS.len() + kind
}

#[derive(Debug)]
struct Names {
    user: EntityTypeName,
    unit: EntityTypeName,
    case: EntityTypeName,
    document: EntityTypeName,
    actions: HashMap<Action, EntityUid>,
}

impl Names {
    /// The entity type of a resource kind, by `kind_index`.
    fn of_kind(&self, kind: usize) -> &EntityTypeName {
        match kind {
            0 => &self.case,
            1 => &self.document,
            _ => &self.unit,
        }
    }
}

fn type_name(s: &str) -> Result<EntityTypeName, PolicyError> {
    EntityTypeName::from_str(s).map_err(|e| PolicyError::Schema(e.to_string()))
}

fn uid(t: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id))
}

impl PolicyEngine {
    /// The shipped policy.
    pub fn shipped() -> Result<Self, PolicyError> {
        Self::new(SHIPPED_SCHEMA, SHIPPED_POLICIES)
    }

    /// Loads `policies` against `schema`, strictly: any validation error
    /// refuses the whole file.
    pub fn new(schema: &str, policies: &str) -> Result<Self, PolicyError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(schema).map_err(|e| PolicyError::Schema(e.to_string()))?;
        let parsed =
            PolicySet::from_str(policies).map_err(|e| PolicyError::Parse(format!("{e:?}")))?;
        let mut set = PolicySet::new();
        let mut messages = HashMap::new();
        for p in parsed.policies() {
            let id = p
                .annotation("id")
                .ok_or_else(|| PolicyError::MissingId(p.id().to_string()))?;
            let named = p.new_id(PolicyId::new(id));
            if let Some(m) = p.annotation("message") {
                messages.insert(PolicyId::new(id), m.to_owned());
            }
            set.add(named)
                .map_err(|_| PolicyError::MissingId(format!("{id} (used twice)")))?;
        }
        let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result
                .validation_errors()
                .map(|e| format!("- {e}"))
                .collect();
            return Err(PolicyError::Invalid(errors.join("\n")));
        }
        let action_type = type_name("Precinct::Action")?;
        let names = Names {
            user: type_name("Precinct::User")?,
            unit: type_name("Precinct::Unit")?,
            case: type_name("Precinct::Case")?,
            document: type_name("Precinct::Document")?,
            actions: Action::ALL
                .into_iter()
                .map(|a| (a, uid(&action_type, a.as_str())))
                .collect(),
        };
        let all_actions = schema
            .action_entities()
            .map_err(|e| PolicyError::Schema(e.to_string()))?;
        let action_entities = names
            .actions
            .iter()
            .filter_map(|(a, uid)| all_actions.get(uid).map(|e| (*a, e.clone())))
            .collect();
        let mut shapes = Vec::with_capacity(Action::ALL.len() * KINDS.len());
        for action in Action::ALL {
            for kind in KINDS {
                debug_assert_eq!(shapes.len(), shape_index(action, kind));
                let mut policies = PolicySet::new();
                let mut needs_action = false;
                let mut reads = AttrSet::NONE;
                if let Some(action_uid) = names.actions.get(&action) {
                    let resource_type = names.of_kind(kind);
                    for p in set.policies() {
                        if may_apply(p, &names.user, action_uid, resource_type, &all_actions) {
                            let p = without_settled_scope(p, &names.user, resource_type);
                            needs_action |= looks_up_action(&p);
                            reads = reads.union(attributes_read(&p));
                            policies
                                .add(p)
                                .map_err(|e| PolicyError::MissingId(e.to_string()))?;
                        }
                    }
                }
                shapes.push(Shape {
                    policies,
                    validate: needs_validation(&schema, &names, action, kind),
                    needs_action,
                    reads,
                });
            }
        }
        Ok(Self {
            memo: Memo::for_policies(&set),
            action_entities,
            schema,
            policies: set,
            messages,
            authorizer: Authorizer::new(),
            names,
            shapes,
        })
    }

    /// The same engine validating every request against the schema and
    /// evaluating every policy for it, as before either was decided at
    /// load: the reference the tests hold the engine to.
    #[cfg(test)]
    fn validating_every_request(mut self) -> Self {
        self.memo = None;
        for shape in &mut self.shapes {
            shape.validate = true;
            shape.policies = self.policies.clone();
            shape.needs_action = true;
            shape.reads = AttrSet::ALL;
        }
        self
    }

    /// The same engine asking Cedar every question, remembering nothing
    /// (to compare with, and to measure the memo by).
    pub fn without_memo(mut self) -> Self {
        self.memo = None;
        self
    }

    /// How many answers the engine remembers (none without a memo).
    pub fn remembered(&self) -> usize {
        self.memo.as_ref().map_or(0, Memo::len)
    }

    /// Whether the engine remembers answers.
    pub fn remembers(&self) -> bool {
        self.memo.is_some()
    }

    /// How many policies are loaded.
    pub fn len(&self) -> usize {
        self.policies.policies().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn users(&self, ids: &[UserId]) -> RestrictedExpression {
        RestrictedExpression::new_set(
            ids.iter().map(|u| {
                RestrictedExpression::new_entity_uid(uid(&self.names.user, &u.to_string()))
            }),
        )
    }

    /// A case or document entity with the case's connections.
    fn material(
        &self,
        resource: EntityUid,
        r: &Resource<'_>,
        author: Option<UserId>,
        read: AttrSet,
    ) -> Result<Entity, PolicyError> {
        let user =
            |u: UserId| RestrictedExpression::new_entity_uid(uid(&self.names.user, &u.to_string()));
        let attrs = [
            read.with("id", || RestrictedExpression::new_string(r.id.clone())),
            read.with("number", || {
                RestrictedExpression::new_string(r.number.clone())
            }),
            read.with("unit", || {
                RestrictedExpression::new_entity_uid(uid(&self.names.unit, &r.unit.to_string()))
            }),
            read.with("classification", || {
                RestrictedExpression::new_string(r.classification.to_owned())
            }),
            read.with("sealed", || RestrictedExpression::new_bool(r.sealed)),
            read.with("team", || self.users(r.team)),
            read.with("named", || self.users(r.named)),
            read.with("supervisors", || self.users(r.supervisors)),
            r.lead.and_then(|u| read.with("lead", || user(u))),
            author.and_then(|u| read.with("author", || user(u))),
        ];
        Entity::new_with_tags(resource, attrs.into_iter().flatten(), [], [])
            .map_err(|e| PolicyError::Request(e.to_string()))
    }

    /// Decides one request. An error building it, or inside a policy,
    /// denies.
    pub fn decide(&self, req: &AccessRequest<'_>) -> Decision {
        self.decide_each(req.principal, req.resource, req.context, &[req.action])
            .pop()
            .unwrap_or_else(|| refused(PolicyError::Request("no decision".into())))
    }

    /// Decides several actions by one principal on one resource, building
    /// the entities once (a case page asks five or more questions).
    pub fn decide_each(
        &self,
        principal: &Principal<'_>,
        resource: &Resource<'_>,
        context: RequestContext<'_>,
        actions: &[Action],
    ) -> Vec<Decision> {
        self.decide_all(principal, context, &[(resource, actions)])
            .pop()
            .unwrap_or_default()
    }

    /// Decides the actions asked about each of several resources (a case
    /// page's entries), by one principal in one context: the user, the
    /// context and one entity set serve every question. Answers come in
    /// the order asked; if the request cannot be built, everything is
    /// refused.
    ///
    /// Resources go in groups of at most `TOGETHER`: past that, a larger
    /// entity set costs more than it saves (`precinct-bench policy`: a
    /// case decided in a group of 128 takes 0.80 of its time alone, in one
    /// of 512 1.04, of 2,048 1.37).
    pub fn decide_all(
        &self,
        principal: &Principal<'_>,
        context: RequestContext<'_>,
        asked: &[(&Resource<'_>, &[Action])],
    ) -> Vec<Vec<Decision>> {
        asked
            .chunks(TOGETHER)
            .flat_map(|group| match self.try_decide(principal, context, group) {
                Ok(d) => d,
                Err(e) => group
                    .iter()
                    .map(|(_, actions)| actions.iter().map(|_| refused(e.clone())).collect())
                    .collect(),
            })
            .collect()
    }

    fn try_decide(
        &self,
        p: &Principal<'_>,
        ctx: RequestContext<'_>,
        asked: &[(&Resource<'_>, &[Action])],
    ) -> Result<Vec<Vec<Decision>>, PolicyError> {
        // A resource asked about twice is one entity; two different
        // resources by one name are a mistake that decides nothing. (A
        // search asks about thousands: no quadratic scan.)
        let mut first: HashMap<(usize, &str), usize> = HashMap::with_capacity(asked.len());
        for (i, (r, _)) in asked.iter().enumerate() {
            match first.get(&(kind_index(r.kind), r.id.as_str())) {
                Some(&j) if asked[j].0 == *r => {}
                Some(_) => {
                    return Err(PolicyError::Request(format!(
                        "two different resources are named {}",
                        r.id
                    )))
                }
                None => {
                    first.insert((kind_index(r.kind), r.id.as_str()), i);
                }
            }
        }
        // The answers remembered, and the keys of the questions that may be
        // (none where a unit is among the resources: see `memo`).
        let memo = self
            .memo
            .as_ref()
            .filter(|_| asked.iter().all(|(r, _)| r.kind != ResourceKind::Unit));
        let mut answers: Vec<Vec<Option<Decision>>> = Vec::with_capacity(asked.len());
        let mut keys: Vec<Vec<Option<Vec<u8>>>> = Vec::with_capacity(asked.len());
        for (r, actions) in asked {
            let kind = kind_index(r.kind);
            let (mut known, mut key) = (Vec::with_capacity(actions.len()), Vec::new());
            for &a in actions.iter() {
                let shape = self.shapes.get(shape_index(a, kind));
                let k = match (memo, shape) {
                    (Some(_), Some(s)) if !s.validate => {
                        Some(memo::key(shape_index(a, kind), s.reads, p, r, &ctx))
                    }
                    _ => None,
                };
                let hit = memo.zip(k.as_deref()).and_then(|(m, k)| m.get(k));
                known.push(hit);
                key.push(k);
            }
            answers.push(known);
            keys.push(key);
        }
        let open: Vec<usize> = (0..asked.len())
            .filter(|&i| answers[i].iter().any(Option::is_none))
            .collect();
        if open.is_empty() {
            return Ok(answers
                .into_iter()
                .map(|a| a.into_iter().flatten().collect())
                .collect());
        }
        let bad = |e: &dyn std::fmt::Display| PolicyError::Request(e.to_string());
        // The questions left, by shape.
        let shapes = || {
            open.iter().flat_map(|&i| {
                let (r, actions) = asked[i];
                let kind = kind_index(r.kind);
                actions
                    .iter()
                    .zip(&answers[i])
                    .filter(|(_, known)| known.is_none())
                    .map(move |(&a, _)| self.shapes.get(shape_index(a, kind)))
            })
        };
        // Only the attributes a policy asked about may read are built.
        let read = shapes().fold(AttrSet::NONE, |read, s| {
            read.union(s.map_or(AttrSet::ALL, |s| s.reads))
        });
        let principal = uid(&self.names.user, &p.id.to_string());
        let user = Entity::new_with_tags(
            principal.clone(),
            [
                read.with("roles", || {
                    RestrictedExpression::new_set(
                        p.roles
                            .iter()
                            .map(|role| RestrictedExpression::new_string(role.as_str().to_owned())),
                    )
                }),
                read.with("units", || {
                    RestrictedExpression::new_set(p.units.iter().map(|u| {
                        RestrictedExpression::new_entity_uid(uid(&self.names.unit, &u.to_string()))
                    }))
                }),
                read.with("on_duty", || RestrictedExpression::new_bool(p.on_duty)),
                read.with("training_current", || {
                    RestrictedExpression::new_bool(p.training_current)
                }),
            ]
            .into_iter()
            .flatten(),
            [],
            [],
        )
        .map_err(|e| bad(&e))?;
        let mut resources: HashMap<usize, EntityUid> = HashMap::with_capacity(open.len());
        let mut built: HashSet<(usize, &str)> = HashSet::with_capacity(open.len());
        let mut entities = vec![user];
        for &i in &open {
            let r = asked[i].0;
            let (rtype, author) = match r.kind {
                ResourceKind::Case => (&self.names.case, None),
                ResourceKind::Document { author } => (&self.names.document, Some(author)),
                ResourceKind::Unit => (&self.names.unit, None),
            };
            let resource = uid(rtype, &r.id);
            // One entity for a resource asked about twice.
            if built.insert((kind_index(r.kind), r.id.as_str())) {
                entities.push(if r.kind == ResourceKind::Unit {
                    Entity::new_no_attrs(resource.clone(), HashSet::new())
                } else {
                    self.material(resource.clone(), r, author, read)?
                });
            }
            resources.insert(i, resource);
        }
        // The action hierarchy (`case_material`) comes from the schema: each
        // asked action's entity carries all its groups as parents. It is
        // left out where no policy asked about could look it up.
        if shapes().any(|s| s.is_none_or(|s| s.needs_action)) {
            let mut actions: Vec<Action> = open
                .iter()
                .flat_map(|&i| asked[i].1.iter().copied())
                .collect();
            actions.sort_by_key(|a| *a as usize);
            actions.dedup();
            entities.extend(
                actions
                    .iter()
                    .filter_map(|a| self.action_entities.get(a).cloned()),
            );
        }
        let entities = Entities::from_entities(entities, None).map_err(|e| bad(&e))?;
        let context = cedar_context(ctx, true)?;
        // Without the time, for the questions that may be remembered.
        let timeless = if keys.iter().flatten().any(Option::is_some) {
            Some(cedar_context(ctx, false)?)
        } else {
            None
        };
        for &i in &open {
            let (r, actions) = asked[i];
            let Some(resource) = resources.get(&i) else {
                continue;
            };
            let on = |context| Asked {
                principal: &principal,
                resource,
                kind: kind_index(r.kind),
                context,
                entities: &entities,
                number: &r.number,
            };
            let mut decided = Vec::with_capacity(actions.len());
            for (j, &action) in actions.iter().enumerate() {
                if let Some(known) = answers[i][j].take() {
                    decided.push(Ok(known));
                    continue;
                }
                let remembered = match (memo, keys[i][j].take(), &timeless) {
                    (Some(m), Some(key), Some(timeless)) => self
                        .evaluate(&on(timeless), action)
                        .ok()
                        .inspect(|d| m.insert(key, d)),
                    _ => None,
                };
                decided.push(match remembered {
                    Some(d) => Ok(d),
                    None => self.evaluate(&on(&context), action),
                });
            }
            // An error deciding one question about a resource refuses
            // every question about it, and about it alone.
            answers[i] = match decided.into_iter().collect::<Result<Vec<_>, _>>() {
                Ok(d) => d.into_iter().map(Some).collect(),
                Err(e) => actions.iter().map(|_| Some(refused(e.clone()))).collect(),
            };
        }
        Ok(answers
            .into_iter()
            .map(|a| a.into_iter().flatten().collect())
            .collect())
    }

    fn evaluate(&self, asked: &Asked<'_>, action: Action) -> Result<Decision, PolicyError> {
        let number = asked.number;
        let action_uid = self
            .names
            .actions
            .get(&action)
            .cloned()
            .ok_or_else(|| PolicyError::Request("unknown action".into()))?;
        let shape = self
            .shapes
            .get(shape_index(action, asked.kind))
            .ok_or_else(|| PolicyError::Request("unknown action".into()))?;
        // Requests of a shape that validated at load are not validated again
        // (`needs_validation` says why that is exact); the rest are.
        let schema = shape.validate.then_some(&self.schema);
        let request = Request::new(
            asked.principal.clone(),
            action_uid,
            asked.resource.clone(),
            asked.context.clone(),
            schema,
        )
        .map_err(|e| PolicyError::Request(e.to_string()))?;
        let response = self
            .authorizer
            .is_authorized(&request, &shape.policies, asked.entities);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| e.to_string())
            .collect();
        if !errors.is_empty() {
            return Err(PolicyError::Request(errors.join("; ")));
        }
        let policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .collect();
        let allowed = response.decision() == CedarDecision::Allow;
        let message = if allowed {
            None
        } else {
            Some(
                response
                    .diagnostics()
                    .reason()
                    .find_map(|id| self.messages.get(id))
                    .map(|m| m.replace("{number}", number))
                    .unwrap_or_else(|| no_permit_message(action, number)),
            )
        };
        Ok(Decision {
            allowed,
            policies,
            message,
        })
    }
}

/// One principal's questions about one resource, built once for all the
/// actions asked.
struct Asked<'a> {
    principal: &'a EntityUid,
    resource: &'a EntityUid,
    /// The resource's kind, by `kind_index`.
    kind: usize,
    context: &'a Context,
    entities: &'a Entities,
    number: &'a str,
}

/// A grant as the context's `grant` record.
fn grant_record(g: &GrantContext) -> Result<RestrictedExpression, PolicyError> {
    let strings = |v: &[String]| {
        RestrictedExpression::new_set(
            v.iter()
                .map(|s| RestrictedExpression::new_string(s.clone())),
        )
    };
    RestrictedExpression::new_record([
        (
            "kind".to_owned(),
            RestrictedExpression::new_string(g.kind.clone()),
        ),
        ("cases".to_owned(), strings(&g.cases)),
        ("documents".to_owned(), strings(&g.documents)),
        (
            "may_add_notes".to_owned(),
            RestrictedExpression::new_bool(g.may_add_notes),
        ),
        (
            "device".to_owned(),
            RestrictedExpression::new_string(g.device.clone()),
        ),
        (
            "ends_at".to_owned(),
            RestrictedExpression::new_long(g.ends_at.as_micros()),
        ),
    ])
    .map_err(|e| PolicyError::Request(e.to_string()))
}

/// The context Cedar sees: always these attributes, of these types (no
/// grant is a grant of kind `none` that covers nothing).
fn cedar_context(ctx: RequestContext<'_>, with_time: bool) -> Result<Context, PolicyError> {
    // Most requests have no grant: its record (kind `none`, covering
    // nothing) is built once.
    static NONE: std::sync::LazyLock<Option<RestrictedExpression>> =
        std::sync::LazyLock::new(|| grant_record(&memo::NO_GRANT).ok());
    let grant = match ctx.grant {
        Some(g) => grant_record(g)?,
        None => NONE
            .clone()
            .ok_or_else(|| PolicyError::Request("no grant record".into()))?,
    };
    Context::from_pairs(
        [
            (
                "device".to_owned(),
                RestrictedExpression::new_string(ctx.device.to_owned()),
            ),
            ("grant".to_owned(), grant),
            (
                "channel".to_owned(),
                RestrictedExpression::new_string(ctx.channel.to_owned()),
            ),
            (
                "break_glass".to_owned(),
                RestrictedExpression::new_bool(ctx.break_glass),
            ),
        ]
        .into_iter()
        .chain(with_time.then(|| {
            (
                "now".to_owned(),
                RestrictedExpression::new_long(ctx.now.as_micros()),
            )
        })),
    )
    .map_err(|e| PolicyError::Request(e.to_string()))
}

/// The resource kinds, by `kind_index`: case, document, unit.
const KINDS: [usize; 3] = [0, 1, 2];

fn kind_index(kind: ResourceKind) -> usize {
    match kind {
        ResourceKind::Case => 0,
        ResourceKind::Document { .. } => 1,
        ResourceKind::Unit => 2,
    }
}

/// Whether each request for `action` on a resource of kind `kind` must be
/// validated against the schema, decided once when the policy is loaded.
///
/// Validating a request checks its principal's and resource's types (and,
/// for an enumerated entity type, the id) against the action's
/// `appliesTo`, and the context against the action's context type. What
/// `try_decide` builds differs between requests in values only: the
/// principal is always a `Precinct::User`, the resource's type follows from
/// its kind, and the context is always `channel: String, break_glass: Bool,
/// now: Long, device: String` and a `grant` record of strings, sets of
/// strings, a bool and a long, with no entity in it (`cedar_context`). A context's type does
/// not depend on its values, so a sample request with fresh random ids that
/// validates shows every request of that action and kind would (random ids
/// validating rules out enumerated types). Where the sample is refused (the
/// action does not apply to the kind, the schema types the context
/// differently, a type is an enumeration), every request is validated as it
/// comes and refused, as before, when it does not conform.
fn needs_validation(schema: &Schema, names: &Names, action: Action, kind: usize) -> bool {
    let Some(action_uid) = names.actions.get(&action) else {
        return true;
    };
    let resource_type = names.of_kind(kind);
    let sample = RequestContext::plain("workstation", Timestamp::from_micros(0));
    let Ok(context) = cedar_context(sample, true) else {
        return true;
    };
    Request::new(
        uid(&names.user, &UserId::new_random().to_string()),
        action_uid.clone(),
        uid(resource_type, &UserId::new_random().to_string()),
        context,
        Some(schema),
    )
    .is_err()
}

/// Whether `policy`'s scope admits a request by a `user_type` principal
/// for `action` on a `resource_type` resource.
///
/// A policy's condition is its scope (`principal == / in / is`, `action ==
/// / in`, `resource == / in / is`) conjoined with its `when` and `unless`
/// clauses, evaluated left to right and short-circuiting; the scope's tests
/// cannot err (`in` an entity that is not there is false). So a policy
/// whose scope rejects the request is neither satisfied nor in error, and
/// leaving it out of the set the request is decided against changes
/// nothing: not the decision, not the policies reported, not the errors.
/// This only leaves out what the scope rejects for certain: a wrong entity
/// type, or an action neither named nor a member of a group named (per the
/// schema's action hierarchy, which is what requests see). `in` an entity
/// is kept, whatever the entity.
fn may_apply(
    policy: &Policy,
    user_type: &EntityTypeName,
    action: &EntityUid,
    resource_type: &EntityTypeName,
    actions: &Entities,
) -> bool {
    let principal = match policy.principal_constraint() {
        PrincipalConstraint::Any | PrincipalConstraint::In(_) => true,
        PrincipalConstraint::Eq(u) => u.type_name() == user_type,
        PrincipalConstraint::Is(t) | PrincipalConstraint::IsIn(t, _) => &t == user_type,
    };
    let action = match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(a) => &a == action,
        // `is_ancestor_of` is strict: an action is `in` itself too.
        ActionConstraint::In(groups) => groups
            .iter()
            .any(|g| g == action || actions.is_ancestor_of(g, action)),
    };
    let resource = match policy.resource_constraint() {
        ResourceConstraint::Any | ResourceConstraint::In(_) => true,
        ResourceConstraint::Eq(u) => u.type_name() == resource_type,
        ResourceConstraint::Is(t) | ResourceConstraint::IsIn(t, _) => &t == resource_type,
    };
    principal && action && resource
}

/// `policy` for the requests of one shape (action and resource kind) that
/// `may_apply` admitted: the same policy without the scope constraints
/// every such request satisfies. The action's is always one of them (it
/// depends on the action alone), and so is a principal's or resource's
/// `is` of the principal's or resource's type (`is T in e` keeps the `in
/// e`). The condition was `scope && when && !unless`, so for these requests
/// `true && rest` is `rest`, errors included. Anything that cannot be
/// rewritten stays as it was.
fn without_settled_scope(
    policy: &Policy,
    user_type: &EntityTypeName,
    resource_type: &EntityTypeName,
) -> Policy {
    let Ok(mut json) = policy.to_json() else {
        return policy.clone();
    };
    let settle = |scope: Option<&mut serde_json::Value>, ty: &EntityTypeName| {
        let Some(scope) = scope else { return };
        let ty = ty.to_string();
        let is_ty = scope.get("op").and_then(|v| v.as_str()) == Some("is")
            && scope.get("entity_type").and_then(|v| v.as_str()) == Some(ty.as_str());
        if !is_ty {
            return;
        }
        *scope = match scope.get("in") {
            None => serde_json::json!({ "op": "All" }),
            Some(inside) => {
                let mut inside = inside.clone();
                if let Some(o) = inside.as_object_mut() {
                    o.insert("op".into(), "in".into());
                }
                inside
            }
        };
    };
    settle(json.get_mut("principal"), user_type);
    settle(json.get_mut("resource"), resource_type);
    if let Some(action) = json.get_mut("action") {
        *action = serde_json::json!({ "op": "All" });
    }
    Policy::from_json(Some(policy.id().clone()), json).unwrap_or_else(|_| policy.clone())
}

/// Whether `v`, a node of a policy's JSON form, is the variable `name`
/// itself (`principal`, `action`, `resource`, `context`).
pub(crate) fn is_var(v: &serde_json::Value, name: &str) -> bool {
    v.get("Var").and_then(|v| v.as_str()) == Some(name)
}

/// Whether evaluating `policy` may look up the action's entity, to know its
/// groups. Only an `action == ...` or `action != ...` comparison certainly
/// does not (it compares the request's action as a value); any other use of
/// `action`, or a policy that cannot be read back, counts as a look-up.
/// Without the action's entity among the request's entities, `action in
/// group` would be false where it is true; a comparison is the same either
/// way. (The scope's action test is gone from every policy that
/// `without_settled_scope` rewrote; one it could not keeps it, and counts.)
fn looks_up_action(policy: &Policy) -> bool {
    fn uses_action(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                if is_var(v, "action") {
                    return true;
                }
                m.iter().any(|(op, operands)| {
                    if op == "==" || op == "!=" {
                        // The two sides, but the action itself on either.
                        ["left", "right"].iter().any(|side| {
                            operands
                                .get(side)
                                .is_some_and(|x| !is_var(x, "action") && uses_action(x))
                        }) || operands
                            .as_object()
                            .is_some_and(|o| o.keys().any(|k| k != "left" && k != "right"))
                    } else {
                        uses_action(operands)
                    }
                })
            }
            serde_json::Value::Array(a) => a.iter().any(uses_action),
            _ => false,
        }
    }
    if policy.action_constraint() != ActionConstraint::Any {
        return true;
    }
    match policy.to_json() {
        Ok(json) => json.get("conditions").is_none_or(uses_action),
        Err(_) => true,
    }
}

/// The attributes `policy` may read, of any entity or record: every name
/// it accesses (`e.a`, `e["a"]`) or tests (`e has a`, `e has a.b`). Cedar
/// has no other way to reach an attribute: entities are compared, and
/// sets searched, by their ids. So an attribute no policy names cannot
/// change a decision, nor an error, and is not built. A policy that cannot
/// be read back may read anything.
fn attributes_read(policy: &Policy) -> AttrSet {
    fn collect(v: &serde_json::Value, read: &mut AttrSet) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("attr", serde_json::Value::String(a)) => read.insert(a),
                        ("attr", serde_json::Value::Array(path)) => {
                            for a in path {
                                match a.as_str() {
                                    Some(a) => read.insert(a),
                                    None => *read = AttrSet::ALL,
                                }
                            }
                        }
                        _ => collect(v, read),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, read)),
            _ => {}
        }
    }
    let Ok(json) = policy.to_json() else {
        return AttrSet::ALL;
    };
    let mut read = AttrSet::NONE;
    collect(&json, &mut read);
    read
}

/// The answer when a decision could not be made: a denial.
fn refused(e: PolicyError) -> Decision {
    Decision {
        allowed: false,
        policies: vec![],
        message: Some(format!(
            "The decision could not be made ({e}); access is refused"
        )),
    }
}

/// What a user is told when no policy permitted the request.
fn no_permit_message(action: Action, number: &str) -> String {
    match action {
        Action::View | Action::AddDocument => format!(
            "You have no need to know for case {number}: you are not on its team, do not supervise its unit, and it has not been shared with you"
        ),
        Action::Amend => format!(
            "Only the author, the lead investigator or a supervisor may amend this entry of case {number}"
        ),
        Action::Manage => format!(
            "Only the lead investigator or a supervisor of its unit may change case {number}"
        ),
        Action::ViewProtected => format!(
            "Protected people of case {number} are shown only to the users the case names"
        ),
        Action::ViewAudit => format!(
            "The audit of case {number} is open to its supervisors and auditors"
        ),
        Action::OpenCase => {
            "Cases are opened by officers, detectives and supervisors in their own units".to_owned()
        }
    }
}

#[cfg(test)]
mod tests;
