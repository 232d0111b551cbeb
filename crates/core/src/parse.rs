//! Stage one, structure: the YAML tree to a raw policy. Checks the document shape,
//! types, ranges, patterns and unknown keys, collecting every problem. Conditions
//! are read into [`RawCond`] with their fact paths still unresolved; stage two
//! (`check`) resolves and types them.

use crate::diag::{Code, Diagnostic};
use crate::loc::Loc;
use crate::model::{Num, Outcome};
use crate::yaml::{Entry, Kind, Node};
use policygate_api::contract::{
    OUTPUT_CAP_MAX_BYTES, OUTPUT_CAP_MAX_ITEMS, OUTPUT_CAP_MAX_TOKENS, SIGNAL_NAME_PATTERN,
};
use policygate_api::{DecisionKind, Obligation, OutputCap};

/// Operator names, reserved in conditions.
pub(crate) const OPERATORS: [&str; 13] = [
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "starts_with",
    "ends_with",
    "contains",
    "matches",
    "exists",
];
/// Combinator names, reserved in conditions.
pub(crate) const COMBINATORS: [&str; 3] = ["all", "any", "not"];

pub(crate) const MAX_PRIORITY: i64 = 1_000_000;

/// The document after stage one.
#[derive(Debug, Default)]
pub(crate) struct RawPolicy {
    pub policy_id: Option<String>,
    pub policy_version: Option<String>,
    /// `None` when there is no `facts:` section.
    pub facts: Option<Vec<RawDecl>>,
    /// Signals whose declaration was invalid (and reported): rules testing them are
    /// not told again that the signal is undeclared or mistyped.
    pub invalid_facts: Vec<String>,
    pub default: Option<Outcome>,
    pub rules: Vec<RawRule>,
}

/// One `facts:` declaration.
#[derive(Debug)]
pub(crate) struct RawDecl {
    pub name: String,
    pub domain: crate::model::Domain,
    /// `required: true`: every request must carry the signal.
    pub required: bool,
}

/// One rule after stage one; `None` fields were invalid (and reported).
#[derive(Debug)]
pub(crate) struct RawRule {
    pub id: Option<String>,
    pub id_loc: Loc,
    pub priority: Option<u32>,
    pub when: Option<RawCond>,
    pub when_loc: Loc,
    pub then: Option<Outcome>,
}

/// A condition with unresolved fact paths.
#[derive(Debug, Clone)]
pub(crate) enum RawCond {
    All(Vec<RawCond>),
    Any(Vec<RawCond>),
    Not(Box<RawCond>),
    Test {
        path: String,
        loc: Loc,
        matcher: RawMatcher,
    },
}

/// The right-hand side of a fact test.
#[derive(Debug, Clone)]
pub(crate) enum RawMatcher {
    /// A plain value: equality.
    Literal(Node),
    /// `{op: literal, ...}`: all must hold.
    Ops(Vec<(String, Loc, Node)>),
}

pub(crate) struct Parser<'d> {
    pub diags: &'d mut Vec<Diagnostic>,
    rule: Option<String>,
}

fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::levenshtein(&word.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| c)
}

pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    match suggest(word, candidates) {
        Some(s) => format!("did you mean `{s}`?"),
        None => String::new(),
    }
}

/// The refusal of a number the engine cannot hold exactly ([`Kind::Inexact`]).
pub(crate) fn inexact_number(text: &str, loc: Loc) -> Diagnostic {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let integer = unsigned.chars().all(|c| c.is_ascii_digit())
        || unsigned.starts_with("0x")
        || unsigned.starts_with("0o");
    if integer {
        Diagnostic::error(
            Code::InexactNumber,
            format!("integer `{text}` is outside the 64-bit range and cannot be held exactly"),
        )
        .at(loc)
        .label("would be rounded")
        .help(format!(
            "integers are exact in {}..={}, the range requests can carry; use a value inside it",
            i64::MIN,
            i64::MAX
        ))
    } else {
        let read = text
            .parse::<f64>()
            .map_or_else(|_| "another number".to_owned(), |f| format!("`{f:?}`"));
        Diagnostic::error(
            Code::InexactNumber,
            format!("`{text}` has more digits than a number holds and would be read as {read}"),
        )
        .at(loc)
        .label("would be rounded")
        .help("decimals are 64-bit floats (about 16 significant digits): write the value the float holds, or an integer without a fraction or exponent, which is exact up to 2^63-1")
    }
}

fn join_help(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a YAML file other than a policy (a test suite, a gateway mapping; `what`
/// names it in the fix hint) into its text and tree, or the report of why it cannot
/// be read (not UTF-8, YAML syntax, a duplicate key).
pub(crate) fn read_document(
    source_name: &str,
    bytes: &[u8],
    what: &str,
) -> Result<(String, Node), crate::diag::Report> {
    use crate::diag::Report;
    let Ok(text) = std::str::from_utf8(bytes) else {
        let d = Diagnostic::error(Code::NotUtf8, "the file is not UTF-8 text")
            .help(format!("save the {what} as UTF-8 text"));
        let lossy = String::from_utf8_lossy(bytes).into_owned();
        return Err(Report::new(source_name, lossy, vec![d], false));
    };
    match crate::yaml::parse(text) {
        Ok(root) => Ok((text.to_owned(), root)),
        Err(e) => {
            let (code, help) = if e.duplicate_key {
                (
                    Code::DuplicateKey,
                    "remove one of the two entries: YAML parsers silently keep the last, which hides mistakes",
                )
            } else {
                (
                    Code::YamlSyntax,
                    "fix the YAML syntax at the marked position",
                )
            };
            let mut d = Diagnostic::error(code, e.message).help(help);
            if let Some(loc) = e.loc {
                d = d.at(loc);
            }
            Err(Report::new(source_name, text.to_owned(), vec![d], false))
        }
    }
}

/// The type and key checks every reader of a YAML document shares (policies, test
/// suites, gateway mappings), so that each problem is worded the same wherever it is
/// found. A reader says where its diagnostics go and what its unknown keys are called.
pub(crate) trait TreeReader {
    /// The label of an unknown key, e.g. "not a key of the policy language".
    const UNKNOWN_KEY: &'static str;

    /// Records one diagnostic.
    fn report(&mut self, d: Diagnostic);

    /// `what` is not `expected` (e.g. "a string"); a scalar where a string is expected
    /// gets the hint to quote it.
    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        let help = match (&node.kind, expected) {
            (Kind::Int(_) | Kind::Float(_) | Kind::Inexact(_) | Kind::Bool(..), "a string") => {
                format!("quote the value to make {what} a string")
            }
            _ => format!("write {what} as {expected}"),
        };
        self.report(
            Diagnostic::error(
                Code::WrongType,
                format!("{what} must be {expected}, found {}", node.kind.describe()),
            )
            .at(node.loc)
            .label(format!("expected {expected}"))
            .help(help),
        );
    }

    /// The entries of `node` if it is a mapping; else reports it.
    fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Entry]> {
        match &node.kind {
            Kind::Map(entries) => Some(entries),
            _ => {
                self.wrong_type(node, what, "a mapping");
                None
            }
        }
    }

    /// Reports unknown keys and missing required keys.
    fn keys(
        &mut self,
        entries: &[Entry],
        at: Loc,
        what: &str,
        allowed: &[&str],
        required: &[&str],
    ) {
        for d in key_problems(entries, at, what, allowed, required, Self::UNKNOWN_KEY) {
            self.report(d);
        }
    }
}

/// The unknown keys of a mapping (`label` says whose keys they are not) and the
/// required ones it lacks.
fn key_problems(
    entries: &[Entry],
    at: Loc,
    what: &str,
    allowed: &[&str],
    required: &[&str],
    label: &str,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for e in entries {
        if !allowed.contains(&e.key.as_str()) {
            let hint = did_you_mean(&e.key, allowed.iter().copied());
            out.push(
                Diagnostic::error(
                    Code::UnknownKey,
                    format!("unknown key `{}` in {what}", e.key),
                )
                .at(e.key_loc)
                .label(label)
                .help(join_help(&[
                    &hint,
                    &format!("allowed keys: {}", allowed.join(", ")),
                ])),
            );
        }
    }
    for r in required {
        if !entries.iter().any(|e| e.key == *r) {
            out.push(
                Diagnostic::error(Code::MissingKey, format!("{what} is missing `{r}`"))
                    .at(at)
                    .label(format!("`{r}` is required here"))
                    .help(format!("add `{r}:` to {what}")),
            );
        }
    }
    out
}

impl TreeReader for Parser<'_> {
    const UNKNOWN_KEY: &'static str = "not a key of the policy language";

    fn report(&mut self, d: Diagnostic) {
        self.push(d);
    }
}

impl<'d> Parser<'d> {
    pub(crate) fn new(diags: &'d mut Vec<Diagnostic>) -> Parser<'d> {
        Parser { diags, rule: None }
    }

    fn push(&mut self, d: Diagnostic) {
        let rule = self.rule.clone();
        self.diags.push(d.rule(rule.as_deref()));
    }

    fn string(&mut self, node: &Node, what: &str, min: usize, max: usize) -> Option<String> {
        let Kind::Str(s) = &node.kind else {
            self.wrong_type(node, what, "a string");
            return None;
        };
        let n = s.chars().count();
        if n < min || n > max {
            self.push(
                Diagnostic::error(
                    Code::OutOfRange,
                    format!("{what} must be {min}..{max} characters long, found {n}"),
                )
                .at(node.loc)
                .help(format!(
                    "shorten or lengthen {what} to {min}..{max} characters"
                )),
            );
            return None;
        }
        Some(s.clone())
    }

    /// Takes the tree by value, so that the tree and the raw policy are never both
    /// held whole (together they are the peak of a large policy's load): each rule's
    /// subtree is dropped as soon as the rule is read. (Validating 10,000 rules takes
    /// 0.42 s of CPU with glibc's allocator and 0.25 s with mimalloc, the `policygate`
    /// binary's, either way: BENCHMARKS.md.)
    pub(crate) fn document(&mut self, root: Node) -> RawPolicy {
        let mut out = RawPolicy::default();
        if self.mapping(&root, "the policy document").is_none() {
            return out;
        }
        let Kind::Map(entries) = root.kind else {
            return out;
        };
        self.keys(
            &entries,
            root.loc,
            "the policy document",
            &[
                "policy_id",
                "policy_version",
                "description",
                "facts",
                "default",
                "rules",
            ],
            &["policy_id", "policy_version", "default", "rules"],
        );
        for e in entries {
            match e.key.as_str() {
                "policy_id" => out.policy_id = self.string(&e.value, "`policy_id`", 1, 128),
                "policy_version" => {
                    out.policy_version = self.string(&e.value, "`policy_version`", 1, 128)
                }
                "description" => {
                    self.string(&e.value, "`description`", 0, usize::MAX);
                }
                "facts" => {
                    let (decls, invalid) = self.facts(&e.value);
                    out.facts = Some(decls);
                    out.invalid_facts = invalid;
                }
                "default" => out.default = self.outcome(&e.value, "`default`"),
                "rules" => out.rules = self.rules(e.value),
                _ => {}
            }
        }
        out
    }

    fn facts(&mut self, node: &Node) -> (Vec<RawDecl>, Vec<String>) {
        let mut out = Vec::new();
        let mut invalid = Vec::new();
        if matches!(node.kind, Kind::Null) {
            return (out, invalid);
        }
        let Some(entries) = self.mapping(node, "`facts`") else {
            return (out, invalid);
        };
        for e in entries {
            let name = &e.key;
            if !policygate_api::is_valid_signal_name(name) {
                self.push(
                    Diagnostic::error(Code::InvalidValue, format!("`{name}` is not a valid signal name"))
                        .at(e.key_loc)
                        .help(format!("`facts:` declares signals; names match `{SIGNAL_NAME_PATTERN}` (write `caller_trust`, not `signals.caller_trust`)")),
                );
                continue;
            }
            if OPERATORS.contains(&name.as_str()) || COMBINATORS.contains(&name.as_str()) {
                self.push(
                    Diagnostic::error(Code::ReservedName, format!("signal `{name}` is named like an operator or combinator"))
                        .at(e.key_loc)
                        .help("rename the signal: operator and combinator names cannot be tested as signals"),
                );
                continue;
            }
            match self.declaration(&e.value, name) {
                Some((domain, required)) => out.push(RawDecl {
                    name: name.clone(),
                    domain,
                    required,
                }),
                None => invalid.push(name.clone()),
            }
        }
        (out, invalid)
    }

    fn declaration(&mut self, node: &Node, name: &str) -> Option<(crate::model::Domain, bool)> {
        use crate::model::Domain;
        let what = format!("the declaration of `{name}`");
        let entries = self.mapping(node, &what)?;
        self.keys(
            entries,
            node.loc,
            &what,
            &[
                "type",
                "enum",
                "min",
                "max",
                "items",
                "required",
                "description",
            ],
            &["type"],
        );
        let get = |k: &str| entries.iter().find(|e| e.key == k);
        let required = match get("required").map(|e| &e.value) {
            None => false,
            Some(Node {
                kind: Kind::Bool(b, _),
                ..
            }) => *b,
            Some(other) => {
                self.wrong_type(other, "`required`", "true or false");
                return None;
            }
        };
        let ty = get("type").and_then(|e| {
            self.string(&e.value, "`type`", 1, 64)
                .map(|t| (t, e.value.loc))
        })?;
        let not_for = |p: &mut Parser<'_>, key: &str, ty: &str| {
            if let Some(e) = get(key) {
                p.push(
                    Diagnostic::error(
                        Code::UnknownKey,
                        format!("`{key}` does not apply to a {ty} fact"),
                    )
                    .at(e.key_loc)
                    .help(format!("remove `{key}` or change `type`")),
                );
            }
        };
        let bound = |p: &mut Parser<'_>, key: &str, int: bool| -> Option<Num> {
            let e = get(key)?;
            match &e.value.kind {
                Kind::Int(i) => Some(Num::Int(*i)),
                Kind::Float(f) if !int => Some(Num::Float(*f).canonical()),
                Kind::Inexact(text) => {
                    p.push(inexact_number(text, e.value.loc));
                    None
                }
                _ => {
                    p.wrong_type(
                        &e.value,
                        &format!("`{key}`"),
                        if int { "an integer" } else { "a number" },
                    );
                    None
                }
            }
        };
        let domain = match ty.0.as_str() {
            "string" => {
                not_for(self, "min", "string");
                not_for(self, "max", "string");
                not_for(self, "items", "string");
                match get("enum") {
                    None => Domain::Str(crate::model::StrCheck::Signal),
                    Some(e) => {
                        let Kind::Seq(items) = &e.value.kind else {
                            self.wrong_type(&e.value, "`enum`", "a list of strings");
                            return None;
                        };
                        let mut values: Vec<String> = Vec::new();
                        for item in items {
                            if let Some(s) = self.string(
                                item,
                                "an `enum` value",
                                0,
                                policygate_api::MAX_SIGNAL_STRING_CHARS,
                            ) {
                                if values.contains(&s) {
                                    self.push(
                                        Diagnostic::error(
                                            Code::InvalidValue,
                                            format!("`enum` lists `{s}` twice"),
                                        )
                                        .at(item.loc)
                                        .help("remove the repeated value"),
                                    );
                                } else {
                                    values.push(s);
                                }
                            }
                        }
                        if items.is_empty() {
                            self.push(
                                Diagnostic::error(
                                    Code::InvalidValue,
                                    "`enum` must list at least one value",
                                )
                                .at(e.value.loc)
                                .help("list the allowed values, or remove `enum`"),
                            );
                            return None;
                        }
                        Domain::Enum(values)
                    }
                }
            }
            "integer" | "number" => {
                let int = ty.0 == "integer";
                not_for(self, "enum", &ty.0);
                not_for(self, "items", &ty.0);
                let (min, max) = (bound(self, "min", int), bound(self, "max", int));
                if let (Some(lo), Some(hi)) = (min, max)
                    && lo > hi
                {
                    let at = get("min").map_or(node.loc, |e| e.value.loc);
                    self.push(
                        Diagnostic::error(
                            Code::OutOfRange,
                            format!("`min` ({lo}) is greater than `max` ({hi})"),
                        )
                        .at(at)
                        .help("swap the bounds or correct one of them"),
                    );
                    return None;
                }
                if int {
                    let int_of = |n: Option<Num>| match n {
                        Some(Num::Int(i)) => Some(i),
                        _ => None,
                    };
                    Domain::Int {
                        min: int_of(min),
                        max: int_of(max),
                    }
                } else {
                    Domain::Num { min, max }
                }
            }
            "boolean" => {
                for k in ["enum", "min", "max", "items"] {
                    not_for(self, k, "boolean");
                }
                Domain::Bool
            }
            "list" => {
                for k in ["enum", "min", "max"] {
                    not_for(self, k, "list");
                }
                if let Some(e) = get("items")
                    && e.value.kind != Kind::Str("string".into())
                {
                    self.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            "list signals hold strings: `items` must be `string`",
                        )
                        .at(e.value.loc)
                        .help("write `items: string`"),
                    );
                }
                Domain::List
            }
            other => {
                let by_meaning = match other.to_lowercase().as_str() {
                    "float" | "double" | "decimal" | "f64" | "real" => Some("number"),
                    "int" | "long" | "i64" => Some("integer"),
                    "bool" => Some("boolean"),
                    "str" | "text" => Some("string"),
                    "array" | "set" | "strings" => Some("list"),
                    _ => None,
                };
                let hint = match by_meaning {
                    Some(t) => format!("did you mean `{t}`?"),
                    None => did_you_mean(other, ["string", "integer", "number", "boolean", "list"]),
                };
                self.push(
                    Diagnostic::error(Code::InvalidValue, format!("unknown fact type `{other}`"))
                        .at(ty.1)
                        .help(join_help(&[
                            &hint,
                            "types: string, integer, number, boolean, list",
                        ])),
                );
                return None;
            }
        };
        Some((domain, required))
    }

    fn rules(&mut self, node: Node) -> Vec<RawRule> {
        let items = match node.kind {
            Kind::Seq(items) => items,
            kind => {
                let node = Node {
                    kind,
                    loc: node.loc,
                };
                self.wrong_type(&node, "`rules`", "a list of rules");
                return Vec::new();
            }
        };
        if items.is_empty() {
            self.push(
                Diagnostic::error(Code::OutOfRange, "`rules` must hold at least one rule")
                    .at(node.loc)
                    .help("add a rule; a policy that only has a default is almost certainly a mistake"),
            );
        }
        let mut out = Vec::with_capacity(items.len());
        // Each rule's subtree is dropped as soon as it is read.
        for item in items {
            out.extend(self.rule(&item));
        }
        out
    }

    fn rule(&mut self, node: &Node) -> Option<RawRule> {
        let entries = self.mapping(node, "a rule")?;
        let get = |k: &str| entries.iter().find(|e| e.key == k);
        let id_entry = get("rule_id");
        self.rule = None;
        let id = id_entry.and_then(|e| {
            let id = self.string(&e.value, "`rule_id`", 1, 128)?;
            if id.trim() != id {
                self.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("`rule_id` {id:?} has surrounding whitespace"),
                    )
                    .at(e.value.loc)
                    .help("remove the leading/trailing whitespace"),
                );
                return None;
            }
            Some(id)
        });
        self.rule.clone_from(&id);
        self.keys(
            entries,
            node.loc,
            "a rule",
            &["rule_id", "priority", "description", "when", "then"],
            &["rule_id", "priority", "when", "then"],
        );
        let priority = get("priority").and_then(|e| match e.value.kind {
            Kind::Int(p) if (0..=MAX_PRIORITY).contains(&p) => u32::try_from(p).ok(),
            Kind::Int(p) => {
                self.push(
                    Diagnostic::error(
                        Code::OutOfRange,
                        format!("`priority` must be in 0..=1000000, found {p}"),
                    )
                    .at(e.value.loc)
                    .help("use an integer priority between 0 and 1000000; higher wins"),
                );
                None
            }
            _ => {
                self.wrong_type(&e.value, "`priority`", "an integer");
                None
            }
        });
        if let Some(e) = get("description") {
            self.string(&e.value, "`description`", 0, usize::MAX);
        }
        let when_entry = get("when");
        let when = when_entry.and_then(|e| self.condition_map(&e.value, ""));
        let then = get("then").and_then(|e| self.outcome(&e.value, "`then`"));
        let rule = RawRule {
            id,
            id_loc: id_entry.map_or(node.loc, |e| e.value.loc),
            priority,
            when,
            when_loc: when_entry.map_or(node.loc, |e| e.key_loc),
            then,
        };
        self.rule = None;
        Some(rule)
    }

    fn outcome(&mut self, node: &Node, what: &str) -> Option<Outcome> {
        let entries = self.mapping(node, what)?;
        self.keys(
            entries,
            node.loc,
            what,
            &["decision", "rationale_codes", "obligations"],
            &["decision", "rationale_codes"],
        );
        let get = |k: &str| entries.iter().find(|e| e.key == k);
        let decision = get("decision").and_then(|e| {
            let s = self.string(&e.value, "`decision`", 1, 64)?;
            let d = DecisionKind::parse(&s);
            if d.is_none() {
                let hint = did_you_mean(&s, DecisionKind::ALL.iter().map(|d| d.as_str()));
                self.push(
                    Diagnostic::error(Code::InvalidValue, format!("`{s}` is not a decision"))
                        .at(e.value.loc)
                        .label("not ALLOW, BLOCK, REQUIRE_REVIEW or DEGRADE")
                        .help(join_help(&[
                            &hint,
                            "decisions: ALLOW, BLOCK, REQUIRE_REVIEW, DEGRADE",
                        ])),
                );
            }
            d.map(|d| (d, e.value.loc))
        });
        let codes = get("rationale_codes").and_then(|e| self.rationale_codes(&e.value));
        let obligations = match get("obligations") {
            None => Some((Vec::new(), None)),
            Some(e) => self.obligations(&e.value).map(|o| (o, Some(e.key_loc))),
        };
        let ((decision, decision_loc), codes, (obligations, obligations_loc)) =
            (decision?, codes?, obligations?);
        match (
            decision == DecisionKind::Degrade,
            obligations.is_empty(),
            obligations_loc,
        ) {
            (true, true, _) => {
                self.push(
                    Diagnostic::error(Code::ObligationMissing, format!("{what} decides DEGRADE without obligations"))
                        .at(decision_loc)
                        .help("add `obligations: [{type: OUTPUT_CAP, params: {max_tokens: 256}}]` (a DEGRADE must say how to degrade)"),
                );
                return None;
            }
            (false, false, Some(loc)) | (false, true, Some(loc)) => {
                self.push(
                    Diagnostic::error(
                        Code::ObligationNotAllowed,
                        format!(
                            "obligations are only allowed with DEGRADE, {what} decides {decision}"
                        ),
                    )
                    .at(loc)
                    .help("remove `obligations`, or change the decision to DEGRADE"),
                );
                return None;
            }
            _ => {}
        }
        Some(Outcome {
            decision,
            rationale_codes: codes,
            obligations,
        })
    }

    fn rationale_codes(&mut self, node: &Node) -> Option<Vec<String>> {
        let Kind::Seq(items) = &node.kind else {
            self.wrong_type(node, "`rationale_codes`", "a list of strings");
            return None;
        };
        if items.is_empty() {
            self.push(
                Diagnostic::error(
                    Code::OutOfRange,
                    "`rationale_codes` must hold at least one code",
                )
                .at(node.loc)
                .help("add a code that explains the decision, e.g. `[ALLOW_PUBLIC_INFER]`"),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for item in items {
            match self.string(item, "a rationale code", 1, 64) {
                Some(code) => {
                    let upper_snake = code.starts_with(|c: char| c.is_ascii_uppercase())
                        && code
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                    if !upper_snake {
                        self.push(
                            Diagnostic::warning(
                                Code::RationaleCodeStyle,
                                format!("rationale code `{code}` is not UPPER_SNAKE_CASE"),
                            )
                            .at(item.loc)
                            .help(
                                "stable machine-readable codes are conventionally UPPER_SNAKE_CASE",
                            ),
                        );
                    }
                    out.push(code);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn obligations(&mut self, node: &Node) -> Option<Vec<Obligation>> {
        let Kind::Seq(items) = &node.kind else {
            self.wrong_type(node, "`obligations`", "a list of obligations");
            return None;
        };
        let mut out: Vec<Obligation> = Vec::new();
        let mut ok = true;
        for item in items {
            match self.obligation(item) {
                Some(o) if out.iter().any(|p| p.type_name() == o.type_name()) => {
                    self.push(
                        Diagnostic::error(
                            Code::InvalidObligationParams,
                            format!("obligation `{}` appears twice", o.type_name()),
                        )
                        .at(item.loc)
                        .help("merge the parameters into one obligation"),
                    );
                    ok = false;
                }
                Some(o) => out.push(o),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn obligation(&mut self, node: &Node) -> Option<Obligation> {
        let entries = self.mapping(node, "an obligation")?;
        self.keys(
            entries,
            node.loc,
            "an obligation",
            &["type", "params"],
            &["type", "params"],
        );
        let get = |k: &str| entries.iter().find(|e| e.key == k);
        let ty = get("type").and_then(|e| {
            self.string(&e.value, "obligation `type`", 1, 64)
                .map(|t| (t, e.value.loc))
        })?;
        if ty.0 != "OUTPUT_CAP" {
            let hint = did_you_mean(&ty.0, ["OUTPUT_CAP"]);
            self.push(
                Diagnostic::error(
                    Code::UnknownObligation,
                    format!("unknown obligation type `{}`", ty.0),
                )
                .at(ty.1)
                .help(join_help(&[
                    &hint,
                    "obligation types are defined by the product: OUTPUT_CAP",
                ])),
            );
            return None;
        }
        let params = get("params")?;
        let entries = self.mapping(&params.value, "OUTPUT_CAP `params`")?;
        let allowed = ["max_tokens", "max_items", "max_bytes"];
        let mut cap = OutputCap::default();
        let mut ok = true;
        for e in entries {
            let max: i64 = match e.key.as_str() {
                "max_tokens" => i64::from(OUTPUT_CAP_MAX_TOKENS),
                "max_items" => i64::from(OUTPUT_CAP_MAX_ITEMS),
                "max_bytes" => i64::try_from(OUTPUT_CAP_MAX_BYTES).unwrap_or(i64::MAX),
                other => {
                    let hint = did_you_mean(other, allowed);
                    self.push(
                        Diagnostic::error(
                            Code::InvalidObligationParams,
                            format!("unknown OUTPUT_CAP parameter `{other}`"),
                        )
                        .at(e.key_loc)
                        .help(join_help(&[
                            &hint,
                            "parameters: max_tokens, max_items, max_bytes",
                        ])),
                    );
                    ok = false;
                    continue;
                }
            };
            let Kind::Int(v) = e.value.kind else {
                self.push(
                    Diagnostic::error(
                        Code::InvalidObligationParams,
                        format!(
                            "`{}` must be an integer, found {}",
                            e.key,
                            e.value.kind.describe()
                        ),
                    )
                    .at(e.value.loc)
                    .help(format!("write `{}` as an integer in 1..={max}", e.key)),
                );
                ok = false;
                continue;
            };
            if !(1..=max).contains(&v) {
                self.push(
                    Diagnostic::error(
                        Code::InvalidObligationParams,
                        format!("`{}` must be in 1..={max}, found {v}", e.key),
                    )
                    .at(e.value.loc)
                    .help(format!("choose a value between 1 and {max}")),
                );
                ok = false;
                continue;
            }
            match e.key.as_str() {
                "max_tokens" => cap.max_tokens = u32::try_from(v).ok(),
                "max_items" => cap.max_items = u32::try_from(v).ok(),
                _ => cap.max_bytes = u64::try_from(v).ok(),
            }
        }
        if ok && cap == OutputCap::default() {
            self.push(
                Diagnostic::error(
                    Code::InvalidObligationParams,
                    "OUTPUT_CAP needs at least one of max_tokens, max_items, max_bytes",
                )
                .at(params.value.loc)
                .help("add e.g. `max_tokens: 256`"),
            );
            return None;
        }
        ok.then_some(Obligation::OutputCap(cap))
    }

    /// A condition mapping; `prefix` is the fact path of the enclosing object ("" at the top).
    fn condition_map(&mut self, node: &Node, prefix: &str) -> Option<RawCond> {
        let what = if prefix.is_empty() {
            "`when`".to_owned()
        } else {
            format!("`{prefix}`")
        };
        let entries = self.mapping(node, &format!("a condition ({what})"))?;
        let mixed = self.mixed_check(entries, prefix);
        // Sized up front: a raw policy of 10,000 rules is part of the load's peak.
        let mut parts = Vec::with_capacity(entries.len());
        let mut ok = !mixed;
        for e in entries {
            if mixed && OPERATORS.contains(&e.key.as_str()) {
                continue; // reported once as a mixed matcher
            }
            match self.condition_entry(e, prefix) {
                Some(c) => parts.push(c),
                None => ok = false,
            }
        }
        ok.then_some(RawCond::All(parts))
    }

    fn mixed_check(&mut self, entries: &[Entry], prefix: &str) -> bool {
        if prefix == "signals" {
            return false; // operator names there are reserved signal names, reported as such
        }
        let ops: Vec<&Entry> = entries
            .iter()
            .filter(|e| OPERATORS.contains(&e.key.as_str()))
            .collect();
        let fields = entries.iter().any(|e| {
            !OPERATORS.contains(&e.key.as_str()) && !COMBINATORS.contains(&e.key.as_str())
        });
        if let (Some(first), true) = (ops.first(), fields) {
            self.push(
                Diagnostic::error(Code::MixedMatcher, format!("`{prefix}` mixes operator `{}` with field keys", first.key))
                    .at(first.key_loc)
                    .help("a mapping is either a matcher (only operators) or an object (only fields); split it"),
            );
            return true;
        }
        false
    }

    fn condition_list(&mut self, node: &Node, prefix: &str, name: &str) -> Option<Vec<RawCond>> {
        let Kind::Seq(items) = &node.kind else {
            self.wrong_type(node, &format!("`{name}`"), "a list of conditions");
            return None;
        };
        if items.is_empty() {
            self.push(
                Diagnostic::error(
                    Code::OutOfRange,
                    format!("`{name}` needs at least one condition"),
                )
                .at(node.loc)
                .help(format!("list conditions under `{name}`, or remove it")),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.condition_map(item, prefix) {
                Some(c) => out.push(c),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn condition_entry(&mut self, e: &Entry, prefix: &str) -> Option<RawCond> {
        let key = e.key.as_str();
        let combinator_shape = match key {
            "all" | "any" => matches!(e.value.kind, Kind::Seq(_)),
            "not" => matches!(e.value.kind, Kind::Map(_)),
            _ => true,
        };
        if prefix == "signals" && !combinator_shape {
            self.push(
                Diagnostic::error(Code::ReservedName, format!("`{key}` is a combinator name; a signal with this name cannot be tested"))
                    .at(e.key_loc)
                    .help("rename the signal in the calling service; operator and combinator names are reserved"),
            );
            return None;
        }
        match key {
            "all" => {
                return self
                    .condition_list(&e.value, prefix, "all")
                    .map(RawCond::All);
            }
            "any" => {
                return self
                    .condition_list(&e.value, prefix, "any")
                    .map(RawCond::Any);
            }
            "not" => {
                return self
                    .condition_map(&e.value, prefix)
                    .map(|c| RawCond::Not(Box::new(c)));
            }
            _ => {}
        }
        if OPERATORS.contains(&key) {
            // An operator key among fields: the mixed check has reported it, or it sits
            // directly under `when` / an object where a field was expected.
            let msg = if prefix == "signals" {
                Diagnostic::error(Code::ReservedName, format!("`{key}` is an operator name; a signal with this name cannot be tested"))
                    .help("rename the signal in the calling service; operator and combinator names are reserved")
            } else {
                Diagnostic::error(
                    Code::UnknownFact,
                    format!("operator `{key}` needs a fact to apply to"),
                )
                .help("put the operator under a fact, e.g. `signals: {risk_score: {gte: 0.7}}`")
            };
            self.push(msg.at(e.key_loc));
            return None;
        }
        let path = if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        };
        if prefix.is_empty()
            && !crate::hint::ROOTS.contains(&key)
            && matches!(e.value.kind, Kind::Map(_))
        {
            // A misspelt root (`environment:`, `signal:`, `resources:`): say so, rather
            // than calling its fields unknown operators.
            let hint = crate::hint::did_you_mean_fact(key);
            self.push(
                Diagnostic::error(Code::UnknownFact, format!("unknown fact `{key}`"))
                    .at(e.key_loc)
                    .label("requests have no such fact or object")
                    .help(join_help(&[
                        &hint,
                        "conditions test action, env, resource, subject, caller and signals",
                    ])),
            );
            return None;
        }
        let is_object = matches!(
            path.as_str(),
            "env" | "resource" | "subject" | "caller" | "signals"
        );
        if is_object {
            if let Kind::Map(entries) = &e.value.kind {
                // Under `signals` every key names a signal, so operator names are reserved
                // names there rather than a matcher on the object.
                let all_ops = path != "signals"
                    && !entries.is_empty()
                    && entries.iter().all(|x| OPERATORS.contains(&x.key.as_str()));
                if !all_ops {
                    return self.condition_map(&e.value, &path);
                }
            } else {
                self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        format!("`{path}` is an object; test its fields"),
                    )
                    .at(e.value.loc)
                    .help(match path.as_str() {
                        "env" => "write `env: {name: prod}`",
                        "resource" => "write e.g. `resource: {sensitivity: restricted}`",
                        "subject" => {
                            "write e.g. `subject: {type: service}` or `subject: {exists: false}`"
                        }
                        "caller" => "write e.g. `caller: {id: billing-svc}`",
                        _ => "write e.g. `signals: {pii_detected: true}`",
                    }),
                );
                return None;
            }
        }
        let matcher = self.matcher(&e.value, &path)?;
        Some(RawCond::Test {
            path,
            loc: e.key_loc,
            matcher,
        })
    }

    fn matcher(&mut self, node: &Node, path: &str) -> Option<RawMatcher> {
        match &node.kind {
            Kind::Map(entries) => {
                if entries.is_empty() {
                    self.push(
                        Diagnostic::error(
                            Code::WrongType,
                            format!("`{path}` has an empty matcher"),
                        )
                        .at(node.loc)
                        .help("give a value to compare with, or operators such as `{gte: 1}`"),
                    );
                    return None;
                }
                let mut ops = Vec::with_capacity(entries.len());
                let mut ok = true;
                let any_op = entries.iter().any(|x| OPERATORS.contains(&x.key.as_str()));
                for x in entries {
                    if OPERATORS.contains(&x.key.as_str()) {
                        ops.push((x.key.clone(), x.key_loc, x.value.clone()));
                    } else if any_op {
                        self.push(
                            Diagnostic::error(
                                Code::MixedMatcher,
                                format!("`{path}` mixes operators with `{}`", x.key),
                            )
                            .at(x.key_loc)
                            .help(join_help(&[
                                &did_you_mean(&x.key, OPERATORS),
                                "a matcher holds only operators",
                            ])),
                        );
                        ok = false;
                    } else {
                        let hint = did_you_mean(&x.key, OPERATORS);
                        let help = if hint.is_empty() {
                            format!(
                                "`{path}` is a value, not an object: use operators ({})",
                                OPERATORS.join(", ")
                            )
                        } else {
                            hint
                        };
                        self.push(
                            Diagnostic::error(
                                Code::UnknownOperator,
                                format!("`{}` is not an operator (testing `{path}`)", x.key),
                            )
                            .at(x.key_loc)
                            .help(help),
                        );
                        ok = false;
                    }
                }
                ok.then_some(RawMatcher::Ops(ops))
            }
            Kind::Seq(_) => {
                self.push(
                    Diagnostic::error(Code::WrongType, format!("`{path}` is compared with a list"))
                        .at(node.loc)
                        .help("to accept any of several values write `{in: [a, b]}`"),
                );
                None
            }
            _ => Some(RawMatcher::Literal(node.clone())),
        }
    }
}

#[cfg(test)]
mod tests;
