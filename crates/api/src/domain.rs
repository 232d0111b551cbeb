//! Closed vocabularies and field domains shared by the request contract and the policy
//! language (the fact table of `policy-language.md`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest `request_id`, in characters.
pub const MAX_REQUEST_ID_CHARS: usize = 128;
/// Longest `resource.id` / `subject.id`, in characters.
pub const MAX_ID_CHARS: usize = 256;
/// Most keys in `signals`.
pub const MAX_SIGNALS: usize = 50;
/// Longest string signal (or list item), in characters.
pub const MAX_SIGNAL_STRING_CHARS: usize = 256;
/// Most items in a list signal.
pub const MAX_LIST_SIGNAL_ITEMS: usize = 64;

/// The action a caller wants to perform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Action {
    /// `infer:run`
    #[serde(rename = "infer:run")]
    InferRun,
    /// `data:read`
    #[serde(rename = "data:read")]
    DataRead,
    /// `data:write`
    #[serde(rename = "data:write")]
    DataWrite,
    /// `tool:invoke`
    #[serde(rename = "tool:invoke")]
    ToolInvoke,
    /// `policy:admin`
    #[serde(rename = "policy:admin")]
    PolicyAdmin,
}

impl Action {
    /// Every action, in contract order.
    pub const ALL: [Action; 5] = [
        Action::InferRun,
        Action::DataRead,
        Action::DataWrite,
        Action::ToolInvoke,
        Action::PolicyAdmin,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::InferRun => "infer:run",
            Action::DataRead => "data:read",
            Action::DataWrite => "data:write",
            Action::ToolInvoke => "tool:invoke",
            Action::PolicyAdmin => "policy:admin",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sensitive the resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    /// `public`
    Public,
    /// `internal`
    Internal,
    /// `restricted`
    Restricted,
}

impl Sensitivity {
    /// Every sensitivity, in contract order.
    pub const ALL: [Sensitivity; 3] = [
        Sensitivity::Public,
        Sensitivity::Internal,
        Sensitivity::Restricted,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Public => "public",
            Sensitivity::Internal => "internal",
            Sensitivity::Restricted => "restricted",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<Sensitivity> {
        Sensitivity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Sensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The four decisions PolicyGate can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DecisionKind {
    /// Proceed.
    Allow,
    /// Refuse.
    Block,
    /// Hold for human review.
    RequireReview,
    /// Proceed, honouring the obligations.
    Degrade,
}

impl DecisionKind {
    /// Every decision.
    pub const ALL: [DecisionKind; 4] = [
        DecisionKind::Allow,
        DecisionKind::Block,
        DecisionKind::RequireReview,
        DecisionKind::Degrade,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Allow => "ALLOW",
            DecisionKind::Block => "BLOCK",
            DecisionKind::RequireReview => "REQUIRE_REVIEW",
            DecisionKind::Degrade => "DEGRADE",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Option<DecisionKind> {
        DecisionKind::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn matches_class(s: &str, first: fn(u8) -> bool, max_len: usize) -> bool {
    let bytes = s.as_bytes();
    match bytes.split_first() {
        Some((head, rest)) => {
            first(*head)
                && rest.len() < max_len
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => false,
    }
}

/// `env.name`: `^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`.
pub fn is_valid_env_name(s: &str) -> bool {
    matches_class(s, |b| b.is_ascii_alphanumeric(), 64)
}

/// `resource.type`: `^[a-zA-Z][a-zA-Z0-9._-]{0,63}$`.
pub fn is_valid_resource_type(s: &str) -> bool {
    matches_class(s, |b| b.is_ascii_alphabetic(), 64)
}

/// `subject.type`: `^[a-zA-Z][a-zA-Z0-9._-]{0,31}$`.
pub fn is_valid_subject_type(s: &str) -> bool {
    matches_class(s, |b| b.is_ascii_alphabetic(), 32)
}

/// Signal names: `^[a-z][a-z0-9_]{0,40}$`.
pub fn is_valid_signal_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    match bytes.split_first() {
        Some((head, rest)) => {
            head.is_ascii_lowercase()
                && rest.len() <= 40
                && rest
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_the_fact_table() {
        assert!(is_valid_env_name("prod"));
        assert!(is_valid_env_name("0prod.eu-1_a"));
        assert!(!is_valid_env_name(""));
        assert!(!is_valid_env_name("-prod"));
        assert!(!is_valid_env_name("pr od"));
        assert!(is_valid_env_name(&"a".repeat(64)));
        assert!(!is_valid_env_name(&"a".repeat(65)));
        assert!(!is_valid_resource_type("1doc"));
        assert!(is_valid_resource_type("doc.v2"));
        assert!(is_valid_subject_type(&"s".repeat(32)));
        assert!(!is_valid_subject_type(&"s".repeat(33)));
        assert!(is_valid_signal_name("risk_score"));
        assert!(!is_valid_signal_name("Risk"));
        assert!(!is_valid_signal_name("risk-score"));
        assert!(is_valid_signal_name(&format!("a{}", "b".repeat(40))));
        assert!(!is_valid_signal_name(&format!("a{}", "b".repeat(41))));
    }

    #[test]
    fn vocabularies_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        for s in Sensitivity::ALL {
            assert_eq!(Sensitivity::parse(s.as_str()), Some(s));
        }
        for d in DecisionKind::ALL {
            assert_eq!(DecisionKind::parse(d.as_str()), Some(d));
        }
        assert_eq!(Action::parse("infer:runn"), None);
    }
}
