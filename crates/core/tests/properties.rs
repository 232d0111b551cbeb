//! Property tests: on random policies and requests, evaluation is deterministic and
//! agrees with a deliberately naive reference evaluator written from the spec
//! (`shared/reference.rs`, which the evaluator fuzz target shares);
//! every overlap witness really matches both rules; and every pair of equal-priority
//! rules that some random request matches together was refused as an overlap.
//! Numeric literals and values are drawn at the edges where floating point used to
//! lie (i64::MIN, i64::MAX, ±2^53, ±(2^53 + 1), declared bounds, -0.0; issue 9), and the
//! reference compares numbers exactly, by a method of its own. Policies of up to 60
//! rules (so that the decision index is built) and the generated 10,000-rule benchmark
//! policy check that the index never changes a decision.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and bench code fails loudly"
)]

use policygate_api::EvaluateRequest;
use policygate_core::{Code, LoadOptions, Policy, load};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

#[path = "shared/bench_policy.rs"]
mod bench_policy;
#[path = "shared/reference.rs"]
mod reference;
use reference::*;

fn edge_int() -> impl Strategy<Value = i64> {
    prop::sample::select(EDGE_INTS.to_vec())
}

fn edge_num() -> impl Strategy<Value = N> {
    prop_oneof![
        edge_int().prop_map(N::I),
        prop::sample::select(EDGE_FLOATS.to_vec()).prop_map(N::F),
    ]
}

/// A numeric literal: mostly small (so that random rules meet), often at an edge.
fn lit() -> impl Strategy<Value = N> {
    prop_oneof![3 => (-1..12i64).prop_map(N::I), 2 => edge_num()]
}

/// A request value: small, at an edge, or one step next to an edge.
fn value() -> impl Strategy<Value = N> {
    prop_oneof![
        (-2..13i64).prop_map(N::I),
        edge_num(),
        edge_int().prop_map(|i| N::I(i.saturating_add(1))),
        edge_int().prop_map(|i| N::I(i.saturating_sub(1))),
    ]
}

fn pred() -> impl Strategy<Value = P> {
    prop_oneof![
        (0..3usize).prop_map(P::Action),
        prop::collection::vec(0..3usize, 1..3).prop_map(P::Sens),
        (0..3usize).prop_map(P::EnvNe),
        (
            prop::sample::select(vec!["eq", "ne", "gt", "gte", "lt", "lte"]),
            lit()
        )
            .prop_map(|(o, n)| P::Num(o, n)),
        prop::collection::vec(prop_oneof![(0..6i64).prop_map(N::I), edge_num()], 1..3)
            .prop_map(P::NumNotIn),
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

fn request() -> impl Strategy<Value = Value> {
    let n = prop_oneof![
        1 => Just(Value::Null),
        3 => value().prop_map(N::json),
        1 => Just(json!(5.5)),
        1 => Just(json!("5"))
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

// --- The decision index never changes a decision --------------------------------------

/// Bounds of the declared number fact `x`: the edges just past ±2^53 and i64::MAX.
const X_MIN: i64 = -P53 - 1;
const X_MAX: i64 = i64::MAX;

#[derive(Debug, Clone)]
enum Q {
    Action(usize),
    Sens(Vec<usize>),
    Tier(Vec<usize>),
    NCmp(&'static str, N),
    NIn(Vec<i64>),
    NNotIn(Vec<i64>),
    NExists(bool),
    XCmp(&'static str, N),
    XIn(Vec<N>),
}

const TIERS: [&str; 3] = ["a", "b", "c"];

fn in_x_range(n: N) -> bool {
    n_cmp(n, N::I(X_MIN)) != Ordering::Less && n_cmp(n, N::I(X_MAX)) != Ordering::Greater
}

fn qpred() -> impl Strategy<Value = Q> {
    let op = || prop::sample::select(vec!["eq", "ne", "gt", "gte", "lt", "lte"]);
    let int_lit = || prop_oneof![(-1..6i64), edge_int()];
    prop_oneof![
        (0..3usize).prop_map(Q::Action),
        prop::collection::vec(0..3usize, 1..3).prop_map(Q::Sens),
        prop::collection::vec(0..3usize, 1..3).prop_map(Q::Tier),
        // An integer fact compares with integers and with float thresholds; `eq`/`ne`
        // take integers only.
        (op(), lit()).prop_map(|(o, n)| match (o, n) {
            ("eq" | "ne", N::F(f)) => Q::NCmp(if f < 0.0 { "lt" } else { "gte" }, n),
            _ => Q::NCmp(o, n),
        }),
        prop::collection::vec(int_lit(), 1..4).prop_map(Q::NIn),
        prop::collection::vec(int_lit(), 1..3).prop_map(Q::NNotIn),
        any::<bool>().prop_map(Q::NExists),
        // `eq`/`ne` outside the declared range are refused (they could never match).
        (op(), lit()).prop_map(|(o, n)| match o {
            "eq" | "ne" if !in_x_range(n) => Q::XCmp("gt", n),
            _ => Q::XCmp(o, n),
        }),
        prop::collection::vec(lit(), 1..4).prop_map(|ns| {
            let ns: Vec<N> = ns.into_iter().filter(|n| in_x_range(*n)).collect();
            if ns.is_empty() {
                Q::NExists(true)
            } else {
                Q::XIn(ns)
            }
        }),
    ]
}

#[derive(Debug, Clone)]
enum D {
    Q(Q),
    All(Vec<D>),
    Any(Vec<D>),
    Not(Box<D>),
}

fn dcond() -> impl Strategy<Value = D> {
    qpred().prop_map(D::Q).prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(D::All),
            prop::collection::vec(inner.clone(), 1..3).prop_map(D::Any),
            inner.prop_map(|c| D::Not(Box::new(c))),
        ]
    })
}

/// A rule: facts it pins (so the index has something to split on) and a condition.
fn drule() -> impl Strategy<Value = D> {
    (
        prop::option::weighted(0.7, 0..3usize),
        prop::option::weighted(0.3, prop::collection::vec(edge_int(), 1..3)),
        dcond(),
    )
        .prop_map(|(a, ns, c)| {
            let mut parts = Vec::new();
            if let Some(a) = a {
                parts.push(D::Q(Q::Action(a)));
            }
            if let Some(ns) = ns {
                parts.push(D::Q(Q::NIn(ns)));
            }
            parts.push(c);
            D::All(parts)
        })
}

fn list<T>(xs: &[T], f: impl Fn(&T) -> String) -> String {
    xs.iter().map(f).collect::<Vec<_>>().join(", ")
}

fn q_yaml(q: &Q) -> String {
    match q {
        Q::Action(a) => format!("{{action: \"{}\"}}", ACTIONS[*a]),
        Q::Sens(s) => format!(
            "{{resource: {{sensitivity: {{in: [{}]}}}}}}",
            list(s, |i| SENS[*i].to_owned())
        ),
        Q::Tier(t) => format!(
            "{{signals: {{tier: {{in: [{}]}}}}}}",
            list(t, |i| TIERS[*i].to_owned())
        ),
        Q::NCmp(op, n) => format!("{{signals: {{n: {{{op}: {}}}}}}}", n.yaml()),
        Q::NIn(ns) => format!("{{signals: {{n: {{in: [{}]}}}}}}", list(ns, i64::to_string)),
        Q::NNotIn(ns) => format!(
            "{{signals: {{n: {{not_in: [{}]}}}}}}",
            list(ns, i64::to_string)
        ),
        Q::NExists(b) => format!("{{signals: {{n: {{exists: {b}}}}}}}"),
        Q::XCmp(op, n) => format!("{{signals: {{x: {{{op}: {}}}}}}}", n.yaml()),
        Q::XIn(ns) => format!("{{signals: {{x: {{in: [{}]}}}}}}", list(ns, |n| n.yaml())),
    }
}

fn d_yaml(d: &D) -> String {
    match d {
        D::Q(q) => q_yaml(q),
        D::All(ds) => format!("{{all: [{}]}}", list(ds, d_yaml)),
        D::Any(ds) => format!("{{any: [{}]}}", list(ds, d_yaml)),
        D::Not(d) => format!("{{not: {}}}", d_yaml(d)),
    }
}

fn q_eval(q: &Q, req: &Value) -> bool {
    let n = get(req, &["signals", "n"]).and_then(n_of);
    let x = get(req, &["signals", "x"]).and_then(n_of);
    match q {
        Q::Action(a) => get(req, &["action"]).and_then(Value::as_str) == Some(ACTIONS[*a]),
        Q::Sens(s) => get(req, &["resource", "sensitivity"])
            .and_then(Value::as_str)
            .is_some_and(|v| s.iter().any(|i| SENS[*i] == v)),
        Q::Tier(t) => get(req, &["signals", "tier"])
            .and_then(Value::as_str)
            .is_some_and(|v| t.iter().any(|i| TIERS[*i] == v)),
        Q::NCmp(op, k) => n.is_some_and(|n| n_op(op, n, *k)),
        Q::NIn(ks) => n.is_some_and(|n| ks.iter().any(|k| n_op("eq", n, N::I(*k)))),
        Q::NNotIn(ks) => n.is_some_and(|n| !ks.iter().any(|k| n_op("eq", n, N::I(*k)))),
        Q::NExists(b) => n.is_some() == *b,
        Q::XCmp(op, k) => x.is_some_and(|x| n_op(op, x, *k)),
        Q::XIn(ks) => x.is_some_and(|x| ks.iter().any(|k| n_op("eq", x, *k))),
    }
}

fn d_eval(d: &D, req: &Value) -> bool {
    match d {
        D::Q(q) => q_eval(q, req),
        D::All(ds) => ds.iter().all(|d| d_eval(d, req)),
        D::Any(ds) => ds.iter().any(|d| d_eval(d, req)),
        D::Not(d) => !d_eval(d, req),
    }
}

/// Distinct priorities (37 and 61 are coprime), in an order unlike file order.
fn priority(i: usize) -> usize {
    (i * 37) % 61 + 1
}

fn dpolicy_text(rules: &[(usize, D)]) -> String {
    let mut s = format!(
        "policy_id: idx\npolicy_version: \"1\"\nfacts:\n  n: {{type: integer}}\n  x: {{type: number, min: {X_MIN}, max: {X_MAX}}}\n  tier: {{type: string, enum: [a, b, c]}}\ndefault: {{decision: BLOCK, rationale_codes: [DEFAULT]}}\nrules:\n"
    );
    for (id, d) in rules {
        s.push_str(&format!(
            "  - rule_id: r{id}\n    priority: {}\n    when: {}\n    then: {{decision: ALLOW, rationale_codes: [R{id}]}}\n",
            priority(*id),
            d_yaml(d)
        ));
    }
    s
}

fn drequest() -> impl Strategy<Value = Value> {
    let opt = |s: BoxedStrategy<Value>| prop_oneof![1 => Just(Value::Null), 4 => s];
    (
        0..3usize,
        0..3usize,
        opt(prop_oneof![
            6 => value().prop_filter("an integer", |n| matches!(n, N::I(_))),
            1 => value(),
        ]
        .prop_map(N::json)
        .boxed()),
        opt(value().prop_map(N::json).boxed()),
        opt(prop::sample::select(TIERS.to_vec()).prop_map(|t| json!(t)).boxed()),
    )
        .prop_map(|(a, s, n, x, tier)| {
            let mut signals = serde_json::Map::new();
            for (k, v) in [("n", n), ("x", x), ("tier", tier)] {
                if !v.is_null() {
                    signals.insert(k.to_owned(), v);
                }
            }
            json!({"action": ACTIONS[a], "env": {"name": "prod"}, "resource": {"type": "doc", "sensitivity": SENS[s]}, "signals": signals})
        })
}

/// Loads the rules, dropping those the validator finds dead (random conditions often
/// are); returns the policy and the rules it holds.
/// A loaded policy, the rules it holds (by id) and its text.
type Live = (Policy, Vec<(usize, D)>, String);

fn load_live(mut rules: Vec<(usize, D)>) -> Option<Live> {
    loop {
        if rules.is_empty() {
            return None;
        }
        let text = dpolicy_text(&rules);
        let (policy, report) = load("idx.yaml", text.as_bytes(), &LoadOptions::default());
        if let Some(policy) = policy {
            return Some((policy, rules, text));
        }
        let dead: Vec<String> = report
            .errors()
            .iter()
            .filter(|d| matches!(d.code(), Code::DeadRule | Code::RuleTooComplex))
            .filter_map(|d| d.rule_id().map(str::to_owned))
            .collect();
        assert_eq!(
            dead.len(),
            report.errors().len(),
            "only dead or too complex rules may be refused:\n{}\n{text}",
            report.render_human(false)
        );
        rules.retain(|(id, _)| !dead.contains(&format!("r{id}")));
    }
}

#[test]
fn the_index_never_changes_a_decision() {
    let indexed = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 160,
        ..Config::default()
    });
    let strategy = (
        prop::collection::vec(drule(), 1..60),
        prop::collection::vec(drequest(), 1..40),
    );
    runner
        .run(&strategy, |(conds, requests)| {
            let rules: Vec<(usize, D)> = conds.into_iter().enumerate().collect();
            let Some((policy, rules, text)) = load_live(rules) else {
                return Ok(());
            };
            if policy.uses_index() {
                indexed.fetch_add(1, AtomicOrdering::Relaxed);
            }
            for req in &requests {
                let parsed = EvaluateRequest::from_value(req).unwrap();
                let n = get(req, &["signals", "n"]).and_then(n_of);
                let x = get(req, &["signals", "x"]).and_then(n_of);
                let refusable = matches!(n, Some(N::F(_))) || x.is_some_and(|x| !in_x_range(x));
                if policy.check_request(&parsed).is_err() {
                    // Only a float for the integer `n` or an `x` outside its range.
                    prop_assert!(refusable, "{} refused", req);
                    continue;
                }
                prop_assert!(!refusable, "{} accepted", req);
                let got = policy.evaluate(&parsed).matched_rule_id;
                let plain = policy.evaluate_in_order(&parsed).matched_rule_id;
                prop_assert_eq!(
                    got,
                    plain,
                    "index and in-order evaluation differ on {}:\n{}",
                    req,
                    text
                );
                let want = rules
                    .iter()
                    .filter(|(_, d)| d_eval(d, req))
                    .max_by_key(|(id, _)| priority(*id))
                    .map(|(id, _)| format!("r{id}"));
                prop_assert_eq!(
                    got.map(str::to_owned),
                    want,
                    "reference differs on {}:\n{}",
                    req,
                    text
                );
            }
            Ok(())
        })
        .unwrap();
    // The point is the index: most of these policies must have one.
    let n = indexed.load(AtomicOrdering::Relaxed);
    assert!(n >= 160 / 2, "only {n} of 160 policies were indexed");
}

#[test]
fn the_index_never_changes_a_decision_on_the_benchmark_policy() {
    let text = bench_policy::policy(10_000);
    let (policy, report) = load("bench.yaml", text.as_bytes(), &LoadOptions::default());
    let policy = policy.unwrap_or_else(|| panic!("{}", report.render_human(false)));
    assert!(policy.uses_index());
    // The benchmark's own request, then every action and sensitivity for a spread of
    // tenants (and one that does not exist), with prompt sizes around the rules'
    // thresholds and at the integer edges.
    let bench = EvaluateRequest::from_json(&bench_policy::request(10_000)).unwrap();
    assert_eq!(
        policy.evaluate(&bench).matched_rule_id,
        policy.evaluate_in_order(&bench).matched_rule_id
    );
    assert!(policy.evaluate(&bench).matched_rule_id.is_some());
    let tokens = [
        Value::Null,
        json!(0),
        json!(1000),
        json!(5000),
        json!(9000),
        json!(11_000),
        json!(P53 + 1),
        json!(i64::MAX),
    ];
    let mut decided_by_rule = 0;
    let mut checked = 0;
    for tenant in (0..=834).step_by(23) {
        for (k, action) in bench_policy::ACTIONS.iter().enumerate() {
            for (j, sens) in bench_policy::SENS.iter().enumerate() {
                let t = &tokens[(tenant + k + j) % tokens.len()];
                let trust = ["low", "high"][(tenant + j) % 2];
                let risk = [json!(0.2), json!(0.95), json!(-0.0)][(tenant + k) % 3].clone();
                let mut signals = json!({"caller_trust": trust, "risk_score": risk});
                if !t.is_null() {
                    signals["prompt_tokens"] = t.clone();
                }
                let req = json!({"action": action, "env": {"name": format!("tenant-{tenant}")}, "resource": {"type": "doc", "sensitivity": sens}, "signals": signals});
                let parsed = EvaluateRequest::from_value(&req).unwrap();
                policy.check_request(&parsed).unwrap();
                let got = policy.evaluate(&parsed);
                assert_eq!(got, policy.evaluate_in_order(&parsed), "{req}");
                decided_by_rule += usize::from(got.matched_rule_id.is_some());
                checked += 1;
            }
        }
    }
    // Not vacuous: many of these requests are decided by a rule, not the default.
    assert!(
        decided_by_rule * 4 >= checked,
        "{decided_by_rule} of {checked}"
    );
}

/// Request parsing keeps integers exact on both of its paths (the one-pass fast path
/// and the `Value` walk), and reads integral floats as floats, which an integer fact
/// refuses (the rule the policy side applies to `eq: 3.0` too).
#[test]
fn request_numbers_are_exact_on_both_parsing_paths() {
    use policygate_api::SignalValue;
    let (policy, report) = load(
        "p.yaml",
        b"policy_id: p\npolicy_version: \"1\"\nfacts:\n  n: {type: integer}\n  x: {type: number}\ndefault: {decision: BLOCK, rationale_codes: [D]}\nrules:\n  - {rule_id: big, priority: 1, when: {signals: {n: {gt: 9007199254740992}}}, then: {decision: ALLOW, rationale_codes: [A]}}\n",
        &LoadOptions::default(),
    );
    let policy = policy.unwrap_or_else(|| panic!("{}", report.render_human(false)));
    let cases: [(&str, Option<SignalValue>); 8] = [
        ("9223372036854775807", Some(SignalValue::Int(i64::MAX))),
        ("-9223372036854775808", Some(SignalValue::Int(i64::MIN))),
        ("9007199254740993", Some(SignalValue::Int(P53 + 1))),
        ("-9007199254740993", Some(SignalValue::Int(-P53 - 1))),
        ("9223372036854775808", None),
        ("3.0", None),
        ("3e0", None),
        ("-0", None),
    ];
    for (text, int) in cases {
        let body = format!(
            r#"{{"action":"infer:run","env":{{"name":"prod"}},"resource":{{"type":"doc","sensitivity":"public"}},"signals":{{"n":{text},"x":{text}}}}}"#
        );
        let fast = EvaluateRequest::from_json(body.as_bytes()).unwrap();
        let value: Value = serde_json::from_str(&body).unwrap();
        let walked = EvaluateRequest::from_value(&value).unwrap();
        assert_eq!(fast.signals, walked.signals, "{text}");
        let n = fast.signals.get("n").unwrap();
        match &int {
            Some(want) => {
                assert_eq!(n, want, "{text}");
                policy.check_request(&fast).unwrap();
                let matched = policy.evaluate(&fast).matched_rule_id.is_some();
                assert_eq!(
                    matched,
                    matches!(want, SignalValue::Int(i) if *i > P53),
                    "{text}"
                );
            }
            None => {
                // A float (integral or beyond i64): refused for the integer fact only.
                assert!(matches!(n, SignalValue::Float(_)), "{text}: {n:?}");
                let problems = policy.check_request(&fast).unwrap_err();
                let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
                assert_eq!(paths, ["/signals/n"], "{text}");
            }
        }
    }
}

// --- diff: every change reported, every witness true ------------------------------------

/// Outcomes a rule or default of the diff's random policies can return.
const OUTCOMES: [&str; 5] = [
    "{decision: ALLOW, rationale_codes: [A]}",
    "{decision: ALLOW, rationale_codes: [B]}",
    "{decision: BLOCK, rationale_codes: [X]}",
    "{decision: DEGRADE, rationale_codes: [D], obligations: [{type: OUTPUT_CAP, params: {max_tokens: 100}}]}",
    "{decision: DEGRADE, rationale_codes: [D], obligations: [{type: OUTPUT_CAP, params: {max_tokens: 200}}]}",
];

/// A rule of the diff's random policies: id, priority (unique within a policy, so
/// that no pair is refused as an equal-priority overlap), condition, outcome.
#[derive(Debug, Clone)]
struct DRule {
    id: usize,
    prio: u32,
    cond: C,
    then: usize,
}

/// An edit turning the old policy into the new one.
#[derive(Debug, Clone)]
enum Edit {
    Priority(usize, u32),
    Remove(usize),
    Add(u32, C, usize),
    Condition(usize, C),
    Outcome(usize, usize),
    Default(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..6usize, 1..80u32).prop_map(|(i, p)| Edit::Priority(i, p)),
        (0..6usize).prop_map(Edit::Remove),
        (1..80u32, cond(), 0..5usize).prop_map(|(p, c, t)| Edit::Add(p, c, t)),
        (0..6usize, cond()).prop_map(|(i, c)| Edit::Condition(i, c)),
        (0..6usize, 0..5usize).prop_map(|(i, t)| Edit::Outcome(i, t)),
        (0..5usize).prop_map(Edit::Default),
    ]
}

fn fresh_priority(rules: &[DRule], mut p: u32) -> u32 {
    while rules.iter().any(|r| r.prio == p) {
        p += 1;
    }
    p
}

fn apply(rules: &[DRule], default: usize, edits: &[Edit]) -> (Vec<DRule>, usize) {
    let mut out = rules.to_vec();
    let mut default = default;
    let mut next_id = 100;
    for e in edits {
        let n = out.len();
        match e {
            Edit::Priority(i, p) if n > 0 => {
                let p = fresh_priority(&out, *p);
                out[i % n].prio = p;
            }
            Edit::Remove(i) if n > 1 => {
                out.remove(i % n);
            }
            Edit::Add(p, c, t) => {
                let prio = fresh_priority(&out, *p);
                out.push(DRule {
                    id: next_id,
                    prio,
                    cond: c.clone(),
                    then: *t,
                });
                next_id += 1;
            }
            Edit::Condition(i, c) if n > 0 => out[i % n].cond = c.clone(),
            Edit::Outcome(i, t) if n > 0 => out[i % n].then = *t,
            Edit::Default(t) => default = *t,
            _ => {}
        }
    }
    (out, default)
}

fn diff_policy_text(rules: &[DRule], default: usize) -> String {
    let mut s = format!(
        "policy_id: prop\npolicy_version: \"1\"\ndefault: {}\nrules:\n",
        OUTCOMES[default]
    );
    for r in rules {
        s.push_str(&format!(
            "  - rule_id: r{}\n    priority: {}\n    when: {}\n    then: {}\n",
            r.id,
            r.prio,
            c_yaml(&r.cond),
            OUTCOMES[r.then]
        ));
    }
    s
}

fn distinct_rules() -> impl Strategy<Value = Vec<DRule>> {
    prop::collection::vec((cond(), 0..5usize), 1..6).prop_map(|rs| {
        rs.into_iter()
            .enumerate()
            .map(|(i, (cond, then))| DRule {
                id: i,
                prio: 10 * (u32::try_from(i).unwrap() + 1),
                cond,
                then,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// `diff` is exact: every witness gets the two reported outcomes, and every random
    /// request whose outcome differs falls under a reported change (or, only where
    /// string patterns are involved, an undecided pair).
    #[test]
    fn diff_reports_every_change_with_a_true_witness(
        rules in distinct_rules(),
        default in 0..5usize,
        edits in prop::collection::vec(edit(), 1..4),
        requests in prop::collection::vec(request(), 1..32),
    ) {
        let (new_rules, new_default) = apply(&rules, default, &edits);
        let old_text = diff_policy_text(&rules, default);
        let new_text = diff_policy_text(&new_rules, new_default);
        let (old, _) = load("old.yaml", old_text.as_bytes(), &LoadOptions::default());
        let (new, _) = load("new.yaml", new_text.as_bytes(), &LoadOptions::default());
        prop_assume!(old.is_some() && new.is_some());
        let (old, new) = (old.unwrap(), new.unwrap());
        let report = old.diff(&new, true);
        let ctx = || format!("old:\n{old_text}\nnew:\n{new_text}");

        for change in &report.changes {
            let a = old.evaluate(&change.witness);
            let b = new.evaluate(&change.witness);
            prop_assert_eq!(a.matched_rule_id, change.old.rule_id.as_deref(), "{}", ctx());
            prop_assert_eq!(b.matched_rule_id, change.new.rule_id.as_deref(), "{}", ctx());
            prop_assert_eq!(a.decision, change.old.decision);
            prop_assert_eq!(a.rationale_codes, change.old.rationale_codes.as_slice());
            prop_assert_eq!(a.obligations, change.old.obligations.as_slice());
            prop_assert_eq!(b.decision, change.new.decision);
            prop_assert_eq!(b.rationale_codes, change.new.rationale_codes.as_slice());
            prop_assert_eq!(b.obligations, change.new.obligations.as_slice());
            let differs = (a.decision, a.rationale_codes, a.obligations) != (b.decision, b.rationale_codes, b.obligations);
            prop_assert_eq!(differs, change.outcome_changed);
            prop_assert!(differs || a.matched_rule_id != b.matched_rule_id, "a listed change changes nothing: {}", ctx());
        }
        let patterns = old_text.contains("starts_with") || new_text.contains("starts_with");
        prop_assert!(patterns || report.undecided.is_empty(), "undecided without string patterns: {:?}\n{}", report.undecided, ctx());
        prop_assert_eq!(report.equivalent, report.undecided.is_empty() && report.changes.iter().all(|c| !c.outcome_changed));

        for req in &requests {
            let parsed = EvaluateRequest::from_value(req).unwrap();
            let a = old.evaluate(&parsed);
            let b = new.evaluate(&parsed);
            let differs = (a.decision, a.rationale_codes, a.obligations) != (b.decision, b.rationale_codes, b.obligations);
            if !differs && a.matched_rule_id == b.matched_rule_id {
                continue;
            }
            let pair = (a.matched_rule_id, b.matched_rule_id);
            let reported = report.changes.iter().any(|c| (c.old.rule_id.as_deref(), c.new.rule_id.as_deref()) == pair);
            let undecided = report.undecided.iter().any(|u| (u.old.rule_id.as_deref(), u.new.rule_id.as_deref()) == pair);
            prop_assert!(reported || (differs && undecided), "request {} gets {:?} under old and {:?} under new, not reported:\n{:#?}\n{}", req, a, b, report, ctx());
            prop_assert!(!report.equivalent || !differs);
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
