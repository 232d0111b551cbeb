//! The naive reference evaluator of the property tests (`tests/properties.rs`) and of
//! the evaluator fuzz target (`fuzz/fuzz_targets/evaluate.rs`): a small condition
//! language (`C`, `P`), its policy text, and its decision written here from the spec,
//! literally, with exact number comparison by a method of its own. Included with
//! `#[path]`, so it is not a test target of its own; the random generators stay with
//! their users (proptest strategies there, `arbitrary` in the fuzz crate).

use serde_json::{Value, json};
use std::cmp::Ordering;

/// A number as the spec describes it: an integer or a float, compared by value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum N {
    I(i64),
    F(f64),
}

impl N {
    /// As a policy literal (floats in their shortest exact form, e.g. `-0.0`, `1e19`).
    pub fn yaml(self) -> String {
        match self {
            N::I(i) => i.to_string(),
            N::F(f) => format!("{f:?}"),
        }
    }
    pub fn json(self) -> Value {
        match self {
            N::I(i) => json!(i),
            N::F(f) => json!(f),
        }
    }
}

/// `f` as `sign × m × 2^e` with an integer `m`.
pub fn decompose(f: f64) -> (bool, i128, i32) {
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
pub fn cmp_int_float(i: i64, f: f64) -> Ordering {
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

pub fn n_cmp(a: N, b: N) -> Ordering {
    match (a, b) {
        (N::I(x), N::I(y)) => x.cmp(&y),
        (N::I(x), N::F(y)) => cmp_int_float(x, y),
        (N::F(x), N::I(y)) => cmp_int_float(y, x).reverse(),
        (N::F(x), N::F(y)) => x.partial_cmp(&y).unwrap(),
    }
}

pub fn n_of(v: &Value) -> Option<N> {
    let n = v.as_number()?;
    match n.as_i64() {
        Some(i) => Some(N::I(i)),
        None => n.as_f64().map(N::F),
    }
}

pub fn n_op(op: &str, v: N, k: N) -> bool {
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

pub const P53: i64 = 1 << 53;
/// Integers where floating point loses or changes values.
pub const EDGE_INTS: [i64; 16] = [
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
pub const EDGE_FLOATS: [f64; 10] = [
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

pub const ACTIONS: [&str; 3] = ["infer:run", "data:read", "tool:invoke"];
pub const SENS: [&str; 3] = ["public", "internal", "restricted"];
pub const ENVS: [&str; 3] = ["prod", "dev", "stage"];
pub const TAGS: [&str; 3] = ["abc", "abd", "x"];

#[derive(Debug, Clone)]
pub enum P {
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
pub enum C {
    P(P),
    All(Vec<C>),
    Any(Vec<C>),
    Not(Box<C>),
}

pub fn p_yaml(p: &P) -> String {
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

pub fn c_yaml(c: &C) -> String {
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

pub fn get<'a>(req: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut v = req;
    for k in path {
        v = v.get(*k)?;
    }
    (!v.is_null()).then_some(v)
}

/// The spec, read literally: every operator but `exists` is false on an absent or
/// null fact; a value of another type never matches.
pub fn p_eval(p: &P, req: &Value) -> bool {
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

pub fn c_eval(c: &C, req: &Value) -> bool {
    match c {
        C::P(p) => p_eval(p, req),
        C::All(cs) => cs.iter().all(|c| c_eval(c, req)),
        C::Any(cs) => cs.iter().any(|c| c_eval(c, req)),
        C::Not(c) => !c_eval(c, req),
    }
}

pub fn policy_text(rules: &[(u32, C)]) -> String {
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

pub fn reference(rules: &[(u32, C)], req: &Value) -> Option<usize> {
    let mut best: Option<(u32, usize)> = None;
    for (i, (prio, c)) in rules.iter().enumerate() {
        if c_eval(c, req) && best.is_none_or(|(p, _)| *prio > p) {
            best = Some((*prio, i));
        }
    }
    best.map(|(_, i)| i)
}
