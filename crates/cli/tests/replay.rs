//! The real `policygate replay`: counts, malformed lines with file:line, refusals
//! skipped, events that do not say what they cover never guessed, exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code fails loudly"
)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    policygate_testkit::repo_root()
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_policygate"));
    c.current_dir(repo());
    c
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("policygate-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn event(id: &str, decision: Value) -> String {
    json!({
        "event_type": "policygate.decision.evaluated", "event_version": "1.0",
        "occurred_at": "2026-12-01T10:00:00Z", "service_name": "policygate", "environment": null,
        "request_id": id, "trace_id": null, "span_id": null, "caller_id": null, "tenant_id": null,
        "policy": {"policy_id": "ai-gateway", "policy_version": "1", "policy_sha256": "a".repeat(64)},
        "evaluation": {"action": "infer:run", "resource_type": "document", "decision": decision,
            "matched_rule_id": "allow_public_inference", "default_applied": false,
            "rationale_codes": ["ALLOW_PUBLIC_INFER"], "obligations": []},
        "decision_context": {"env": {"name": "prod"}, "resource": {"sensitivity": "public"}},
        "latency_ms": 0.1
    })
    .to_string()
}

#[test]
fn counts_every_line_and_never_guesses_unrecorded_facts() {
    let log = [
        event("a", json!("ALLOW")),
        String::new(),
        event("b", Value::Null),
        "{not json".to_owned(),
        event("c", json!("ALLOW")),
        r#"{"event_type": "something.else"}"#.to_owned(),
    ]
    .join("\n");
    let path = temp_file("audit.jsonl", &log);
    let changes = path.with_file_name("changes.jsonl");
    let out = bin()
        .args([
            "replay",
            "--policy",
            "policy/policy.yaml",
            "--format",
            "json",
            "--changes",
        ])
        .arg(&changes)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["events_read"], 3);
    assert_eq!(r["refusals_skipped"], 1);
    assert_eq!(r["replayed"], 0);
    assert_eq!(r["changed"], 0);
    assert_eq!(r["not_replayable"], 2);
    assert!(
        r["not_replayable_reasons"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("does not say which facts its decision_context covers")
    );
    assert_eq!(r["malformed"], 2);
    let name = path.display().to_string();
    assert_eq!(r["malformed_lines"][0]["file"], name.as_str());
    assert_eq!(r["malformed_lines"][0]["line"], 4);
    assert!(
        r["malformed_lines"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("not JSON")
    );
    assert_eq!(r["malformed_lines"][1]["line"], 6);
    assert_eq!(std::fs::read_to_string(&changes).unwrap(), "");
}

#[test]
fn an_invalid_policy_or_missing_log_exits_2() {
    let log = temp_file("one.jsonl", &event("a", json!("ALLOW")));
    let out = bin()
        .args(["replay", "--policy", "policy/none.yaml"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["replay", "--policy", "policy/policy.yaml", "no/such.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read audit log `no/such.jsonl`"));
}

/// A trail the real server wrote (opening event included), with the policy that wrote
/// it: every decision is replayed and none changes. With one output cap edited, exactly
/// the DEGRADE decisions change. With `--audit-context none`, the events say they hold
/// only `action`, `resource.type` and `caller.id`, so nothing is guessed.
#[test]
fn a_real_trail_replays_unchanged_under_its_own_policy() {
    let dir = std::env::temp_dir().join(format!("policygate-replay-real-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = repo().join("policy/policy.yaml");
    let record = |audit: &Path, context: &str| {
        let _ = std::fs::remove_file(audit);
        let server = policygate_testkit::Serve::new(env!("CARGO_BIN_EXE_policygate"))
            .policy(&policy)
            .args([
                "--audit-file",
                audit.to_str().unwrap(),
                "--audit-context",
                context,
            ])
            .start();
        for name in [
            "allow",
            "block",
            "default_block",
            "degrade",
            "require_review",
        ] {
            let body = std::fs::read_to_string(
                repo().join(format!("policy/examples/requests/{name}.json")),
            )
            .unwrap();
            let reply = policygate_testkit::http::call(
                server.addr(),
                "POST",
                "/evaluate",
                &[policygate_testkit::http::JSON],
                &body,
            )
            .unwrap();
            assert_eq!(reply.status, 200, "{name}: {}", reply.text());
        }
        server.signal("TERM");
        assert_eq!(server.wait().status.code(), Some(0));
    };
    let replay = |policy: &Path, audit: &Path| -> (i32, Value) {
        let out = bin()
            .args(["replay", "--format", "json", "--policy"])
            .arg(policy)
            .arg(audit)
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap(), report)
    };

    let tested = dir.join("tested.jsonl");
    record(&tested, "tested");
    let (code, report) = replay(&policy, &tested);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["replayed"], 5, "{report:#}");
    assert_eq!(report["unchanged"], 5, "{report:#}");
    assert_eq!(report["changed"], 0, "{report:#}");
    assert_eq!(
        report["other_events_skipped"], 1,
        "the opening event: {report:#}"
    );
    assert_eq!(report["malformed"], 0, "{report:#}");

    let text = std::fs::read_to_string(&policy).unwrap();
    assert!(text.contains("max_tokens: 256"));
    let edited = dir.join("edited.yaml");
    std::fs::write(&edited, text.replace("max_tokens: 256", "max_tokens: 128")).unwrap();
    let (code, report) = replay(&edited, &tested);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        report["changed"], 1,
        "only the DEGRADE decision: {report:#}"
    );
    assert_eq!(report["unchanged"], 4, "{report:#}");

    let none = dir.join("none.jsonl");
    record(&none, "none");
    let (_, report) = replay(&policy, &none);
    assert_eq!(report["replayed"], 0, "{report:#}");
    assert_eq!(report["not_replayable"], 5, "{report:#}");
    let missing: Vec<&str> = report["missing_facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["fact"].as_str().unwrap())
        .collect();
    assert!(missing.contains(&"resource.sensitivity"), "{missing:?}");
}
