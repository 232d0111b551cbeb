//! The report of `policygate audit verify`, what `--format json` prints: per-file
//! and total figures, and for each file the first break of the chain with its reason.

use serde::{Deserialize, Serialize};

/// Why a line breaks the audit trail. Stable codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum BreakReason {
    /// The file could not be read.
    Unreadable,
    /// The line is not JSON (and is not a torn final line or a sealed fragment).
    InvalidJson,
    /// The line is JSON but not an audit record of this contract version.
    InvalidSchema,
    /// The file does not start with an opening event.
    MissingOpening,
    /// `seq` is not one more than the line before: a line was removed, inserted or
    /// moved.
    SeqGap,
    /// `prev_hash` is not the hash of the line before: that line was changed, or a
    /// line was removed, inserted or moved.
    PrevHashMismatch,
    /// A checkpoint whose signature does not verify with the key given, or that does
    /// not sign the line before it: the lines it covers were rewritten.
    BadCheckpoint,
}

/// The first line at which a file's trail does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChainBreak {
    /// 1-based line number in the file (0 when the file could not be read).
    pub line: u64,
    /// Stable reason code.
    pub reason: BreakReason,
    /// What was found, in words.
    pub message: String,
}

/// Figures for one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifiedFile {
    /// The path as given.
    pub path: String,
    /// Complete lines (records) in the file, the torn final line and sealed fragments
    /// not counted.
    pub events: u64,
    /// Lines that verified: JSON, schema, `seq` and `prev_hash` against the line
    /// before.
    pub valid_events: u64,
    /// `seq` of the first and last record of the file, when it has any.
    pub first_seq: Option<u64>,
    /// See `first_seq`.
    pub last_seq: Option<u64>,
    /// Bytes of a torn final line (no newline: a crash or a full disk during a write),
    /// which is not tampering; `null` when the file ends cleanly.
    pub torn_tail_bytes: Option<u64>,
    /// Torn fragments that a restart sealed off (each recorded by the opening event
    /// after it).
    pub sealed_fragments: u64,
    /// Signed checkpoints in the file (checked only with a verify key).
    pub checkpoints: u64,
    /// Every break found (the first is where the trail stops being trustworthy).
    pub breaks: Vec<ChainBreak>,
}

/// Totals over every file given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifyTotals {
    /// Files given.
    pub files: u64,
    /// Files with no break.
    pub valid_files: u64,
    /// Records over every file.
    pub events: u64,
    /// Records that verified.
    pub valid_events: u64,
    /// `seq` of the last line covered by a checkpoint whose signature verified with
    /// the key given (`null` without a key or without such a checkpoint). Lines after
    /// it are chained but not signed: their truncation cannot be told apart from an
    /// earlier stop.
    pub signed_through_seq: Option<u64>,
    /// `seq` of the last record of the last file.
    pub last_seq: Option<u64>,
}

/// What `policygate audit verify --format json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditVerifyReport {
    /// True exactly when no file has a break (a torn final line is not a break).
    pub ok: bool,
    /// The files, in the order given (which is chain order).
    pub files: Vec<VerifiedFile>,
    /// Totals.
    pub total: VerifyTotals,
}
