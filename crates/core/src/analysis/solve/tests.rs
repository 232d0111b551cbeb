//! Unit tests of the per-fact solver: intervals, strings, lists, and exactness at the
//! numeric edges (i64::MIN, i64::MAX, ±2^53, ±(2^53 + 1), declared bounds, -0.0).
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

const F: fn(f64) -> Num = Num::Float;
const I: fn(i64) -> Num = Num::Int;

#[test]
fn intervals() {
    assert_eq!(
        num(
            vec![Atom::Cmp(Cmp::Gt, F(10.0)), Atom::Cmp(Cmp::Lt, F(5.0))],
            false
        ),
        Sol::Unsat
    );
    assert_eq!(
        num(
            vec![Atom::Cmp(Cmp::Gt, F(1.0)), Atom::Cmp(Cmp::Lt, F(2.0))],
            true
        ),
        Sol::Unsat
    );
    assert!(
        matches!(num(vec![Atom::Cmp(Cmp::Gt, F(1.0)), Atom::Cmp(Cmp::Lt, F(2.0))], false), Sol::Sat(WVal::Num(x)) if x > F(1.0) && x < F(2.0))
    );
    assert_eq!(
        num(
            vec![Atom::Cmp(Cmp::Gte, F(3.0)), Atom::Cmp(Cmp::Lte, F(3.0))],
            false
        ),
        Sol::Sat(WVal::Num(F(3.0)))
    );
    assert_eq!(
        num(
            vec![Atom::Cmp(Cmp::Gte, F(3.0)), Atom::Cmp(Cmp::Lt, F(3.0))],
            false
        ),
        Sol::Unsat
    );
    // integers 1..=3 all excluded
    let atoms = vec![
        Atom::Cmp(Cmp::Gte, I(1)),
        Atom::Cmp(Cmp::Lte, I(3)),
        Atom::NotIn(vec![Val::num(I(1)), Val::num(I(2)), Val::num(I(3))]),
    ];
    assert_eq!(num(atoms, true), Sol::Unsat);
    let atoms = vec![
        Atom::Cmp(Cmp::Gte, I(1)),
        Atom::Cmp(Cmp::Lte, I(4)),
        Atom::NotIn(vec![Val::num(I(1)), Val::num(I(2)), Val::num(I(3))]),
    ];
    assert_eq!(num(atoms, true), Sol::Sat(WVal::Num(I(4))));
    let d = Domain::Num {
        min: Some(I(0)),
        max: Some(I(1)),
    };
    assert_eq!(solve_value(&d, &[Atom::Cmp(Cmp::Gt, I(1))]), Sol::Unsat);
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

const P53: i64 = 1 << 53;

fn cmp(c: Cmp, n: Num) -> Atom {
    Atom::Cmp(c, n)
}

fn int_is(atoms: Vec<Atom>, want: Option<i64>) {
    let got = num(atoms.clone(), true);
    match want {
        Some(w) => assert_eq!(got, Sol::Sat(WVal::Num(I(w))), "{atoms:?}"),
        None => assert_eq!(got, Sol::Unsat, "{atoms:?}"),
    }
}

#[test]
fn integer_bounds_are_exact_over_the_whole_range() {
    int_is(vec![cmp(Cmp::Gt, I(i64::MAX))], None);
    int_is(vec![cmp(Cmp::Gte, I(i64::MAX))], Some(i64::MAX));
    int_is(vec![cmp(Cmp::Lt, I(i64::MIN))], None);
    int_is(vec![cmp(Cmp::Lte, I(i64::MIN))], Some(i64::MIN));
    int_is(vec![cmp(Cmp::Gt, I(i64::MAX - 1))], Some(i64::MAX));
    // Just above 2^53, where `floor(x) + 1 == x` in floating point.
    int_is(vec![cmp(Cmp::Gt, I(P53))], Some(P53 + 1));
    int_is(
        vec![cmp(Cmp::Gt, I(P53)), cmp(Cmp::Lt, I(P53 + 2))],
        Some(P53 + 1),
    );
    int_is(vec![cmp(Cmp::Gt, I(P53)), cmp(Cmp::Lt, I(P53 + 1))], None);
    int_is(
        vec![
            cmp(Cmp::Gt, I(P53)),
            cmp(Cmp::Lt, I(P53 + 2)),
            Atom::Ne(Val::num(I(P53 + 1))),
        ],
        None,
    );
    int_is(
        vec![cmp(Cmp::Lt, I(-P53)), cmp(Cmp::Gt, I(-P53 - 2))],
        Some(-P53 - 1),
    );
    // Float thresholds on an integer fact: exact floor and ceiling.
    int_is(
        vec![cmp(Cmp::Gt, F(9_007_199_254_740_992.0))],
        Some(P53 + 1),
    );
    int_is(vec![cmp(Cmp::Gt, F(0.5)), cmp(Cmp::Lt, F(1.5))], Some(1));
    int_is(vec![cmp(Cmp::Gt, F(-0.5)), cmp(Cmp::Lt, F(0.5))], Some(0));
    int_is(vec![cmp(Cmp::Gt, F(1.5)), cmp(Cmp::Lt, F(2.0))], None);
    int_is(vec![cmp(Cmp::Gte, F(-0.0)), cmp(Cmp::Lte, F(0.0))], Some(0));
    int_is(vec![cmp(Cmp::Gt, F(1e19))], None);
    int_is(vec![cmp(Cmp::Lt, F(-1e300))], None);
    int_is(vec![cmp(Cmp::Gte, F(-1e300))], Some(i64::MIN));
    int_is(vec![cmp(Cmp::Gte, F(9_223_372_036_854_775_808.0))], None);
    int_is(
        vec![cmp(Cmp::Lt, F(9_223_372_036_854_775_808.0))],
        Some(i64::MAX),
    );
}

#[test]
fn integer_witnesses_respect_declared_bounds_and_exclusions() {
    let d = Domain::Int {
        min: Some(P53),
        max: Some(P53 + 1),
    };
    assert_eq!(solve_value(&d, &[]), Sol::Sat(WVal::Num(I(P53))));
    assert_eq!(
        solve_value(&d, &[Atom::Ne(Val::num(I(P53)))]),
        Sol::Sat(WVal::Num(I(P53 + 1)))
    );
    assert_eq!(
        solve_value(
            &d,
            &[Atom::NotIn(vec![Val::num(I(P53)), Val::num(I(P53 + 1))])]
        ),
        Sol::Unsat
    );
    // A float value is never a witness of an integer fact: requests cannot send one.
    assert_eq!(
        solve_value(&d, &[Atom::Eq(Val::num(F(9_007_199_254_740_992.0)))]),
        Sol::Unsat
    );
    let top = Domain::Int {
        min: Some(i64::MAX),
        max: None,
    };
    assert_eq!(
        solve_value(&top, &[Atom::Ne(Val::num(I(i64::MAX)))]),
        Sol::Unsat
    );
}

#[test]
fn number_facts_step_to_the_next_representable_value() {
    let num_is = |atoms: Vec<Atom>, want: Option<Num>| {
        let got = num(atoms.clone(), false);
        match want {
            Some(w) => match &got {
                Sol::Sat(WVal::Num(n)) => assert!(
                    n.cmp_exact(w) == std::cmp::Ordering::Equal
                        && std::mem::discriminant(n) == std::mem::discriminant(&w),
                    "{atoms:?}: {got:?}, want {w:?}"
                ),
                _ => panic!("{atoms:?}: {got:?}, want {w:?}"),
            },
            None => assert_eq!(got, Sol::Unsat, "{atoms:?}"),
        }
    };
    // Between the float 2^53 and 2^53 + 2 the only value is the integer 2^53 + 1.
    num_is(
        vec![
            cmp(Cmp::Gt, F(9_007_199_254_740_992.0)),
            cmp(Cmp::Lt, F(9_007_199_254_740_994.0)),
        ],
        Some(I(P53 + 1)),
    );
    num_is(
        vec![
            cmp(Cmp::Gt, F(9_007_199_254_740_992.0)),
            cmp(Cmp::Lt, F(9_007_199_254_740_994.0)),
            Atom::Ne(Val::num(I(P53 + 1))),
        ],
        None,
    );
    // Consecutive floats: nothing strictly between.
    let one_up = f64::from_bits(1.0f64.to_bits() + 1);
    num_is(vec![cmp(Cmp::Gt, F(1.0)), cmp(Cmp::Lt, F(one_up))], None);
    num_is(
        vec![cmp(Cmp::Gt, F(1.0)), cmp(Cmp::Lte, F(one_up))],
        Some(F(one_up)),
    );
    // Past the i64 range only floats remain.
    num_is(
        vec![cmp(Cmp::Gt, I(i64::MAX))],
        Some(F(9_223_372_036_854_775_808.0)),
    );
    num_is(
        vec![
            cmp(Cmp::Lt, I(i64::MIN)),
            cmp(Cmp::Gte, F(-9_223_372_036_854_777_856.0)),
        ],
        Some(F(-9_223_372_036_854_777_856.0)),
    );
    // -0.0 is 0.
    num_is(
        vec![cmp(Cmp::Gte, F(-0.0)), cmp(Cmp::Lte, I(0))],
        Some(F(0.0)),
    );
    num_is(vec![cmp(Cmp::Gt, F(-0.0)), cmp(Cmp::Lte, I(0))], None);
    // A declared range and an excluded point.
    let d = Domain::Num {
        min: Some(I(0)),
        max: Some(I(0)),
    };
    assert_eq!(solve_value(&d, &[Atom::Ne(Val::num(F(-0.0)))]), Sol::Unsat);
}

#[test]
fn successors_and_predecessors_cover_integers_and_floats() {
    assert_eq!(num_succ(I(P53)), Some(I(P53 + 1)));
    assert_eq!(num_succ(F(9_007_199_254_740_992.0)), Some(I(P53 + 1)));
    assert_eq!(num_pred(I(P53 + 2)), Some(I(P53 + 1)));
    assert_eq!(num_succ(I(0)), Some(F(f64::from_bits(1))));
    assert_eq!(num_pred(I(0)), Some(F(-f64::from_bits(1))));
    assert_eq!(
        num_succ(F(0.5)),
        Some(F(f64::from_bits(0.5f64.to_bits() + 1)))
    );
    assert_eq!(num_succ(F(f64::MAX)), None);
    assert_eq!(num_pred(F(-f64::MAX)), None);
    assert_eq!(
        num_succ(F(-1e300)),
        Some(F((-1e300f64).next_down_for_test()))
    );
    // Beyond the i64 range the neighbours are floats, until the range begins.
    assert!(matches!(num_succ(F(-1e19)), Some(Num::Float(f)) if f > -1e19 && f < -9.3e18));
    assert_eq!(num_succ(F(-9_223_372_036_854_777_856.0)), Some(I(i64::MIN)));
    assert_eq!(num_pred(F(9_223_372_036_854_775_808.0)), Some(I(i64::MAX)));
    assert_eq!(num_succ(I(i64::MAX)), Some(F(9_223_372_036_854_775_808.0)));
}

trait NextDown {
    fn next_down_for_test(self) -> f64;
}
impl NextDown for f64 {
    /// The float after `self` towards zero, for a negative `self`.
    fn next_down_for_test(self) -> f64 {
        f64::from_bits(self.to_bits() - 1)
    }
}
