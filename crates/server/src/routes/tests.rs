//! The auditing rule of unauthenticated calls: audited within the rate, the rest
//! answered and counted, their number audited; authenticated calls always audited;
//! calls for no endpoint never audited. Driven with tokio's paused time.

use super::*;
use crate::app;
use crate::audit::AuditSink;
use crate::auth::Tokens;
use crate::state::ServerConfig;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use policygate_api::AuditRecord;
use policygate_testkit::{MemorySink, fixture};
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "test-token-checkout-0123456789";

fn state(per_second: u32) -> (AppState, MemorySink, crate::audit::AuditWriter) {
    let bytes = std::fs::read(fixture("policy.yaml")).unwrap();
    let (policy, _) = policygate_core::load(
        "policy.yaml",
        &bytes,
        &policygate_core::LoadOptions::default(),
    );
    let tokens = Tokens::load(&fixture("tokens.txt")).unwrap();
    let mem = MemorySink::default();
    let (audit, writer) = AuditSink::open(Box::new(mem.clone()));
    let config = ServerConfig {
        audit_unauthenticated_per_second: per_second,
        ..ServerConfig::default()
    };
    let state = AppState::new(Arc::new(policy.unwrap()), audit, Some(tokens), config);
    (state, mem, writer)
}

async fn call(
    state: &AppState,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = r#"{"action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","sensitivity":"public"}}"#;
    let response = app(state.clone())
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn lines(mem: &MemorySink) -> Vec<Value> {
    let bytes = mem.bytes();
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            // Every line is a record `audit verify` accepts.
            AuditRecord::parse(line).unwrap();
            serde_json::from_slice(line).unwrap()
        })
        .collect()
}

fn unauthorized(lines: &[Value]) -> usize {
    lines
        .iter()
        .filter(|l| l["evaluation"]["error_code"] == "unauthorized")
        .count()
}

#[tokio::test(start_paused = true)]
async fn unauthenticated_calls_are_audited_at_the_rate_and_the_rest_counted() {
    let (state, mem, writer) = state(3);
    // A flood at one instant, on every endpoint that takes a token.
    let paths = [
        ("POST", "/evaluate"),
        ("POST", guardrail::PATH),
        ("GET", "/metrics"),
    ];
    for i in 0..21 {
        let (method, path) = paths[i % paths.len()];
        let token = (i % 2 == 0).then_some("wrong-token-0123456789abcdef");
        let (status, body) = call(&state, method, path, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        assert!(body["error"]["correlation_id"].is_string(), "{body}");
    }
    // Unknown paths and wrong methods: never audited.
    for _ in 0..5 {
        assert_eq!(
            call(&state, "POST", "/nope", None).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(&state, "GET", "/evaluate", None).await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
    assert_eq!(unauthorized(&lines(&mem)), 3, "the burst the rate allows");
    // An authenticated call is always audited, budget or not.
    assert_eq!(
        call(&state, "POST", "/evaluate", Some(TOKEN)).await.0,
        StatusCode::OK
    );
    let written = lines(&mem);
    assert_eq!(written.len(), 4);
    assert_eq!(written[3]["caller_id"], "checkout");

    // The count of the others.
    audit_suppressed(&state).await;
    let written = lines(&mem);
    assert_eq!(written.len(), 5);
    let count = &written[4];
    assert_eq!(count["event_type"], AUDIT_SUPPRESSED_TYPE);
    assert_eq!(count["reason"], "unauthenticated");
    assert_eq!(count["suppressed"], 18);
    assert_eq!(count["max_per_second"], 3);
    // Nothing more to count: no second event.
    audit_suppressed(&state).await;
    assert_eq!(lines(&mem).len(), 5);

    // A second later the bucket holds three again.
    tokio::time::advance(std::time::Duration::from_secs(1)).await;
    for _ in 0..5 {
        assert_eq!(
            call(&state, "POST", "/evaluate", None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(unauthorized(&lines(&mem)), 6);

    // Every refusal is counted in the metrics, audited or not.
    let (status, text) = call(&state, "GET", "/metrics", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(
        text.contains("policygate_rejected_requests_total{code=\"unauthorized\"} 26"),
        "{text}"
    );
    writer.close().unwrap();
}

/// The periodic task writes the count by itself, every [`SUPPRESSED_EVERY`].
#[tokio::test(start_paused = true)]
async fn the_count_is_written_periodically() {
    let (state, mem, writer) = state(1);
    let counts = |mem: &MemorySink| -> Vec<Value> {
        lines(mem)
            .into_iter()
            .filter(|l| l["event_type"] == AUDIT_SUPPRESSED_TYPE)
            .map(|l| l["suppressed"].clone())
            .collect()
    };
    let task = report_suppressed(state.clone());
    for _ in 0..4 {
        call(&state, "POST", "/evaluate", None).await;
    }
    let tick = std::time::Duration::from_millis(1);
    tokio::time::sleep(SUPPRESSED_EVERY - tick).await;
    assert!(counts(&mem).is_empty(), "not before the period ends");
    tokio::time::sleep(tick * 2).await;
    assert_eq!(counts(&mem), [3]);
    // The next period: two more suppressed (the bucket refilled one), one more count.
    for _ in 0..3 {
        call(&state, "POST", "/evaluate", None).await;
    }
    tokio::time::sleep(SUPPRESSED_EVERY).await;
    assert_eq!(counts(&mem), [3, 2]);
    // A period without any: no event.
    tokio::time::sleep(SUPPRESSED_EVERY).await;
    assert_eq!(counts(&mem), [3, 2]);
    task.abort();
    writer.close().unwrap();
}
