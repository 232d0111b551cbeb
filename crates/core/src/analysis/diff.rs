//! Semantic diff of two compiled policies: every pair (deciding rule or default under
//! OLD, deciding rule or default under NEW) that some request reaches and whose
//! outcome differs, each with a witness request checked by evaluating it on both
//! policies.
//!
//! Why it is not quadratic: a rule present in both policies with the same id,
//! priority, condition and outcome (and the same place among its equal-priority
//! peers) is *unchanged*. A request that matches no changed rule in either policy is
//! decided by the same unchanged rule (or the default) in both, so only requests that
//! some changed rule matches can get a different answer. The diff therefore looks only
//! at pairs with a changed rule on one side, found through the same candidate trie the
//! overlap analysis uses, and at (default, default) when the default itself changed.
//!
//! Each pair's region is `when(a) ∧ when(b) ∧ ¬(OLD rules before a) ∧ ¬(NEW rules
//! before b)`, computed by subtraction over the conjunctions of the analysis. An empty
//! region proves the pair unreachable; a non-empty one yields a witness, which is
//! reported only after evaluating it on both policies gives exactly that pair. When
//! string patterns keep the solver from deciding, when a fact's type differs between
//! the policies, or when the region is too fragmented to enumerate, the pair is
//! reported as undecided: never silently as equal.

use super::solve::Sol;
use super::{
    Conj, Expander, Item, MAX_REMAINDER, Trie, Witness, build_trie, index_order, merge, query,
    solve_conj, subtract, witness_request,
};
use crate::Policy;
use crate::model::{Atom, Cond, Domain, Fact, FactInfo, Outcome, Pred, StrCheck, Test, Val};
use policygate_api::{
    ChangedRules, DIFF_REPORT_VERSION, DiffChange, DiffOutcome, DiffReport, DiffUndecided,
    EvaluateRequest,
};
use std::collections::{BTreeMap, BTreeSet};

/// A deciding rule (its index in evaluation order), or `None` for the default.
type Decider = Option<usize>;

const WHY_PATTERNS: &str = "string patterns the analysis cannot solve: some requests of this pair may exist, none was found";
const WHY_TYPES: &str = "a fact tested here has a different type in the two policies, which the analysis cannot compare exactly";
const WHY_FRAGMENTED: &str = "the region of requests is too fragmented to enumerate exactly; no witness was found in the part enumerated";
const WHY_UNVERIFIED: &str =
    "the analysis found a witness that evaluation did not confirm (please report this)";

/// The request space both policies accept: one fact table, each policy's facts mapped
/// into it.
struct Space {
    facts: Vec<FactInfo>,
    /// Facts whose value type differs between the policies: rules testing them are
    /// analysed conservatively.
    opaque: Vec<bool>,
    old_map: Vec<usize>,
    new_map: Vec<usize>,
    changed_facts: Vec<String>,
}

fn kind(d: &Domain) -> u8 {
    match d {
        Domain::Enum(_) | Domain::Str(_) => 0,
        Domain::Int { .. } | Domain::Num { .. } => 1,
        Domain::Bool => 2,
        Domain::List => 3,
        Domain::StrOrList => 4,
        Domain::Any => 5,
        Domain::Object => 6,
    }
}

fn tighter<T: Ord + Copy>(a: Option<T>, b: Option<T>, pick: fn(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(pick(x, y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The values both declarations accept, when the solver can represent them.
fn intersect(a: &Domain, b: &Domain) -> Option<Domain> {
    let accepts = |check: &StrCheck, v: &String| check.accepts(v);
    Some(match (a, b) {
        (x, y) if x == y => x.clone(),
        (Domain::Enum(xs), Domain::Enum(ys)) => {
            Domain::Enum(xs.iter().filter(|x| ys.contains(x)).cloned().collect())
        }
        (Domain::Enum(xs), Domain::Str(c)) | (Domain::Str(c), Domain::Enum(xs)) => {
            Domain::Enum(xs.iter().filter(|x| accepts(c, x)).cloned().collect())
        }
        (Domain::Int { min: a0, max: a1 }, Domain::Int { min: b0, max: b1 }) => Domain::Int {
            min: tighter(*a0, *b0, Ord::max),
            max: tighter(*a1, *b1, Ord::min),
        },
        (Domain::Num { min: a0, max: a1 }, Domain::Num { min: b0, max: b1 }) => Domain::Num {
            min: tighter(*a0, *b0, Ord::max),
            max: tighter(*a1, *b1, Ord::min),
        },
        _ => return None,
    })
}

/// One fact as both policies see it: the merged information, whether the analysis
/// can treat it exactly, and whether its declaration changed.
fn merge_fact(a: Option<&FactInfo>, b: Option<&FactInfo>) -> Option<(FactInfo, bool, bool)> {
    let (a, b) = match (a, b) {
        (Some(x), None) | (None, Some(x)) => return Some((x.clone(), false, !x.untyped)),
        (Some(a), Some(b)) => (a, b),
        (None, None) => return None,
    };
    let declaration_changed =
        a.untyped != b.untyped || a.required != b.required || (!a.untyped && a.domain != b.domain);
    // Absence stays possible unless both policies require the fact.
    let required = a.required && b.required;
    let exact = |info: &FactInfo| {
        Some((
            FactInfo {
                required,
                ..info.clone()
            },
            false,
            declaration_changed,
        ))
    };
    if a.domain == b.domain && a.untyped == b.untyped {
        return exact(a);
    }
    // A signal tested only with `exists` fits any type.
    if a.untyped && matches!(a.domain, Domain::Any) {
        return exact(b);
    }
    if b.untyped && matches!(b.domain, Domain::Any) {
        return exact(a);
    }
    let opaque = Some((
        FactInfo {
            fact: a.fact.clone(),
            domain: Domain::Any,
            untyped: false,
            required,
        },
        true,
        declaration_changed,
    ));
    if kind(&a.domain) != kind(&b.domain) {
        return opaque;
    }
    match (a.untyped, b.untyped) {
        // A policy that declares the fact refuses values of other types, so the
        // requests both accept are the declared ones.
        (true, false) => exact(b),
        (false, true) => exact(a),
        _ => match intersect(&a.domain, &b.domain) {
            Some(domain) => Some((
                FactInfo {
                    fact: a.fact.clone(),
                    domain,
                    untyped: false,
                    required,
                },
                false,
                declaration_changed,
            )),
            None => opaque,
        },
    }
}

impl Space {
    fn new(old: &[FactInfo], new: &[FactInfo]) -> Space {
        let mut by_fact: BTreeMap<&Fact, (Option<usize>, Option<usize>)> = BTreeMap::new();
        for (i, info) in old.iter().enumerate() {
            by_fact.entry(&info.fact).or_default().0 = Some(i);
        }
        for (i, info) in new.iter().enumerate() {
            by_fact.entry(&info.fact).or_default().1 = Some(i);
        }
        let mut space = Space {
            facts: Vec::with_capacity(by_fact.len()),
            opaque: Vec::with_capacity(by_fact.len()),
            old_map: vec![usize::MAX; old.len()],
            new_map: vec![usize::MAX; new.len()],
            changed_facts: Vec::new(),
        };
        // INVARIANT: the analysis expects the built-in facts first, in `Fact::BUILTIN`
        // order (the subject group is addressed by index); `Fact`'s order puts them
        // first, in that order, and signals after them by name.
        for (_, (i, j)) in by_fact {
            let (a, b) = (i.and_then(|i| old.get(i)), j.and_then(|j| new.get(j)));
            let Some((info, opaque, changed)) = merge_fact(a, b) else {
                continue;
            };
            let at = space.facts.len();
            if changed {
                space.changed_facts.push(info.fact.path());
            }
            space.facts.push(info);
            space.opaque.push(opaque);
            if let Some(slot) = i.and_then(|i| space.old_map.get_mut(i)) {
                *slot = at;
            }
            if let Some(slot) = j.and_then(|j| space.new_map.get_mut(j)) {
                *slot = at;
            }
        }
        space
    }
}

fn remap(cond: &Cond, map: &[usize]) -> Cond {
    match cond {
        Cond::All(cs) => Cond::All(cs.iter().map(|c| remap(c, map)).collect()),
        Cond::Any(cs) => Cond::Any(cs.iter().map(|c| remap(c, map)).collect()),
        Cond::Not(c) => Cond::Not(Box::new(remap(c, map))),
        Cond::Pred(p) => Cond::Pred(Pred {
            fact: map.get(p.fact).copied().unwrap_or(usize::MAX),
            test: p.test.clone(),
        }),
    }
}

fn tests_any(cond: &Cond, opaque: &[bool]) -> bool {
    match cond {
        Cond::All(cs) | Cond::Any(cs) => cs.iter().any(|c| tests_any(c, opaque)),
        Cond::Not(c) => tests_any(c, opaque),
        Cond::Pred(p) => opaque.get(p.fact).copied().unwrap_or(true),
    }
}

fn same_val_list(a: &[Val], b: &[Val]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn same_atom(a: &Atom, b: &Atom) -> bool {
    match (a, b) {
        (Atom::Eq(x), Atom::Eq(y)) | (Atom::Ne(x), Atom::Ne(y)) => x == y,
        (Atom::In(xs), Atom::In(ys)) | (Atom::NotIn(xs), Atom::NotIn(ys)) => same_val_list(xs, ys),
        (Atom::Cmp(c, x), Atom::Cmp(d, y)) => c == d && x == y,
        (
            Atom::Pattern {
                kind: k1,
                text: t1,
                positive: p1,
                ..
            },
            Atom::Pattern {
                kind: k2,
                text: t2,
                positive: p2,
                ..
            },
        ) => k1 == k2 && t1 == t2 && p1 == p2,
        (
            Atom::Elem {
                item: i1,
                positive: p1,
            },
            Atom::Elem {
                item: i2,
                positive: p2,
            },
        ) => i1 == i2 && p1 == p2,
        _ => false,
    }
}

/// Structural equality of two conditions over the common fact table.
fn same_cond(a: &Cond, b: &Cond) -> bool {
    match (a, b) {
        (Cond::All(x), Cond::All(y)) | (Cond::Any(x), Cond::Any(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_cond(p, q))
        }
        (Cond::Not(x), Cond::Not(y)) => same_cond(x, y),
        (Cond::Pred(p), Cond::Pred(q)) => {
            p.fact == q.fact
                && match (&p.test, &q.test) {
                    (Test::Exists(x), Test::Exists(y)) => x == y,
                    (Test::Atom(x), Test::Atom(y)) => same_atom(x, y),
                    _ => false,
                }
        }
        _ => false,
    }
}

/// One policy seen in the common fact table.
struct Side<'p> {
    policy: &'p Policy,
    conds: Vec<Cond>,
    /// Rules testing an opaque fact, or whose condition could not be expanded: their
    /// form is "any request" (an over-approximation), never subtracted.
    inexact: Vec<bool>,
}

impl<'p> Side<'p> {
    fn new(policy: &'p Policy, map: &[usize], space: &Space) -> Side<'p> {
        let conds: Vec<Cond> = policy.rules.iter().map(|r| remap(&r.when, map)).collect();
        let inexact = conds.iter().map(|c| tests_any(c, &space.opaque)).collect();
        Side {
            policy,
            conds,
            inexact,
        }
    }

    fn forms(&mut self, facts: &[FactInfo]) -> Vec<Vec<Conj>> {
        let mut forms = Vec::with_capacity(self.conds.len());
        for (cond, inexact) in self.conds.iter().zip(self.inexact.iter_mut()) {
            if *inexact {
                forms.push(vec![Vec::new()]);
                continue;
            }
            let mut ex = Expander {
                facts,
                contradiction: None,
            };
            match ex.dnf(cond, true) {
                Ok(conjs) => forms.push(conjs),
                Err(_) => {
                    *inexact = true;
                    forms.push(vec![Vec::new()]);
                }
            }
        }
        forms
    }

    fn outcome(&self, d: Decider) -> (Option<&'p str>, &'p Outcome) {
        match d.and_then(|i| self.policy.rules.get(i)) {
            Some(r) => (Some(r.id.as_str()), &r.then),
            None => (None, &self.policy.default),
        }
    }

    fn report_outcome(&self, d: Decider) -> DiffOutcome {
        let (id, then) = self.outcome(d);
        DiffOutcome {
            rule_id: id.map(str::to_owned),
            decision: then.decision,
            rationale_codes: then.rationale_codes.clone(),
            obligations: then.obligations.clone(),
        }
    }

    fn is_inexact(&self, d: Decider) -> bool {
        d.is_some_and(|i| self.inexact.get(i).copied().unwrap_or(true))
    }
}

/// Candidate lookup over one policy's conjunctions.
struct Lookup<'f> {
    items: Vec<Item<'f>>,
    trie: Trie,
}

impl<'f> Lookup<'f> {
    fn new(forms: &'f [Vec<Conj>], facts: &[FactInfo]) -> Lookup<'f> {
        let items: Vec<Item<'f>> = forms
            .iter()
            .enumerate()
            .flat_map(|(rule, f)| f.iter().map(move |conj| Item { rule, conj }))
            .collect();
        let order = index_order(&items, facts);
        let trie = build_trie(&items, (0..items.len()).collect(), &order, facts);
        Lookup { items, trie }
    }

    /// Items (rule, conjunction) that may overlap `conj`, sorted and deduplicated.
    fn items_overlapping(&self, conj: &Conj, facts: &[FactInfo]) -> Vec<&Item<'f>> {
        let mut found = Vec::new();
        query(&self.trie, conj, facts, &mut found);
        found.sort_unstable();
        found.dedup();
        found.iter().filter_map(|i| self.items.get(*i)).collect()
    }

    fn rules_overlapping(&self, conj: &Conj, facts: &[FactInfo], out: &mut BTreeSet<usize>) {
        out.extend(self.items_overlapping(conj, facts).iter().map(|it| it.rule));
    }
}

/// Rules of each side without an identical counterpart in the other.
fn changed_rules(old: &Side<'_>, new: &Side<'_>) -> (Vec<bool>, Vec<bool>) {
    let new_by_id: BTreeMap<&str, usize> = new
        .policy
        .rules
        .iter()
        .enumerate()
        .map(|(j, r)| (r.id.as_str(), j))
        .collect();
    let mut matched: Vec<(usize, usize)> = Vec::new();
    for (i, r) in old.policy.rules.iter().enumerate() {
        let Some(&j) = new_by_id.get(r.id.as_str()) else {
            continue;
        };
        let (Some(s), Some(a), Some(b)) =
            (new.policy.rules.get(j), old.conds.get(i), new.conds.get(j))
        else {
            continue;
        };
        if r.priority == s.priority && r.then == s.then && same_cond(a, b) {
            matched.push((i, j));
        }
    }
    // Equal-priority rules whose conditions the analysis could not prove exclusive
    // are decided by file order: a group whose order changed counts as changed.
    let mut old_changed = vec![true; old.policy.rules.len()];
    let mut new_changed = vec![true; new.policy.rules.len()];
    let priority = |i: usize| old.policy.rules.get(i).map_or(0, |r| r.priority);
    let mut start = 0;
    while start < matched.len() {
        let p = matched.get(start).map_or(0, |(i, _)| priority(*i));
        let end = matched
            .iter()
            .skip(start)
            .position(|(i, _)| priority(*i) != p)
            .map_or(matched.len(), |k| start + k);
        let group = matched.get(start..end).unwrap_or_default();
        if group.windows(2).all(|w| match w {
            [x, y] => x.1 < y.1,
            _ => true,
        }) {
            for (i, j) in group {
                if let Some(c) = old_changed.get_mut(*i) {
                    *c = false;
                }
                if let Some(c) = new_changed.get_mut(*j) {
                    *c = false;
                }
            }
        }
        start = end;
    }
    (old_changed, new_changed)
}

enum Region {
    Unreachable,
    Witness(Box<EvaluateRequest>),
    Undecided(&'static str),
}

struct Differ<'a, 'p> {
    facts: &'a [FactInfo],
    old: &'a Side<'p>,
    new: &'a Side<'p>,
    old_forms: &'a [Vec<Conj>],
    new_forms: &'a [Vec<Conj>],
    old_lookup: &'a Lookup<'a>,
    new_lookup: &'a Lookup<'a>,
}

const ANY_REQUEST: &[Conj] = &[Vec::new()];

impl Differ<'_, '_> {
    fn form(forms: &[Vec<Conj>], d: Decider) -> &[Conj] {
        match d {
            Some(i) => forms.get(i).map_or(&[], Vec::as_slice),
            None => ANY_REQUEST,
        }
    }

    /// The witness as a request, when evaluating it on both policies gives exactly the pair.
    fn verify(&self, w: &Witness, a: Decider, b: Decider) -> Option<EvaluateRequest> {
        let req = witness_request(w, self.facts);
        let (old, new) = (self.old.policy, self.new.policy);
        if old.check_request(&req).is_err() || new.check_request(&req).is_err() {
            return None;
        }
        let got_old = old.evaluate(&req).matched_rule_id;
        let got_new = new.evaluate(&req).matched_rule_id;
        (got_old == self.old.outcome(a).0 && got_new == self.new.outcome(b).0).then_some(req)
    }

    fn region(&self, a: Decider, b: Decider) -> Region {
        let facts = self.facts;
        let mut why: Option<&'static str> = None;
        if self.old.is_inexact(a) || self.new.is_inexact(b) {
            why = Some(WHY_TYPES);
        }
        for ca in Self::form(self.old_forms, a) {
            for cb in Self::form(self.new_forms, b) {
                let base = merge(ca, cb);
                match solve_conj(&base, facts) {
                    Sol::Unsat => continue,
                    Sol::Sat(w) => {
                        if let Some(req) = self.verify(&w, a, b) {
                            return Region::Witness(Box::new(req));
                        }
                    }
                    Sol::Unknown => {}
                }
                // Subtract the rules that come first on each side.
                let mut before: Vec<&Conj> = Vec::new();
                let sides = [
                    (self.old, self.old_lookup, a),
                    (self.new, self.new_lookup, b),
                ];
                for (side, lookup, d) in sides {
                    let limit = d.unwrap_or(usize::MAX);
                    for item in lookup.items_overlapping(&base, facts) {
                        if item.rule >= limit {
                            continue;
                        }
                        if side.is_inexact(Some(item.rule)) {
                            why = why.or(Some(WHY_TYPES));
                        } else {
                            before.push(item.conj);
                        }
                    }
                }
                let mut pieces = vec![base];
                for d in before {
                    let mut next = Vec::new();
                    let mut overflow = false;
                    for c in &pieces {
                        next.extend(subtract(c, d, facts));
                        if next.len() > MAX_REMAINDER {
                            overflow = true;
                            break;
                        }
                    }
                    pieces = next;
                    if overflow {
                        why = why.or(Some(WHY_FRAGMENTED));
                        break;
                    }
                    if pieces.is_empty() {
                        break;
                    }
                }
                for piece in &pieces {
                    match solve_conj(piece, facts) {
                        Sol::Sat(w) => match self.verify(&w, a, b) {
                            Some(req) => return Region::Witness(Box::new(req)),
                            None => why = why.or(Some(WHY_UNVERIFIED)),
                        },
                        Sol::Unknown => why = why.or(Some(WHY_PATTERNS)),
                        Sol::Unsat => {}
                    }
                }
            }
        }
        match why {
            Some(w) => Region::Undecided(w),
            None => Region::Unreachable,
        }
    }
}

/// The diff of two policies; with `with_rules`, changes of deciding rule whose outcome
/// is identical are listed too.
pub(crate) fn diff(old: &Policy, new: &Policy, with_rules: bool) -> DiffReport {
    let space = Space::new(&old.facts, &new.facts);
    let mut o = Side::new(old, &space.old_map, &space);
    let mut n = Side::new(new, &space.new_map, &space);
    let (old_changed, new_changed) = changed_rules(&o, &n);
    let default_changed = old.default != new.default;
    let names = |side: &Side<'_>, changed: &[bool]| -> Vec<String> {
        side.policy
            .rules
            .iter()
            .zip(changed)
            .filter(|(_, c)| **c)
            .map(|(r, _)| r.id.clone())
            .collect()
    };
    let mut report = DiffReport {
        report_version: DIFF_REPORT_VERSION.to_owned(),
        old_policy: old.identity().clone(),
        new_policy: new.identity().clone(),
        equivalent: true,
        changed_rules: ChangedRules {
            old: names(&o, &old_changed),
            new: names(&n, &new_changed),
            default: default_changed,
        },
        changed_facts: space.changed_facts.clone(),
        changes: Vec::new(),
        undecided: Vec::new(),
    };
    if report.changed_rules.old.is_empty()
        && report.changed_rules.new.is_empty()
        && !default_changed
    {
        return report;
    }
    let facts = space.facts.as_slice();
    let old_forms = o.forms(facts);
    let new_forms = n.forms(facts);
    let old_lookup = Lookup::new(&old_forms, facts);
    let new_lookup = Lookup::new(&new_forms, facts);

    let mut pairs: BTreeSet<(Decider, Decider)> = BTreeSet::new();
    let mut found = BTreeSet::new();
    for (i, _) in old_changed.iter().enumerate().filter(|(_, c)| **c) {
        found.clear();
        for conj in old_forms.get(i).into_iter().flatten() {
            new_lookup.rules_overlapping(conj, facts, &mut found);
        }
        pairs.extend(found.iter().map(|j| (Some(i), Some(*j))));
        pairs.insert((Some(i), None));
    }
    for (j, _) in new_changed.iter().enumerate().filter(|(_, c)| **c) {
        found.clear();
        for conj in new_forms.get(j).into_iter().flatten() {
            old_lookup.rules_overlapping(conj, facts, &mut found);
        }
        pairs.extend(found.iter().map(|i| (Some(*i), Some(j))));
        pairs.insert((None, Some(j)));
    }
    if default_changed {
        pairs.insert((None, None));
    }

    let differ = Differ {
        facts,
        old: &o,
        new: &n,
        old_forms: &old_forms,
        new_forms: &new_forms,
        old_lookup: &old_lookup,
        new_lookup: &new_lookup,
    };
    let mut ordered: Vec<(Decider, Decider)> = pairs.into_iter().collect();
    ordered.sort_by_key(|(a, b)| (a.unwrap_or(usize::MAX), b.unwrap_or(usize::MAX)));
    for (a, b) in ordered {
        let (id_a, then_a) = o.outcome(a);
        let (id_b, then_b) = n.outcome(b);
        let outcome_changed = then_a != then_b;
        let listed = outcome_changed || (with_rules && id_a != id_b);
        if !listed {
            continue;
        }
        match differ.region(a, b) {
            Region::Unreachable => {}
            Region::Witness(req) => report.changes.push(DiffChange {
                outcome_changed,
                old: o.report_outcome(a),
                new: n.report_outcome(b),
                witness: *req,
            }),
            Region::Undecided(reason) => {
                if outcome_changed {
                    report.undecided.push(DiffUndecided {
                        old: o.report_outcome(a),
                        new: n.report_outcome(b),
                        reason: reason.to_owned(),
                    });
                }
            }
        }
    }
    report.equivalent =
        report.undecided.is_empty() && report.changes.iter().all(|c| !c.outcome_changed);
    report
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]
    use crate::{LoadOptions, Policy, load};
    use policygate_api::DecisionKind;

    fn policy(rules: &str, default: &str) -> Policy {
        let text = format!("policy_id: t\npolicy_version: \"1\"\n{default}\nrules:\n{rules}");
        let (p, report) = load("t.yaml", text.as_bytes(), &LoadOptions::default());
        p.unwrap_or_else(|| panic!("{}", report.render_human(false)))
    }

    const DENY: &str = "default: {decision: BLOCK, rationale_codes: [DEFAULT]}";
    const RULES: &str = "  - rule_id: prod_public
    priority: 100
    when: {env: {name: prod}, resource: {sensitivity: public}}
    then: {decision: ALLOW, rationale_codes: [OK]}
  - rule_id: risky
    priority: 200
    when: {signals: {risk: {gte: 0.9}}}
    then: {decision: BLOCK, rationale_codes: [RISK]}
";

    #[test]
    fn identical_policies_are_equivalent_without_analysis() {
        let a = policy(RULES, DENY);
        let b = policy(RULES, DENY);
        let r = a.diff(&b, true);
        assert!(r.equivalent);
        assert!(r.changes.is_empty() && r.undecided.is_empty());
        assert!(r.changed_rules.old.is_empty() && r.changed_rules.new.is_empty());
    }

    #[test]
    fn a_priority_swap_reports_both_directions_of_the_overlap_only() {
        let a = policy(RULES, DENY);
        let b = policy(&RULES.replace("priority: 200", "priority: 50"), DENY);
        let r = a.diff(&b, false);
        assert!(!r.equivalent);
        assert_eq!(r.changed_rules.old, vec!["risky"]);
        let pairs: Vec<_> = r
            .changes
            .iter()
            .map(|c| (c.old.rule_id.as_deref(), c.new.rule_id.as_deref()))
            .collect();
        // Requests that are prod/public and risky were blocked and are now allowed;
        // nothing else changes.
        assert_eq!(pairs, vec![(Some("risky"), Some("prod_public"))]);
        let c = &r.changes[0];
        assert_eq!(c.old.decision, DecisionKind::Block);
        assert_eq!(c.new.decision, DecisionKind::Allow);
        assert_eq!(c.witness.env.name, "prod");
    }

    #[test]
    fn a_changed_default_is_found_with_a_witness_no_rule_matches() {
        let a = policy(RULES, DENY);
        let b = policy(
            RULES,
            "default: {decision: REQUIRE_REVIEW, rationale_codes: [DEFAULT]}",
        );
        let r = a.diff(&b, false);
        assert_eq!(r.changes.len(), 1, "{r:#?}");
        assert_eq!(r.changes[0].old.rule_id, None);
        assert_eq!(r.changes[0].new.decision, DecisionKind::RequireReview);
        assert!(r.changed_rules.default);
    }

    #[test]
    fn same_outcome_under_another_rule_is_listed_only_with_rules() {
        let a = policy(RULES, DENY);
        let renamed = RULES.replace("rule_id: risky", "rule_id: risk_guard");
        let b = policy(&renamed, DENY);
        assert!(a.diff(&b, false).equivalent);
        assert!(a.diff(&b, false).changes.is_empty());
        let r = a.diff(&b, true);
        assert!(r.equivalent, "a rename changes no outcome");
        assert_eq!(r.changes.len(), 1);
        assert!(!r.changes[0].outcome_changed);
        assert_eq!(r.changes[0].new.rule_id.as_deref(), Some("risk_guard"));
    }

    #[test]
    fn patterns_the_solver_cannot_decide_are_undecided_never_equal() {
        let old = "  - rule_id: p
    priority: 10
    when: {resource: {id: {matches: \"^(a|b)+c$\"}}}
    then: {decision: ALLOW, rationale_codes: [OK]}
";
        let new = "  - rule_id: p
    priority: 10
    when: {resource: {id: {matches: \"^(a|b)+d$\"}}}
    then: {decision: ALLOW, rationale_codes: [OK]}
";
        let r = policy(old, DENY).diff(&policy(new, DENY), false);
        assert!(!r.equivalent);
        assert!(r.changes.is_empty(), "{r:#?}");
        assert!(!r.undecided.is_empty());
        assert!(
            r.undecided
                .iter()
                .all(|u| u.reason.contains("string patterns"))
        );
    }

    #[test]
    fn a_signal_whose_type_changed_is_never_silently_equal() {
        let old = "  - rule_id: s
    priority: 10
    when: {signals: {level: {gt: 3}}}
    then: {decision: ALLOW, rationale_codes: [OK]}
";
        let new = "  - rule_id: s
    priority: 10
    when: {signals: {level: high}}
    then: {decision: ALLOW, rationale_codes: [OK]}
";
        let r = policy(old, DENY).diff(&policy(new, DENY), false);
        assert!(!r.equivalent);
        // Either a verified witness or an honest "cannot compare".
        assert!(!r.changes.is_empty() || !r.undecided.is_empty(), "{r:#?}");
    }

    #[test]
    fn a_narrowed_declaration_is_reported_as_a_changed_fact() {
        let facts_a = "facts:\n  tier: {type: string, enum: [gold, silver, bronze]}\n";
        let facts_b = "facts:\n  tier: {type: string, enum: [gold, silver]}\n";
        let rules = "  - rule_id: gold
    priority: 10
    when: {signals: {tier: gold}}
    then: {decision: ALLOW, rationale_codes: [OK]}
";
        let a = policy(rules, &format!("{facts_a}{DENY}"));
        let b = policy(rules, &format!("{facts_b}{DENY}"));
        let r = a.diff(&b, false);
        assert_eq!(r.changed_facts, vec!["signals.tier"]);
        assert!(r.equivalent, "the decisions on requests both accept agree");
    }
}
