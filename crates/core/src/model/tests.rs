//! Unit tests of exact numeric comparison.
use super::*;

const P53: i64 = 1 << 53;
const TWO_53: f64 = 9_007_199_254_740_992.0;

fn c(a: Num, b: Num) -> Ordering {
    a.cmp_exact(b)
}

#[test]
fn integers_and_floats_compare_by_exact_value() {
    use Num::{Float as F, Int as I};
    use Ordering::{Equal, Greater, Less};
    // Above 2^53 a float conversion would call these equal.
    assert_eq!(c(I(P53 + 1), F(TWO_53)), Greater);
    assert_eq!(c(F(TWO_53), I(P53 + 1)), Less);
    assert_eq!(c(I(P53), F(TWO_53)), Equal);
    assert_eq!(c(I(-P53 - 1), F(-TWO_53)), Less);
    assert_eq!(c(I(i64::MAX), F(9_223_372_036_854_775_808.0)), Less);
    assert_eq!(c(I(i64::MIN), F(-9_223_372_036_854_775_808.0)), Equal);
    assert_eq!(c(I(i64::MIN), F(-9_223_372_036_854_777_856.0)), Greater);
    assert_eq!(c(I(i64::MAX - 1), I(i64::MAX)), Less);
    // Fractions, on both sides of zero, and -0.0.
    assert_eq!(c(I(3), F(3.5)), Less);
    assert_eq!(c(I(-3), F(-3.5)), Greater);
    assert_eq!(c(I(-4), F(-3.5)), Less);
    assert_eq!(c(I(0), F(-0.0)), Equal);
    assert_eq!(c(F(-0.0), F(0.0)), Equal);
    assert_eq!(c(I(0), F(f64::from_bits(1))), Less);
    assert_eq!(c(I(0), F(-f64::from_bits(1))), Greater);
    assert_eq!(c(I(3), F(3.0)), Equal);
    assert_eq!(c(I(1), F(1e300)), Less);
    assert_eq!(c(I(-1), F(-1e300)), Greater);
}

#[test]
fn equality_and_ordering_agree() {
    // INVARIANT of `Val`: equal values sort together, so `in` lists dedup and the index
    // finds a key whichever form it was written in.
    let mut vals = vec![
        Val::num(Num::Float(3.0)),
        Val::num(Num::Int(P53 + 1)),
        Val::num(Num::Int(3)),
        Val::num(Num::Float(TWO_53)),
        Val::num(Num::Float(-0.0)),
        Val::num(Num::Int(0)),
    ];
    vals.sort();
    vals.dedup();
    assert_eq!(vals.len(), 4, "{vals:?}");
    assert_eq!(Val::num(Num::Int(3)), Val::num(Num::Float(3.0)));
    assert_ne!(Val::num(Num::Int(P53 + 1)), Val::num(Num::Float(TWO_53)));
}

#[test]
fn comparisons_hold_exactly() {
    let big = Num::Int(P53 + 1);
    assert!(Cmp::Gt.holds(big, Num::Float(TWO_53)));
    assert!(!Cmp::Lte.holds(big, Num::Float(TWO_53)));
    assert!(Cmp::Gte.holds(Num::Int(P53), Num::Float(TWO_53)));
    assert!(Cmp::Lt.holds(Num::Int(i64::MAX), Num::Float(9_223_372_036_854_775_808.0)));
    assert!(!Cmp::Gt.holds(Num::Float(-0.0), Num::Int(0)));
}

#[test]
fn numbers_display_in_their_own_type() {
    assert_eq!(Num::Int(P53 + 1).to_string(), "9007199254740993");
    assert_eq!(Num::Float(3.0).to_string(), "3.0");
    assert_eq!(Num::Float(-0.0).canonical().to_string(), "0.0");
    assert_eq!(Num::Float(1e20).to_string(), "1e20");
}
