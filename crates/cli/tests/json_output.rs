//! The JSON the real `policygate` binary prints, checked against the schemas under
//! `contracts/` (generated from `policygate-api`'s types): `validate --format json`
//! against the validation report, `eval` against the evaluate response.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code fails loudly"
)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    policygate_testkit::repo_root()
}

fn policygate(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_policygate"))
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (out.status.code().unwrap(), value)
}

fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("contracts").join(name)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{instance:#}");
}

/// Policies with errors of every stage, overlaps (with witnesses and related
/// locations), warnings, a valid policy and a file that does not exist.
#[test]
fn validate_json_follows_the_validation_report_schema() {
    let cases = repo().join("crates/core/tests/cases");
    let dir = std::env::temp_dir().join(format!("policygate-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut paths = vec![
        "policy/policy.yaml".to_owned(),
        "crates/server/tests/fixtures/invalid.yaml".to_owned(),
    ];
    for topic in ["errors", "overlap", "shadowing", "style"] {
        for entry in std::fs::read_dir(cases.join(topic)).unwrap() {
            let path = entry.unwrap().path();
            let case = std::fs::read_to_string(&path).unwrap();
            // The policy of a golden case is the block scalar under `policy: |`.
            let Some((_, rest)) = case.split_once("policy: |\n") else {
                continue;
            };
            let policy: String = rest
                .lines()
                .take_while(|l| l.starts_with("  ") || l.is_empty())
                .map(|l| format!("{}\n", l.get(2..).unwrap_or_default()))
                .collect();
            let name = format!("{topic}-{}", path.file_name().unwrap().to_string_lossy());
            std::fs::write(dir.join(&name), policy).unwrap();
            paths.push(dir.join(&name).display().to_string());
        }
    }
    paths.push("does/not/exist.yaml".to_owned());
    let schema = schema("validation_report.schema.json");
    for strict in [false, true] {
        let mut args = vec!["validate", "--format", "json"];
        if strict {
            args.push("--strict");
        }
        args.extend(paths.iter().map(String::as_str));
        let (code, report) = policygate(&args);
        assert_eq!(code, 2, "a file is missing");
        assert_valid(&schema, &report);
        let files = report["files"].as_array().unwrap();
        assert_eq!(files.len(), paths.len());
        assert_eq!(files[0]["valid"], true, "{:#}", files[0]);
        assert!(files[0]["policy"]["policy_sha256"].is_string());
        let findings: Vec<&Value> = files
            .iter()
            .filter_map(|f| f["errors"].as_array())
            .flatten()
            .collect();
        assert!(findings.iter().any(|f| f.get("witness").is_some()));
        assert!(findings.iter().any(|f| f.get("related").is_some()));
    }
}

#[test]
fn eval_json_follows_the_response_schema() {
    let schema = schema("evaluate_response.schema.json");
    let dir = std::env::temp_dir().join(format!("policygate-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (sensitivity, decision)) in [
        ("public", "ALLOW"),
        ("internal", "DEGRADE"),
        ("restricted", "REQUIRE_REVIEW"),
    ]
    .into_iter()
    .enumerate()
    {
        let request = dir.join(format!("r{i}.json"));
        std::fs::write(
            &request,
            format!(
                r#"{{"action":"infer:run","env":{{"name":"prod"}},"resource":{{"type":"document","sensitivity":"{sensitivity}"}}}}"#
            ),
        )
        .unwrap();
        let request = request.display().to_string();
        let (code, response) = policygate(&[
            "eval",
            "--policy",
            "policy/policy.yaml",
            "--request",
            &request,
        ]);
        assert_eq!(code, 0);
        assert_valid(&schema, &response);
        assert_eq!(response["decision"], decision, "{response:#}");
    }
}
