//! Policy reload: what `GET /health` says about the last reload attempt, and the audit
//! events that record each swap and each rejected reload.
//!
//! These events share the audit stream with the decision events
//! ([`crate::AuditEvent`]) and are told apart by `event_type`, so that the trail shows
//! when the rules changed (and when a change was refused) between the decisions.

use crate::response::PolicyIdentity;
use serde::{Deserialize, Serialize};

/// `event_type` of the event written when a new policy was swapped in.
pub const POLICY_SWAPPED_EVENT_TYPE: &str = "policygate.policy.swapped";
/// `event_type` of the event written when a reload was refused (last-known-good kept).
pub const POLICY_RELOAD_REJECTED_EVENT_TYPE: &str = "policygate.policy.reload_rejected";
/// `event_version` of [`PolicyChangeEvent`].
pub const POLICY_CHANGE_EVENT_VERSION: &str = crate::AUDIT_EVENT_VERSION;

/// What started a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReloadTrigger {
    /// `SIGHUP`.
    Signal,
    /// The file watcher saw the policy file (or a symlink leading to it) change.
    Watch,
}

/// How a reload attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReloadOutcome {
    /// The new policy was valid and is now active.
    Applied,
    /// The new policy was refused; the previous one stays active.
    Rejected,
    /// The file holds the active policy already (same bytes); nothing changed.
    Unchanged,
}

impl ReloadOutcome {
    /// Every outcome, in a fixed order (for metrics).
    pub const ALL: [ReloadOutcome; 3] = [
        ReloadOutcome::Applied,
        ReloadOutcome::Rejected,
        ReloadOutcome::Unchanged,
    ];

    /// The outcome as written in JSON and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadOutcome::Applied => "applied",
            ReloadOutcome::Rejected => "rejected",
            ReloadOutcome::Unchanged => "unchanged",
        }
    }
}

impl ReloadTrigger {
    /// The trigger as written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadTrigger::Signal => "signal",
            ReloadTrigger::Watch => "watch",
        }
    }
}

/// The last reload attempt, as `GET /health` and `GET /ready` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReloadAttempt {
    /// RFC 3339 UTC time the attempt finished.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub at: String,
    /// What started it.
    pub trigger: ReloadTrigger,
    /// How it ended.
    pub outcome: ReloadOutcome,
    /// Errors that refused the candidate (0 unless `outcome` is `rejected`).
    pub error_count: u32,
    /// For a rejected attempt: a one-line reason (the full diagnostics are in the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Audit event of a policy swap or a rejected reload. Field order is stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyChangeEvent {
    /// [`POLICY_SWAPPED_EVENT_TYPE`] or [`POLICY_RELOAD_REJECTED_EVENT_TYPE`].
    #[cfg_attr(
        feature = "schema",
        schemars(extend("enum" = [POLICY_SWAPPED_EVENT_TYPE, POLICY_RELOAD_REJECTED_EVENT_TYPE]))
    )]
    pub event_type: String,
    /// Always [`POLICY_CHANGE_EVENT_VERSION`].
    #[cfg_attr(feature = "schema", schemars(extend("const" = POLICY_CHANGE_EVENT_VERSION)))]
    pub event_version: String,
    /// RFC 3339 UTC time of the swap or refusal.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub occurred_at: String,
    /// Always `policygate`.
    #[cfg_attr(feature = "schema", schemars(extend("const" = "policygate")))]
    pub service_name: String,
    /// Deployment environment of the PDP (configured), if any.
    pub environment: Option<String>,
    /// What started the reload.
    pub trigger: ReloadTrigger,
    /// The policy active before (and, for a refusal, still active).
    pub previous_policy: PolicyIdentity,
    /// For a swap: the policy now active. For a refusal: the candidate's identity when
    /// it could be read (only `policy_sha256` is then certain), else `null`.
    pub policy: Option<CandidatePolicy>,
    /// Errors that refused the candidate (0 for a swap).
    pub error_count: u32,
    /// Stable diagnostic codes of those errors, in report order (empty for a swap).
    pub error_codes: Vec<String>,
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

/// The identity of a candidate policy, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CandidatePolicy {
    /// `policy_id`, when the candidate was compiled.
    pub policy_id: Option<String>,
    /// `policy_version`, when the candidate was compiled.
    pub policy_version: Option<String>,
    /// SHA-256 (hex) of the candidate's bytes, when they could be read.
    pub policy_sha256: Option<String>,
}

impl From<&PolicyIdentity> for CandidatePolicy {
    fn from(p: &PolicyIdentity) -> CandidatePolicy {
        CandidatePolicy {
            policy_id: Some(p.policy_id.clone()),
            policy_version: Some(p.policy_version.clone()),
            policy_sha256: Some(p.policy_sha256.clone()),
        }
    }
}
