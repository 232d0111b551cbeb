//! Property tests: on random policies and requests, evaluation is deterministic and
//! agrees with a deliberately naive reference evaluator written here from the spec;
//! every overlap witness really matches both rules; and every pair of equal-priority
//! rules that some random request matches together was refused as an overlap.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and bench code fails loudly"
)]

use policygate_api::EvaluateRequest;
use policygate_core::{Code, LoadOptions, load};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTIONS: [&str; 3] = ["infer:run", "data:read", "tool:invoke"];
const SENS: [&str; 3] = ["public", "internal", "restricted"];
const ENVS: [&str; 3] = ["prod", "dev", "stage"];
const TAGS: [&str; 3] = ["abc", "abd", "x"];

#[derive(Debug, Clone)]
enum P {
    Action(usize),
    Sens(Vec<usize>),
    EnvNe(usize),
    Num(&'static str, i32),
    NumNotIn(Vec<i32>),
    Flag(bool),
    TagEq(usize),
    TagStarts(&'static str),
    SubjectType(&'static str),
    SubjectExists(bool),
    TagExists(bool),
}

#[derive(Debug, Clone)]
enum C {
    P(P),
    All(Vec<C>),
    Any(Vec<C>),
    Not(Box<C>),
}

fn pred() -> impl Strategy<Value = P> {
    prop_oneof![
        (0..3usize).prop_map(P::Action),
        prop::collection::vec(0..3usize, 1..3).prop_map(P::Sens),
        (0..3usize).prop_map(P::EnvNe),
        (
            prop::sample::select(vec!["eq", "ne", "gt", "gte", "lt", "lte"]),
            -1..12i32
        )
            .prop_map(|(o, n)| P::Num(o, n)),
        prop::collection::vec(0..6i32, 1..3).prop_map(P::NumNotIn),
        any::<bool>().prop_map(P::Flag),
        (0..3usize).prop_map(P::TagEq),
        prop::sample::select(vec!["ab", "x", "b"]).prop_map(P::TagStarts),
        prop::sample::select(vec!["service", "user"]).prop_map(P::SubjectType),
        any::<bool>().prop_map(P::SubjectExists),
        any::<bool>().prop_map(P::TagExists),
    ]
}

fn cond() -> impl Strategy<Value = C> {
    pred().prop_map(C::P).prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(C::All),
            prop::collection::vec(inner.clone(), 1..3).prop_map(C::Any),
            inner.prop_map(|c| C::Not(Box::new(c))),
        ]
    })
}

fn p_yaml(p: &P) -> String {
    match p {
        P::Action(a) => format!("{{action: \"{}\"}}", ACTIONS[*a]),
        P::Sens(s) => format!(
            "{{resource: {{sensitivity: {{in: [{}]}}}}}}",
            s.iter().map(|i| SENS[*i]).collect::<Vec<_>>().join(", ")
        ),
        P::EnvNe(e) => format!("{{env: {{name: {{ne: {}}}}}}}", ENVS[*e]),
        P::Num(op, n) => format!("{{signals: {{n: {{{op}: {n}}}}}}}"),
        P::NumNotIn(ns) => format!("{{signals: {{n: {{not_in: {ns:?}}}}}}}"),
        P::Flag(b) => format!("{{signals: {{flag: {b}}}}}"),
        P::TagEq(t) => format!("{{signals: {{tag: {}}}}}", TAGS[*t]),
        P::TagStarts(s) => format!("{{signals: {{tag: {{starts_with: \"{s}\"}}}}}}"),
        P::SubjectType(t) => format!("{{subject: {{type: {t}}}}}"),
        P::SubjectExists(b) => format!("{{subject: {{exists: {b}}}}}"),
        P::TagExists(b) => format!("{{signals: {{tag: {{exists: {b}}}}}}}"),
    }
}

fn c_yaml(c: &C) -> String {
    match c {
        C::P(p) => p_yaml(p),
        C::All(cs) => format!(
            "{{all: [{}]}}",
            cs.iter().map(c_yaml).collect::<Vec<_>>().join(", ")
        ),
        C::Any(cs) => format!(
            "{{any: [{}]}}",
            cs.iter().map(c_yaml).collect::<Vec<_>>().join(", ")
        ),
        C::Not(c) => format!("{{not: {}}}", c_yaml(c)),
    }
}

fn get<'a>(req: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut v = req;
    for k in path {
        v = v.get(*k)?;
    }
    (!v.is_null()).then_some(v)
}

/// The spec, read literally: every operator but `exists` is false on an absent or
/// null fact; a value of another type never matches.
fn p_eval(p: &P, req: &Value) -> bool {
    let n = get(req, &["signals", "n"]).and_then(Value::as_f64);
    let tag = get(req, &["signals", "tag"]);
    match p {
        P::Action(a) => get(req, &["action"]).and_then(Value::as_str) == Some(ACTIONS[*a]),
        P::Sens(s) => get(req, &["resource", "sensitivity"])
            .and_then(Value::as_str)
            .is_some_and(|v| s.iter().any(|i| SENS[*i] == v)),
        P::EnvNe(e) => get(req, &["env", "name"])
            .and_then(Value::as_str)
            .is_some_and(|v| v != ENVS[*e]),
        P::Num(op, k) => n.is_some_and(|n| {
            let k = f64::from(*k);
            match *op {
                "eq" => n == k,
                "ne" => n != k,
                "gt" => n > k,
                "gte" => n >= k,
                "lt" => n < k,
                _ => n <= k,
            }
        }),
        P::NumNotIn(ks) => n.is_some_and(|n| !ks.iter().any(|k| f64::from(*k) == n)),
        P::Flag(b) => get(req, &["signals", "flag"]).and_then(Value::as_bool) == Some(*b),
        P::TagEq(t) => tag.and_then(Value::as_str) == Some(TAGS[*t]),
        P::TagStarts(s) => tag
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with(s)),
        P::SubjectType(t) => get(req, &["subject", "type"]).and_then(Value::as_str) == Some(*t),
        P::SubjectExists(b) => get(req, &["subject"]).is_some() == *b,
        P::TagExists(b) => tag.is_some() == *b,
    }
}

fn c_eval(c: &C, req: &Value) -> bool {
    match c {
        C::P(p) => p_eval(p, req),
        C::All(cs) => cs.iter().all(|c| c_eval(c, req)),
        C::Any(cs) => cs.iter().any(|c| c_eval(c, req)),
        C::Not(c) => !c_eval(c, req),
    }
}

fn request() -> impl Strategy<Value = Value> {
    let n = prop_oneof![
        Just(Value::Null),
        (-2..13i32).prop_map(|n| json!(n)),
        Just(json!(5.5)),
        Just(json!("5"))
    ];
    let flag = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(|b| json!(b)),
        Just(json!("true"))
    ];
    let tag = prop_oneof![
        Just(Value::Null),
        prop::sample::select(vec!["abc", "abd", "x", "b", "zz"]).prop_map(|s| json!(s)),
        Just(json!(3))
    ];
    let subject = prop_oneof![
        Just(Value::Null),
        Just(json!({})),
        Just(json!({"type": "service"})),
        Just(json!({"type": "user", "id": "u1"}))
    ];
    (0..3usize, 0..3usize, prop::sample::select(vec!["prod", "dev", "stage", "other"]), n, flag, tag, subject).prop_map(
        |(a, s, e, n, flag, tag, subject)| {
            let mut signals = serde_json::Map::new();
            for (k, v) in [("n", n), ("flag", flag), ("tag", tag)] {
                if !v.is_null() || k == "flag" {
                    signals.insert(k.to_owned(), v);
                }
            }
            let mut req = json!({"action": ACTIONS[a], "env": {"name": e}, "resource": {"type": "doc", "sensitivity": SENS[s]}, "signals": signals});
            if !subject.is_null() {
                req["subject"] = subject;
            }
            req
        },
    )
}

fn policy_text(rules: &[(u32, C)]) -> String {
    let mut s = String::from(
        "policy_id: prop\npolicy_version: \"1\"\ndefault: {decision: BLOCK, rationale_codes: [DEFAULT]}\nrules:\n",
    );
    for (i, (prio, c)) in rules.iter().enumerate() {
        s.push_str(&format!(
            "  - rule_id: r{i}\n    priority: {prio}\n    when: {}\n    then: {{decision: ALLOW, rationale_codes: [R{i}]}}\n",
            c_yaml(c)
        ));
    }
    s
}

fn reference(rules: &[(u32, C)], req: &Value) -> Option<usize> {
    let mut best: Option<(u32, usize)> = None;
    for (i, (prio, c)) in rules.iter().enumerate() {
        if c_eval(c, req) && best.is_none_or(|(p, _)| *prio > p) {
            best = Some((*prio, i));
        }
    }
    best.map(|(_, i)| i)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn evaluation_agrees_with_the_reference(
        rules in prop::collection::vec((1..4u32, cond()), 1..6),
        requests in prop::collection::vec(request(), 1..24),
    ) {
        let text = policy_text(&rules);
        let (policy, report) = load("p.yaml", text.as_bytes(), &LoadOptions::default());
        let (again, _) = load("p.yaml", text.as_bytes(), &LoadOptions::default());
        prop_assert_eq!(policy.is_some(), again.is_some());
        let overlap_errors: Vec<_> = report.errors().iter().filter(|d| d.code() == Code::EqualPriorityOverlap).collect();

        // Every witness matches both rules named in the error.
        for d in &overlap_errors {
            let witness = d.witness_request().expect("overlap errors carry a witness");
            let msg = d.message();
            let ids: Vec<usize> = msg.split('`').skip(1).step_by(2).take(2)
                .map(|id| id.trim_start_matches('r').parse().unwrap()).collect();
            prop_assert_eq!(ids.len(), 2, "{}", msg);
            prop_assert!(c_eval(&rules[ids[0]].1, witness), "witness {} does not match r{}", witness, ids[0]);
            prop_assert!(c_eval(&rules[ids[1]].1, witness), "witness {} does not match r{}", witness, ids[1]);
            prop_assert!(EvaluateRequest::from_value(witness).is_ok(), "witness is not a valid request: {}", witness);
        }

        for req in &requests {
            // Soundness of the overlap check: two equal-priority rules matching one
            // request must have been refused.
            let matching: Vec<usize> = (0..rules.len()).filter(|i| c_eval(&rules[*i].1, req)).collect();
            for a in &matching {
                for b in &matching {
                    if a < b && rules[*a].0 == rules[*b].0 {
                        prop_assert!(policy.is_none(), "r{} and r{} both match {} but the policy loaded:\n{}", a, b, req, text);
                        prop_assert!(!overlap_errors.is_empty() || report.errors().iter().any(|d| d.code() == Code::RuleTooComplex));
                    }
                }
            }
            let Some(policy) = &policy else { continue };
            let parsed = EvaluateRequest::from_value(req).unwrap();
            let got = policy.evaluate(&parsed);
            let want = reference(&rules, req).map(|i| format!("r{i}"));
            prop_assert_eq!(got.matched_rule_id.map(str::to_owned), want, "request {} policy:\n{}", req, text);
            // Determinism: same policy bytes and facts, same bytes out.
            let a = serde_json::to_string(&got.to_response("c".into(), policy.identity())).unwrap();
            let b = serde_json::to_string(&again.as_ref().unwrap().evaluate(&parsed).to_response("c".into(), policy.identity())).unwrap();
            prop_assert_eq!(a, b);
        }
        // A rule reported dead matches none of the requests.
        for d in report.errors().iter().filter(|d| d.code() == Code::DeadRule) {
            let i: usize = d.rule_id().unwrap().trim_start_matches('r').parse().unwrap();
            for req in &requests {
                prop_assert!(!c_eval(&rules[i].1, req), "dead rule r{} matches {}", i, req);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// `explain` agrees with `evaluate`: same decision, the deciding step is the first
    /// rule that matches, every step's `matched` is the reference's, and every miss
    /// names a failing test. Suggested cases are decided by the rule they are for.
    #[test]
    fn explain_and_suggestions_agree_with_evaluation(
        rules in prop::collection::vec((1..4u32, cond()), 1..6),
        requests in prop::collection::vec(request(), 1..16),
    ) {
        let text = policy_text(&rules);
        let (policy, _) = load("p.yaml", text.as_bytes(), &LoadOptions::default());
        let Some(policy) = policy else { return Ok(()) };
        for req in &requests {
            let parsed = EvaluateRequest::from_value(req).unwrap();
            let d = policy.evaluate(&parsed);
            let e = policy.explain(&parsed, "c".into(), true);
            prop_assert_eq!(&e.response, &d.to_response("c".into(), policy.identity()));
            prop_assert_eq!(e.default_applied, d.default_applied());
            prop_assert_eq!(e.trace.len(), rules.len());
            let first = e.trace.iter().find(|s| s.matched).map(|s| s.rule_id.clone());
            prop_assert_eq!(first.as_deref(), d.matched_rule_id);
            for s in &e.trace {
                let i: usize = s.rule_id.trim_start_matches('r').parse().unwrap();
                prop_assert_eq!(s.matched, c_eval(&rules[i].1, req), "{} on {}", s.rule_id, req);
                prop_assert_eq!(s.failed.is_none(), s.matched, "{:?}", s);
                prop_assert_eq!(s.decided, Some(s.rule_id.as_str()) == d.matched_rule_id);
            }
            let short = policy.explain(&parsed, "c".into(), false);
            if d.default_applied() {
                prop_assert_eq!(short.trace.len(), rules.len());
                prop_assert!(short.trace.iter().all(|s| !s.matched));
            } else {
                prop_assert_eq!(short.trace.last().map(|s| s.decided), Some(true));
                prop_assert_eq!(short.trace.iter().filter(|s| s.matched).count(), 1);
            }
            prop_assert_eq!(serde_json::to_string(&short).unwrap(), serde_json::to_string(&policy.explain(&parsed, "c".into(), false)).unwrap());
        }
        for r in policy.rules() {
            if let Some(req) = policy.suggest_request(Some(r.rule_id)) {
                prop_assert!(req.validate().is_ok());
                prop_assert_eq!(policy.evaluate(&req).matched_rule_id, Some(r.rule_id));
            }
        }
        if let Some(req) = policy.suggest_request(None) {
            prop_assert!(policy.evaluate(&req).default_applied());
        }
    }
}
