//! The real `policygate` binary: exit codes and outputs of `validate` and `eval`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code fails loudly"
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_policygate"));
    c.current_dir(repo());
    c
}

fn repo() -> PathBuf {
    policygate_testkit::repo_root()
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("policygate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().unwrap(),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

#[test]
fn validate_accepts_the_example_policy() {
    let (code, out, _) = run(bin().args(["validate", "policy/policy.yaml"]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("policy/policy.yaml: valid"), "{out}");
}

#[test]
fn validate_reports_every_problem_with_locations_and_exit_1() {
    let bad = temp_file(
        "bad.yaml",
        "policy_id: p\npolicy_version: \"1\"\nprority: 1\ndefault: {decision: BLOCK, rationale_codes: [D]}\nrules:\n  - rule_id: a\n    priority: 1\n    when: {action: infer:runn}\n    then: {decision: ALLOW, rationale_codes: [A]}\n",
    );
    let (code, out, _) = run(bin().args(["validate"]).arg(&bad));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(":3:1: error[policygate::parse::unknown_key]"),
        "{out}"
    );
    assert!(
        out.contains(":8:20: error[policygate::validate::invalid_literal]"),
        "{out}"
    );
    assert!(out.contains("did you mean `infer:run`?"), "{out}");

    let (code, out, _) = run(bin().args(["validate", "--format", "json"]).arg(&bad));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["valid"], false);
    let errors = v["files"][0]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[1]["code"], "policygate::validate::invalid_literal");
    assert_eq!(errors[1]["line"], 8);
    assert_eq!(errors[1]["rule_id"], "a");
}

#[test]
fn strict_turns_warnings_into_failure() {
    let shadowed = temp_file(
        "shadowed.yaml",
        "policy_id: p\npolicy_version: \"1\"\ndefault: {decision: BLOCK, rationale_codes: [D]}\nrules:\n  - rule_id: broad\n    priority: 2\n    when: {action: data:read}\n    then: {decision: BLOCK, rationale_codes: [B]}\n  - rule_id: narrow\n    priority: 1\n    when: {action: data:read, env: {name: prod}}\n    then: {decision: ALLOW, rationale_codes: [N]}\n",
    );
    let (code, out, _) = run(bin().args(["validate"]).arg(&shadowed));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("warning[policygate::validate::shadowed_rule]"),
        "{out}"
    );
    let (code, out, _) = run(bin().args(["validate", "--strict"]).arg(&shadowed));
    assert_eq!(code, 1, "{out}");
}

#[test]
fn missing_file_is_exit_2() {
    let (code, _, err) = run(bin().args(["validate", "does/not/exist.yaml"]));
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn eval_prints_the_contract_response() {
    let mut child = bin()
        .args(["eval", "--policy", "policy/policy.yaml", "--request", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"request_id":"req-9","action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","sensitivity":"internal"}}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["correlation_id"], "req-9");
    assert_eq!(v["decision"], "DEGRADE");
    assert_eq!(v["obligations"][0]["params"]["max_tokens"], 256);
    assert_eq!(v["matched_rule_id"], "degrade_internal_inference");
    assert_eq!(v["policy"]["policy_sha256"].as_str().unwrap().len(), 64);
    // Field order is part of the contract.
    let keys: Vec<&str> = [
        "correlation_id",
        "decision",
        "rationale_codes",
        "obligations",
        "policy",
        "matched_rule_id",
    ]
    .to_vec();
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn eval_rejects_a_request_that_breaks_the_contract() {
    let req = temp_file(
        "bad-request.json",
        r#"{"action":"infer:runn","env":{"name":"prod"},"resource":{"type":"document"}}"#,
    );
    let (code, out, err) = run(bin()
        .args(["eval", "--policy", "policy/policy.yaml", "--request"])
        .arg(&req));
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("/action: `infer:runn` is not one of"), "{err}");
    assert!(
        err.contains("/resource/sensitivity: required field is missing"),
        "{err}"
    );
}

#[test]
fn eval_default_decision_has_no_matched_rule() {
    let req = temp_file(
        "default.json",
        r#"{"action":"data:write","env":{"name":"prod"},"resource":{"type":"document","sensitivity":"public"}}"#,
    );
    let (code, out, _) = run(bin()
        .args(["eval", "--policy", "policy/policy.yaml", "--request"])
        .arg(&req));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"], "BLOCK");
    assert_eq!(v["rationale_codes"][0], "POLICY_DEFAULT_DENY");
    assert!(v.get("matched_rule_id").is_none());
    assert!(v.get("obligations").is_none());
}

#[test]
fn every_example_request_evaluates() {
    let dir = repo().join("policy/examples/requests");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let (code, out, err) = run(bin()
            .args(["eval", "--policy", "policy/policy.yaml", "--request"])
            .arg(&path));
        if name == "wrong_signal_type" {
            assert_eq!(code, 1, "{name}: {out}{err}");
            continue;
        }
        assert_eq!(code, 0, "{name}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let want = match name.as_str() {
            "default_block" => "BLOCK",
            other => &other.to_uppercase(),
        };
        assert_eq!(v["decision"], want, "{name}");
        n += 1;
    }
    assert!(n >= 4);
}

/// A word that reads like a Rust item: `a::b` paths or CamelCase type names.
fn rust_identifiers(text: &str) -> Vec<String> {
    let mut found: Vec<String> = text
        .split_whitespace()
        .filter(|w| w.contains("::"))
        .map(str::to_owned)
        .collect();
    found.extend(
        text.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| {
                let b = w.as_bytes();
                b.first().is_some_and(u8::is_ascii_uppercase)
                    && b.windows(2)
                        .any(|p| p[0].is_ascii_lowercase() && p[1].is_ascii_uppercase())
            })
            .map(str::to_owned),
    );
    found
}

#[test]
fn help_texts_name_no_rust_items() {
    assert_eq!(
        rust_identifiers("see EvaluateResponse or a::b"),
        ["a::b", "EvaluateResponse"]
    );
    for command in [
        &["--help"][..],
        &["serve", "--help"],
        &["validate", "--help"],
        &["eval", "--help"],
        &["healthcheck", "--help"],
    ] {
        let (code, out, err) = run(bin().args(command));
        assert_eq!(code, 0, "{command:?}: {err}");
        assert!(out.contains("Usage: policygate"), "{command:?}: {out}");
        let found = rust_identifiers(&out);
        assert!(found.is_empty(), "{command:?} names {found:?}:\n{out}");
    }
}

#[test]
fn eval_reports_an_unreadable_or_invalid_policy_like_serve() {
    let (code, out, err) =
        run(bin().args(["eval", "--policy", "does/not/exist.yaml", "--request", "-"]));
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("cannot read policy file `does/not/exist.yaml`"),
        "{err}"
    );
    assert!(err.contains("help: pass an existing policy file with --policy"));

    let invalid = temp_file(
        "invalid-for-eval.yaml",
        "policy_id: p\npolicy_version: \"1\"\nprority: 1\ndefault: {decision: BLOCK, rationale_codes: [D]}\nrules: []\n",
    );
    let (code, out, err) = run(bin()
        .args(["eval", "--request", "-", "--policy"])
        .arg(&invalid));
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("policygate::parse::unknown_key"), "{err}");
    assert!(err.contains("is invalid; nothing was evaluated"), "{err}");
}
