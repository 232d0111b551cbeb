//! The `Value` walk: a parsed JSON value checked against the contract, reporting every
//! violation with its JSON pointer in one answer (serde's derive stops at the first).
//!
//! This walk alone defines which bodies are accepted and how refusals read; the fast path
//! (`fast.rs`) accepts a subset of what it accepts, and the typed check (`validate.rs`)
//! reports what it would report for the serialised request. The rules themselves come
//! from `contract.rs`. It also reads, from the same value, what an audit line can still
//! say about a refused request.

use crate::contract::{
    ENV_FIELDS, NUMBER_OUT_OF_RANGE, REQUEST_FIELDS, RESOURCE_FIELDS, SUBJECT_FIELDS, check_action,
    check_env_name, check_id, check_list_len, check_number, check_request_id, check_resource_type,
    check_sensitivity, check_signal_count, check_signal_name, check_signal_string,
    check_subject_type, check_timestamp, is_valid_resource_type,
};
use crate::domain::Action;
use crate::error::{Problem, child};
use crate::request::{Env, EvaluateRequest, Resource, SignalValue, Subject};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The request in `value`, or every contract problem.
pub(crate) fn walk(value: &Value) -> Result<EvaluateRequest, Vec<Problem>> {
    let mut w = Walk {
        problems: Vec::new(),
    };
    let request = w.request(value);
    match request {
        Some(r) if w.problems.is_empty() => Ok(r),
        _ => Err(w.problems),
    }
}

/// A usable `request_id` from a body that broke the contract, to correlate the refusal.
pub(crate) fn salvage_request_id(value: &Value) -> Option<String> {
    let id = value.get("request_id")?.as_str()?;
    check_request_id(id).is_ok().then(|| id.to_owned())
}

/// `action`, when it is readable and valid, from a body that broke the contract.
pub(crate) fn salvage_action(value: &Value) -> Option<Action> {
    value
        .get("action")
        .and_then(Value::as_str)
        .and_then(Action::parse)
}

/// `resource.type`, when it is readable and valid, from a body that broke the contract.
pub(crate) fn salvage_resource_type(value: &Value) -> Option<String> {
    value
        .pointer("/resource/type")
        .and_then(Value::as_str)
        .filter(|t| is_valid_resource_type(t))
        .map(str::to_owned)
}

/// The JSON type of `v`, for messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

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

    fn request(&mut self, value: &Value) -> Option<EvaluateRequest> {
        let root = self.object("", value, REQUEST_FIELDS)?;
        let request_id = self.string(root, "", "request_id", false, check_request_id);
        let timestamp = self.string(root, "", "timestamp", false, check_timestamp);
        let action = self
            .string(root, "", "action", true, |s| check_action(s).map(|_| ()))
            .and_then(|s| Action::parse(&s));

        let env = match root.get("env") {
            None => {
                self.problem("/env", "required field is missing");
                None
            }
            Some(v) => self.object("/env", v, ENV_FIELDS).and_then(|m| {
                self.string(m, "/env", "name", true, check_env_name)
                    .map(|name| Env { name })
            }),
        };

        let resource = match root.get("resource") {
            None => {
                self.problem("/resource", "required field is missing");
                None
            }
            Some(v) => self.object("/resource", v, RESOURCE_FIELDS).and_then(|m| {
                let kind = self.string(m, "/resource", "type", true, check_resource_type);
                let id = self.string(m, "/resource", "id", false, check_id);
                let sensitivity = self
                    .string(m, "/resource", "sensitivity", true, |s| {
                        check_sensitivity(s).map(|_| ())
                    })
                    .and_then(|s| check_sensitivity(&s).ok());
                Some(Resource {
                    kind: kind?,
                    id,
                    sensitivity: sensitivity?,
                })
            }),
        };

        let subject = match root.get("subject") {
            None | Some(Value::Null) => None,
            Some(v) => self.object("/subject", v, SUBJECT_FIELDS).map(|m| Subject {
                kind: self.string(m, "/subject", "type", false, check_subject_type),
                id: self.string(m, "/subject", "id", false, check_id),
            }),
        };

        let signals = match root.get("signals") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(v) => self.signals(v),
        };

        Some(EvaluateRequest {
            request_id,
            timestamp,
            action: action?,
            env: env?,
            resource: resource?,
            subject,
            signals,
        })
    }

    fn signals(&mut self, v: &Value) -> BTreeMap<String, SignalValue> {
        let mut out = BTreeMap::new();
        let Some(map) = v.as_object() else {
            self.problem(
                "/signals",
                format!("expected an object, found {}", json_type(v)),
            );
            return out;
        };
        if let Err(message) = check_signal_count(map.len()) {
            self.problem("/signals", message);
        }
        for (name, value) in map {
            let path = || child("/signals", name);
            if let Err(message) = check_signal_name(name) {
                self.problem(&path(), message);
                continue;
            }
            if let Some(v) = self.signal_value(&path, value) {
                out.insert(name.clone(), v);
            }
        }
        out
    }

    fn signal_string(&mut self, path: &dyn Fn() -> String, s: &str) -> bool {
        match check_signal_string(s) {
            Ok(()) => true,
            Err(message) => {
                self.problem(&path(), message);
                false
            }
        }
    }

    fn signal_value(&mut self, path: &dyn Fn() -> String, value: &Value) -> Option<SignalValue> {
        match value {
            Value::Null => Some(SignalValue::Null),
            Value::Bool(b) => Some(SignalValue::Bool(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Some(SignalValue::Int(i)),
                None => match n.as_f64() {
                    Some(f) if check_number(f).is_ok() => Some(SignalValue::Float(f)),
                    _ => {
                        self.problem(&path(), NUMBER_OUT_OF_RANGE);
                        None
                    }
                },
            },
            Value::String(s) => self
                .signal_string(path, s)
                .then(|| SignalValue::Str(s.clone())),
            Value::Array(items) => {
                if let Err(message) = check_list_len(items.len()) {
                    self.problem(&path(), message);
                    return None;
                }
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    let item_path = || format!("{}/{i}", path());
                    match item {
                        Value::String(s) if self.signal_string(&item_path, s) => {
                            out.push(s.clone());
                        }
                        Value::String(_) => ok = false,
                        other => {
                            self.problem(
                                &item_path(),
                                format!(
                                    "list signals hold strings only, found {}",
                                    json_type(other)
                                ),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then_some(SignalValue::List(out))
            }
            Value::Object(_) => {
                self.problem(
                    &path(),
                    "a signal is a string, number, boolean, null or list of strings, found an object",
                );
                None
            }
        }
    }
}
