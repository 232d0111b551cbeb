//! Byte-for-byte pins of real answers and audit lines of the service, driven in memory.
//!
//! These hold the exact bytes the service writes today, field order, number
//! formatting and escaping included, so that restructuring the code that writes them
//! cannot change them unnoticed; each is also checked against its contract schema
//! (the contract checks proper are in `http` and `contracts`). The audit clock is
//! fixed, so times and latencies are exact; only ids generated for requests that carry
//! none are replaced before comparing (after checking that the answer and the audit
//! line carry the same one).

use crate::common::{assert_valid, load_policy, parse_lines, schemas};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use policygate_server::{AppState, AuditContext, AuditSink, FixedClock, ServerConfig, app};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A sink that keeps every byte written.
#[derive(Clone, Default)]
struct Bytes(Arc<Mutex<Vec<u8>>>);

impl Write for Bytes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// 2026-11-25T09:38:13.220122Z, deciding in 125 µs.
fn clock() -> Arc<FixedClock> {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(1_795_599_493_220_122_000).unwrap();
    Arc::new(FixedClock::new(at, Duration::from_micros(125)))
}

/// What one call left: status, answer body and audit line, with generated ids
/// replaced.
async fn call(config: ServerConfig, request: Request<Body>) -> String {
    let out = Bytes::default();
    let (audit, writer) = AuditSink::open_with_clock(Box::new(out.clone()), clock());
    let state = AppState::new(load_policy(), audit, None, config);
    let response = app(state).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    writer.close().unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    let written = out.0.lock().unwrap().clone();
    assert_eq!(parse_lines(&written).len(), 1, "one audit line per call");
    let line = String::from_utf8(written).unwrap();
    let line = line.strip_suffix('\n').unwrap();

    let event: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_valid(&schemas().audit, &event, "audit line");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let schema = if status == 200 {
        &schemas().response
    } else {
        &schemas().error
    };
    assert_valid(schema, &answer, "answer");
    let id = event["request_id"].as_str().unwrap().to_owned();
    assert!(
        body.contains(&format!("\"correlation_id\":\"{id}\"")),
        "{body}"
    );
    let (body, line) = if uuid_like(&id) {
        (body.replace(&id, "<uuid>"), line.replace(&id, "<uuid>"))
    } else {
        (body, line.to_owned())
    };
    format!("{status}\n{body}\n{line}")
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.bytes().filter(|b| *b == b'-').count() == 4
}

fn post(body: &str, traceparent: bool) -> Request<Body> {
    let mut r = Request::post("/evaluate").header("content-type", "application/json");
    if traceparent {
        r = r.header("traceparent", TRACEPARENT);
    }
    r.body(Body::from(body.to_owned())).unwrap()
}

fn mode(audit_context: AuditContext, environment: Option<&str>) -> ServerConfig {
    ServerConfig {
        audit_context,
        environment: environment.map(str::to_owned),
        ..ServerConfig::default()
    }
}

/// Compares with `want`, in which `<sha>` stands for the fixture's fingerprint (so that
/// editing a comment in the fixture does not touch every pin) and `<genesis>` for the
/// 64 zeros of the first line of a chain (each call opens a new sink).
fn pin(got: &str, want: &str) {
    let sha = load_policy().identity().policy_sha256.clone();
    let want = want
        .replace("<sha>", &sha)
        .replace("<genesis>", policygate_api::chain::GENESIS_HASH);
    assert_eq!(got, want, "\n--- got ---\n{got}\n--- want ---\n{want}");
}

#[tokio::test]
async fn allow_with_traceparent_and_tested_context() {
    let got = call(
        mode(AuditContext::Tested, None),
        post(
            r#"{"request_id":"pin-allow","action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","id":"doc-1","sensitivity":"public"},"subject":{"type":"service","id":"svc-1"},"signals":{"pii_detected":false,"caller_trust":"high"}}"#,
            true,
        ),
    )
    .await;
    pin(&got, PIN_ALLOW);
}

#[tokio::test]
async fn degrade_with_obligations_and_every_fact_recorded() {
    let got = call(
        mode(AuditContext::All, Some("staging")),
        post(
            r#"{"request_id":"pin-degrade","action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","id":"doc-\"7\"","sensitivity":"restricted"},"subject":{"type":"user","id":"u-é"},"signals":{"pii_detected":false,"tokens":1200,"score":0.25,"tags":["a","b"],"note":null}}"#,
            false,
        ),
    )
    .await;
    pin(&got, PIN_DEGRADE);
}

#[tokio::test]
async fn block_by_rule_with_no_context_recorded() {
    let got = call(
        mode(AuditContext::None, None),
        post(
            r#"{"request_id":"pin-block","action":"data:read","env":{"name":"prod"},"resource":{"type":"record","sensitivity":"internal"},"signals":{"pii_detected":true}}"#,
            true,
        ),
    )
    .await;
    pin(&got, PIN_BLOCK);
}

#[tokio::test]
async fn default_decision_without_request_id() {
    let got = call(
        mode(AuditContext::Tested, Some("prod-eu")),
        post(
            r#"{"action":"data:write","env":{"name":"dev"},"resource":{"type":"document","sensitivity":"public"},"subject":{"type":"service"}}"#,
            false,
        ),
    )
    .await;
    pin(&got, PIN_DEFAULT);
}

#[tokio::test]
async fn contract_violation_422_with_traceparent() {
    let got = call(
        mode(AuditContext::All, None),
        post(
            r#"{"request_id":"pin-422","action":"policy:admin","env":{"name":"-x"},"resource":{"type":"document","sensitivity":"secret"},"extra":1}"#,
            true,
        ),
    )
    .await;
    pin(&got, PIN_422);
}

#[tokio::test]
async fn declared_signal_type_422() {
    let got = call(
        mode(AuditContext::Tested, None),
        post(
            r#"{"request_id":"pin-422-signal","action":"data:read","env":{"name":"prod"},"resource":{"type":"record","sensitivity":"internal"},"signals":{"pii_detected":"yes"}}"#,
            false,
        ),
    )
    .await;
    pin(&got, PIN_422_SIGNAL);
}

#[tokio::test]
async fn malformed_json_400() {
    let got = call(
        mode(AuditContext::Tested, None),
        post(r#"{"request_id":"pin-400","action":"#, true),
    )
    .await;
    pin(&got, PIN_400);
}

/// A request for no endpoint is answered with the error body and never audited.
#[tokio::test]
async fn unknown_path_404() {
    let out = Bytes::default();
    let (audit, writer) = AuditSink::open_with_clock(Box::new(out.clone()), clock());
    let config = mode(AuditContext::All, Some("staging"));
    let state = AppState::new(load_policy(), audit, None, config);
    let request = Request::get("/nope").body(Body::empty()).unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    writer.close().unwrap();
    assert!(out.0.lock().unwrap().is_empty(), "a 404 is not audited");
    let body = String::from_utf8(body.to_vec()).unwrap();
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_valid(&schemas().error, &answer, "answer");
    let id = answer["error"]["correlation_id"].as_str().unwrap();
    assert!(uuid_like(id), "{id}");
    pin(
        &format!("{status}\n{}", body.replace(id, "<uuid>")),
        PIN_404,
    );
}

const PIN_ALLOW: &str = r#"200
{"correlation_id":"pin-allow","decision":"ALLOW","rationale_codes":["ALLOW_PUBLIC_INFER"],"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"},"matched_rule_id":"allow_public_infer"}
{"event_type":"policygate.decision.evaluated","event_version":"2.0","occurred_at":"2026-11-25T09:38:13.220122Z","service_name":"policygate","environment":null,"request_id":"pin-allow","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","caller_id":null,"tenant_id":null,"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"},"evaluation":{"action":"infer:run","resource_type":"document","decision":"ALLOW","matched_rule_id":"allow_public_infer","default_applied":false,"rationale_codes":["ALLOW_PUBLIC_INFER"],"obligations":[]},"decision_context":{"resource":{"sensitivity":"public"},"signals":{"pii_detected":false}},"decision_context_covers":["action","caller.id","resource.sensitivity","resource.type","signals.pii_detected"],"latency_ms":0.125,"seq":1,"prev_hash":"<genesis>"}"#;
const PIN_DEGRADE: &str = r#"200
{"correlation_id":"pin-degrade","decision":"DEGRADE","rationale_codes":["SENSITIVE_OUTPUT_LIMIT"],"obligations":[{"type":"OUTPUT_CAP","params":{"max_tokens":200}}],"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"},"matched_rule_id":"degrade_restricted_infer"}
{"event_type":"policygate.decision.evaluated","event_version":"2.0","occurred_at":"2026-11-25T09:38:13.220122Z","service_name":"policygate","environment":"staging","request_id":"pin-degrade","trace_id":null,"span_id":null,"caller_id":null,"tenant_id":null,"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"},"evaluation":{"action":"infer:run","resource_type":"document","decision":"DEGRADE","matched_rule_id":"degrade_restricted_infer","default_applied":false,"rationale_codes":["SENSITIVE_OUTPUT_LIMIT"],"obligations":[{"type":"OUTPUT_CAP","params":{"max_tokens":200}}]},"decision_context":{"env":{"name":"prod"},"resource":{"id":"doc-\"7\"","sensitivity":"restricted","type":"document"},"signals":{"note":null,"pii_detected":false,"score":0.25,"tags":["a","b"],"tokens":1200},"subject":{"id":"u-é","type":"user"}},"decision_context_covers":["action","caller.id","env.name","resource.id","resource.sensitivity","resource.type","signals.*","subject","subject.id","subject.type"],"latency_ms":0.125,"seq":1,"prev_hash":"<genesis>"}"#;
const PIN_BLOCK: &str = r#"200
{"correlation_id":"pin-block","decision":"BLOCK","rationale_codes":["PII_READ_BLOCKED"],"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"},"matched_rule_id":"block_pii_read"}
{"event_type":"policygate.decision.evaluated","event_version":"2.0","occurred_at":"2026-11-25T09:38:13.220122Z","service_name":"policygate","environment":null,"request_id":"pin-block","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","caller_id":null,"tenant_id":null,"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"},"evaluation":{"action":"data:read","resource_type":"record","decision":"BLOCK","matched_rule_id":"block_pii_read","default_applied":false,"rationale_codes":["PII_READ_BLOCKED"],"obligations":[]},"decision_context":null,"decision_context_covers":["action","caller.id","resource.type"],"latency_ms":0.125,"seq":1,"prev_hash":"<genesis>"}"#;
const PIN_DEFAULT: &str = r#"200
{"correlation_id":"<uuid>","decision":"BLOCK","rationale_codes":["POLICY_DEFAULT_DENY"],"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"}}
{"event_type":"policygate.decision.evaluated","event_version":"2.0","occurred_at":"2026-11-25T09:38:13.220122Z","service_name":"policygate","environment":"prod-eu","request_id":"<uuid>","trace_id":null,"span_id":null,"caller_id":null,"tenant_id":null,"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"},"evaluation":{"action":"data:write","resource_type":"document","decision":"BLOCK","matched_rule_id":null,"default_applied":true,"rationale_codes":["POLICY_DEFAULT_DENY"],"obligations":[]},"decision_context":{"resource":{"sensitivity":"public"}},"decision_context_covers":["action","caller.id","resource.sensitivity","resource.type","signals.pii_detected"],"latency_ms":0.125,"seq":1,"prev_hash":"<genesis>"}"#;
const PIN_422: &str = r#"422
{"error":{"code":"invalid_request","message":"3 problems with the request (each in `details`); the first: /extra: unknown field `extra`; expected one of: request_id, timestamp, action, env, resource, subject, signals","correlation_id":"pin-422","details":[{"path":"/extra","message":"unknown field `extra`; expected one of: request_id, timestamp, action, env, resource, subject, signals"},{"path":"/env/name","message":"`-x` does not match `^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`"},{"path":"/resource/sensitivity","message":"`secret` is not one of public, internal, restricted"}]}}
{"event_type":"policygate.decision.evaluated","event_version":"2.0","occurred_at":"2026-11-25T09:38:13.220122Z","service_name":"policygate","environment":null,"request_id":"pin-422","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","caller_id":null,"tenant_id":null,"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"},"evaluation":{"action":"policy:admin","resource_type":"document","decision":null,"matched_rule_id":null,"default_applied":false,"rationale_codes":[],"obligations":[],"error_code":"invalid_request","http_status":422},"decision_context":null,"decision_context_covers":[],"latency_ms":0.125,"seq":1,"prev_hash":"<genesis>"}"#;
const PIN_422_SIGNAL: &str = r#"422
{"error":{"code":"invalid_request","message":"/signals/pii_detected: declared as a boolean, found string","correlation_id":"pin-422-signal","details":[{"path":"/signals/pii_detected","message":"declared as a boolean, found string"}]}}
{"event_type":"policygate.decision.evaluated","event_version":"2.0","occurred_at":"2026-11-25T09:38:13.220122Z","service_name":"policygate","environment":null,"request_id":"pin-422-signal","trace_id":null,"span_id":null,"caller_id":null,"tenant_id":null,"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"},"evaluation":{"action":"data:read","resource_type":"record","decision":null,"matched_rule_id":null,"default_applied":false,"rationale_codes":[],"obligations":[],"error_code":"invalid_request","http_status":422},"decision_context":null,"decision_context_covers":[],"latency_ms":0.125,"seq":1,"prev_hash":"<genesis>"}"#;
const PIN_400: &str = r#"400
{"error":{"code":"invalid_json","message":"request body is not valid JSON: EOF while parsing a value at line 1 column 33","correlation_id":"<uuid>"}}
{"event_type":"policygate.decision.evaluated","event_version":"2.0","occurred_at":"2026-11-25T09:38:13.220122Z","service_name":"policygate","environment":null,"request_id":"<uuid>","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","caller_id":null,"tenant_id":null,"policy":{"policy_id":"policygate-server-tests","policy_version":"2026-11-25.1","policy_sha256":"<sha>"},"evaluation":{"action":null,"resource_type":null,"decision":null,"matched_rule_id":null,"default_applied":false,"rationale_codes":[],"obligations":[],"error_code":"invalid_json","http_status":400},"decision_context":null,"decision_context_covers":[],"latency_ms":0.125,"seq":1,"prev_hash":"<genesis>"}"#;
const PIN_404: &str = r#"404
{"error":{"code":"not_found","message":"no such endpoint; the service answers POST /evaluate, GET /health, GET /ready, GET /version, GET /metrics and GET /openapi.json","correlation_id":"<uuid>"}}"#;
