//! The entry points that turn an untrusted body into an [`EvaluateRequest`].
//!
//! [`EvaluateRequest::parse`] is the one a service calls: the fast path (`fast.rs`)
//! takes a valid body in one pass; a body it gives up on is read into a
//! `serde_json::Value` once, and that one value gives both the full refusal (the walk in
//! `walk.rs`) and what the audit line can still say about the request ([`Rejection`]).
//! The fast path stops at the first thing it does not like and keeps nothing, so a
//! refused body is deserialised completely only once. serde_json's recursion limit
//! refuses absurdly nested bodies cheaply.

use crate::domain::Action;
use crate::request::{EvaluateRequest, RequestError};
use crate::walk;
use serde_json::Value;

/// A refused body: why, and what an audit line can still say about the request.
/// (Non-exhaustive: more audit facts may be added.)
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Rejection {
    /// Why the body was refused (every problem, for a contract violation).
    pub error: RequestError,
    /// The body's `request_id` when it is itself valid, to correlate the refusal.
    pub request_id: Option<String>,
    /// The body's `action` when it is readable and valid.
    pub action: Option<Action>,
    /// The body's `resource.type` when it is readable and valid.
    pub resource_type: Option<String>,
}

impl Rejection {
    fn malformed(e: &serde_json::Error) -> Rejection {
        Rejection {
            error: RequestError::Malformed(e.to_string()),
            request_id: None,
            action: None,
            resource_type: None,
        }
    }
}

impl EvaluateRequest {
    /// Parses and validates a JSON body: the request, or the refusal with every problem
    /// and what the audit line of the refusal can record.
    pub fn parse(body: &[u8]) -> Result<EvaluateRequest, Rejection> {
        match EvaluateRequest::from_json_fast(body) {
            Some(request) => Ok(request),
            None => EvaluateRequest::parse_slow_path(body),
        }
    }

    /// [`EvaluateRequest::parse`] without its fast path: the unique-key `Value` read
    /// and the walk alone. Not part of the contract: it exists so that the request
    /// parser fuzz target (`fuzz/fuzz_targets/parse_request.rs`) can check that both
    /// paths agree; services call [`EvaluateRequest::parse`].
    #[doc(hidden)]
    pub fn parse_slow_path(body: &[u8]) -> Result<EvaluateRequest, Rejection> {
        let value: Value = crate::unique::from_slice(body).map_err(|e| Rejection::malformed(&e))?;
        walk::walk(&value).map_err(|problems| Rejection {
            error: RequestError::Invalid(problems),
            request_id: walk::salvage_request_id(&value),
            action: walk::salvage_action(&value),
            resource_type: walk::salvage_resource_type(&value),
        })
    }

    /// Parses and validates a JSON body ([`EvaluateRequest::parse`] without the audit
    /// facts of a refusal).
    pub fn from_json(body: &[u8]) -> Result<EvaluateRequest, RequestError> {
        EvaluateRequest::parse(body).map_err(|r| r.error)
    }

    /// The request in `body` when it is contract-valid, parsed in one pass without a
    /// `serde_json::Value`; `None` when anything is wrong or unusual, and then
    /// [`EvaluateRequest::parse`] / [`EvaluateRequest::from_value`] say what. It
    /// never accepts a body they refuse, and builds the same request when both accept.
    pub fn from_json_fast(body: &[u8]) -> Option<EvaluateRequest> {
        crate::fast::parse(body)
    }

    /// Validates an already parsed JSON value, reporting every problem.
    pub fn from_value(value: &Value) -> Result<EvaluateRequest, RequestError> {
        walk::walk(value).map_err(RequestError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(body: &str) -> Rejection {
        EvaluateRequest::parse(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn a_valid_body_parses() {
        let r = EvaluateRequest::parse(
            br#"{"request_id":"r1","action":"infer:run","env":{"name":"prod"},"resource":{"type":"doc","sensitivity":"public"}}"#,
        )
        .unwrap();
        assert_eq!(r.request_id.as_deref(), Some("r1"));
    }

    #[test]
    fn numbers_are_read_as_the_nearest_f64_on_both_paths() {
        // The first one was found by the `evaluate` fuzz target: without serde_json's
        // `float_roundtrip` it was read one unit in the last place off.
        for text in [
            "-4.296147948756988e-220",
            "2.2250738585072014e-308",
            "5e-324",
            "1.7976931348623157e308",
            "0.30000000000000004",
        ] {
            let want: f64 = text.parse().unwrap();
            let body = format!(
                r#"{{"action":"infer:run","env":{{"name":"p"}},"resource":{{"type":"t","sensitivity":"public"}},"signals":{{"n":{text}}}}}"#
            );
            let fast = EvaluateRequest::from_json_fast(body.as_bytes()).unwrap();
            let slow = EvaluateRequest::parse_slow_path(body.as_bytes()).unwrap();
            for request in [fast, slow] {
                match request.signals.get("n") {
                    Some(crate::SignalValue::Float(got)) => {
                        assert_eq!(got.to_bits(), want.to_bits(), "{text} read as {got:e}");
                    }
                    other => panic!("{text}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_refusal_keeps_what_the_audit_line_needs() {
        let r = rejection(
            r#"{"request_id":"r1","action":"data:read","env":{"name":"-x"},"resource":{"type":"doc","sensitivity":"secret"}}"#,
        );
        assert_eq!(r.request_id.as_deref(), Some("r1"));
        assert_eq!(r.action, Some(Action::DataRead));
        assert_eq!(r.resource_type.as_deref(), Some("doc"));
        let RequestError::Invalid(problems) = &r.error else {
            panic!("{r:?}")
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["/env/name", "/resource/sensitivity"]);
        assert_eq!(
            Err(r.error),
            EvaluateRequest::from_json(
                br#"{"request_id":"r1","action":"data:read","env":{"name":"-x"},"resource":{"type":"doc","sensitivity":"secret"}}"#
            )
        );
    }

    #[test]
    fn invalid_audit_facts_are_not_salvaged() {
        let r = rejection(
            r#"{"request_id":"","action":"infer:runn","resource":{"type":"1doc","sensitivity":"public"}}"#,
        );
        assert_eq!(
            (r.request_id, r.action, r.resource_type),
            (None, None, None)
        );
        let r = rejection(r#"{"action":3,"resource":["doc"]}"#);
        assert_eq!((r.action, r.resource_type), (None, None));
    }

    #[test]
    fn malformed_bodies_say_nothing_about_the_request() {
        let r = rejection(r#"{"request_id":"r1","action":"infer:run""#);
        assert!(matches!(r.error, RequestError::Malformed(_)), "{r:?}");
        assert_eq!(
            (r.request_id, r.action, r.resource_type),
            (None, None, None)
        );
    }

    #[test]
    fn request_ids_are_salvaged_only_when_valid() {
        assert_eq!(
            walk::salvage_request_id(&serde_json::json!({"request_id": "r1"})),
            Some("r1".into())
        );
        assert_eq!(
            walk::salvage_request_id(&serde_json::json!({"request_id": ""})),
            None
        );
        assert_eq!(
            walk::salvage_request_id(&serde_json::json!({"request_id": 5})),
            None
        );
        assert_eq!(
            walk::salvage_request_id(&serde_json::json!({"request_id": "x".repeat(129)})),
            None
        );
    }
}
