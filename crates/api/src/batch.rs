//! `POST /evaluate/batch`: up to [`MAX_BATCH_REQUESTS`] EvaluateRequests in one body
//! (e.g. an agent's tool list), answered in the same order.
//!
//! The owned forms ([`EvaluateBatchRequest`], [`EvaluateBatchResponse`]) are the
//! contract (the schemas are generated from them, clients build and read them); the
//! server writes the borrowed [`EvaluateBatchResponseRef`], which writes the same
//! bytes. [`EvaluateBatchRequest::parse_items`] is how the server reads a body: the
//! envelope in one pass (each item kept as its raw bytes), then each item through
//! [`EvaluateRequest::parse`], so that an item gets exactly the refusal `/evaluate`
//! would give the same bytes. What refuses the whole batch (not JSON, a key repeated
//! anywhere, no `requests` array, too many items) is decided here too, once.

use crate::borrowed::EvaluateResponseRef;
use crate::contract::MAX_BATCH_REQUESTS;
use crate::error::{ErrorBody, Problem, child};
use crate::parse::Rejection;
use crate::request::{EvaluateRequest, RequestError};
use crate::response::EvaluateResponse;
use crate::walk::json_type;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// The body of `POST /evaluate/batch`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct EvaluateBatchRequest {
    /// The requests, at most [`MAX_BATCH_REQUESTS`]; each is decided (or refused) on
    /// its own and gets its own audit event.
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = crate::contract::MAX_BATCH_REQUESTS))
    )]
    pub requests: Vec<EvaluateRequest>,
}

/// The 200 answer of `POST /evaluate/batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EvaluateBatchResponse {
    /// One result per request, in the order of `requests`.
    pub results: Vec<BatchResult>,
}

/// The result of one item of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum BatchResult {
    /// The item was decided: what `/evaluate` answers with 200.
    Decision(EvaluateResponse),
    /// The item was refused: the error body `/evaluate` answers for the same request
    /// (its `code` gives the status `/evaluate` would have used).
    Refused(ErrorBody),
}

/// [`BatchResult`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BatchResultRef<'a> {
    /// A decision.
    Decision(EvaluateResponseRef<'a>),
    /// A refusal.
    Refused(&'a ErrorBody),
}

/// [`EvaluateBatchResponse`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EvaluateBatchResponseRef<'a> {
    /// One result per request, in order.
    pub results: &'a [BatchResultRef<'a>],
}

/// One item of a batch as read by [`EvaluateBatchRequest::parse_items`].
#[derive(Debug, Clone, PartialEq)]
pub enum BatchItem {
    /// A contract-valid request.
    Request(EvaluateRequest),
    /// A request that breaks the contract, with what its audit event can record.
    Rejected(Rejection),
    /// An item larger than the per-request limit (its size in bytes), refused as
    /// `/evaluate` refuses such a body.
    TooLarge(usize),
}

/// The envelope: every item kept as its raw bytes. serde refuses a repeated
/// `requests` key and any other key.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow)]
    requests: Vec<&'a RawValue>,
}

impl EvaluateBatchRequest {
    /// Reads a batch body: every item in order, or the refusal of the whole batch
    /// (`Malformed`: not JSON or a key repeated anywhere, HTTP 400; `Invalid`: no
    /// `requests` array, another field, or more than [`MAX_BATCH_REQUESTS`] items,
    /// HTTP 422). Items over `max_item_bytes` are [`BatchItem::TooLarge`].
    pub fn parse_items(body: &[u8], max_item_bytes: usize) -> Result<Vec<BatchItem>, RequestError> {
        let envelope: Envelope<'_> = match serde_json::from_slice(body) {
            Ok(envelope) => envelope,
            Err(e) => return Err(refusal(body, &e)),
        };
        let found = envelope.requests.len();
        if found > MAX_BATCH_REQUESTS {
            return Err(RequestError::Invalid(vec![Problem::new(
                "/requests",
                format!(
                    "a batch holds at most {MAX_BATCH_REQUESTS} requests, found {found}; split it into several batches"
                ),
            )]));
        }
        let mut items = Vec::with_capacity(found);
        for raw in envelope.requests {
            let bytes = raw.get().as_bytes();
            if bytes.len() > max_item_bytes {
                // Still refuse the whole batch for a repeated key inside it.
                if crate::unique::from_slice(bytes).is_err() {
                    return Err(whole_body_malformed(body));
                }
                items.push(BatchItem::TooLarge(bytes.len()));
                continue;
            }
            match EvaluateRequest::parse(bytes) {
                Ok(request) => items.push(BatchItem::Request(request)),
                Err(rejected) => match rejected.error {
                    RequestError::Malformed(_) => return Err(whole_body_malformed(body)),
                    RequestError::Invalid(_) => items.push(BatchItem::Rejected(rejected)),
                },
            }
        }
        Ok(items)
    }
}

/// The refusal of a body whose envelope could not be read.
fn refusal(body: &[u8], e: &serde_json::Error) -> RequestError {
    if e.is_syntax() || e.is_eof() || e.is_io() {
        return RequestError::Malformed(e.to_string());
    }
    // JSON, but not a batch: read it once more to say precisely what is wrong (this
    // reader also refuses a repeated key, with its pointer).
    let value = match crate::unique::from_slice(body) {
        Ok(value) => value,
        Err(e) => return RequestError::Malformed(e.to_string()),
    };
    let mut problems = Vec::new();
    match &value {
        Value::Object(map) => {
            for key in map.keys().filter(|k| k.as_str() != "requests") {
                problems.push(Problem::new(
                    child("", key),
                    format!(
                        "unknown field `{}`; a batch has only `requests`",
                        crate::clip(key)
                    ),
                ));
            }
            match map.get("requests") {
                None => problems.push(Problem::new(
                    "",
                    "missing field `requests`; send {\"requests\": [EvaluateRequest, ...]}",
                )),
                Some(Value::Array(_)) => {}
                Some(other) => problems.push(Problem::new(
                    "/requests",
                    format!(
                        "`requests` must be an array of EvaluateRequests, found {}",
                        json_type(other)
                    ),
                )),
            }
        }
        other => problems.push(Problem::new(
            "",
            format!(
                "a batch must be an object {{\"requests\": [EvaluateRequest, ...]}}, found {}",
                json_type(other)
            ),
        )),
    }
    if problems.is_empty() {
        RequestError::Malformed(e.to_string())
    } else {
        RequestError::Invalid(problems)
    }
}

/// The refusal of a body one of whose items is not readable JSON on its own (a
/// repeated key, or nesting too deep): the unique-key reader's message over the whole
/// body, whose pointer names the item.
fn whole_body_malformed(body: &[u8]) -> RequestError {
    match crate::unique::from_slice(body) {
        Err(e) => RequestError::Malformed(e.to_string()),
        Ok(_) => RequestError::Malformed(
            "an item of `requests` cannot be read as JSON on its own (nested too deeply)"
                .to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DecisionKind;
    use crate::error::ErrorCode;
    use crate::response::PolicyIdentity;

    const VALID: &str = r#"{"request_id":"a","action":"infer:run","env":{"name":"prod"},"resource":{"type":"doc","sensitivity":"public"}}"#;

    fn items(body: &str) -> Result<Vec<BatchItem>, RequestError> {
        EvaluateBatchRequest::parse_items(body.as_bytes(), 64 * 1024)
    }

    #[test]
    fn items_come_back_in_order_each_read_as_evaluate_would() {
        let body = format!(r#"{{"requests": [{VALID}, {{"action": "nope"}}, 3, {VALID}]}}"#);
        let got = items(&body).unwrap();
        assert_eq!(got.len(), 4);
        let single = EvaluateRequest::parse(VALID.as_bytes()).unwrap();
        assert_eq!(got[0], BatchItem::Request(single.clone()));
        assert_eq!(got[3], BatchItem::Request(single));
        let BatchItem::Rejected(r) = &got[1] else {
            panic!("{:?}", got[1])
        };
        assert_eq!(
            r.error,
            EvaluateRequest::from_json(br#"{"action": "nope"}"#).unwrap_err()
        );
        assert!(
            matches!(&got[2], BatchItem::Rejected(r) if matches!(r.error, RequestError::Invalid(_)))
        );
        assert_eq!(items(r#"{"requests": []}"#).unwrap(), vec![]);
    }

    #[test]
    fn the_limit_is_256_items() {
        let body = |n: usize| format!(r#"{{"requests": [{}]}}"#, vec![VALID; n].join(","));
        assert_eq!(items(&body(MAX_BATCH_REQUESTS)).unwrap().len(), 256);
        let RequestError::Invalid(problems) = items(&body(MAX_BATCH_REQUESTS + 1)).unwrap_err()
        else {
            panic!("not invalid")
        };
        assert_eq!(problems[0].path, "/requests");
        assert!(problems[0].message.contains("found 257"), "{problems:?}");
    }

    #[test]
    fn what_refuses_the_whole_batch() {
        let malformed = |body: &str| match items(body) {
            Err(RequestError::Malformed(m)) => m,
            other => panic!("{body}: {other:?}"),
        };
        malformed(r#"{"requests": [{"action": "#);
        malformed("");
        let dup = malformed(&format!(r#"{{"requests": [{VALID}], "requests": []}}"#));
        assert!(dup.contains("requests"), "{dup}");
        let inner = malformed(&format!(
            r#"{{"requests": [{VALID}, {{"action": "infer:run", "action": "data:read"}}]}}"#
        ));
        assert!(inner.contains("/requests/1"), "{inner}");
        let invalid = |body: &str| match items(body) {
            Err(RequestError::Invalid(p)) => p,
            other => panic!("{body}: {other:?}"),
        };
        assert_eq!(invalid(r#"{"requests": {}}"#)[0].path, "/requests");
        assert_eq!(invalid(r#"[]"#)[0].path, "");
        assert_eq!(invalid(r#"{}"#)[0].path, "");
        assert_eq!(invalid(r#"{"requests": [], "extra": 1}"#)[0].path, "/extra");
    }

    #[test]
    fn items_over_the_limit_are_too_large() {
        let got = EvaluateBatchRequest::parse_items(
            format!(r#"{{"requests": [{VALID}]}}"#).as_bytes(),
            10,
        )
        .unwrap();
        assert_eq!(got, vec![BatchItem::TooLarge(VALID.len())]);
    }

    #[test]
    fn the_borrowed_response_writes_the_owned_bytes() {
        let policy = PolicyIdentity {
            policy_id: "p".into(),
            policy_version: "1".into(),
            policy_sha256: "a".repeat(64),
        };
        let owned = EvaluateBatchResponse {
            results: vec![
                BatchResult::Decision(EvaluateResponse {
                    correlation_id: "c\"1".into(),
                    decision: DecisionKind::Block,
                    rationale_codes: vec!["R".into()],
                    obligations: vec![],
                    policy,
                    matched_rule_id: Some("r1".into()),
                }),
                BatchResult::Refused(ErrorBody::new(
                    ErrorCode::InvalidRequest,
                    "bad",
                    Some("c2".into()),
                    vec![Problem::new("/action", "nope")],
                )),
            ],
        };
        let refs: Vec<BatchResultRef<'_>> = owned
            .results
            .iter()
            .map(|r| match r {
                BatchResult::Decision(d) => BatchResultRef::Decision(d.into()),
                BatchResult::Refused(e) => BatchResultRef::Refused(e),
            })
            .collect();
        let borrowed = serde_json::to_string(&EvaluateBatchResponseRef { results: &refs }).unwrap();
        assert_eq!(borrowed, serde_json::to_string(&owned).unwrap());
        let back: EvaluateBatchResponse = serde_json::from_str(&borrowed).unwrap();
        assert_eq!(back, owned);
    }
}
