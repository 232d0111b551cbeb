//! Cedar (`cedar-policy`) behind the benchmark's engine interface.
//!
//! Cedar has `permit`/`forbid` and no priorities, so each PolicyGate rule is one
//! `permit` policy whose outcome lives in annotations (`@rule_id`, `@priority`,
//! `@decision`, `@max_tokens`). With only permits, Cedar's determining policies
//! (`diagnostics().reason()`) are exactly the rules that hold; the decision is the one of
//! the highest `@priority` among them, or BLOCK when there is none. The annotations are
//! read once at load into a table keyed by policy id, so evaluation pays one hash lookup
//! per determining policy, not annotation parsing.
//!
//! Request mapping: principal `Subject::"<subject.id>"` (`Subject::""` when absent: the
//! contract forbids an empty id, so it never equals a rule's), action
//! `Action::"<action>"`, resource `Resource::"<resource.type>"`; `env.name`,
//! `resource.sensitivity`, `subject.type` and the signals go in the context, the signals
//! as optional attributes tested with `has` (Cedar's way to say "absent facts match
//! nothing"). `risk_score` is a Cedar `decimal` (Cedar has no floating point numbers;
//! decimals keep four fractional digits, the generator uses two).

use crate::model::Outcome;
use cedar_policy::{
    Authorizer, Context, Entities, EntityId, EntityTypeName, EntityUid, PolicyId, PolicySet,
    Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use policygate_api::DecisionKind;
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;

/// A rule's outcome, read from its annotations at load.
#[derive(Debug, Clone)]
pub struct RuleMeta {
    /// `@rule_id`.
    pub rule_id: String,
    /// `@priority`.
    pub priority: u32,
    /// `@decision`.
    pub decision: DecisionKind,
    /// `@max_tokens`.
    pub max_tokens: Option<u32>,
}

/// A loaded and validated Cedar policy set with everything a request needs.
#[derive(Debug)]
pub struct Cedar {
    policies: PolicySet,
    entities: Entities,
    authorizer: Authorizer,
    meta: HashMap<PolicyId, RuleMeta>,
    actions: HashMap<&'static str, EntityUid>,
    subject_type: EntityTypeName,
    resource_type: EntityTypeName,
}

fn annotation<'a>(ps: &'a PolicySet, id: &PolicyId, key: &str) -> Result<&'a str, String> {
    ps.annotation(id, key)
        .ok_or_else(|| format!("cedar policy `{id}` has no @{key} annotation"))
}

impl Cedar {
    /// Parses the schema and the policies, validates the policies against the schema
    /// (strict mode) and indexes the annotations.
    pub fn load(schema_src: &str, policies_src: &str) -> Result<Self, String> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(schema_src).map_err(|e| format!("cedar schema: {e}"))?;
        let policies =
            PolicySet::from_str(policies_src).map_err(|e| format!("cedar policies: {e}"))?;
        let result = Validator::new(schema).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result
                .validation_errors()
                .take(5)
                .map(ToString::to_string)
                .collect();
            return Err(format!("cedar validation failed: {}", errors.join("; ")));
        }
        let mut meta = HashMap::new();
        for p in policies.policies() {
            let id = p.id();
            let decision = annotation(&policies, id, "decision")?;
            let m = RuleMeta {
                rule_id: annotation(&policies, id, "rule_id")?.to_owned(),
                priority: annotation(&policies, id, "priority")?
                    .parse()
                    .map_err(|e| format!("cedar policy `{id}`: bad @priority: {e}"))?,
                decision: DecisionKind::parse(decision)
                    .ok_or_else(|| format!("cedar policy `{id}`: bad @decision `{decision}`"))?,
                max_tokens: match policies.annotation(id, "max_tokens") {
                    Some(m) => Some(
                        m.parse()
                            .map_err(|e| format!("cedar policy `{id}`: bad @max_tokens: {e}"))?,
                    ),
                    None => None,
                },
            };
            meta.insert(id.clone(), m);
        }
        let action_type = EntityTypeName::from_str("Action").map_err(|e| format!("cedar: {e}"))?;
        let actions = policygate_api::Action::ALL
            .into_iter()
            .map(|a| {
                (
                    a.as_str(),
                    EntityUid::from_type_name_and_id(
                        action_type.clone(),
                        EntityId::new(a.as_str()),
                    ),
                )
            })
            .collect();
        Ok(Self {
            policies,
            entities: Entities::empty(),
            authorizer: Authorizer::new(),
            meta,
            actions,
            subject_type: EntityTypeName::from_str("Subject").map_err(|e| format!("cedar: {e}"))?,
            resource_type: EntityTypeName::from_str("Resource")
                .map_err(|e| format!("cedar: {e}"))?,
        })
    }

    /// What an integration does per request: parse the JSON body and build the Cedar
    /// request (principal, action, resource, context). Types are checked while building;
    /// the request is not re-validated against the schema (that would cost more).
    pub fn prepare(&self, body: &[u8]) -> Result<Request, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("json: {e}"))?;
        self.build(&v)
    }

    fn build(&self, v: &Value) -> Result<Request, String> {
        let str_at = |p: &str| v.pointer(p).and_then(Value::as_str);
        let action = str_at("/action")
            .and_then(|a| self.actions.get(a))
            .ok_or("missing or unknown action")?
            .clone();
        let env = str_at("/env/name").ok_or("missing env.name")?;
        let rtype = str_at("/resource/type").ok_or("missing resource.type")?;
        let sensitivity = str_at("/resource/sensitivity").ok_or("missing resource.sensitivity")?;
        let principal = EntityUid::from_type_name_and_id(
            self.subject_type.clone(),
            EntityId::new(str_at("/subject/id").unwrap_or("")),
        );
        let resource =
            EntityUid::from_type_name_and_id(self.resource_type.clone(), EntityId::new(rtype));
        let mut signals: Vec<(String, RestrictedExpression)> = Vec::with_capacity(4);
        if let Some(Value::Object(map)) = v.get("signals") {
            for (k, val) in map {
                let e = match (k.as_str(), val) {
                    (_, Value::Null) => continue,
                    ("caller_trust" | "model", Value::String(s)) => {
                        RestrictedExpression::new_string(s.clone())
                    }
                    ("prompt_tokens", Value::Number(n)) => RestrictedExpression::new_long(
                        n.as_i64().ok_or("prompt_tokens must be an integer")?,
                    ),
                    ("risk_score", Value::Number(n)) => {
                        let f = n.as_f64().ok_or("risk_score must be a number")?;
                        RestrictedExpression::new_decimal(format!("{f:.4}"))
                    }
                    (other, _) => {
                        return Err(format!(
                            "signal `{other}` has the wrong type or is not declared"
                        ));
                    }
                };
                signals.push((k.clone(), e));
            }
        }
        let mut ctx: Vec<(String, RestrictedExpression)> = Vec::with_capacity(4);
        ctx.push((
            "env".to_owned(),
            RestrictedExpression::new_string(env.to_owned()),
        ));
        ctx.push((
            "sensitivity".to_owned(),
            RestrictedExpression::new_string(sensitivity.to_owned()),
        ));
        if let Some(t) = str_at("/subject/type") {
            ctx.push((
                "subject_type".to_owned(),
                RestrictedExpression::new_string(t.to_owned()),
            ));
        }
        ctx.push((
            "signals".to_owned(),
            RestrictedExpression::new_record(signals).map_err(|e| format!("cedar: {e}"))?,
        ));
        let context = Context::from_pairs(ctx).map_err(|e| format!("cedar context: {e}"))?;
        Request::new(principal, action, resource, context, None)
            .map_err(|e| format!("cedar request: {e}"))
    }

    /// Pure evaluation: `is_authorized`, then the highest-priority determining policy.
    /// `None` means no rule holds (the default, BLOCK).
    pub fn decide(&self, req: &Request) -> Option<&RuleMeta> {
        let response = self
            .authorizer
            .is_authorized(req, &self.policies, &self.entities);
        self.select(&response)
    }

    fn select(&self, response: &cedar_policy::Response) -> Option<&RuleMeta> {
        response
            .diagnostics()
            .reason()
            .filter_map(|id| self.meta.get(id))
            .max_by_key(|m| m.priority)
    }

    /// Like [`Cedar::decide`], also failing when Cedar reported evaluation errors (the
    /// fairness check must not let an erroring policy pass as "not matching").
    pub fn decide_checked(&self, req: &Request) -> Result<Outcome, String> {
        let response = self
            .authorizer
            .is_authorized(req, &self.policies, &self.entities);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        if !errors.is_empty() {
            return Err(format!("cedar evaluation errors: {}", errors.join("; ")));
        }
        Ok(Self::outcome(self.select(&response)))
    }

    /// The decision reduced to what engines must agree on.
    pub fn outcome(m: Option<&RuleMeta>) -> Outcome {
        m.map_or_else(Outcome::default_block, |m| Outcome {
            decision: m.decision,
            rule_id: Some(m.rule_id.clone()),
            max_tokens: m.max_tokens,
        })
    }
}
