//! What the enforcement point writes: the body of the PEP layer's `403` and the JSON
//! form of an enforced decision (for the PEP's logs). The PDP writes neither; they
//! live here because every JSON shape PolicyGate writes is defined in this crate.

use crate::domain::DecisionKind;
use crate::response::{Obligation, PolicyIdentity};
use serde::{Deserialize, Serialize};

/// Who made an enforced decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The PDP decided, and its answer passed the contract checks.
    Pdp,
    /// The enforcement point decided (always BLOCK): the PDP could not be reached, was
    /// too slow, answered badly, or its decision could not be honoured.
    Pep,
}

/// What a refused caller is told: the decision, its codes, where it came from and the
/// correlation id to quote to an operator. The body of the PEP layer's `403`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PepRefusal<'a> {
    /// Always `BLOCK` for a synthetic decision; the PDP's decision otherwise.
    pub decision: DecisionKind,
    /// The rationale codes.
    pub rationale_codes: &'a [String],
    /// Who decided.
    pub origin: Origin,
    /// The correlation id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<&'a str>,
}

/// An enforced decision as the PEP logs it: `{"decision", "rationale_codes",
/// "obligations"?, "origin", "correlation_id"?, "matched_rule_id"?, "policy"?}`. The
/// cause of a synthetic decision is not part of it: it may name internal hosts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnforcedDecisionRef<'a> {
    /// The decision enforced.
    pub decision: DecisionKind,
    /// The rationale codes (never empty).
    pub rationale_codes: &'a [String],
    /// The obligations; omitted when empty.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub obligations: &'a [Obligation],
    /// Who decided.
    pub origin: Origin,
    /// The correlation id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<&'a str>,
    /// The rule that decided, when the PDP named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_rule_id: Option<&'a str>,
    /// The policy that decided, when the PDP answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<&'a PolicyIdentity>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::OutputCap;

    #[test]
    fn enforced_decisions_keep_their_field_order_and_omissions() {
        let codes = ["SENSITIVE_OUTPUT_LIMIT".to_owned()];
        let caps = [Obligation::OutputCap(OutputCap {
            max_tokens: Some(20),
            ..OutputCap::default()
        })];
        let policy = PolicyIdentity {
            policy_id: "p".into(),
            policy_version: "1".into(),
            policy_sha256: "a".repeat(64),
        };
        let full = EnforcedDecisionRef {
            decision: DecisionKind::Degrade,
            rationale_codes: &codes,
            obligations: &caps,
            origin: Origin::Pdp,
            correlation_id: Some("c-1"),
            matched_rule_id: Some("r"),
            policy: Some(&policy),
        };
        assert_eq!(
            serde_json::to_string(&full).unwrap(),
            format!(
                r#"{{"decision":"DEGRADE","rationale_codes":["SENSITIVE_OUTPUT_LIMIT"],"obligations":[{{"type":"OUTPUT_CAP","params":{{"max_tokens":20}}}}],"origin":"pdp","correlation_id":"c-1","matched_rule_id":"r","policy":{{"policy_id":"p","policy_version":"1","policy_sha256":"{}"}}}}"#,
                "a".repeat(64)
            )
        );
        let refusal = PepRefusal {
            decision: DecisionKind::Block,
            rationale_codes: &codes,
            origin: Origin::Pep,
            correlation_id: None,
        };
        assert_eq!(
            serde_json::to_string(&refusal).unwrap(),
            r#"{"decision":"BLOCK","rationale_codes":["SENSITIVE_OUTPUT_LIMIT"],"origin":"pep"}"#
        );
    }
}
