//! Cross-rule analysis: dead rules, equal-priority overlap (with a witness request
//! that both rules match, checked by evaluating it) and shadowing.
//!
//! A condition is normalised to a disjunction of conjunctions of per-fact
//! constraints ([`Conj`]). Two conjunctions overlap exactly when every fact's merged
//! constraint is satisfiable, and the witness is one value per fact. `not` is pushed
//! down to the atoms, whose negations are exact (absent facts included). Expansion is
//! bounded ([`MAX_CONJUNCTIONS`]) so that a pathological rule is refused, not hung on.
//!
//! Candidate pairs come from a trie keyed on the facts most often pinned to finite
//! value sets (action, environment names, ids…), so a large policy is far from the
//! quadratic worst case.

mod solve;

pub(crate) use solve::{FactCons, finite_values};
use solve::{Sol, W, WVal, solve_fact};

use crate::diag::{Code, Diagnostic};
use crate::eval::holds;
use crate::model::{Cond, Domain, Fact, FactInfo, Num, Rule, States, Test, Val};
use policygate_api::{Action, Env, EvaluateRequest, Resource, Sensitivity, SignalValue, Subject};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Most conjunctions one rule may expand to.
pub(crate) const MAX_CONJUNCTIONS: usize = 256;
/// Most pieces the shadowing subtraction keeps before it gives up (reporting nothing).
const MAX_REMAINDER: usize = 512;

/// A conjunction: per-fact constraints, sorted by fact index, one entry per fact.
pub(crate) type Conj = Vec<(usize, FactCons)>;

// INVARIANT: indexes of the subject facts in the fact table (built-ins come first, in
// `Fact::BUILTIN` order).
const SUBJECT: usize = 5;
const SUBJECT_TYPE: usize = 6;
const SUBJECT_ID: usize = 7;

fn merge(a: &Conj, b: &Conj) -> Conj {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                let mut atoms = x.1.atoms.clone();
                atoms.extend(y.1.atoms.iter().cloned());
                out.push((
                    x.0,
                    FactCons {
                        states: x.1.states.intersect(y.1.states),
                        atoms,
                    },
                ));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                out.push(x.clone());
                i += 1;
            }
            (Some(_), Some(y)) | (None, Some(y)) => {
                out.push(y.clone());
                j += 1;
            }
            (Some(x), None) => {
                out.push(x.clone());
                i += 1;
            }
            (None, None) => break,
        }
    }
    out
}

/// A conjunction's witness: one state per constrained fact.
type Witness = Vec<(usize, W)>;

/// Solves a conjunction, taking the coupling of `subject` and its fields into account.
fn solve_conj(conj: &Conj, facts: &[FactInfo]) -> Sol<Witness> {
    let mut out = Vec::new();
    let mut unknown = false;
    let mut subject_group: [Option<&FactCons>; 3] = [None, None, None];
    for (f, c) in conj {
        if let Some(slot) = f
            .checked_sub(SUBJECT)
            .and_then(|k| subject_group.get_mut(k))
        {
            *slot = Some(c);
            continue;
        }
        let Some(info) = facts.get(*f) else {
            return Sol::Unknown;
        };
        match solve_fact(info, c) {
            Sol::Sat(w) => out.push((*f, w)),
            Sol::Unsat => return Sol::Unsat,
            Sol::Unknown => unknown = true,
        }
    }
    if subject_group.iter().any(Option::is_some) {
        match solve_subject(&subject_group, facts) {
            Sol::Sat(ws) => out.extend(ws),
            Sol::Unsat => return Sol::Unsat,
            Sol::Unknown => unknown = true,
        }
    }
    if unknown { Sol::Unknown } else { Sol::Sat(out) }
}

fn solve_subject(group: &[Option<&FactCons>; 3], facts: &[FactInfo]) -> Sol<Witness> {
    let info = |k: usize| facts.get(SUBJECT + k);
    let states = |k: usize| -> States {
        let u = info(k).map_or(States::NONE, FactInfo::universe);
        group
            .get(k)
            .copied()
            .flatten()
            .map_or(u, |c| c.states.intersect(u))
    };
    // The subject present: its fields solve on their own.
    let mut unknown = false;
    if states(0).contains(States::VALUE) {
        let mut ws = vec![(SUBJECT, W::Value(WVal::Object))];
        let mut ok = true;
        for k in 1..3 {
            let (Some(fi), Some(Some(c))) = (info(k), group.get(k)) else {
                continue;
            };
            match solve_fact(fi, c) {
                Sol::Sat(w) => ws.push((SUBJECT + k, w)),
                Sol::Unsat => ok = false,
                Sol::Unknown => {
                    unknown = true;
                    ok = false;
                }
            }
        }
        if ok {
            return Sol::Sat(ws);
        }
    }
    // The subject absent: so are its fields.
    if (0..3).all(|k| states(k).contains(States::ABSENT)) {
        return Sol::Sat(vec![
            (SUBJECT, W::Absent),
            (SUBJECT_TYPE, W::Absent),
            (SUBJECT_ID, W::Absent),
        ]);
    }
    if unknown { Sol::Unknown } else { Sol::Unsat }
}

struct Expander<'a> {
    facts: &'a [FactInfo],
    /// The last fact found contradictory, for the dead-rule message.
    contradiction: Option<usize>,
}

struct TooComplex;

impl Expander<'_> {
    fn atom_conj(
        &mut self,
        fact: usize,
        states: States,
        atoms: Vec<crate::model::Atom>,
    ) -> Option<Conj> {
        let u = self
            .facts
            .get(fact)
            .map_or(States::NONE, FactInfo::universe);
        let states = states.intersect(u);
        if states.is_empty() {
            // e.g. `exists: false` on a fact every request carries
            self.contradiction = Some(fact);
            return None;
        }
        Some(vec![(fact, FactCons { states, atoms })])
    }

    fn dnf(&mut self, cond: &Cond, positive: bool) -> Result<Vec<Conj>, TooComplex> {
        match (cond, positive) {
            (Cond::Pred(p), _) => {
                let u = self
                    .facts
                    .get(p.fact)
                    .map_or(States::NONE, FactInfo::universe);
                let present = u.minus(States::ABSENT);
                let out: Vec<Option<Conj>> = match (&p.test, positive) {
                    (Test::Exists(b), pos) => {
                        let want_present = *b == pos;
                        vec![self.atom_conj(
                            p.fact,
                            if want_present {
                                present
                            } else {
                                States::ABSENT
                            },
                            vec![],
                        )]
                    }
                    (Test::Atom(a), true) => {
                        vec![self.atom_conj(p.fact, States::VALUE, vec![a.clone()])]
                    }
                    (Test::Atom(a), false) => vec![
                        self.atom_conj(p.fact, u.minus(States::VALUE), vec![]),
                        self.atom_conj(p.fact, States::VALUE, vec![a.negate()]),
                    ],
                };
                Ok(self.keep_sat(out.into_iter().flatten().collect()))
            }
            (Cond::All(cs), true) | (Cond::Any(cs), false) => {
                let mut acc: Vec<Conj> = vec![Vec::new()];
                for c in cs {
                    let next = self.dnf(c, positive)?;
                    let mut product = Vec::new();
                    for x in &acc {
                        for y in &next {
                            product.push(merge(x, y));
                        }
                    }
                    acc = self.keep_sat(product);
                    if acc.len() > MAX_CONJUNCTIONS {
                        return Err(TooComplex);
                    }
                }
                Ok(acc)
            }
            (Cond::Any(cs), true) | (Cond::All(cs), false) => {
                let mut acc = Vec::new();
                for c in cs {
                    acc.extend(self.dnf(c, positive)?);
                    if acc.len() > MAX_CONJUNCTIONS {
                        return Err(TooComplex);
                    }
                }
                Ok(acc)
            }
            (Cond::Not(c), _) => self.dnf(c, !positive),
        }
    }

    fn keep_sat(&mut self, conjs: Vec<Conj>) -> Vec<Conj> {
        conjs
            .into_iter()
            .filter(|c| {
                let unsat = matches!(solve_conj(c, self.facts), Sol::Unsat);
                if unsat {
                    self.contradiction = c
                        .iter()
                        .find(|(f, fc)| {
                            self.facts
                                .get(*f)
                                .is_some_and(|i| matches!(solve_fact(i, fc), Sol::Unsat))
                        })
                        .map(|(f, _)| *f)
                        .or(Some(SUBJECT));
                }
                !unsat
            })
            .collect()
    }
}

/// A key a conjunction pins a fact to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Absent,
    Other,
    Val(Val),
}

/// The finite set of keys a constraint allows, or `None` when it is not finite.
pub(crate) fn keys_of(info: &FactInfo, c: &FactCons) -> Option<Vec<Key>> {
    let states = c.states.intersect(info.universe());
    let mut keys = Vec::new();
    if states.contains(States::ABSENT) {
        keys.push(Key::Absent);
    }
    if states.contains(States::OTHER) {
        keys.push(Key::Other);
    }
    if states.contains(States::VALUE) {
        keys.extend(
            finite_values(&info.domain, &c.atoms)?
                .into_iter()
                .map(Key::Val),
        );
    }
    Some(keys)
}

/// The analysed form of a rule.
struct Form {
    conjs: Vec<Conj>,
}

/// Candidate lookup: a trie over the facts most often pinned to finite key sets.
enum Trie {
    Leaf(Vec<usize>),
    Split {
        fact: usize,
        by_key: BTreeMap<Key, Trie>,
        wild: Box<Trie>,
    },
}

struct Item<'a> {
    rule: usize,
    conj: &'a Conj,
}

fn conj_keys(conj: &Conj, fact: usize, facts: &[FactInfo]) -> Option<Vec<Key>> {
    let c = conj.iter().find(|(f, _)| *f == fact).map(|(_, c)| c)?;
    keys_of(facts.get(fact)?, c)
}

fn build_trie(items: &[Item<'_>], ids: Vec<usize>, order: &[usize], facts: &[FactInfo]) -> Trie {
    let Some((&fact, rest)) = order.split_first() else {
        return Trie::Leaf(ids);
    };
    if ids.len() <= 16 {
        return Trie::Leaf(ids);
    }
    let mut by_key: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    let mut wild = Vec::new();
    for id in ids {
        match items.get(id).and_then(|it| conj_keys(it.conj, fact, facts)) {
            Some(keys) => keys
                .into_iter()
                .for_each(|k| by_key.entry(k).or_default().push(id)),
            None => wild.push(id),
        }
    }
    Trie::Split {
        fact,
        by_key: by_key
            .into_iter()
            .map(|(k, v)| (k, build_trie(items, v, rest, facts)))
            .collect(),
        wild: Box::new(build_trie(items, wild, rest, facts)),
    }
}

fn query(trie: &Trie, conj: &Conj, facts: &[FactInfo], out: &mut Vec<usize>) {
    match trie {
        Trie::Leaf(ids) => out.extend(ids),
        Trie::Split { fact, by_key, wild } => {
            match conj_keys(conj, *fact, facts) {
                Some(keys) => {
                    for k in keys {
                        if let Some(t) = by_key.get(&k) {
                            query(t, conj, facts, out);
                        }
                    }
                }
                None => by_key.values().for_each(|t| query(t, conj, facts, out)),
            }
            query(wild, conj, facts, out);
        }
    }
}

/// Per rule, the facts it pins to finite key sets (over all its alternatives), for
/// the evaluation index; `None` for a rule that was refused.
pub(crate) type RuleKeys = Option<BTreeMap<usize, Vec<Key>>>;

/// Runs the cross-rule checks and returns what the evaluation index needs.
pub(crate) fn analyse(
    facts: &[FactInfo],
    rules: &[Rule],
    diags: &mut Vec<Diagnostic>,
) -> Vec<RuleKeys> {
    let mut forms: Vec<Option<Form>> = Vec::with_capacity(rules.len());
    for r in rules {
        let mut ex = Expander {
            facts,
            contradiction: None,
        };
        match ex.dnf(&r.when, true) {
            Err(TooComplex) => {
                diags.push(
                    Diagnostic::error(Code::RuleTooComplex, format!("the condition of rule `{}` expands to more than {MAX_CONJUNCTIONS} alternatives", r.id))
                        .at(r.loc)
                        .rule(Some(&r.id))
                        .help("split the rule into several rules, or simplify nested `any`/`not`"),
                );
                forms.push(None);
            }
            Ok(conjs) if conjs.is_empty() => {
                let detail = ex
                    .contradiction
                    .and_then(|f| facts.get(f))
                    .map(|i| format!(": no value of `{}` satisfies all its tests", i.fact.path()))
                    .unwrap_or_default();
                diags.push(
                    Diagnostic::error(Code::DeadRule, format!("rule `{}` can never match{detail}", r.id))
                        .at(r.loc)
                        .rule(Some(&r.id))
                        .label("this condition is unsatisfiable")
                        .help("fix the contradictory tests (e.g. `{gt: 10, lt: 5}`, or two different values for one fact) or remove the rule"),
                );
                forms.push(None);
            }
            Ok(conjs) => forms.push(Some(Form { conjs })),
        }
    }

    let items: Vec<Item<'_>> = forms
        .iter()
        .enumerate()
        .flat_map(|(rule, f)| {
            f.iter()
                .flat_map(move |f| f.conjs.iter().map(move |conj| Item { rule, conj }))
        })
        .collect();
    let order = index_order(&items, facts);
    let trie = build_trie(&items, (0..items.len()).collect(), &order, facts);

    let mut candidates: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); rules.len()];
    let mut pair_state: BTreeMap<(usize, usize), PairState> = BTreeMap::new();
    let mut found = Vec::new();
    for item in &items {
        found.clear();
        query(&trie, item.conj, facts, &mut found);
        found.sort_unstable();
        found.dedup();
        let Some(r) = rules.get(item.rule) else {
            continue;
        };
        for &j in &found {
            let Some(other) = items.get(j) else { continue };
            let Some(s) = rules.get(other.rule) else {
                continue;
            };
            if other.rule == item.rule {
                continue;
            }
            if s.priority > r.priority {
                if let Some(set) = candidates.get_mut(item.rule) {
                    set.insert(other.rule);
                }
            } else if s.priority == r.priority && other.rule > item.rule {
                // INVARIANT: candidate lookup is symmetric, so each pair of conjunctions
                // is met once from the side of the rule that comes first.
                let state = pair_state
                    .entry((item.rule, other.rule))
                    .or_insert(PairState::Disjoint);
                if matches!(state, PairState::Overlap(_)) {
                    continue;
                }
                match solve_conj(&merge(item.conj, other.conj), facts) {
                    Sol::Sat(w) => {
                        let req = witness_request(&w, facts);
                        // The witness is checked by evaluating it; a failure would be an
                        // analysis bug, reported conservatively as a possible overlap.
                        *state = if holds(&r.when, facts, &req) && holds(&s.when, facts, &req) {
                            PairState::Overlap(Box::new(req))
                        } else {
                            PairState::Maybe
                        };
                    }
                    Sol::Unknown => *state = PairState::Maybe,
                    Sol::Unsat => {}
                }
            }
        }
    }
    for ((a, b), state) in pair_state {
        let (Some(ra), Some(rb)) = (rules.get(a), rules.get(b)) else {
            continue;
        };
        match state {
            PairState::Overlap(req) => diags.push(overlap_error(ra, rb, &req)),
            PairState::Maybe => diags.push(
                Diagnostic::warning(
                    Code::MayOverlap,
                    format!("rules `{}` and `{}` both have priority {} and may both match one request", ra.id, rb.id, ra.priority),
                )
                .at(rb.id_loc)
                .related(ra.id_loc, "the other rule")
                .rule(Some(&rb.id))
                .help("string patterns keep the analysis from deciding; make the rules exclusive on a fact tested by equality, or give them different priorities"),
            ),
            PairState::Disjoint => {}
        }
    }

    for (idx, r) in rules.iter().enumerate() {
        let (Some(Some(form)), Some(cands)) = (forms.get(idx), candidates.get(idx)) else {
            continue;
        };
        let mut higher: Vec<usize> = cands.iter().copied().collect();
        higher.sort_by_key(|h| {
            (
                std::cmp::Reverse(rules.get(*h).map_or(0, |x| x.priority)),
                *h,
            )
        });
        // Cheap exact exit: a request the rule matches and no higher rule does.
        let escapes = form.conjs.iter().any(|c| match solve_conj(c, facts) {
            Sol::Sat(w) => {
                let req = witness_request(&w, facts);
                holds(&r.when, facts, &req)
                    && !higher
                        .iter()
                        .filter_map(|h| rules.get(*h))
                        .any(|h| holds(&h.when, facts, &req))
            }
            _ => false,
        });
        if escapes {
            continue;
        }
        if let Some(by) = shadowed_by(form, &higher, &forms, facts) {
            let names: Vec<String> = by
                .iter()
                .filter_map(|h| rules.get(*h))
                .map(|h| format!("`{}`", h.id))
                .collect();
            let first = by.first().and_then(|h| rules.get(*h));
            let (who, them) = match names.as_slice() {
                [one] => (format!("higher-priority rule {one} also matches"), "it"),
                _ => (
                    format!(
                        "one of the higher-priority rules {} also matches",
                        names.join(", ")
                    ),
                    "them",
                ),
            };
            let mut d = Diagnostic::warning(
                Code::ShadowedRule,
                format!(
                    "rule `{}` can match only when {who}, so it never decides",
                    r.id
                ),
            )
            .at(r.id_loc)
            .rule(Some(&r.id))
            .help(format!(
                "raise its priority above {them}, narrow the higher-priority rule{}, or remove it",
                if them == "it" { "" } else { "s" }
            ));
            if let Some(h) = first {
                d = d.related(
                    h.id_loc,
                    format!("higher-priority rule (priority {})", h.priority),
                );
            }
            diags.push(d);
        }
    }
    forms
        .iter()
        .map(|f| f.as_ref().map(|f| rule_keys(f, facts)))
        .collect()
}

fn rule_keys(form: &Form, facts: &[FactInfo]) -> BTreeMap<usize, Vec<Key>> {
    let mut out: BTreeMap<usize, Vec<Key>> = BTreeMap::new();
    let Some(first) = form.conjs.first() else {
        return out;
    };
    for (f, _) in first {
        let mut all: Vec<Key> = Vec::new();
        let mut keyed = true;
        for conj in &form.conjs {
            match conj_keys(conj, *f, facts) {
                Some(ks) => all.extend(ks),
                None => {
                    keyed = false;
                    break;
                }
            }
        }
        if keyed {
            all.sort();
            all.dedup();
            out.insert(*f, all);
        }
    }
    out
}

enum PairState {
    Disjoint,
    Maybe,
    Overlap(Box<EvaluateRequest>),
}

fn index_order(items: &[Item<'_>], facts: &[FactInfo]) -> Vec<usize> {
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for it in items {
        for (f, c) in it.conj {
            if let Some(info) = facts.get(*f) {
                if keys_of(info, c).is_some() {
                    *counts.entry(*f).or_default() += 1;
                }
            }
        }
    }
    let mut by_count: Vec<(usize, usize)> = counts.into_iter().filter(|(_, n)| *n >= 2).collect();
    by_count.sort_by_key(|(f, n)| (std::cmp::Reverse(*n), *f));
    by_count.into_iter().take(4).map(|(f, _)| f).collect()
}

fn overlap_error(a: &Rule, b: &Rule, witness: &EvaluateRequest) -> Diagnostic {
    let kind = if a.then == b.then {
        format!(
            "redundant: both decide {} with the same rationale",
            a.then.decision
        )
    } else if a.then.decision == b.then.decision {
        format!(
            "conflicting: both decide {} but with different rationale codes or obligations ({} vs {})",
            a.then.decision,
            a.then.rationale_codes.join(", "),
            b.then.rationale_codes.join(", ")
        )
    } else {
        format!("conflicting: {} vs {}", a.then.decision, b.then.decision)
    };
    let json = serde_json::to_value(witness).unwrap_or(Value::Null);
    Diagnostic::error(
        Code::EqualPriorityOverlap,
        format!(
            "rules `{}` and `{}` both have priority {} and can both match one request ({kind})",
            a.id, b.id, a.priority
        ),
    )
    .at(b.id_loc)
    .label("overlaps with the other rule")
    .related(a.id_loc, "the other rule")
    .rule(Some(&b.id))
    .help(format!(
        "give one rule a higher priority, or make their conditions exclusive; both match {json}"
    ))
    .witness(json)
}

/// Subtracts the higher-priority rules from the rule's conjunctions; returns the rules
/// that together cover it, or `None` if something remains (or the bound was hit).
fn shadowed_by(
    form: &Form,
    higher: &[usize],
    forms: &[Option<Form>],
    facts: &[FactInfo],
) -> Option<Vec<usize>> {
    let mut remaining: Vec<Conj> = form.conjs.clone();
    let mut used = Vec::new();
    for &h in higher {
        let Some(Some(hf)) = forms.get(h) else {
            continue;
        };
        let mut changed = false;
        for d in &hf.conjs {
            let mut next = Vec::new();
            for c in &remaining {
                let pieces = subtract(c, d, facts);
                if pieces.len() != 1
                    || pieces
                        .first()
                        .is_none_or(|p| p.len() != c.len() || !same_conj(p, c))
                {
                    changed = true;
                }
                next.extend(pieces);
                if next.len() > MAX_REMAINDER {
                    return None;
                }
            }
            remaining = next;
        }
        if changed {
            used.push(h);
        }
        if remaining.is_empty() {
            return Some(used);
        }
    }
    None
}

fn same_conj(a: &Conj, b: &Conj) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.0 == y.0 && x.1.states == y.1.states && x.1.atoms.len() == y.1.atoms.len()
        })
}

/// `c ∧ ¬d` as a list of conjunctions (unsatisfiable pieces dropped).
fn subtract(c: &Conj, d: &Conj, facts: &[FactInfo]) -> Vec<Conj> {
    if matches!(solve_conj(&merge(c, d), facts), Sol::Unsat) {
        return vec![c.clone()];
    }
    let mut pieces = Vec::new();
    for (f, dc) in d {
        let u = facts.get(*f).map_or(States::NONE, FactInfo::universe);
        let states = dc.states.intersect(u);
        let mut negs: Vec<FactCons> = Vec::new();
        let complement = u.minus(states);
        if !complement.is_empty() {
            negs.push(FactCons {
                states: complement,
                atoms: vec![],
            });
        }
        if states.contains(States::VALUE) {
            negs.extend(dc.atoms.iter().map(|a| FactCons {
                states: States::VALUE,
                atoms: vec![a.negate()],
            }));
        }
        for n in negs {
            let piece = merge(c, &vec![(*f, n)]);
            if !matches!(solve_conj(&piece, facts), Sol::Unsat) {
                pieces.push(piece);
            }
        }
    }
    pieces
}

/// Builds the request a witness describes; unconstrained required facts get fixed values.
fn witness_request(w: &Witness, facts: &[FactInfo]) -> EvaluateRequest {
    let mut req = EvaluateRequest {
        request_id: None,
        timestamp: None,
        action: Action::InferRun,
        env: Env { name: "w".into() },
        resource: Resource {
            kind: "doc".into(),
            id: None,
            sensitivity: Sensitivity::Public,
        },
        subject: None,
        signals: BTreeMap::new(),
    };
    let text = |w: &W| match w {
        W::Value(WVal::Str(s)) => Some(s.clone()),
        _ => None,
    };
    for (f, state) in w {
        let Some(info) = facts.get(*f) else { continue };
        match &info.fact {
            Fact::Action => {
                if let Some(a) = text(state).and_then(|s| Action::parse(&s)) {
                    req.action = a;
                }
            }
            Fact::EnvName => {
                if let Some(s) = text(state) {
                    req.env.name = s;
                }
            }
            Fact::ResourceType => {
                if let Some(s) = text(state) {
                    req.resource.kind = s;
                }
            }
            Fact::ResourceId => req.resource.id = text(state),
            Fact::Sensitivity => {
                if let Some(s) = text(state).and_then(|s| Sensitivity::parse(&s)) {
                    req.resource.sensitivity = s;
                }
            }
            Fact::Subject => {
                if matches!(state, W::Value(_)) {
                    req.subject.get_or_insert_with(Subject::default);
                }
            }
            Fact::SubjectType => {
                if let Some(s) = text(state) {
                    req.subject.get_or_insert_with(Subject::default).kind = Some(s);
                }
            }
            Fact::SubjectId => {
                if let Some(s) = text(state) {
                    req.subject.get_or_insert_with(Subject::default).id = Some(s);
                }
            }
            Fact::Signal(name) => {
                let value = match state {
                    W::Absent => None,
                    W::Other => Some(match info.domain {
                        Domain::Num { .. } | Domain::Int { .. } | Domain::Bool => {
                            SignalValue::Str("other".into())
                        }
                        _ => SignalValue::Int(0),
                    }),
                    W::Value(WVal::Str(s)) => Some(SignalValue::Str(s.clone())),
                    // In the fact's own type: integers as JSON integers.
                    W::Value(WVal::Num(Num::Int(i))) => Some(SignalValue::Int(*i)),
                    W::Value(WVal::Num(Num::Float(f))) => Some(SignalValue::Float(*f)),
                    W::Value(WVal::Bool(b)) => Some(SignalValue::Bool(*b)),
                    W::Value(WVal::List(items)) => Some(SignalValue::List(items.clone())),
                    W::Value(WVal::Object) => Some(SignalValue::Bool(true)),
                };
                if let Some(v) = value {
                    req.signals.insert(name.clone(), v);
                }
            }
        }
    }
    req
}

#[cfg(test)]
mod tests;
