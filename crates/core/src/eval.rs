//! Evaluation of conditions against a request. Pure and allocation-free.

use crate::model::{Cond, Fact, FactInfo, Num, Test, Value};
use policygate_api::{EvaluateRequest, SignalValue};

/// A fact's state in a request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum State<'a> {
    Absent,
    Present(Value<'a>),
}

/// Reads one fact from a request. Null counts as absent.
pub(crate) fn fact_state<'a>(fact: &Fact, req: &'a EvaluateRequest) -> State<'a> {
    let present = |v| State::Present(v);
    match fact {
        Fact::Action => present(Value::Str(req.action.as_str())),
        Fact::EnvName => present(Value::Str(&req.env.name)),
        Fact::ResourceType => present(Value::Str(&req.resource.kind)),
        Fact::ResourceId => req
            .resource
            .id
            .as_deref()
            .map_or(State::Absent, |s| present(Value::Str(s))),
        Fact::Sensitivity => present(Value::Str(req.resource.sensitivity.as_str())),
        Fact::Subject => req
            .subject
            .as_ref()
            .map_or(State::Absent, |_| present(Value::Object)),
        Fact::SubjectType => req
            .subject
            .as_ref()
            .and_then(|s| s.kind.as_deref())
            .map_or(State::Absent, |s| present(Value::Str(s))),
        Fact::SubjectId => req
            .subject
            .as_ref()
            .and_then(|s| s.id.as_deref())
            .map_or(State::Absent, |s| present(Value::Str(s))),
        Fact::Signal(name) => match req.signals.get(name.as_str()) {
            None | Some(SignalValue::Null) => State::Absent,
            Some(SignalValue::Bool(b)) => present(Value::Bool(*b)),
            // Integers stay integers: a comparison never rounds them through a float.
            Some(SignalValue::Int(i)) => present(Value::Num(Num::Int(*i))),
            Some(SignalValue::Float(f)) => present(Value::Num(Num::Float(*f))),
            Some(SignalValue::Str(s)) => present(Value::Str(s)),
            Some(SignalValue::List(items)) => present(Value::List(items)),
        },
    }
}

/// Does the condition hold for the request?
pub(crate) fn holds(cond: &Cond, facts: &[FactInfo], req: &EvaluateRequest) -> bool {
    match cond {
        Cond::All(cs) => cs.iter().all(|c| holds(c, facts, req)),
        Cond::Any(cs) => cs.iter().any(|c| holds(c, facts, req)),
        Cond::Not(c) => !holds(c, facts, req),
        Cond::Pred(p) => {
            let Some(info) = facts.get(p.fact) else {
                return false;
            };
            match (&p.test, fact_state(&info.fact, req)) {
                (Test::Exists(want), State::Absent) => !want,
                (Test::Exists(want), State::Present(_)) => *want,
                (Test::Atom(_), State::Absent) => false,
                (Test::Atom(a), State::Present(v)) => a.holds(&v),
            }
        }
    }
}

#[cfg(test)]
mod tests;
