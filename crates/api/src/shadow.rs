//! The shadow outcome of an audit event: what a candidate policy, run beside the live
//! one on real traffic (`serve --shadow-policy`), would have decided. It is recorded,
//! never enforced.

use crate::domain::DecisionKind;
use crate::error::ErrorCode;
use crate::response::PolicyIdentity;
use serde::{Deserialize, Serialize};

/// `shadow` of an audit event. Field order is stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ShadowOutcome {
    /// The shadow policy.
    pub policy: PolicyIdentity,
    /// Its decision; `null` when it refused the request (see `error_code`).
    pub decision: Option<DecisionKind>,
    /// Its deciding rule; `null` for its default or a refusal.
    pub matched_rule_id: Option<String>,
    /// Its rationale codes (empty for a refusal).
    pub rationale_codes: Vec<String>,
    /// True when its decision or obligations are not the live policy's (a refusal
    /// always differs).
    pub differs: bool,
    /// The shadow policy refused the request (e.g. a signal it declares with another
    /// type): the error code the live policy would have answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
}
