//! Stage two, semantics of single rules: resolve fact paths, type literals and
//! operators against the fact's domain (declared, built in, or inferred for an
//! undeclared signal), compile regexes, and refuse duplicate rule ids. Cross-rule
//! analysis (dead rules, overlap, shadowing) lives in `analysis`.

use crate::diag::{Code, Diagnostic};
use crate::loc::Loc;
use crate::model::{
    Atom, Cmp, Cond, Domain, Fact, FactInfo, Num, PatKind, Pred, Rule, StrCheck, Test, Val,
};
use crate::parse::{RawCond, RawMatcher, RawPolicy, did_you_mean, inexact_number};
use crate::yaml::{Kind, Node, Spelling};
use policygate_api::contract::{MAX_SIGNAL_STRING_CHARS, SIGNAL_NAME_PATTERN};
use policygate_api::{Action, Sensitivity};
use std::collections::{BTreeMap, BTreeSet};

/// Largest compiled size of a `matches` regex, in bytes.
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 16;
/// Longest `matches` pattern, in characters.
pub(crate) const REGEX_MAX_LEN: usize = 1024;

const BUILTIN_PATHS: [&str; 9] = [
    "action",
    "env.name",
    "resource.type",
    "resource.id",
    "resource.sensitivity",
    "subject",
    "subject.type",
    "subject.id",
    "caller.id",
];

/// The result of stage two.
#[derive(Debug)]
pub(crate) struct Checked {
    pub facts: Vec<FactInfo>,
    pub rules: Vec<Rule>,
    /// True when every rule in the file passed stage one and two.
    pub all_rules_valid: bool,
}

fn builtin_domain(fact: &Fact) -> Domain {
    match fact {
        Fact::Action => Domain::Enum(Action::ALL.iter().map(|a| a.as_str().to_owned()).collect()),
        Fact::Sensitivity => Domain::Enum(
            Sensitivity::ALL
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
        ),
        Fact::EnvName => Domain::Str(StrCheck::EnvName),
        Fact::ResourceType => Domain::Str(StrCheck::ResourceType),
        Fact::SubjectType => Domain::Str(StrCheck::SubjectType),
        Fact::ResourceId | Fact::SubjectId | Fact::CallerId => Domain::Str(StrCheck::Id),
        Fact::Subject => Domain::Object,
        Fact::Signal(_) => Domain::Any,
    }
}

fn builtin_fact(path: &str) -> Option<Fact> {
    Fact::BUILTIN.into_iter().find(|f| f.path() == path)
}

/// What an undeclared signal's literals say about its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evidence {
    Str,
    Num,
    Bool,
    /// Only `contains`: a string or a list.
    StrOrList,
}

impl Evidence {
    fn of_literal(node: &Node) -> Option<Evidence> {
        match node.kind {
            Kind::Str(_) => Some(Evidence::Str),
            Kind::Int(_) | Kind::Float(_) | Kind::Inexact(_) => Some(Evidence::Num),
            Kind::Bool(..) => Some(Evidence::Bool),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Evidence::Str => "string",
            Evidence::Num => "number",
            Evidence::Bool => "boolean",
            Evidence::StrOrList => "string or list",
        }
    }
}

/// One literal (or operator) of an undeclared signal: what it says about the type,
/// where, in which rule, and the YAML 1.1 word it was written as, if it was one.
#[derive(Debug, Clone)]
struct Seen {
    evidence: Evidence,
    loc: Loc,
    rule: Option<String>,
    word: Option<(&'static str, bool)>,
}

/// Per undeclared signal: what each literal says about its type.
type EvidenceMap = BTreeMap<String, Vec<Seen>>;

fn collect_evidence(cond: &RawCond, rule: Option<&str>, out: &mut EvidenceMap) {
    match cond {
        RawCond::All(cs) | RawCond::Any(cs) => {
            cs.iter().for_each(|c| collect_evidence(c, rule, out))
        }
        RawCond::Not(c) => collect_evidence(c, rule, out),
        RawCond::Test { path, matcher, .. } => {
            let Some(name) = path.strip_prefix("signals.") else {
                return;
            };
            type Found = (Evidence, Loc, Option<(&'static str, bool)>);
            let literal = |node: &Node| -> Option<Found> {
                Evidence::of_literal(node).map(|e| (e, node.loc, yaml11_word(node)))
            };
            let mut found: Vec<Found> = Vec::new();
            match matcher {
                RawMatcher::Literal(node) => found.extend(literal(node)),
                RawMatcher::Ops(ops) => {
                    for (op, loc, node) in ops {
                        match op.as_str() {
                            "eq" | "ne" => found.extend(literal(node)),
                            "in" | "not_in" => {
                                if let Kind::Seq(items) = &node.kind {
                                    found.extend(items.iter().filter_map(literal));
                                }
                            }
                            "gt" | "gte" | "lt" | "lte" => found.push((Evidence::Num, *loc, None)),
                            "starts_with" | "ends_with" | "matches" => {
                                found.push((Evidence::Str, *loc, None))
                            }
                            "contains" => found.push((Evidence::StrOrList, *loc, None)),
                            _ => {}
                        }
                    }
                }
            }
            out.entry(name.to_owned())
                .or_default()
                .extend(found.into_iter().map(|(evidence, loc, word)| Seen {
                    evidence,
                    loc,
                    rule: rule.map(str::to_owned),
                    word,
                }));
        }
    }
}

/// The YAML 1.1 word (`yes`, `off`, ...) a boolean literal was written as, if any,
/// and its value.
fn yaml11_word(node: &Node) -> Option<(&'static str, bool)> {
    match node.kind {
        Kind::Bool(value, Spelling::Yaml11(word)) => Some((word, value)),
        _ => None,
    }
}

/// How to write a YAML 1.1 boolean word so that it means what was meant.
fn quote_word_help(word: &str, value: bool) -> String {
    format!(
        "`{word}` unquoted is the boolean {value} (a YAML 1.1 word); write `\"{word}\"` for the string, or `{value}` for the boolean"
    )
}

/// The warning for an undeclared signal compared only with booleans, at least one of
/// them written as a YAML 1.1 word: the author may have meant the word as text.
fn yaml11_warning(name: &str, seen: &Seen) -> Option<Diagnostic> {
    let (word, value) = seen.word?;
    Some(
        Diagnostic::warning(
            Code::Yaml11Boolean,
            format!("signal `{name}` is compared with the unquoted `{word}`, which is read as the boolean {value}"),
        )
        .at(seen.loc)
        .rule(seen.rule.as_deref())
        .label(format!("the boolean {value}"))
        .help(format!(
            "{}; requests that send the text \"{word}\" never match this",
            quote_word_help(word, value)
        )),
    )
}

pub(crate) struct Checker<'d> {
    diags: &'d mut Vec<Diagnostic>,
    facts: Vec<FactInfo>,
    index: BTreeMap<Fact, usize>,
    conflicted: BTreeSet<String>,
    invalid_facts: BTreeSet<String>,
    /// Locations of the tests of the rule being checked, in depth-first order.
    test_locs: Vec<Loc>,
    rule: Option<String>,
}

impl<'d> Checker<'d> {
    pub(crate) fn run(
        raw: &RawPolicy,
        diags: &'d mut Vec<Diagnostic>,
        structure_ok: bool,
    ) -> Checked {
        let mut signals: BTreeMap<String, (Domain, bool)> = BTreeMap::new();
        let declared = raw.facts.is_some();
        for d in raw.facts.iter().flatten() {
            signals.insert(d.name.clone(), (d.domain.clone(), false));
        }
        let mut conflicted = BTreeSet::new();
        if !declared {
            let mut evidence = EvidenceMap::new();
            for r in &raw.rules {
                if let Some(w) = &r.when {
                    collect_evidence(w, r.id.as_deref(), &mut evidence);
                }
            }
            for (name, ev) in evidence {
                // The type so far and the literal that first said so.
                let mut kind: Option<(Evidence, &Seen)> = None;
                for seen in &ev {
                    let e = seen.evidence;
                    kind = match kind {
                        None => Some((e, seen)),
                        Some((k, first)) => match (k, e) {
                            (a, b) if a == b => Some((k, first)),
                            (Evidence::Str, Evidence::StrOrList) => Some((k, first)),
                            (Evidence::StrOrList, Evidence::Str) => Some((Evidence::Str, seen)),
                            (a, b) => {
                                if conflicted.insert(name.clone()) {
                                    let help = match [seen, first].into_iter().find_map(|s| s.word)
                                    {
                                        Some((word, value)) => quote_word_help(word, value),
                                        None => format!(
                                            "declare `{name}` under `facts:` with one type, or make the literals agree"
                                        ),
                                    };
                                    diags.push(
                                        Diagnostic::error(
                                            Code::SignalTypeConflict,
                                            format!("signal `{name}` is compared as a {} here and as a {} elsewhere", b.name(), a.name()),
                                        )
                                        .at(seen.loc)
                                        .rule(seen.rule.as_deref())
                                        .related(first.loc, format!("compared as a {} here", a.name()))
                                        .help(help),
                                    );
                                }
                                Some((k, first))
                            }
                        },
                    };
                }
                if kind.is_some_and(|(k, _)| k == Evidence::Bool)
                    && let Some(d) = ev.iter().find_map(|s| yaml11_warning(&name, s))
                {
                    diags.push(d);
                }
                let domain = match kind.map(|k| k.0) {
                    None => Domain::Any,
                    Some(Evidence::Str) => Domain::Str(StrCheck::Signal),
                    Some(Evidence::Num) => Domain::Num {
                        min: None,
                        max: None,
                    },
                    Some(Evidence::Bool) => Domain::Bool,
                    Some(Evidence::StrOrList) => Domain::StrOrList,
                };
                signals.insert(name, (domain, true));
            }
        }
        let mut facts: Vec<FactInfo> = Fact::BUILTIN
            .iter()
            .map(|f| FactInfo {
                fact: f.clone(),
                domain: builtin_domain(f),
                untyped: false,
                required: f.is_required(),
            })
            .collect();
        for (name, (domain, untyped)) in signals {
            let required = raw
                .facts
                .iter()
                .flatten()
                .any(|d| d.required && d.name == name);
            facts.push(FactInfo {
                fact: Fact::Signal(name),
                domain,
                untyped,
                required,
            });
        }
        let index = facts
            .iter()
            .enumerate()
            .map(|(i, f)| (f.fact.clone(), i))
            .collect();
        let mut checker = Checker {
            diags,
            facts,
            index,
            conflicted,
            invalid_facts: raw.invalid_facts.iter().cloned().collect(),
            test_locs: Vec::new(),
            rule: None,
        };

        let mut rules = Vec::new();
        let mut all_valid = structure_ok;
        let mut seen: BTreeMap<&str, Loc> = BTreeMap::new();
        for r in &raw.rules {
            checker.rule.clone_from(&r.id);
            checker.test_locs.clear();
            let when = r.when.as_ref().and_then(|w| checker.cond(w));
            let test_locs = std::mem::take(&mut checker.test_locs);
            if let Some(id) = &r.id {
                if let Some(first) = seen.get(id.as_str()) {
                    checker.push(
                        Diagnostic::error(
                            Code::DuplicateRuleId,
                            format!("rule_id `{id}` is used twice"),
                        )
                        .at(r.id_loc)
                        .related(*first, "first used here")
                        .help("give every rule a unique rule_id"),
                    );
                    all_valid = false;
                    continue;
                }
                seen.insert(id, r.id_loc);
            }
            match (&r.id, r.priority, when, &r.then) {
                (Some(id), Some(priority), Some(when), Some(then)) => rules.push(Rule {
                    id: id.clone(),
                    priority,
                    when,
                    then: then.clone(),
                    loc: r.when_loc,
                    id_loc: r.id_loc,
                    test_locs,
                }),
                _ => all_valid = false,
            }
        }
        Checked {
            facts: checker.facts,
            rules,
            all_rules_valid: all_valid,
        }
    }

    fn push(&mut self, d: Diagnostic) {
        let rule = self.rule.clone();
        self.diags.push(d.rule(rule.as_deref()));
    }

    fn cond(&mut self, c: &RawCond) -> Option<Cond> {
        match c {
            RawCond::All(cs) => self.conds(cs).map(Cond::All),
            RawCond::Any(cs) => self.conds(cs).map(Cond::Any),
            RawCond::Not(c) => self.cond(c).map(|c| Cond::Not(Box::new(c))),
            RawCond::Test { path, loc, matcher } => self.test(path, *loc, matcher),
        }
    }

    fn conds(&mut self, cs: &[RawCond]) -> Option<Vec<Cond>> {
        let out: Vec<Option<Cond>> = cs.iter().map(|c| self.cond(c)).collect();
        out.into_iter().collect()
    }

    fn resolve(&mut self, path: &str, loc: Loc) -> Option<usize> {
        if let Some(f) = builtin_fact(path) {
            return self.index.get(&f).copied();
        }
        if let Some(name) = path.strip_prefix("signals.") {
            if !policygate_api::is_valid_signal_name(name) {
                self.push(
                    Diagnostic::error(
                        Code::UnknownFact,
                        format!("`{name}` is not a valid signal name"),
                    )
                    .at(loc)
                    .help(format!(
                        "signal names match `{SIGNAL_NAME_PATTERN}`; requests cannot carry this one"
                    )),
                );
                return None;
            }
            if let Some(i) = self.index.get(&Fact::Signal(name.to_owned())) {
                return Some(*i);
            }
            if self.invalid_facts.contains(name) {
                // Its declaration was reported as invalid; saying more would mislead.
                return None;
            }
            let declared: Vec<String> = self
                .facts
                .iter()
                .filter_map(|f| match &f.fact {
                    Fact::Signal(n) => Some(n.clone()),
                    _ => None,
                })
                .collect();
            let hint = did_you_mean(name, declared.iter().map(String::as_str));
            self.push(
                Diagnostic::error(
                    Code::UndeclaredSignal,
                    format!("signal `{name}` is not declared under `facts:`"),
                )
                .at(loc)
                .label("undeclared signal")
                .help(if hint.is_empty() {
                    format!("declare it, e.g. `facts: {{{name}: {{type: string}}}}`")
                } else {
                    hint
                }),
            );
            return None;
        }
        let mut candidates: Vec<&str> = BUILTIN_PATHS.to_vec();
        candidates.extend(["env", "resource", "signals"]);
        let by_meaning = crate::hint::did_you_mean_fact(path);
        let hint = if by_meaning.is_empty() {
            did_you_mean(path, candidates.iter().copied())
        } else {
            by_meaning
        };
        self.push(
            Diagnostic::error(Code::UnknownFact, format!("unknown fact `{path}`"))
                .at(loc)
                .label("requests have no such fact")
                .help(if hint.is_empty() {
                    format!("facts are {}, and signals.<name>", BUILTIN_PATHS.join(", "))
                } else {
                    hint
                }),
        );
        None
    }

    fn test(&mut self, path: &str, loc: Loc, matcher: &RawMatcher) -> Option<Cond> {
        if matches!(path, "env" | "resource" | "signals") {
            self.push(
                Diagnostic::error(
                    Code::OperatorNotApplicable,
                    format!("operators do not apply to the object `{path}`"),
                )
                .at(loc)
                .help(if path == "signals" {
                    "test a signal, e.g. `signals: {pii_detected: {exists: true}}`"
                } else {
                    "test one of its fields; the object is always present"
                }),
            );
            return None;
        }
        let fact = self.resolve(path, loc)?;
        // A plain value is `eq`; borrow the nodes rather than copying every matcher.
        let ops: Vec<(&str, Loc, &Node)> = match matcher {
            RawMatcher::Literal(node) => vec![("eq", node.loc, node)],
            RawMatcher::Ops(ops) => ops
                .iter()
                .map(|(op, loc, node)| (op.as_str(), *loc, node))
                .collect(),
        };
        let mut preds = Vec::new();
        let mut ok = true;
        for (op, op_loc, node) in ops {
            match self.op(fact, op, op_loc, node) {
                Some(test) => {
                    self.test_locs.push(op_loc);
                    preds.push(Cond::Pred(Pred { fact, test }));
                }
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        Some(match preds.len() {
            1 => preds.pop()?,
            _ => Cond::All(preds),
        })
    }

    fn not_applicable(&mut self, fact: usize, op: &str, loc: Loc) -> Option<Test> {
        let info = self.facts.get(fact)?;
        let d = &info.domain;
        let applicable = match d {
            Domain::Enum(_) | Domain::Str(_) => {
                "eq, ne, in, not_in, starts_with, ends_with, contains, matches, exists"
            }
            Domain::Int { .. } | Domain::Num { .. } => {
                "eq, ne, in, not_in, gt, gte, lt, lte, exists"
            }
            Domain::Bool => "eq, ne, in, not_in, exists",
            Domain::List | Domain::StrOrList => "contains, exists",
            Domain::Any | Domain::Object => "exists",
        };
        let (fact_name, kind) = (info.fact.path(), d.describe());
        self.push(
            Diagnostic::error(
                Code::OperatorNotApplicable,
                format!("`{op}` does not apply to `{fact_name}` ({kind})"),
            )
            .at(loc)
            .help(format!(
                "operators for {} fact: {applicable}",
                crate::model::article(kind)
            )),
        );
        None
    }

    fn op(&mut self, fact: usize, op: &str, loc: Loc, node: &Node) -> Option<Test> {
        let domain = self.facts.get(fact)?.domain.clone();
        match op {
            "exists" => match node.kind {
                Kind::Bool(b, _) => Some(Test::Exists(b)),
                _ => {
                    self.push(
                        Diagnostic::error(Code::TypeMismatch, format!("`exists` takes true or false, found {}", node.kind.describe()))
                            .at(node.loc)
                            .help("write `exists: true` (present and not null) or `exists: false` (absent or null)"),
                    );
                    None
                }
            },
            "eq" | "ne" if domain.is_scalar() => {
                let v = self.literal(fact, &domain, node)?;
                Some(Test::Atom(if op == "eq" {
                    Atom::Eq(v)
                } else {
                    Atom::Ne(v)
                }))
            }
            "in" | "not_in" if domain.is_scalar() => {
                let Kind::Seq(items) = &node.kind else {
                    self.push(
                        Diagnostic::error(
                            Code::WrongType,
                            format!("`{op}` takes a list, found {}", node.kind.describe()),
                        )
                        .at(node.loc)
                        .help(format!("write `{op}: [a, b]`")),
                    );
                    return None;
                };
                if items.is_empty() {
                    self.push(
                        Diagnostic::error(
                            Code::InvalidLiteral,
                            format!("`{op}` needs a non-empty list"),
                        )
                        .at(node.loc)
                        .help(if op == "in" {
                            "an empty `in` never matches: list values or remove the test"
                        } else {
                            "list values to exclude, or remove the test"
                        }),
                    );
                    return None;
                }
                let vals: Vec<Option<Val>> = items
                    .iter()
                    .map(|i| self.literal(fact, &domain, i))
                    .collect();
                let mut vals: Vec<Val> = vals.into_iter().collect::<Option<_>>()?;
                vals.sort();
                vals.dedup();
                Some(Test::Atom(if op == "in" {
                    Atom::In(vals)
                } else {
                    Atom::NotIn(vals)
                }))
            }
            "gt" | "gte" | "lt" | "lte" if domain.is_numeric() => {
                let bound = match &node.kind {
                    Kind::Int(i) => Num::Int(*i),
                    Kind::Float(f) if f.is_finite() => Num::Float(*f).canonical(),
                    Kind::Inexact(text) => {
                        self.push(inexact_number(text, node.loc));
                        return None;
                    }
                    _ => {
                        self.type_error(fact, node, &format!("`{op}` compares with a number"));
                        return None;
                    }
                };
                let cmp = match op {
                    "gt" => Cmp::Gt,
                    "gte" => Cmp::Gte,
                    "lt" => Cmp::Lt,
                    _ => Cmp::Lte,
                };
                Some(Test::Atom(Atom::Cmp(cmp, bound)))
            }
            "starts_with" | "ends_with" | "contains" | "matches" if domain.is_string() => {
                let Kind::Str(text) = &node.kind else {
                    self.type_error(fact, node, &format!("`{op}` takes a string"));
                    return None;
                };
                let kind = match op {
                    "starts_with" => PatKind::StartsWith,
                    "ends_with" => PatKind::EndsWith,
                    "contains" => PatKind::Contains,
                    _ => PatKind::Matches,
                };
                let re = if kind == PatKind::Matches {
                    Some(self.regex(text, node.loc)?)
                } else {
                    None
                };
                Some(Test::Atom(Atom::Pattern {
                    kind,
                    text: text.clone(),
                    re,
                    positive: true,
                }))
            }
            "contains" if matches!(domain, Domain::List | Domain::StrOrList) => {
                let Kind::Str(item) = &node.kind else {
                    self.type_error(fact, node, "`contains` takes a string (a list element)");
                    return None;
                };
                if item.chars().count() > MAX_SIGNAL_STRING_CHARS {
                    self.push(
                        Diagnostic::error(
                            Code::InvalidLiteral,
                            format!("list elements are at most {MAX_SIGNAL_STRING_CHARS} characters: this can never match"),
                        )
                        .at(node.loc)
                        .help("shorten the element"),
                    );
                    return None;
                }
                Some(Test::Atom(Atom::Elem {
                    item: item.clone(),
                    positive: true,
                }))
            }
            _ => self.not_applicable(fact, op, loc),
        }
    }

    fn regex(&mut self, text: &str, loc: Loc) -> Option<regex::Regex> {
        if text.chars().count() > REGEX_MAX_LEN {
            self.push(
                Diagnostic::error(
                    Code::RegexTooLarge,
                    format!("`matches` pattern is longer than {REGEX_MAX_LEN} characters"),
                )
                .at(loc)
                .help("simplify the pattern, or test with `in`/`starts_with` instead"),
            );
            return None;
        }
        match regex::RegexBuilder::new(text)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT * 4)
            .build()
        {
            Ok(re) => Some(re),
            Err(regex::Error::CompiledTooBig(limit)) => {
                self.push(
                    Diagnostic::error(Code::RegexTooLarge, format!("`matches` pattern compiles to more than {limit} bytes"))
                        .at(loc)
                        .help("simplify the pattern (large counted repetitions such as `{1000}` are costly)"),
                );
                None
            }
            Err(e) => {
                let detail = e.to_string();
                let last = detail
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("invalid pattern")
                    .trim();
                let last = last.strip_prefix("error: ").unwrap_or(last).to_owned();
                self.push(
                    Diagnostic::error(
                        Code::InvalidRegex,
                        format!("`matches` pattern does not compile: {last}"),
                    )
                    .at(loc)
                    .help("patterns use RE2 syntax (no look-around, no backreferences)"),
                );
                None
            }
        }
    }

    fn type_error(&mut self, fact: usize, node: &Node, what: &str) {
        let Some(info) = self.facts.get(fact) else {
            return;
        };
        if let Fact::Signal(name) = &info.fact
            && self.conflicted.contains(name)
        {
            return; // already reported as a signal type conflict
        }
        let (path, kind) = (info.fact.path(), info.domain.describe());
        let help = match (&node.kind, info.domain.is_string()) {
            (Kind::Bool(value, Spelling::Yaml11(word)), true) => quote_word_help(word, *value),
            (Kind::Int(_) | Kind::Float(_) | Kind::Inexact(_) | Kind::Bool(..), true) => {
                format!("`{path}` is a string: quote the value")
            }
            _ => format!("`{path}` is {}: {what}", crate::model::article(kind)),
        };
        self.push(
            Diagnostic::error(
                Code::TypeMismatch,
                format!(
                    "`{path}` is {}, compared with {}",
                    crate::model::article(kind),
                    node.kind.describe()
                ),
            )
            .at(node.loc)
            .label(format!("expected {}", crate::model::article(kind)))
            .help(help),
        );
    }

    fn literal(&mut self, fact: usize, domain: &Domain, node: &Node) -> Option<Val> {
        let path = self.facts.get(fact)?.fact.path();
        let out_of_domain = |c: &mut Checker<'_>, msg: String, help: String| {
            c.push(
                Diagnostic::error(Code::InvalidLiteral, msg)
                    .at(node.loc)
                    .label("can never match")
                    .help(help),
            );
        };
        if matches!(node.kind, Kind::Null) {
            out_of_domain(
                self,
                format!("`{path}` compared with null never matches"),
                format!("to test that `{path}` is absent write `{{exists: false}}`"),
            );
            return None;
        }
        match (domain, &node.kind) {
            (Domain::Enum(values), Kind::Str(s)) => {
                if values.contains(s) {
                    Some(Val::Str(s.clone()))
                } else {
                    let hint = did_you_mean(s, values.iter().map(String::as_str));
                    out_of_domain(
                        self,
                        format!("`{s}` is not a value of `{path}`"),
                        format!("{hint} values: {}", values.join(", "))
                            .trim()
                            .to_owned(),
                    );
                    None
                }
            }
            (Domain::Str(check), Kind::Str(s)) => {
                if check.accepts(s) {
                    Some(Val::Str(s.clone()))
                } else {
                    out_of_domain(
                        self,
                        format!("`{s}` is not a possible `{path}`"),
                        format!("`{path}` is {}", check.describe()),
                    );
                    None
                }
            }
            (Domain::Int { .. } | Domain::Num { .. }, Kind::Inexact(text)) => {
                self.push(inexact_number(text, node.loc));
                None
            }
            (Domain::Int { .. }, Kind::Float(f)) if f.fract() != 0.0 => {
                out_of_domain(
                    self,
                    format!("`{path}` is an integer; {f:?} can never match"),
                    "compare with an integer".to_owned(),
                );
                None
            }
            (Domain::Int { .. }, Kind::Float(f)) => {
                // INVARIANT: the rule for integral floats is the request contract's: an
                // integer fact holds integers, and a request's `3.0` is refused for it.
                self.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("`{path}` is an integer, compared with the decimal {f:?}"),
                    )
                    .at(node.loc)
                    .label("expected an integer")
                    .help(format!(
                        "write `{f:.0}` without a fraction or exponent: an integer fact holds integers, and requests that send `{f:?}` for it are refused"
                    )),
                );
                None
            }
            (Domain::Int { min, max }, Kind::Int(i)) => {
                if min.is_some_and(|m| *i < m) || max.is_some_and(|m| *i > m) {
                    let range = format!(
                        "{}..{}",
                        min.map(|m| m.to_string()).unwrap_or_default(),
                        max.map(|m| m.to_string()).unwrap_or_default()
                    );
                    out_of_domain(
                        self,
                        format!("{i} is outside the declared range {range} of `{path}`"),
                        "use a value inside the declared range, or widen the declaration"
                            .to_owned(),
                    );
                    return None;
                }
                Some(Val::Num(Num::Int(*i)))
            }
            (Domain::Num { min, max }, Kind::Int(_) | Kind::Float(_)) => {
                let v = match node.kind {
                    Kind::Int(i) => Num::Int(i),
                    Kind::Float(f) => Num::Float(f).canonical(),
                    _ => return None,
                };
                if min.is_some_and(|m| v < m) || max.is_some_and(|m| v > m) {
                    let range = format!(
                        "{}..{}",
                        min.map(|m| m.to_string()).unwrap_or_default(),
                        max.map(|m| m.to_string()).unwrap_or_default()
                    );
                    out_of_domain(
                        self,
                        format!("{v} is outside the declared range {range} of `{path}`"),
                        "use a value inside the declared range, or widen the declaration"
                            .to_owned(),
                    );
                    return None;
                }
                Some(Val::num(v))
            }
            (Domain::Bool, Kind::Bool(b, _)) => Some(Val::Bool(*b)),
            _ => {
                self.type_error(fact, node, "compare it with a literal of that type");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
