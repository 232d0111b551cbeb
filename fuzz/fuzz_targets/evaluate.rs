//! The evaluator against the reference evaluator of core's property tests
//! (`crates/core/tests/shared/reference.rs`), on structured input from `arbitrary`:
//! a policy of up to 8 rules over the reference's condition language (nested up to 4
//! deep, numbers anywhere in i64/f64 and at the edges) and up to 16 requests. When the
//! policy loads, every request gets the rule the reference picks, with and without the
//! decision index; two equal-priority rules that match one request mean the policy
//! must have been refused; a rule reported dead matches none of the requests.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use policygate_api::EvaluateRequest;
use policygate_core::{Code, LoadOptions, load};
use policygate_fuzz::reference::{
    ACTIONS, C, EDGE_FLOATS, EDGE_INTS, N, P, SENS, c_eval, policy_text, reference,
};
use serde_json::{Value, json};

const MAX_RULES: usize = 8;
const MAX_DEPTH: usize = 4;
const MAX_REQUESTS: usize = 16;

#[derive(Debug, Arbitrary)]
struct Input {
    rules: Vec<(u8, Cond)>,
    requests: Vec<Req>,
}

#[derive(Debug, Arbitrary)]
enum Cond {
    P(Pred),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

#[derive(Debug, Arbitrary)]
enum Pred {
    Action(u8),
    Sens(Vec<u8>),
    EnvNe(u8),
    Num(u8, Num),
    NumNotIn(Vec<Num>),
    Flag(bool),
    TagEq(u8),
    TagStarts(u8),
    SubjectType(bool),
    SubjectExists(bool),
    TagExists(bool),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Num {
    Small(i8),
    Int(i64),
    Float(f64),
    EdgeInt(u8, i8),
    EdgeFloat(u8),
}

#[derive(Debug, Arbitrary)]
struct Req {
    action: u8,
    sensitivity: u8,
    env: u8,
    n: NVal,
    flag: Flag,
    tag: Tag,
    subject: Subj,
}

#[derive(Debug, Arbitrary)]
enum NVal {
    Null,
    Num(Num),
    Text,
}

#[derive(Debug, Arbitrary)]
enum Flag {
    Null,
    Bool(bool),
    Text,
}

#[derive(Debug, Arbitrary)]
enum Tag {
    Null,
    Pick(u8),
    Number,
}

#[derive(Debug, Arbitrary)]
enum Subj {
    None,
    Empty,
    Service,
    User,
}

fn pick<T: Copy>(items: &[T], i: u8) -> T {
    items[usize::from(i) % items.len()]
}

impl Num {
    fn n(self) -> N {
        match self {
            Num::Small(i) => N::I(i64::from(i)),
            Num::Int(i) => N::I(i),
            Num::Float(f) if f.is_finite() => N::F(f),
            Num::Float(_) => N::F(0.5),
            Num::EdgeInt(i, step) => {
                N::I(pick(&EDGE_INTS, i).saturating_add(i64::from(step.signum())))
            }
            Num::EdgeFloat(i) => N::F(pick(&EDGE_FLOATS, i)),
        }
    }
}

impl Pred {
    fn p(&self) -> P {
        let idx = |i: u8| usize::from(i) % 3;
        match self {
            Pred::Action(a) => P::Action(idx(*a)),
            Pred::Sens(s) if s.is_empty() => P::Sens(vec![0]),
            Pred::Sens(s) => P::Sens(s.iter().take(3).map(|i| idx(*i)).collect()),
            Pred::EnvNe(e) => P::EnvNe(idx(*e)),
            Pred::Num(op, n) => P::Num(pick(&["eq", "ne", "gt", "gte", "lt", "lte"], *op), n.n()),
            Pred::NumNotIn(ns) if ns.is_empty() => P::NumNotIn(vec![N::I(0)]),
            Pred::NumNotIn(ns) => P::NumNotIn(ns.iter().take(3).map(|n| n.n()).collect()),
            Pred::Flag(b) => P::Flag(*b),
            Pred::TagEq(t) => P::TagEq(idx(*t)),
            Pred::TagStarts(s) => P::TagStarts(pick(&["ab", "x", "b"], *s)),
            Pred::SubjectType(user) => P::SubjectType(if *user { "user" } else { "service" }),
            Pred::SubjectExists(b) => P::SubjectExists(*b),
            Pred::TagExists(b) => P::TagExists(*b),
        }
    }
}

impl Cond {
    fn c(&self, depth: usize) -> C {
        let list = |cs: &[Cond]| -> Vec<C> {
            let out: Vec<C> = cs.iter().take(3).map(|c| c.c(depth + 1)).collect();
            if out.is_empty() {
                vec![C::P(P::Flag(true))]
            } else {
                out
            }
        };
        match self {
            Cond::P(p) => C::P(p.p()),
            _ if depth >= MAX_DEPTH => C::P(P::Flag(depth % 2 == 0)),
            Cond::All(cs) => C::All(list(cs)),
            Cond::Any(cs) => C::Any(list(cs)),
            Cond::Not(c) => C::Not(Box::new(c.c(depth + 1))),
        }
    }
}

impl Req {
    /// The request as JSON, shaped as the property tests' requests are.
    fn json(&self) -> Value {
        let mut signals = serde_json::Map::new();
        match self.n {
            NVal::Null => {}
            NVal::Num(n) => {
                signals.insert("n".into(), n.n().json());
            }
            NVal::Text => {
                signals.insert("n".into(), json!("5"));
            }
        }
        let flag = match self.flag {
            Flag::Null => Value::Null,
            Flag::Bool(b) => json!(b),
            Flag::Text => json!("true"),
        };
        signals.insert("flag".into(), flag);
        match self.tag {
            Tag::Null => {}
            Tag::Pick(t) => {
                signals.insert(
                    "tag".into(),
                    json!(pick(&["abc", "abd", "x", "b", "zz"], t)),
                );
            }
            Tag::Number => {
                signals.insert("tag".into(), json!(3));
            }
        }
        let mut req = json!({
            "action": pick(&ACTIONS, self.action),
            "env": {"name": pick(&["prod", "dev", "stage", "other"], self.env)},
            "resource": {"type": "doc", "sensitivity": pick(&SENS, self.sensitivity)},
            "signals": signals,
        });
        match self.subject {
            Subj::None => {}
            Subj::Empty => req["subject"] = json!({}),
            Subj::Service => req["subject"] = json!({"type": "service"}),
            Subj::User => req["subject"] = json!({"type": "user", "id": "u1"}),
        }
        req
    }
}

fuzz_target!(|input: Input| {
    let rules: Vec<(u32, C)> = input
        .rules
        .iter()
        .take(MAX_RULES)
        .map(|(prio, c)| (u32::from(*prio % 3) + 1, c.c(0)))
        .collect();
    if rules.is_empty() {
        return;
    }
    let text = policy_text(&rules);
    let (policy, report) = load("fuzz.yaml", text.as_bytes(), &LoadOptions::default());
    let requests: Vec<Value> = input
        .requests
        .iter()
        .take(MAX_REQUESTS)
        .map(Req::json)
        .collect();
    for req in &requests {
        let matching: Vec<usize> = (0..rules.len())
            .filter(|i| c_eval(&rules[*i].1, req))
            .collect();
        for a in &matching {
            for b in &matching {
                assert!(
                    !(a < b && rules[*a].0 == rules[*b].0 && policy.is_some()),
                    "r{a} and r{b} (equal priority) both match {req} but the policy loaded:\n{text}"
                );
            }
        }
        let Some(policy) = &policy else { continue };
        let parsed = EvaluateRequest::from_value(req)
            .unwrap_or_else(|e| panic!("the generated request {req} is invalid: {e}"));
        let from_bytes = EvaluateRequest::parse(req.to_string().as_bytes());
        assert_eq!(from_bytes.as_ref().ok(), Some(&parsed), "{req}");
        let want = reference(&rules, req).map(|i| format!("r{i}"));
        let got = policy.evaluate(&parsed).matched_rule_id.map(str::to_owned);
        assert_eq!(got, want, "request {req}, policy:\n{text}");
        let in_order = policy
            .evaluate_in_order(&parsed)
            .matched_rule_id
            .map(str::to_owned);
        assert_eq!(in_order, want, "in order: request {req}, policy:\n{text}");
    }
    for dead in report
        .errors()
        .iter()
        .chain(report.warnings())
        .filter(|d| d.code() == Code::DeadRule)
    {
        let Some(i) = dead
            .rule_id()
            .and_then(|id| id.trim_start_matches('r').parse::<usize>().ok())
        else {
            continue;
        };
        for req in &requests {
            assert!(
                !c_eval(&rules[i].1, req),
                "dead rule r{i} matches {req}:\n{text}"
            );
        }
    }
});
