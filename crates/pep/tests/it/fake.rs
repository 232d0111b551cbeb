//! In-test fake PDPs on loopback: one that decides from the facts, and one that
//! misbehaves on purpose (slow, error status, garbage).

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one call to the fake PDP saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub peer: SocketAddr,
    pub headers: HeaderMap,
    pub body: Value,
}

type Answer = Arc<dyn Fn(&Value) -> (u16, String) + Send + Sync>;

#[derive(Clone)]
struct Fake {
    answer: Answer,
    delay: Duration,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A running fake PDP.
pub struct FakePdp {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakePdp {
    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// A PDP that answers `answer(request)` after `delay`.
    pub async fn start(
        delay: Duration,
        answer: impl Fn(&Value) -> (u16, String) + Send + Sync + 'static,
    ) -> FakePdp {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Fake {
            answer: Arc::new(answer),
            delay,
            seen: Arc::clone(&seen),
        };
        let app = Router::new()
            .route("/evaluate", post(evaluate))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        FakePdp {
            url: format!("http://{addr}"),
            seen,
        }
    }

    /// A PDP that decides like a small policy: `signals.force` names the decision if
    /// set; otherwise public → ALLOW, internal → DEGRADE (OUTPUT_CAP max_tokens 3,
    /// max_bytes 5), restricted → REQUIRE_REVIEW.
    pub async fn deciding() -> FakePdp {
        FakePdp::start(Duration::ZERO, |req| (200, decide(req).to_string())).await
    }

    /// A PDP that always answers `status` with `body`, after `delay`.
    pub async fn fixed(status: u16, body: &str, delay: Duration) -> FakePdp {
        let body = body.to_owned();
        FakePdp::start(delay, move |_| (status, body.clone())).await
    }
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

async fn evaluate(
    State(fake): State<Fake>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, String) {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.seen.lock().unwrap().push(Seen {
        peer,
        headers,
        body: body.clone(),
    });
    if !fake.delay.is_zero() {
        tokio::time::sleep(fake.delay).await;
    }
    let (status, text) = (fake.answer)(&body);
    (StatusCode::from_u16(status).unwrap(), text)
}

/// A TCP server that accepts connections and closes them at once, counting them.
pub async fn hang_up_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (format!("http://{addr}"), accepted)
}

/// A TCP server that answers every connection with `bytes` (not necessarily HTTP).
pub async fn raw_server(bytes: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0_u8; 64 * 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(bytes).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// A loopback address where nothing listens (bound, then released).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
