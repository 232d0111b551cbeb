//! The reference service against the test kit's fake PDP: every PDP failure ends in a
//! 403 with its own rationale code, caps and the tower layer apply what the PDP said,
//! and bad requests never reach the PDP. Each decision through the business endpoint
//! and the PDP going away are tested once, against the real `policygate serve`, in
//! `crates/cli/tests/pep_e2e.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers may fail loudly; clippy only exempts #[test] functions"
)]

use policygate_reference::client::{Answer, ServiceClient};
use policygate_reference::documents::{DocumentStore, summarise};
use policygate_reference::handlers::ReviewQueue;
use policygate_reference::{Config, spawn};
use policygate_testkit::pdp::{FakePdp, raw_server};
use serde_json::{Value, json};
use std::time::Duration;

fn response(request: &Value, decision: &str, codes: &[&str], obligations: Option<Value>) -> Value {
    let mut v = json!({
        "correlation_id": request.get("request_id").cloned().unwrap_or_else(|| json!("pdp-generated")),
        "decision": decision,
        "rationale_codes": codes,
        "policy": {"policy_id": "fake", "policy_version": "1", "policy_sha256": "ab".repeat(32)},
    });
    if let Some(o) = obligations {
        v["obligations"] = o;
    }
    v
}

/// Decides like the test kit's `reference-policy.yaml` (which `policygate serve` loads
/// in the end-to-end tests of `crates/cli/tests/pep_e2e.rs`).
fn like_the_fixture(request: &Value) -> (u16, String) {
    let infer = request["action"] == "infer:run";
    let sensitivity = request["resource"]["sensitivity"].as_str().unwrap();
    let pii = request["signals"]["pii_detected"] == json!(true);
    let v = match (infer, sensitivity, pii) {
        (true, "public", _) => response(request, "ALLOW", &["ALLOW_PUBLIC_INFER"], None),
        (true, "internal", _) => response(
            request,
            "DEGRADE",
            &["INTERNAL_OUTPUT_LIMIT"],
            Some(json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 12}}])),
        ),
        (true, "restricted", false) => response(
            request,
            "REQUIRE_REVIEW",
            &["RESTRICTED_NEEDS_REVIEW"],
            None,
        ),
        (true, _, _) => response(request, "BLOCK", &["RESTRICTED_PII_BLOCKED"], None),
        (false, "public", _) => response(request, "ALLOW", &["ALLOW_PUBLIC_READ"], None),
        (false, "internal", _) => response(
            request,
            "DEGRADE",
            &["INTERNAL_READ_LIMIT"],
            Some(json!([{"type": "OUTPUT_CAP", "params": {"max_bytes": 40}}])),
        ),
        (false, _, _) => response(request, "BLOCK", &["POLICY_DEFAULT_DENY"], None),
    };
    (200, v.to_string())
}

async fn service(pdp_url: &str, deadline: Duration) -> (ServiceClient, ReviewQueue) {
    let mut config = Config::new(pdp_url);
    config.pdp_deadline = deadline;
    let (addr, reviews) = spawn(&config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (ServiceClient::new(format!("http://{addr}")), reviews)
}

fn text_of(id: &str) -> String {
    DocumentStore::sample().get(id).unwrap().text.clone()
}

fn assert_blocked(answer: &Answer, code: &str, origin: &str) {
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.body["decision"], "BLOCK", "{answer:?}");
    assert_eq!(answer.body["rationale_codes"], json!([code]), "{answer:?}");
    assert_eq!(answer.body["origin"], origin, "{answer:?}");
    assert_eq!(answer.body["error"]["code"], "blocked", "{answer:?}");
    assert!(answer.body.get("summary").is_none(), "{answer:?}");
}

#[tokio::test]
async fn a_request_below_the_cap_is_not_raised() {
    let pdp = FakePdp::start(Duration::ZERO, like_the_fixture).await;
    let (client, _) = service(&pdp.url, Duration::from_secs(5)).await;
    let degrade = client.summarise("roadmap", Some(5), None).await.unwrap();
    assert_eq!(degrade.body["summary"], summarise(&text_of("roadmap"), 5));
}

#[tokio::test]
async fn pdp_too_slow_blocks() {
    let pdp = FakePdp::start(Duration::from_secs(30), like_the_fixture).await;
    let (client, _) = service(&pdp.url, Duration::from_millis(200)).await;
    let answer = client.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_TIMEOUT", "pep");
    assert_eq!(pdp.hits(), 1);
}

#[tokio::test]
async fn pdp_answering_500_blocks() {
    let pdp = FakePdp::start(Duration::ZERO, |_| {
        (
            500,
            r#"{"error":{"code":"internal","message":"boom"}}"#.into(),
        )
    })
    .await;
    let (client, _) = service(&pdp.url, Duration::from_secs(5)).await;
    let answer = client.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_ERROR_STATUS", "pep");
}

#[tokio::test]
async fn pdp_answering_garbage_blocks() {
    for garbage in [
        "<html>hello</html>".to_owned(),
        "<html>garbage</html>".to_owned(),
        r#"{"decision":"ALLOW"}"#.to_owned(),
        json!({"correlation_id": "x", "decision": "ALLOW", "rationale_codes": ["A"],
               "policy": {"policy_id": "p", "policy_version": "1", "policy_sha256": "short"}})
        .to_string(),
    ] {
        let pdp = FakePdp::start(Duration::ZERO, move |_| (200, garbage.clone())).await;
        let (client, _) = service(&pdp.url, Duration::from_secs(5)).await;
        let answer = client.summarise("handbook", None, None).await.unwrap();
        assert_blocked(&answer, "PEP_PDP_INVALID_RESPONSE", "pep");
    }

    // Not even HTTP.
    let pdp = raw_server("garbage\r\n\r\n").await;
    let (client, _) = service(&pdp, Duration::from_secs(5)).await;
    let answer = client.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_INVALID_RESPONSE", "pep");
}

#[tokio::test]
async fn an_unknown_obligation_blocks() {
    let pdp = FakePdp::start(Duration::ZERO, |request| {
        let v = response(
            request,
            "DEGRADE",
            &["ROUTE_TO_APPROVED_MODEL"],
            Some(json!([{"type": "ROUTE_MODEL", "params": {"model": "approved"}}])),
        );
        (200, v.to_string())
    })
    .await;
    let (client, _) = service(&pdp.url, Duration::from_secs(5)).await;
    let answer = client.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_OBLIGATION_UNSUPPORTED", "pep");
}

#[tokio::test]
async fn the_layer_guards_document_reads() {
    let pdp = FakePdp::start(Duration::ZERO, like_the_fixture).await;
    let (client, _) = service(&pdp.url, Duration::from_secs(5)).await;

    let public = client.read("handbook").await.unwrap();
    assert_eq!(public.status, 200, "{public:?}");
    assert_eq!(public.body["text"], text_of("handbook"));

    let internal = client.read("roadmap").await.unwrap();
    assert_eq!(internal.status, 200, "{internal:?}");
    let text = internal.body["text"].as_str().unwrap();
    assert_eq!(text.len(), 40);
    assert!(text_of("roadmap").starts_with(text));

    let restricted = client.read("payroll").await.unwrap();
    assert_eq!(restricted.status, 403);
    assert_eq!(
        restricted.body["rationale_codes"],
        json!(["POLICY_DEFAULT_DENY"])
    );

    let unknown = client.read("no-such-doc").await.unwrap();
    assert_eq!(
        unknown.status, 403,
        "unknown ids are asked about as restricted"
    );
}

#[tokio::test]
async fn bad_requests_never_reach_the_pdp() {
    let pdp = FakePdp::start(Duration::ZERO, like_the_fixture).await;
    let (client, _) = service(&pdp.url, Duration::from_secs(5)).await;
    let unknown = client.summarise("no-such-doc", None, None).await.unwrap();
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"]["code"], "not_found");
    let health = client.get("/health").await.unwrap();
    assert_eq!(health.status, 200);
    assert_eq!(pdp.hits(), 0);
}
