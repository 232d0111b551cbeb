//! The contract check of a request built in code ([`EvaluateRequest::validate`]), on the
//! typed value itself: no serialisation, no `serde_json::Value`.
//!
//! It applies the rules of `contract.rs` to the fields a typed request can get wrong
//! (strings, signal names, sizes, non-finite numbers) and reports each problem with the
//! pointer and message the `Value` walk gives for the same request on the wire (a test
//! compares both on generated requests). The type already rules out the rest: unknown
//! fields, wrong JSON types, missing required fields, unknown actions.

use crate::contract::{
    check_env_name, check_id, check_list_len, check_number, check_request_id, check_resource_type,
    check_signal_count, check_signal_name, check_signal_string, check_subject_type,
    check_timestamp,
};
use crate::error::{Problem, child};
use crate::request::{EvaluateRequest, SignalValue};

struct Problems(Vec<Problem>);

impl Problems {
    fn check(&mut self, path: impl FnOnce() -> String, result: Result<(), String>) {
        if let Err(message) = result {
            self.0.push(Problem::new(path(), message));
        }
    }

    fn optional(&mut self, path: &str, value: Option<&str>, rule: fn(&str) -> Result<(), String>) {
        if let Some(s) = value {
            self.check(|| path.to_owned(), rule(s));
        }
    }
}

impl EvaluateRequest {
    /// Checks a request built in code against the contract: every problem, each with
    /// the JSON pointer and message [`EvaluateRequest::from_value`] reports for the same
    /// request on the wire. A non-finite float signal (which JSON cannot carry) is
    /// refused as out of range.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut p = Problems(Vec::new());
        p.optional("/request_id", self.request_id.as_deref(), check_request_id);
        p.optional("/timestamp", self.timestamp.as_deref(), check_timestamp);
        p.check(|| "/env/name".to_owned(), check_env_name(&self.env.name));
        p.check(
            || "/resource/type".to_owned(),
            check_resource_type(&self.resource.kind),
        );
        p.optional("/resource/id", self.resource.id.as_deref(), check_id);
        if let Some(subject) = &self.subject {
            p.optional("/subject/type", subject.kind.as_deref(), check_subject_type);
            p.optional("/subject/id", subject.id.as_deref(), check_id);
        }
        if !self.signals.is_empty() {
            p.check(
                || "/signals".to_owned(),
                check_signal_count(self.signals.len()),
            );
        }
        for (name, value) in &self.signals {
            let path = || child("/signals", name);
            if let Err(message) = check_signal_name(name) {
                p.0.push(Problem::new(path(), message));
                continue;
            }
            match value {
                SignalValue::Null | SignalValue::Bool(_) | SignalValue::Int(_) => {}
                SignalValue::Float(f) => p.check(path, check_number(*f)),
                SignalValue::Str(s) => p.check(path, check_signal_string(s)),
                SignalValue::List(items) => {
                    if let Err(message) = check_list_len(items.len()) {
                        p.0.push(Problem::new(path(), message));
                        continue;
                    }
                    for (i, item) in items.iter().enumerate() {
                        p.check(|| format!("{}/{i}", path()), check_signal_string(item));
                    }
                }
            }
        }
        if p.0.is_empty() { Ok(()) } else { Err(p.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Env, RequestError, Resource, Subject};
    use crate::{Action, Sensitivity};
    use std::collections::BTreeMap;

    /// What the `Value` walk reports for the request as it goes on the wire.
    fn on_the_wire(r: &EvaluateRequest) -> Result<(), Vec<Problem>> {
        let value = serde_json::to_value(r).unwrap();
        match EvaluateRequest::from_value(&value) {
            Ok(back) => {
                assert_eq!(&back, r, "the walk builds the same request");
                Ok(())
            }
            Err(RequestError::Invalid(p)) => Err(p),
            Err(other) => panic!("{other:?}"),
        }
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
        /// One of `options`; the first (a valid value) more often than the rest.
        fn pick(&mut self, options: &[String]) -> String {
            if !self.next().is_multiple_of(4) {
                return options[0].clone();
            }
            options[(self.next() % options.len() as u64) as usize].clone()
        }
        fn maybe(&mut self, options: &[String]) -> Option<String> {
            (!self.next().is_multiple_of(3)).then(|| self.pick(options))
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn request(rng: &mut Rng) -> EvaluateRequest {
        let long = |n: usize| "\u{e9}".repeat(n);
        let ids = vec![
            "r-1".to_owned(),
            String::new(),
            long(128),
            long(129),
            long(256),
            long(257),
        ];
        let names = strings(&["prod", "-prod", "p p", "0.eu_1-a", ""]);
        let types = strings(&["document", "1doc", "doc.v2", "", "a/b"]);
        let times = strings(&["2026-11-25T09:38:13Z", "yesterday", "2026-11-25"]);
        let signal_names = strings(&["a", "s1", "Bad", "x-y", "", "a~b/c"]);
        let mut signals = BTreeMap::new();
        let n = match rng.next() % 16 {
            0 => 50 + rng.next() % 3,
            _ => rng.next() % 5,
        };
        for i in 0..n {
            let name = if rng.next().is_multiple_of(4) {
                rng.pick(&signal_names)
            } else {
                format!("s{i}")
            };
            let value = match rng.next() % 12 {
                0 => SignalValue::Null,
                1 => SignalValue::Bool(true),
                2 => SignalValue::Int(-7),
                3 => SignalValue::Float(1.5),
                4 => SignalValue::Str(long(256)),
                5 => SignalValue::Str(long(257)),
                6 => SignalValue::List(vec![long(3); 64]),
                7 => SignalValue::List(vec![long(3); 65]),
                8 => SignalValue::List(vec!["a".into(), long(257), "b".into(), long(300)]),
                9 => SignalValue::Str("x".into()),
                10 => SignalValue::Int(i64::MIN),
                _ => SignalValue::Float(-0.0),
            };
            signals.insert(name, value);
        }
        EvaluateRequest {
            request_id: rng.maybe(&ids),
            timestamp: rng.maybe(&times),
            action: Action::ALL[(rng.next() % 5) as usize],
            env: Env {
                name: rng.pick(&names),
            },
            resource: Resource {
                kind: rng.pick(&types),
                id: rng.maybe(&ids),
                sensitivity: Sensitivity::Restricted,
            },
            subject: rng.next().is_multiple_of(2).then(|| Subject {
                kind: rng.maybe(&types),
                id: rng.maybe(&ids),
            }),
            signals,
        }
    }

    #[test]
    fn typed_check_reports_what_the_walk_reports_on_the_wire() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let (mut valid, mut invalid) = (0, 0);
        for _ in 0..5_000 {
            let r = request(&mut rng);
            let typed = r.validate();
            assert_eq!(typed, on_the_wire(&r), "{r:?}");
            if typed.is_ok() {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        assert!(valid > 500 && invalid > 1_000, "{valid} {invalid}");
    }

    #[test]
    fn non_finite_floats_are_refused_rather_than_sent_as_null() {
        let mut r = request(&mut Rng(7));
        r.request_id = None;
        r.timestamp = None;
        r.env.name = "prod".into();
        r.resource.kind = "doc".into();
        r.resource.id = None;
        r.subject = None;
        r.signals = BTreeMap::from([
            ("nan".to_owned(), SignalValue::Float(f64::NAN)),
            ("inf".to_owned(), SignalValue::Float(f64::INFINITY)),
            ("ok".to_owned(), SignalValue::Float(0.5)),
        ]);
        let problems = r.validate().unwrap_err();
        let got: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.path.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/signals/inf", "number is out of range"),
                ("/signals/nan", "number is out of range")
            ]
        );
    }
}
