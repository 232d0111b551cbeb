//! The decision a handler enforces, whether it came from the PDP or was synthesised.
//!
//! A [`Decision`] can only be made two ways: from a PDP answer that passed every contract
//! check (inside this crate), or from a [`PepError`], which always yields BLOCK. Its
//! fields are private so that code outside the stable core cannot forge a PDP decision
//! or drop an obligation on the way to the handler.

use crate::error::PepError;
use crate::obligation::merged_output_cap;
use policygate_api::{
    DecisionKind, EnforcedDecisionRef, EvaluateResponse, Obligation, OutputCap, PolicyIdentity,
};
use serde::{Serialize, Serializer};

/// Where a decision came from (defined in `policygate-api`).
pub use policygate_api::Origin;

/// What a refused caller is told (the shape is `policygate-api`'s [`PepRefusal`]).
///
/// [`PepRefusal`]: policygate_api::PepRefusal
pub type Refusal<'a> = policygate_api::PepRefusal<'a>;

/// A decision to enforce.
///
/// Serialises, for logs, as `policygate-api`'s [`EnforcedDecisionRef`]: `{"decision",
/// "rationale_codes", "obligations"?, "origin", "correlation_id"?, "matched_rule_id"?,
/// "policy"?}`. The cause of a synthetic decision ([`Decision::error`]) is left out of
/// that JSON: it may name internal hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    decision: DecisionKind,
    rationale_codes: Vec<String>,
    obligations: Vec<Obligation>,
    origin: Origin,
    correlation_id: Option<String>,
    matched_rule_id: Option<String>,
    policy: Option<PolicyIdentity>,
    error: Option<PepError>,
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EnforcedDecisionRef {
            decision: self.decision,
            rationale_codes: &self.rationale_codes,
            obligations: &self.obligations,
            origin: self.origin,
            correlation_id: self.correlation_id.as_deref(),
            matched_rule_id: self.matched_rule_id.as_deref(),
            policy: self.policy.as_ref(),
        }
        .serialize(s)
    }
}

impl Decision {
    /// A decision from a PDP answer that passed every contract check.
    ///
    /// INVARIANT: only the client calls this, after `check_invariants` and the
    /// obligation checks succeeded.
    pub(crate) fn from_pdp(response: EvaluateResponse) -> Decision {
        Decision {
            decision: response.decision,
            rationale_codes: response.rationale_codes,
            obligations: response.obligations,
            origin: Origin::Pdp,
            correlation_id: Some(response.correlation_id),
            matched_rule_id: response.matched_rule_id,
            policy: Some(response.policy),
            error: None,
        }
    }

    /// The synthetic BLOCK for an error: its only rationale code is `error.code()`.
    ///
    /// `correlation_id` is the request's `request_id`, when the caller set one, so that
    /// the refusal can be matched with the caller's logs.
    pub fn from_error(error: PepError, correlation_id: Option<String>) -> Decision {
        let (correlation_id, policy) = match &error {
            PepError::UnsupportedObligation {
                correlation_id,
                policy,
                ..
            } => (Some(correlation_id.clone()), Some(policy.clone())),
            _ => (correlation_id, None),
        };
        Decision {
            decision: DecisionKind::Block,
            rationale_codes: vec![error.code().to_owned()],
            obligations: Vec::new(),
            origin: Origin::Pep,
            correlation_id,
            matched_rule_id: None,
            policy,
            error: Some(error),
        }
    }

    /// The synthetic BLOCK that replaces this decision when it cannot be honoured; it
    /// keeps the correlation id and the policy identity of the PDP's decision.
    pub fn overruled(&self, error: PepError) -> Decision {
        Decision {
            decision: DecisionKind::Block,
            rationale_codes: vec![error.code().to_owned()],
            obligations: Vec::new(),
            origin: Origin::Pep,
            correlation_id: self.correlation_id.clone(),
            matched_rule_id: None,
            policy: self.policy.clone(),
            error: Some(error),
        }
    }

    /// The decision.
    pub fn kind(&self) -> DecisionKind {
        self.decision
    }

    /// The rationale codes (never empty).
    pub fn rationale_codes(&self) -> &[String] {
        &self.rationale_codes
    }

    /// The obligations (non-empty exactly when the decision is DEGRADE).
    pub fn obligations(&self) -> &[Obligation] {
        &self.obligations
    }

    /// All `OUTPUT_CAP` obligations merged into one (the smallest of each limit), or
    /// `None` when the decision carries none.
    pub fn output_cap(&self) -> Option<OutputCap> {
        merged_output_cap(&self.obligations)
    }

    /// Who decided.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Whether the PDP decided (as opposed to the enforcement point failing closed).
    pub fn is_from_pdp(&self) -> bool {
        self.origin == Origin::Pdp
    }

    /// The PDP's correlation id, or the request's `request_id` for a synthetic
    /// decision when one was set.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// The rule that decided; `None` when the policy's default decided or the
    /// decision is synthetic.
    pub fn matched_rule_id(&self) -> Option<&str> {
        self.matched_rule_id.as_deref()
    }

    /// The policy that decided, when the PDP answered.
    pub fn policy(&self) -> Option<&PolicyIdentity> {
        self.policy.as_ref()
    }

    /// Why the enforcement point decided BLOCK itself; `None` for PDP decisions.
    pub fn error(&self) -> Option<&PepError> {
        self.error.as_ref()
    }

    /// What to tell a refused caller.
    pub fn refusal(&self) -> Refusal<'_> {
        Refusal {
            decision: self.decision,
            rationale_codes: &self.rationale_codes,
            origin: self.origin,
            correlation_id: self.correlation_id.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes;
    use std::time::Duration;

    #[test]
    fn synthetic_decisions_block_and_say_why() {
        let d = Decision::from_error(
            PepError::Timeout {
                deadline: Duration::from_millis(100),
            },
            Some("req-1".into()),
        );
        assert_eq!(d.kind(), DecisionKind::Block);
        assert_eq!(d.origin(), Origin::Pep);
        assert!(!d.is_from_pdp());
        assert_eq!(d.rationale_codes(), [codes::PEP_PDP_TIMEOUT]);
        assert_eq!(d.correlation_id(), Some("req-1"));
        assert!(d.error().is_some());
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            json,
            r#"{"decision":"BLOCK","rationale_codes":["PEP_PDP_TIMEOUT"],"origin":"pep","correlation_id":"req-1"}"#
        );
        assert_eq!(serde_json::to_string(&d.refusal()).unwrap(), json);
    }

    #[test]
    fn overruling_keeps_the_pdp_identity() {
        let pdp = Decision::from_pdp(EvaluateResponse {
            correlation_id: "c-9".into(),
            decision: DecisionKind::Degrade,
            rationale_codes: vec!["CAP".into()],
            obligations: vec![Obligation::OutputCap(OutputCap {
                max_tokens: Some(5),
                ..OutputCap::default()
            })],
            policy: PolicyIdentity {
                policy_id: "p".into(),
                policy_version: "1".into(),
                policy_sha256: "0".repeat(64),
            },
            matched_rule_id: Some("r".into()),
        });
        assert!(pdp.is_from_pdp());
        let blocked = pdp.overruled(PepError::Unenforceable {
            obligation: "OUTPUT_CAP".into(),
            reason: "no".into(),
        });
        assert_eq!(blocked.kind(), DecisionKind::Block);
        assert_eq!(blocked.origin(), Origin::Pep);
        assert_eq!(blocked.correlation_id(), Some("c-9"));
        assert_eq!(blocked.policy(), pdp.policy());
        assert!(blocked.obligations().is_empty());
        assert_eq!(blocked.matched_rule_id(), None);
        assert_eq!(
            blocked.rationale_codes(),
            [codes::PEP_OBLIGATION_UNENFORCEABLE]
        );
    }
}
