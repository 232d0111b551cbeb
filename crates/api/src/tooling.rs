//! Shapes of the policy authors' tools: the explanation of one decision (`policygate
//! explain --format json` and `POST /explain`) and the report of a test run
//! (`policygate test --format json`). They live here because only this crate defines
//! JSON shapes; the engine fills them, the CLI and the server print them.

use crate::domain::DecisionKind;
use crate::request::EvaluateRequest;
use crate::response::{EvaluateResponse, Obligation};
use serde::Serialize;
use serde_json::Value;

/// The explain document: the decision and the trace of rules that produced it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExplainResponse {
    /// The decision, exactly as `POST /evaluate` answers it.
    pub response: EvaluateResponse,
    /// True when no rule matched and the policy's default decided.
    pub default_applied: bool,
    /// True when the trace lists every rule (`--all`), not only those down to the
    /// deciding one.
    pub complete: bool,
    /// Rules in evaluation order (priority descending, then file order).
    pub trace: Vec<TraceStep>,
}

/// One rule of the trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TraceStep {
    /// The rule's `rule_id`.
    pub rule_id: String,
    /// Its priority.
    pub priority: u32,
    /// Line of the rule's `rule_id` in the policy file.
    pub line: u32,
    /// Whether the rule's condition holds for the request.
    pub matched: bool,
    /// True for the rule that decided.
    pub decided: bool,
    /// For a rule that did not match: the first condition that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailedCondition>,
}

/// The first condition of a rule that failed for a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FailedCondition {
    /// Fact path, e.g. `resource.sensitivity` or `signals.risk_score`.
    pub fact: String,
    /// Operator as written in policies (`eq`, `in`, `gte`, `exists`…); a plain value is `eq`.
    pub operator: String,
    /// The operator's operand in the policy.
    pub expected: Value,
    /// True when the test sits under a `not`: it held, and the rule needs it not to.
    pub negated: bool,
    /// The fact's value in the request; absent when the request does not carry it
    /// (or carries null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<Value>,
    /// True when the request does not carry the fact (or carries null).
    pub absent: bool,
    /// Line of the test in the policy file.
    pub line: u32,
}

/// What a test case asserts, or what it got. Unset fields are not asserted.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CaseOutcome {
    /// The decision.
    pub decision: DecisionKind,
    /// Rationale codes, as an exact list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rationale_codes: Option<Vec<String>>,
    /// The rule that decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_rule_id: Option<String>,
    /// True when the default decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// Obligations, as an exact list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub obligations: Option<Vec<Obligation>>,
}

/// The result of one test case.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CaseResult {
    /// The case's `name`.
    pub name: String,
    /// Line of the case in the test file.
    pub line: u32,
    /// Whether every assertion held.
    pub passed: bool,
    /// What the case asserts.
    pub expected: CaseOutcome,
    /// What the policy decided.
    pub actual: CaseOutcome,
    /// For a failed case: why the actual rule decided and why the expected one did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// One test file's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TestFileResult {
    /// The test file.
    pub file: String,
    /// The policy it tests, as a path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// False when the test file or its policy is invalid (then `diagnostics` says why
    /// and no case ran).
    pub valid: bool,
    /// Problems of the test file or the policy, one line each (`file:line:col: code: message`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<String>,
    /// Every case that ran (after `--filter`).
    pub cases: Vec<CaseResult>,
}

/// Coverage of one rule (or of the default).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RuleCoverage {
    /// The rule's `rule_id`; absent for the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Line of the rule's `rule_id` in the policy file; absent for the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// How many cases this rule (or the default) decided.
    pub cases: u64,
    /// For an uncovered rule: a request that this rule decides, found by the analysis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<EvaluateRequest>,
    /// The suggestion as a YAML test case ready to paste under `cases:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion_yaml: Option<String>,
}

/// Rule coverage of one policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PolicyCoverage {
    /// The policy file.
    pub policy: String,
    /// Rules (and the default) that decided at least one case.
    pub covered: u64,
    /// Rules plus one for the default.
    pub total: u64,
    /// `covered / total` in percent.
    pub percent: f64,
    /// Per rule in evaluation order, then the default.
    pub rules: Vec<RuleCoverage>,
}

/// The `policygate test --format json` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TestReport {
    /// Cases that passed.
    pub passed: u64,
    /// Cases that failed.
    pub failed: u64,
    /// Test files that were invalid (or whose policy was).
    pub invalid_files: u64,
    /// Per test file, in path order.
    pub files: Vec<TestFileResult>,
    /// With `--coverage`: per policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Vec<PolicyCoverage>>,
}
