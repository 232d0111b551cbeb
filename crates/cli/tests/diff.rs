//! The real `policygate diff`: exit codes, the human and JSON reports, and witnesses
//! that `policygate eval` confirms.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code fails loudly"
)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    policygate_testkit::repo_root()
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_policygate"));
    c.current_dir(repo());
    c
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("policygate-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The example policy with the risk threshold lowered and an output cap halved.
fn edited_example() -> PathBuf {
    let text = std::fs::read_to_string(repo().join("policy/policy.yaml")).unwrap();
    let edited = text
        .replace("risk_score: { gte: 0.9 }", "risk_score: { gte: 0.8 }")
        .replace("max_tokens: 256 }", "max_tokens: 128 }");
    assert_ne!(text, edited);
    temp_file("edited.yaml", &edited)
}

fn eval(policy: &Path, request: &Value) -> Value {
    let mut child = bin()
        .args(["eval", "--policy"])
        .arg(policy)
        .args(["--request", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        request.to_string().as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn identical_policies_exit_0() {
    let (code, out, _) = run(bin().args(["diff", "policy/policy.yaml", "policy/policy.yaml"]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("\nequivalent: 0 changes in outcome, 0 undecided"),
        "{out}"
    );
}

#[test]
fn changes_exit_1_with_witnesses_that_eval_confirms_and_a_schema_valid_report() {
    let new = edited_example();
    let old = repo().join("policy/policy.yaml");
    let (code, out, _) = run(bin()
        .args(["diff", "--format", "json", "policy/policy.yaml"])
        .arg(&new));
    assert_eq!(code, 1, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("contracts/diff_report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(report["equivalent"], false);
    assert_eq!(
        report["changed_rules"]["old"],
        serde_json::json!(["block_high_risk", "degrade_internal_inference"])
    );
    let changes = report["changes"].as_array().unwrap();
    // Every rule below the risk guard loses the requests scored 0.8..0.9, and the
    // internal-inference cap changes.
    assert!(changes.len() > 5, "{report:#}");
    assert!(
        changes
            .iter()
            .any(|c| c["old"]["rule_id"] == "degrade_internal_inference"
                && c["new"]["rule_id"] == "degrade_internal_inference")
    );
    assert!(changes.iter().any(|c| c["old"]["rule_id"].is_null()));
    for c in changes {
        let a = eval(&old, &c["witness"]);
        let b = eval(&new, &c["witness"]);
        for (got, want) in [(&a, &c["old"]), (&b, &c["new"])] {
            assert_eq!(got["decision"], want["decision"]);
            assert_eq!(got["rationale_codes"], want["rationale_codes"]);
            assert_eq!(
                got.get("matched_rule_id").unwrap_or(&Value::Null),
                &want["rule_id"]
            );
        }
    }
}

#[test]
fn a_rename_is_equivalent_and_listed_only_with_rules() {
    let text = std::fs::read_to_string(repo().join("policy/policy.yaml")).unwrap();
    let renamed = temp_file(
        "renamed.yaml",
        &text.replace(
            "rule_id: allow_public_inference",
            "rule_id: allow_public_infer",
        ),
    );
    let (code, out, _) = run(bin().args(["diff", "policy/policy.yaml"]).arg(&renamed));
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(bin()
        .args(["diff", "--rules", "policy/policy.yaml"])
        .arg(&renamed));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("same outcome, other rule:"), "{out}");
    assert!(out.contains("rule `allow_public_infer`: ALLOW"), "{out}");
}

#[test]
fn an_invalid_or_missing_policy_exits_2_with_its_diagnostics() {
    let bad = temp_file(
        "bad.yaml",
        "policy_id: p\npolicy_version: \"1\"\ndefault: {decision: BLOCK, rationale_codes: [D]}\nrules:\n  - rule_id: a\n    priority: 1\n    when: {action: infer:runn}\n    then: {decision: ALLOW, rationale_codes: [A]}\n",
    );
    let (code, out, err) = run(bin().args(["diff", "policy/policy.yaml"]).arg(&bad));
    assert_eq!(code, 2, "{out}");
    assert!(out.is_empty());
    assert!(
        err.contains("error[policygate::validate::invalid_literal]"),
        "{err}"
    );
    let (code, _, err) = run(bin().args(["diff", "policy/none.yaml", "policy/policy.yaml"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read policy file `policy/none.yaml`"),
        "{err}"
    );
}
