//! The report of `policygate diff OLD NEW`: which requests get a different answer
//! under the new policy, with one verified witness request per change.

use crate::domain::DecisionKind;
use crate::request::EvaluateRequest;
use crate::response::{Obligation, PolicyIdentity};
use serde::Serialize;

/// `report_version` of this shape.
pub const DIFF_REPORT_VERSION: &str = "1.0";

/// What one policy answers for a region of requests: the deciding rule (`null` for the
/// policy's default) and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DiffOutcome {
    /// The deciding rule; `null` when the policy's default decides.
    pub rule_id: Option<String>,
    /// The decision.
    pub decision: DecisionKind,
    /// Rationale codes, in the policy's order.
    pub rationale_codes: Vec<String>,
    /// Obligations (empty unless DEGRADE).
    pub obligations: Vec<Obligation>,
}

/// One pair (deciding rule under OLD, deciding rule under NEW) that some request
/// reaches, with a witness request that really gets both outcomes (it was evaluated
/// on both policies before it was reported).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DiffChange {
    /// False for a change of deciding rule whose outcome is identical (listed only
    /// with `--rules`).
    pub outcome_changed: bool,
    /// The answer under the old policy.
    pub old: DiffOutcome,
    /// The answer under the new policy.
    pub new: DiffOutcome,
    /// A request that gets `old` under the old policy and `new` under the new one.
    pub witness: EvaluateRequest,
}

/// A pair the analysis could not decide (string patterns it cannot solve, facts whose
/// type differs between the policies, or a region too fragmented to enumerate): it may
/// or may not be reached. Never reported as equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DiffUndecided {
    /// The answer under the old policy.
    pub old: DiffOutcome,
    /// The answer under the new policy.
    pub new: DiffOutcome,
    /// Why the analysis could not decide.
    pub reason: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DiffReport {
    /// Always [`DIFF_REPORT_VERSION`].
    #[cfg_attr(feature = "schema", schemars(extend("const" = DIFF_REPORT_VERSION)))]
    pub report_version: String,
    /// The old policy.
    pub old_policy: PolicyIdentity,
    /// The new policy.
    pub new_policy: PolicyIdentity,
    /// True when every request gets the same outcome (decision, rationale codes and
    /// obligations) under both policies: no outcome change and nothing undecided.
    pub equivalent: bool,
    /// Rules whose id, priority, condition or outcome differ (old side and new side).
    pub changed_rules: ChangedRules,
    /// Facts whose declaration (type, enum, range) differs: a request outside the
    /// common domain is refused (422) by one policy and decided by the other.
    pub changed_facts: Vec<String>,
    /// Every reachable pair whose outcome differs, and with `--rules` every pair whose
    /// deciding rule differs.
    pub changes: Vec<DiffChange>,
    /// Pairs the analysis could not decide.
    pub undecided: Vec<DiffUndecided>,
}

/// The rules the diff had to analyse; every other rule is identical in both policies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChangedRules {
    /// Rules of the old policy without an identical counterpart in the new one.
    pub old: Vec<String>,
    /// Rules of the new policy without an identical counterpart in the old one.
    pub new: Vec<String>,
    /// True when the default's outcome differs.
    pub default: bool,
}
