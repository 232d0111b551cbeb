//! The audit stream's records: one JSON object per line. A decision event per
//! `/evaluate` call, and an opening event at the start of every file (or stream), all
//! linked by the hash chain defined in [`crate::chain`].

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
///
/// 2.0 added the hash chain (`seq`, `prev_hash`) and the opening event; a 1.0 reader
/// refuses the new fields (the shapes deny unknown fields), as it should.
pub const AUDIT_EVENT_VERSION: &str = "2.0";
/// `event_type` of the opening event that starts every audit file.
pub const AUDIT_OPENED_TYPE: &str = "policygate.audit.opened";

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
    /// The fact paths this event records, sorted: `action`, `resource.type` (in
    /// `evaluation`) and `caller.id` (as `caller_id`) always, and those in
    /// `decision_context` as `--audit-context` chose (`env.name`, `resource.id`,
    /// `resource.sensitivity`, `subject`, `subject.type`, `subject.id`,
    /// `signals.<name>`, or `signals.*` for every signal). A fact listed here and
    /// missing from the event was absent from the request. Empty for a refusal.
    /// `policygate replay` re-decides an event only when this covers every fact the
    /// new policy tests.
    pub decision_context_covers: Vec<String>,
    /// Time spent deciding, in milliseconds.
    #[cfg_attr(feature = "schema", schemars(range(min = 0)))]
    pub latency_ms: f64,
    /// What the shadow policy would have decided (only with `--shadow-policy`, only
    /// for requests the live policy decided).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<crate::shadow::ShadowOutcome>,
    /// Position in the hash chain: one more than the line before (see [`crate::chain`]).
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub seq: u64,
    /// SHA-256 (lowercase hex) of the line before, in the canonical form of
    /// [`crate::chain`].
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[0-9a-f]{64}$")))]
    pub prev_hash: String,
}

/// The opening event: the first line of every audit file (and of a stdout stream).
/// It names the policy loaded, and links the file into the chain: its `prev_hash` is
/// the hash of the last complete line of the previous file (or of the same file before
/// a restart), or [`crate::chain::GENESIS_HASH`] when a new chain starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditOpened {
    /// Always [`AUDIT_OPENED_TYPE`].
    #[cfg_attr(feature = "schema", schemars(extend("const" = AUDIT_OPENED_TYPE)))]
    pub event_type: String,
    /// Always [`AUDIT_EVENT_VERSION`].
    #[cfg_attr(feature = "schema", schemars(extend("const" = AUDIT_EVENT_VERSION)))]
    pub event_version: String,
    /// RFC 3339 UTC time the file was opened.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub occurred_at: String,
    /// Always `policygate`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "policygate")))]
    pub service_name: String,
    /// The policy loaded by the process writing the file.
    pub policy: PolicyIdentity,
    /// Bytes of a torn final line (no newline) found at the end of the file when the
    /// writer started; the fragment was ended with a newline and is not part of the
    /// chain. `null` when the file ended cleanly or was new.
    pub torn_tail_bytes: Option<u64>,
    /// Position in the hash chain.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub seq: u64,
    /// SHA-256 (lowercase hex) of the line before, or 64 zeros for a new chain.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[0-9a-f]{64}$")))]
    pub prev_hash: String,
}

/// `event_type` of a signed checkpoint.
pub const AUDIT_CHECKPOINT_TYPE: &str = "policygate.audit.checkpoint";

/// A signed checkpoint (with `--audit-signing-key`): an ed25519 signature over the
/// chain's head, written every N events or seconds and when the writer stops. A
/// verifier that holds the public key can tell that every line up to `head_seq` is
/// what the key holder wrote, even against someone who rewrote the file and
/// recomputed every hash. The signed message is
/// [`crate::chain::checkpoint_message`]`(head_seq, head_hash)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditCheckpoint {
    /// Always [`AUDIT_CHECKPOINT_TYPE`].
    #[cfg_attr(feature = "schema", schemars(extend("const" = AUDIT_CHECKPOINT_TYPE)))]
    pub event_type: String,
    /// Always [`AUDIT_EVENT_VERSION`].
    #[cfg_attr(feature = "schema", schemars(extend("const" = AUDIT_EVENT_VERSION)))]
    pub event_version: String,
    /// RFC 3339 UTC time of the checkpoint.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub occurred_at: String,
    /// Always `policygate`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "policygate")))]
    pub service_name: String,
    /// `seq` of the line signed for (the line before this one).
    pub head_seq: u64,
    /// Hash of that line (lowercase hex SHA-256).
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[0-9a-f]{64}$")))]
    pub head_hash: String,
    /// The ed25519 public key that signed (lowercase hex, 32 bytes).
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[0-9a-f]{64}$")))]
    pub public_key: String,
    /// The ed25519 signature (lowercase hex, 64 bytes).
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[0-9a-f]{128}$")))]
    pub signature: String,
    /// Position in the hash chain.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub seq: u64,
    /// SHA-256 (lowercase hex) of the line before, equal to `head_hash`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[0-9a-f]{64}$")))]
    pub prev_hash: String,
}

/// `event_type` of the count of refusals whose own audit events were suppressed.
pub const AUDIT_SUPPRESSED_TYPE: &str = "policygate.audit.suppressed";
/// `reason` of [`AuditSuppressed`]: calls to decision endpoints without a valid bearer
/// token, past `--audit-unauthenticated-per-second`.
pub const SUPPRESSED_UNAUTHENTICATED: &str = "unauthenticated";

/// How many refusals were answered without an audit event of their own: with auth on,
/// unauthenticated calls to decision endpoints are audited at a bounded rate (so that
/// an anonymous client cannot fill the trail), and the ones past it are counted here.
/// Written periodically while any were suppressed, and when the service stops;
/// chained like every other line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditSuppressed {
    /// Always [`AUDIT_SUPPRESSED_TYPE`].
    #[cfg_attr(feature = "schema", schemars(extend("const" = AUDIT_SUPPRESSED_TYPE)))]
    pub event_type: String,
    /// Always [`AUDIT_EVENT_VERSION`].
    #[cfg_attr(feature = "schema", schemars(extend("const" = AUDIT_EVENT_VERSION)))]
    pub event_version: String,
    /// RFC 3339 UTC time the count was taken (the end of the period it covers).
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub occurred_at: String,
    /// Always `policygate`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "policygate")))]
    pub service_name: String,
    /// Deployment environment of the PDP (configured), if any.
    pub environment: Option<String>,
    /// Which refusals were suppressed: [`SUPPRESSED_UNAUTHENTICATED`].
    #[cfg_attr(feature = "schema", schemars(extend("enum" = [SUPPRESSED_UNAUTHENTICATED])))]
    pub reason: String,
    /// Refusals answered (and counted in the metrics) without their own audit event
    /// since the previous count.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub suppressed: u64,
    /// The configured rate: at most this many such refusals are audited per second.
    pub max_per_second: u32,
    /// RFC 3339 UTC time of the first refusal counted.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub first_at: String,
    /// Position in the hash chain, appended by the audit writer when it seals the line
    /// (see [`crate::chain`]); `None` only in an event not yet written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub seq: Option<u64>,
    /// SHA-256 (lowercase hex) of the line before, appended with `seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^[0-9a-f]{64}$")))]
    pub prev_hash: Option<String>,
}

/// One line of the audit stream, either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum AuditRecord {
    /// An opening event.
    Opened(Box<AuditOpened>),
    /// A decision (or refusal) event.
    Evaluated(Box<AuditEvent>),
    /// A signed checkpoint.
    Checkpoint(Box<AuditCheckpoint>),
    /// A policy swap or a refused reload (`policygate serve`'s hot reload).
    PolicyChanged(Box<crate::PolicyChangeEvent>),
    /// A count of refusals audited only by this count.
    Suppressed(Box<AuditSuppressed>),
}

impl AuditRecord {
    /// Reads one line (without its newline): JSON first, then the shape its
    /// `event_type` names. The error says which of the two failed.
    pub fn parse(line: &[u8]) -> Result<AuditRecord, AuditLineError> {
        let value: serde_json::Value =
            serde_json::from_slice(line).map_err(|e| AuditLineError::Json(e.to_string()))?;
        let kind = value
            .get("event_type")
            .and_then(|t| t.as_str())
            .map(str::to_owned);
        let shape = |e: serde_json::Error| AuditLineError::Schema(e.to_string());
        match kind.as_deref() {
            Some(AUDIT_OPENED_TYPE) => serde_json::from_value(value)
                .map(|o| AuditRecord::Opened(Box::new(o)))
                .map_err(shape),
            Some(AUDIT_EVENT_TYPE | AUDIT_EXPLAIN_EVENT_TYPE) => serde_json::from_value(value)
                .map(|e| AuditRecord::Evaluated(Box::new(e)))
                .map_err(shape),
            Some(AUDIT_CHECKPOINT_TYPE) => serde_json::from_value(value)
                .map(|c| AuditRecord::Checkpoint(Box::new(c)))
                .map_err(shape),
            Some(crate::POLICY_SWAPPED_EVENT_TYPE | crate::POLICY_RELOAD_REJECTED_EVENT_TYPE) => {
                serde_json::from_value(value)
                    .map(|c| AuditRecord::PolicyChanged(Box::new(c)))
                    .map_err(shape)
            }
            Some(AUDIT_SUPPRESSED_TYPE) => serde_json::from_value(value)
                .map(|c| AuditRecord::Suppressed(Box::new(c)))
                .map_err(shape),
            Some(other) => Err(AuditLineError::Schema(format!(
                "unknown event_type {other:?}"
            ))),
            None => Err(AuditLineError::Schema("no event_type".into())),
        }
        .and_then(|r| {
            if r.event_version() == AUDIT_EVENT_VERSION {
                Ok(r)
            } else {
                Err(AuditLineError::Schema(format!(
                    "event_version {:?}, expected {AUDIT_EVENT_VERSION:?}",
                    r.event_version()
                )))
            }
        })
    }

    /// `seq` of the line.
    pub fn seq(&self) -> u64 {
        match self {
            AuditRecord::Opened(o) => o.seq,
            AuditRecord::Evaluated(e) => e.seq,
            AuditRecord::Checkpoint(c) => c.seq,
            AuditRecord::PolicyChanged(c) => c.seq.unwrap_or(0),
            AuditRecord::Suppressed(c) => c.seq.unwrap_or(0),
        }
    }

    /// `prev_hash` of the line.
    pub fn prev_hash(&self) -> &str {
        match self {
            AuditRecord::Opened(o) => &o.prev_hash,
            AuditRecord::Evaluated(e) => &e.prev_hash,
            AuditRecord::Checkpoint(c) => &c.prev_hash,
            AuditRecord::PolicyChanged(c) => c.prev_hash.as_deref().unwrap_or_default(),
            AuditRecord::Suppressed(c) => c.prev_hash.as_deref().unwrap_or_default(),
        }
    }

    fn event_version(&self) -> &str {
        match self {
            AuditRecord::Opened(o) => &o.event_version,
            AuditRecord::Evaluated(e) => &e.event_version,
            AuditRecord::Checkpoint(c) => &c.event_version,
            AuditRecord::PolicyChanged(c) => &c.event_version,
            AuditRecord::Suppressed(c) => &c.event_version,
        }
    }
}

/// Why a line is not an audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditLineError {
    /// Not JSON.
    Json(String),
    /// JSON, but not an audit record of this version.
    Schema(String),
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
