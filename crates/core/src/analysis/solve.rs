//! Satisfiability of per-fact constraints, with a witness value when satisfiable.
//!
//! Exact for enums, booleans, numbers (intervals with excluded points, integrality),
//! equality and set tests on strings, list elements and presence. String patterns
//! (`starts_with`, `ends_with`, `contains`, `matches`) on unbounded strings are
//! decided by a few exact refutations and a constructed witness; when neither
//! settles it the answer is `Unknown`, never a guess.

use crate::model::{Atom, Cmp, Domain, FactInfo, PatKind, States, Val, Value};

/// A conjunction of tests on one fact: its state is in `states`, and when it holds a
/// value of the fact's kind, every atom holds.
#[derive(Debug, Clone)]
pub(crate) struct FactCons {
    pub states: States,
    pub atoms: Vec<Atom>,
}

/// A witness value for one fact.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WVal {
    Str(String),
    Num(f64),
    Bool(bool),
    List(Vec<String>),
    Object,
}

impl WVal {
    fn as_value(&self) -> Value<'_> {
        match self {
            WVal::Str(s) => Value::Str(s),
            WVal::Num(n) => Value::Num(*n),
            WVal::Bool(b) => Value::Bool(*b),
            WVal::List(items) => Value::List(items),
            WVal::Object => Value::Object,
        }
    }
}

/// A witness state for one fact.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum W {
    Absent,
    /// A value of another type than the rules expect (undeclared signals only).
    Other,
    Value(WVal),
}

/// Three-valued satisfiability.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sol<T> {
    Sat(T),
    Unsat,
    Unknown,
}

fn all_hold(atoms: &[Atom], v: &WVal) -> bool {
    let value = v.as_value();
    atoms.iter().all(|a| a.holds(&value))
}

/// The finite set of values the atoms allow, when there is one (enums, booleans,
/// or an `eq`/`in` among the atoms). Sorted and deduplicated.
pub(crate) fn finite_values(domain: &Domain, atoms: &[Atom]) -> Option<Vec<Val>> {
    let mut set: Option<Vec<Val>> = match domain {
        Domain::Enum(values) => Some(values.iter().map(|v| Val::Str(v.clone())).collect()),
        Domain::Bool => Some(vec![Val::Bool(false), Val::Bool(true)]),
        _ => None,
    };
    for a in atoms {
        let allowed: &[Val] = match a {
            Atom::Eq(v) => std::slice::from_ref(v),
            Atom::In(vs) => vs,
            _ => continue,
        };
        set = Some(match set {
            None => allowed.to_vec(),
            Some(s) => s.into_iter().filter(|v| allowed.contains(v)).collect(),
        });
    }
    let mut set = set?;
    set.retain(|v| {
        let w = match v {
            Val::Str(s) => WVal::Str(s.clone()),
            Val::Num(n) => WVal::Num(*n),
            Val::Bool(b) => WVal::Bool(*b),
        };
        in_domain(domain, &w) && all_hold(atoms, &w)
    });
    set.sort();
    set.dedup();
    Some(set)
}

fn in_domain(domain: &Domain, v: &WVal) -> bool {
    match (domain, v) {
        (Domain::Enum(values), WVal::Str(s)) => values.contains(s),
        (Domain::Str(check), WVal::Str(s)) => check.accepts(s),
        (Domain::Int { min, max }, WVal::Num(n)) => {
            n.fract() == 0.0 && min.is_none_or(|m| *n >= m) && max.is_none_or(|m| *n <= m)
        }
        (Domain::Num { min, max }, WVal::Num(n)) => {
            min.is_none_or(|m| *n >= m) && max.is_none_or(|m| *n <= m)
        }
        (Domain::Bool, WVal::Bool(_)) => true,
        (Domain::List | Domain::StrOrList, WVal::List(items)) => {
            items.len() <= policygate_api::MAX_LIST_SIGNAL_ITEMS
        }
        (Domain::Any, _) | (Domain::Object, WVal::Object) => true,
        _ => false,
    }
}

/// Solves one fact's constraint.
pub(crate) fn solve_fact(info: &FactInfo, c: &FactCons) -> Sol<W> {
    let states = c.states.intersect(info.universe());
    let mut unknown = false;
    if states.contains(States::VALUE) {
        match solve_value(&info.domain, &c.atoms) {
            Sol::Sat(v) => return Sol::Sat(W::Value(v)),
            Sol::Unsat => {}
            Sol::Unknown => unknown = true,
        }
    }
    if states.contains(States::ABSENT) {
        return Sol::Sat(W::Absent);
    }
    if states.contains(States::OTHER) {
        return Sol::Sat(W::Other);
    }
    if unknown { Sol::Unknown } else { Sol::Unsat }
}

/// Solves the value part: a value of the domain satisfying every atom.
pub(crate) fn solve_value(domain: &Domain, atoms: &[Atom]) -> Sol<WVal> {
    if let Some(values) = finite_values(domain, atoms) {
        return match values.into_iter().next() {
            Some(Val::Str(s)) => Sol::Sat(WVal::Str(s)),
            Some(Val::Num(n)) => Sol::Sat(WVal::Num(n)),
            Some(Val::Bool(b)) => Sol::Sat(WVal::Bool(b)),
            None => Sol::Unsat,
        };
    }
    match domain {
        Domain::Str(_) => solve_string(domain, atoms),
        Domain::Int { min, max } => solve_number(atoms, *min, *max, true),
        Domain::Num { min, max } => solve_number(atoms, *min, *max, false),
        Domain::List | Domain::StrOrList => {
            let mut required: Vec<String> = Vec::new();
            let mut excluded: Vec<&str> = Vec::new();
            for a in atoms {
                if let Atom::Elem { item, positive } = a {
                    if *positive {
                        required.push(item.clone());
                    } else {
                        excluded.push(item);
                    }
                }
            }
            required.sort();
            required.dedup();
            if required.iter().any(|r| excluded.contains(&r.as_str())) {
                Sol::Unsat
            } else if required.len() > policygate_api::MAX_LIST_SIGNAL_ITEMS {
                Sol::Unknown
            } else {
                Sol::Sat(WVal::List(required))
            }
        }
        Domain::Any => Sol::Sat(WVal::Bool(true)),
        Domain::Object => Sol::Sat(WVal::Object),
        // Enum and Bool always have a finite set.
        Domain::Enum(_) | Domain::Bool => Sol::Unsat,
    }
}

fn solve_string(domain: &Domain, atoms: &[Atom]) -> Sol<WVal> {
    let mut prefixes: Vec<&str> = Vec::new();
    let mut suffixes: Vec<&str> = Vec::new();
    let mut infixes: Vec<&str> = Vec::new();
    let mut not_prefix: Vec<&str> = Vec::new();
    let mut not_suffix: Vec<&str> = Vec::new();
    let mut not_infix: Vec<&str> = Vec::new();
    let mut excluded = 0usize;
    for a in atoms {
        match a {
            Atom::Pattern {
                kind: PatKind::StartsWith,
                text,
                positive: true,
                ..
            } => prefixes.push(text),
            Atom::Pattern {
                kind: PatKind::EndsWith,
                text,
                positive: true,
                ..
            } => suffixes.push(text),
            Atom::Pattern {
                kind: PatKind::Contains,
                text,
                positive: true,
                ..
            } => infixes.push(text),
            Atom::Pattern {
                kind: PatKind::StartsWith,
                text,
                positive: false,
                ..
            } => not_prefix.push(text),
            Atom::Pattern {
                kind: PatKind::EndsWith,
                text,
                positive: false,
                ..
            } => not_suffix.push(text),
            Atom::Pattern {
                kind: PatKind::Contains,
                text,
                positive: false,
                ..
            } => not_infix.push(text),
            Atom::Ne(_) => excluded += 1,
            Atom::NotIn(vs) => excluded += vs.len(),
            _ => {}
        }
    }
    // Without patterns only finitely many values are excluded: a fresh value is a witness.
    if prefixes.is_empty()
        && suffixes.is_empty()
        && infixes.is_empty()
        && not_prefix.is_empty()
        && not_suffix.is_empty()
        && not_infix.is_empty()
        && !atoms.iter().any(|a| matches!(a, Atom::Pattern { .. }))
    {
        for n in 0..=excluded {
            let w = WVal::Str(if n == 0 {
                "x".to_owned()
            } else {
                format!("x{n}")
            });
            if in_domain(domain, &w) && all_hold(atoms, &w) {
                return Sol::Sat(w);
            }
        }
        return Sol::Unknown;
    }
    // Exact refutations.
    let p = longest(&prefixes);
    let s = longest(&suffixes);
    if prefixes.iter().any(|x| !p.starts_with(x)) || suffixes.iter().any(|x| !s.ends_with(x)) {
        return Sol::Unsat;
    }
    if not_prefix.iter().any(|q| p.starts_with(q))
        || not_suffix.iter().any(|q| s.ends_with(q))
        || not_infix
            .iter()
            .any(|d| p.contains(d) || s.contains(d) || infixes.iter().any(|c| c.contains(d)))
    {
        return Sol::Unsat;
    }
    // Constructed witnesses.
    let core: String = infixes.concat();
    let fillers = ["x", "q", "z", "k", "Q", "7", "w_", "v.", "m-"];
    let mut candidates: Vec<String> = Vec::new();
    for n in 0..excluded + 2 {
        for f in fillers {
            let f = if n == 0 {
                f.to_owned()
            } else {
                format!("{f}{n}")
            };
            candidates.push(format!("{p}{core}{f}{s}"));
            candidates.push(format!("{p}{f}{core}{s}"));
            candidates.push(format!("{f}{p}{core}{s}"));
        }
    }
    candidates.push(format!("{p}{core}{s}"));
    for c in candidates {
        let w = WVal::Str(c);
        if in_domain(domain, &w) && all_hold(atoms, &w) {
            return Sol::Sat(w);
        }
    }
    Sol::Unknown
}

fn longest<'a>(xs: &[&'a str]) -> &'a str {
    xs.iter().copied().max_by_key(|s| s.len()).unwrap_or("")
}

fn solve_number(atoms: &[Atom], min: Option<f64>, max: Option<f64>, int: bool) -> Sol<WVal> {
    // Bounds as (value, inclusive).
    let mut lo: Option<(f64, bool)> = min.map(|m| (m, true));
    let mut hi: Option<(f64, bool)> = max.map(|m| (m, true));
    let mut excluded = 0usize;
    for a in atoms {
        match a {
            Atom::Cmp(Cmp::Gt, b) => lo = tighter_lo(lo, (*b, false)),
            Atom::Cmp(Cmp::Gte, b) => lo = tighter_lo(lo, (*b, true)),
            Atom::Cmp(Cmp::Lt, b) => hi = tighter_hi(hi, (*b, false)),
            Atom::Cmp(Cmp::Lte, b) => hi = tighter_hi(hi, (*b, true)),
            Atom::Ne(_) => excluded += 1,
            Atom::NotIn(vs) => excluded += vs.len(),
            _ => {}
        }
    }
    let tries = excluded + 2;
    let mut point = false;
    let mut candidates: Vec<f64> = Vec::new();
    if int {
        let lo_i = lo.map(|(v, inc)| if inc { v.ceil() } else { v.floor() + 1.0 });
        let hi_i = hi.map(|(v, inc)| if inc { v.floor() } else { v.ceil() - 1.0 });
        if let (Some(l), Some(h)) = (lo_i, hi_i) {
            if l > h {
                return Sol::Unsat;
            }
        }
        for k in 0..tries {
            #[expect(clippy::cast_precision_loss, reason = "small offsets")]
            let k = k as f64;
            candidates.push(match (lo_i, hi_i) {
                (Some(l), _) => l + k,
                (None, Some(h)) => h - k,
                (None, None) => k,
            });
        }
    } else {
        match (lo, hi) {
            (Some((l, li)), Some((h, hi_inc))) => {
                if l > h || (l == h && !(li && hi_inc)) {
                    return Sol::Unsat;
                }
                if l == h {
                    point = true;
                    candidates.push(l);
                } else {
                    if li {
                        candidates.push(l);
                    }
                    for k in 1..=tries {
                        #[expect(clippy::cast_precision_loss, reason = "small counts")]
                        let (k, n) = (k as f64, (tries + 1) as f64);
                        candidates.push(l + (h - l) * k / n);
                    }
                }
            }
            (Some((l, li)), None) => {
                if li {
                    candidates.push(l);
                }
                for k in 1..=tries {
                    #[expect(clippy::cast_precision_loss, reason = "small counts")]
                    candidates.push(l + k as f64);
                }
            }
            (None, Some((h, hi_inc))) => {
                if hi_inc {
                    candidates.push(h);
                }
                for k in 1..=tries {
                    #[expect(clippy::cast_precision_loss, reason = "small counts")]
                    candidates.push(h - k as f64);
                }
            }
            (None, None) => {
                for k in 0..tries {
                    #[expect(clippy::cast_precision_loss, reason = "small counts")]
                    candidates.push(k as f64);
                }
            }
        }
    }
    let within = |x: f64| {
        lo.is_none_or(|(l, inc)| if inc { x >= l } else { x > l })
            && hi.is_none_or(|(h, inc)| if inc { x <= h } else { x < h })
    };
    let mut inside = 0usize;
    for x in candidates {
        if !x.is_finite() || !within(x) {
            continue;
        }
        inside += 1;
        let w = WVal::Num(if x == 0.0 { 0.0 } else { x });
        if all_hold(atoms, &w) {
            return Sol::Sat(w);
        }
    }
    // Every candidate was inside the interval and excluded: with `tries` > excluded
    // distinct candidates that cannot happen unless the interval had fewer points.
    if point || (int && inside < tries) {
        Sol::Unsat
    } else {
        Sol::Unknown
    }
}

fn tighter_lo(cur: Option<(f64, bool)>, new: (f64, bool)) -> Option<(f64, bool)> {
    match cur {
        None => Some(new),
        Some(c) if new.0 > c.0 || (new.0 == c.0 && !new.1) => Some(new),
        Some(c) => Some(c),
    }
}

fn tighter_hi(cur: Option<(f64, bool)>, new: (f64, bool)) -> Option<(f64, bool)> {
    match cur {
        None => Some(new),
        Some(c) if new.0 < c.0 || (new.0 == c.0 && !new.1) => Some(new),
        Some(c) => Some(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StrCheck;

    fn num(atoms: Vec<Atom>, int: bool) -> Sol<WVal> {
        let d = if int {
            Domain::Int {
                min: None,
                max: None,
            }
        } else {
            Domain::Num {
                min: None,
                max: None,
            }
        };
        solve_value(&d, &atoms)
    }

    #[test]
    fn intervals() {
        assert_eq!(
            num(
                vec![Atom::Cmp(Cmp::Gt, 10.0), Atom::Cmp(Cmp::Lt, 5.0)],
                false
            ),
            Sol::Unsat
        );
        assert_eq!(
            num(vec![Atom::Cmp(Cmp::Gt, 1.0), Atom::Cmp(Cmp::Lt, 2.0)], true),
            Sol::Unsat
        );
        assert!(
            matches!(num(vec![Atom::Cmp(Cmp::Gt, 1.0), Atom::Cmp(Cmp::Lt, 2.0)], false), Sol::Sat(WVal::Num(x)) if x > 1.0 && x < 2.0)
        );
        assert_eq!(
            num(
                vec![Atom::Cmp(Cmp::Gte, 3.0), Atom::Cmp(Cmp::Lte, 3.0)],
                false
            ),
            Sol::Sat(WVal::Num(3.0))
        );
        assert_eq!(
            num(
                vec![Atom::Cmp(Cmp::Gte, 3.0), Atom::Cmp(Cmp::Lt, 3.0)],
                false
            ),
            Sol::Unsat
        );
        // integers 1..=3 all excluded
        let atoms = vec![
            Atom::Cmp(Cmp::Gte, 1.0),
            Atom::Cmp(Cmp::Lte, 3.0),
            Atom::NotIn(vec![Val::num(1.0), Val::num(2.0), Val::num(3.0)]),
        ];
        assert_eq!(num(atoms, true), Sol::Unsat);
        let atoms = vec![
            Atom::Cmp(Cmp::Gte, 1.0),
            Atom::Cmp(Cmp::Lte, 4.0),
            Atom::NotIn(vec![Val::num(1.0), Val::num(2.0), Val::num(3.0)]),
        ];
        assert_eq!(num(atoms, true), Sol::Sat(WVal::Num(4.0)));
        let d = Domain::Num {
            min: Some(0.0),
            max: Some(1.0),
        };
        assert_eq!(solve_value(&d, &[Atom::Cmp(Cmp::Gt, 1.0)]), Sol::Unsat);
    }

    #[test]
    fn strings() {
        let d = Domain::Str(StrCheck::EnvName);
        let pat = |kind, text: &str, positive| Atom::Pattern {
            kind,
            text: text.into(),
            re: None,
            positive,
        };
        assert_eq!(
            solve_value(
                &d,
                &[
                    Atom::Eq(Val::Str("a".into())),
                    Atom::Eq(Val::Str("b".into()))
                ]
            ),
            Sol::Unsat
        );
        assert!(
            matches!(solve_value(&d, &[Atom::Ne(Val::Str("x".into()))]), Sol::Sat(WVal::Str(s)) if s != "x")
        );
        assert_eq!(
            solve_value(
                &d,
                &[
                    pat(PatKind::StartsWith, "ab", true),
                    pat(PatKind::StartsWith, "ac", true)
                ]
            ),
            Sol::Unsat
        );
        assert_eq!(
            solve_value(
                &d,
                &[
                    pat(PatKind::StartsWith, "ab", true),
                    pat(PatKind::StartsWith, "a", false)
                ]
            ),
            Sol::Unsat
        );
        assert!(
            matches!(solve_value(&d, &[pat(PatKind::StartsWith, "pr", true), pat(PatKind::EndsWith, "eu", true)]), Sol::Sat(WVal::Str(s)) if s.starts_with("pr") && s.ends_with("eu"))
        );
    }

    #[test]
    fn lists() {
        let el = |s: &str, positive| Atom::Elem {
            item: s.into(),
            positive,
        };
        assert_eq!(
            solve_value(&Domain::List, &[el("a", true), el("a", false)]),
            Sol::Unsat
        );
        assert_eq!(
            solve_value(&Domain::List, &[el("b", true), el("a", true)]),
            Sol::Sat(WVal::List(vec!["a".into(), "b".into()]))
        );
    }
}
