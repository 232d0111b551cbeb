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

/// [`ShadowOutcome`], borrowed from the shadow policy's decision: writes exactly the
/// bytes of the owned form (a test checks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShadowOutcomeRef<'a> {
    /// The shadow policy, with its JSON.
    pub policy: &'a crate::Rendered<PolicyIdentity>,
    /// Its decision; `None` when it refused the request.
    pub decision: Option<DecisionKind>,
    /// Its deciding rule.
    pub matched_rule_id: Option<&'a str>,
    /// Its rationale codes.
    pub rationale_codes: &'a [String],
    /// Whether it differs from the live decision.
    pub differs: bool,
    /// The error code of a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_borrowed_form_writes_the_owned_bytes() {
        let policy = PolicyIdentity {
            policy_id: "p".into(),
            policy_version: "v\"1".into(),
            policy_sha256: "a".repeat(64),
        };
        let codes = vec!["A".to_owned()];
        for (decision, error_code) in [
            (Some(DecisionKind::Block), None),
            (None, Some(ErrorCode::InvalidRequest)),
        ] {
            let rendered = crate::Rendered::new(policy.clone());
            let borrowed = ShadowOutcomeRef {
                policy: &rendered,
                decision,
                matched_rule_id: decision.map(|_| "r\u{e9}"),
                rationale_codes: if decision.is_some() { &codes } else { &[] },
                differs: true,
                error_code,
            };
            let owned = ShadowOutcome {
                policy: policy.clone(),
                decision,
                matched_rule_id: borrowed.matched_rule_id.map(str::to_owned),
                rationale_codes: borrowed.rationale_codes.to_vec(),
                differs: true,
                error_code,
            };
            assert_eq!(
                serde_json::to_string(&borrowed).unwrap(),
                serde_json::to_string(&owned).unwrap()
            );
        }
    }
}
