//! The real `policygate` binary: `test` (suites, coverage, JUnit, exit codes) and
//! `explain` (human and JSON, deterministic), and `--help` texts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code fails loudly"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_policygate"));
    c.current_dir(repo());
    c
}

fn repo() -> PathBuf {
    policygate_testkit::repo_root()
}

/// A fresh directory per test.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("policygate-tooling-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.stdin(Stdio::null()).output().unwrap();
    (
        status.code().unwrap(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

const POLICY: &str = r#"policy_id: t
policy_version: "1"
default: { decision: BLOCK, rationale_codes: [DENY] }
rules:
  - rule_id: block_risky
    priority: 100
    when: { signals: { risk: { gte: 0.9 } } }
    then: { decision: BLOCK, rationale_codes: [RISK] }
  - rule_id: allow_public
    priority: 10
    when: { action: infer:run, resource: { sensitivity: public } }
    then: { decision: ALLOW, rationale_codes: [PUBLIC] }
  - rule_id: allow_reads
    priority: 10
    when: { action: data:read }
    then: { decision: ALLOW, rationale_codes: [READ] }
"#;

fn suite(d: &Path, name: &str, cases: &str) -> PathBuf {
    std::fs::write(d.join("policy.yaml"), POLICY).unwrap();
    let p = d.join(name);
    std::fs::write(
        &p,
        format!(
            "policy: policy.yaml\ndefaults:\n  env: {{ name: prod }}\n  resource: {{ type: doc, sensitivity: internal }}\ncases:\n{cases}"
        ),
    )
    .unwrap();
    p
}

const PASSING: &str = "  - name: public inference
    request: { action: infer:run, resource: { sensitivity: public } }
    expect: { decision: ALLOW, matched_rule_id: allow_public, rationale_codes: [PUBLIC] }
";

const FAILING: &str = "  - name: internal inference is allowed (wrong)
    request: { action: infer:run }
    expect: { decision: ALLOW, matched_rule_id: allow_public }
";

#[test]
fn the_example_policy_suite_passes_with_full_coverage() {
    let (code, out, err) =
        run(bin().args(["test", "--coverage", "--min-coverage", "100", "policy/"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("coverage policy/policy.yaml: 15/15"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
}

#[test]
fn a_failing_case_names_its_line_both_outcomes_and_why() {
    let d = dir("failing");
    suite(&d, "a_test.yaml", &format!("{PASSING}{FAILING}"));
    let (code, out, _) = run(bin().arg("test").arg(&d));
    assert_eq!(code, 1, "{out}");
    let fail = out.lines().find(|l| l.contains("FAIL")).unwrap();
    assert!(fail.contains("a_test.yaml:9: FAIL"), "{fail}");
    assert!(
        fail.contains("expected ALLOW by rule `allow_public`"),
        "{fail}"
    );
    assert!(fail.contains("actual BLOCK by the default"), "{fail}");
    assert!(
        out.contains("`allow_public` did not match: `resource.sensitivity` eq \"public\" is false: the request has \"internal\""),
        "{out}"
    );
    assert_eq!(out.lines().last().unwrap(), "1 passed, 1 failed");
}

#[test]
fn filter_json_and_junit() {
    let d = dir("json");
    suite(&d, "a_test.yaml", &format!("{PASSING}{FAILING}"));
    let junit = d.join("junit.xml");
    let (code, out, _) = run(bin()
        .arg("test")
        .arg(&d)
        .args(["--format", "json", "--junit"])
        .arg(&junit));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["passed"].as_u64(), v["failed"].as_u64()),
        (Some(1), Some(1))
    );
    let cases = v["files"][0]["cases"].as_array().unwrap();
    assert_eq!(cases[1]["actual"]["default"], true);
    assert!(
        cases[1]["explanation"]
            .as_str()
            .unwrap()
            .contains("did not match")
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testcase name=\"public inference\""), "{xml}");
    assert!(
        xml.contains("<failure message=\"expected ALLOW by rule"),
        "{xml}"
    );

    let (code, out, _) = run(bin()
        .arg("test")
        .arg(&d)
        .args(["--filter", "public inference"]));
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().last().unwrap(), "1 passed, 0 failed");
}

#[test]
fn coverage_names_uncovered_rules_with_a_case_that_passes_when_pasted() {
    let d = dir("coverage");
    let f = suite(&d, "a_test.yaml", PASSING);
    let (code, out, _) =
        run(bin()
            .arg("test")
            .arg(&d)
            .args(["--coverage", "--min-coverage", "50"]));
    assert_eq!(code, 1, "below 50%: {out}");
    assert!(out.contains("coverage"), "{out}");
    assert!(out.contains("1/4"), "{out}");
    assert!(
        out.contains("UNCOVERED  rule `block_risky` (line 5)"),
        "{out}"
    );
    // Paste every suggestion into the suite: everything is then covered and passes.
    let (_, json, _) = run(bin()
        .arg("test")
        .arg(&d)
        .args(["--coverage", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut text = std::fs::read_to_string(&f).unwrap();
    for r in v["coverage"][0]["rules"].as_array().unwrap() {
        if let Some(y) = r["suggestion_yaml"].as_str() {
            for line in y.lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
    }
    std::fs::write(&f, text).unwrap();
    let (code, out, err) =
        run(bin()
            .arg("test")
            .arg(&d)
            .args(["--coverage", "--min-coverage", "100"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4/4"), "{out}");
    assert_eq!(out.lines().last().unwrap(), "4 passed, 0 failed");
}

#[test]
fn invalid_test_files_are_errors_not_failures() {
    let d = dir("invalid");
    suite(
        &d,
        "a_test.yaml",
        "  - name: same
    request: { action: infer:run }
    expect: { decision: BLOCK }
  - name: same
    request: { action: infer:run }
    expect: { decision: BLOCK, matched_rule: x }
",
    );
    let (code, _, err) = run(bin().arg("test").arg(&d));
    assert_eq!(code, 1);
    assert!(
        err.contains("a_test.yaml:11:32: error[policygate::parse::unknown_key]"),
        "{err}"
    );
    assert!(err.contains("did you mean `matched_rule_id`?"), "{err}");
    assert!(
        err.contains("a_test.yaml:9:11: error[policygate::test::duplicate_case_name]"),
        "{err}"
    );

    let d = dir("notrequest");
    suite(
        &d,
        "a_test.yaml",
        "  - name: no action
    request: { resource: { sensitivity: secret } }
    expect: { decision: BLOCK, matched_rule_id: allow_publik }
",
    );
    let (code, out, err) = run(bin().arg("test").arg(&d));
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("policygate::test::invalid_request"), "{err}");
    assert!(err.contains("/action"), "{err}");
    assert!(err.contains("/resource/sensitivity"), "{err}");
    assert_eq!(out.lines().last().unwrap(), "0 passed, 0 failed");
}

#[test]
fn no_test_file_is_exit_1_and_unreadable_paths_exit_2() {
    let d = dir("empty");
    let (code, _, err) = run(bin().arg("test").arg(&d));
    assert_eq!(code, 1);
    assert!(err.contains("no test file found"), "{err}");
    let (code, _, err) = run(bin().args(["test", "/nonexistent/policygate"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(bin().args(["test", "--min-coverage", "120", "policy/"]));
    assert_eq!(code, 2);
}

#[test]
fn explain_is_deterministic_and_agrees_with_eval() {
    let req = "policy/examples/requests/degrade.json";
    let args = [
        "explain",
        "--policy",
        "policy/policy.yaml",
        "--request",
        req,
        "--format",
        "json",
    ];
    let (code, a, err) = run(bin().args(args));
    assert_eq!(code, 0, "{err}");
    let (_, b, _) = run(bin().args(args));
    assert_eq!(a, b, "same inputs, same bytes");
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    let (_, eval, _) =
        run(bin().args(["eval", "--policy", "policy/policy.yaml", "--request", req]));
    let e: serde_json::Value = serde_json::from_str(&eval).unwrap();
    assert_eq!(v["response"]["decision"], e["decision"]);
    assert_eq!(v["response"]["matched_rule_id"], e["matched_rule_id"]);
    let trace = v["trace"].as_array().unwrap();
    assert_eq!(trace.last().unwrap()["decided"], true);
    assert_eq!(trace.last().unwrap()["rule_id"], e["matched_rule_id"]);
    assert!(
        trace[..trace.len() - 1]
            .iter()
            .all(|s| s["matched"] == false && s["failed"].is_object())
    );

    let (code, human, _) = run(bin().args([
        "explain",
        "--policy",
        "policy/policy.yaml",
        "--request",
        req,
        "--all",
    ]));
    assert_eq!(code, 0);
    assert!(
        human.starts_with("decision: DEGRADE by rule `degrade_internal_inference`"),
        "{human}"
    );
    assert!(human.contains("not matched  block_high_risk (priority 1000, line 23): `signals.risk_score` gte 0.9 is false"), "{human}");
    assert!(
        human.contains("matched      degrade_internal_inference (priority 300, line 99): decides"),
        "{human}"
    );
    assert_eq!(
        human.lines().filter(|l| l.contains("(priority ")).count(),
        14,
        "--all lists every rule"
    );
}

/// Issue 12: `--help` texts speak the user's language, not Rust's.
#[test]
fn help_texts_contain_no_rust_identifiers() {
    for sub in [
        "",
        "serve",
        "validate",
        "eval",
        "test",
        "explain",
        "healthcheck",
    ] {
        let mut c = bin();
        if !sub.is_empty() {
            c.arg(sub);
        }
        let (code, out, _) = run(c.arg("--help"));
        assert_eq!(code, 0);
        for word in out.split(|c: char| !(c.is_alphanumeric() || c == ':' || c == '_' || c == '<'))
        {
            // Product names are not identifiers.
            if ["JUnit", "PolicyGate"].contains(&word) {
                continue;
            }
            let camel = word.chars().next().is_some_and(char::is_uppercase)
                && word.chars().skip(1).any(char::is_uppercase)
                && word.chars().any(char::is_lowercase);
            assert!(
                !camel,
                "`{sub} --help` shows the Rust identifier `{word}`:\n{out}"
            );
            assert!(
                !word.contains("::"),
                "`{sub} --help` shows the Rust path `{word}`:\n{out}"
            );
            for rust in [
                "Option<", "Vec<", "PathBuf", "String", "usize", "u64", "u32",
            ] {
                assert!(
                    !word.starts_with(rust),
                    "`{sub} --help` shows `{word}`:\n{out}"
                );
            }
        }
    }
}
