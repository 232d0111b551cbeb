//! `policygate serve` and `policygate healthcheck` as processes: startup refusal, exit
//! codes, audit stream vs. log stream, and the graceful-shutdown flush on SIGTERM and
//! SIGINT (start, send N requests, signal, count N audit events).
//!
//! Only std is used: a raw HTTP/1.1 client over `TcpStream`, and `kill` to signal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_policygate");
const DEADLINE: Duration = Duration::from_secs(20);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../server/tests/fixtures")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

/// Starts `policygate serve` on a free port; ready once it logged its address and
/// answers `/health`.
fn start(extra: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--policy")
        .arg(fixture("policy.yaml"))
        .args(extra)
        .env_remove("POLICYGATE_AUDIT_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("no listening line; stderr so far: {seen:#?}"));
        seen.push(line.clone());
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            if let Some(addr) = v.get("addr").and_then(Value::as_str) {
                break addr.parse().unwrap();
            }
        }
    };
    let deadline = Instant::now() + DEADLINE;
    while http(addr, "GET", "/health", "").map(|(s, _)| s) != Ok(200) {
        assert!(Instant::now() < deadline, "server never became healthy");
        std::thread::sleep(Duration::from_millis(10));
    }
    Server {
        child,
        addr,
        stderr: rx,
        stderr_seen: seen,
    }
}

impl Server {
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for exit (with a deadline); returns the status, stdout and all of stderr.
    fn wait(mut self) -> (ExitStatus, String, Vec<String>) {
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "server did not stop");
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let mut stderr = std::mem::take(&mut self.stderr_seen);
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            stderr.push(line);
        }
        (status, stdout, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `Connection: close` exchange; returns status and body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).map_err(|e| e.to_string())?;
    let (head, body) = raw.split_once("\r\n\r\n").ok_or("no head")?;
    let status = head
        .split(' ')
        .nth(1)
        .ok_or("no status")?
        .parse()
        .map_err(|_| "bad status")?;
    Ok((status, body.to_owned()))
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
    assert!(text.is_empty() || text.ends_with('\n'), "torn audit stream");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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
    let ids = send(server.addr, N);
    server.signal("TERM");
    let (status, stdout, stderr) = server.wait();
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
    let ids = send(server.addr, 7);
    server.signal("INT");
    let (status, stdout, stderr) = server.wait();
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
    let (status, body) = http(server.addr, "POST", "/evaluate", &evaluate_body(0)).unwrap();
    assert_eq!(status, 401, "{body}");
    // Health stays open for load balancers.
    assert_eq!(http(server.addr, "GET", "/health", "").unwrap().0, 200);
    server.signal("TERM");
    let (status, stdout, _) = server.wait();
    assert_eq!(status.code(), Some(0));
    let events = audit_lines(&stdout);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["evaluation"]["error_code"], "unauthorized");
}

#[test]
fn healthcheck_exits_0_only_when_healthy() {
    let server = start(&[]);
    let url = format!("http://{}/health", server.addr);
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
            &format!("http://{}/nope", server.addr),
        ])
        .output()
        .unwrap();
    assert_eq!(not_found.status.code(), Some(1));
    server.signal("TERM");
    let (status, _, _) = server.wait();
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
