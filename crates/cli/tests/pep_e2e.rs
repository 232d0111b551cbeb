//! End to end: the real `policygate serve` (this package's binary) and the reference
//! business service (`examples/reference`) on ephemeral loopback ports.
//!
//! Each decision goes through `POST /summarise` and reaches the PDP as the PEP built
//! it (the PDP's own audit trail shows it); OUTPUT_CAP really shortens the output; the
//! PDP going away ends in a 403 with `PEP_PDP_UNAVAILABLE`; the bearer token is
//! checked. The policy is the test kit's `reference-policy.yaml`. How the reference
//! service handles a PDP that is slow, errs or answers garbage is tested once, against
//! fakes, in `examples/reference/tests/service.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use policygate_reference::client::{Answer, ServiceClient};
use policygate_reference::documents::{DocumentStore, summarise};
use policygate_reference::handlers::ReviewQueue;
use policygate_reference::{Config, spawn};
use policygate_testkit::audit::decision_events;
use policygate_testkit::pdp::closed_port_url;
use policygate_testkit::{Running, Serve, fixture};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_policygate");

fn scratch(name: &str) -> PathBuf {
    policygate_testkit::scratch_file(env!("CARGO_TARGET_TMPDIR"), "pep-e2e", name)
}

/// `policygate serve` over the reference policy, ready.
fn start_pdp(extra: &[&str]) -> Running {
    Serve::new(BIN)
        .policy(fixture("reference-policy.yaml"))
        .args(extra)
        .start()
}

/// The reference service asking the PDP at `pdp_url`, and its review queue.
async fn reference(
    pdp_url: &str,
    deadline: Duration,
    token: Option<&str>,
) -> (ServiceClient, ReviewQueue) {
    let mut config = Config::new(pdp_url);
    config.pdp_deadline = deadline;
    config.pdp_token = token.map(str::to_owned);
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
    let pdp = start_pdp(&["--audit-context", "all"]);
    let (service, reviews) = reference(&pdp.url(), Duration::from_secs(5), None).await;

    let allow = service
        .summarise("handbook", None, Some("alice"))
        .await
        .unwrap();
    assert_eq!(allow.status, 200, "{allow:?}");
    assert_eq!(allow.body["decision"], "ALLOW");
    assert_eq!(allow.body["summary"], summarise(&text_of("handbook"), 40));
    assert_eq!(allow.body["degraded"], false);
    assert!(
        allow.body["correlation_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );

    let degrade = service.summarise("roadmap", Some(30), None).await.unwrap();
    assert_eq!(degrade.status, 200, "{degrade:?}");
    assert_eq!(degrade.body["decision"], "DEGRADE");
    assert_eq!(degrade.body["degraded"], true);
    assert_eq!(degrade.body["summary"], summarise(&text_of("roadmap"), 12));
    assert_eq!(degrade.body["output_cap"], json!({"max_tokens": 12}));

    let review = service.summarise("incident-42", None, None).await.unwrap();
    assert_eq!(review.status, 202, "{review:?}");
    assert_eq!(review.body["status"], "pending_review");
    assert_eq!(review.body["review_id"], "review-000001");
    assert_eq!(
        review.body["rationale_codes"],
        json!(["RESTRICTED_NEEDS_REVIEW"])
    );
    assert!(review.body.get("summary").is_none());
    let pending = reviews.pending();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].document_id, "incident-42");

    let block = service.summarise("payroll", None, None).await.unwrap();
    assert_blocked(&block, "RESTRICTED_PII_BLOCKED", "pdp");
    assert_eq!(reviews.pending().len(), 1);

    // What the PDP received, from its own audit trail (`--audit-context all`).
    pdp.signal("TERM");
    let exited = pdp.wait();
    assert_eq!(exited.status.code(), Some(0), "{:#?}", exited.stderr);
    let events = decision_events(exited.stdout.as_bytes());
    assert_eq!(events.len(), 4, "one audit event per decision");
    let first = &events[0]["decision_context"];
    assert_eq!(first["subject"], json!({"type": "user", "id": "alice"}));
    assert_eq!(first["resource"]["id"], "handbook");
}

#[tokio::test]
async fn output_cap_really_limits_the_output() {
    let pdp = start_pdp(&[]);
    let (service, _) = reference(&pdp.url(), Duration::from_secs(5), None).await;

    // The caller asks for 30 tokens; the policy caps internal documents at 12.
    let capped = service.summarise("roadmap", Some(30), None).await.unwrap();
    let summary = capped.body["summary"].as_str().unwrap();
    assert_eq!(summary.split_whitespace().count(), 12, "{capped:?}");
    assert_eq!(summary, summarise(&text_of("roadmap"), 12));
    assert!(text_of("roadmap").split_whitespace().count() > 30);

    // The same request on a public document is not capped.
    let full = service.summarise("handbook", Some(30), None).await.unwrap();
    let summary = full.body["summary"].as_str().unwrap();
    assert_eq!(summary.split_whitespace().count(), 30, "{full:?}");

    // Reading through the tower layer: internal documents are cut to 40 bytes.
    let read = service.read("roadmap").await.unwrap();
    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(read.body["text"].as_str().unwrap().len(), 40);
    assert_eq!(read.body["decision"], "DEGRADE");
}

#[tokio::test]
async fn pdp_down_blocks() {
    // Nothing ever listened there.
    let (service, _) = reference(&closed_port_url(), Duration::from_secs(5), None).await;
    let answer = service.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_UNAVAILABLE", "pep");

    // A PDP that answered, then went away.
    let mut pdp = start_pdp(&[]);
    let (service, _) = reference(&pdp.url(), Duration::from_secs(5), None).await;
    assert_eq!(
        service
            .summarise("handbook", None, None)
            .await
            .unwrap()
            .status,
        200
    );
    pdp.kill();
    let answer = service.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_UNAVAILABLE", "pep");
}

#[tokio::test]
async fn the_bearer_token_is_sent_and_a_wrong_one_blocks() {
    let tokens = scratch("tokens.txt");
    std::fs::write(&tokens, "reference:e2e-token-0123456789abcdef\n").unwrap();
    let tokens = tokens.to_str().unwrap().to_owned();
    let pdp = start_pdp(&["--auth-tokens-file", &tokens]);

    let (good, _) = reference(
        &pdp.url(),
        Duration::from_secs(5),
        Some("e2e-token-0123456789abcdef"),
    )
    .await;
    assert_eq!(
        good.summarise("handbook", None, None).await.unwrap().status,
        200
    );

    let (bad, _) = reference(
        &pdp.url(),
        Duration::from_secs(5),
        Some("wrong-token-0123456789abc"),
    )
    .await;
    let answer = bad.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_ERROR_STATUS", "pep");

    let (none, _) = reference(&pdp.url(), Duration::from_secs(5), None).await;
    let answer = none.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_ERROR_STATUS", "pep");
}
