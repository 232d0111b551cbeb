//! The evaluate request (EvaluateRequest v1): its types, and the refusal of a body.
//!
//! The types carry no parsing logic. The rules are in `contract.rs`; bodies are read by
//! `parse.rs` (the entry points), `fast.rs` (one pass, valid bodies) and `walk.rs` (the
//! `Value` walk that reports every problem); a request built in code is checked by
//! `validate.rs`.

use crate::domain::{Action, Sensitivity};
use crate::error::Problem;
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// A contract-valid evaluate request.
///
/// Construct it with [`EvaluateRequest::parse`] / [`EvaluateRequest::from_json`] /
/// [`EvaluateRequest::from_value`] (untrusted input) or build it directly and call
/// [`EvaluateRequest::validate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct EvaluateRequest {
    /// Caller's id for the request; echoed as `correlation_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = crate::contract::MAX_REQUEST_ID_CHARS)))]
    pub request_id: Option<String>,
    /// Caller's RFC 3339 timestamp: recorded, never used to decide.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub timestamp: Option<String>,
    /// The action.
    pub action: Action,
    /// The environment.
    pub env: Env,
    /// The resource acted upon.
    pub resource: Resource,
    /// Who acts, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// Named risk signals. Null values are kept: a null signal counts as absent.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(
        feature = "schema",
        schemars(
            with = "Option<BTreeMap<String, SignalValue>>",
            extend("maxProperties" = crate::contract::MAX_SIGNALS, "propertyNames" = {"pattern": crate::contract::SIGNAL_NAME_PATTERN})
        )
    )]
    pub signals: BTreeMap<String, SignalValue>,
}

/// `env`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Env {
    /// `env.name`.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = crate::contract::ENV_NAME_PATTERN))
    )]
    pub name: String,
}

/// `resource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Resource {
    /// `resource.type`.
    #[serde(rename = "type")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = crate::contract::RESOURCE_TYPE_PATTERN))
    )]
    pub kind: String,
    /// `resource.id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = crate::contract::MAX_ID_CHARS)))]
    pub id: Option<String>,
    /// `resource.sensitivity`.
    pub sensitivity: Sensitivity,
}

/// `subject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Subject {
    /// `subject.type`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = crate::contract::SUBJECT_TYPE_PATTERN))
    )]
    pub kind: Option<String>,
    /// `subject.id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = crate::contract::MAX_ID_CHARS)))]
    pub id: Option<String>,
}

/// The value of one signal.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalValue {
    /// JSON null: the signal counts as absent.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (a JSON number without fraction or exponent that fits `i64`).
    Int(i64),
    /// Any other JSON number.
    Float(f64),
    /// A string of at most 256 characters ([`MAX_SIGNAL_STRING_CHARS`](crate::MAX_SIGNAL_STRING_CHARS)).
    Str(String),
    /// A list of at most 64 strings ([`MAX_LIST_SIGNAL_ITEMS`](crate::MAX_LIST_SIGNAL_ITEMS);
    /// an extension over version 1).
    List(Vec<String>),
}

impl SignalValue {
    /// The numeric value, when this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            #[expect(
                clippy::cast_precision_loss,
                reason = "numeric comparison of mixed int/float"
            )]
            SignalValue::Int(i) => Some(*i as f64),
            SignalValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// A short name of the JSON type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            SignalValue::Null => "null",
            SignalValue::Bool(_) => "boolean",
            SignalValue::Int(_) => "integer",
            SignalValue::Float(_) => "number",
            SignalValue::Str(_) => "string",
            SignalValue::List(_) => "list",
        }
    }

    fn to_json(&self) -> Value {
        match self {
            SignalValue::Null => Value::Null,
            SignalValue::Bool(b) => Value::Bool(*b),
            SignalValue::Int(i) => Value::from(*i),
            SignalValue::Float(f) => Value::from(*f),
            SignalValue::Str(s) => Value::String(s.clone()),
            SignalValue::List(items) => {
                Value::Array(items.iter().map(|s| Value::String(s.clone())).collect())
            }
        }
    }
}

impl From<&SignalValue> for Value {
    fn from(v: &SignalValue) -> Value {
        v.to_json()
    }
}

/// The contract of one signal value, kept next to `signal_value`, the check it describes.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for SignalValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SignalValue".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": format!(
                "A signal: a string (at most {} characters), number, boolean or null (null counts as absent), or a list of at most {} such strings.",
                crate::contract::MAX_SIGNAL_STRING_CHARS,
                crate::contract::MAX_LIST_SIGNAL_ITEMS
            ),
            "anyOf": [
                { "type": "string", "maxLength": crate::contract::MAX_SIGNAL_STRING_CHARS },
                { "type": ["number", "boolean", "null"] },
                {
                    "type": "array",
                    "maxItems": crate::contract::MAX_LIST_SIGNAL_ITEMS,
                    "items": { "type": "string", "maxLength": crate::contract::MAX_SIGNAL_STRING_CHARS }
                }
            ]
        })
    }
}

impl Serialize for SignalValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SignalValue::Null => s.serialize_unit(),
            SignalValue::Bool(b) => s.serialize_bool(*b),
            SignalValue::Int(i) => s.serialize_i64(*i),
            SignalValue::Float(f) => s.serialize_f64(*f),
            SignalValue::Str(v) => s.serialize_str(v),
            SignalValue::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestError {
    /// The body is not JSON (or nests too deeply): HTTP 400, `invalid_json`.
    Malformed(String),
    /// The body is JSON but breaks the contract: HTTP 422, `invalid_request`.
    Invalid(Vec<Problem>),
}

impl RequestError {
    /// A one-line summary for the error body's `message`.
    pub fn summary(&self) -> String {
        match self {
            RequestError::Malformed(m) => format!("request body is not valid JSON: {m}"),
            RequestError::Invalid(problems) => Problem::summary(problems),
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for RequestError {}

impl EvaluateRequest {
    /// The value of `signals.<name>`, treating null as absent.
    pub fn signal(&self, name: &str) -> Option<&SignalValue> {
        match self.signals.get(name) {
            Some(SignalValue::Null) | None => None,
            Some(v) => Some(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::child;
    use serde_json::{Map, json};

    fn problems(v: Value) -> Vec<(String, String)> {
        match EvaluateRequest::from_value(&v) {
            Err(RequestError::Invalid(p)) => p.into_iter().map(|p| (p.path, p.message)).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_full_request() {
        let r = EvaluateRequest::from_value(&json!({
            "request_id": "req-1", "timestamp": "2026-11-25T09:38:13Z",
            "action": "infer:run", "env": {"name": "prod"},
            "resource": {"type": "document", "id": "d1", "sensitivity": "restricted"},
            "subject": {"type": "service", "id": "svc"},
            "signals": {"a": 1, "b": 1.5, "c": "x", "d": true, "e": null, "f": ["x", "y"]}
        }))
        .unwrap();
        assert_eq!(r.action, Action::InferRun);
        assert_eq!(r.signals.get("a"), Some(&SignalValue::Int(1)));
        assert_eq!(r.signals.get("b"), Some(&SignalValue::Float(1.5)));
        assert_eq!(r.signal("e"), None);
        assert_eq!(
            r.signals.get("f"),
            Some(&SignalValue::List(vec!["x".into(), "y".into()]))
        );
        assert!(r.validate().is_ok());
    }

    #[test]
    fn reports_every_problem_with_a_pointer() {
        let p = problems(json!({
            "action": "infer:runn", "env": {"name": "-x", "extra": 1},
            "resource": {"type": "document"}, "bogus": true,
            "signals": {"Bad": 1, "ok": {"nested": 1}}
        }));
        let paths: Vec<&str> = p.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "/bogus",
                "/action",
                "/env/extra",
                "/env/name",
                "/resource/sensitivity",
                "/signals/Bad",
                "/signals/ok"
            ]
        );
        assert!(p[1].1.contains("is not one of"), "{p:?}");
        assert_eq!(p[4].1, "required field is missing");
    }

    #[test]
    fn missing_required_objects_and_wrong_types() {
        let p = problems(json!({"action": 3, "signals": []}));
        let paths: Vec<&str> = p.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, vec!["/action", "/env", "/resource", "/signals"]);
        assert!(
            problems(json!([1]))
                .iter()
                .any(|(p, m)| p.is_empty() && m.contains("object"))
        );
    }

    #[test]
    fn limits_are_enforced() {
        let mut signals = Map::new();
        for i in 0..51 {
            signals.insert(format!("s{i}"), json!(1));
        }
        let base = |signals: Value| json!({"action": "data:read", "env": {"name": "p"}, "resource": {"type": "t", "sensitivity": "public"}, "signals": signals});
        assert_eq!(problems(base(Value::Object(signals)))[0].0, "/signals");
        assert_eq!(
            problems(base(json!({"s": "x".repeat(257)})))[0].0,
            "/signals/s"
        );
        assert_eq!(
            problems(base(json!({"s": vec!["x"; 65]})))[0].0,
            "/signals/s"
        );
        assert_eq!(problems(base(json!({"s": ["x", 1]})))[0].0, "/signals/s/1");
        assert!(EvaluateRequest::from_value(&base(json!({"s": "x".repeat(256)}))).is_ok());
        let bad_ts = json!({"timestamp": "yesterday", "action": "data:read", "env": {"name": "p"}, "resource": {"type": "t", "sensitivity": "public"}});
        assert_eq!(problems(bad_ts)[0].0, "/timestamp");
    }

    #[test]
    fn malformed_and_deeply_nested_bodies_are_refused() {
        assert!(matches!(
            EvaluateRequest::from_json(b"{"),
            Err(RequestError::Malformed(_))
        ));
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            EvaluateRequest::from_json(deep.as_bytes()),
            Err(RequestError::Malformed(_))
        ));
    }

    #[test]
    fn pointer_escapes_keys() {
        assert_eq!(child("", "a/b~c"), "/a~1b~0c");
    }
}
