//! Why a request got its decision: the rules in evaluation order, each matched or
//! not, and for a miss the first test that failed (fact, operator, expected value,
//! actual value or absent).
//!
//! The trace walks the same condition trees as evaluation and decides every leaf with
//! evaluation's own leaf test ([`crate::eval::pred_holds`]); only the combinators are
//! walked here, so a trace cannot disagree with a decision. Explaining is a separate
//! entry point: `Policy::evaluate` does not know it exists and pays nothing for it.

use crate::eval::{holds, pred_holds};
use crate::model::{
    Atom, Cmp, Cond, Fact, FactInfo, Num, PatKind, Pred, Rule, Test, Val, count_tests,
};
use policygate_api::{EvaluateRequest, FailedCondition, SignalValue, TraceStep};
use serde_json::Value;
use std::fmt::Write as _;

/// The trace of one rule for a request.
pub(crate) fn step(rule: &Rule, facts: &[FactInfo], req: &EvaluateRequest) -> TraceStep {
    let matched = holds(&rule.when, facts, req);
    TraceStep {
        rule_id: rule.id.clone(),
        priority: rule.priority,
        line: rule.id_loc.line(),
        matched,
        decided: false,
        failed: if matched {
            None
        } else {
            first_failure(&rule.when, true, &Walk { facts, req, rule }, 0)
        },
    }
}

/// What the walk needs besides the condition.
struct Walk<'a> {
    facts: &'a [FactInfo],
    req: &'a EvaluateRequest,
    rule: &'a Rule,
}

/// The first test that keeps `cond` from evaluating to `want`; `None` when it does.
/// `first` is the depth-first index of the condition's first test (for its location).
fn first_failure(cond: &Cond, want: bool, w: &Walk<'_>, first: usize) -> Option<FailedCondition> {
    let (facts, req) = (w.facts, w.req);
    fn parts(cs: &[Cond], first: usize) -> Vec<(&Cond, usize)> {
        let mut at = first;
        cs.iter()
            .map(move |c| {
                let start = at;
                at += count_tests(c);
                (c, start)
            })
            .collect()
    }
    match (cond, want) {
        (Cond::Pred(p), _) => {
            if pred_holds(p, facts, req) == want {
                None
            } else {
                Some(describe(p, !want, w, first))
            }
        }
        // A conjunction fails at its first failing part; a disjunction that must be
        // false fails at its first part that holds.
        (Cond::All(cs), true) | (Cond::Any(cs), false) => parts(cs, first)
            .into_iter()
            .find_map(|(c, at)| first_failure(c, want, w, at)),
        // A disjunction fails only when every part fails: the first part says why.
        // A conjunction that must be false fails when every part holds.
        (Cond::Any(cs), true) | (Cond::All(cs), false) => {
            if holds(cond, facts, req) == want {
                None
            } else {
                cs.first().and_then(|c| first_failure(c, want, w, first))
            }
        }
        (Cond::Not(c), _) => first_failure(c, !want, w, first),
    }
}

fn describe(p: &Pred, negated: bool, w: &Walk<'_>, index: usize) -> FailedCondition {
    let fact = w.facts.get(p.fact).map(|i| &i.fact);
    let (operator, expected) = match &p.test {
        Test::Exists(b) => ("exists".to_owned(), Value::Bool(*b)),
        Test::Atom(a) => atom_parts(a),
    };
    let actual = fact.and_then(|f| actual_value(f, w.req));
    FailedCondition {
        fact: fact.map(Fact::path).unwrap_or_default(),
        operator,
        expected,
        negated,
        absent: actual.is_none(),
        actual,
        line: w
            .rule
            .test_locs
            .get(index)
            .map_or(w.rule.loc.line(), |l| l.line()),
    }
}

fn atom_parts(a: &Atom) -> (String, Value) {
    let list = |vs: &[Val]| Value::Array(vs.iter().map(val_json).collect());
    let (op, v) = match a {
        Atom::Eq(v) => ("eq", val_json(v)),
        Atom::Ne(v) => ("ne", val_json(v)),
        Atom::In(vs) => ("in", list(vs)),
        Atom::NotIn(vs) => ("not_in", list(vs)),
        Atom::Cmp(c, b) => (
            match c {
                Cmp::Gt => "gt",
                Cmp::Gte => "gte",
                Cmp::Lt => "lt",
                Cmp::Lte => "lte",
            },
            number(*b),
        ),
        Atom::Pattern {
            kind,
            text,
            positive,
            ..
        } => {
            let op = match (kind, positive) {
                (PatKind::StartsWith, true) => "starts_with",
                (PatKind::EndsWith, true) => "ends_with",
                (PatKind::Contains, true) => "contains",
                (PatKind::Matches, true) => "matches",
                (PatKind::StartsWith, false) => "not starts_with",
                (PatKind::EndsWith, false) => "not ends_with",
                (PatKind::Contains, false) => "not contains",
                (PatKind::Matches, false) => "not matches",
            };
            (op, Value::String(text.clone()))
        }
        Atom::Elem { item, positive } => (
            if *positive {
                "contains"
            } else {
                "not contains"
            },
            Value::String(item.clone()),
        ),
    };
    (op.to_owned(), v)
}

fn val_json(v: &Val) -> Value {
    match v {
        Val::Str(s) => Value::String(s.clone()),
        Val::Num(n) => number(*n),
        Val::Bool(b) => Value::Bool(*b),
    }
}

/// A number as written: integers stay integers.
fn number(n: Num) -> Value {
    match n {
        Num::Int(i) => Value::from(i),
        Num::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
    }
}

/// The fact's value as the request carries it; `None` when absent or null.
fn actual_value(fact: &Fact, req: &EvaluateRequest) -> Option<Value> {
    let s = |x: &str| Some(Value::String(x.to_owned()));
    match fact {
        Fact::Action => s(req.action.as_str()),
        Fact::EnvName => s(&req.env.name),
        Fact::ResourceType => s(&req.resource.kind),
        Fact::ResourceId => req.resource.id.as_deref().and_then(s),
        Fact::Sensitivity => s(req.resource.sensitivity.as_str()),
        Fact::Subject => req
            .subject
            .as_ref()
            .and_then(|x| serde_json::to_value(x).ok()),
        Fact::SubjectType => req.subject.as_ref()?.kind.as_deref().and_then(s),
        Fact::SubjectId => req.subject.as_ref()?.id.as_deref().and_then(s),
        Fact::CallerId => req.caller.as_deref().and_then(s),
        Fact::Signal(name) => match req.signals.get(name.as_str()) {
            None | Some(SignalValue::Null) => None,
            Some(v) => serde_json::to_value(v).ok(),
        },
    }
}

/// One line for people: which test failed and why, e.g.
/// ``resource.sensitivity` in ["public", "internal"] is false: the request has "restricted"`.
pub fn describe_failure(f: &FailedCondition) -> String {
    let mut out = format!("`{}` {} {}", f.fact, f.operator, f.expected);
    if f.negated {
        out.push_str(" holds, and the rule needs it not to (under `not`)");
    } else {
        out.push_str(" is false");
    }
    match &f.actual {
        Some(v) => {
            let _ = write!(out, ": the request has {v}");
        }
        None => out.push_str(": the request does not carry it (absent)"),
    }
    let _ = write!(out, " (line {})", f.line);
    out
}
