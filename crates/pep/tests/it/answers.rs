//! What the fake PDP (`policygate_testkit::pdp::FakePdp`) answers in these tests: a
//! small decision table and a builder of contract-valid answers.

use policygate_testkit::pdp::FakePdp;
use serde_json::{Value, json};
use std::time::Duration;

/// A PDP that decides like a small policy: `signals.force` names the decision if
/// set; otherwise public → ALLOW, internal → DEGRADE (OUTPUT_CAP max_tokens 3,
/// max_bytes 5), restricted → REQUIRE_REVIEW.
pub async fn deciding() -> FakePdp {
    FakePdp::start(Duration::ZERO, |req| (200, decide(req).to_string())).await
}

pub fn sha() -> String {
    "5e".repeat(32)
}

/// A contract-valid answer to `req`.
pub fn answer(req: &Value, decision: &str, codes: &[&str], obligations: Value) -> Value {
    let mut v = json!({
        "correlation_id": req.get("request_id").cloned().unwrap_or_else(|| json!("generated-1")),
        "decision": decision,
        "rationale_codes": codes,
        "policy": {"policy_id": "fake", "policy_version": "1", "policy_sha256": sha()},
        "matched_rule_id": format!("rule_{}", decision.to_lowercase()),
    });
    if decision == "DEGRADE" {
        v["obligations"] = obligations;
    }
    v
}

pub fn decide(req: &Value) -> Value {
    let forced = req["signals"]["force"].as_str();
    let sensitivity = req["resource"]["sensitivity"].as_str().unwrap_or_default();
    let cap = json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 3, "max_bytes": 5}}]);
    match (forced, sensitivity) {
        (Some("BLOCK"), _) => answer(req, "BLOCK", &["FORCED_BLOCK"], Value::Null),
        (Some(d), _) => answer(req, d, &["FORCED"], cap),
        (None, "public") => answer(req, "ALLOW", &["PUBLIC_OK"], Value::Null),
        (None, "internal") => answer(req, "DEGRADE", &["INTERNAL_CAP"], cap),
        _ => answer(req, "REQUIRE_REVIEW", &["RESTRICTED_REVIEW"], Value::Null),
    }
}
