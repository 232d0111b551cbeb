//! `policygate test [PATH...]`: runs every `*_test.yaml` suite under the paths, with
//! rule coverage and a ready-to-paste case for every rule no case reaches.
//!
//! The suites are read and run by the engine (`policygate_core::{parse_suite,
//! SuiteDoc::bind, run_case}`, no I/O there); this module finds the files, reads them
//! and their policies, prints (human, JSON, JUnit XML) and picks the exit code:
//! 0 every case passed, 1 a case failed, a test file or policy is invalid, coverage is
//! below `--min-coverage` or no test file was found, 2 usage errors and unreadable paths.

use crate::command::validate::Format;
use crate::{exit, load};
use policygate_api::{
    CaseOutcome, CaseResult, EvaluateRequest, PolicyCoverage, RuleCoverage, TestFileResult,
    TestReport,
};
use policygate_core::{Policy, Report, Suite, deep_merge, parse_suite, run_case};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `policygate test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Test files or directories searched recursively for `*_test.yaml`, hidden
    /// directories skipped (default: the current directory).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also write a JUnit XML report to FILE (one test case per case).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Run only the cases whose name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Report which rules (and the default) decided at least one case, with a
    /// suggested case for each rule none reached.
    #[arg(long)]
    pub coverage: bool,
    /// Fail when a policy's rule coverage is below PCT percent (implies --coverage).
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub min_coverage: Option<f64>,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a percentage between 0 and 100")),
    }
}

/// A policy under test, loaded once however many suites test it.
struct UnderTest {
    name: String,
    policy: Option<Policy>,
    report: Report,
    /// Cases decided, by rule id (`None` for the default).
    decided: BTreeMap<Option<String>, u64>,
    /// `defaults` of the first suite that tests it (suggestions are checked against them).
    defaults: Option<Value>,
}

fn find_suites(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for p in entries {
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if p.is_dir() && !hidden {
                find_suites(&p, out)?;
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("_test.yaml"))
            {
                out.push(p);
            }
        }
        Ok(())
    } else {
        std::fs::metadata(path)?;
        out.push(path.to_path_buf());
        Ok(())
    }
}

/// Runs the command.
pub fn run(args: &TestArgs) -> ExitCode {
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for root in &roots {
        if let Err(e) = find_suites(root, &mut files) {
            eprintln!("error: cannot read `{}`: {e}", root.display());
            return exit::code(exit::USAGE);
        }
    }
    if files.is_empty() {
        let searched: Vec<String> = roots.iter().map(|p| format!("`{}`", p.display())).collect();
        eprintln!(
            "error: no test file found under {} (test files are named `*_test.yaml`)",
            searched.join(", ")
        );
        return exit::code(exit::INVALID);
    }
    let color = std::io::stdout().is_terminal() && args.format == Format::Human;
    let human = args.format == Format::Human;
    let mut policies: BTreeMap<PathBuf, UnderTest> = BTreeMap::new();
    let mut results: Vec<TestFileResult> = Vec::new();
    let (mut passed, mut failed, mut invalid) = (0u64, 0u64, 0u64);
    for file in &files {
        let name = file.display().to_string();
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: cannot read `{name}`: {e}");
                return exit::code(exit::USAGE);
            }
        };
        let mut result = TestFileResult {
            file: name.clone(),
            policy: None,
            valid: false,
            diagnostics: Vec::new(),
            cases: Vec::new(),
        };
        let (doc, report) = parse_suite(&name, &bytes);
        let Some(doc) = doc else {
            invalid += 1;
            refuse(&mut result, &report, human, color);
            results.push(result);
            continue;
        };
        let policy_path = file
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(doc.policy_path());
        let policy_name = policy_path.display().to_string();
        result.policy = Some(policy_name.clone());
        let key = std::fs::canonicalize(&policy_path).unwrap_or_else(|_| policy_path.clone());
        if !policies.contains_key(&key) {
            let loaded = match load::read(&policy_path, false) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: cannot read policy `{policy_name}` (named by `{name}`): {e}");
                    return exit::code(exit::USAGE);
                }
            };
            let (policy, report) = (loaded.policy, loaded.report);
            policies.insert(
                key.clone(),
                UnderTest {
                    name: policy_name.clone(),
                    policy,
                    report,
                    decided: BTreeMap::new(),
                    defaults: None,
                },
            );
        }
        let Some(loaded) = policies.get_mut(&key) else {
            continue;
        };
        let Some(policy) = &loaded.policy else {
            invalid += 1;
            let report = loaded.report.clone();
            refuse(&mut result, &report, human, color);
            results.push(result);
            continue;
        };
        let (suite, report) = doc.bind(policy);
        let Some(suite) = suite else {
            invalid += 1;
            refuse(&mut result, &report, human, color);
            results.push(result);
            continue;
        };
        result.valid = true;
        loaded
            .defaults
            .get_or_insert_with(|| suite.defaults.clone());
        run_suite(&suite, policy, args, &mut loaded.decided, &mut result);
        for c in &result.cases {
            if c.passed {
                passed += 1;
            } else {
                failed += 1;
                if human {
                    print_failure(&name, c);
                }
            }
        }
        results.push(result);
    }

    let want_coverage = args.coverage || args.min_coverage.is_some();
    let coverage: Option<Vec<PolicyCoverage>> =
        want_coverage.then(|| policies.values().filter_map(coverage_of).collect());
    let mut below = false;
    if let (Some(min), Some(cov)) = (args.min_coverage, &coverage) {
        below = cov.iter().any(|c| c.percent < min);
    }
    let report = TestReport {
        passed,
        failed,
        invalid_files: invalid,
        files: results,
        coverage,
    };
    if let Some(path) = &args.junit
        && let Err(e) = write_junit(path, &report)
    {
        eprintln!(
            "error: cannot write the JUnit report `{}`: {e}",
            path.display()
        );
        return exit::code(exit::USAGE);
    }
    match args.format {
        Format::Human => {
            if let Some(cov) = &report.coverage {
                print_coverage(cov, args.min_coverage);
            }
            if invalid > 0 {
                println!(
                    "{invalid} test file{} could not run (see above)",
                    if invalid == 1 { "" } else { "s" }
                );
            }
            println!("{passed} passed, {failed} failed");
        }
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot serialise the report: {e}");
                return exit::code(exit::USAGE);
            }
        },
    }
    if failed > 0 || invalid > 0 || below {
        exit::code(exit::INVALID)
    } else {
        ExitCode::SUCCESS
    }
}

fn refuse(result: &mut TestFileResult, report: &Report, human: bool, color: bool) {
    result.diagnostics = report
        .errors()
        .iter()
        .map(|d| {
            let (line, col) = d.loc().map_or((0, 0), |l| (l.line(), l.column()));
            format!(
                "{}:{line}:{col}: {}: {}",
                report.file(),
                d.code(),
                d.message()
            )
        })
        .collect();
    if human {
        eprint!("{}", report.render_human(color));
    }
}

fn run_suite(
    suite: &Suite,
    policy: &Policy,
    args: &TestArgs,
    decided: &mut BTreeMap<Option<String>, u64>,
    result: &mut TestFileResult,
) {
    for case in &suite.cases {
        if args
            .filter
            .as_ref()
            .is_some_and(|f| !case.name.contains(f.as_str()))
        {
            continue;
        }
        let r = run_case(policy, case);
        *decided.entry(r.actual.matched_rule_id.clone()).or_default() += 1;
        result.cases.push(r);
    }
}

fn outcome(o: &CaseOutcome) -> String {
    let mut s = o.decision.as_str().to_owned();
    match (&o.matched_rule_id, o.default) {
        (Some(r), _) => s.push_str(&format!(" by rule `{r}`")),
        (None, Some(true)) => s.push_str(" by the default"),
        (None, Some(false)) => s.push_str(" by a rule"),
        (None, None) => {}
    }
    if let Some(codes) = &o.rationale_codes {
        s.push_str(&format!(" [{}]", codes.join(", ")));
    }
    if let Some(obl) = &o.obligations
        && !obl.is_empty()
    {
        s.push_str(&format!(
            " obligations {}",
            serde_json::to_string(obl).unwrap_or_default()
        ));
    }
    s
}

fn print_failure(file: &str, c: &CaseResult) {
    println!(
        "{file}:{}: FAIL `{}`: expected {} | actual {}",
        c.line,
        c.name,
        outcome(&c.expected),
        outcome(&c.actual)
    );
    if let Some(why) = &c.explanation {
        println!("    why: {why}");
    }
}

fn coverage_of(p: &UnderTest) -> Option<PolicyCoverage> {
    let policy = p.policy.as_ref()?;
    let mut rules = Vec::new();
    for r in policy.rules() {
        let cases = p
            .decided
            .get(&Some(r.rule_id.to_owned()))
            .copied()
            .unwrap_or(0);
        let (suggestion, suggestion_yaml) = if cases == 0 {
            suggest(policy, Some(r.rule_id), p.defaults.as_ref())
        } else {
            (None, None)
        };
        rules.push(RuleCoverage {
            rule_id: Some(r.rule_id.to_owned()),
            line: Some(r.line),
            cases,
            suggestion,
            suggestion_yaml,
        });
    }
    let cases = p.decided.get(&None).copied().unwrap_or(0);
    let (suggestion, suggestion_yaml) = if cases == 0 {
        suggest(policy, None, p.defaults.as_ref())
    } else {
        (None, None)
    };
    rules.push(RuleCoverage {
        rule_id: None,
        line: None,
        cases,
        suggestion,
        suggestion_yaml,
    });
    let total = rules.len() as u64;
    let covered = rules.iter().filter(|r| r.cases > 0).count() as u64;
    #[expect(clippy::cast_precision_loss, reason = "counts of rules")]
    let percent = if total == 0 {
        100.0
    } else {
        (covered as f64) * 100.0 / (total as f64)
    };
    Some(PolicyCoverage {
        policy: p.name.clone(),
        covered,
        total,
        percent,
        rules,
    })
}

/// A suggested case for the rule (or the default), as a request and as YAML. The
/// request is checked once more with the suite's `defaults` merged in, since that is
/// how it will run once pasted; a signal the defaults set and the request does not
/// is written as `null` (absent) when that is what keeps the decision.
fn suggest(
    policy: &Policy,
    rule_id: Option<&str>,
    defaults: Option<&Value>,
) -> (Option<EvaluateRequest>, Option<String>) {
    let Some(req) = policy.suggest_request(rule_id) else {
        return (None, None);
    };
    let Ok(mut body) = serde_json::to_value(&req) else {
        return (None, None);
    };
    let decides = |body: &Value| {
        let mut merged = defaults
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        deep_merge(&mut merged, body.clone());
        EvaluateRequest::from_value(&merged).ok().is_some_and(|r| {
            policy.check_request(&r).is_ok() && policy.evaluate(&r).matched_rule_id == rule_id
        })
    };
    if !decides(&body)
        && let Some(Value::Object(sig)) = defaults.and_then(|d| d.get("signals"))
    {
        let own = body
            .get("signals")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut nulls = own.clone();
        for k in sig.keys() {
            if !own.contains_key(k) {
                nulls.insert(k.clone(), Value::Null);
            }
        }
        body["signals"] = Value::Object(nulls);
    }
    if decides(&body) {
        minimise(&mut body, &decides);
    }
    let note = if decides(&body) {
        String::new()
    } else {
        "  # note: this suite's `defaults` change the decision of this request\n".to_owned()
    };
    let name = match rule_id {
        Some(id) => format!("{id} decides"),
        None => "the default decides".to_owned(),
    };
    let d = policy.evaluate(&req);
    let expect = match rule_id {
        Some(id) => format!(
            "{{ decision: {}, matched_rule_id: {id} }}",
            d.decision.as_str()
        ),
        None => format!("{{ decision: {}, default: true }}", d.decision.as_str()),
    };
    let yaml = format!(
        "- name: {}\n{note}  request: {}\n  expect: {expect}\n",
        yaml_scalar(&Value::String(name)),
        yaml_flow(&body)
    );
    (Some(req), Some(yaml))
}

/// Drops every field the case does not need (the suite's `defaults` fill it in, or
/// the decision does not depend on it), one at a time, keeping only drops after which
/// the request is still valid and still decided the same way.
fn minimise(body: &mut Value, decides: &dyn Fn(&Value) -> bool) {
    let mut paths: Vec<Vec<String>> = Vec::new();
    if let Value::Object(top) = &*body {
        for (k, v) in top {
            match v {
                Value::Object(inner) if !inner.is_empty() => {
                    for k2 in inner.keys() {
                        paths.push(vec![k.clone(), k2.clone()]);
                    }
                    paths.push(vec![k.clone()]);
                }
                _ => paths.push(vec![k.clone()]),
            }
        }
    }
    for path in paths {
        let mut trial = body.clone();
        let removed = match path.as_slice() {
            [a] => trial.as_object_mut().and_then(|m| m.remove(a)).is_some(),
            [a, b] => {
                let inner = trial.get_mut(a.as_str()).and_then(Value::as_object_mut);
                let gone = inner.as_ref().is_some_and(|m| m.contains_key(b));
                if let Some(m) = inner {
                    m.remove(b);
                    if m.is_empty() {
                        trial.as_object_mut().map(|t| t.remove(a));
                    }
                }
                gone
            }
            _ => false,
        };
        if removed && decides(&trial) {
            *body = trial;
        }
    }
}

/// A JSON value as a YAML flow node: plain scalars where YAML reads them back as the
/// same string, JSON quoting elsewhere (JSON strings are YAML strings).
fn yaml_flow(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "{}".to_owned(),
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        yaml_scalar(&Value::String(k.clone())),
                        yaml_flow(v)
                    )
                })
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(yaml_flow).collect();
            format!("[{}]", items.join(", "))
        }
        other => yaml_scalar(other),
    }
}

fn yaml_scalar(v: &Value) -> String {
    let Value::String(s) = v else {
        return v.to_string();
    };
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | ':'))
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "nan" | "inf"
        );
    if plain { s.clone() } else { v.to_string() }
}

fn print_coverage(cov: &[PolicyCoverage], min: Option<f64>) {
    for p in cov {
        println!(
            "coverage {}: {}/{} rules and default ({:.1}%){}",
            p.policy,
            p.covered,
            p.total,
            p.percent,
            match min {
                Some(m) if p.percent < m => format!(" - below the required {m}%"),
                _ => String::new(),
            }
        );
        for r in &p.rules {
            let what = match (&r.rule_id, r.line) {
                (Some(id), Some(line)) => format!("rule `{id}` (line {line})"),
                (Some(id), None) => format!("rule `{id}`"),
                (None, _) => "default".to_owned(),
            };
            if r.cases > 0 {
                println!(
                    "  covered    {what}: {} case{}",
                    r.cases,
                    if r.cases == 1 { "" } else { "s" }
                );
            } else {
                println!("  UNCOVERED  {what}");
                match &r.suggestion_yaml {
                    Some(y) => {
                        println!("    suggested case (paste under `cases:`):");
                        for line in y.lines() {
                            println!("      {line}");
                        }
                    }
                    None => println!(
                        "    no request found that it decides (a higher-priority rule may cover it)"
                    ),
                }
            }
        }
    }
}

fn write_junit(path: &Path, report: &TestReport) -> std::io::Result<()> {
    use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
    let mut junit = Junit::new("policygate test");
    for f in &report.files {
        let mut suite = TestSuite::new(f.file.clone());
        if !f.valid {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message("the test file or its policy is invalid");
            status.set_description(f.diagnostics.join("\n"));
            suite.add_test_case(TestCase::new("(test file)", status));
        }
        for c in &f.cases {
            let status = if c.passed {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!(
                    "expected {} | actual {}",
                    outcome(&c.expected),
                    outcome(&c.actual)
                ));
                s.set_description(format!(
                    "{}:{}: {}",
                    f.file,
                    c.line,
                    c.explanation.clone().unwrap_or_default()
                ));
                s
            };
            let mut tc = TestCase::new(c.name.clone(), status);
            tc.set_classname(f.file.clone());
            suite.add_test_case(tc);
        }
        junit.add_test_suite(suite);
    }
    let xml = junit
        .to_string()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::write(path, xml)
}
