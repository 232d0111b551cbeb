//! Every way enforcement can go wrong, each with a stable rationale code.
//!
//! This module exists so that failures have one vocabulary: the client returns these
//! errors, and the enforcer turns each of them into a BLOCK decision that carries the
//! error's [`PepError::code`] as its rationale code. Nothing here may ever produce an
//! allowing outcome: an error is always a reason to deny.

use policygate_api::{DecisionKind, ErrorCode, PolicyIdentity, Problem};
use std::time::Duration;

/// Stable rationale codes of the decisions the enforcer synthesises when it cannot get,
/// trust or honour a decision from the PDP. Every one of them means BLOCK.
pub mod codes {
    /// The facts do not satisfy the request contract; nothing was sent to the PDP.
    pub const PEP_INVALID_FACTS: &str = "PEP_INVALID_FACTS";
    /// The PDP could not be reached (connection refused, reset, DNS failure, …).
    pub const PEP_PDP_UNAVAILABLE: &str = "PEP_PDP_UNAVAILABLE";
    /// The PDP did not answer within the per-call deadline.
    pub const PEP_PDP_TIMEOUT: &str = "PEP_PDP_TIMEOUT";
    /// The PDP answered with an HTTP status other than 200.
    pub const PEP_PDP_ERROR_STATUS: &str = "PEP_PDP_ERROR_STATUS";
    /// The PDP answered 200 with a body that is not a contract-valid decision.
    pub const PEP_PDP_INVALID_RESPONSE: &str = "PEP_PDP_INVALID_RESPONSE";
    /// The decision carries an obligation type this enforcer does not know.
    pub const PEP_OBLIGATION_UNSUPPORTED: &str = "PEP_OBLIGATION_UNSUPPORTED";
    /// The handler cannot honour an obligation of the decision.
    pub const PEP_OBLIGATION_UNENFORCEABLE: &str = "PEP_OBLIGATION_UNENFORCEABLE";
    /// The guarded route is not set up to handle this decision (for example
    /// REQUIRE_REVIEW on a route that did not opt in to reviews).
    pub const PEP_DECISION_UNHANDLED: &str = "PEP_DECISION_UNHANDLED";
    /// The enforcer is misconfigured (for example, it runs in a context it cannot use).
    pub const PEP_CONFIG_INVALID: &str = "PEP_CONFIG_INVALID";

    /// Every code above.
    pub const ALL: [&str; 9] = [
        PEP_INVALID_FACTS,
        PEP_PDP_UNAVAILABLE,
        PEP_PDP_TIMEOUT,
        PEP_PDP_ERROR_STATUS,
        PEP_PDP_INVALID_RESPONSE,
        PEP_OBLIGATION_UNSUPPORTED,
        PEP_OBLIGATION_UNENFORCEABLE,
        PEP_DECISION_UNHANDLED,
        PEP_CONFIG_INVALID,
    ];
}

/// Why the enforcer could not obtain, trust or honour a PDP decision.
///
/// Every variant ends in a BLOCK: [`crate::Decision::from_error`] turns it into a
/// synthetic decision whose only rationale code is [`PepError::code`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PepError {
    /// The facts break the request contract; nothing was sent.
    #[error(
        "the mapped facts break the request contract: {}; fix the fact mapping so that every field is within its domain",
        Problem::summary(.problems)
    )]
    InvalidFacts {
        /// Every contract problem, each with a JSON pointer.
        problems: Vec<Problem>,
    },

    /// The PDP could not be reached, after the bounded retries.
    #[error(
        "the PDP at `{url}` is unreachable after {attempts} attempt(s): {reason}; check the PDP url and that the PDP is running"
    )]
    Unavailable {
        /// The evaluate endpoint.
        url: String,
        /// The transport error.
        reason: String,
        /// How many connection attempts were made.
        attempts: u32,
    },

    /// The PDP did not answer within the per-call deadline.
    #[error(
        "the PDP did not answer within {} ms; check the PDP's health and load, or raise the deadline",
        .deadline.as_millis()
    )]
    Timeout {
        /// The deadline that passed.
        deadline: Duration,
    },

    /// The PDP answered with an HTTP status other than 200.
    #[error(
        "the PDP answered HTTP {status}{}; every answer but 200 is treated as BLOCK",
        describe_error_body(.error_code.as_ref(), .message.as_deref())
    )]
    ErrorStatus {
        /// The HTTP status.
        status: u16,
        /// The error body's code, when the body was a contract error body.
        error_code: Option<ErrorCode>,
        /// The error body's message, when the body was a contract error body.
        message: Option<String>,
    },

    /// The PDP answered 200 with a body that is not a contract-valid decision.
    #[error(
        "the PDP's answer breaks the response contract: {reason}; check that the url points to a compatible PolicyGate PDP"
    )]
    InvalidResponse {
        /// What is wrong with the body.
        reason: String,
    },

    /// The decision carries an obligation type this enforcer does not know.
    #[error(
        "the PDP returned an obligation of type `{obligation_type}`, which this enforcer does not support; upgrade policygate-pep or remove the obligation from the policy"
    )]
    UnsupportedObligation {
        /// The unknown type.
        obligation_type: String,
        /// The correlation id of the PDP's answer.
        correlation_id: String,
        /// The policy that decided.
        policy: PolicyIdentity,
    },

    /// The handler cannot honour an obligation of the decision.
    #[error(
        "the obligation `{obligation}` cannot be enforced here: {reason}; teach the DEGRADE handler to honour it or change the policy"
    )]
    Unenforceable {
        /// The obligation type.
        obligation: String,
        /// Why the handler cannot honour it.
        reason: String,
    },

    /// The guarded route is not set up for this decision.
    #[error(
        "the PDP decided {decision}, which this route is not set up to handle; opt in to it on the layer or change the policy"
    )]
    UnhandledDecision {
        /// The decision the PDP returned.
        decision: DecisionKind,
    },

    /// The enforcer or client is misconfigured.
    #[error("the enforcement point is misconfigured: {reason}")]
    Config {
        /// What is wrong and how to fix it.
        reason: String,
    },
}

fn describe_error_body(code: Option<&ErrorCode>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!(" (`{}`: {message})", code.as_str()),
        (Some(code), None) => format!(" (`{}`)", code.as_str()),
        (None, Some(message)) => format!(" ({message})"),
        (None, None) => String::new(),
    }
}

impl PepError {
    /// The stable rationale code of the synthetic BLOCK this error turns into.
    pub fn code(&self) -> &'static str {
        match self {
            PepError::InvalidFacts { .. } => codes::PEP_INVALID_FACTS,
            PepError::Unavailable { .. } => codes::PEP_PDP_UNAVAILABLE,
            PepError::Timeout { .. } => codes::PEP_PDP_TIMEOUT,
            PepError::ErrorStatus { .. } => codes::PEP_PDP_ERROR_STATUS,
            PepError::InvalidResponse { .. } => codes::PEP_PDP_INVALID_RESPONSE,
            PepError::UnsupportedObligation { .. } => codes::PEP_OBLIGATION_UNSUPPORTED,
            PepError::Unenforceable { .. } => codes::PEP_OBLIGATION_UNENFORCEABLE,
            PepError::UnhandledDecision { .. } => codes::PEP_DECISION_UNHANDLED,
            PepError::Config { .. } => codes::PEP_CONFIG_INVALID,
        }
    }

    pub(crate) fn invalid_response(reason: impl Into<String>) -> PepError {
        PepError::InvalidResponse {
            reason: reason.into(),
        }
    }

    pub(crate) fn config(reason: impl Into<String>) -> PepError {
        PepError::Config {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_distinct_listed_code() {
        let policy = PolicyIdentity {
            policy_id: "p".into(),
            policy_version: "1".into(),
            policy_sha256: "0".repeat(64),
        };
        let errors = [
            PepError::InvalidFacts { problems: vec![] },
            PepError::Unavailable {
                url: "u".into(),
                reason: "r".into(),
                attempts: 1,
            },
            PepError::Timeout {
                deadline: Duration::from_millis(5),
            },
            PepError::ErrorStatus {
                status: 500,
                error_code: None,
                message: None,
            },
            PepError::invalid_response("x"),
            PepError::UnsupportedObligation {
                obligation_type: "X".into(),
                correlation_id: "c".into(),
                policy,
            },
            PepError::Unenforceable {
                obligation: "OUTPUT_CAP".into(),
                reason: "r".into(),
            },
            PepError::UnhandledDecision {
                decision: DecisionKind::RequireReview,
            },
            PepError::config("x"),
        ];
        let got: Vec<&str> = errors.iter().map(PepError::code).collect();
        assert_eq!(got, codes::ALL.to_vec());
    }

    #[test]
    fn messages_say_what_and_how_to_fix() {
        let e = PepError::ErrorStatus {
            status: 503,
            error_code: Some(ErrorCode::Unavailable),
            message: Some("audit sink failed".into()),
        };
        assert_eq!(
            e.to_string(),
            "the PDP answered HTTP 503 (`unavailable`: audit sink failed); every answer but 200 is treated as BLOCK"
        );
        let e = PepError::InvalidFacts {
            problems: vec![Problem::new("/env/name", "`-x` does not match")],
        };
        assert!(e.to_string().contains("/env/name"), "{e}");
        assert!(e.to_string().contains("fix the fact mapping"), "{e}");
    }
}
