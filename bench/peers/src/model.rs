//! The one decision problem every engine is measured on, as plain Rust data.
//!
//! A multi-tenant AI gateway: a few global guard rails (admin needs trust, restricted
//! writes in production need review, very risky calls are blocked, long restricted
//! prompts are capped) and, per tenant environment, five tenant rules (untrusted writes
//! blocked, long prompts degraded with an output cap, risky use of a model sent to
//! review, a service account allowed to invoke tools, trusted inference allowed).
//! Policies of 10 to 10,000 rules differ only in the number of tenants.
//!
//! Everything here is generated from a fixed seed, and this module also holds the
//! reference semantics (`Scenario::decide`): highest priority matching rule wins, BLOCK
//! when none matches. The emitters (`emit`) turn the same `Scenario` into PolicyGate
//! YAML, Cedar and Rego; the fairness check compares all engines with this reference.
//!
//! Rules are built so that the policy validates cleanly in PolicyGate: equal priorities
//! are used only by rules of different tenants (disjoint by `env.name` equality), and
//! every rule has a witness request that it decides (so no rule is shadowed).

use crate::rng::Rng;
use policygate_api::{Action, DecisionKind, Sensitivity};

/// The fixed seed of the whole benchmark.
pub const SEED: u64 = 0x005E_ED0F_9A7E_2026;

/// The policy sizes of the issue.
pub const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

/// Least number of requests in a fairness set.
pub const MIN_REQUESTS: usize = 10_000;

/// Least number of random (non-witness) requests in a fairness set.
pub const MIN_RANDOM: usize = 500;

/// Values of the `caller_trust` signal (a string enum).
pub const TRUST_LEVELS: [&str; 3] = ["low", "medium", "high"];

/// Values of the `model` signal used by requests and rules.
pub const MODELS: [&str; 6] = [
    "chat-large",
    "chat-small",
    "code-34b",
    "code-7b",
    "vision-1",
    "embed-v2",
];

/// Shared (non-tenant) environments.
pub const SHARED_ENVS: [&str; 4] = ["prod", "prod-eu", "staging", "dev"];

/// Resource types requests use.
pub const RESOURCE_TYPES: [&str; 4] = ["document", "embedding_index", "prompt", "dataset"];

/// Subject types requests use.
pub const SUBJECT_TYPES: [&str; 3] = ["user", "service", "operator"];

/// Rules per tenant (one of each kind).
pub const TENANT_KINDS: usize = 5;

/// A conjunction of per-fact constraints; `None` means "not tested".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cond {
    /// `action` is one of these.
    pub actions: Option<Vec<Action>>,
    /// `env.name` is one of these.
    pub envs: Option<Vec<String>>,
    /// `resource.type` equals this.
    pub resource_type: Option<String>,
    /// `resource.sensitivity` is one of these.
    pub sensitivities: Option<Vec<Sensitivity>>,
    /// `subject.type` equals this.
    pub subject_type: Option<String>,
    /// `subject.id` equals this.
    pub subject_id: Option<String>,
    /// `signals.caller_trust` is one of these.
    pub caller_trust: Option<Vec<&'static str>>,
    /// `signals.model` equals this.
    pub model: Option<String>,
    /// `signals.prompt_tokens` is greater than this.
    pub prompt_tokens_gt: Option<i64>,
    /// `signals.risk_score` is at least this many hundredths.
    pub risk_gte: Option<u32>,
}

/// One rule of the generated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `rule_id`.
    pub id: String,
    /// `priority` (higher wins).
    pub priority: u32,
    /// `when`.
    pub cond: Cond,
    /// `then.decision`.
    pub decision: DecisionKind,
    /// The single rationale code.
    pub rationale: &'static str,
    /// `OUTPUT_CAP.max_tokens`, exactly for DEGRADE.
    pub max_tokens: Option<u32>,
}

/// The request facts of one generated request.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// `request_id`.
    pub request_id: String,
    /// `action`.
    pub action: Action,
    /// `env.name`.
    pub env: String,
    /// `resource.type`.
    pub resource_type: String,
    /// `resource.sensitivity`.
    pub sensitivity: Sensitivity,
    /// `subject` (present or not) with its optional `type` and `id`.
    pub subject: Option<(Option<String>, Option<String>)>,
    /// `signals.caller_trust`.
    pub caller_trust: Option<&'static str>,
    /// `signals.model`.
    pub model: Option<String>,
    /// `signals.prompt_tokens`.
    pub prompt_tokens: Option<i64>,
    /// `signals.risk_score` in hundredths (sent as a JSON number `0.xx`).
    pub risk: Option<u32>,
}

/// What an engine decided, reduced to what must agree across engines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The decision.
    pub decision: DecisionKind,
    /// The deciding rule; `None` for the default.
    pub rule_id: Option<String>,
    /// The output cap of a DEGRADE.
    pub max_tokens: Option<u32>,
}

impl Outcome {
    /// The default outcome (no rule matched).
    pub fn default_block() -> Self {
        Self {
            decision: DecisionKind::Block,
            rule_id: None,
            max_tokens: None,
        }
    }
}

/// Renders hundredths as a decimal literal, e.g. `55` → `0.55`.
pub fn hundredths(h: u32) -> String {
    format!("{}.{:02}", h / 100, h % 100)
}

/// The generated policy of one size.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Number of rules.
    pub size: usize,
    /// The rules, in generation order.
    pub rules: Vec<Rule>,
    /// Tenant environment names (one per tenant).
    pub tenants: Vec<String>,
}

fn global_rules() -> Vec<Rule> {
    let s = |v: &str| v.to_owned();
    vec![
        Rule {
            id: s("g_block_admin_untrusted"),
            priority: 900_000,
            cond: Cond {
                actions: Some(vec![Action::PolicyAdmin]),
                caller_trust: Some(vec!["low", "medium"]),
                ..Cond::default()
            },
            decision: DecisionKind::Block,
            rationale: "ADMIN_REQUIRES_HIGH_TRUST",
            max_tokens: None,
        },
        Rule {
            id: s("g_allow_admin_operator"),
            priority: 890_000,
            cond: Cond {
                actions: Some(vec![Action::PolicyAdmin]),
                subject_type: Some(s("operator")),
                ..Cond::default()
            },
            decision: DecisionKind::Allow,
            rationale: "ADMIN_BY_OPERATOR",
            max_tokens: None,
        },
        Rule {
            id: s("g_review_restricted_write_prod"),
            priority: 800_000,
            cond: Cond {
                actions: Some(vec![Action::DataWrite]),
                envs: Some(vec![s("prod"), s("prod-eu")]),
                sensitivities: Some(vec![Sensitivity::Restricted]),
                ..Cond::default()
            },
            decision: DecisionKind::RequireReview,
            rationale: "RESTRICTED_WRITE_IN_PROD",
            max_tokens: None,
        },
        Rule {
            id: s("g_block_high_risk"),
            priority: 700_000,
            cond: Cond {
                risk_gte: Some(90),
                ..Cond::default()
            },
            decision: DecisionKind::Block,
            rationale: "RISK_TOO_HIGH",
            max_tokens: None,
        },
        Rule {
            id: s("g_degrade_long_restricted_infer"),
            priority: 600_000,
            cond: Cond {
                actions: Some(vec![Action::InferRun]),
                sensitivities: Some(vec![Sensitivity::Restricted]),
                prompt_tokens_gt: Some(8_000),
                ..Cond::default()
            },
            decision: DecisionKind::Degrade,
            rationale: "LONG_RESTRICTED_PROMPT",
            max_tokens: Some(512),
        },
        Rule {
            id: s("g_allow_embeddings_read_nonprod"),
            priority: 30,
            cond: Cond {
                actions: Some(vec![Action::DataRead]),
                envs: Some(vec![s("staging"), s("dev")]),
                resource_type: Some(s("embedding_index")),
                ..Cond::default()
            },
            decision: DecisionKind::Allow,
            rationale: "NONPROD_EMBEDDINGS_READ",
            max_tokens: None,
        },
        Rule {
            id: s("g_allow_public_infer"),
            priority: 20,
            cond: Cond {
                actions: Some(vec![Action::InferRun]),
                sensitivities: Some(vec![Sensitivity::Public]),
                ..Cond::default()
            },
            decision: DecisionKind::Allow,
            rationale: "PUBLIC_INFERENCE",
            max_tokens: None,
        },
        Rule {
            id: s("g_review_tool_invoke"),
            priority: 10,
            cond: Cond {
                actions: Some(vec![Action::ToolInvoke]),
                ..Cond::default()
            },
            decision: DecisionKind::RequireReview,
            rationale: "TOOL_USE_NEEDS_REVIEW",
            max_tokens: None,
        },
    ]
}

/// Rule `kind` (0..TENANT_KINDS) of tenant `t`. Thresholds come from a generator seeded
/// by the tenant number, so tenant `t` has the same rules at every policy size.
fn tenant_rule(t: usize, env: &str, kind: usize) -> Rule {
    let mut rng = Rng::new(SEED ^ (t as u64).wrapping_mul(0x100_0000_01B3));
    let prompt_limit = *rng
        .pick(&[2_000_i64, 4_000, 8_000, 16_000])
        .unwrap_or(&4_000);
    let cap = *rng.pick(&[256_u32, 512, 1_024, 2_048]).unwrap_or(&512);
    let model = (*rng.pick(&MODELS).unwrap_or(&"chat-large")).to_owned();
    // 0.40..=0.85: always below the global 0.90 block, so the rule can decide.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "below(46) < 46 fits in u32"
    )]
    let risk = 40 + rng.below(46) as u32;
    let envs = Some(vec![env.to_owned()]);
    let tag = format!("t{t:05}");
    match kind {
        0 => Rule {
            id: format!("{tag}_block_untrusted_write"),
            priority: 550_000,
            cond: Cond {
                envs,
                actions: Some(vec![Action::DataWrite]),
                caller_trust: Some(vec!["low"]),
                ..Cond::default()
            },
            decision: DecisionKind::Block,
            rationale: "TENANT_UNTRUSTED_WRITE",
            max_tokens: None,
        },
        1 => Rule {
            id: format!("{tag}_degrade_long_infer"),
            priority: 540_000,
            cond: Cond {
                envs,
                actions: Some(vec![Action::InferRun]),
                prompt_tokens_gt: Some(prompt_limit),
                ..Cond::default()
            },
            decision: DecisionKind::Degrade,
            rationale: "TENANT_LONG_PROMPT",
            max_tokens: Some(cap),
        },
        2 => Rule {
            id: format!("{tag}_review_risky_model"),
            priority: 530_000,
            cond: Cond {
                envs,
                actions: Some(vec![Action::InferRun]),
                sensitivities: Some(vec![Sensitivity::Internal, Sensitivity::Restricted]),
                model: Some(model),
                risk_gte: Some(risk),
                ..Cond::default()
            },
            decision: DecisionKind::RequireReview,
            rationale: "TENANT_RISKY_MODEL_USE",
            max_tokens: None,
        },
        3 => Rule {
            id: format!("{tag}_allow_service_tools"),
            priority: 520_000,
            cond: Cond {
                envs,
                actions: Some(vec![Action::ToolInvoke]),
                subject_type: Some("service".to_owned()),
                subject_id: Some(service_account(t)),
                ..Cond::default()
            },
            decision: DecisionKind::Allow,
            rationale: "TENANT_SERVICE_TOOLS",
            max_tokens: None,
        },
        _ => Rule {
            id: format!("{tag}_allow_trusted"),
            priority: 510_000,
            cond: Cond {
                envs,
                actions: Some(vec![Action::InferRun, Action::DataRead]),
                sensitivities: Some(vec![Sensitivity::Public, Sensitivity::Internal]),
                caller_trust: Some(vec!["medium", "high"]),
                ..Cond::default()
            },
            decision: DecisionKind::Allow,
            rationale: "TENANT_TRUSTED_USE",
            max_tokens: None,
        },
    }
}

/// The service account a tenant's tool rule allows.
pub fn service_account(t: usize) -> String {
    format!("svc-t{t:05}-agent")
}

/// The environment name of tenant `t`.
pub fn tenant_env(t: usize) -> String {
    format!("tenant-{t:05}")
}

impl Cond {
    /// Whether the facts satisfy every constraint (absent facts satisfy none).
    pub fn holds(&self, f: &Facts) -> bool {
        fn one_of<T: PartialEq>(set: Option<&Vec<T>>, v: &T) -> bool {
            set.is_none_or(|s| s.contains(v))
        }
        let (stype, sid) = match &f.subject {
            Some((t, i)) => (t.as_deref(), i.as_deref()),
            None => (None, None),
        };
        one_of(self.actions.as_ref(), &f.action)
            && self.envs.as_ref().is_none_or(|s| s.contains(&f.env))
            && self
                .resource_type
                .as_ref()
                .is_none_or(|v| *v == f.resource_type)
            && one_of(self.sensitivities.as_ref(), &f.sensitivity)
            && self
                .subject_type
                .as_deref()
                .is_none_or(|v| stype == Some(v))
            && self.subject_id.as_deref().is_none_or(|v| sid == Some(v))
            && self
                .caller_trust
                .as_ref()
                .is_none_or(|s| f.caller_trust.is_some_and(|c| s.contains(&c)))
            && self
                .model
                .as_deref()
                .is_none_or(|v| f.model.as_deref() == Some(v))
            && self
                .prompt_tokens_gt
                .is_none_or(|g| f.prompt_tokens.is_some_and(|p| p > g))
            && self.risk_gte.is_none_or(|g| f.risk.is_some_and(|r| r >= g))
    }
}

impl Scenario {
    /// The policy of `size` rules: the global rules, then tenants of five rules each
    /// (the last tenant may have fewer).
    pub fn generate(size: usize) -> Self {
        let mut rules: Vec<Rule> = global_rules().into_iter().take(size).collect();
        let mut tenants = Vec::new();
        let mut t = 0;
        while rules.len() < size {
            let env = tenant_env(t);
            for kind in 0..TENANT_KINDS {
                if rules.len() == size {
                    break;
                }
                rules.push(tenant_rule(t, &env, kind));
            }
            tenants.push(env);
            t += 1;
        }
        Self {
            size,
            rules,
            tenants,
        }
    }

    /// The reference decision: the highest-priority matching rule, else BLOCK.
    pub fn decide(&self, f: &Facts) -> Outcome {
        self.rules
            .iter()
            .filter(|r| r.cond.holds(f))
            .max_by_key(|r| r.priority)
            .map_or_else(Outcome::default_block, |r| Outcome {
                decision: r.decision,
                rule_id: Some(r.id.clone()),
                max_tokens: r.max_tokens,
            })
    }

    /// Pairs of equal-priority rules that both match `f` (must be empty for a valid policy).
    pub fn equal_priority_clashes(&self, f: &Facts) -> Vec<(String, String)> {
        let matching: Vec<&Rule> = self.rules.iter().filter(|r| r.cond.holds(f)).collect();
        let mut out = Vec::new();
        for (i, a) in matching.iter().enumerate() {
            for b in matching.iter().skip(i + 1) {
                if a.priority == b.priority {
                    out.push((a.id.clone(), b.id.clone()));
                }
            }
        }
        out
    }

    /// A request that satisfies `rule` with as few facts as possible; the generator is
    /// built so that this request is decided by `rule` (checked by [`Scenario::requests`]).
    fn witness(rule: &Rule, n: usize) -> Facts {
        let c = &rule.cond;
        let first = |v: &Option<Vec<String>>, dflt: &str| {
            v.as_ref()
                .and_then(|s| s.first().cloned())
                .unwrap_or_else(|| dflt.to_owned())
        };
        let subject = match (&c.subject_type, &c.subject_id) {
            (None, None) => None,
            (t, i) => Some((t.clone(), i.clone())),
        };
        Facts {
            request_id: format!("req-w{n}"),
            action: c
                .actions
                .as_ref()
                .and_then(|a| a.first().copied())
                .unwrap_or(Action::DataRead),
            env: first(&c.envs, "dev"),
            resource_type: c
                .resource_type
                .clone()
                .unwrap_or_else(|| "document".to_owned()),
            sensitivity: c
                .sensitivities
                .as_ref()
                .and_then(|s| s.first().copied())
                .unwrap_or(Sensitivity::Internal),
            subject,
            caller_trust: c.caller_trust.as_ref().and_then(|s| s.first().copied()),
            model: c.model.clone(),
            prompt_tokens: c.prompt_tokens_gt.map(|g| g + 1),
            risk: c.risk_gte,
        }
    }

    /// A request that no rule matches.
    fn default_witness() -> Facts {
        Facts {
            request_id: "req-default".to_owned(),
            action: Action::DataRead,
            env: "dev".to_owned(),
            resource_type: "document".to_owned(),
            sensitivity: Sensitivity::Internal,
            subject: None,
            caller_trust: None,
            model: None,
            prompt_tokens: None,
            risk: None,
        }
    }

    fn random_request(&self, rng: &mut Rng, n: usize) -> Facts {
        let in_tenant = !self.tenants.is_empty() && rng.chance(60);
        let (env, tenant) = if in_tenant {
            let t = rng.below(self.tenants.len());
            (tenant_env(t), Some(t))
        } else {
            let e = *rng.pick(&SHARED_ENVS).unwrap_or(&"dev");
            (e.to_owned(), None)
        };
        let action = *rng.pick(&Action::ALL).unwrap_or(&Action::DataRead);
        let sensitivity = *rng
            .pick(&Sensitivity::ALL)
            .unwrap_or(&Sensitivity::Internal);
        let resource_type = (*rng.pick(&RESOURCE_TYPES).unwrap_or(&"document")).to_owned();
        let subject = if rng.chance(75) {
            let kind = *rng.pick(&SUBJECT_TYPES).unwrap_or(&"user");
            let id = match (kind, tenant) {
                ("service", Some(t)) if rng.chance(70) => service_account(t),
                ("service", _) => format!("svc-{}", rng.below(1000)),
                _ => format!("user-{}", rng.below(100_000)),
            };
            let kind = rng.chance(90).then(|| kind.to_owned());
            let id = rng.chance(90).then_some(id);
            Some((kind, id))
        } else {
            None
        };
        let caller_trust = rng
            .chance(70)
            .then(|| *rng.pick(&TRUST_LEVELS).unwrap_or(&"low"));
        let model = rng
            .chance(70)
            .then(|| (*rng.pick(&MODELS).unwrap_or(&"chat-large")).to_owned());
        #[expect(
            clippy::cast_possible_wrap,
            reason = "below(40_000) < 40_000 fits in i64"
        )]
        let prompt_tokens = rng.chance(70).then(|| rng.below(40_000) as i64);
        #[expect(clippy::cast_possible_truncation, reason = "below(100) < 100")]
        let risk = rng.chance(70).then(|| rng.below(100) as u32);
        Facts {
            request_id: format!("req-r{n}"),
            action,
            env,
            resource_type,
            sensitivity,
            subject,
            caller_trust,
            model,
            prompt_tokens,
            risk,
        }
    }

    /// The fairness and timing requests: one witness per rule (each decided by its
    /// rule), one default witness, then seeded random requests, at least
    /// [`MIN_REQUESTS`] in all and at least [`MIN_RANDOM`] random ones. Interleaved
    /// deterministically so that any prefix or stride sample mixes both kinds.
    ///
    /// Errors when a witness is not decided by its rule or two equal-priority rules
    /// match one request: the generator would then be wrong, not an engine.
    pub fn requests(&self) -> Result<Vec<Facts>, String> {
        let mut witnesses = Vec::with_capacity(self.rules.len() + 1);
        for (n, rule) in self.rules.iter().enumerate() {
            let w = Self::witness(rule, n);
            let got = self.decide(&w);
            if got.rule_id.as_deref() != Some(rule.id.as_str()) {
                return Err(format!(
                    "generator bug: witness of `{}` is decided by {:?}",
                    rule.id, got.rule_id
                ));
            }
            witnesses.push(w);
        }
        let d = Self::default_witness();
        if self.decide(&d).rule_id.is_some() {
            return Err("generator bug: the default witness matches a rule".to_owned());
        }
        witnesses.push(d);

        let w_total = witnesses.len();
        let total = MIN_REQUESTS.max(w_total + MIN_RANDOM);
        let mut rng = Rng::new(SEED ^ (self.size as u64));
        let mut out = Vec::with_capacity(total);
        let mut witnesses = witnesses.into_iter();
        let mut w_taken = 0;
        // Spread the witnesses evenly: position i holds one when the share of
        // witnesses so far, w_total * (i + 1) / total, is ahead of those taken.
        for i in 0..total {
            if (i + 1) * w_total / total > w_taken {
                if let Some(w) = witnesses.next() {
                    out.push(w);
                }
                w_taken += 1;
            } else {
                out.push(self.random_request(&mut rng, i));
            }
        }
        for f in &out {
            if let Some((a, b)) = self.equal_priority_clashes(f).first() {
                return Err(format!(
                    "generator bug: equal-priority rules `{a}` and `{b}` both match `{}`",
                    f.request_id
                ));
            }
        }
        Ok(out)
    }
}

impl Facts {
    /// The EvaluateRequest v1 JSON body of these facts.
    pub fn to_json(&self) -> Vec<u8> {
        use serde_json::{Map, Value, json};
        let mut resource = Map::new();
        resource.insert("type".into(), Value::from(self.resource_type.as_str()));
        resource.insert("sensitivity".into(), Value::from(self.sensitivity.as_str()));
        let mut body = Map::new();
        body.insert("request_id".into(), Value::from(self.request_id.as_str()));
        body.insert("action".into(), Value::from(self.action.as_str()));
        body.insert("env".into(), json!({ "name": self.env }));
        body.insert("resource".into(), Value::Object(resource));
        if let Some((t, i)) = &self.subject {
            let mut s = Map::new();
            if let Some(t) = t {
                s.insert("type".into(), Value::from(t.as_str()));
            }
            if let Some(i) = i {
                s.insert("id".into(), Value::from(i.as_str()));
            }
            body.insert("subject".into(), Value::Object(s));
        }
        let mut signals = Map::new();
        if let Some(c) = self.caller_trust {
            signals.insert("caller_trust".into(), Value::from(c));
        }
        if let Some(m) = &self.model {
            signals.insert("model".into(), Value::from(m.as_str()));
        }
        if let Some(p) = self.prompt_tokens {
            signals.insert("prompt_tokens".into(), Value::from(p));
        }
        if let Some(r) = self.risk {
            signals.insert("risk_score".into(), Value::from(f64::from(r) / 100.0));
        }
        if !signals.is_empty() {
            body.insert("signals".into(), Value::Object(signals));
        }
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_have_exact_rule_counts_and_unique_ids() {
        for size in SIZES {
            let s = Scenario::generate(size);
            assert_eq!(s.rules.len(), size);
            let mut ids: Vec<&str> = s.rules.iter().map(|r| r.id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), size, "duplicate rule ids at size {size}");
        }
    }

    #[test]
    fn tenants_are_stable_across_sizes() {
        let small = Scenario::generate(100);
        let big = Scenario::generate(1_000);
        assert_eq!(small.rules[..], big.rules[..100]);
    }

    #[test]
    fn requests_cover_every_rule_and_the_default() {
        let s = Scenario::generate(100);
        let reqs = s.requests().unwrap();
        assert!(reqs.len() >= MIN_REQUESTS);
        let decided: std::collections::BTreeSet<Option<String>> =
            reqs.iter().map(|f| s.decide(f).rule_id).collect();
        assert!(decided.contains(&None));
        for r in &s.rules {
            assert!(decided.contains(&Some(r.id.clone())), "{} uncovered", r.id);
        }
        for kind in DecisionKind::ALL {
            assert!(reqs.iter().any(|f| s.decide(f).decision == kind));
        }
    }

    #[test]
    fn requests_are_deterministic() {
        let s = Scenario::generate(10);
        assert_eq!(s.requests().unwrap(), s.requests().unwrap());
    }

    #[test]
    fn json_round_trips_through_the_contract() {
        let s = Scenario::generate(100);
        for f in s.requests().unwrap().iter().take(500) {
            let body = f.to_json();
            policygate_api::EvaluateRequest::from_json(&body).unwrap();
        }
    }
}
