//! What a gateway (Envoy ext_authz, nginx `auth_request`, Traefik ForwardAuth) gets
//! back: the names of the `x-policygate-*` headers, and the body of a denial.
//!
//! A denial body is the error body's shape (`{"error": {"code", "message",
//! "correlation_id"}}`, so a client that reads PolicyGate errors reads it too) with
//! the decision beside it: a gateway shows it to the end user, who needs to know
//! whether the policy refused (and why) or the gateway request could not be turned
//! into facts (and which one). The codes are stable and documented in
//! `docs/gateways.md`.

use crate::domain::DecisionKind;
use crate::response::PolicyIdentity;
use serde::{Deserialize, Serialize};

/// The decision (`ALLOW`, `DEGRADE`, `BLOCK`, `REQUIRE_REVIEW`).
pub const HEADER_DECISION: &str = "x-policygate-decision";
/// The correlation id of the decision (the gateway's `x-request-id` when valid).
pub const HEADER_CORRELATION_ID: &str = "x-policygate-correlation-id";
/// The rationale codes, comma-separated.
pub const HEADER_RATIONALE_CODES: &str = "x-policygate-rationale-codes";
/// The deciding rule; absent when the default decided.
pub const HEADER_MATCHED_RULE: &str = "x-policygate-matched-rule";
/// `OUTPUT_CAP.max_tokens` of a DEGRADE.
pub const HEADER_MAX_TOKENS: &str = "x-policygate-max-tokens";
/// `OUTPUT_CAP.max_items` of a DEGRADE.
pub const HEADER_MAX_ITEMS: &str = "x-policygate-max-items";
/// `OUTPUT_CAP.max_bytes` of a DEGRADE.
pub const HEADER_MAX_BYTES: &str = "x-policygate-max-bytes";
/// Why a REQUIRE_REVIEW was denied: what a reviewer must look at.
pub const HEADER_REVIEW_REASON: &str = "x-policygate-review-reason";
/// The denial code (a [`GatewayDenialCode`]) of a denied request.
pub const HEADER_DENIAL: &str = "x-policygate-denial";

/// Why a gateway request was denied. Stable: the wire spelling never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum GatewayDenialCode {
    /// The policy decided BLOCK (403).
    PolicyBlock,
    /// The policy decided REQUIRE_REVIEW (the mapping's `review_status`, default 403).
    PolicyReview,
    /// The mapping says the caller is unauthenticated (its `authenticated_by` source
    /// is absent): 401.
    MappingUnauthenticated,
    /// No action route matched the method and path, and no action source gave one (403).
    MappingNoAction,
    /// A value the mapping requires (`required: true`, or a request fact without a
    /// default) is absent from the gateway request (403).
    MappingMissingValue,
    /// A value is present but cannot be read as the type the policy declares, or is
    /// outside its domain (403).
    MappingBadValue,
    /// The path has `.`/`..` segments, an empty segment or bad percent-encoding (403).
    MappingBadPath,
    /// The facts the mapping produced do not form a request the policy accepts (403).
    MappingInvalidRequest,
}

impl GatewayDenialCode {
    /// Every code.
    pub const ALL: [GatewayDenialCode; 8] = [
        GatewayDenialCode::PolicyBlock,
        GatewayDenialCode::PolicyReview,
        GatewayDenialCode::MappingUnauthenticated,
        GatewayDenialCode::MappingNoAction,
        GatewayDenialCode::MappingMissingValue,
        GatewayDenialCode::MappingBadValue,
        GatewayDenialCode::MappingBadPath,
        GatewayDenialCode::MappingInvalidRequest,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayDenialCode::PolicyBlock => "policy_block",
            GatewayDenialCode::PolicyReview => "policy_review",
            GatewayDenialCode::MappingUnauthenticated => "mapping_unauthenticated",
            GatewayDenialCode::MappingNoAction => "mapping_no_action",
            GatewayDenialCode::MappingMissingValue => "mapping_missing_value",
            GatewayDenialCode::MappingBadValue => "mapping_bad_value",
            GatewayDenialCode::MappingBadPath => "mapping_bad_path",
            GatewayDenialCode::MappingInvalidRequest => "mapping_invalid_request",
        }
    }
}

/// `{"error": {...}}`: the body of every gateway denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GatewayDenial {
    /// The denial.
    pub error: GatewayDenialDetail,
}

/// The inside of [`GatewayDenial`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GatewayDenialDetail {
    /// Stable code.
    pub code: GatewayDenialCode,
    /// One line for people.
    pub message: String,
    /// The correlation id of the decision (and of its audit event).
    pub correlation_id: String,
    /// The policy's decision; absent when the mapping denied before any decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionKind>,
    /// The decision's rationale codes; empty for a mapping denial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rationale_codes: Vec<String>,
    /// The deciding rule; absent when the default decided or the mapping denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_rule_id: Option<String>,
    /// The policy that decided; absent for a mapping denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyIdentity>,
    /// For REQUIRE_REVIEW: what a reviewer must look at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_reason: Option<String>,
    /// For a mapping denial: the fact (`signals.risk_score`, `action`, …) concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fact: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_documented() {
        for code in GatewayDenialCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn a_denial_reads_as_an_error_body_prefix() {
        let body = GatewayDenial {
            error: GatewayDenialDetail {
                code: GatewayDenialCode::MappingNoAction,
                message: "m".into(),
                correlation_id: "c".into(),
                decision: None,
                rationale_codes: Vec::new(),
                matched_rule_id: None,
                policy: None,
                review_reason: None,
                fact: None,
            },
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "mapping_no_action", "message": "m", "correlation_id": "c"}})
        );
    }
}
