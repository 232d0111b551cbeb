//! The service on a real loopback socket: readiness, decisions and refusals as a
//! client sees them, authentication, and graceful shutdown (stop accepting, finish
//! the in-flight request, flush every audit event).

use crate::common::{Harness, TOKEN_CHECKOUT, request_json, tokens};
use policygate_server::{ConnConfig, ServerConfig, Tokens, serve};
use policygate_testkit::http::{self, JSON};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// The service of a [`Harness`] (fixture policy, in-memory audit sink) on a socket.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    harness: Harness,
}

async fn start(auth: Option<Tokens>) -> Running {
    start_with(auth, ConnConfig::default()).await
}

async fn start_with(auth: Option<Tokens>, connections: ConnConfig) -> Running {
    let harness = Harness::with(ServerConfig::default(), auth);
    let state = harness.state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        state,
        connections,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(10),
    ));
    let running = Running {
        addr,
        stop: Some(stop),
        server,
        harness,
    };
    // The listener is bound before the server task starts, so a connection made now
    // is served as soon as the accept loop runs: one probe shows it is up.
    let (status, body) = call(addr, "GET", "/health", &[], "").await.unwrap();
    assert_eq!(status, 200, "{body}");
    running
}

impl Running {
    /// Stops the server gracefully and flushes the audit trail; returns every event.
    async fn stop(mut self) -> Vec<Value> {
        let _ = self.stop.take().unwrap().send(());
        self.server.await.unwrap().unwrap();
        let writer = self.harness.writer.take().unwrap();
        tokio::task::spawn_blocking(move || writer.close())
            .await
            .unwrap()
            .unwrap();
        self.harness.sink.events()
    }
}

/// Status and body of the answer on a `Connection: close` exchange.
async fn read_reply(stream: &mut TcpStream) -> std::io::Result<(u16, Value)> {
    let reply = http::read_reply(stream).await?;
    Ok((reply.status, reply.value()))
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, Value)> {
    let reply = http::call_async(addr, method, path, headers, body).await?;
    Ok((reply.status, reply.value()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_and_refusals_over_a_socket() {
    let server = start(None).await;
    let addr = server.addr;
    let mut expected = Vec::new();
    for (action, sensitivity, decision) in [
        ("infer:run", "public", "ALLOW"),
        ("infer:run", "restricted", "DEGRADE"),
        ("data:write", "internal", "REQUIRE_REVIEW"),
        ("tool:invoke", "public", "BLOCK"),
    ] {
        let (status, body) = call(
            addr,
            "POST",
            "/evaluate",
            &[JSON],
            &request_json(action, sensitivity).to_string(),
        )
        .await
        .unwrap();
        assert_eq!((status, body["decision"].as_str()), (200, Some(decision)));
        expected.push((
            body["correlation_id"].as_str().unwrap().to_owned(),
            Value::Null,
        ));
    }
    let too_big = format!("{{\"x\":\"{}\"}}", "y".repeat(70 * 1024));
    for (method, path, headers, body, status, code) in [
        (
            "POST",
            "/evaluate",
            vec![JSON],
            "{".to_owned(),
            400,
            "invalid_json",
        ),
        (
            "POST",
            "/evaluate",
            vec![JSON],
            json!({"action": 1}).to_string(),
            422,
            "invalid_request",
        ),
        (
            "POST",
            "/evaluate",
            vec![JSON],
            too_big,
            413,
            "payload_too_large",
        ),
        (
            "POST",
            "/evaluate",
            vec![("content-type", "text/plain")],
            "{}".to_owned(),
            415,
            "unsupported_media_type",
        ),
        ("GET", "/nowhere", vec![], String::new(), 404, "not_found"),
        (
            "DELETE",
            "/evaluate",
            vec![],
            String::new(),
            405,
            "method_not_allowed",
        ),
    ] {
        let (got, body) = call(addr, method, path, &headers, &body).await.unwrap();
        assert_eq!(got, status, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], code);
        // Requests for no endpoint (404, 405) decide nothing and are not audited.
        if matches!(status, 404 | 405) {
            continue;
        }
        expected.push((
            body["error"]["correlation_id"].as_str().unwrap().to_owned(),
            Value::String(code.to_owned()),
        ));
    }
    let events = server.stop().await;
    let got: Vec<(String, Value)> = events
        .iter()
        .map(|e| {
            (
                e["request_id"].as_str().unwrap().to_owned(),
                e["evaluation"]
                    .get("error_code")
                    .cloned()
                    .unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        got, expected,
        "one audit event per call, in order, with matching ids"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_over_a_socket() {
    let server = start(Some(tokens())).await;
    let body = request_json("infer:run", "public").to_string();
    let (status, err) = call(server.addr, "POST", "/evaluate", &[JSON], &body)
        .await
        .unwrap();
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let bearer = format!("Bearer {TOKEN_CHECKOUT}");
    let (status, _) = call(
        server.addr,
        "POST",
        "/evaluate",
        &[JSON, ("authorization", &bearer)],
        &body,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let events = server.stop().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["caller_id"], Value::Null);
    assert_eq!(events[1]["caller_id"], "checkout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests_and_flushes_the_audit_trail() {
    let mut server = start(None).await;
    let addr = server.addr;
    const N: usize = 40;
    for i in 0..N {
        let mut req = request_json(
            "infer:run",
            if i % 2 == 0 { "public" } else { "restricted" },
        );
        req["request_id"] = json!(format!("n-{i}"));
        let (status, _) = call(addr, "POST", "/evaluate", &[JSON], &req.to_string())
            .await
            .unwrap();
        assert_eq!(status, 200);
    }

    // An in-flight request: headers and half the body are sent before the shutdown.
    let mut req = request_json("infer:run", "public");
    req["request_id"] = json!("in-flight");
    let full = http::request("POST", "/evaluate", &[JSON], req.to_string().as_bytes());
    let (first, rest) = full.split_at(full.len() - 10);
    let mut in_flight = TcpStream::connect(addr).await.unwrap();
    in_flight.write_all(first).await.unwrap();
    // Wait until the handler is running (reading the body), as the metrics show.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = call(addr, "GET", "/metrics", &[], "").await.unwrap();
        if metrics
            .as_str()
            .unwrap()
            .contains("\npolicygate_evaluate_in_flight 1\n")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the in-flight request never reached its handler"
        );
        tokio::task::yield_now().await;
    }

    let _ = server.stop.take().unwrap().send(());
    // Once the listener is closed, new connections are refused ...
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after shutdown");
        tokio::task::yield_now().await;
    }
    // ... but the in-flight request still completes.
    assert!(!server.server.is_finished());
    in_flight.write_all(rest).await.unwrap();
    let (status, body) = read_reply(&mut in_flight).await.unwrap();
    assert_eq!(
        (status, body["correlation_id"].as_str()),
        (200, Some("in-flight"))
    );

    server.server.await.unwrap().unwrap();
    let writer = server.harness.writer.take().unwrap();
    tokio::task::spawn_blocking(move || writer.close())
        .await
        .unwrap()
        .unwrap();
    let events = server.harness.sink.events();
    let decisions = events
        .iter()
        .filter(|e| e["evaluation"]["decision"] != Value::Null)
        .count();
    // N decisions and the in-flight one; health and metrics probes are not audited.
    assert_eq!(decisions, N + 1);
    assert_eq!(events.len(), N + 1);
    assert_eq!(events.last().unwrap()["request_id"], "in-flight");
}
