//! Turns the bytes of a PDP answer into a decision the enforcer may trust.
//!
//! This module is the contract check on the enforcer's side. A 200 answer is trusted only
//! when it is exactly an EvaluateResponse v1 (no unknown fields), keeps the contract's
//! invariants, echoes the request's id, and carries only obligations this enforcer knows,
//! with params in their domains. Anything else is an error, and so a BLOCK. Obligations
//! are read from the raw JSON first so that an unknown obligation *type* is reported as
//! such (`PEP_OBLIGATION_UNSUPPORTED`) rather than as a malformed answer.

use crate::decision::Decision;
use crate::error::PepError;
use crate::obligation::{ObligationKind, check_params};
use policygate_api::{DecisionKind, ErrorBody, EvaluateResponse};
use serde_json::Value;

/// Validates the body of a `200` answer.
///
/// `request_id` is the id the request carried, if any: the answer must echo it.
pub(crate) fn decision_from_body(
    body: &[u8],
    request_id: Option<&str>,
) -> Result<Decision, PepError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| PepError::invalid_response(format!("the body is not JSON: {e}")))?;
    let unknown_type = take_unknown_obligations(&mut value);
    let response: EvaluateResponse = serde_json::from_value(value).map_err(|e| {
        PepError::invalid_response(format!("the body is not an EvaluateResponse: {e}"))
    })?;
    if let Some(obligation_type) = unknown_type {
        if response.decision != DecisionKind::Degrade {
            return Err(PepError::invalid_response(
                "obligations must be present exactly when the decision is DEGRADE",
            ));
        }
        if request_id.is_some_and(|id| id != response.correlation_id) {
            return Err(mismatched_id(request_id, &response.correlation_id));
        }
        return Err(PepError::UnsupportedObligation {
            obligation_type,
            correlation_id: response.correlation_id,
            policy: response.policy,
        });
    }
    response
        .check_invariants()
        .map_err(PepError::invalid_response)?;
    if request_id.is_some_and(|id| id != response.correlation_id) {
        return Err(mismatched_id(request_id, &response.correlation_id));
    }
    for obligation in &response.obligations {
        check_params(obligation).map_err(PepError::invalid_response)?;
    }
    Ok(Decision::from_pdp(response))
}

fn mismatched_id(request_id: Option<&str>, correlation_id: &str) -> PepError {
    PepError::invalid_response(format!(
        "correlation_id `{correlation_id}` does not echo the request_id `{}`",
        request_id.unwrap_or_default()
    ))
}

/// Removes the obligations whose `type` is a string this enforcer does not know, and
/// returns the first such type. Malformed entries are left for serde to refuse.
fn take_unknown_obligations(value: &mut Value) -> Option<String> {
    let list = value.get_mut("obligations")?.as_array_mut()?;
    let mut first = None;
    list.retain(|o| match o.get("type").and_then(Value::as_str) {
        Some(t) if ObligationKind::parse(t).is_none() => {
            first.get_or_insert_with(|| t.to_owned());
            false
        }
        _ => true,
    });
    first
}

/// Reads the error body of a non-200 answer, when it is one, for the error message.
pub(crate) fn error_status(status: u16, body: &[u8]) -> PepError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => PepError::ErrorStatus {
            status,
            error_code: Some(b.error.code),
            message: Some(b.error.message),
        },
        Err(_) => PepError::ErrorStatus {
            status,
            error_code: None,
            message: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Origin;
    use serde_json::json;

    fn sha() -> String {
        "ab".repeat(32)
    }

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn degrade(obligations: Value) -> Value {
        json!({
            "correlation_id": "req-1", "decision": "DEGRADE", "rationale_codes": ["CAP"],
            "obligations": obligations,
            "policy": {"policy_id": "p", "policy_version": "1", "policy_sha256": sha()},
            "matched_rule_id": "r"
        })
    }

    fn code(v: Value, request_id: Option<&str>) -> &'static str {
        decision_from_body(&body(v), request_id).unwrap_err().code()
    }

    #[test]
    fn accepts_a_contract_valid_answer() {
        let d = decision_from_body(
            &body(degrade(
                json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 20}}]),
            )),
            Some("req-1"),
        )
        .unwrap();
        assert_eq!(d.kind(), DecisionKind::Degrade);
        assert_eq!(d.origin(), Origin::Pdp);
        assert_eq!(d.output_cap().and_then(|c| c.max_tokens), Some(20));
        assert_eq!(d.matched_rule_id(), Some("r"));
    }

    #[test]
    fn unknown_obligation_types_are_unsupported_not_invalid() {
        let v = degrade(json!([
            {"type": "OUTPUT_CAP", "params": {"max_tokens": 20}},
            {"type": "REDACT", "params": {"categories": ["pii"]}}
        ]));
        let e = decision_from_body(&body(v), Some("req-1")).unwrap_err();
        assert!(matches!(
            &e,
            PepError::UnsupportedObligation { obligation_type, correlation_id, .. }
                if obligation_type == "REDACT" && correlation_id == "req-1"
        ));
        let d = Decision::from_error(e, None);
        assert_eq!(d.rationale_codes(), ["PEP_OBLIGATION_UNSUPPORTED"]);
        assert_eq!(d.correlation_id(), Some("req-1"));
        assert!(d.policy().is_some());
    }

    #[test]
    fn contract_violations_are_invalid() {
        let invalid = "PEP_PDP_INVALID_RESPONSE";
        assert_eq!(
            decision_from_body(b"<html>oops</html>", None)
                .unwrap_err()
                .code(),
            invalid
        );
        // Unknown field.
        let mut v = degrade(json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 2}}]));
        v["extra"] = json!(1);
        assert_eq!(code(v, None), invalid);
        // Unknown decision.
        let mut v = degrade(json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 2}}]));
        v["decision"] = json!("MAYBE");
        assert_eq!(code(v, None), invalid);
        // DEGRADE without obligations.
        assert_eq!(code(degrade(json!([])), None), invalid);
        // Obligations on ALLOW, even unknown ones.
        let mut v = degrade(json!([{"type": "REDACT", "params": {}}]));
        v["decision"] = json!("ALLOW");
        assert_eq!(code(v, None), invalid);
        // Params outside their domain, or unknown params.
        assert_eq!(
            code(
                degrade(json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 0}}])),
                None
            ),
            invalid
        );
        assert_eq!(
            code(degrade(json!([{"type": "OUTPUT_CAP", "params": {}}])), None),
            invalid
        );
        assert_eq!(
            code(
                degrade(json!([{"type": "OUTPUT_CAP", "params": {"max_words": 3}}])),
                None
            ),
            invalid
        );
        // Obligation without a type.
        assert_eq!(code(degrade(json!([{"params": {}}])), None), invalid);
        // Uppercase fingerprint, empty codes.
        let mut v = degrade(json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 2}}]));
        v["policy"]["policy_sha256"] = json!("AB".repeat(32));
        assert_eq!(code(v, None), invalid);
        let mut v = degrade(json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 2}}]));
        v["rationale_codes"] = json!([]);
        assert_eq!(code(v, None), invalid);
    }

    #[test]
    fn the_answer_must_echo_the_request_id() {
        let v = degrade(json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 2}}]));
        assert_eq!(code(v.clone(), Some("other")), "PEP_PDP_INVALID_RESPONSE");
        assert!(decision_from_body(&body(v), None).is_ok());
        let v = degrade(json!([{"type": "REDACT", "params": {}}]));
        assert_eq!(code(v, Some("other")), "PEP_PDP_INVALID_RESPONSE");
    }

    #[test]
    fn error_bodies_are_read_when_they_follow_the_contract() {
        let e = error_status(
            422,
            br#"{"error":{"code":"invalid_request","message":"bad"}}"#,
        );
        assert_eq!(
            e,
            PepError::ErrorStatus {
                status: 422,
                error_code: Some(policygate_api::ErrorCode::InvalidRequest),
                message: Some("bad".into())
            }
        );
        assert!(matches!(
            error_status(502, b"Bad Gateway"),
            PepError::ErrorStatus {
                status: 502,
                error_code: None,
                message: None
            }
        ));
    }
}
