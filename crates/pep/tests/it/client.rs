//! The PDP client: what it sends, and that every failure fails closed with its own code.

use crate::answers::{answer, deciding};
use policygate_api::{Action, DecisionKind, Sensitivity};
use policygate_pep::{CallOptions, Decision, Origin, PdpClient, PepError, RequestBuilder, codes};
use policygate_testkit::pdp::{FakePdp, closed_port_url, hang_up_server, raw_server};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn request(sensitivity: Sensitivity) -> RequestBuilder {
    RequestBuilder::new(Action::InferRun)
        .request_id("req-1")
        .env("prod")
        .resource("document", sensitivity)
        .resource_id("doc-1")
}

fn client(url: &str) -> PdpClient {
    PdpClient::builder(url)
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn assert_blocked(d: &Decision, code: &str) {
    assert_eq!(d.kind(), DecisionKind::Block, "{d:?}");
    assert_eq!(d.origin(), Origin::Pep, "{d:?}");
    assert_eq!(d.rationale_codes(), [code], "{d:?}");
    assert!(d.error().is_some());
}

#[tokio::test]
async fn sends_the_facts_and_returns_the_pdps_decision() {
    let pdp = deciding().await;
    let c = PdpClient::builder(&pdp.url)
        .bearer_token("tok-123")
        .build()
        .unwrap();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let d = c
        .decide_with(
            request(Sensitivity::Internal).signal("prompt_tokens", 12),
            &CallOptions::with_traceparent(traceparent),
        )
        .await;
    assert_eq!(d.kind(), DecisionKind::Degrade);
    assert_eq!(d.origin(), Origin::Pdp);
    assert_eq!(d.correlation_id(), Some("req-1"));
    assert_eq!(d.rationale_codes(), ["INTERNAL_CAP"]);
    assert_eq!(d.output_cap().and_then(|c| c.max_tokens), Some(3));
    assert_eq!(d.policy().map(|p| p.policy_id.as_str()), Some("fake"));
    assert!(d.error().is_none());

    let seen = pdp.seen();
    assert_eq!(seen.len(), 1);
    let call = &seen[0];
    assert_eq!(
        call.body,
        json!({"request_id": "req-1", "action": "infer:run", "env": {"name": "prod"},
               "resource": {"type": "document", "id": "doc-1", "sensitivity": "internal"},
               "signals": {"prompt_tokens": 12}})
    );
    assert_eq!(call.headers["authorization"], "Bearer tok-123");
    assert_eq!(call.headers["content-type"], "application/json");
    assert_eq!(call.headers["traceparent"], traceparent);
}

#[tokio::test]
async fn a_malformed_traceparent_is_not_forwarded() {
    let pdp = deciding().await;
    let d = client(&pdp.url)
        .decide_with(
            request(Sensitivity::Public),
            &CallOptions::with_traceparent("not-a-trace"),
        )
        .await;
    assert_eq!(d.kind(), DecisionKind::Allow);
    assert!(pdp.seen()[0].headers.get("traceparent").is_none());
    assert!(pdp.seen()[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn connections_are_reused() {
    let pdp = deciding().await;
    let c = client(&pdp.url);
    for _ in 0..3 {
        assert_eq!(
            c.decide(request(Sensitivity::Public)).await.kind(),
            DecisionKind::Allow
        );
    }
    let peers: Vec<_> = pdp.seen().iter().map(|s| s.peer).collect();
    assert_eq!(peers.len(), 3);
    assert!(peers.iter().all(|p| *p == peers[0]), "{peers:?}");
}

#[tokio::test]
async fn invalid_facts_are_refused_before_any_network_call() {
    let pdp = deciding().await;
    let d = client(&pdp.url)
        .decide(request(Sensitivity::Public).signal("Not-A-Name", 1))
        .await;
    assert_blocked(&d, codes::PEP_INVALID_FACTS);
    match d.error() {
        Some(PepError::InvalidFacts { problems }) => {
            assert_eq!(problems[0].path, "/signals/Not-A-Name");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pdp.hits(), 0);
}

#[tokio::test]
async fn an_unreachable_pdp_blocks_after_bounded_retries() {
    let url = closed_port_url();
    let c = PdpClient::builder(&url)
        .max_retries(2)
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let d = c.decide(request(Sensitivity::Public)).await;
    assert_blocked(&d, codes::PEP_PDP_UNAVAILABLE);
    assert_eq!(d.correlation_id(), Some("req-1"));
    match d.error() {
        Some(PepError::Unavailable {
            attempts, url: u, ..
        }) => {
            assert_eq!(*attempts, 3);
            assert_eq!(u, &format!("{url}/evaluate"));
        }
        other => panic!("{other:?}"),
    }
    let c = PdpClient::builder(&url).max_retries(0).build().unwrap();
    match c.decide(request(Sensitivity::Public)).await.error() {
        Some(PepError::Unavailable { attempts, .. }) => assert_eq!(*attempts, 1),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_request_that_may_have_reached_the_pdp_is_not_retried() {
    let (url, accepted) = hang_up_server().await;
    let c = PdpClient::builder(&url)
        .max_retries(3)
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let d = c.decide(request(Sensitivity::Public)).await;
    assert_blocked(&d, codes::PEP_PDP_UNAVAILABLE);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_slow_pdp_blocks_at_the_deadline_without_retrying() {
    let body = answer(&json!({}), "ALLOW", &["LATE"], Value::Null).to_string();
    let pdp = FakePdp::fixed(200, &body, Duration::from_secs(30)).await;
    let c = PdpClient::builder(&pdp.url)
        .deadline(Duration::from_millis(150))
        .build()
        .unwrap();
    let d = c.decide(request(Sensitivity::Public)).await;
    assert_blocked(&d, codes::PEP_PDP_TIMEOUT);
    assert_eq!(
        d.error(),
        Some(&PepError::Timeout {
            deadline: Duration::from_millis(150)
        })
    );
    assert_eq!(pdp.hits(), 1);
}

#[tokio::test]
async fn a_non_200_answer_blocks_with_its_status() {
    let pdp = FakePdp::fixed(
        500,
        r#"{"error":{"code":"internal","message":"boom"}}"#,
        Duration::ZERO,
    )
    .await;
    let d = client(&pdp.url).decide(request(Sensitivity::Public)).await;
    assert_blocked(&d, codes::PEP_PDP_ERROR_STATUS);
    assert!(matches!(
        d.error(),
        Some(PepError::ErrorStatus { status: 500, message: Some(m), .. }) if m == "boom"
    ));
    assert_eq!(pdp.hits(), 1);

    // Even a 2xx other than 200, with a valid decision in it, is refused.
    let body = answer(
        &json!({"request_id": "req-1"}),
        "ALLOW",
        &["OK"],
        Value::Null,
    );
    let pdp = FakePdp::fixed(201, &body.to_string(), Duration::ZERO).await;
    let d = client(&pdp.url).decide(request(Sensitivity::Public)).await;
    assert_blocked(&d, codes::PEP_PDP_ERROR_STATUS);
}

#[tokio::test]
async fn garbage_and_contract_violations_block() {
    for body in [
        "this is not json".to_owned(),
        r#"{"decision":"ALLOW"}"#.to_owned(),
        answer(
            &json!({"request_id": "someone-else"}),
            "ALLOW",
            &["OK"],
            Value::Null,
        )
        .to_string(),
        answer(
            &json!({"request_id": "req-1"}),
            "DEGRADE",
            &["X"],
            json!([]),
        )
        .to_string(),
        "x".repeat(policygate_pep::MAX_RESPONSE_BYTES + 1),
    ] {
        let pdp = FakePdp::fixed(200, &body, Duration::ZERO).await;
        let d = client(&pdp.url).decide(request(Sensitivity::Public)).await;
        assert_blocked(&d, codes::PEP_PDP_INVALID_RESPONSE);
    }
}

#[tokio::test]
async fn an_answer_that_is_not_http_is_invalid() {
    let url = raw_server(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
    let d = client(&url).decide(request(Sensitivity::Public)).await;
    assert_blocked(&d, codes::PEP_PDP_INVALID_RESPONSE);
}

#[tokio::test]
async fn an_unknown_obligation_type_blocks_as_unsupported() {
    let body = answer(
        &json!({"request_id": "req-1"}),
        "DEGRADE",
        &["REDACT_PII"],
        json!([{"type": "REDACT", "params": {"categories": ["pii"]}}]),
    );
    let pdp = FakePdp::fixed(200, &body.to_string(), Duration::ZERO).await;
    let d = client(&pdp.url).decide(request(Sensitivity::Public)).await;
    assert_blocked(&d, codes::PEP_OBLIGATION_UNSUPPORTED);
    assert_eq!(d.correlation_id(), Some("req-1"));
    assert_eq!(d.policy().map(|p| p.policy_id.as_str()), Some("fake"));
}

#[tokio::test]
async fn evaluate_returns_the_error_itself() {
    let c = client(&closed_port_url());
    let r = request(Sensitivity::Public).build().unwrap();
    let e = c.evaluate(&r, &CallOptions::default()).await.unwrap_err();
    assert_eq!(e.code(), codes::PEP_PDP_UNAVAILABLE);
    assert!(e.to_string().contains("check the PDP url"), "{e}");
}

/// `status` asks its path under the base url's path, reports any status, and fails
/// with the client's own errors for a bad path or an unreachable PDP.
#[tokio::test]
async fn status_asks_the_path_under_the_base_url() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut asked = Vec::new();
        for status in ["200 OK", "503 Service Unavailable"] {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 2048];
            let n = s.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            asked.push(head.lines().next().unwrap_or_default().to_owned());
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            s.write_all(answer.as_bytes()).await.unwrap();
        }
        asked
    });
    let c = client(&format!("http://{addr}/policygate"));
    assert_eq!(c.status("/ready").await.unwrap(), 200);
    assert_eq!(c.status("/health?verbose").await.unwrap(), 503);
    assert_eq!(
        server.await.unwrap(),
        [
            "GET /policygate/ready HTTP/1.1",
            "GET /policygate/health?verbose HTTP/1.1"
        ]
    );
    assert!(matches!(
        c.status("ready").await,
        Err(PepError::Config { .. })
    ));
    assert!(matches!(
        c.status("/he alth").await,
        Err(PepError::Config { .. })
    ));
    assert!(matches!(
        client(&closed_port_url()).status("/ready").await,
        Err(PepError::Unavailable { .. })
    ));
}
