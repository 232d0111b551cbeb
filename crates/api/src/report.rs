//! The validation report: what `policygate validate --format json` prints, one document
//! for every file given, for scripts and CI.
//!
//! Keys are written in alphabetical order throughout, the order the first version
//! wrote them in (it built the document as a sorted JSON map); `null` stands for an
//! unknown location, help text or rule, and `related` and `witness` appear only when a
//! finding has them. The engine fills [`CheckedFile`] from its diagnostics; the CLI
//! adds the loaded policy's identity and rule count.

use crate::response::PolicyIdentity;
use serde::{Deserialize, Serialize, Serializer};

/// The whole report: every file, and whether all of them are valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ValidationReport {
    /// One entry per file, in the order given.
    pub files: Vec<FileReport>,
    /// True when every file was read and is valid.
    pub valid: bool,
}

/// The report of one file: checked, or not readable at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum FileReport {
    /// The file was read and validated.
    Checked(CheckedFile),
    /// The file could not be read.
    Unreadable(UnreadableFile),
}

/// A file that was read and validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckedFile {
    /// Errors: the policy is refused when there is any.
    pub errors: Vec<Finding>,
    /// The file name as given.
    pub file: String,
    /// The loaded policy, when the file is valid.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "identity_sorted"
    )]
    pub policy: Option<PolicyIdentity>,
    /// Number of rules, when the file is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_count: Option<usize>,
    /// True when there is no error.
    pub valid: bool,
    /// Warnings (errors under `--strict`).
    pub warnings: Vec<Finding>,
}

/// A file that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UnreadableFile {
    /// The file name as given.
    pub file: String,
    /// Why it could not be read.
    pub io_error: String,
    /// Always false.
    #[cfg_attr(feature = "schema", schemars(extend("const" = false)))]
    pub valid: bool,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum FindingSeverity {
    /// The policy is refused.
    Error,
    /// Reported; refused only under `--strict`.
    Warning,
}

/// One problem validation found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Stable code, `policygate::<stage>::<name>`.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = "^policygate::[a-z]+::[a-z_]+$"))
    )]
    pub code: String,
    /// 1-based column (in characters), when the finding has a location.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub column: Option<u32>,
    /// The file name as given.
    pub file: String,
    /// How to fix it.
    pub help: Option<String>,
    /// 1-based line, when the finding has a location.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub line: Option<u32>,
    /// One-line message.
    pub message: String,
    /// Other places the finding concerns (e.g. the other rule of an overlap).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedLocation>,
    /// The rule concerned, if any.
    pub rule_id: Option<String>,
    /// Error or warning.
    pub severity: FindingSeverity,
    /// For an overlap: an EvaluateRequest both rules match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub witness: Option<serde_json::Value>,
}

/// A second location of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RelatedLocation {
    /// 1-based column.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub column: u32,
    /// 1-based line.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub line: u32,
    /// What is there.
    pub message: String,
}

/// [`PolicyIdentity`] with its keys in alphabetical order, like the rest of the report.
fn identity_sorted<S: Serializer>(id: &Option<PolicyIdentity>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Sorted<'a> {
        policy_id: &'a str,
        policy_sha256: &'a str,
        policy_version: &'a str,
    }
    id.as_ref()
        .map(|id| Sorted {
            policy_id: &id.policy_id,
            policy_sha256: &id.policy_sha256,
            policy_version: &id.policy_version,
        })
        .serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_alphabetical_and_optional_parts_omitted() {
        let finding = Finding {
            code: "policygate::validate::shadowed_rule".into(),
            column: None,
            file: "p.yaml".into(),
            help: Some("h".into()),
            line: None,
            message: "m".into(),
            related: vec![],
            rule_id: None,
            severity: FindingSeverity::Warning,
            witness: None,
        };
        let mut overlap = finding.clone();
        overlap.severity = FindingSeverity::Error;
        overlap.related = vec![RelatedLocation {
            column: 3,
            line: 2,
            message: "the other rule".into(),
        }];
        overlap.witness = Some(serde_json::json!({"action": "infer:run"}));
        let report = ValidationReport {
            files: vec![
                FileReport::Checked(CheckedFile {
                    errors: vec![overlap],
                    file: "p.yaml".into(),
                    policy: Some(PolicyIdentity {
                        policy_id: "p".into(),
                        policy_version: "1".into(),
                        policy_sha256: "a".repeat(64),
                    }),
                    rule_count: Some(2),
                    valid: false,
                    warnings: vec![finding],
                }),
                FileReport::Unreadable(UnreadableFile {
                    file: "q.yaml".into(),
                    io_error: "gone".into(),
                    valid: false,
                }),
            ],
            valid: false,
        };
        let json = serde_json::to_string(&report).unwrap();
        let sha = "a".repeat(64);
        assert_eq!(
            json,
            format!(
                r#"{{"files":[{{"errors":[{{"code":"policygate::validate::shadowed_rule","column":null,"file":"p.yaml","help":"h","line":null,"message":"m","related":[{{"column":3,"line":2,"message":"the other rule"}}],"rule_id":null,"severity":"error","witness":{{"action":"infer:run"}}}}],"file":"p.yaml","policy":{{"policy_id":"p","policy_sha256":"{sha}","policy_version":"1"}},"rule_count":2,"valid":false,"warnings":[{{"code":"policygate::validate::shadowed_rule","column":null,"file":"p.yaml","help":"h","line":null,"message":"m","rule_id":null,"severity":"warning"}}]}},{{"file":"q.yaml","io_error":"gone","valid":false}}],"valid":false}}"#
            )
        );
        assert_eq!(
            serde_json::from_str::<ValidationReport>(&json).unwrap(),
            report
        );
    }
}
