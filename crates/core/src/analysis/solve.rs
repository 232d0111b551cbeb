//! Satisfiability of per-fact constraints, with a witness value when satisfiable.
//!
//! Exact for enums, booleans, numbers (intervals with excluded points, integrality;
//! integer bounds in `i128`, so every step is exact over the whole 64-bit range, and
//! float steps go to the next representable value),
//! equality and set tests on strings, list elements and presence. String patterns
//! (`starts_with`, `ends_with`, `contains`, `matches`) on unbounded strings are
//! decided by a few exact refutations and a constructed witness; when neither
//! settles it the answer is `Unknown`, never a guess.

use crate::model::{Atom, Cmp, Domain, FactInfo, Num, PatKind, States, Val, Value};

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
    /// In the type the fact declares: an integer fact's witness is an `Int`.
    Num(Num),
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
        // An integer fact holds `i64` integers only: requests are refused a float for it.
        (Domain::Int { min, max }, WVal::Num(Num::Int(n))) => {
            min.is_none_or(|m| *n >= m) && max.is_none_or(|m| *n <= m)
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
        Domain::Int { min, max } => solve_int(atoms, *min, *max),
        Domain::Num { min, max } => solve_num(atoms, *min, *max),
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

/// Bounds of an integer fact's values, from a comparison with `b`: the least integer
/// the comparison allows (for `gt`/`gte`) or the greatest (for `lt`/`lte`). Exact: a
/// float bound is floored or ceiled in floating point (exact for a finite float) and
/// only then converted, clamped far outside the `i64` range.
fn int_bound(c: Cmp, b: Num) -> i128 {
    const FAR: f64 = 36_893_488_147_419_103_232.0; // 2^65
    let to_i = |f: f64| -> i128 {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "f is integral and clamped to ±2^65, so the conversion is exact"
        )]
        let i = f.clamp(-FAR, FAR) as i128;
        i
    };
    match (c, b) {
        (Cmp::Gt, Num::Int(i)) => i128::from(i) + 1,
        (Cmp::Gte, Num::Int(i)) | (Cmp::Lte, Num::Int(i)) => i128::from(i),
        (Cmp::Lt, Num::Int(i)) => i128::from(i) - 1,
        (Cmp::Gt, Num::Float(f)) => to_i(f.floor()) + 1,
        (Cmp::Gte, Num::Float(f)) => to_i(f.ceil()),
        (Cmp::Lt, Num::Float(f)) => to_i(f.ceil()) - 1,
        (Cmp::Lte, Num::Float(f)) => to_i(f.floor()),
    }
}

fn solve_int(atoms: &[Atom], min: Option<i64>, max: Option<i64>) -> Sol<WVal> {
    // Every integer a request can carry is an `i64`.
    let mut lo = i128::from(min.unwrap_or(i64::MIN));
    let mut hi = i128::from(max.unwrap_or(i64::MAX));
    let (mut lo_set, mut hi_set) = (min.is_some(), max.is_some());
    let mut excluded = 0usize;
    for a in atoms {
        match a {
            Atom::Cmp(c @ (Cmp::Gt | Cmp::Gte), b) => {
                lo = lo.max(int_bound(*c, *b));
                lo_set = true;
            }
            Atom::Cmp(c @ (Cmp::Lt | Cmp::Lte), b) => {
                hi = hi.min(int_bound(*c, *b));
                hi_set = true;
            }
            Atom::Ne(_) => excluded += 1,
            Atom::NotIn(vs) => excluded += vs.len(),
            _ => {}
        }
    }
    if lo > hi {
        return Sol::Unsat;
    }
    // More candidates than excluded values: one of them holds unless the interval has
    // fewer integers, and then every one of them was tried.
    let tries = i128::try_from(excluded).unwrap_or(i128::MAX - 1) + 2;
    let (start, step) = match (lo_set, hi_set) {
        (true, _) => (lo, 1),
        (false, true) => (hi, -1),
        (false, false) => (0, 1),
    };
    let mut inside = 0i128;
    for k in 0..tries {
        let x = start + step * k;
        if x < lo || x > hi {
            break;
        }
        inside += 1;
        let Ok(x) = i64::try_from(x) else { break };
        let w = WVal::Num(Num::Int(x));
        if all_hold(atoms, &w) {
            return Sol::Sat(w);
        }
    }
    if inside < tries {
        Sol::Unsat
    } else {
        Sol::Unknown
    }
}

/// The next float above `f` (`f64::next_up`, which needs a newer Rust than the MSRV).
fn float_up(f: f64) -> f64 {
    if f.is_nan() || f == f64::INFINITY {
        return f;
    }
    if f == 0.0 {
        return f64::from_bits(1);
    }
    let bits = f.to_bits();
    f64::from_bits(if f > 0.0 { bits + 1 } else { bits - 1 })
}

fn float_down(f: f64) -> f64 {
    -float_up(-f)
}

/// An integer bound as the nearest `i64` in its direction: below the range it is
/// `i64::MIN` (for a successor) and above it there is none, and the other way round.
fn clamp_int(i: i128, up: bool) -> Option<i64> {
    match i64::try_from(i) {
        Ok(i) => Some(i),
        Err(_) if (i < 0) == up => Some(if up { i64::MIN } else { i64::MAX }),
        Err(_) => None,
    }
}

fn closest(a: Option<Num>, b: f64, up: bool) -> Option<Num> {
    let b = b.is_finite().then_some(Num::Float(b));
    match (a, b) {
        (Some(a), Some(b)) => Some(if up { a.min(b) } else { a.max(b) }),
        (a, b) => a.or(b),
    }
}

/// The least value a request can carry for a number fact (an `i64` or a finite
/// float) that is greater than `x`, if any.
fn num_succ(x: Num) -> Option<Num> {
    match x {
        Num::Int(i) => {
            let g = x.approx();
            let f = if Num::Float(g) > x { g } else { float_up(g) };
            closest(i.checked_add(1).map(Num::Int), f, true)
        }
        Num::Float(f) => closest(
            clamp_int(int_bound(Cmp::Gt, x), true).map(Num::Int),
            float_up(f),
            true,
        ),
    }
}

/// The greatest value a request can carry for a number fact that is less than `x`.
fn num_pred(x: Num) -> Option<Num> {
    match x {
        Num::Int(i) => {
            let g = x.approx();
            let f = if Num::Float(g) < x { g } else { float_down(g) };
            closest(i.checked_sub(1).map(Num::Int), f, false)
        }
        Num::Float(f) => closest(
            clamp_int(int_bound(Cmp::Lt, x), false).map(Num::Int),
            float_down(f),
            false,
        ),
    }
}

fn tighter(cur: Option<(Num, bool)>, new: (Num, bool), lower: bool) -> Option<(Num, bool)> {
    match cur {
        None => Some(new),
        Some(c) => {
            let beyond = if lower { new.0 > c.0 } else { new.0 < c.0 };
            if beyond || (new.0 == c.0 && !new.1) {
                Some(new)
            } else {
                Some(c)
            }
        }
    }
}

fn solve_num(atoms: &[Atom], min: Option<Num>, max: Option<Num>) -> Sol<WVal> {
    // Bounds as (value, inclusive).
    let mut lo: Option<(Num, bool)> = min.map(|m| (m, true));
    let mut hi: Option<(Num, bool)> = max.map(|m| (m, true));
    let mut excluded = 0usize;
    for a in atoms {
        match a {
            Atom::Cmp(Cmp::Gt, b) => lo = tighter(lo, (*b, false), true),
            Atom::Cmp(Cmp::Gte, b) => lo = tighter(lo, (*b, true), true),
            Atom::Cmp(Cmp::Lt, b) => hi = tighter(hi, (*b, false), false),
            Atom::Cmp(Cmp::Lte, b) => hi = tighter(hi, (*b, true), false),
            Atom::Ne(_) => excluded += 1,
            Atom::NotIn(vs) => excluded += vs.len(),
            _ => {}
        }
    }
    if let (Some((l, li)), Some((h, hinc))) = (lo, hi) {
        if l > h || (l == h && !(li && hinc)) {
            return Sol::Unsat;
        }
    }
    let within = |x: Num| {
        lo.is_none_or(|(l, inc)| if inc { x >= l } else { x > l })
            && hi.is_none_or(|(h, inc)| if inc { x <= h } else { x < h })
    };
    let tries = excluded + 2;
    let try_one = |x: Num| -> Option<WVal> {
        let w = WVal::Num(x.canonical());
        (within(x) && all_hold(atoms, &w)).then_some(w)
    };
    // Readable candidates first: a bound itself, whole steps away from it, points
    // spread over the interval.
    let mut readable: Vec<Num> = Vec::new();
    let plus = |n: Num, k: usize| -> Option<Num> {
        let k = i64::try_from(k).ok()?;
        match n {
            Num::Int(i) => i.checked_add(k).map(Num::Int),
            #[expect(clippy::cast_precision_loss, reason = "small counts")]
            Num::Float(f) => Some(Num::Float(f + k as f64)),
        }
    };
    match (lo, hi) {
        (Some((l, li)), Some((h, _))) => {
            if li {
                readable.push(l);
            }
            let (lf, hf) = (l.approx(), h.approx());
            for k in 1..=tries {
                #[expect(clippy::cast_precision_loss, reason = "small counts")]
                let (k, n) = (k as f64, (tries + 1) as f64);
                readable.push(Num::Float(lf + (hf - lf) * k / n));
            }
        }
        (Some((l, li)), None) => {
            if li {
                readable.push(l);
            }
            readable.extend((1..=tries).filter_map(|k| plus(l, k)));
        }
        (None, Some((h, hinc))) => {
            if hinc {
                readable.push(h);
            }
            let minus = |k: usize| match h {
                Num::Int(i) => i64::try_from(k)
                    .ok()
                    .and_then(|k| i.checked_sub(k))
                    .map(Num::Int),
                #[expect(clippy::cast_precision_loss, reason = "small counts")]
                Num::Float(f) => Some(Num::Float(f - k as f64)),
            };
            readable.extend((1..=tries).filter_map(minus));
        }
        (None, None) => {
            readable.extend((0..tries).filter_map(|k| i64::try_from(k).ok().map(Num::Int)));
        }
    }
    for x in readable {
        if x.approx().is_finite() {
            if let Some(w) = try_one(x) {
                return Sol::Sat(w);
            }
        }
    }
    // Exact fallback: the values next to a bound, one representable step at a time.
    // When the walk leaves the interval first, every value in it was tried.
    let (mut x, up) = match (lo, hi) {
        (Some((l, true)), _) => (Some(l), true),
        (Some((l, false)), _) => (num_succ(l), true),
        (None, Some((h, true))) => (Some(h), false),
        (None, Some((h, false))) => (num_pred(h), false),
        (None, None) => (Some(Num::Int(0)), true),
    };
    for _ in 0..tries {
        let Some(v) = x else {
            return Sol::Unsat;
        };
        if !within(v) {
            return Sol::Unsat;
        }
        if let Some(w) = try_one(v) {
            return Sol::Sat(w);
        }
        x = if up { num_succ(v) } else { num_pred(v) };
    }
    Sol::Unknown
}

#[cfg(test)]
mod tests;
