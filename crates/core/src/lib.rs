//! PolicyGate's policy engine: parse, validate, compile and evaluate policies.
//!
//! The engine does no I/O, no async, and reads no clock, randomness or hash-map
//! order: a decision is a pure function of the policy bytes and the request.
//!
//! ```
//! use policygate_core::{load, LoadOptions};
//! use policygate_api::{DecisionKind, EvaluateRequest};
//!
//! let policy_text = r#"
//! policy_id: demo
//! policy_version: "1"
//! default: { decision: BLOCK, rationale_codes: [POLICY_DEFAULT_DENY] }
//! rules:
//!   - rule_id: allow_public
//!     priority: 100
//!     when: { action: infer:run, resource: { sensitivity: public } }
//!     then: { decision: ALLOW, rationale_codes: [ALLOW_PUBLIC] }
//! "#;
//! let (policy, report) = load("demo.yaml", policy_text.as_bytes(), &LoadOptions::default());
//! assert!(!report.has_errors(), "{}", report.render_human(false));
//! let policy = policy.unwrap();
//!
//! let request = EvaluateRequest::from_json(br#"{"action": "infer:run", "env": {"name": "prod"},
//!     "resource": {"type": "document", "sensitivity": "public"}}"#).unwrap();
//! let decision = policy.evaluate(&request);
//! assert_eq!(decision.decision, DecisionKind::Allow);
//! assert_eq!(decision.matched_rule_id, Some("allow_public"));
//! ```
#![warn(missing_docs)]

mod analysis;
mod check;
mod compile;
mod diag;
mod eval;
mod explain;
pub mod gateway;
mod hint;
mod loc;
mod model;
mod parse;
mod suite;
mod yaml;

pub use diag::{Code, Diagnostic, Report, Severity};
pub use explain::describe_failure;
pub use loc::Loc;
pub use suite::{Suite, SuiteDoc, TestCase, deep_merge, parse_suite, run_case};

use compile::Index;
use model::{Domain, Fact, FactInfo, Num, Outcome, Rule};
use policygate_api::{
    DecisionKind, EvaluateRequest, EvaluateResponse, ExplainResponse, Obligation, PolicyIdentity,
    Problem, SignalValue, TraceStep,
};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// Options for [`load`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Treat warnings (shadowed rules, possible overlaps, style) as errors.
    pub strict: bool,
}

/// A validated, compiled policy. Immutable; share it behind an `Arc` and evaluate
/// from any number of threads.
#[derive(Debug)]
pub struct Policy {
    /// With its JSON, written into every audit event the policy decides.
    identity: policygate_api::Rendered<PolicyIdentity>,
    facts: Vec<FactInfo>,
    /// In evaluation order: priority descending, then file order.
    rules: Vec<Rule>,
    index: Index,
    default: Outcome,
    tested: TestedFacts,
}

/// The facts some rule of a policy tests: what `--audit-context tested` records.
///
/// Every fact a request can carry has a field; a whole `subject` is tested by `exists`.
/// Fields can be read and set, but only [`Policy::tested_facts`] (or `default()`)
/// builds one, so that a new fact kind is a compile error where facts are copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestedFacts {
    /// `action`.
    pub action: bool,
    /// `env.name`.
    pub env_name: bool,
    /// `resource.type`.
    pub resource_type: bool,
    /// `resource.id`.
    pub resource_id: bool,
    /// `resource.sensitivity`.
    pub resource_sensitivity: bool,
    /// `subject` as a whole (an `exists` test).
    pub subject: bool,
    /// `subject.type`.
    pub subject_type: bool,
    /// `subject.id`.
    pub subject_id: bool,
    /// `caller.id` (the authenticated caller; audit events carry it as `caller_id`).
    pub caller_id: bool,
    /// Names of the tested signals (`signals.<name>`), sorted, each once.
    pub signals: Vec<String>,
}

impl TestedFacts {
    /// The paths of the tested facts, as audit events name them in
    /// `decision_context_covers` (`action`, `env.name`, …, `caller.id`,
    /// `signals.<name>`), in that order.
    pub fn paths(&self) -> Vec<String> {
        let flags = [
            (self.action, "action"),
            (self.env_name, "env.name"),
            (self.resource_type, "resource.type"),
            (self.resource_id, "resource.id"),
            (self.resource_sensitivity, "resource.sensitivity"),
            (self.subject, "subject"),
            (self.subject_type, "subject.type"),
            (self.subject_id, "subject.id"),
            (self.caller_id, "caller.id"),
        ];
        let mut out: Vec<String> = flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, p)| (*p).to_owned())
            .collect();
        out.extend(self.signals.iter().map(|s| format!("signals.{s}")));
        out
    }

    /// True when some rule tests `signals.<name>`.
    pub fn signal(&self, name: &str) -> bool {
        self.signals
            .binary_search_by(|s| s.as_str().cmp(name))
            .is_ok()
    }

    fn insert(&mut self, fact: &Fact) {
        match fact {
            Fact::Action => self.action = true,
            Fact::EnvName => self.env_name = true,
            Fact::ResourceType => self.resource_type = true,
            Fact::ResourceId => self.resource_id = true,
            Fact::Sensitivity => self.resource_sensitivity = true,
            Fact::Subject => self.subject = true,
            Fact::SubjectType => self.subject_type = true,
            Fact::SubjectId => self.subject_id = true,
            Fact::CallerId => self.caller_id = true,
            Fact::Signal(name) => {
                if let Err(at) = self.signals.binary_search(name) {
                    self.signals.insert(at, name.clone());
                }
            }
        }
    }
}

/// The outcome of one evaluation, borrowing from the policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision<'p> {
    /// The decision.
    pub decision: DecisionKind,
    /// Rationale codes.
    pub rationale_codes: &'p [String],
    /// Obligations (non-empty exactly for DEGRADE).
    pub obligations: &'p [Obligation],
    /// The matched rule; `None` when the default decided.
    pub matched_rule_id: Option<&'p str>,
}

impl Decision<'_> {
    /// True when no rule matched.
    pub fn default_applied(&self) -> bool {
        self.matched_rule_id.is_none()
    }

    /// The wire response.
    pub fn to_response(&self, correlation_id: String, policy: &PolicyIdentity) -> EvaluateResponse {
        EvaluateResponse {
            correlation_id,
            decision: self.decision,
            rationale_codes: self.rationale_codes.to_vec(),
            obligations: self.obligations.to_vec(),
            policy: policy.clone(),
            matched_rule_id: self.matched_rule_id.map(str::to_owned),
        }
    }
}

/// A rule as policy tools list it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo<'p> {
    /// `rule_id`.
    pub rule_id: &'p str,
    /// Priority.
    pub priority: u32,
    /// Line of the `rule_id` in the policy file.
    pub line: u32,
}

/// Lowercase hex SHA-256 of the bytes: the policy fingerprint.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Parses, validates (structure, then semantics, reporting every problem) and
/// compiles a policy file. Returns `Some(policy)` exactly when the report has no errors.
pub fn load(source_name: &str, bytes: &[u8], options: &LoadOptions) -> (Option<Policy>, Report) {
    let mut diags = Vec::new();
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(e) => {
            let offset = e.valid_up_to();
            let before = bytes.get(..offset).unwrap_or_default();
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or_default())
                .chars()
                .count()
                + 1;
            let at = Loc::new(
                u32::try_from(line).unwrap_or(u32::MAX),
                u32::try_from(column).unwrap_or(u32::MAX),
                offset,
                1,
            );
            diags.push(
                diag::Diagnostic::error(
                    Code::NotUtf8,
                    format!("the file is not UTF-8 (invalid byte at offset {offset})"),
                )
                .at(at)
                .help("save the policy as UTF-8 text"),
            );
            let lossy = String::from_utf8_lossy(bytes).into_owned();
            return (None, Report::new(source_name, lossy, diags, options.strict));
        }
    };
    let root = match yaml::parse(&text) {
        Ok(root) => root,
        Err(e) => {
            let code = if e.duplicate_key {
                Code::DuplicateKey
            } else {
                Code::YamlSyntax
            };
            let help = if e.duplicate_key {
                "remove one of the two entries: YAML parsers silently keep the last, which hides mistakes"
            } else {
                "fix the YAML syntax at the marked position"
            };
            let mut d = diag::Diagnostic::error(code, e.message).help(help);
            if let Some(loc) = e.loc {
                d = d.at(loc);
            }
            diags.push(d);
            return (None, Report::new(source_name, text, diags, options.strict));
        }
    };
    // Each stage's input is dropped as soon as the next stage has what it needs (the
    // tree rule by rule while stage one reads it), so that the YAML tree, the raw
    // policy and the analysis are never all held at once (the peak memory of loading
    // a large policy).
    let raw = parse::Parser::new(&mut diags).document(root);
    let structure_ok = diags.iter().all(|d| d.severity() != Severity::Error);
    let checked = check::Checker::run(&raw, &mut diags, structure_ok);
    let (policy_id, policy_version, default) = (raw.policy_id, raw.policy_version, raw.default);
    drop(raw.rules);
    let keys = analysis::analyse(&checked.facts, &checked.rules, &mut diags);
    let report = Report::new(source_name, text, diags, options.strict);
    if report.has_errors() || !checked.all_rules_valid {
        return (None, report);
    }
    let (Some(policy_id), Some(policy_version), Some(default)) =
        (policy_id, policy_version, default)
    else {
        return (None, report);
    };
    let identity = PolicyIdentity {
        policy_id,
        policy_version,
        policy_sha256: fingerprint(bytes),
    };
    let mut order: Vec<usize> = (0..checked.rules.len()).collect();
    order.sort_by_key(|i| {
        (
            std::cmp::Reverse(checked.rules.get(*i).map_or(0, |r| r.priority)),
            *i,
        )
    });
    // Moved into evaluation order, not copied.
    let mut by_file: Vec<Option<Rule>> = checked.rules.into_iter().map(Some).collect();
    let rules: Vec<Rule> = order
        .iter()
        .filter_map(|i| by_file.get_mut(*i).and_then(Option::take))
        .collect();
    drop(by_file);
    let mut keys = keys;
    let keys: Vec<analysis::RuleKeys> = order
        .iter()
        .map(|i| keys.get_mut(*i).and_then(Option::take))
        .collect();
    let index = Index::build(&rules, &keys);
    let mut tested = TestedFacts::default();
    for r in &rules {
        collect_tested(&r.when, &checked.facts, &mut tested);
    }
    let policy = Policy {
        identity: policygate_api::Rendered::new(identity),
        facts: checked.facts,
        rules,
        index,
        default,
        tested,
    };
    (Some(policy), report)
}

fn collect_tested(cond: &model::Cond, facts: &[FactInfo], out: &mut TestedFacts) {
    match cond {
        model::Cond::All(cs) | model::Cond::Any(cs) => {
            cs.iter().for_each(|c| collect_tested(c, facts, out))
        }
        model::Cond::Not(c) => collect_tested(c, facts, out),
        model::Cond::Pred(p) => {
            if let Some(info) = facts.get(p.fact) {
                out.insert(&info.fact);
            }
        }
    }
}

impl Policy {
    /// id, version and SHA-256 fingerprint.
    pub fn identity(&self) -> &PolicyIdentity {
        self.identity.value()
    }

    /// [`Policy::identity`] with its JSON rendered once, for the lines that carry it
    /// on every decision (the audit event).
    pub fn rendered_identity(&self) -> &policygate_api::Rendered<PolicyIdentity> {
        &self.identity
    }

    /// Number of rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Policy-aware request checks: every signal declared under `facts:` must have
    /// its declared type and domain. Problems carry JSON pointers (`/signals/<name>`).
    pub fn check_request(&self, request: &EvaluateRequest) -> Result<(), Vec<Problem>> {
        let mut problems = Vec::new();
        for info in &self.facts {
            let Fact::Signal(name) = &info.fact else {
                continue;
            };
            let Some(value) = request.signal(name).filter(|v| **v != SignalValue::Null) else {
                if info.required {
                    problems.push(Problem::new(
                        format!("/signals/{name}"),
                        "required signal is missing (the policy declares it `required: true`)",
                    ));
                }
                continue;
            };
            if info.untyped {
                continue;
            }
            if let Err(message) = check_declared(&info.domain, value) {
                problems.push(Problem::new(format!("/signals/{name}"), message));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Decides: the highest-priority rule whose condition holds, else the default.
    pub fn evaluate(&self, request: &EvaluateRequest) -> Decision<'_> {
        let candidates = self.index.candidates(&self.facts, request);
        self.decide(compile::first_match(
            &self.rules,
            candidates,
            &self.facts,
            request,
        ))
    }

    /// Decides without the index, trying every rule in evaluation order. The index
    /// must never change a decision; tests compare the two. Not part of the API.
    #[doc(hidden)]
    pub fn evaluate_in_order(&self, request: &EvaluateRequest) -> Decision<'_> {
        self.decide(
            self.rules
                .iter()
                .find(|r| eval::holds(&r.when, &self.facts, request)),
        )
    }

    /// Whether the decision index splits the rules at all (small policies are one
    /// list). For tests; not part of the API.
    #[doc(hidden)]
    pub fn uses_index(&self) -> bool {
        matches!(self.index, Index::Split { .. })
    }

    #[inline]
    fn decide<'p>(&'p self, rule: Option<&'p Rule>) -> Decision<'p> {
        let (then, id) = match rule {
            Some(rule) => (&rule.then, Some(rule.id.as_str())),
            None => (&self.default, None),
        };
        Decision {
            decision: then.decision,
            rationale_codes: &then.rationale_codes,
            obligations: &then.obligations,
            matched_rule_id: id,
        }
    }

    /// What changes between this policy and `new`: every pair (deciding rule or default
    /// here, deciding rule or default under `new`) that some request reaches and whose
    /// outcome differs, each with a witness request verified on both policies; pairs
    /// the analysis cannot decide are listed as undecided. With `rules`, changes of
    /// deciding rule with an identical outcome are listed too.
    pub fn diff(&self, new: &Policy, rules: bool) -> policygate_api::DiffReport {
        analysis::diff(self, new, rules)
    }

    /// Why the request gets its decision: the rules in evaluation order down to the
    /// deciding one (every rule when `all`), each matched or not, with the first
    /// failing test of each miss. The decision is [`Policy::evaluate`]'s.
    pub fn explain(
        &self,
        request: &EvaluateRequest,
        correlation_id: String,
        all: bool,
    ) -> ExplainResponse {
        let decision = self.evaluate(request);
        let mut trace = Vec::new();
        let mut decided = false;
        for rule in &self.rules {
            let mut step = explain::step(rule, &self.facts, request);
            if step.matched && !decided {
                decided = true;
                step.decided = true;
                trace.push(step);
                if !all {
                    break;
                }
                continue;
            }
            trace.push(step);
        }
        ExplainResponse {
            response: decision.to_response(correlation_id, self.identity.value()),
            default_applied: decision.default_applied(),
            complete: all || !decided,
            trace,
        }
    }

    /// The trace of one rule for a request; `None` for an unknown rule id.
    pub fn explain_rule(&self, request: &EvaluateRequest, rule_id: &str) -> Option<TraceStep> {
        let rule = self.rules.iter().find(|r| r.id == rule_id)?;
        let mut step = explain::step(rule, &self.facts, request);
        step.decided = self.evaluate(request).matched_rule_id == Some(rule_id);
        Some(step)
    }

    /// The rules in evaluation order (priority descending, then file order).
    pub fn rules(&self) -> impl Iterator<Item = RuleInfo<'_>> {
        self.rules.iter().map(|r| RuleInfo {
            rule_id: &r.id,
            priority: r.priority,
            line: r.id_loc.line(),
        })
    }

    /// A request that the rule decides (it matches and no higher-priority rule does),
    /// or with `None` a request the default decides; found by the analysis and checked
    /// by evaluating it. `None` when there is none or the search gives up.
    pub fn suggest_request(&self, rule_id: Option<&str>) -> Option<EvaluateRequest> {
        let target = match rule_id {
            Some(id) => Some(self.rules.iter().position(|r| r.id == id)?),
            None => None,
        };
        // The evaluator's own path (index, then first rule that holds), by position.
        let decide = |req: &EvaluateRequest| {
            self.index
                .candidates(&self.facts, req)
                .iter()
                .filter_map(|i| usize::try_from(*i).ok())
                .find(|i| {
                    self.rules
                        .get(*i)
                        .is_some_and(|r| eval::holds(&r.when, &self.facts, req))
                })
        };
        let req = analysis::deciding_request(&self.facts, &self.rules, target, &decide)?;
        self.check_request(&req).ok()?;
        Some(req)
    }

    /// The facts any rule tests.
    pub fn tested_facts(&self) -> &TestedFacts {
        &self.tested
    }
}

fn check_declared(domain: &Domain, value: &SignalValue) -> Result<(), String> {
    fn range<T: PartialOrd + std::fmt::Display + Copy>(
        n: T,
        min: Option<T>,
        max: Option<T>,
    ) -> Result<(), String> {
        if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
            let lo = min.map(|m| m.to_string()).unwrap_or_default();
            let hi = max.map(|m| m.to_string()).unwrap_or_default();
            Err(format!("{n} is outside the declared range {lo}..{hi}"))
        } else {
            Ok(())
        }
    }
    match (domain, value) {
        (Domain::Enum(values), SignalValue::Str(s)) => {
            if values.contains(s) {
                Ok(())
            } else {
                Err(format!("`{s}` is not one of {}", values.join(", ")))
            }
        }
        (Domain::Str(_), SignalValue::Str(_))
        | (Domain::Bool, SignalValue::Bool(_))
        | (Domain::List, SignalValue::List(_)) => Ok(()),
        // Exact: integers are compared as integers, never through a float.
        (Domain::Int { min, max }, SignalValue::Int(i)) => range(*i, *min, *max),
        (Domain::Num { min, max }, SignalValue::Int(i)) => range(Num::Int(*i), *min, *max),
        (Domain::Num { min, max }, SignalValue::Float(f)) => {
            range(Num::Float(*f).canonical(), *min, *max)
        }
        (d, v) => Err(format!(
            "declared as {}, found {}",
            model::article(d.describe()),
            v.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tested_facts_are_typed_and_signals_sorted() {
        let text = r#"
policy_id: t
policy_version: "1"
default: { decision: BLOCK, rationale_codes: [D] }
rules:
  - rule_id: a
    priority: 2
    when:
      env: { name: prod }
      subject: { exists: true }
      signals: { zeta: true, alpha: { gt: 1 } }
    then: { decision: ALLOW, rationale_codes: [A] }
  - rule_id: b
    priority: 1
    when:
      any: [{ resource: { id: d1 } }, { not: { signals: { alpha: { gt: 5 } } } }]
    then: { decision: ALLOW, rationale_codes: [B] }
"#;
        let (policy, report) = load("t.yaml", text.as_bytes(), &LoadOptions::default());
        let policy = policy.unwrap_or_else(|| panic!("{}", report.render_human(false)));
        let t = policy.tested_facts();
        assert!(t.env_name && t.subject && t.resource_id);
        assert!(!t.action && !t.resource_type && !t.resource_sensitivity);
        assert!(!t.subject_type && !t.subject_id);
        assert_eq!(t.signals, ["alpha", "zeta"]);
        assert!(t.signal("alpha") && t.signal("zeta") && !t.signal("beta"));
    }
}
