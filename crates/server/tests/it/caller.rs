//! `caller.id`: the authenticated caller (the bearer token's name) is a fact rules
//! test; a body cannot set it; with auth off it is absent.

use crate::common::{MemorySink, TOKEN_CHECKOUT, tokens};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use policygate_core::LoadOptions;
use policygate_server::{AppState, AuditSink, AuditWriter, ServerConfig, app};
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

const POLICY: &str = r#"
policy_id: caller-test
policy_version: "1"
default: { decision: BLOCK, rationale_codes: [DENY] }
rules:
  - rule_id: checkout_may_write
    priority: 10
    when: { action: data:write, caller: { id: checkout } }
    then: { decision: ALLOW, rationale_codes: [CHECKOUT_WRITE] }
"#;

fn state(auth: bool) -> (AppState, MemorySink, AuditWriter) {
    let (policy, report) =
        policygate_core::load("p.yaml", POLICY.as_bytes(), &LoadOptions::default());
    let policy = policy.unwrap_or_else(|| panic!("{}", report.render_human(false)));
    let sink = MemorySink::default();
    let (audit, writer) = AuditSink::open(Box::new(sink.clone()));
    let state = AppState::new(
        Arc::new(policy),
        audit,
        auth.then(tokens),
        ServerConfig::default(),
    );
    (state, sink, writer)
}

async fn post(state: &AppState, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut request = Request::post("/evaluate").header("content-type", "application/json");
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn write() -> Value {
    json!({"action": "data:write", "env": {"name": "prod"},
           "resource": {"type": "document", "sensitivity": "internal"}})
}

#[tokio::test]
async fn the_authenticated_caller_decides_and_the_body_cannot_claim_it() {
    let (on, sink, writer) = state(true);
    let (status, answer) = post(&on, Some(TOKEN_CHECKOUT), &write()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["decision"], "ALLOW");
    assert_eq!(answer["matched_rule_id"], "checkout_may_write");
    let (_, answer) = post(&on, Some("test-token-batch-jobs-9876543210"), &write()).await;
    assert_eq!(answer["decision"], "BLOCK");

    // A body that claims a caller is refused by the contract.
    let mut claim = write();
    claim["caller"] = json!({"id": "checkout"});
    let (status, answer) = post(&on, Some("test-token-batch-jobs-9876543210"), &claim).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["details"][0]["path"], "/caller");
    let callers: Vec<Value> = sink
        .events()
        .iter()
        .map(|e| e["caller_id"].clone())
        .collect();
    assert_eq!(
        callers,
        [json!("checkout"), json!("batch-jobs"), json!("batch-jobs")]
    );

    // Auth off: no caller, the rule cannot match.
    let (off, _, off_writer) = state(false);
    let (status, answer) = post(&off, None, &write()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["decision"], "BLOCK");
    writer.close().unwrap();
    off_writer.close().unwrap();
}
