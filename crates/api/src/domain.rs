//! Closed vocabularies shared by the request contract and the policy language (the fact
//! table of `policy-language.md`). The rules of the other fields are in `contract.rs`.

use serde::{Deserialize, Serialize};
use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

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
