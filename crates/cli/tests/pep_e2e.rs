//! End to end: the real `policygate serve` (this package's binary) and the reference
//! business service (`examples/reference`) on ephemeral loopback ports.
//!
//! Each decision goes through `POST /summarise`; OUTPUT_CAP really shortens the output;
//! and the PDP down, too slow, answering 500 or answering garbage ends in a 403 with the
//! matching rationale code. The misbehaving PDPs are small raw-HTTP fakes in this file.
//! The policy is the reference integration's fixture,
//! `examples/reference/tests/fixtures/policy.yaml`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use policygate_reference::client::{Answer, ServiceClient};
use policygate_reference::documents::{DocumentStore, summarise};
use policygate_reference::{Config, spawn};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_policygate");
const READY_DEADLINE: Duration = Duration::from_secs(30);

fn fixture_policy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/reference/tests/fixtures/policy.yaml")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pep-e2e");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}-{name}", std::process::id()))
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A running `policygate serve`, killed on drop.
struct Pdp {
    child: Child,
    url: String,
    stderr: PathBuf,
}

impl Drop for Pdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pdp {
    /// Starts the PDP on a free port and waits until `/health` answers 200.
    async fn start(name: &str, extra: &[&str]) -> Pdp {
        // The port is picked, released and then bound by the server: another process
        // could take it in between, so a failure to bind is retried on a new port.
        for _ in 0..3 {
            let port = free_port();
            let stderr = scratch(&format!("{name}-{port}.stderr"));
            let child = Command::new(BIN)
                .arg("serve")
                .arg("--policy")
                .arg(fixture_policy())
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .arg("--audit-file")
                .arg(scratch(&format!("{name}-{port}.audit.jsonl")))
                .args(extra)
                .env_remove("POLICYGATE_AUTH_TOKENS_FILE")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&stderr).unwrap())
                .spawn()
                .unwrap();
            let mut pdp = Pdp {
                child,
                url: format!("http://127.0.0.1:{port}"),
                stderr,
            };
            if pdp.wait_healthy().await {
                return pdp;
            }
        }
        panic!("`policygate serve` never became healthy on three ports");
    }

    /// Polls `/health` until 200 (true), or the process exits (false, when it could not
    /// bind) or the deadline passes (panic).
    async fn wait_healthy(&mut self) -> bool {
        let client = ServiceClient::new(self.url.as_str());
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
                assert_eq!(status.code(), Some(3), "policygate serve exited: {log}");
                return false;
            }
            if client.get("/health").await.is_ok_and(|a| a.status == 200) {
                return true;
            }
            let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "policygate serve not healthy after {READY_DEADLINE:?}: {log}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The reference service asking the PDP at `pdp_url`.
async fn reference(pdp_url: &str, deadline: Duration, token: Option<&str>) -> ServiceClient {
    let mut config = Config::new(pdp_url);
    config.pdp_deadline = deadline;
    config.pdp_token = token.map(str::to_owned);
    let (addr, _reviews) = spawn(&config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    ServiceClient::new(format!("http://{addr}"))
}

/// A misbehaving PDP: reads each request, waits `delay`, then writes `response` (a raw
/// HTTP/1.1 answer) and closes the connection.
async fn raw_pdp(delay: Duration, response: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0_u8; 64 * 1024];
                let _ = stream.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    url
}

fn http_response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn text_of(id: &str) -> String {
    DocumentStore::sample().get(id).unwrap().text.clone()
}

fn assert_blocked(answer: &Answer, code: &str, origin: &str) {
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.body["decision"], "BLOCK", "{answer:?}");
    assert_eq!(answer.body["rationale_codes"], json!([code]), "{answer:?}");
    assert_eq!(answer.body["origin"], origin, "{answer:?}");
    assert!(answer.body.get("summary").is_none(), "{answer:?}");
}

#[tokio::test]
async fn each_decision_through_the_business_endpoint() {
    let pdp = Pdp::start("decisions", &[]).await;
    let service = reference(&pdp.url, Duration::from_secs(5), None).await;

    let allow = service.summarise("handbook", None, None).await.unwrap();
    assert_eq!(allow.status, 200, "{allow:?}");
    assert_eq!(allow.body["decision"], "ALLOW");
    assert_eq!(allow.body["summary"], summarise(&text_of("handbook"), 40));
    assert!(
        allow.body["correlation_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );

    let degrade = service.summarise("roadmap", None, None).await.unwrap();
    assert_eq!(degrade.status, 200, "{degrade:?}");
    assert_eq!(degrade.body["decision"], "DEGRADE");
    assert_eq!(degrade.body["output_cap"], json!({"max_tokens": 12}));

    let review = service.summarise("incident-42", None, None).await.unwrap();
    assert_eq!(review.status, 202, "{review:?}");
    assert_eq!(review.body["status"], "pending_review");
    assert_eq!(
        review.body["rationale_codes"],
        json!(["RESTRICTED_NEEDS_REVIEW"])
    );
    assert!(
        review.body["review_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("review-"))
    );

    let block = service.summarise("payroll", None, None).await.unwrap();
    assert_blocked(&block, "RESTRICTED_PII_BLOCKED", "pdp");
}

#[tokio::test]
async fn output_cap_really_limits_the_output() {
    let pdp = Pdp::start("cap", &[]).await;
    let service = reference(&pdp.url, Duration::from_secs(5), None).await;

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
    let mut pdp = Pdp::start("down", &[]).await;
    let service = reference(&pdp.url, Duration::from_secs(5), None).await;
    assert_eq!(
        service
            .summarise("handbook", None, None)
            .await
            .unwrap()
            .status,
        200
    );
    pdp.child.kill().unwrap();
    pdp.child.wait().unwrap();
    let answer = service.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_UNAVAILABLE", "pep");
}

#[tokio::test]
async fn pdp_too_slow_blocks() {
    let pdp = raw_pdp(Duration::from_secs(30), http_response("200 OK", "{}")).await;
    let service = reference(&pdp, Duration::from_millis(200), None).await;
    let answer = service.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_TIMEOUT", "pep");
}

#[tokio::test]
async fn pdp_answering_500_blocks() {
    let body = r#"{"error":{"code":"internal","message":"boom"}}"#;
    let pdp = raw_pdp(
        Duration::ZERO,
        http_response("500 Internal Server Error", body),
    )
    .await;
    let service = reference(&pdp, Duration::from_secs(5), None).await;
    let answer = service.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_ERROR_STATUS", "pep");
}

#[tokio::test]
async fn pdp_answering_garbage_blocks() {
    let pdp = raw_pdp(
        Duration::ZERO,
        http_response("200 OK", "<html>garbage</html>"),
    )
    .await;
    let service = reference(&pdp, Duration::from_secs(5), None).await;
    let answer = service.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_INVALID_RESPONSE", "pep");

    // Not even HTTP.
    let pdp = raw_pdp(Duration::ZERO, "garbage\r\n\r\n".to_owned()).await;
    let service = reference(&pdp, Duration::from_secs(5), None).await;
    let answer = service.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_INVALID_RESPONSE", "pep");
}

#[tokio::test]
async fn the_bearer_token_is_sent_and_a_wrong_one_blocks() {
    let tokens = scratch("tokens.txt");
    std::fs::write(&tokens, "reference:e2e-token-0123456789abcdef\n").unwrap();
    let tokens = tokens.to_str().unwrap().to_owned();
    let pdp = Pdp::start("auth", &["--auth-tokens-file", &tokens]).await;

    let good = reference(
        &pdp.url,
        Duration::from_secs(5),
        Some("e2e-token-0123456789abcdef"),
    )
    .await;
    assert_eq!(
        good.summarise("handbook", None, None).await.unwrap().status,
        200
    );

    let bad = reference(
        &pdp.url,
        Duration::from_secs(5),
        Some("wrong-token-0123456789abc"),
    )
    .await;
    let answer = bad.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_ERROR_STATUS", "pep");

    let none = reference(&pdp.url, Duration::from_secs(5), None).await;
    let answer = none.summarise("handbook", None, None).await.unwrap();
    assert_blocked(&answer, "PEP_PDP_ERROR_STATUS", "pep");
}
