//! The fast path of request parsing: bytes straight into an [`EvaluateRequest`],
//! without building a `serde_json::Value` first.
//!
//! Almost every request a PDP sees is valid, and for those the `Value` tree (one
//! allocation per key and per value, then a second walk that copies the strings out)
//! costs more than the decision itself. This path deserialises the body in one pass
//! with hand-written visitors and applies the rules of `contract.rs`, as the walk in `walk.rs` does.
//! It has no error reporting at all: at the first thing that is wrong or merely
//! unusual (an unknown or duplicate field, a wrong type, a failed check, an escaped
//! `action`) it gives up, and the caller runs the `Value` walk, which reports every
//! problem with its JSON pointer. So the walk stays the one definition of what is
//! accepted and how refusals read; this path only has to accept a subset of what the
//! walk accepts and build the same request for it (a test checks both on many
//! generated bodies).
//!
//! The visitors accept objects only where the contract has objects: serde's derived
//! struct visitors would also take arrays (`"env": ["prod"]`), which the walk refuses.

use crate::contract::{
    ENV_FIELDS, MAX_ID_CHARS, MAX_LIST_SIGNAL_ITEMS, MAX_REQUEST_ID_CHARS, MAX_SIGNALS,
    REQUEST_FIELDS, RESOURCE_FIELDS, SUBJECT_FIELDS, check_number, is_valid_env_name,
    is_valid_resource_type, is_valid_signal_name, is_valid_subject_type, nonempty_at_most,
    rfc3339_ok, signal_string_too_long,
};
use crate::domain::{Action, Sensitivity};
use crate::request::{Env, EvaluateRequest, Resource, SignalValue, Subject};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// The contract-valid request in `body`, or `None` when anything is off.
pub(crate) fn parse(body: &[u8]) -> Option<EvaluateRequest> {
    serde_json::from_slice::<Fast>(body).ok().map(|f| f.0)
}

/// Any failure: the message is never shown (the walk reports instead).
fn bail<E: de::Error>() -> E {
    E::custom("not on the fast path")
}

/// The index of a known field name, or an error for any other key.
struct FieldSeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldSeed {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a known field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        self.0.iter().position(|k| *k == v).ok_or_else(bail)
    }
}

/// Stores `value` in an empty slot; a second value for the field bails.
fn put<T, E: de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(bail());
    }
    *slot = Some(value);
    Ok(())
}

/// A string without escapes, borrowed from the body (escaped ones bail).
struct Plain<'de>(&'de str);

impl<'de> de::Deserialize<'de> for Plain<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de str>::deserialize(d).map(Plain)
    }
}

/// A value that may also be `null` (then `None`), kept apart from "missing".
fn optional<'de, A: MapAccess<'de>, T: de::Deserialize<'de>>(
    map: &mut A,
) -> Result<Option<T>, A::Error> {
    map.next_value::<Option<T>>()
}

struct Fast(EvaluateRequest);

const ROOT: &[&str] = REQUEST_FIELDS;

impl<'de> de::Deserialize<'de> for Fast {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RootVisitor)
    }
}

struct RootVisitor;

impl<'de> Visitor<'de> for RootVisitor {
    type Value = Fast;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an evaluate request")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fast, A::Error> {
        let mut request_id: Option<Option<String>> = None;
        let mut timestamp: Option<Option<String>> = None;
        let mut action: Option<Action> = None;
        let mut env: Option<Env> = None;
        let mut resource: Option<Resource> = None;
        let mut subject: Option<Option<Subject>> = None;
        let mut signals: Option<Option<Signals>> = None;
        while let Some(i) = map.next_key_seed(FieldSeed(ROOT))? {
            match i {
                0 => {
                    let v: Option<String> = optional(&mut map)?;
                    if v.as_deref()
                        .is_some_and(|s| !nonempty_at_most(s, MAX_REQUEST_ID_CHARS))
                    {
                        return Err(bail());
                    }
                    put(&mut request_id, v)?;
                }
                1 => {
                    let v: Option<String> = optional(&mut map)?;
                    if v.as_deref().is_some_and(|s| !rfc3339_ok(s)) {
                        return Err(bail());
                    }
                    put(&mut timestamp, v)?;
                }
                2 => {
                    let Plain(s) = map.next_value()?;
                    put(&mut action, Action::parse(s).ok_or_else(bail)?)?;
                }
                3 => put(&mut env, map.next_value::<FastEnv>()?.0)?,
                4 => put(&mut resource, map.next_value::<FastResource>()?.0)?,
                5 => {
                    let v: Option<FastSubject> = optional(&mut map)?;
                    put(&mut subject, v.map(|s| s.0))?;
                }
                _ => put(&mut signals, optional(&mut map)?)?,
            }
        }
        Ok(Fast(EvaluateRequest {
            request_id: request_id.flatten(),
            timestamp: timestamp.flatten(),
            action: action.ok_or_else(bail)?,
            env: env.ok_or_else(bail)?,
            resource: resource.ok_or_else(bail)?,
            subject: subject.flatten(),
            signals: signals.flatten().map(|s| s.0).unwrap_or_default(),
            caller: None,
        }))
    }
}

struct FastEnv(Env);

impl<'de> de::Deserialize<'de> for FastEnv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FastEnv;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("env")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastEnv, A::Error> {
                let mut name: Option<String> = None;
                while map.next_key_seed(FieldSeed(ENV_FIELDS))?.is_some() {
                    let v: String = map.next_value()?;
                    if !is_valid_env_name(&v) {
                        return Err(bail());
                    }
                    put(&mut name, v)?;
                }
                Ok(FastEnv(Env {
                    name: name.ok_or_else(bail)?,
                }))
            }
        }
        d.deserialize_map(V)
    }
}

struct FastResource(Resource);

impl<'de> de::Deserialize<'de> for FastResource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FastResource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("resource")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastResource, A::Error> {
                let mut kind: Option<String> = None;
                let mut id: Option<Option<String>> = None;
                let mut sensitivity: Option<Sensitivity> = None;
                while let Some(i) = map.next_key_seed(FieldSeed(RESOURCE_FIELDS))? {
                    match i {
                        0 => {
                            let v: String = map.next_value()?;
                            if !is_valid_resource_type(&v) {
                                return Err(bail());
                            }
                            put(&mut kind, v)?;
                        }
                        1 => {
                            let v: Option<String> = optional(&mut map)?;
                            if v.as_deref()
                                .is_some_and(|s| !nonempty_at_most(s, MAX_ID_CHARS))
                            {
                                return Err(bail());
                            }
                            put(&mut id, v)?;
                        }
                        _ => {
                            let Plain(s) = map.next_value()?;
                            put(&mut sensitivity, Sensitivity::parse(s).ok_or_else(bail)?)?;
                        }
                    }
                }
                Ok(FastResource(Resource {
                    kind: kind.ok_or_else(bail)?,
                    id: id.flatten(),
                    sensitivity: sensitivity.ok_or_else(bail)?,
                }))
            }
        }
        d.deserialize_map(V)
    }
}

struct FastSubject(Subject);

impl<'de> de::Deserialize<'de> for FastSubject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FastSubject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("subject")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastSubject, A::Error> {
                let mut kind: Option<Option<String>> = None;
                let mut id: Option<Option<String>> = None;
                while let Some(i) = map.next_key_seed(FieldSeed(SUBJECT_FIELDS))? {
                    let v: Option<String> = optional(&mut map)?;
                    let ok = match (i, v.as_deref()) {
                        (_, None) => true,
                        (0, Some(s)) => is_valid_subject_type(s),
                        (_, Some(s)) => nonempty_at_most(s, MAX_ID_CHARS),
                    };
                    if !ok {
                        return Err(bail());
                    }
                    put(if i == 0 { &mut kind } else { &mut id }, v)?;
                }
                Ok(FastSubject(Subject {
                    kind: kind.flatten(),
                    id: id.flatten(),
                }))
            }
        }
        d.deserialize_map(V)
    }
}

struct Signals(BTreeMap<String, SignalValue>);

impl<'de> de::Deserialize<'de> for Signals {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Signals;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("signals")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Signals, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(name) = map.next_key::<String>()? {
                    if !is_valid_signal_name(&name) || out.len() >= MAX_SIGNALS {
                        return Err(bail());
                    }
                    let value: FastSignal = map.next_value()?;
                    // A repeated name: the walk keeps the last value (as `Value`
                    // does); leave that rare case to it.
                    if out.insert(name, value.0).is_some() {
                        return Err(bail());
                    }
                }
                Ok(Signals(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn signal_str_ok(s: &str) -> bool {
    signal_string_too_long(s).is_none()
}

struct FastSignal(SignalValue);

impl<'de> de::Deserialize<'de> for FastSignal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SignalVisitor)
    }
}

struct SignalVisitor;

impl<'de> Visitor<'de> for SignalVisitor {
    type Value = FastSignal;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a signal value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<FastSignal, E> {
        Ok(FastSignal(SignalValue::Null))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FastSignal, E> {
        Ok(FastSignal(SignalValue::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FastSignal, E> {
        Ok(FastSignal(SignalValue::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FastSignal, E> {
        // Beyond i64 the walk sees a float (`Number::as_i64` fails); leave it to it.
        i64::try_from(v)
            .map(|i| FastSignal(SignalValue::Int(i)))
            .map_err(|_| bail())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<FastSignal, E> {
        if check_number(v).is_ok() {
            Ok(FastSignal(SignalValue::Float(v)))
        } else {
            Err(bail())
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<FastSignal, E> {
        if signal_str_ok(v) {
            Ok(FastSignal(SignalValue::Str(v.to_owned())))
        } else {
            Err(bail())
        }
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<FastSignal, E> {
        if signal_str_ok(&v) {
            Ok(FastSignal(SignalValue::Str(v)))
        } else {
            Err(bail())
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FastSignal, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(8));
        while let Some(s) = seq.next_element::<String>()? {
            if items.len() >= MAX_LIST_SIGNAL_ITEMS || !signal_str_ok(&s) {
                return Err(bail());
            }
            items.push(s);
        }
        Ok(FastSignal(SignalValue::List(items)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::RequestError;
    use serde_json::Value;

    /// What the `Value` walk makes of `body`.
    /// The reference: JSON with unique keys (a repeated key is malformed), then the walk.
    fn walk(body: &[u8]) -> Result<EvaluateRequest, RequestError> {
        let value: Value =
            crate::unique::from_slice(body).map_err(|e| RequestError::Malformed(e.to_string()))?;
        EvaluateRequest::from_value(&value)
    }

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
            options[(self.next() % options.len() as u64) as usize]
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }
    }

    fn long(c: &str, n: usize) -> String {
        format!("\"{}\"", c.repeat(n))
    }

    /// One body: mostly valid, with each field sometimes wrong, odd, or at a limit.
    fn body(rng: &mut Rng) -> String {
        let bad = 12;
        let mut fields: Vec<String> = Vec::new();
        let field = |rng: &mut Rng, name: &str, good: &[&str], odd: &[String]| {
            if rng.chance(bad) {
                let mut all: Vec<&str> = odd.iter().map(String::as_str).collect();
                all.extend(["null", "1", "[]", "{}", "true", "\"\""]);
                format!("\"{name}\":{}", rng.pick(&all))
            } else {
                format!("\"{name}\":{}", rng.pick(good))
            }
        };
        if !rng.chance(20) {
            fields.push(field(
                rng,
                "request_id",
                &["\"r-1\"", "\"\\u00e9t\\u00e9\"", "null", "\"\u{e9}\""],
                &[
                    long("x", 128),
                    long("x", 129),
                    long("\u{e9}", 128),
                    long("\u{e9}", 129),
                ],
            ));
        }
        if rng.chance(30) {
            fields.push(field(
                rng,
                "timestamp",
                &[
                    "\"2026-11-25T09:38:13Z\"",
                    "\"2026-11-25T09:38:13.5+01:00\"",
                    "null",
                ],
                &["\"yesterday\"".into(), "\"2026-13-25T09:38:13Z\"".into()],
            ));
        }
        if !rng.chance(3) {
            fields.push(field(
                rng,
                "action",
                &["\"infer:run\"", "\"data:read\"", "\"tool:invoke\""],
                &["\"infer:runn\"".into(), "\"infer\\u003arun\"".into()],
            ));
        }
        if !rng.chance(3) {
            fields.push(field(
                rng,
                "env",
                &["{\"name\":\"prod\"}", "{\"name\":\"a.b-c_1\"}"],
                &[
                    "[\"prod\"]".into(),
                    "{\"name\":\"-x\"}".into(),
                    "{\"name\":null}".into(),
                    "{\"name\":\"p\",\"x\":1}".into(),
                    "{\"name\":\"p\",\"name\":\"q\"}".into(),
                ],
            ));
        }
        if !rng.chance(3) {
            fields.push(field(
                rng,
                "resource",
                &[
                    "{\"type\":\"document\",\"id\":\"d-1\",\"sensitivity\":\"restricted\"}",
                    "{\"sensitivity\":\"public\",\"type\":\"t\"}",
                    "{\"type\":\"t\",\"id\":null,\"sensitivity\":\"internal\"}",
                ],
                &[
                    "[\"t\",\"d\",\"public\"]".into(),
                    "{\"type\":\"t\"}".into(),
                    "{\"type\":\"9t\",\"sensitivity\":\"public\"}".into(),
                    "{\"type\":\"t\",\"sensitivity\":\"secret\"}".into(),
                    "{\"type\":\"t\",\"id\":\"\",\"sensitivity\":\"public\"}".into(),
                    format!(
                        "{{\"type\":\"t\",\"id\":{},\"sensitivity\":\"public\"}}",
                        long("\u{e9}", 257)
                    ),
                    format!(
                        "{{\"type\":\"t\",\"id\":{},\"sensitivity\":\"public\"}}",
                        long("\u{e9}", 256)
                    ),
                ],
            ));
        }
        if rng.chance(50) {
            fields.push(field(
                rng,
                "subject",
                &[
                    "{\"type\":\"user\",\"id\":\"u\"}",
                    "{}",
                    "null",
                    "{\"id\":null}",
                ],
                &[
                    "[]".into(),
                    "{\"type\":\"u u\"}".into(),
                    "{\"kind\":\"user\"}".into(),
                    "{\"id\":\"\"}".into(),
                ],
            ));
        }
        if rng.chance(70) {
            let mut signals = Vec::new();
            let n = if rng.chance(5) {
                49 + rng.next() % 4
            } else {
                rng.next() % 6
            };
            for i in 0..n {
                let name = if rng.chance(3) {
                    rng.pick(&["\"Bad\"", "\"a\"", "\"\"", "\"x-y\""])
                        .to_owned()
                } else {
                    format!("\"s{i}\"")
                };
                let value = rng.pick(&[
                    "1",
                    "-7",
                    "1.5",
                    "1e3",
                    "-0",
                    "0.0",
                    "true",
                    "null",
                    "\"x\"",
                    "\"\\n\"",
                    "[\"a\",\"b\"]",
                    "[]",
                    "[1]",
                    "[[\"a\"]]",
                    "{}",
                    "9223372036854775807",
                    "9223372036854775808",
                    "-9223372036854775809",
                    "18446744073709551616",
                    "1e400",
                    "LONG",
                    "LONGER",
                    "MANY",
                    "TOOMANY",
                ]);
                let value = match value {
                    "LONG" => long("\u{e9}", 256),
                    "LONGER" => long("\u{e9}", 257),
                    "MANY" => format!("[{}]", vec!["\"a\""; 64].join(",")),
                    "TOOMANY" => format!("[{}]", vec!["\"a\""; 65].join(",")),
                    v => v.to_owned(),
                };
                signals.push(format!("{name}:{value}"));
            }
            let text = format!("{{{}}}", signals.join(","));
            fields.push(field(
                rng,
                "signals",
                &[&text, "null", "{}"],
                std::slice::from_ref(&text),
            ));
        }
        if rng.chance(3) {
            fields.push("\"bogus\":1".to_owned());
        }
        if rng.chance(3) {
            let dup = fields.first().cloned().unwrap_or_default();
            fields.push(dup);
        }
        // Shuffle: field order must not matter.
        for i in (1..fields.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            fields.swap(i, j);
        }
        let mut text = format!("{{{}}}", fields.join(","));
        match rng.next() % 50 {
            0 => text.push_str(" x"),
            1 => text = format!("[{text}]"),
            2 => {
                let mut cut = text.len() / 2;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            3 => text.push_str(" \n"),
            _ => {}
        }
        text
    }

    #[test]
    fn fast_path_accepts_only_what_the_walk_accepts_and_builds_the_same_request() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut both, mut walk_only, mut neither) = (0, 0, 0);
        for _ in 0..20_000 {
            let text = body(&mut rng);
            let fast = EvaluateRequest::from_json_fast(text.as_bytes());
            let slow = walk(text.as_bytes());
            match (fast, slow) {
                (Some(f), Ok(s)) => {
                    assert_eq!(f, s, "{text}");
                    both += 1;
                }
                (Some(f), Err(e)) => panic!("fast path accepted {text}\nas {f:?}\nwalk: {e}"),
                (None, Ok(_)) => walk_only += 1,
                (None, Err(_)) => neither += 1,
            }
            // `from_json` answers exactly as the walk does.
            assert_eq!(
                EvaluateRequest::from_json(text.as_bytes()),
                walk(text.as_bytes()),
                "{text}"
            );
        }
        // The generator covers both sides, and the fast path takes the common case.
        assert!(
            both > 1_000 && neither > 1_000,
            "{both} {walk_only} {neither}"
        );
        assert!(walk_only * 5 < both, "{both} {walk_only} {neither}");
    }

    #[test]
    fn fast_path_takes_a_typical_request() {
        let body = br#"{"request_id":"bench-1","action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","id":"doc-42","sensitivity":"restricted"},"subject":{"type":"service","id":"svc-a"},"signals":{"caller_trust":"high","prompt_tokens":5120,"pii_detected":false,"tags":["a"],"score":0.25,"gone":null}}"#;
        let fast = EvaluateRequest::from_json_fast(body).unwrap();
        assert_eq!(fast, walk(body).unwrap());
        assert_eq!(fast.signals.len(), 6);
    }

    #[test]
    fn arrays_in_place_of_objects_are_left_to_the_walk() {
        for body in [
            r#"{"action":"infer:run","env":["prod"],"resource":{"type":"t","sensitivity":"public"}}"#,
            r#"{"action":"infer:run","env":{"name":"p"},"resource":["t",null,"public"]}"#,
            r#"{"action":"infer:run","env":{"name":"p"},"resource":{"type":"t","sensitivity":"public"},"subject":[]}"#,
            r#"["infer:run",{"name":"p"},{"type":"t","sensitivity":"public"}]"#,
        ] {
            assert!(
                EvaluateRequest::from_json_fast(body.as_bytes()).is_none(),
                "{body}"
            );
            assert!(walk(body.as_bytes()).is_err(), "{body}");
        }
    }
}
