//! `policygate audit verify` on trails written by the real `policygate serve`: a clean
//! trail verifies (and keeps verifying across a restart on the same file), an edited
//! line is reported at the line after it with exit 1, a torn final line is reported as
//! such (exit 0) and the next start seals it, and `--format json` follows its contract.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use policygate_testkit::http::{self, JSON};
use policygate_testkit::{Serve, repo_root};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_policygate");

fn scratch(name: &str) -> PathBuf {
    policygate_testkit::scratch_file(env!("CARGO_TARGET_TMPDIR"), "audit-verify-tests", name)
}

/// Serves on `audit`, sends `n` decisions, stops with SIGTERM.
fn serve_and_stop(audit: &Path, n: usize) {
    serve_and_stop_with(audit, n, &[]);
}

fn serve_and_stop_with(audit: &Path, n: usize, extra: &[&str]) {
    let server = Serve::new(BIN)
        .args(["--audit-file", audit.to_str().unwrap()])
        .args(extra)
        .start();
    for i in 0..n {
        let body = format!(
            r#"{{"request_id":"v-{i}","action":"infer:run","env":{{"name":"prod"}},"resource":{{"type":"document","sensitivity":"public"}}}}"#
        );
        let reply = http::call(server.addr(), "POST", "/evaluate", &[JSON], &body).unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    server.signal("TERM");
    assert_eq!(server.wait().status.code(), Some(0));
}

fn verify(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("audit")
        .arg("verify")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn a_trail_verifies_across_restarts_and_an_edit_is_found() {
    let audit = scratch("trail.jsonl");
    serve_and_stop(&audit, 4);
    serve_and_stop(&audit, 3);
    let path = audit.to_str().unwrap();
    let (code, out) = verify(&[path]);
    assert_eq!(code, 0, "{out}");
    // Two opening events and seven decisions, one chain.
    assert!(
        out.contains(&format!("{path}: 9/9 events valid (seq 1..9)")),
        "{out}"
    );
    assert!(
        out.contains("total: 1/1 files valid, 9/9 events valid: the trail verifies"),
        "{out}"
    );

    // A decision turned around after the fact.
    let text = std::fs::read_to_string(&audit).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert!(lines[2].contains("\"request_id\":\"v-1\""));
    lines[2] = lines[2].replace("\"decision\":\"ALLOW\"", "\"decision\":\"BLOCK\"");
    std::fs::write(&audit, lines.join("\n") + "\n").unwrap();
    let (code, out) = verify(&[path]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("first break at {path}:4: prev_hash_mismatch")),
        "{out}"
    );
    assert!(out.contains("the trail does NOT verify"), "{out}");
}

#[test]
fn a_torn_tail_is_reported_then_sealed_by_the_next_start() {
    let audit = scratch("torn.jsonl");
    serve_and_stop(&audit, 3);
    let mut bytes = std::fs::read(&audit).unwrap();
    bytes.truncate(bytes.len() - 30);
    std::fs::write(&audit, &bytes).unwrap();
    let path = audit.to_str().unwrap();
    let (code, out) = verify(&[path]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3/3 events valid"), "{out}");
    assert!(
        out.contains("torn final line (") && out.contains("not tampering"),
        "{out}"
    );

    serve_and_stop(&audit, 1);
    let (code, out) = verify(&[path]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("5/5 events valid"), "{out}");
    assert!(
        out.contains("1 torn line(s) sealed off by a restart"),
        "{out}"
    );
    let text = std::fs::read_to_string(&audit).unwrap();
    let opening: Value = serde_json::from_str(text.lines().nth(4).unwrap()).unwrap();
    assert_eq!(opening["event_type"], "policygate.audit.opened");
    assert!(opening["torn_tail_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn json_report_follows_its_contract_and_unreadable_files_exit_2() {
    let audit = scratch("json.jsonl");
    serve_and_stop(&audit, 2);
    let missing = scratch("missing.jsonl");
    let (code, out) = verify(&[
        "--format",
        "json",
        audit.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let schema_text =
        std::fs::read_to_string(repo_root().join("contracts/audit_verify_report.schema.json"))
            .unwrap();
    let schema: Value = serde_json::from_str(&schema_text).unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{report:#}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["total"]["events"], 3);
    assert_eq!(report["files"][0]["valid_events"], 3);
    assert_eq!(report["files"][1]["breaks"][0]["reason"], "unreadable");
}

#[test]
fn signed_checkpoints_are_checked_with_the_public_key() {
    let audit = scratch("signed.jsonl");
    let key = scratch("signing.key");
    std::fs::write(&key, "07".repeat(32) + "\n").unwrap();
    serve_and_stop_with(
        &audit,
        5,
        &[
            "--audit-signing-key",
            key.to_str().unwrap(),
            "--audit-checkpoint-events",
            "2",
        ],
    );
    let text = std::fs::read_to_string(&audit).unwrap();
    let checkpoints: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event_type"] == "policygate.audit.checkpoint")
        .collect();
    assert!(checkpoints.len() >= 2, "{text}");
    let public = checkpoints[0]["public_key"].as_str().unwrap().to_owned();
    let path = audit.to_str().unwrap();
    let (code, out) = verify(&["--verify-key", &public, path]);
    assert_eq!(code, 0, "{out}");
    // The last line is the shutdown checkpoint: everything before it is signed.
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["event_type"], "policygate.audit.checkpoint");
    let signed = last["head_seq"].as_u64().unwrap();
    assert!(
        out.contains(&format!(
            "every line up to seq {signed} is covered by a verified checkpoint; 1 line(s) after it"
        )),
        "{out}"
    );
    // Another key: the checkpoints do not verify.
    let (code, out) = verify(&["--verify-key", &"ab".repeat(32), path]);
    assert_ne!(code, 0, "{out}");
    let (code, _) = verify(&["--verify-key", "nonsense", path]);
    assert_eq!(code, 2);
}
