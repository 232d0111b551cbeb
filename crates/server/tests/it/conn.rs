//! The connection layer on a real socket: a kept-alive connection left idle and one
//! sending its head a byte at a time are closed by their timeouts (the test waits for
//! the close, within a generous bound, and checks which timeout `/metrics` counted);
//! past `max_connections` a new connection is closed while an open one is served;
//! heads refused by hyper or by our limits get the stable error body.

use crate::common::{assert_valid, schemas};
use crate::socket::{Running, start_with};
use policygate_server::{ConnConfig, MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES};
use policygate_testkit::http;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far longer than any timeout set here: a close must come well before it.
const BOUND: Duration = Duration::from_secs(20);

const KEEP_ALIVE_HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n";

fn config(header_ms: u64, idle_ms: u64, max: Option<usize>) -> ConnConfig {
    ConnConfig {
        header_read_timeout: Duration::from_millis(header_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        max_connections: max,
    }
}

/// The value of one series of `/metrics`.
async fn metric(server: &Running, series: &str) -> u64 {
    let reply = http::call_async(server.addr, "GET", "/metrics", &[], "")
        .await
        .unwrap();
    let text = reply.text();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

/// A kept-alive connection that has had one answer.
async fn kept_alive(server: &Running) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(KEEP_ALIVE_HEALTH).await.unwrap();
    let reply = http::read_one_reply(&mut stream).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    // The header timeout is longer than the bound: only the idle timeout can close it.
    let server = start_with(None, config(60_000, 300, None)).await;
    let mut stream = kept_alive(&server).await;
    // Still kept alive after an answer: a second request on it is served.
    stream.write_all(KEEP_ALIVE_HEALTH).await.unwrap();
    assert_eq!(http::read_one_reply(&mut stream).await.unwrap().status, 200);
    let after = http::closed_within(&mut stream, BOUND).await.unwrap();
    assert!(after.is_empty(), "closed without a word: {after:?}");
    assert_eq!(
        metric(
            &server,
            "policygate_connections_timed_out_total{wait=\"idle\"}"
        )
        .await,
        1
    );
    assert_eq!(
        metric(
            &server,
            "policygate_connections_timed_out_total{wait=\"header_read\"}"
        )
        .await,
        0
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_heads_are_closed_after_the_header_timeout() {
    // The idle timeout is longer than the bound: only the header timeout can close.
    let server = start_with(None, config(300, 60_000, None)).await;

    // Silent from the accept on.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    http::closed_within(&mut silent, BOUND).await.unwrap();

    // A head a byte at a time, on a connection that already had an answer (so the
    // timeout runs from the first byte of the second head, not from the accept).
    let mut slow = kept_alive(&server).await;
    let head = b"GET /health HTTP/1.1\r\nhost: test\r\nx-slow: ";
    let mut closed = false;
    // One byte, then up to 50 ms waiting for the close; 400 rounds take at least 20 s.
    for byte in head.iter().cycle().take(400) {
        if slow.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(50), slow.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0) | Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => panic!("an answer to a head that never ended: {:?}", &buf[..n]),
        }
    }
    assert!(
        closed,
        "400 bytes at most 20 a second were not cut off by a 300 ms header timeout"
    );
    assert_eq!(
        metric(
            &server,
            "policygate_connections_timed_out_total{wait=\"header_read\"}"
        )
        .await,
        2
    );
    assert_eq!(
        metric(
            &server,
            "policygate_connections_timed_out_total{wait=\"idle\"}"
        )
        .await,
        0
    );
    server.stop().await;
}

/// A kept-alive connection that has had one answer, at the connection limit: a
/// connection the server has just closed (the start-up probe) may hold its slot for a
/// moment after the client saw the close, so a connection refused meanwhile is
/// retried (a bounded number of times). Returns it and the refusals seen.
async fn kept_alive_at_the_limit(server: &Running) -> (TcpStream, u64) {
    for refused in 0..200 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        if stream.write_all(KEEP_ALIVE_HEALTH).await.is_ok()
            && let Ok(reply) = http::read_one_reply(&mut stream).await
        {
            assert_eq!(reply.status, 200, "{}", reply.text());
            return (stream, refused);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("no connection was served in 200 attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_limit_new_connections_are_closed_while_open_ones_are_served() {
    let server = start_with(None, config(60_000, 60_000, Some(2))).await;
    let (mut first, refused_first) = kept_alive_at_the_limit(&server).await;
    let (mut second, refused_second) = kept_alive_at_the_limit(&server).await;
    // Both permits are held: a third connection is closed at once, unanswered.
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    let _ = third.write_all(KEEP_ALIVE_HEALTH).await;
    let seen = http::closed_within(&mut third, BOUND).await.unwrap();
    assert!(
        seen.is_empty(),
        "a refused connection gets no answer: {seen:?}"
    );
    // The open ones are still served.
    for stream in [&mut first, &mut second] {
        stream.write_all(KEEP_ALIVE_HEALTH).await.unwrap();
        assert_eq!(http::read_one_reply(stream).await.unwrap().status, 200);
    }
    // Metrics, over the first connection (a new one would be refused).
    first
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let text = http::read_one_reply(&mut first).await.unwrap().text();
    let refused = format!(
        "policygate_connections_refused_total {}",
        refused_first + refused_second + 1
    );
    assert!(text.lines().any(|l| l == refused), "{refused} in\n{text}");
    assert!(
        text.lines().any(|l| l == "policygate_connections_open 2"),
        "{text}"
    );
    drop((first, second));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_heads_get_the_stable_error_body() {
    let server = start_with(None, config(10_000, 10_000, None)).await;
    let many_headers: String = (0..=MAX_HEADERS)
        .map(|i| format!("x-h{i}: v\r\n"))
        .collect();
    let big_header = "v".repeat(MAX_HEADER_BYTES);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        // hyper refuses these itself; the connection layer supplies the body.
        ("garbage request line", b"HELLO\r\n\r\n".to_vec(), 400, "bad_request"),
        (
            "bad content-length",
            b"POST /evaluate HTTP/1.1\r\nhost: test\r\ncontent-length: nope\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            "bad header line",
            b"GET /health HTTP/1.1\r\nhost: test\r\nno colon here\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            "too many header fields",
            format!("GET /health HTTP/1.1\r\nhost: test\r\n{many_headers}\r\n").into_bytes(),
            431,
            "headers_too_large",
        ),
        // Our own limits, on a parsed head.
        (
            "long request target",
            format!(
                "GET /{} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n",
                "a".repeat(MAX_URI_BYTES)
            )
            .into_bytes(),
            414,
            "uri_too_long",
        ),
        (
            "large header section",
            format!("GET /health HTTP/1.1\r\nhost: test\r\nconnection: close\r\nx-big: {big_header}\r\n\r\n")
                .into_bytes(),
            431,
            "headers_too_large",
        ),
        (
            "no Host on HTTP/1.1",
            b"GET /health HTTP/1.1\r\nconnection: close\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
    ];
    for (what, raw, status, code) in cases {
        let reply = http::send_async(server.addr, &raw).await.unwrap();
        assert_eq!(reply.status, status, "{what}: {}", reply.text());
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{what}"
        );
        let body: Value = reply.json();
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert_valid(&schemas().error, &body, what);
    }
    // HTTP/1.0 needs no Host.
    let reply = http::send_async(server.addr, b"GET /health HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        metric(
            &server,
            "policygate_rejected_requests_total{code=\"bad_request\"}"
        )
        .await,
        4
    );
    assert_eq!(
        metric(
            &server,
            "policygate_rejected_requests_total{code=\"headers_too_large\"}"
        )
        .await,
        2
    );
    assert_eq!(
        metric(
            &server,
            "policygate_rejected_requests_total{code=\"uri_too_long\"}"
        )
        .await,
        1
    );
    server.stop().await;
}
