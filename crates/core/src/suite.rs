//! Policy test suites (`*_test.yaml`): reading them and running one case.
//!
//! A suite is read with the policy loader's YAML tree and diagnostics (line:col,
//! stable codes, fix hints; duplicate and unknown keys refused), in two steps, so
//! that the engine does no I/O: [`parse_suite`] checks the file's own structure and
//! names the policy it tests; the caller reads that policy and [`SuiteDoc::bind`]s
//! the suite to it, which turns every case (its request deep-merged over `defaults`)
//! into a contract-valid request the policy accepts — a case that cannot be a real
//! request is an error in the test file, never a failed case. [`run_case`] then
//! compares one decision with what the case expects and explains a mismatch.

use crate::Policy;
use crate::diag::{Code, Diagnostic, Report};
use crate::explain::describe_failure;
use crate::loc::Loc;
use crate::parse::{TreeReader, did_you_mean};
use crate::yaml::{Kind, Node, get};
use policygate_api::{
    CaseOutcome, CaseResult, DecisionKind, EvaluateRequest, Obligation, RequestError,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A test file whose structure is valid, not yet bound to its policy.
#[derive(Debug, Clone)]
pub struct SuiteDoc {
    name: String,
    text: String,
    policy: String,
    cases: Vec<CaseDoc>,
    defaults: Value,
}

#[derive(Debug, Clone)]
struct CaseDoc {
    name: String,
    loc: Loc,
    request: Value,
    request_loc: Loc,
    expect: CaseOutcome,
    rule_loc: Option<Loc>,
}

/// A suite bound to its policy: every case is a request the policy accepts.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The cases, in file order.
    pub cases: Vec<TestCase>,
    /// The `defaults` mapping (`{}` when absent), deep-merged into every case.
    pub defaults: Value,
}

/// One case, ready to run.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The case's `name`.
    pub name: String,
    /// Line of the case in the test file.
    pub line: u32,
    /// The request, `defaults` merged in.
    pub request: EvaluateRequest,
    /// What the case asserts.
    pub expect: CaseOutcome,
}

impl SuiteDoc {
    /// The `policy:` path as written (relative to the test file).
    pub fn policy_path(&self) -> &str {
        &self.policy
    }

    /// Binds the suite to the policy it tests: every merged request must satisfy the
    /// request contract and the policy's declared facts, and every expected rule must
    /// exist. Returns `Some` exactly when the report has no errors.
    pub fn bind(&self, policy: &Policy) -> (Option<Suite>, Report) {
        let mut diags = Vec::new();
        let mut cases = Vec::new();
        let rule_ids: Vec<&str> = policy.rules().map(|r| r.rule_id).collect();
        for c in &self.cases {
            let refuse = |diags: &mut Vec<Diagnostic>, path: &str, message: &str| {
                let shown = if path.is_empty() { "/" } else { path };
                diags.push(
                    Diagnostic::error(
                        Code::InvalidTestRequest,
                        format!(
                            "the request of case `{}` cannot be a real request: {shown}: {message}",
                            c.name
                        ),
                    )
                    .at(c.request_loc)
                    .label("with `defaults` merged in")
                    .help("fix the case's `request` (or `defaults`): test cases must be requests the PDP would accept"),
                );
            };
            let request = match EvaluateRequest::from_value(&c.request) {
                Ok(r) => r,
                Err(RequestError::Invalid(problems)) => {
                    problems
                        .iter()
                        .for_each(|p| refuse(&mut diags, &p.path, &p.message));
                    continue;
                }
                Err(RequestError::Malformed(m)) => {
                    refuse(&mut diags, "", &m);
                    continue;
                }
            };
            if let Err(problems) = policy.check_request(&request) {
                problems
                    .iter()
                    .for_each(|p| refuse(&mut diags, &p.path, &p.message));
                continue;
            }
            if let (Some(id), Some(loc)) = (&c.expect.matched_rule_id, c.rule_loc)
                && !rule_ids.contains(&id.as_str())
            {
                let hint = did_you_mean(id, rule_ids.iter().copied());
                diags.push(
                    Diagnostic::error(
                        Code::UnknownRule,
                        format!(
                            "case `{}` expects rule `{id}`, which the policy does not have",
                            c.name
                        ),
                    )
                    .at(loc)
                    .help(if hint.is_empty() {
                        "use a `rule_id` of the policy, or `default: true` for the default"
                            .to_owned()
                    } else {
                        hint
                    }),
                );
                continue;
            }
            cases.push(TestCase {
                name: c.name.clone(),
                line: c.loc.line(),
                request,
                expect: c.expect.clone(),
            });
        }
        let report = Report::new(&self.name, self.text.clone(), diags, false);
        if report.has_errors() {
            (None, report)
        } else {
            (
                Some(Suite {
                    cases,
                    defaults: self.defaults.clone(),
                }),
                report,
            )
        }
    }
}

/// Reads a test file's structure. Returns `Some` exactly when the report has no errors.
pub fn parse_suite(source_name: &str, bytes: &[u8]) -> (Option<SuiteDoc>, Report) {
    let (text, root) = match crate::parse::read_document(source_name, bytes, "test file") {
        Ok(read) => read,
        Err(report) => return (None, report),
    };
    let text = text.as_str();
    let mut diags = Vec::new();
    let doc = Reader { diags: &mut diags }.document(&root);
    let report = Report::new(source_name, text.to_owned(), diags, false);
    match doc {
        Some((policy, defaults, cases)) if !report.has_errors() => (
            Some(SuiteDoc {
                name: source_name.to_owned(),
                text: text.to_owned(),
                policy,
                cases,
                defaults,
            }),
            report,
        ),
        _ => (None, report),
    }
}

struct Reader<'d> {
    diags: &'d mut Vec<Diagnostic>,
}

impl TreeReader for Reader<'_> {
    const UNKNOWN_KEY: &'static str = "not a key of test files";

    fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }
}

impl Reader<'_> {
    /// Refuses numbers the engine cannot hold exactly (beyond 64 bits, or more digits
    /// than a double keeps): a request would not carry them either.
    fn exact(&mut self, node: &Node) -> bool {
        match &node.kind {
            Kind::Inexact(text) => {
                self.diags.push(
                    Diagnostic::error(
                        Code::OutOfRange,
                        format!("the number `{text}` cannot be held exactly"),
                    )
                    .at(node.loc)
                    .help("use an integer within 64 bits or a decimal of at most 17 significant digits"),
                );
                false
            }
            // Every item is checked (no short cut), so that all are reported.
            Kind::Seq(items) => items.iter().filter(|i| !self.exact(i)).count() == 0,
            Kind::Map(entries) => entries.iter().filter(|e| !self.exact(&e.value)).count() == 0,
            _ => true,
        }
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) if !s.is_empty() => Some(s.clone()),
            Kind::Str(_) => {
                self.diags.push(
                    Diagnostic::error(Code::OutOfRange, format!("{what} must not be empty"))
                        .at(node.loc)
                        .help(format!("write {what}")),
                );
                None
            }
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    fn document(&mut self, root: &Node) -> Option<(String, Value, Vec<CaseDoc>)> {
        let entries = self.mapping(root, "the test file")?;
        self.keys(
            entries,
            root.loc,
            "the test file",
            &["policy", "description", "defaults", "cases"],
            &["policy", "cases"],
        );
        let policy = get(entries, "policy").and_then(|e| self.string(&e.value, "`policy`"));
        if let Some(e) = get(entries, "description") {
            self.string(&e.value, "`description`");
        }
        let defaults = match get(entries, "defaults") {
            None => Some(Value::Object(Map::new())),
            Some(e) => match e.value.kind {
                Kind::Map(_) if self.exact(&e.value) => Some(to_json(&e.value)),
                Kind::Map(_) => None,
                _ => {
                    self.wrong_type(&e.value, "`defaults`", "a mapping (a partial request)");
                    None
                }
            },
        };
        let cases = get(entries, "cases").and_then(|e| self.cases(&e.value, defaults.as_ref()));
        Some((policy?, defaults?, cases?))
    }

    fn cases(&mut self, node: &Node, defaults: Option<&Value>) -> Option<Vec<CaseDoc>> {
        let Kind::Seq(items) = &node.kind else {
            self.wrong_type(node, "`cases`", "a list of test cases");
            return None;
        };
        if items.is_empty() {
            self.diags.push(
                Diagnostic::error(Code::OutOfRange, "`cases` must hold at least one case")
                    .at(node.loc)
                    .help("add a case: `- {name: ..., request: {...}, expect: {decision: ALLOW}}`"),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut seen: BTreeMap<String, Loc> = BTreeMap::new();
        let mut ok = true;
        for item in items {
            match self.case(item, defaults) {
                Some(c) => {
                    if let Some(first) = seen.get(&c.name) {
                        self.diags.push(
                            Diagnostic::error(
                                Code::DuplicateCaseName,
                                format!("case name `{}` is used twice", c.name),
                            )
                            .at(c.loc)
                            .related(*first, "first used here")
                            .help("give every case a unique name: failures and JUnit reports are keyed by it"),
                        );
                        ok = false;
                    } else {
                        seen.insert(c.name.clone(), c.loc);
                        out.push(c);
                    }
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn case(&mut self, node: &Node, defaults: Option<&Value>) -> Option<CaseDoc> {
        let entries = self.mapping(node, "a test case")?;
        self.keys(
            entries,
            node.loc,
            "a test case",
            &["name", "description", "request", "expect"],
            &["name", "request", "expect"],
        );
        let name_entry = get(entries, "name");
        let name = name_entry.and_then(|e| self.string(&e.value, "the case `name`"));
        if let Some(e) = get(entries, "description") {
            self.string(&e.value, "`description`");
        }
        let request = get(entries, "request").and_then(|e| match e.value.kind {
            Kind::Map(_) if !self.exact(&e.value) => None,
            Kind::Map(_) => {
                let mut merged = defaults.cloned().unwrap_or(Value::Object(Map::new()));
                deep_merge(&mut merged, to_json(&e.value));
                Some((merged, e.value.loc))
            }
            _ => {
                self.wrong_type(&e.value, "`request`", "a mapping (an evaluate request)");
                None
            }
        });
        let expect = get(entries, "expect").and_then(|e| self.expect(&e.value));
        let (name, (request, request_loc), (expect, rule_loc)) = (name?, request?, expect?);
        Some(CaseDoc {
            name,
            loc: name_entry.map_or(node.loc, |e| e.value.loc),
            request,
            request_loc,
            expect,
            rule_loc,
        })
    }

    fn expect(&mut self, node: &Node) -> Option<(CaseOutcome, Option<Loc>)> {
        let entries = self.mapping(node, "`expect`")?;
        self.keys(
            entries,
            node.loc,
            "`expect`",
            &[
                "decision",
                "rationale_codes",
                "matched_rule_id",
                "default",
                "obligations",
            ],
            &["decision"],
        );
        let mut ok = true;
        let decision = get(entries, "decision").and_then(|e| {
            let s = self.string(&e.value, "`decision`")?;
            let d = DecisionKind::parse(&s);
            if d.is_none() {
                let hint = did_you_mean(&s, DecisionKind::ALL.iter().map(|d| d.as_str()));
                self.diags.push(
                    Diagnostic::error(Code::InvalidValue, format!("`{s}` is not a decision"))
                        .at(e.value.loc)
                        .help(
                            format!("{hint} decisions: ALLOW, BLOCK, REQUIRE_REVIEW, DEGRADE")
                                .trim()
                                .to_owned(),
                        ),
                );
            }
            d
        });
        let rationale_codes = match get(entries, "rationale_codes") {
            None => None,
            Some(e) => match &e.value.kind {
                Kind::Seq(items) => {
                    let codes: Vec<Option<String>> = items
                        .iter()
                        .map(|i| self.string(i, "a rationale code"))
                        .collect();
                    let codes: Option<Vec<String>> = codes.into_iter().collect();
                    ok &= codes.is_some();
                    codes
                }
                _ => {
                    self.wrong_type(&e.value, "`rationale_codes`", "a list of strings");
                    ok = false;
                    None
                }
            },
        };
        let rule = get(entries, "matched_rule_id");
        let matched_rule_id = match rule {
            None => None,
            Some(e) => {
                let id = self.string(&e.value, "`matched_rule_id`");
                ok &= id.is_some();
                id
            }
        };
        let default = match get(entries, "default") {
            None => None,
            Some(e) => match e.value.kind {
                Kind::Bool(b, _) => Some(b),
                _ => {
                    self.wrong_type(&e.value, "`default`", "true or false");
                    ok = false;
                    None
                }
            },
        };
        if let (Some(e), Some(true), Some(_)) = (rule, default, &matched_rule_id) {
            self.diags.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    "`matched_rule_id` and `default: true` contradict each other",
                )
                .at(e.key_loc)
                .help("a case is decided by a rule or by the default: keep one of the two"),
            );
            ok = false;
        }
        let obligations = match get(entries, "obligations") {
            None => None,
            Some(e) => match serde_json::from_value::<Vec<Obligation>>(to_json(&e.value)) {
                Ok(o) => Some(o),
                Err(err) => {
                    self.diags.push(
                        Diagnostic::error(
                            Code::InvalidObligationParams,
                            format!("`obligations` is not a list of obligations: {err}"),
                        )
                        .at(e.value.loc)
                        .help("write e.g. `[{type: OUTPUT_CAP, params: {max_tokens: 256}}]`"),
                    );
                    ok = false;
                    None
                }
            },
        };
        let decision = decision?;
        ok.then_some((
            CaseOutcome {
                decision,
                rationale_codes,
                matched_rule_id,
                default,
                obligations,
            },
            rule.map(|e| e.value.loc),
        ))
    }
}

/// The YAML node as JSON (keys are strings; numbers keep their integer or float kind).
fn to_json(node: &Node) -> Value {
    match &node.kind {
        Kind::Null => Value::Null,
        Kind::Bool(b, _) => Value::Bool(*b),
        Kind::Int(i) => Value::from(*i),
        Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        // Refused by `Reader::exact` before any conversion.
        Kind::Inexact(_) => Value::Null,
        Kind::Str(s) => Value::String(s.clone()),
        Kind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Kind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|e| (e.key.clone(), to_json(&e.value)))
                .collect(),
        ),
    }
}

/// Merges `over` into `base`: mappings key by key, recursively; anything else replaces.
pub fn deep_merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Runs one case: the decision against what the case expects, with an explanation
/// of a mismatch (why the actual rule decided, and why the expected one did not).
pub fn run_case(policy: &Policy, case: &TestCase) -> CaseResult {
    let d = policy.evaluate(&case.request);
    let actual = CaseOutcome {
        decision: d.decision,
        rationale_codes: Some(d.rationale_codes.to_vec()),
        matched_rule_id: d.matched_rule_id.map(str::to_owned),
        default: Some(d.default_applied()),
        obligations: Some(d.obligations.to_vec()),
    };
    let e = &case.expect;
    let passed = e.decision == actual.decision
        && e.rationale_codes
            .as_ref()
            .is_none_or(|c| Some(c) == actual.rationale_codes.as_ref())
        && e.matched_rule_id
            .as_ref()
            .is_none_or(|r| Some(r) == actual.matched_rule_id.as_ref())
        && e.default.is_none_or(|b| Some(b) == actual.default)
        && e.obligations
            .as_ref()
            .is_none_or(|o| Some(o) == actual.obligations.as_ref());
    let explanation = (!passed).then(|| explain_mismatch(policy, case, d.matched_rule_id));
    CaseResult {
        name: case.name.clone(),
        line: case.line,
        passed,
        expected: case.expect.clone(),
        actual,
        explanation,
    }
}

fn explain_mismatch(policy: &Policy, case: &TestCase, decided: Option<&str>) -> String {
    let mut parts = Vec::new();
    match decided {
        Some(id) => {
            let info = policy.rules().find(|r| r.rule_id == id);
            parts.push(match info {
                Some(r) => format!(
                    "rule `{id}` (priority {}, line {}) matched and decided",
                    r.priority, r.line
                ),
                None => format!("rule `{id}` matched and decided"),
            });
        }
        None => parts.push("no rule matched, so the default decided".to_owned()),
    }
    if let Some(want) = &case.expect.matched_rule_id {
        if decided != Some(want.as_str())
            && let Some(step) = policy.explain_rule(&case.request, want)
        {
            parts.push(match (&step.failed, step.matched) {
                (_, true) => format!(
                    "`{want}` matches too, but `{}` comes first in evaluation order",
                    decided.unwrap_or_default()
                ),
                (Some(f), false) => format!("`{want}` did not match: {}", describe_failure(f)),
                (None, false) => format!("`{want}` did not match"),
            });
        }
    } else if case.expect.default == Some(true) && decided.is_some() {
        parts.push("the case expects the default, so no rule should match".to_owned());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, load};
    use serde_json::json;

    const POLICY: &str = "policy_id: p\npolicy_version: \"1\"\ndefault: {decision: BLOCK, rationale_codes: [D]}\nrules:\n  - rule_id: pub\n    priority: 1\n    when: {resource: {sensitivity: public}}\n    then: {decision: ALLOW, rationale_codes: [A]}\n";

    fn codes(r: &Report) -> Vec<&'static str> {
        r.errors().iter().map(|d| d.code().as_str()).collect()
    }

    #[test]
    fn defaults_merge_key_by_key_and_the_case_wins() {
        let mut base = json!({"env": {"name": "prod"}, "resource": {"type": "doc", "sensitivity": "internal"}});
        deep_merge(
            &mut base,
            json!({"resource": {"sensitivity": "public"}, "action": "infer:run"}),
        );
        assert_eq!(
            base,
            json!({"env": {"name": "prod"}, "resource": {"type": "doc", "sensitivity": "public"}, "action": "infer:run"})
        );
    }

    #[test]
    fn duplicate_keys_and_missing_keys_are_refused_with_positions() {
        let (doc, r) = parse_suite("t.yaml", b"policy: p.yaml\npolicy: q.yaml\ncases: []\n");
        assert!(doc.is_none());
        assert_eq!(codes(&r), ["policygate::parse::duplicate_key"]);
        assert_eq!(r.errors()[0].loc().map(|l| l.line()), Some(2));
        let (doc, r) = parse_suite("t.yaml", b"cases:\n  - name: a\n    request: {}\n");
        assert!(doc.is_none());
        assert_eq!(
            codes(&r),
            [
                "policygate::parse::missing_key",
                "policygate::parse::missing_key"
            ]
        );
    }

    #[test]
    fn a_bound_case_runs_and_a_mismatch_is_explained() {
        let (policy, _) = load("p.yaml", POLICY.as_bytes(), &LoadOptions::default());
        let policy = policy.unwrap();
        let text = "policy: p.yaml\ndefaults: {env: {name: prod}, resource: {type: doc, sensitivity: internal}}\ncases:\n  - name: ok\n    request: {action: infer:run, resource: {sensitivity: public}}\n    expect: {decision: ALLOW, matched_rule_id: pub}\n  - name: wrong\n    request: {action: infer:run}\n    expect: {decision: ALLOW, matched_rule_id: pub}\n";
        let (doc, r) = parse_suite("t.yaml", text.as_bytes());
        let doc = doc.unwrap_or_else(|| panic!("{}", r.render_human(false)));
        assert_eq!(doc.policy_path(), "p.yaml");
        let (suite, r) = doc.bind(&policy);
        let suite = suite.unwrap_or_else(|| panic!("{}", r.render_human(false)));
        let results: Vec<CaseResult> = suite.cases.iter().map(|c| run_case(&policy, c)).collect();
        assert!(results[0].passed);
        assert!(!results[1].passed);
        assert_eq!(results[1].line, 7);
        let why = results[1].explanation.as_deref().unwrap();
        assert!(
            why.starts_with("no rule matched, so the default decided"),
            "{why}"
        );
        assert!(
            why.contains(
                "`resource.sensitivity` eq \"public\" is false: the request has \"internal\""
            ),
            "{why}"
        );
    }
}
