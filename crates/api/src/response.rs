//! The evaluate response (EvaluateResponse v1) and the small documents of `/health`
//! and `/version`.

use crate::domain::DecisionKind;
use serde::{Deserialize, Serialize};

/// Which policy decided: id, version and the SHA-256 of the policy file's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyIdentity {
    /// `policy_id` of the document.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 128)))]
    pub policy_id: String,
    /// `policy_version` of the document.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 128)))]
    pub policy_version: String,
    /// Lowercase hex SHA-256 of the file bytes.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[0-9a-f]{64}$")))]
    pub policy_sha256: String,
}

/// Parameters of an `OUTPUT_CAP` obligation; unset parameters are omitted.
// The bounds are `contract::OUTPUT_CAP_MAX_*` (doc comments here become the schema's
// descriptions, so they quote the numbers; a test keeps them equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(extend("minProperties" = 1)))]
#[serde(deny_unknown_fields)]
pub struct OutputCap {
    /// Most tokens the model may produce (1..=100000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = 1, max = crate::contract::OUTPUT_CAP_MAX_TOKENS))
    )]
    pub max_tokens: Option<u32>,
    /// Most items (1..=1000000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = 1, max = crate::contract::OUTPUT_CAP_MAX_ITEMS))
    )]
    pub max_items: Option<u32>,
    /// Most bytes (1..=100000000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(range(min = 1, max = crate::contract::OUTPUT_CAP_MAX_BYTES))
    )]
    pub max_bytes: Option<u64>,
}

/// An obligation the enforcer must honour. The set of types is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", content = "params", deny_unknown_fields)]
pub enum Obligation {
    /// Cap what the model may return.
    #[serde(rename = "OUTPUT_CAP")]
    OutputCap(OutputCap),
}

impl Obligation {
    /// The wire name of the obligation type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Obligation::OutputCap(_) => "OUTPUT_CAP",
        }
    }
}

/// The answer to `POST /evaluate`. Field order is part of the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(extend(
        "if" = {"properties": {"decision": {"const": "DEGRADE"}}},
        "then" = {"required": ["obligations"]},
        "else" = {"not": {"required": ["obligations"]}}
    ))
)]
#[serde(deny_unknown_fields)]
pub struct EvaluateResponse {
    /// The request's `request_id`, or the id PolicyGate generated.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 128)))]
    pub correlation_id: String,
    /// The decision.
    pub decision: DecisionKind,
    /// Why, as stable codes.
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1), inner(length(min = 1, max = 64)))
    )]
    pub rationale_codes: Vec<String>,
    /// Present, non-empty, exactly when the decision is `DEGRADE`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    pub obligations: Vec<Obligation>,
    /// The policy that decided.
    pub policy: PolicyIdentity,
    /// The rule that decided; absent when the default decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_rule_id: Option<String>,
}

impl EvaluateResponse {
    /// Checks the invariants a response must keep (beyond its JSON shape): obligations
    /// exactly on `DEGRADE`, at least one rationale code, a 64-hex fingerprint.
    pub fn check_invariants(&self) -> Result<(), String> {
        if (self.decision == DecisionKind::Degrade) == self.obligations.is_empty() {
            return Err("obligations must be present exactly when the decision is DEGRADE".into());
        }
        if self.rationale_codes.is_empty() {
            return Err("rationale_codes must not be empty".into());
        }
        let sha = &self.policy.policy_sha256;
        if sha.len() != 64
            || !sha
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err("policy_sha256 must be 64 lowercase hex digits".into());
        }
        if self.correlation_id.is_empty() {
            return Err("correlation_id must not be empty".into());
        }
        Ok(())
    }
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HealthResponse {
    /// Always `ok` while a valid policy is loaded.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "ok")))]
    pub status: String,
    /// The loaded policy.
    pub policy: PolicyIdentity,
}

/// `GET /version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VersionResponse {
    /// Always `policygate`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "policygate")))]
    pub name: String,
    /// The crate version.
    pub version: String,
    /// The loaded policy.
    pub policy: PolicyIdentity,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> PolicyIdentity {
        PolicyIdentity {
            policy_id: "p".into(),
            policy_version: "1".into(),
            policy_sha256: "a".repeat(64),
        }
    }

    #[test]
    fn field_order_and_omissions_follow_the_contract() {
        let r = EvaluateResponse {
            correlation_id: "req-123".into(),
            decision: DecisionKind::Degrade,
            rationale_codes: vec!["SENSITIVE_OUTPUT_LIMIT".into()],
            obligations: vec![Obligation::OutputCap(OutputCap {
                max_tokens: Some(200),
                ..OutputCap::default()
            })],
            policy: identity(),
            matched_rule_id: Some("r".into()),
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"correlation_id":"req-123","decision":"DEGRADE","rationale_codes":["SENSITIVE_OUTPUT_LIMIT"],"obligations":[{{"type":"OUTPUT_CAP","params":{{"max_tokens":200}}}}],"policy":{{"policy_id":"p","policy_version":"1","policy_sha256":"{}"}},"matched_rule_id":"r"}}"#,
                "a".repeat(64)
            )
        );
        assert_eq!(serde_json::from_str::<EvaluateResponse>(&json).unwrap(), r);
        assert!(r.check_invariants().is_ok());
    }

    #[test]
    fn output_cap_docs_quote_the_contract_bounds() {
        // The doc comments (the schema's descriptions) quote the bounds.
        let source = include_str!("response.rs");
        for (name, max) in [
            (
                "tokens the model may produce",
                u64::from(crate::contract::OUTPUT_CAP_MAX_TOKENS),
            ),
            ("items", u64::from(crate::contract::OUTPUT_CAP_MAX_ITEMS)),
            ("bytes", crate::contract::OUTPUT_CAP_MAX_BYTES),
        ] {
            let doc = format!("/// Most {name} (1..={max}).");
            assert!(source.contains(&doc), "{doc}");
        }
    }

    #[test]
    fn invariants_catch_bad_responses() {
        let mut r = EvaluateResponse {
            correlation_id: "c".into(),
            decision: DecisionKind::Allow,
            rationale_codes: vec!["X".into()],
            obligations: vec![],
            policy: identity(),
            matched_rule_id: None,
        };
        assert!(r.check_invariants().is_ok());
        r.decision = DecisionKind::Degrade;
        assert!(r.check_invariants().is_err());
        r.decision = DecisionKind::Allow;
        r.policy.policy_sha256 = "A".repeat(64);
        assert!(r.check_invariants().is_err());
    }
}
