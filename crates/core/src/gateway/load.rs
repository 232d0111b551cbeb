//! Reading a mapping file: its structure (the parse codes, as for policies and test
//! suites) and its meaning against the policy (`policygate::mapping::*`), collecting
//! every problem.

use super::{Mapping, Route, Segment, Source, Spec, Target, check_value};
use crate::Policy;
use crate::diag::{Code, Diagnostic, Report};
use crate::loc::Loc;
use crate::model::{Domain, Fact};
use crate::parse::{TreeReader, did_you_mean, inexact_number, read_document};
use crate::yaml::{Entry, Kind, Node, get};
use policygate_api::SignalValue;

const TOP_KEYS: [&str; 7] = [
    "mapping_version",
    "description",
    "policy_id",
    "review_status",
    "authenticated_by",
    "facts",
    "routes",
];
const ROUTE_KEYS: [&str; 4] = ["name", "methods", "path", "facts"];
const SOURCES: [&str; 6] = ["header", "query", "capture", "context", "metadata", "const"];
const SPEC_KEYS: [&str; 10] = [
    "header", "query", "capture", "context", "metadata", "const", "key", "default", "required",
    "split",
];
/// Facts every request carries: a mapping must give each a value on every route.
const NEEDED: [&str; 4] = [
    "action",
    "env.name",
    "resource.type",
    "resource.sensitivity",
];

pub(super) fn load(source_name: &str, bytes: &[u8], policy: &Policy) -> (Option<Mapping>, Report) {
    let (text, root) = match read_document(source_name, bytes, "gateway mapping") {
        Ok(read) => read,
        Err(report) => return (None, report),
    };
    let mut diags = Vec::new();
    let mapping = Loader {
        diags: &mut diags,
        policy,
    }
    .document(&root);
    let report = Report::new(source_name, text, diags, false);
    if report.has_errors() {
        (None, report)
    } else {
        (mapping, report)
    }
}

struct Loader<'a> {
    diags: &'a mut Vec<Diagnostic>,
    policy: &'a Policy,
}

impl TreeReader for Loader<'_> {
    const UNKNOWN_KEY: &'static str = "not a key of gateway mappings";

    fn report(&mut self, d: Diagnostic) {
        self.push(d);
    }
}

impl Loader<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn string<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n str> {
        match &node.kind {
            Kind::Str(s) if !s.is_empty() => Some(s),
            Kind::Str(_) => {
                self.push(
                    Diagnostic::error(Code::OutOfRange, format!("{what} must not be empty"))
                        .at(node.loc)
                        .help(format!("write {what} as a non-empty string")),
                );
                None
            }
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    fn document(&mut self, root: &Node) -> Option<Mapping> {
        let entries = self.mapping(root, "the mapping document")?;
        self.keys(
            entries,
            root.loc,
            "the mapping document",
            &TOP_KEYS,
            &["mapping_version"],
        );
        let mut ok = true;
        if let Some(e) = get(entries, "mapping_version") {
            match &e.value.kind {
                Kind::Int(1) => {}
                Kind::Int(n) => {
                    self.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            format!("`mapping_version` {n} is not a version this PolicyGate reads"),
                        )
                        .at(e.value.loc)
                        .help("write `mapping_version: 1`"),
                    );
                    ok = false;
                }
                _ => {
                    self.wrong_type(&e.value, "`mapping_version`", "the integer 1");
                    ok = false;
                }
            }
        }
        if let Some(e) = get(entries, "description") {
            self.string(&e.value, "`description`");
        }
        if let Some(e) = get(entries, "policy_id")
            && let Some(id) = self.string(&e.value, "`policy_id`")
        {
            let actual = &self.policy.identity().policy_id;
            if id != actual {
                self.push(
                    Diagnostic::error(
                        Code::MappingPolicyMismatch,
                        format!("the mapping is for policy `{id}`, but it is checked against policy `{actual}`"),
                    )
                    .at(e.value.loc)
                    .label("another policy")
                    .help(format!("use the mapping written for `{actual}`, or change `policy_id` once the mapping fits it")),
                );
            }
        }
        let mut review_status = super::DEFAULT_REVIEW_STATUS;
        if let Some(e) = get(entries, "review_status") {
            match &e.value.kind {
                Kind::Int(n) if (400..=599).contains(n) => {
                    review_status = u16::try_from(*n).unwrap_or(super::DEFAULT_REVIEW_STATUS);
                }
                Kind::Int(n) => {
                    self.push(
                        Diagnostic::error(
                            Code::OutOfRange,
                            format!("`review_status` {n} is not an error status (400..599)"),
                        )
                        .at(e.value.loc)
                        .help("a review is a denial: use a 4xx or 5xx status, e.g. 403 (the default) or 428"),
                    );
                    ok = false;
                }
                _ => {
                    self.wrong_type(&e.value, "`review_status`", "an HTTP status (400..599)");
                    ok = false;
                }
            }
        }
        let mut authenticated_by = Vec::new();
        if let Some(e) = get(entries, "authenticated_by") {
            let items: Vec<&Node> = match &e.value.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![&e.value],
            };
            for item in items {
                match self.auth_source(item) {
                    Some(s) => authenticated_by.push(s),
                    None => ok = false,
                }
            }
        }
        // Route patterns first: global facts may read any route's captures.
        let route_nodes: &[Node] = match get(entries, "routes").map(|e| &e.value) {
            None => &[],
            Some(Node {
                kind: Kind::Seq(items),
                ..
            }) => items,
            Some(other) => {
                self.wrong_type(other, "`routes`", "a list of routes");
                ok = false;
                &[]
            }
        };
        let mut heads = Vec::new();
        for (i, node) in route_nodes.iter().enumerate() {
            match self.route_head(node, i) {
                Some(h) => heads.push(h),
                None => ok = false,
            }
        }
        let all_captures: Vec<String> = heads
            .iter()
            .flat_map(|h| h.captures.iter().cloned())
            .collect();
        let mut facts = Vec::new();
        if let Some(e) = get(entries, "facts") {
            match self.facts(&e.value, &all_captures, "`facts`", None) {
                Some(f) => facts = f,
                None => ok = false,
            }
        }
        let mut routes = Vec::new();
        for head in heads {
            let route_facts = match head.facts {
                Some(node) => {
                    let what = format!("the `facts` of route `{}`", head.name);
                    match self.facts(node, &head.captures, &what, Some(&head.name)) {
                        Some(f) => f,
                        None => {
                            ok = false;
                            Vec::new()
                        }
                    }
                }
                None => Vec::new(),
            };
            routes.push((
                Route {
                    name: head.name,
                    methods: head.methods,
                    pattern: head.pattern,
                    facts: route_facts,
                },
                head.loc,
            ));
        }
        if ok {
            self.completeness(root.loc, &facts, &routes);
            self.reachability(&routes);
        }
        ok.then(|| Mapping {
            routes: routes.into_iter().map(|(r, _)| r).collect(),
            facts,
            authenticated_by,
            review_status,
        })
    }

    /// Every needed fact (and every signal the policy requires) has a spec on every
    /// route, globally or in the route.
    fn completeness(&mut self, root: Loc, facts: &[Target], routes: &[(Route, Loc)]) {
        let mut needed: Vec<String> = NEEDED.iter().map(|s| (*s).to_owned()).collect();
        needed.extend(
            self.policy
                .facts
                .iter()
                .filter(|f| f.required && matches!(f.fact, Fact::Signal(_)))
                .map(|f| f.fact.path()),
        );
        let global = |p: &str| facts.iter().any(|t| t.path == p);
        if routes.is_empty() {
            for p in needed.iter().filter(|p| !global(p)) {
                self.push(
                    Diagnostic::error(Code::MappingMissingFact, format!("the mapping gives no value for `{p}`, which every request needs"))
                        .at(root)
                        .label("no route and no global fact")
                        .help(format!("add `{p}` under `facts:` (a constant, or a source such as `{{header: x-...}}`), or routes that set it")),
                );
            }
            return;
        }
        for (route, loc) in routes {
            for p in needed.iter().filter(|p| !global(p)) {
                if !route.facts.iter().any(|t| &t.path == p) {
                    self.push(
                        Diagnostic::error(
                            Code::MappingMissingFact,
                            format!(
                                "route `{}` gives no value for `{p}`, which every request needs",
                                route.name
                            ),
                        )
                        .at(*loc)
                        .label(format!("no `{p}` here nor under the global `facts:`"))
                        .help(format!(
                            "add `{p}` to the route's `facts:` or to the global `facts:`"
                        )),
                    );
                }
            }
        }
    }

    /// A route after one that matches all it matches never applies (first match wins).
    fn reachability(&mut self, routes: &[(Route, Loc)]) {
        for (i, (later, loc)) in routes.iter().enumerate() {
            let covering = routes.iter().take(i).find(|(earlier, _)| {
                let methods = earlier.methods.is_empty()
                    || (!later.methods.is_empty()
                        && later.methods.iter().all(|m| earlier.methods.contains(m)));
                let paths = match (&earlier.pattern, &later.pattern) {
                    (None, _) => true,
                    (Some(a), Some(b)) => covers(a, b),
                    (Some(_), None) => false,
                };
                methods && paths
            });
            if let Some((earlier, earlier_loc)) = covering {
                self.push(
                    Diagnostic::warning(
                        Code::MappingUnreachableRoute,
                        format!("route `{}` never applies: route `{}` before it matches every request it matches", later.name, earlier.name),
                    )
                    .at(*loc)
                    .related(*earlier_loc, "this route matches first")
                    .help("routes are tried in order and the first match wins: move the more specific route first, or remove it"),
                );
            }
        }
    }

    fn route_head<'n>(&mut self, node: &'n Node, index: usize) -> Option<RouteHead<'n>> {
        let entries = self.mapping(node, "a route")?;
        self.keys(entries, node.loc, "a route", &ROUTE_KEYS, &[]);
        let mut ok = true;
        let name = match get(entries, "name") {
            Some(e) => match self.string(&e.value, "a route's `name`") {
                Some(n) => n.to_owned(),
                None => {
                    ok = false;
                    format!("#{}", index + 1)
                }
            },
            None => format!("#{}", index + 1),
        };
        let mut methods = Vec::new();
        if let Some(e) = get(entries, "methods") {
            let items: Vec<&Node> = match &e.value.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![&e.value],
            };
            for item in items {
                match self.string(item, "a method") {
                    Some(m) if m.bytes().all(|b| b.is_ascii_alphabetic()) => {
                        methods.push(m.to_ascii_uppercase());
                    }
                    Some(m) => {
                        self.push(
                            Diagnostic::error(
                                Code::InvalidValue,
                                format!("`{m}` is not an HTTP method"),
                            )
                            .at(item.loc)
                            .help("write methods as words such as GET, POST, PUT, DELETE"),
                        );
                        ok = false;
                    }
                    None => ok = false,
                }
            }
        }
        let mut pattern = None;
        let mut captures = Vec::new();
        if let Some(e) = get(entries, "path") {
            match self.string(&e.value, "a route's `path`") {
                Some(p) => match parse_pattern(p) {
                    Ok(segments) => {
                        captures = segments
                            .iter()
                            .filter_map(|s| match s {
                                Segment::Capture(n) | Segment::Rest(n) => Some(n.clone()),
                                _ => None,
                            })
                            .collect();
                        pattern = Some(segments);
                    }
                    Err(why) => {
                        self.push(
                            Diagnostic::error(
                                Code::MappingInvalidPath,
                                format!("`{p}` is not a path pattern: {why}"),
                            )
                            .at(e.value.loc)
                            .help("patterns are `/literal/{capture}/*/{*rest}`: `{name}` captures one segment, `*` matches one, `{*name}` (last) captures the rest; no query string"),
                        );
                        ok = false;
                    }
                },
                None => ok = false,
            }
        }
        ok.then(|| RouteHead {
            name,
            loc: node.loc,
            methods,
            pattern,
            captures,
            facts: get(entries, "facts").map(|e| &e.value),
        })
    }

    /// A `facts:` mapping: fact path → spec.
    fn facts(
        &mut self,
        node: &Node,
        captures: &[String],
        what: &str,
        route: Option<&str>,
    ) -> Option<Vec<Target>> {
        if matches!(node.kind, Kind::Null) {
            return Some(Vec::new());
        }
        let entries = self.mapping(node, what)?;
        let mut ok = true;
        let mut out = Vec::new();
        for e in entries {
            let Some((fact, domain)) = self.target(&e.key, e.key_loc) else {
                ok = false;
                continue;
            };
            match self.spec(&e.value, &e.key, &domain, captures, route) {
                Some(spec) => out.push(Target {
                    path: e.key.clone(),
                    fact,
                    domain,
                    spec,
                }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// The fact a mapping key names, with the domain the policy gives it.
    fn target(&mut self, path: &str, loc: Loc) -> Option<(Fact, Domain)> {
        let facts = &self.policy.facts;
        if path == "caller.id" || path == "caller" {
            self.push(
                Diagnostic::error(Code::MappingUnknownFact, format!("`{path}` cannot be mapped"))
                    .at(loc)
                    .label("set by the PDP only")
                    .help("`caller.id` is the caller PolicyGate authenticated (its bearer token's name), never a value from the request; map the end user to `subject.id`"),
            );
            return None;
        }
        if path == "subject" {
            self.push(
                Diagnostic::error(Code::MappingUnknownFact, "the object `subject` cannot be mapped as a whole")
                    .at(loc)
                    .help("map its fields: `subject.type` and `subject.id` (the subject is present when either has a value)"),
            );
            return None;
        }
        if let Some(name) = path.strip_prefix("signals.") {
            let declared = facts
                .iter()
                .find(|f| matches!(&f.fact, Fact::Signal(n) if n == name) && !f.untyped);
            if let Some(f) = declared {
                return Some((f.fact.clone(), f.domain.clone()));
            }
            let names: Vec<String> = facts
                .iter()
                .filter(|f| !f.untyped)
                .filter_map(|f| match &f.fact {
                    Fact::Signal(n) => Some(n.clone()),
                    _ => None,
                })
                .collect();
            let hint = did_you_mean(name, names.iter().map(String::as_str));
            self.push(
                Diagnostic::error(
                    Code::MappingUndeclaredSignal,
                    format!("signal `{name}` is not declared under the policy's `facts:`"),
                )
                .at(loc)
                .label("its type is unknown")
                .help(if hint.is_empty() {
                    format!("the mapping coerces values to the declared type: declare it in the policy (e.g. `facts: {{{name}: {{type: string}}}}`); declared signals: {}", if names.is_empty() { "none".to_owned() } else { names.join(", ") })
                } else {
                    hint
                }),
            );
            return None;
        }
        let builtin = facts
            .iter()
            .find(|f| !matches!(f.fact, Fact::Signal(_)) && f.fact.path() == path);
        if let Some(f) = builtin {
            return Some((f.fact.clone(), f.domain.clone()));
        }
        let paths = [
            "action",
            "env.name",
            "resource.type",
            "resource.id",
            "resource.sensitivity",
            "subject.type",
            "subject.id",
        ];
        let by_meaning = crate::hint::did_you_mean_fact(path);
        let hint = if by_meaning.is_empty() {
            did_you_mean(path, paths.iter().copied())
        } else {
            by_meaning
        };
        self.push(
            Diagnostic::error(Code::MappingUnknownFact, format!("unknown fact `{path}`"))
                .at(loc)
                .label("requests have no such fact")
                .help(if hint.is_empty() {
                    format!("a mapping sets {}, and signals.<name>", paths.join(", "))
                } else {
                    hint
                }),
        );
        None
    }

    /// A spec: a scalar constant, or a mapping with one source and options.
    fn spec(
        &mut self,
        node: &Node,
        path: &str,
        domain: &Domain,
        captures: &[String],
        route: Option<&str>,
    ) -> Option<Spec> {
        let entries = match &node.kind {
            Kind::Map(entries) => entries,
            _ => {
                let v = self.literal(node, path, domain)?;
                return Some(Spec {
                    source: Source::Const(v),
                    default: None,
                    required: false,
                    split: ",".to_owned(),
                });
            }
        };
        let what = format!("the value of `{path}`");
        self.keys(entries, node.loc, &what, &SPEC_KEYS, &[]);
        let given: Vec<&Entry> = entries
            .iter()
            .filter(|e| SOURCES.contains(&e.key.as_str()))
            .collect();
        let [source_entry] = given.as_slice() else {
            let found = if given.is_empty() {
                "none".to_owned()
            } else {
                given
                    .iter()
                    .map(|e| format!("`{}`", e.key))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            self.push(
                Diagnostic::error(
                    Code::MappingInvalidSource,
                    format!("{what} must name exactly one source, found {found}"),
                )
                .at(node.loc)
                .help(format!("use one of {}", SOURCES.join(", "))),
            );
            return None;
        };
        let mut ok = true;
        let source = self.source(source_entry, entries, path, domain, captures, route);
        let is_const = source_entry.key == "const";
        let default = match get(entries, "default") {
            Some(e) if is_const => {
                self.invalid_option(e, "`default` does not apply to a constant");
                ok = false;
                None
            }
            Some(e) => {
                let v = self.literal(&e.value, path, domain);
                ok &= v.is_some();
                v
            }
            None => None,
        };
        let required = match get(entries, "required").map(|e| (e, &e.value.kind)) {
            None => false,
            Some((e, Kind::Bool(b, _))) => {
                if *b && (is_const || default.is_some()) {
                    self.invalid_option(
                        e,
                        "`required: true` contradicts a constant or a `default`",
                    );
                    ok = false;
                }
                *b
            }
            Some((e, _)) => {
                self.wrong_type(&e.value, "`required`", "true or false");
                ok = false;
                false
            }
        };
        let mut split = ",".to_owned();
        if let Some(e) = get(entries, "split") {
            if !matches!(domain, Domain::List) {
                self.invalid_option(
                    e,
                    &format!(
                        "`split` applies to list facts only, and `{path}` is {}",
                        crate::model::article(domain.describe())
                    ),
                );
                ok = false;
            } else if let Some(s) = self.string(&e.value, "`split`") {
                s.clone_into(&mut split);
            } else {
                ok = false;
            }
        }
        if get(entries, "key").is_some() && source_entry.key != "metadata" {
            if let Some(e) = get(entries, "key") {
                self.invalid_option(e, "`key` applies to a `metadata` source only");
            }
            ok = false;
        }
        let source = source?;
        ok.then_some(Spec {
            source,
            default,
            required,
            split,
        })
    }

    fn invalid_option(&mut self, e: &Entry, why: &str) {
        self.push(
            Diagnostic::error(Code::MappingInvalidSource, why.to_owned())
                .at(e.key_loc)
                .help(format!("remove `{}`", e.key)),
        );
    }

    fn source(
        &mut self,
        e: &Entry,
        entries: &[Entry],
        path: &str,
        domain: &Domain,
        captures: &[String],
        route: Option<&str>,
    ) -> Option<Source> {
        if e.key == "const" {
            return self.literal(&e.value, path, domain).map(Source::Const);
        }
        let name = self.string(&e.value, &format!("`{}`", e.key))?;
        match e.key.as_str() {
            "header" => self.header_name(name, e.value.loc).map(Source::Header),
            "query" => Some(Source::Query(name.to_owned())),
            "context" => Some(Source::Context(name.to_owned())),
            "capture" => {
                if captures.iter().any(|c| c == name) {
                    return Some(Source::Capture(name.to_owned()));
                }
                let hint = did_you_mean(name, captures.iter().map(String::as_str));
                let (message, help) = match route {
                    Some(r) => (
                        format!("route `{r}`'s path pattern has no capture `{name}`"),
                        if captures.is_empty() {
                            "the route's `path` has no `{name}` segment to read; add one, or use another source".to_owned()
                        } else {
                            format!("{hint} captures of the route: {}", captures.join(", "))
                                .trim()
                                .to_owned()
                        },
                    ),
                    None => (
                        format!("no route's path pattern has a capture `{name}`"),
                        format!(
                            "{hint} add `{{{name}}}` to a route's `path`, or use another source"
                        )
                        .trim()
                        .to_owned(),
                    ),
                };
                self.push(
                    Diagnostic::error(Code::MappingUnknownCapture, message)
                        .at(e.value.loc)
                        .help(help),
                );
                None
            }
            _ => {
                let Some(key) = get(entries, "key") else {
                    self.push(
                        Diagnostic::error(Code::MappingInvalidSource, format!("`metadata: {name}` needs a `key`"))
                            .at(e.key_loc)
                            .help("add `key:` with the dotted path inside the filter's metadata, e.g. `key: payload.sub`"),
                    );
                    return None;
                };
                let key = self.string(&key.value, "`key`")?;
                Some(Source::Metadata {
                    filter: name.to_owned(),
                    key: key.split('.').map(str::to_owned).collect(),
                })
            }
        }
    }

    fn header_name(&mut self, name: &str, loc: Loc) -> Option<String> {
        let token = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if token {
            Some(name.to_ascii_lowercase())
        } else {
            self.push(
                Diagnostic::error(Code::InvalidValue, format!("`{name}` is not a header name"))
                    .at(loc)
                    .help("header names are tokens such as `x-risk-score` (letters, digits, `-`)"),
            );
            None
        }
    }

    /// A constant or default for `path`, inside the fact's domain.
    fn literal(&mut self, node: &Node, path: &str, domain: &Domain) -> Option<SignalValue> {
        if let Kind::Inexact(text) = &node.kind {
            self.push(inexact_number(text, node.loc));
            return None;
        }
        let value = match (&node.kind, domain) {
            (Kind::Str(s), Domain::Enum(_) | Domain::Str(_)) => Some(SignalValue::Str(s.clone())),
            (Kind::Int(i), Domain::Int { .. } | Domain::Num { .. }) => Some(SignalValue::Int(*i)),
            (Kind::Float(f), Domain::Num { .. }) => Some(SignalValue::Float(*f)),
            (Kind::Bool(b, _), Domain::Bool) => Some(SignalValue::Bool(*b)),
            (Kind::Seq(items), Domain::List) => items
                .iter()
                .map(|i| match &i.kind {
                    Kind::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(SignalValue::List),
            _ => None,
        };
        let Some(value) = value else {
            let expected = match domain {
                Domain::List => "a list of strings".to_owned(),
                d => crate::model::article(d.describe()),
            };
            let found = match (&node.kind, domain) {
                (Kind::Seq(_), Domain::List) => "a list with an item that is not a string",
                (k, _) => k.describe(),
            };
            self.push(
                Diagnostic::error(
                    Code::MappingInvalidLiteral,
                    format!("`{path}` is {expected}, but the constant is {found}"),
                )
                .at(node.loc)
                .label(format!("expected {expected}"))
                .help(match node.kind {
                    Kind::Int(_) | Kind::Float(_) | Kind::Bool(..) if domain.is_string() => {
                        "quote the value to make it a string".to_owned()
                    }
                    _ => format!("write {expected}, the type the policy gives `{path}`"),
                }),
            );
            return None;
        };
        if let Err(why) = check_value(domain, &value) {
            let allowed = match domain {
                Domain::Enum(values) => {
                    let hint = match &value {
                        SignalValue::Str(s) => did_you_mean(s, values.iter().map(String::as_str)),
                        _ => String::new(),
                    };
                    format!("{hint} allowed: {}", values.join(", "))
                        .trim()
                        .to_owned()
                }
                _ => format!("use a value the policy accepts for `{path}`"),
            };
            self.push(
                Diagnostic::error(
                    Code::MappingInvalidLiteral,
                    format!("the constant for `{path}` is outside its domain: it {why}"),
                )
                .at(node.loc)
                .label("outside the fact's domain")
                .help(allowed),
            );
            return None;
        }
        Some(value)
    }

    /// `authenticated_by`: where the caller's authentication shows (any one present).
    fn auth_source(&mut self, node: &Node) -> Option<Source> {
        let entries = self.mapping(node, "an `authenticated_by` source")?;
        self.keys(
            entries,
            node.loc,
            "an `authenticated_by` source",
            &["header", "query", "context", "metadata", "key"],
            &[],
        );
        let given: Vec<&Entry> = entries
            .iter()
            .filter(|e| ["header", "query", "context", "metadata"].contains(&e.key.as_str()))
            .collect();
        let [e] = given.as_slice() else {
            self.push(
                Diagnostic::error(
                    Code::MappingInvalidSource,
                    "an `authenticated_by` source must name exactly one of header, query, context, metadata",
                )
                .at(node.loc)
                .help("e.g. `authenticated_by: {header: authorization}`"),
            );
            return None;
        };
        self.source(
            e,
            entries,
            "authenticated_by",
            &Domain::Str(crate::model::StrCheck::Signal),
            &[],
            None,
        )
    }
}

struct RouteHead<'n> {
    name: String,
    loc: Loc,
    methods: Vec<String>,
    pattern: Option<Vec<Segment>>,
    captures: Vec<String>,
    facts: Option<&'n Node>,
}

/// Whether every path `b` matches, `a` matches too.
fn covers(a: &[Segment], b: &[Segment]) -> bool {
    let mut i = 0;
    for sa in a {
        match sa {
            Segment::Rest(_) => return b.len() > i,
            _ => {
                let Some(sb) = b.get(i) else {
                    return false;
                };
                let ok = match (sa, sb) {
                    (Segment::Literal(x), Segment::Literal(y)) => x == y,
                    (Segment::Any | Segment::Capture(_), Segment::Rest(_)) => false,
                    (Segment::Any | Segment::Capture(_), _) => true,
                    _ => false,
                };
                if !ok {
                    return false;
                }
            }
        }
        i += 1;
    }
    b.len() == i
}

fn valid_capture_name(n: &str) -> bool {
    let mut bytes = n.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

pub(super) fn parse_pattern(p: &str) -> Result<Vec<Segment>, String> {
    let Some(rest) = p.strip_prefix('/') else {
        return Err("it must start with `/`".to_owned());
    };
    if p.contains('?') {
        return Err("it has a query string (`?`); read query parameters with `query:`".to_owned());
    }
    if rest.is_empty() {
        return Ok(vec![Segment::Literal(String::new())]);
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let mut out = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let seg = if *part == "*" {
            Segment::Any
        } else if let Some(inner) = part.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (rest_capture, name) = match inner.strip_prefix('*') {
                Some(n) => (true, n),
                None => (false, inner),
            };
            if !valid_capture_name(name) {
                return Err(format!(
                    "`{{{inner}}}`: capture names match `^[a-z_][a-z0-9_]*$`"
                ));
            }
            if names.iter().any(|n| n == name) {
                return Err(format!("the capture `{name}` appears twice"));
            }
            names.push(name.to_owned());
            if rest_capture {
                if !last {
                    return Err(format!(
                        "`{{*{name}}}` captures the rest of the path and must be the last segment"
                    ));
                }
                Segment::Rest(name.to_owned())
            } else {
                Segment::Capture(name.to_owned())
            }
        } else if part.contains(['{', '}', '*']) {
            return Err(format!(
                "segment `{part}`: `{{`, `}}` and `*` must make up a whole segment"
            ));
        } else if part.is_empty() && !last {
            return Err("it has an empty segment (`//`)".to_owned());
        } else if *part == "." || *part == ".." {
            return Err("it has a `.` or `..` segment, which requests never match".to_owned());
        } else {
            Segment::Literal((*part).to_owned())
        };
        out.push(seg);
    }
    Ok(out)
}
