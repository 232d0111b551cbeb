//! Shadow policy: the answers are the live policy's, byte for byte, with or without a
//! shadow; the audit events carry the shadow's outcome and say where it differs; the
//! metrics count live × shadow decision pairs.

use crate::common::{Harness, assert_valid, fixture, post_evaluate, request_json, schemas};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use policygate_core::LoadOptions;
use serde_json::Value;
use std::sync::Arc;

/// The fixture with public inference blocked and a tighter output cap.
fn candidate() -> Arc<policygate_core::Policy> {
    let text = std::fs::read_to_string(fixture("policy.yaml")).unwrap();
    let changed = text
        .replace("2026-11-25.1", "candidate")
        .replacen("decision: ALLOW", "decision: BLOCK", 1)
        .replace("max_tokens: 200", "max_tokens: 100");
    assert_ne!(changed, text);
    let (policy, report) = policygate_core::load(
        "candidate.yaml",
        changed.as_bytes(),
        &LoadOptions::default(),
    );
    Arc::new(policy.unwrap_or_else(|| panic!("{}", report.render_human(false))))
}

const CASES: [(&str, &str, bool); 6] = [
    ("infer:run", "public", true),     // ALLOW → BLOCK
    ("infer:run", "restricted", true), // same decision, other obligations
    ("infer:run", "internal", false),  // the default: BLOCK
    ("data:write", "internal", false),
    ("data:read", "public", false),
    ("tool:invoke", "restricted", false),
];

async fn answers(h: &Harness) -> Vec<(StatusCode, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, (action, sensitivity, _)) in CASES.iter().enumerate() {
        let mut body = request_json(action, sensitivity);
        body["request_id"] = Value::String(format!("case-{i}"));
        let reply = h.call(post_evaluate(body.to_string())).await;
        out.push((reply.status, reply.body));
    }
    out
}

#[tokio::test]
async fn answers_are_the_live_policys_and_the_audit_shows_the_differences() {
    let plain = Harness::new();
    let shadowed = Harness::new();
    let shadow = candidate();
    shadowed.state.set_shadow(Some(Arc::clone(&shadow)));

    let without = answers(&plain).await;
    let with = answers(&shadowed).await;
    assert_eq!(without, with, "a shadow policy changed an answer");
    assert!(with.iter().all(|(s, _)| *s == StatusCode::OK));

    let events = shadowed.sink.events();
    assert_eq!(events.len(), CASES.len());
    for (event, (action, sensitivity, differs)) in events.iter().zip(CASES) {
        assert_valid(&schemas().audit, event, "audit event with a shadow");
        let s = &event["shadow"];
        assert_eq!(s["policy"]["policy_version"], "candidate", "{event}");
        assert_eq!(s["differs"], differs, "{action} {sensitivity}: {event}");
        if action == "infer:run" && sensitivity == "public" {
            assert_eq!(event["evaluation"]["decision"], "ALLOW");
            assert_eq!(s["decision"], "BLOCK");
            assert_eq!(s["matched_rule_id"], "allow_public_infer");
            assert_eq!(s["rationale_codes"][0], "ALLOW_PUBLIC_INFER");
        } else {
            assert_eq!(s["decision"], event["evaluation"]["decision"], "{event}");
        }
    }
    // Without a shadow, events have no `shadow` member at all.
    assert!(
        plain
            .sink
            .events()
            .iter()
            .all(|e| e.get("shadow").is_none())
    );

    let metrics = shadowed
        .call(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    let text = String::from_utf8(metrics.body).unwrap();
    for line in [
        "policygate_shadow_decisions_total{live=\"ALLOW\",shadow=\"BLOCK\"} 1",
        "policygate_shadow_decisions_total{live=\"DEGRADE\",shadow=\"DEGRADE\"} 1",
        "policygate_shadow_decisions_total{live=\"REQUIRE_REVIEW\",shadow=\"REQUIRE_REVIEW\"} 1",
        "policygate_shadow_decisions_total{live=\"BLOCK\",shadow=\"BLOCK\"} 3",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    assert!(text.contains("policygate_shadow_policy_info{policy_id=\"policygate-server-tests\",policy_version=\"candidate\""));

    // Removing the shadow leaves the live decisions as they were.
    shadowed.state.set_shadow(None);
    assert_eq!(answers(&shadowed).await, without);
}
