//! The evaluate request (EvaluateRequest v1) and its contract validation.
//!
//! Parsing goes through `serde_json::Value` and a hand-written walk so that every
//! violation is reported with its JSON pointer in one answer (serde's derive stops at
//! the first). serde_json's recursion limit refuses absurdly nested bodies cheaply.
//! Valid bodies take a one-pass fast path first (`fast.rs`), which falls back to this
//! walk at the first problem.

use crate::domain::{
    Action, MAX_ID_CHARS, MAX_LIST_SIGNAL_ITEMS, MAX_REQUEST_ID_CHARS, MAX_SIGNAL_STRING_CHARS,
    MAX_SIGNALS, Sensitivity, is_valid_env_name, is_valid_resource_type, is_valid_signal_name,
    is_valid_subject_type,
};
use crate::error::Problem;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// A contract-valid evaluate request.
///
/// Construct it with [`EvaluateRequest::from_json`] / [`EvaluateRequest::from_value`]
/// (untrusted input) or build it directly and call [`EvaluateRequest::validate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct EvaluateRequest {
    /// Caller's id for the request; echoed as `correlation_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = MAX_REQUEST_ID_CHARS)))]
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
            extend("maxProperties" = MAX_SIGNALS, "propertyNames" = {"pattern": "^[a-z][a-z0-9_]{0,40}$"})
        )
    )]
    pub signals: BTreeMap<String, SignalValue>,
    /// The authenticated caller (`caller.id` in policies): set by the PDP from the
    /// bearer token's name (or the client certificate's identity), **never** read
    /// from or written to JSON, so a body cannot claim it. `None` with auth off.
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schemars(skip))]
    pub caller: Option<String>,
}

/// `env`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
pub struct Env {
    /// `env.name`.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = "^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$"))
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
        schemars(regex(pattern = "^[a-zA-Z][a-zA-Z0-9._-]{0,63}$"))
    )]
    pub kind: String,
    /// `resource.id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = MAX_ID_CHARS)))]
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
        schemars(regex(pattern = "^[a-zA-Z][a-zA-Z0-9._-]{0,31}$"))
    )]
    pub kind: Option<String>,
    /// `subject.id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = MAX_ID_CHARS)))]
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
    /// A string of at most 256 characters.
    Str(String),
    /// A list of at most 64 strings (an extension over version 1).
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
            "description": "A signal: a string (at most 256 characters), number, boolean or null (null counts as absent), or a list of at most 64 such strings.",
            "anyOf": [
                { "type": "string", "maxLength": MAX_SIGNAL_STRING_CHARS },
                { "type": ["number", "boolean", "null"] },
                {
                    "type": "array",
                    "maxItems": MAX_LIST_SIGNAL_ITEMS,
                    "items": { "type": "string", "maxLength": MAX_SIGNAL_STRING_CHARS }
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

struct Walk {
    problems: Vec<Problem>,
}

impl Walk {
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    fn object<'v>(
        &mut self,
        path: &str,
        v: &'v Value,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = v.as_object() else {
            self.problem(path, format!("expected an object, found {}", json_type(v)));
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.problem(
                    &child(path, key),
                    format!(
                        "unknown field `{key}`; expected one of: {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(map)
    }

    /// A string field; `None` when missing (reported if `required`) or invalid (reported).
    fn string(
        &mut self,
        map: &Map<String, Value>,
        parent: &str,
        key: &str,
        required: bool,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        // Paths are built only for problems: valid requests are the hot path.
        let path = || child(parent, key);
        match map.get(key) {
            None | Some(Value::Null) if !required => None,
            None => {
                self.problem(&path(), "required field is missing");
                None
            }
            Some(Value::String(s)) => match check(s) {
                Ok(()) => Some(s.clone()),
                Err(message) => {
                    self.problem(&path(), message);
                    None
                }
            },
            Some(other) => {
                self.problem(
                    &path(),
                    format!("expected a string, found {}", json_type(other)),
                );
                None
            }
        }
    }
}

fn child(parent: &str, key: &str) -> String {
    let escaped = key.replace('~', "~0").replace('/', "~1");
    format!("{parent}/{escaped}")
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn length_between(min: usize, max: usize) -> impl Fn(&str) -> Result<(), String> {
    move |s: &str| {
        let n = s.chars().count();
        if n < min || n > max {
            Err(format!("must be {min}..{max} characters long, found {n}"))
        } else {
            Ok(())
        }
    }
}

fn pattern(ok: fn(&str) -> bool, pattern: &'static str) -> impl Fn(&str) -> Result<(), String> {
    move |s: &str| {
        if ok(s) {
            Ok(())
        } else {
            Err(format!("`{}` does not match `{pattern}`", clip(s)))
        }
    }
}

fn one_of<T>(
    parse: fn(&str) -> Option<T>,
    names: &'static str,
) -> impl Fn(&str) -> Result<(), String> {
    move |s: &str| match parse(s) {
        Some(_) => Ok(()),
        None => Err(format!("`{}` is not one of {names}", clip(s))),
    }
}

/// Shortens caller input quoted back in messages (at most 64 characters, then `…`).
pub fn clip(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

/// Whether `s` is an RFC 3339 date-time (the check behind `timestamp`).
pub(crate) fn rfc3339_ok(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

fn rfc3339(s: &str) -> Result<(), String> {
    if rfc3339_ok(s) {
        Ok(())
    } else {
        Err(format!("`{}` is not an RFC 3339 date-time", clip(s)))
    }
}

const ACTIONS: &str = "infer:run, data:read, data:write, tool:invoke, policy:admin";
const SENSITIVITIES: &str = "public, internal, restricted";

impl EvaluateRequest {
    /// Parses and validates a JSON body.
    pub fn from_json(body: &[u8]) -> Result<EvaluateRequest, RequestError> {
        if let Some(request) = EvaluateRequest::from_json_fast(body) {
            return Ok(request);
        }
        let value: Value =
            serde_json::from_slice(body).map_err(|e| RequestError::Malformed(e.to_string()))?;
        EvaluateRequest::from_value(&value)
    }

    /// The request in `body` when it is contract-valid, parsed in one pass without a
    /// `serde_json::Value`; `None` when anything is wrong or unusual, and then
    /// [`EvaluateRequest::from_json`] / [`EvaluateRequest::from_value`] say what. It
    /// never accepts a body they refuse, and builds the same request when both accept.
    pub fn from_json_fast(body: &[u8]) -> Option<EvaluateRequest> {
        crate::fast::parse(body)
    }

    /// Validates an already parsed JSON value, reporting every problem.
    pub fn from_value(value: &Value) -> Result<EvaluateRequest, RequestError> {
        let mut w = Walk {
            problems: Vec::new(),
        };
        let request = Self::walk(&mut w, value);
        match request {
            Some(r) if w.problems.is_empty() => Ok(r),
            _ => Err(RequestError::Invalid(w.problems)),
        }
    }

    fn walk(w: &mut Walk, value: &Value) -> Option<EvaluateRequest> {
        let root = w.object(
            "",
            value,
            &[
                "request_id",
                "timestamp",
                "action",
                "env",
                "resource",
                "subject",
                "signals",
            ],
        )?;
        let request_id = w.string(
            root,
            "",
            "request_id",
            false,
            length_between(1, MAX_REQUEST_ID_CHARS),
        );
        let timestamp = w.string(root, "", "timestamp", false, rfc3339);
        let action = w
            .string(root, "", "action", true, one_of(Action::parse, ACTIONS))
            .and_then(|s| Action::parse(&s));

        let env = match root.get("env") {
            None => {
                w.problem("/env", "required field is missing");
                None
            }
            Some(v) => w.object("/env", v, &["name"]).and_then(|m| {
                w.string(
                    m,
                    "/env",
                    "name",
                    true,
                    pattern(is_valid_env_name, "^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$"),
                )
                .map(|name| Env { name })
            }),
        };

        let resource = match root.get("resource") {
            None => {
                w.problem("/resource", "required field is missing");
                None
            }
            Some(v) => w
                .object("/resource", v, &["type", "id", "sensitivity"])
                .and_then(|m| {
                    let kind = w.string(
                        m,
                        "/resource",
                        "type",
                        true,
                        pattern(is_valid_resource_type, "^[a-zA-Z][a-zA-Z0-9._-]{0,63}$"),
                    );
                    let id = w.string(m, "/resource", "id", false, length_between(1, MAX_ID_CHARS));
                    let sensitivity = w
                        .string(
                            m,
                            "/resource",
                            "sensitivity",
                            true,
                            one_of(Sensitivity::parse, SENSITIVITIES),
                        )
                        .and_then(|s| Sensitivity::parse(&s));
                    Some(Resource {
                        kind: kind?,
                        id,
                        sensitivity: sensitivity?,
                    })
                }),
        };

        let subject = match root.get("subject") {
            None | Some(Value::Null) => None,
            Some(v) => w.object("/subject", v, &["type", "id"]).map(|m| Subject {
                kind: w.string(
                    m,
                    "/subject",
                    "type",
                    false,
                    pattern(is_valid_subject_type, "^[a-zA-Z][a-zA-Z0-9._-]{0,31}$"),
                ),
                id: w.string(m, "/subject", "id", false, length_between(1, MAX_ID_CHARS)),
            }),
        };

        let signals = match root.get("signals") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(v) => Self::walk_signals(w, v),
        };

        Some(EvaluateRequest {
            request_id,
            timestamp,
            action: action?,
            env: env?,
            resource: resource?,
            subject,
            signals,
            caller: None,
        })
    }

    fn walk_signals(w: &mut Walk, v: &Value) -> BTreeMap<String, SignalValue> {
        let mut out = BTreeMap::new();
        let Some(map) = v.as_object() else {
            w.problem(
                "/signals",
                format!("expected an object, found {}", json_type(v)),
            );
            return out;
        };
        if map.len() > MAX_SIGNALS {
            w.problem(
                "/signals",
                format!(
                    "at most {MAX_SIGNALS} signals are allowed, found {}",
                    map.len()
                ),
            );
        }
        for (name, value) in map {
            let path = || child("/signals", name);
            if !is_valid_signal_name(name) {
                w.problem(
                    &path(),
                    format!(
                        "signal name `{}` does not match `^[a-z][a-z0-9_]{{0,40}}$`",
                        clip(name)
                    ),
                );
                continue;
            }
            if let Some(v) = signal_value(w, &path, value) {
                out.insert(name.clone(), v);
            }
        }
        out
    }

    /// Checks a request built in code against the contract (what
    /// [`EvaluateRequest::from_value`] checks on the wire).
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        match serde_json::to_value(self) {
            Ok(value) => EvaluateRequest::from_value(&value)
                .map(|_| ())
                .map_err(|e| match e {
                    RequestError::Invalid(p) => p,
                    RequestError::Malformed(m) => vec![Problem::new("", m)],
                }),
            Err(e) => Err(vec![Problem::new("", e.to_string())]),
        }
    }

    /// The value of `signals.<name>`, treating null as absent.
    pub fn signal(&self, name: &str) -> Option<&SignalValue> {
        match self.signals.get(name) {
            Some(SignalValue::Null) | None => None,
            Some(v) => Some(v),
        }
    }
}

fn signal_string(w: &mut Walk, path: &dyn Fn() -> String, s: &str) -> bool {
    // A string of at most 256 bytes has at most 256 characters: skip the count.
    let n = if s.len() <= MAX_SIGNAL_STRING_CHARS {
        s.len()
    } else {
        s.chars().count()
    };
    if n > MAX_SIGNAL_STRING_CHARS {
        w.problem(
            &path(),
            format!("string signals are at most {MAX_SIGNAL_STRING_CHARS} characters, found {n}"),
        );
        false
    } else {
        true
    }
}

fn signal_value(w: &mut Walk, path: &dyn Fn() -> String, value: &Value) -> Option<SignalValue> {
    match value {
        Value::Null => Some(SignalValue::Null),
        Value::Bool(b) => Some(SignalValue::Bool(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(SignalValue::Int(i)),
            None => match n.as_f64() {
                Some(f) if f.is_finite() => Some(SignalValue::Float(f)),
                _ => {
                    w.problem(&path(), "number is out of range");
                    None
                }
            },
        },
        Value::String(s) => signal_string(w, path, s).then(|| SignalValue::Str(s.clone())),
        Value::Array(items) => {
            if items.len() > MAX_LIST_SIGNAL_ITEMS {
                w.problem(
                    &path(),
                    format!(
                        "list signals hold at most {MAX_LIST_SIGNAL_ITEMS} items, found {}",
                        items.len()
                    ),
                );
                return None;
            }
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                let item_path = || format!("{}/{i}", path());
                match item {
                    Value::String(s) if signal_string(w, &item_path, s) => out.push(s.clone()),
                    Value::String(_) => ok = false,
                    other => {
                        w.problem(
                            &item_path(),
                            format!("list signals hold strings only, found {}", json_type(other)),
                        );
                        ok = false;
                    }
                }
            }
            ok.then_some(SignalValue::List(out))
        }
        Value::Object(_) => {
            w.problem(
                &path(),
                "a signal is a string, number, boolean, null or list of strings, found an object",
            );
            None
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("path", &self.path)?;
        m.serialize_entry("message", &self.message)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
