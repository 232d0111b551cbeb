//! Stand-ins for a PDP on loopback, for PEP fault tests: [`FakePdp`] answers
//! `POST /evaluate` with whatever the test says (after a delay) and records every
//! call; [`raw_server`], [`hang_up_server`] and [`closed_port_url`] misbehave below
//! HTTP. What a fake answers (a decision table) belongs to each test suite.

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one call to the fake PDP saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The caller's address (a pooled client reuses it).
    pub peer: SocketAddr,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body as JSON (`null` if it was not JSON).
    pub body: Value,
}

type AnswerFn = Arc<dyn Fn(&Value) -> (u16, String) + Send + Sync>;

#[derive(Clone)]
struct Fake {
    answer: AnswerFn,
    delay: Duration,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A running fake PDP; it lives as long as the test's runtime.
#[derive(Debug)]
pub struct FakePdp {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakePdp {
    /// A PDP that answers `answer(request body)` (status, body) after `delay`.
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

    /// A PDP that always answers `status` with `body`, after `delay`.
    pub async fn fixed(status: u16, body: &str, delay: Duration) -> FakePdp {
        let body = body.to_owned();
        FakePdp::start(delay, move |_| (status, body.clone())).await
    }

    /// How many calls it received.
    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Every call it received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
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

/// A TCP server that reads each request, then answers `bytes` (not necessarily HTTP)
/// and closes the connection.
pub async fn raw_server(bytes: impl Into<Vec<u8>>) -> String {
    let bytes: Arc<[u8]> = bytes.into().into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let bytes = Arc::clone(&bytes);
            tokio::spawn(async move {
                let mut buf = vec![0_u8; 64 * 1024];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(&bytes).await;
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
