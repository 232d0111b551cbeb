//! Property tests: on random policies and requests, evaluation is deterministic and
//! agrees with a deliberately naive reference evaluator written here from the spec;
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

/// A number as the spec describes it: an integer or a float, compared by value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum N {
    I(i64),
    F(f64),
}

impl N {
    /// As a policy literal (floats in their shortest exact form, e.g. `-0.0`, `1e19`).
    fn yaml(self) -> String {
        match self {
            N::I(i) => i.to_string(),
            N::F(f) => format!("{f:?}"),
        }
    }
    fn json(self) -> Value {
        match self {
            N::I(i) => json!(i),
            N::F(f) => json!(f),
        }
    }
}

/// `f` as `sign × m × 2^e` with an integer `m`.
fn decompose(f: f64) -> (bool, i128, i32) {
    let bits = f.to_bits();
    let negative = bits >> 63 == 1;
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = (bits & ((1 << 52) - 1)) as i128;
    if exp == 0 {
        (negative, frac, -1074)
    } else {
        (negative, frac | (1 << 52), exp - 1075)
    }
}

/// Exact comparison of an integer with a float, by scaling both to integers.
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    let (negative, m, e) = decompose(f);
    let m = if negative { -m } else { m };
    let i = i128::from(i);
    if m == 0 {
        return i.cmp(&0);
    }
    if e >= 0 {
        if e > 64 {
            // |f| >= 2^65 > |i|
            return if negative {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        return i.cmp(&(m << e));
    }
    let shift = -e;
    if shift > 64 {
        // 0 < |f| < 2^53 / 2^65 < 1: i decides unless it is 0
        return match i.cmp(&0) {
            Ordering::Equal => {
                if negative {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            o => o,
        };
    }
    (i << shift).cmp(&m)
}

fn n_cmp(a: N, b: N) -> Ordering {
    match (a, b) {
        (N::I(x), N::I(y)) => x.cmp(&y),
        (N::I(x), N::F(y)) => cmp_int_float(x, y),
        (N::F(x), N::I(y)) => cmp_int_float(y, x).reverse(),
        (N::F(x), N::F(y)) => x.partial_cmp(&y).unwrap(),
    }
}

fn n_of(v: &Value) -> Option<N> {
    let n = v.as_number()?;
    match n.as_i64() {
        Some(i) => Some(N::I(i)),
        None => n.as_f64().map(N::F),
    }
}

fn n_op(op: &str, v: N, k: N) -> bool {
    let o = n_cmp(v, k);
    match op {
        "eq" => o == Ordering::Equal,
        "ne" => o != Ordering::Equal,
        "gt" => o == Ordering::Greater,
        "gte" => o != Ordering::Less,
        "lt" => o == Ordering::Less,
        _ => o != Ordering::Greater,
    }
}

const P53: i64 = 1 << 53;
/// Integers where floating point loses or changes values.
const EDGE_INTS: [i64; 16] = [
    i64::MIN,
    i64::MIN + 1,
    -P53 - 1,
    -P53,
    -P53 + 1,
    -1,
    0,
    1,
    5,
    P53 - 1,
    P53,
    P53 + 1,
    P53 + 2,
    i64::MAX - 1,
    i64::MAX,
    // 2^62 + 1: far above 2^53, exact only as an integer
    (1 << 62) + 1,
];
/// Floats next to those integers (all exact literals).
const EDGE_FLOATS: [f64; 10] = [
    -0.0,
    0.5,
    5.5,
    -9_007_199_254_740_992.0,
    9_007_199_254_740_992.0,
    9_007_199_254_740_994.0,
    9_223_372_036_854_775_808.0,
    -9_223_372_036_854_775_808.0,
    1e19,
    -1e300,
];

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

const ACTIONS: [&str; 3] = ["infer:run", "data:read", "tool:invoke"];
const SENS: [&str; 3] = ["public", "internal", "restricted"];
const ENVS: [&str; 3] = ["prod", "dev", "stage"];
const TAGS: [&str; 3] = ["abc", "abd", "x"];

#[derive(Debug, Clone)]
enum P {
    Action(usize),
    Sens(Vec<usize>),
    EnvNe(usize),
    Num(&'static str, N),
    NumNotIn(Vec<N>),
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

fn p_yaml(p: &P) -> String {
    match p {
        P::Action(a) => format!("{{action: \"{}\"}}", ACTIONS[*a]),
        P::Sens(s) => format!(
            "{{resource: {{sensitivity: {{in: [{}]}}}}}}",
            s.iter().map(|i| SENS[*i]).collect::<Vec<_>>().join(", ")
        ),
        P::EnvNe(e) => format!("{{env: {{name: {{ne: {}}}}}}}", ENVS[*e]),
        P::Num(op, n) => format!("{{signals: {{n: {{{op}: {}}}}}}}", n.yaml()),
        P::NumNotIn(ns) => format!(
            "{{signals: {{n: {{not_in: [{}]}}}}}}",
            ns.iter().map(|n| n.yaml()).collect::<Vec<_>>().join(", ")
        ),
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
    let n = get(req, &["signals", "n"]).and_then(n_of);
    let tag = get(req, &["signals", "tag"]);
    match p {
        P::Action(a) => get(req, &["action"]).and_then(Value::as_str) == Some(ACTIONS[*a]),
        P::Sens(s) => get(req, &["resource", "sensitivity"])
            .and_then(Value::as_str)
            .is_some_and(|v| s.iter().any(|i| SENS[*i] == v)),
        P::EnvNe(e) => get(req, &["env", "name"])
            .and_then(Value::as_str)
            .is_some_and(|v| v != ENVS[*e]),
        P::Num(op, k) => n.is_some_and(|n| n_op(op, n, *k)),
        P::NumNotIn(ks) => n.is_some_and(|n| !ks.iter().any(|k| n_op("eq", n, *k))),
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
