//! The reference service against in-test fake PDPs: each decision through the business
//! endpoint, and every PDP failure ends in a 403 with its own rationale code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers may fail loudly; clippy only exempts #[test] functions"
)]

use axum::Router;
use axum::routing::post;
use policygate_reference::client::{Answer, ServiceClient};
use policygate_reference::documents::{DocumentStore, summarise};
use policygate_reference::handlers::{DEFAULT_MAX_TOKENS, ReviewQueue};
use policygate_reference::{Config, spawn};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fake PDP: `answer(request) -> (status, body)` after `delay`; records requests.
async fn fake_pdp(
    delay: Duration,
    answer: impl Fn(&Value) -> (u16, String) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let answer = Arc::new(answer);
    let app = Router::new().route(
        "/evaluate",
        post(move |body: axum::body::Bytes| {
            let record = Arc::clone(&record);
            let answer = Arc::clone(&answer);
            async move {
                let request: Value = serde_json::from_slice(&body).unwrap();
                record.lock().unwrap().push(request.clone());
                tokio::time::sleep(delay).await;
                let (status, text) = answer(&request);
                (axum::http::StatusCode::from_u16(status).unwrap(), text)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

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

/// Decides like `tests/fixtures/policy.yaml`.
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
async fn each_decision_through_the_business_endpoint() {
    let (pdp, seen) = fake_pdp(Duration::ZERO, like_the_fixture).await;
    let (client, reviews) = service(&pdp, Duration::from_secs(5)).await;

    let allow = client
        .summarise("handbook", None, Some("alice"))
        .await
        .unwrap();
    assert_eq!(allow.status, 200, "{allow:?}");
    assert_eq!(allow.body["decision"], "ALLOW");
    assert_eq!(
        allow.body["summary"],
        summarise(&text_of("handbook"), DEFAULT_MAX_TOKENS)
    );
    assert_eq!(allow.body["degraded"], false);
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(first["subject"], json!({"type": "user", "id": "alice"}));
    assert_eq!(first["resource"]["id"], "handbook");

    let degrade = client.summarise("roadmap", Some(30), None).await.unwrap();
    assert_eq!(degrade.status, 200, "{degrade:?}");
    assert_eq!(degrade.body["decision"], "DEGRADE");
    assert_eq!(degrade.body["degraded"], true);
    assert_eq!(degrade.body["summary"], summarise(&text_of("roadmap"), 12));
    assert_eq!(degrade.body["output_cap"], json!({"max_tokens": 12}));

    let review = client.summarise("incident-42", None, None).await.unwrap();
    assert_eq!(review.status, 202, "{review:?}");
    assert_eq!(review.body["review_id"], "review-000001");
    assert_eq!(
        review.body["rationale_codes"],
        json!(["RESTRICTED_NEEDS_REVIEW"])
    );
    assert!(review.body.get("summary").is_none());
    let pending = reviews.pending();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].document_id, "incident-42");

    let block = client.summarise("payroll", None, None).await.unwrap();
    assert_blocked(&block, "RESTRICTED_PII_BLOCKED", "pdp");
    assert_eq!(reviews.pending().len(), 1);
}

#[tokio::test]
async fn a_request_below_the_cap_is_not_raised() {
    let (pdp, _) = fake_pdp(Duration::ZERO, like_the_fixture).await;
    let (client, _) = service(&pdp, Duration::from_secs(5)).await;
    let degrade = client.summarise("roadmap", Some(5), None).await.unwrap();
    assert_eq!(degrade.body["summary"], summarise(&text_of("roadmap"), 5));
}

#[tokio::test]
async fn pdp_down_blocks() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", port.local_addr().unwrap());
    drop(port);
    let (client, _) = service(&url, Duration::from_secs(5)).await;
    let answer = client.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_UNAVAILABLE", "pep");
}

#[tokio::test]
async fn pdp_too_slow_blocks() {
    let (pdp, seen) = fake_pdp(Duration::from_secs(30), like_the_fixture).await;
    let (client, _) = service(&pdp, Duration::from_millis(200)).await;
    let answer = client.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_TIMEOUT", "pep");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn pdp_answering_500_blocks() {
    let (pdp, _) = fake_pdp(Duration::ZERO, |_| {
        (
            500,
            r#"{"error":{"code":"internal","message":"boom"}}"#.into(),
        )
    })
    .await;
    let (client, _) = service(&pdp, Duration::from_secs(5)).await;
    let answer = client.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_ERROR_STATUS", "pep");
}

#[tokio::test]
async fn pdp_answering_garbage_blocks() {
    for garbage in [
        "<html>hello</html>".to_owned(),
        r#"{"decision":"ALLOW"}"#.to_owned(),
        json!({"correlation_id": "x", "decision": "ALLOW", "rationale_codes": ["A"],
               "policy": {"policy_id": "p", "policy_version": "1", "policy_sha256": "short"}})
        .to_string(),
    ] {
        let (pdp, _) = fake_pdp(Duration::ZERO, move |_| (200, garbage.clone())).await;
        let (client, _) = service(&pdp, Duration::from_secs(5)).await;
        let answer = client.summarise("handbook", None, None).await.unwrap();
        assert_blocked(&answer, "PEP_PDP_INVALID_RESPONSE", "pep");
    }
}

#[tokio::test]
async fn an_unknown_obligation_blocks() {
    let (pdp, _) = fake_pdp(Duration::ZERO, |request| {
        let v = response(
            request,
            "DEGRADE",
            &["ROUTE_TO_APPROVED_MODEL"],
            Some(json!([{"type": "ROUTE_MODEL", "params": {"model": "approved"}}])),
        );
        (200, v.to_string())
    })
    .await;
    let (client, _) = service(&pdp, Duration::from_secs(5)).await;
    let answer = client.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_OBLIGATION_UNSUPPORTED", "pep");
}

#[tokio::test]
async fn the_layer_guards_document_reads() {
    let (pdp, _) = fake_pdp(Duration::ZERO, like_the_fixture).await;
    let (client, _) = service(&pdp, Duration::from_secs(5)).await;

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
    let (pdp, seen) = fake_pdp(Duration::ZERO, like_the_fixture).await;
    let (client, _) = service(&pdp, Duration::from_secs(5)).await;
    let unknown = client.summarise("no-such-doc", None, None).await.unwrap();
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"]["code"], "not_found");
    let health = client.get("/health").await.unwrap();
    assert_eq!(health.status, 200);
    assert!(seen.lock().unwrap().is_empty());
}
