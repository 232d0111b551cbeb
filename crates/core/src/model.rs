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

    /// The dotted path, as written in a policy and used in `tested_facts`.
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
    /// Integers within optional bounds.
    Int {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// Numbers within optional bounds.
    Num {
        min: Option<f64>,
        max: Option<f64>,
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
    /// Every accepted request carries it: the built-in required facts, and signals
    /// declared `required: true` (requests without them are refused).
    pub required: bool,
}

impl FactInfo {
    /// States a request can put this fact in.
    pub(crate) fn universe(&self) -> States {
        if self.required {
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

/// A literal after type checking.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl Val {
    pub(crate) fn num(f: f64) -> Val {
        // INVARIANT: -0.0 and 0.0 are one value, so that ordering and equality agree.
        Val::Num(if f == 0.0 { 0.0 } else { f })
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
            (Val::Num(a), Val::Num(b)) => a.total_cmp(b),
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
    pub(crate) fn holds(self, v: f64, bound: f64) -> bool {
        match self {
            Cmp::Gt => v > bound,
            Cmp::Gte => v >= bound,
            Cmp::Lt => v < bound,
            Cmp::Lte => v <= bound,
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
    Cmp(Cmp, f64),
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
    Num(f64),
    Bool(bool),
    List(&'a [String]),
    Object,
}

impl Value<'_> {
    fn equals(&self, want: &Val) -> bool {
        match (self, want) {
            (Value::Str(a), Val::Str(b)) => *a == b.as_str(),
            (Value::Num(a), Val::Num(b)) => a == b,
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
    /// Where each test of `when` is written (the operator, or the value of a plain
    /// equality), in depth-first order of the condition's tests. Kept beside the
    /// condition, not in it, so that evaluation's data is not made larger by what
    /// only `explain` and diagnostics read.
    pub test_locs: Vec<crate::loc::Loc>,
}

/// Number of tests (leaves) in a condition: the stride of `Rule::test_locs`.
pub(crate) fn count_tests(cond: &Cond) -> usize {
    match cond {
        Cond::All(cs) | Cond::Any(cs) => cs.iter().map(count_tests).sum(),
        Cond::Not(c) => count_tests(c),
        Cond::Pred(_) => 1,
    }
}

/// "a string", "an integer": for messages.
pub(crate) fn article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}
