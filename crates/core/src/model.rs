//! The typed, validated form of a policy: facts, values, tests and conditions.
//!
//! Nothing here is serialisable: only the raw YAML document and the `api` types are
//! (an invariant of the workspace). Rules are kept in file order; evaluation order is
//! fixed at compile time.

use policygate_api::{DecisionKind, Obligation};
use regex::Regex;
use std::cmp::Ordering;
use std::fmt;

/// A fact a rule can test.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Fact {
    Action,
    EnvName,
    ResourceType,
    ResourceId,
    Sensitivity,
    /// The optional `subject` object as a whole (only `exists` applies).
    Subject,
    SubjectType,
    SubjectId,
    Signal(String),
}

impl Fact {
    pub(crate) const BUILTIN: [Fact; 8] = [
        Fact::Action,
        Fact::EnvName,
        Fact::ResourceType,
        Fact::ResourceId,
        Fact::Sensitivity,
        Fact::Subject,
        Fact::SubjectType,
        Fact::SubjectId,
    ];

    /// The dotted path, as written in a policy.
    pub(crate) fn path(&self) -> String {
        match self {
            Fact::Action => "action".into(),
            Fact::EnvName => "env.name".into(),
            Fact::ResourceType => "resource.type".into(),
            Fact::ResourceId => "resource.id".into(),
            Fact::Sensitivity => "resource.sensitivity".into(),
            Fact::Subject => "subject".into(),
            Fact::SubjectType => "subject.type".into(),
            Fact::SubjectId => "subject.id".into(),
            Fact::Signal(n) => format!("signals.{n}"),
        }
    }

    /// Facts every valid request carries.
    pub(crate) fn is_required(&self) -> bool {
        matches!(
            self,
            Fact::Action | Fact::EnvName | Fact::ResourceType | Fact::Sensitivity
        )
    }
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// What values a fact can take (the fact table, or a `facts:` declaration, or what
/// the rules imply for an undeclared signal).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Domain {
    /// A closed set of strings.
    Enum(Vec<String>),
    /// Free strings that must satisfy a check (pattern or length).
    Str(StrCheck),
    /// Integers (64-bit, as requests carry them) within optional bounds.
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    /// Numbers (integers or floats) within optional bounds.
    Num {
        min: Option<Num>,
        max: Option<Num>,
    },
    Bool,
    /// A list of strings.
    List,
    /// An undeclared signal tested only with `contains`: a string (substring) or a list (element).
    StrOrList,
    /// An undeclared signal tested only with `exists`.
    Any,
    /// The `subject` object.
    Object,
}

/// Checks for free-string domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrCheck {
    EnvName,
    ResourceType,
    SubjectType,
    /// 1..=256 characters.
    Id,
    /// 0..=256 characters (string signals).
    Signal,
}

impl StrCheck {
    pub(crate) fn accepts(self, s: &str) -> bool {
        match self {
            StrCheck::EnvName => policygate_api::is_valid_env_name(s),
            StrCheck::ResourceType => policygate_api::is_valid_resource_type(s),
            StrCheck::SubjectType => policygate_api::is_valid_subject_type(s),
            StrCheck::Id => {
                let n = s.chars().count();
                (1..=policygate_api::MAX_ID_CHARS).contains(&n)
            }
            StrCheck::Signal => s.chars().count() <= policygate_api::MAX_SIGNAL_STRING_CHARS,
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            StrCheck::EnvName => "a name matching `^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`",
            StrCheck::ResourceType => "a type matching `^[a-zA-Z][a-zA-Z0-9._-]{0,63}$`",
            StrCheck::SubjectType => "a type matching `^[a-zA-Z][a-zA-Z0-9._-]{0,31}$`",
            StrCheck::Id => "a string of 1..256 characters",
            StrCheck::Signal => "a string of at most 256 characters",
        }
    }
}

impl Domain {
    /// The value kind, for messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Domain::Enum(_) | Domain::Str(_) => "string",
            Domain::Int { .. } => "integer",
            Domain::Num { .. } => "number",
            Domain::Bool => "boolean",
            Domain::List => "list",
            Domain::StrOrList => "string or list",
            Domain::Any => "any",
            Domain::Object => "object",
        }
    }

    pub(crate) fn is_string(&self) -> bool {
        matches!(self, Domain::Enum(_) | Domain::Str(_))
    }

    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self, Domain::Int { .. } | Domain::Num { .. })
    }

    pub(crate) fn is_scalar(&self) -> bool {
        self.is_string() || self.is_numeric() || matches!(self, Domain::Bool)
    }
}

/// A fact with its domain and the states a request can put it in.
#[derive(Debug, Clone)]
pub(crate) struct FactInfo {
    pub fact: Fact,
    pub domain: Domain,
    /// Undeclared signals may hold a value of another type than the rules expect.
    pub untyped: bool,
}

impl FactInfo {
    /// States a request can put this fact in.
    pub(crate) fn universe(&self) -> States {
        if self.fact.is_required() {
            States::VALUE
        } else if self.untyped && !matches!(self.domain, Domain::Any) {
            States::ALL
        } else {
            States::ABSENT.union(States::VALUE)
        }
    }
}

/// A set of fact states: absent (or null), a value of the fact's kind, a value of another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct States(u8);

impl States {
    pub(crate) const NONE: States = States(0);
    pub(crate) const ABSENT: States = States(1);
    pub(crate) const VALUE: States = States(2);
    pub(crate) const OTHER: States = States(4);
    pub(crate) const ALL: States = States(7);

    pub(crate) fn union(self, o: States) -> States {
        States(self.0 | o.0)
    }
    pub(crate) fn intersect(self, o: States) -> States {
        States(self.0 & o.0)
    }
    pub(crate) fn minus(self, o: States) -> States {
        States(self.0 & !o.0)
    }
    pub(crate) fn contains(self, o: States) -> bool {
        self.0 & o.0 == o.0 && o.0 != 0
    }
    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A number as written in a policy or sent in a request: a 64-bit integer, kept
/// exact, or a finite binary float. Two numbers compare by their exact mathematical
/// values (no conversion rounds either side), so `Int(3)` equals `Float(3.0)` and
/// `Int(2^53 + 1)` is greater than `Float(2^53)`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    /// INVARIANT: finite (policies and requests refuse NaN and infinities).
    Float(f64),
}

/// 2^63 as a float: the first float above every `i64`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Exact comparison of an integer with a finite float.
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    if f.is_nan() {
        return Ordering::Less;
    }
    if f >= TWO_POW_63 {
        return Ordering::Less;
    }
    if f < -TWO_POW_63 {
        return Ordering::Greater;
    }
    // INVARIANT: -2^63 <= f < 2^63, so its integral part is an exact `i64`.
    let t = f.trunc();
    #[expect(
        clippy::cast_possible_truncation,
        reason = "t is integral and within the i64 range, so the conversion is exact"
    )]
    let ti = t as i64;
    match i.cmp(&ti) {
        // Same integral part: the fraction decides (f - t is exact).
        Ordering::Equal => 0.0_f64.total_cmp(&(f - t)),
        o => o,
    }
}

impl Num {
    /// The same number with -0.0 read as 0.0, so that display and keys agree.
    pub(crate) fn canonical(self) -> Num {
        match self {
            Num::Float(f) => Num::Float(if f == 0.0 { 0.0 } else { f }),
            n @ Num::Int(_) => n,
        }
    }

    /// Exact total order on finite values.
    #[inline]
    pub(crate) fn cmp_exact(self, other: Num) -> Ordering {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.cmp(&b),
            (Num::Int(a), Num::Float(b)) => cmp_int_float(a, b),
            (Num::Float(a), Num::Int(b)) => cmp_int_float(b, a).reverse(),
            // IEEE comparison: exact, and -0.0 equals 0.0. NaN never occurs (both policies
            // and requests refuse it); should one appear it sorts above every number.
            (Num::Float(a), Num::Float(b)) => match a.partial_cmp(&b) {
                Some(o) => o,
                None => a.is_nan().cmp(&b.is_nan()),
            },
        }
    }

    /// Exact equality, with the same-type cases first (the evaluation hot path).
    #[inline]
    pub(crate) fn eq_exact(self, other: Num) -> bool {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a == b,
            (Num::Float(a), Num::Float(b)) => a == b,
            _ => self.cmp_exact(other) == Ordering::Equal,
        }
    }

    /// The number as a float, for picking witness candidates only (never for a decision).
    pub(crate) fn approx(self) -> f64 {
        match self {
            #[expect(
                clippy::cast_precision_loss,
                reason = "an approximation, used only to propose candidates that are then checked exactly"
            )]
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

impl PartialEq for Num {
    fn eq(&self, other: &Num) -> bool {
        self.eq_exact(*other)
    }
}
impl Eq for Num {}
impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Num) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Num {
    fn cmp(&self, other: &Num) -> Ordering {
        self.cmp_exact(*other)
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            // `{:?}` keeps the float visible as one (`3.0`, `0.5`, `1e20`).
            Num::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// A literal after type checking.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Str(String),
    Num(Num),
    Bool(bool),
}

impl Val {
    pub(crate) fn num(n: Num) -> Val {
        // INVARIANT: -0.0 and 0.0 are one value, so that ordering and equality agree.
        Val::Num(n.canonical())
    }

    fn rank(&self) -> u8 {
        match self {
            Val::Bool(_) => 0,
            Val::Num(_) => 1,
            Val::Str(_) => 2,
        }
    }
}

impl PartialEq for Val {
    fn eq(&self, other: &Val) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Val {}
impl PartialOrd for Val {
    fn partial_cmp(&self, other: &Val) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Val {
    fn cmp(&self, other: &Val) -> Ordering {
        match (self, other) {
            (Val::Str(a), Val::Str(b)) => a.cmp(b),
            (Val::Num(a), Val::Num(b)) => a.cmp_exact(*b),
            (Val::Bool(a), Val::Bool(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Str(s) => write!(f, "{s:?}"),
            Val::Num(n) => write!(f, "{n}"),
            Val::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Numeric comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    /// Exact: no side is converted.
    #[inline]
    pub(crate) fn holds(self, v: Num, bound: Num) -> bool {
        // Same-type operands compare natively (the common case, on the hot path).
        match (v, bound) {
            (Num::Int(a), Num::Int(b)) => return self.holds_ord(a.cmp(&b)),
            (Num::Float(a), Num::Float(b)) => {
                return match self {
                    Cmp::Gt => a > b,
                    Cmp::Gte => a >= b,
                    Cmp::Lt => a < b,
                    Cmp::Lte => a <= b,
                };
            }
            _ => {}
        }
        self.holds_ord(v.cmp_exact(bound))
    }

    #[inline]
    fn holds_ord(self, o: Ordering) -> bool {
        match self {
            Cmp::Gt => o == Ordering::Greater,
            Cmp::Gte => o != Ordering::Less,
            Cmp::Lt => o == Ordering::Less,
            Cmp::Lte => o != Ordering::Greater,
        }
    }
    pub(crate) fn negate(self) -> Cmp {
        match self {
            Cmp::Gt => Cmp::Lte,
            Cmp::Gte => Cmp::Lt,
            Cmp::Lt => Cmp::Gte,
            Cmp::Lte => Cmp::Gt,
        }
    }
}

/// String pattern operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PatKind {
    StartsWith,
    EndsWith,
    Contains,
    Matches,
}

/// A test of a present value of the fact's kind. Each has an exact negation, which the
/// analysis needs for `not`.
#[derive(Debug, Clone)]
pub(crate) enum Atom {
    Eq(Val),
    Ne(Val),
    In(Vec<Val>),
    NotIn(Vec<Val>),
    Cmp(Cmp, Num),
    Pattern {
        kind: PatKind,
        text: String,
        re: Option<Regex>,
        positive: bool,
    },
    /// List element (on a string value: substring), for list and string-or-list facts.
    Elem {
        item: String,
        positive: bool,
    },
}

impl Atom {
    pub(crate) fn negate(&self) -> Atom {
        match self {
            Atom::Eq(v) => Atom::Ne(v.clone()),
            Atom::Ne(v) => Atom::Eq(v.clone()),
            Atom::In(vs) => Atom::NotIn(vs.clone()),
            Atom::NotIn(vs) => Atom::In(vs.clone()),
            Atom::Cmp(c, b) => Atom::Cmp(c.negate(), *b),
            Atom::Pattern {
                kind,
                text,
                re,
                positive,
            } => Atom::Pattern {
                kind: *kind,
                text: text.clone(),
                re: re.clone(),
                positive: !positive,
            },
            Atom::Elem { item, positive } => Atom::Elem {
                item: item.clone(),
                positive: !positive,
            },
        }
    }

    /// Does a present value satisfy the atom? Values of another kind never do.
    pub(crate) fn holds(&self, v: &Value<'_>) -> bool {
        match (self, v) {
            (Atom::Eq(want), v) => v.equals(want),
            (Atom::Ne(want), v) => v.same_kind(want) && !v.equals(want),
            (Atom::In(set), v) => set.iter().any(|w| v.equals(w)),
            (Atom::NotIn(set), v) => {
                set.first().is_some_and(|w| v.same_kind(w)) && !set.iter().any(|w| v.equals(w))
            }
            (Atom::Cmp(c, bound), Value::Num(n)) => c.holds(*n, *bound),
            (
                Atom::Pattern {
                    kind,
                    text,
                    re,
                    positive,
                },
                Value::Str(s),
            ) => {
                let hit = match kind {
                    PatKind::StartsWith => s.starts_with(text.as_str()),
                    PatKind::EndsWith => s.ends_with(text.as_str()),
                    PatKind::Contains => s.contains(text.as_str()),
                    PatKind::Matches => re.as_ref().is_some_and(|r| r.is_match(s)),
                };
                hit == *positive
            }
            (Atom::Elem { item, positive }, Value::List(items)) => {
                items.iter().any(|i| i == item) == *positive
            }
            (Atom::Elem { item, positive }, Value::Str(s)) => {
                s.contains(item.as_str()) == *positive
            }
            _ => false,
        }
    }
}

/// A fact's value in a request, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Str(&'a str),
    Num(Num),
    Bool(bool),
    List(&'a [String]),
    Object,
}

impl Value<'_> {
    #[inline]
    fn equals(&self, want: &Val) -> bool {
        match (self, want) {
            (Value::Str(a), Val::Str(b)) => *a == b.as_str(),
            (Value::Num(a), Val::Num(b)) => a.eq_exact(*b),
            (Value::Bool(a), Val::Bool(b)) => a == b,
            _ => false,
        }
    }

    fn same_kind(&self, want: &Val) -> bool {
        matches!(
            (self, want),
            (Value::Str(_), Val::Str(_))
                | (Value::Num(_), Val::Num(_))
                | (Value::Bool(_), Val::Bool(_))
        )
    }
}

/// What a predicate asks of its fact.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Exists(bool),
    Atom(Atom),
}

/// One fact test. `fact` indexes the policy's fact table.
#[derive(Debug, Clone)]
pub(crate) struct Pred {
    pub fact: usize,
    pub test: Test,
}

/// A condition tree.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Pred(Pred),
}

/// What a rule (or the default) returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub decision: DecisionKind,
    pub rationale_codes: Vec<String>,
    pub obligations: Vec<Obligation>,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: String,
    pub priority: u32,
    pub when: Cond,
    pub then: Outcome,
    pub loc: crate::loc::Loc,
    pub id_loc: crate::loc::Loc,
}

/// "a string", "an integer": for messages.
pub(crate) fn article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

#[cfg(test)]
mod tests;
