//! STUB façade (being implemented): the signatures below are the contract other crates build on.
#![warn(missing_docs)]

use policygate_api::{
    DecisionKind, EvaluateRequest, EvaluateResponse, Obligation, PolicyIdentity, Problem,
};
use std::collections::BTreeSet;

/// Options for [`load`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Treat warnings (shadowed rules, may-overlap) as errors.
    pub strict: bool,
}

/// One validation finding.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Stable code, e.g. `policygate::validate::unknown_fact`.
    pub code: String,
    /// One-line message.
    pub message: String,
}

/// Everything validation found; warnings kept apart from errors.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Errors: the policy is refused when there is any.
    pub errors: Vec<Diagnostic>,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
}

impl Report {
    /// Human rendering with source snippets (no colour unless `color`).
    pub fn render_human(&self, _color: bool) -> String {
        String::new()
    }
    /// JSON rendering for machines.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// A validated, compiled policy. Cheap to share (`Arc`) and evaluate concurrently.
#[derive(Debug)]
pub struct Policy {
    identity: PolicyIdentity,
    tested: BTreeSet<String>,
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

/// Parses, validates and compiles a policy file. `Some(policy)` exactly when the report has no errors.
pub fn load(source_name: &str, bytes: &[u8], options: &LoadOptions) -> (Option<Policy>, Report) {
    let _ = (source_name, bytes, options);
    (None, Report::default())
}

impl Policy {
    /// id, version, sha256.
    pub fn identity(&self) -> &PolicyIdentity {
        &self.identity
    }
    /// Policy-aware request checks (declared signal types); problems carry JSON pointers.
    pub fn check_request(&self, _request: &EvaluateRequest) -> Result<(), Vec<Problem>> {
        Ok(())
    }
    /// Decides.
    pub fn evaluate(&self, _request: &EvaluateRequest) -> Decision<'_> {
        Decision {
            decision: DecisionKind::Block,
            rationale_codes: &[],
            obligations: &[],
            matched_rule_id: None,
        }
    }
    /// Fact paths any rule tests, e.g. `action`, `env.name`, `resource.sensitivity`, `subject`, `subject.type`, `signals.risk_score`.
    pub fn tested_facts(&self) -> &BTreeSet<String> {
        &self.tested
    }
}
