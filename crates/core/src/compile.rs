//! The evaluation form of a validated policy: rules in a fixed order (priority
//! descending, then file order) and an index that narrows the rules a request must
//! be checked against, so that a large policy is not scanned rule by rule.
//!
//! The index is a small decision tree over facts that rules pin to finite value sets
//! (action, sensitivity, environment names, ids, enum signals…). Each leaf lists, in
//! evaluation order, every rule that can match a request reaching it; the first rule
//! in the leaf whose condition holds decides. Rules not pinned on a split fact are
//! copied into every branch, within a memory budget.

use crate::analysis::{Key, RuleKeys};
use crate::eval::{State, fact_state, holds};
use crate::model::{FactInfo, Num, Rule, Val, Value};
use policygate_api::EvaluateRequest;
use std::collections::BTreeMap;

/// Lists at most this long are not split further.
const LEAF: usize = 8;
/// Deepest split.
const MAX_DEPTH: usize = 8;
/// A split may grow the total list length by at most this factor.
const BUDGET: usize = 4;

#[derive(Debug)]
pub(crate) enum Index {
    Leaf(Vec<u32>),
    Split {
        fact: usize,
        strs: BTreeMap<String, Index>,
        /// Sorted by exact numeric order.
        nums: Vec<(Num, Index)>,
        bools: Vec<(bool, Index)>,
        absent: Box<Index>,
        other: Box<Index>,
        /// A value of the fact's kind that no rule pins.
        rest: Box<Index>,
    },
}

impl Index {
    /// Builds the index over rules (already in evaluation order).
    pub(crate) fn build(rules: &[Rule], keys: &[RuleKeys]) -> Index {
        let all: Vec<u32> = (0..rules.len())
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        build(&all, keys, 0)
    }

    /// The rules a request must be checked against, in evaluation order.
    pub(crate) fn candidates<'i>(&'i self, facts: &[FactInfo], req: &EvaluateRequest) -> &'i [u32] {
        let mut node = self;
        loop {
            match node {
                Index::Leaf(list) => return list,
                Index::Split {
                    fact,
                    strs,
                    nums,
                    bools,
                    absent,
                    other,
                    rest,
                } => {
                    let Some(info) = facts.get(*fact) else {
                        return &[];
                    };
                    node = match fact_state(&info.fact, req) {
                        State::Absent => absent,
                        State::Present(v) => match (v, &info.domain) {
                            (Value::Str(s), d) if d.is_string() => strs.get(s).unwrap_or(rest),
                            (Value::Num(n), d) if d.is_numeric() => nums
                                .binary_search_by(|(k, _)| k.cmp_exact(n))
                                .ok()
                                .and_then(|i| nums.get(i))
                                .map_or(&**rest, |(_, t)| t),
                            (Value::Bool(b), crate::model::Domain::Bool) => bools
                                .iter()
                                .find(|(k, _)| *k == b)
                                .map_or(&**rest, |(_, t)| t),
                            _ => other,
                        },
                    };
                }
            }
        }
    }
}

fn keys_for(keys: &[RuleKeys], rule: u32, fact: usize) -> Option<&[Key]> {
    let i = usize::try_from(rule).ok()?;
    keys.get(i)?.as_ref()?.get(&fact).map(Vec::as_slice)
}

fn build(list: &[u32], keys: &[RuleKeys], depth: usize) -> Index {
    if list.len() <= LEAF || depth >= MAX_DEPTH {
        return Index::Leaf(list.to_vec());
    }
    // Facts some rule in the list is pinned on.
    let mut facts: Vec<usize> = list
        .iter()
        .filter_map(|r| {
            usize::try_from(*r)
                .ok()
                .and_then(|i| keys.get(i))
                .and_then(Option::as_ref)
        })
        .flat_map(|m| m.keys().copied())
        .collect();
    facts.sort_unstable();
    facts.dedup();
    let mut best: Option<(usize, usize)> = None; // (largest branch, fact)
    for f in facts {
        let mut buckets: BTreeMap<&Key, usize> = BTreeMap::new();
        let mut wild = 0usize;
        for r in list {
            match keys_for(keys, *r, f) {
                Some(ks) => ks.iter().for_each(|k| *buckets.entry(k).or_default() += 1),
                None => wild += 1,
            }
        }
        let largest = buckets.values().max().copied().unwrap_or(0) + wild;
        let total: usize = buckets.values().sum::<usize>() + wild * (buckets.len() + 3);
        if largest * 4 > list.len() * 3 || total > list.len() * BUDGET {
            continue;
        }
        if best.is_none_or(|(l, _)| largest < l) {
            best = Some((largest, f));
        }
    }
    let Some((_, fact)) = best else {
        return Index::Leaf(list.to_vec());
    };

    let mut buckets: BTreeMap<Key, Vec<u32>> = BTreeMap::new();
    let mut wild: Vec<u32> = Vec::new();
    for r in list {
        match keys_for(keys, *r, fact) {
            Some(ks) => ks
                .iter()
                .for_each(|k| buckets.entry(k.clone()).or_default().push(*r)),
            None => wild.push(*r),
        }
    }
    let with_wild = |own: &[u32]| -> Vec<u32> {
        let mut merged = Vec::with_capacity(own.len() + wild.len());
        let (mut i, mut j) = (0, 0);
        while let (Some(a), Some(b)) = (own.get(i), wild.get(j)) {
            if a < b {
                merged.push(*a);
                i += 1;
            } else {
                merged.push(*b);
                j += 1;
            }
        }
        merged.extend(own.get(i..).unwrap_or_default());
        merged.extend(wild.get(j..).unwrap_or_default());
        merged
    };
    let mut strs = BTreeMap::new();
    let mut nums = Vec::new();
    let mut bools = Vec::new();
    let mut absent = None;
    let mut other = None;
    for (k, own) in &buckets {
        let child = build(&with_wild(own), keys, depth + 1);
        match k {
            Key::Absent => absent = Some(child),
            Key::Other => other = Some(child),
            Key::Val(Val::Str(s)) => {
                strs.insert(s.clone(), child);
            }
            Key::Val(Val::Num(n)) => nums.push((*n, child)),
            Key::Val(Val::Bool(b)) => bools.push((*b, child)),
        }
    }
    let rest = || Box::new(build(&wild, keys, depth + 1));
    Index::Split {
        fact,
        strs,
        nums,
        bools,
        absent: absent.map_or_else(rest, Box::new),
        other: other.map_or_else(rest, Box::new),
        rest: rest(),
    }
}

/// First rule among the candidates whose condition holds.
pub(crate) fn first_match<'r>(
    rules: &'r [Rule],
    candidates: &[u32],
    facts: &[FactInfo],
    req: &EvaluateRequest,
) -> Option<&'r Rule> {
    candidates
        .iter()
        .filter_map(|i| usize::try_from(*i).ok().and_then(|i| rules.get(i)))
        .find(|r| holds(&r.when, facts, req))
}

#[cfg(test)]
mod tests;
