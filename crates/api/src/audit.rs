//! The audit event: one JSON object per line, one per `/evaluate` call.

use crate::domain::DecisionKind;
use crate::error::ErrorCode;
use crate::response::{Obligation, PolicyIdentity};
use serde::{Deserialize, Serialize};

/// `event_type` of the audit event of a `POST /evaluate` call (and of every refusal).
pub const AUDIT_EVENT_TYPE: &str = "policygate.decision.evaluated";
/// `event_type` of the audit event of a `POST /explain` call: a decision explained,
/// never enforced.
pub const AUDIT_EXPLAIN_EVENT_TYPE: &str = "policygate.decision.explained";
/// `event_version` of this shape.
pub const AUDIT_EVENT_VERSION: &str = "1.0";

/// One audit event. Field order is stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// [`AUDIT_EVENT_TYPE`], or [`AUDIT_EXPLAIN_EVENT_TYPE`] for a `POST /explain` call.
    #[cfg_attr(
        feature = "schema",
        schemars(extend("enum" = [AUDIT_EVENT_TYPE, AUDIT_EXPLAIN_EVENT_TYPE]))
    )]
    pub event_type: String,
    /// Always [`AUDIT_EVENT_VERSION`].
    #[cfg_attr(feature = "schema", schemars(extend("const" = AUDIT_EVENT_VERSION)))]
    pub event_version: String,
    /// RFC 3339 UTC time the decision was made.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub occurred_at: String,
    /// Always `policygate`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "policygate")))]
    pub service_name: String,
    /// Deployment environment of the PDP (configured), if any.
    pub environment: Option<String>,
    /// Equals the `correlation_id` returned to the caller.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 128)))]
    pub request_id: String,
    /// W3C trace id from `traceparent`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[0-9a-f]{32}$")))]
    pub trace_id: Option<String>,
    /// W3C parent span id from `traceparent`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[0-9a-f]{16}$")))]
    pub span_id: Option<String>,
    /// Authenticated caller's name.
    pub caller_id: Option<String>,
    /// Tenant, when known.
    pub tenant_id: Option<String>,
    /// Policy that decided (or was loaded, for a rejected request).
    pub policy: AuditPolicy,
    /// The decision, or the rejection.
    pub evaluation: AuditEvaluation,
    /// Decision-relevant facts, as configured (`null` when none are recorded).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub decision_context: Option<serde_json::Value>,
    /// Time spent deciding, in milliseconds.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub latency_ms: f64,
    /// What the shadow policy would have decided (only with `--shadow-policy`, only
    /// for requests the live policy decided).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<crate::shadow::ShadowOutcome>,
}

/// Alias kept for readability: the audit event carries the policy identity.
pub type AuditPolicy = PolicyIdentity;

/// `evaluation` of an audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(extend(
        "if" = {"properties": {"decision": {"type": "null"}}},
        "then" = {"required": ["error_code", "http_status"]},
        "else" = {"not": {"anyOf": [{"required": ["error_code"]}, {"required": ["http_status"]}]}}
    ))
)]
#[serde(deny_unknown_fields)]
pub struct AuditEvaluation {
    /// `action` of the request (absent when the request was rejected before it was known).
    pub action: Option<String>,
    /// `resource.type` of the request, when known.
    pub resource_type: Option<String>,
    /// The decision; `null` for a rejected request.
    pub decision: Option<DecisionKind>,
    /// The rule that decided; `null` for the default or a rejection.
    pub matched_rule_id: Option<String>,
    /// True exactly when no rule matched (false for a rejection).
    pub default_applied: bool,
    /// Rationale codes of the decision (empty for a rejection).
    pub rationale_codes: Vec<String>,
    /// Obligations of the decision.
    pub obligations: Vec<Obligation>,
    /// For a rejected request: the error code returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
    /// For a rejected request: the HTTP status returned.
    #[cfg_attr(feature = "schema", schemars(range(min = 400, max = 599)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}
