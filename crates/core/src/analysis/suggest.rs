//! Coverage suggestions: for a rule, a request that this rule decides (it matches
//! and no higher-priority rule does); for the default, a request no rule matches.
//!
//! The search starts from the rule's own alternatives (its DNF), takes a witness of
//! each, and asks the real evaluator who decides it. Every higher-priority rule found
//! deciding a witness is subtracted from the alternatives (exactly, as the shadowing
//! check does), and the search repeats. Only the rules that actually get in the way
//! are ever subtracted, so a 1,000-rule policy costs a handful of evaluations per
//! rule. Every answer is a request the evaluator was seen to decide as asked.

use super::{Conj, Expander, MAX_REMAINDER, solve_conj, subtract, witness_request};
use crate::analysis::solve::{Sol, WVal, solve_value};
use crate::model::{Fact, FactInfo, Num, Rule};
use policygate_api::{EvaluateRequest, SignalValue};
use std::collections::BTreeSet;

/// How many subtract-and-retry rounds the search makes before it gives up.
const MAX_ROUNDS: usize = 32;

/// A request decided by `rules[target]` (or by the default when `target` is `None`).
/// `rules` are in evaluation order; `decide` returns the index of the deciding rule.
pub(crate) fn deciding_request(
    facts: &[FactInfo],
    rules: &[Rule],
    target: Option<usize>,
    decide: &dyn Fn(&EvaluateRequest) -> Option<usize>,
) -> Option<EvaluateRequest> {
    let dnf = |cond| {
        Expander {
            facts,
            contradiction: None,
        }
        .dnf(cond, true)
        .ok()
    };
    let mut remaining: Vec<Conj> = match target {
        Some(t) => dnf(&rules.get(t)?.when)?,
        None => vec![Vec::new()],
    };
    let mut subtracted: BTreeSet<usize> = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        let mut blockers: BTreeSet<usize> = BTreeSet::new();
        for c in &remaining {
            let Sol::Sat(w) = solve_conj(c, facts) else {
                continue;
            };
            let mut req = witness_request(&w, facts);
            fill_required(&mut req, facts);
            let got = decide(&req);
            if got == target {
                return Some(req);
            }
            if let Some(h) = got
                && target.is_none_or(|t| h < t)
                && !subtracted.contains(&h)
            {
                blockers.insert(h);
            }
        }
        if blockers.is_empty() {
            return None;
        }
        for h in blockers {
            subtracted.insert(h);
            let higher = dnf(&rules.get(h)?.when)?;
            for d in &higher {
                let mut next = Vec::new();
                for c in &remaining {
                    next.extend(subtract(c, d, facts));
                    if next.len() > MAX_REMAINDER {
                        return None;
                    }
                }
                remaining = next;
            }
        }
        if remaining.is_empty() {
            return None;
        }
    }
    None
}

/// Gives every required signal the witness left unconstrained a value of its domain,
/// so that the request passes the policy's request check.
fn fill_required(req: &mut EvaluateRequest, facts: &[FactInfo]) {
    for info in facts {
        let Fact::Signal(name) = &info.fact else {
            continue;
        };
        if !info.required || req.signals.contains_key(name) {
            continue;
        }
        let value = match solve_value(&info.domain, &[]) {
            Sol::Sat(WVal::Str(s)) => SignalValue::Str(s),
            Sol::Sat(WVal::Num(Num::Int(i))) => SignalValue::Int(i),
            Sol::Sat(WVal::Num(Num::Float(f))) => SignalValue::Float(f),
            Sol::Sat(WVal::Bool(b)) => SignalValue::Bool(b),
            Sol::Sat(WVal::List(items)) => SignalValue::List(items),
            _ => continue,
        };
        req.signals.insert(name.clone(), value);
    }
}
