//! The report of `policygate replay --policy NEW AUDIT.jsonl...`: recorded decisions
//! re-decided under a new policy, and the line `--changes` writes per changed event.

use crate::diff::DiffOutcome;
use crate::domain::DecisionKind;
use crate::response::PolicyIdentity;
use serde::Serialize;

/// `report_version` of [`ReplayReport`].
pub const REPLAY_REPORT_VERSION: &str = "1.0";

/// How many events went from one decision to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DecisionTransition {
    /// The recorded decision.
    pub old: DecisionKind,
    /// The decision under the new policy.
    pub new: DecisionKind,
    /// Events.
    pub events: u64,
}

/// How many events went from one deciding rule to another (`null`: the default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RuleTransition {
    /// The recorded deciding rule.
    pub old_rule_id: Option<String>,
    /// The deciding rule under the new policy.
    pub new_rule_id: Option<String>,
    /// Events.
    pub events: u64,
}

/// How many events could not be replayed for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReplayReason {
    /// Why.
    pub reason: String,
    /// Events.
    pub events: u64,
}

/// A fact the new policy tests that events did not record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MissingFact {
    /// The fact path, e.g. `signals.risk_score`.
    pub fact: String,
    /// Events that lacked it.
    pub events: u64,
}

/// A line that is not an audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MalformedLine {
    /// The file.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// The summary of a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReplayReport {
    /// Always [`REPLAY_REPORT_VERSION`].
    pub report_version: String,
    /// The policy the events were re-decided under.
    pub policy: PolicyIdentity,
    /// Lines that held an audit event.
    pub events_read: u64,
    /// Refusals (no decision recorded): skipped.
    pub refusals_skipped: u64,
    /// Lines that record no decision (opening events, checkpoints, policy changes,
    /// explanations): skipped.
    pub other_events_skipped: u64,
    /// Decisions re-decided under the new policy.
    pub replayed: u64,
    /// Replayed with the recorded outcome and deciding rule.
    pub unchanged: u64,
    /// Replayed with another outcome or deciding rule.
    pub changed: u64,
    /// Decisions that could not be replayed (never guessed).
    pub not_replayable: u64,
    /// Lines that are not audit events.
    pub malformed: u64,
    /// Changed events by recorded → new decision.
    pub by_decision: Vec<DecisionTransition>,
    /// Changed events by recorded → new deciding rule.
    pub by_rule: Vec<RuleTransition>,
    /// Why events were not replayable.
    pub not_replayable_reasons: Vec<ReplayReason>,
    /// Facts the new policy tests that events did not record.
    pub missing_facts: Vec<MissingFact>,
    /// The first malformed lines (at most 100), with file and line.
    pub malformed_lines: Vec<MalformedLine>,
}

/// One line of `--changes`: a changed event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReplayChange {
    /// The event's `request_id`.
    pub request_id: String,
    /// The recorded outcome.
    pub old: DiffOutcome,
    /// The outcome under the new policy.
    pub new: DiffOutcome,
}
