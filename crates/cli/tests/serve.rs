//! `policygate serve` and `policygate healthcheck` as processes: startup refusal, exit
//! codes, audit stream vs. log stream, and the graceful-shutdown flush on SIGTERM and
//! SIGINT (start, send N requests, signal, count N audit events).
//!
//! The server is started, signalled and collected with `policygate-testkit`'s
//! [`Serve`]; requests go through its raw HTTP/1.1 client.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use policygate_testkit::audit::decision_events;
use policygate_testkit::http::{self, JSON};
use policygate_testkit::{Exited, Running, Serve, fixture};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_policygate");

fn scratch(name: &str) -> PathBuf {
    policygate_testkit::scratch_file(env!("CARGO_TARGET_TMPDIR"), "serve-tests", name)
}

/// `policygate serve` on a free port with the fixture policy, ready.
fn start(extra: &[&str]) -> Running {
    Serve::new(BIN).args(extra).start()
}

/// One JSON exchange; returns status and body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let reply = http::call(addr, method, path, &[JSON], body).map_err(|e| e.to_string())?;
    Ok((reply.status, reply.text()))
}

fn evaluate_body(i: usize) -> String {
    let (action, sensitivity) = [
        ("infer:run", "public"),
        ("infer:run", "restricted"),
        ("data:write", "internal"),
        ("tool:invoke", "public"),
    ][i % 4];
    format!(
        r#"{{"request_id":"r-{i}","action":"{action}","env":{{"name":"prod"}},"resource":{{"type":"document","sensitivity":"{sensitivity}"}}}}"#
    )
}

fn audit_lines(text: &str) -> Vec<Value> {
    decision_events(text.as_bytes())
}

/// Sends `n` requests (every 5th is malformed) and returns the correlation ids.
fn send(addr: SocketAddr, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let body = if i % 5 == 4 {
                "{".to_owned()
            } else {
                evaluate_body(i)
            };
            let (status, reply) = http(addr, "POST", "/evaluate", &body).unwrap();
            let reply: Value = serde_json::from_str(&reply).unwrap();
            if i % 5 == 4 {
                assert_eq!(status, 400);
                reply["error"]["correlation_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            } else {
                assert_eq!(status, 200, "{reply}");
                reply["correlation_id"].as_str().unwrap().to_owned()
            }
        })
        .collect()
}

#[test]
fn sigterm_flushes_every_audit_event_to_the_audit_file() {
    let audit = scratch("audit.jsonl");
    let server = start(&[
        "--audit-file",
        audit.to_str().unwrap(),
        "--environment",
        "test",
    ]);
    const N: usize = 60;
    let ids = send(server.addr(), N);
    server.signal("TERM");
    let Exited {
        status,
        stdout,
        stderr,
    } = server.wait();
    assert_eq!(status.code(), Some(0), "stderr: {stderr:#?}");
    assert!(
        stdout.is_empty(),
        "audit went to the file, nothing to stdout: {stdout}"
    );
    let events = audit_lines(&std::fs::read_to_string(&audit).unwrap());
    assert_eq!(events.len(), N);
    let audited: Vec<&str> = events
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(audited, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(events.iter().all(|e| e["environment"] == "test"));
    assert!(
        stderr.iter().any(|l| l.contains("audit trail flushed")),
        "{stderr:#?}"
    );
}

#[test]
fn sigint_stops_cleanly_with_audit_on_stdout_and_logs_on_stderr() {
    let server = start(&[]);
    let ids = send(server.addr(), 7);
    server.signal("INT");
    let Exited {
        status,
        stdout,
        stderr,
    } = server.wait();
    assert_eq!(status.code(), Some(0), "stderr: {stderr:#?}");
    let events = audit_lines(&stdout);
    assert_eq!(events.len(), 7);
    assert!(
        events
            .iter()
            .all(|e| e["event_type"] == "policygate.decision.evaluated")
    );
    assert_eq!(
        events
            .iter()
            .map(|e| e["request_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>(),
        ids
    );
    // Operational logs never carry audit events, and are JSON as asked.
    assert!(
        stderr
            .iter()
            .all(|l| !l.contains("policygate.decision.evaluated"))
    );
    assert!(
        stderr
            .iter()
            .all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "{stderr:#?}"
    );
}

#[test]
fn an_invalid_policy_is_refused_before_listening() {
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--policy"])
        .arg(fixture("invalid.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid.yaml"), "{stderr}");
    assert!(stderr.contains("error"), "{stderr}");
    assert!(
        stderr.contains("`secret`") && stderr.contains("`r1`"),
        "diagnostics name both problems: {stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_policy_over_the_size_limit_is_refused_before_parsing() {
    let policy = fixture("policy.yaml");
    let size = std::fs::metadata(&policy).unwrap().len();
    let run = |limit: u64| {
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--max-policy-bytes"])
            .arg(limit.to_string())
            .arg("--policy")
            .arg(&policy)
            .output()
            .unwrap()
    };
    let output = run(size - 1);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("policy size limit of {} bytes", size - 1))
            && stderr.contains("--max-policy-bytes"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
    // Exactly at the limit the policy loads (a bad audit target then stops the start,
    // after the policy was read).
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--max-policy-bytes"])
        .arg(size.to_string())
        .arg("--policy")
        .arg(&policy)
        .args(["--audit-file", "/nonexistent/dir/audit.jsonl"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("policy size limit"), "{stderr}");
    assert!(stderr.contains("audit"), "{stderr}");
}

#[test]
fn a_missing_policy_is_a_usage_error() {
    let output = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--policy",
            "/nonexistent/policy.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read policy file `/nonexistent/policy.yaml`"),
        "{stderr}"
    );
}

#[test]
fn a_bad_tokens_file_is_a_usage_error() {
    let tokens = scratch("tokens.txt");
    std::fs::write(&tokens, "svc:short\n").unwrap();
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--policy"])
        .arg(fixture("policy.yaml"))
        .arg("--auth-tokens-file")
        .arg(&tokens)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 1 (`svc`)"), "{stderr}");
    assert!(
        !stderr.contains("short"),
        "the token is never printed: {stderr}"
    );
}

#[test]
fn a_busy_port_or_unopenable_audit_file_is_a_runtime_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(BIN)
        .args(["serve", "--listen", &addr, "--policy"])
        .arg(fixture("policy.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen"));
    // Bound first: a start that failed wrote no opening event, to stdout or a file.
    assert!(output.stdout.is_empty(), "{:?}", output.stdout);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-busy-port");
    std::fs::create_dir_all(&dir).unwrap();
    let audit = dir.join(format!("{}-audit.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&audit);
    let output = Command::new(BIN)
        .args(["serve", "--listen", &addr, "--audit-file"])
        .arg(&audit)
        .arg("--policy")
        .arg(fixture("policy.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(!audit.exists(), "a failed start created the audit file");

    let output = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--audit-file",
            "/nonexistent/dir/audit.jsonl",
            "--policy",
        ])
        .arg(fixture("policy.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot open audit file"));
}

#[test]
fn auth_on_refuses_unauthenticated_calls() {
    let server = start(&[
        "--auth-tokens-file",
        fixture("tokens.txt").to_str().unwrap(),
    ]);
    let (status, body) = http(server.addr(), "POST", "/evaluate", &evaluate_body(0)).unwrap();
    assert_eq!(status, 401, "{body}");
    // Health stays open for load balancers.
    assert_eq!(http(server.addr(), "GET", "/health", "").unwrap().0, 200);
    server.signal("TERM");
    let Exited { status, stdout, .. } = server.wait();
    assert_eq!(status.code(), Some(0));
    let events = audit_lines(&stdout);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["evaluation"]["error_code"], "unauthorized");
}

#[test]
fn healthcheck_exits_0_only_when_healthy() {
    let server = start(&[]);
    let url = format!("http://{}/health", server.addr());
    let ok = Command::new(BIN)
        .args(["healthcheck", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let not_found = Command::new(BIN)
        .args([
            "healthcheck",
            "--url",
            &format!("http://{}/nope", server.addr()),
        ])
        .output()
        .unwrap();
    assert_eq!(not_found.status.code(), Some(1));
    server.signal("TERM");
    let Exited { status, .. } = server.wait();
    assert_eq!(status.code(), Some(0));
    let down = Command::new(BIN)
        .args(["healthcheck", "--url", &url])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("unhealthy"));
    let bad = Command::new(BIN)
        .args(["healthcheck", "--url", "ftp://x"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

const KEEP_ALIVE_HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n";

/// Far longer than the timeouts set below: a close must come well before it.
const BOUND: std::time::Duration = std::time::Duration::from_secs(20);

#[test]
fn the_connection_flags_reach_the_server() {
    use std::io::Write;
    use std::net::TcpStream;

    // --idle-timeout-ms: a kept-alive connection is answered, then closed (the header
    // timeout is longer than the bound, so only the idle timeout can close it).
    let server = start(&[
        "--idle-timeout-ms",
        "300",
        "--header-read-timeout-ms",
        "60000",
    ]);
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    idle.write_all(KEEP_ALIVE_HEALTH).unwrap();
    let seen = http::closed_within_blocking(&mut idle, BOUND).unwrap();
    assert_eq!(http::parse_reply(&seen).unwrap().status, 200);
    server.signal("TERM");
    assert_eq!(server.wait().status.code(), Some(0));

    // --max-connections 1: with one kept-alive connection open, a second is closed at
    // once and unanswered, and the first is still served.
    // --header-read-timeout-ms: a head left unfinished on it closes it (the idle
    // timeout is longer than the bound).
    let server = start(&[
        "--max-connections",
        "1",
        "--header-read-timeout-ms",
        "300",
        "--idle-timeout-ms",
        "60000",
    ]);
    // The start-up probe's connection may hold the one slot for a moment after its
    // close: retry a refused first connection (bounded).
    let mut open = (0..200)
        .find_map(|_| {
            let mut stream = TcpStream::connect(server.addr()).unwrap();
            let served = stream.write_all(KEEP_ALIVE_HEALTH).is_ok()
                && http::read_one_reply_blocking(&mut stream).is_ok_and(|r| r.status == 200);
            if !served {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            served.then_some(stream)
        })
        .expect("no connection was served in 200 attempts");
    let mut refused = TcpStream::connect(server.addr()).unwrap();
    let _ = refused.write_all(KEEP_ALIVE_HEALTH);
    let seen = http::closed_within_blocking(&mut refused, BOUND).unwrap();
    assert!(seen.is_empty(), "{}", String::from_utf8_lossy(&seen));
    open.write_all(KEEP_ALIVE_HEALTH).unwrap();
    assert_eq!(
        http::read_one_reply_blocking(&mut open).unwrap().status,
        200
    );
    open.write_all(b"GET /health HTTP/1.1\r\nhost: te").unwrap();
    let seen = http::closed_within_blocking(&mut open, BOUND).unwrap();
    assert!(seen.is_empty(), "{}", String::from_utf8_lossy(&seen));
    server.signal("TERM");
    let Exited { status, stderr, .. } = server.wait();
    assert_eq!(status.code(), Some(0));
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("refusing new connections: 1 are open (--max-connections)")),
        "{stderr:#?}"
    );
}
