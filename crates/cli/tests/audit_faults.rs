//! The audit sink under faults, with the real `policygate serve`: a file-size limit
//! (SIGXFSZ, then EFBIG) is a failing sink, not a dead process; decisions fail closed
//! while it fails (`/ready` 503, `/health` still 200) and resume by themselves once
//! writes succeed again; the trail verifies afterwards.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use policygate_testkit::Serve;
use policygate_testkit::http::{self, JSON};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_policygate");

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit-fault-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn decide(addr: SocketAddr, i: usize) -> (u16, String) {
    let body = format!(
        r#"{{"request_id":"f-{i}","action":"infer:run","env":{{"name":"prod"}},"resource":{{"type":"document","sensitivity":"public"}}}}"#
    );
    let reply = http::call(addr, "POST", "/evaluate", &[JSON], &body).unwrap();
    (reply.status, reply.text())
}

fn status_of(addr: SocketAddr, path: &str) -> u16 {
    http::call(addr, "GET", path, &[], "").unwrap().status
}

#[test]
fn a_file_size_limit_fails_closed_then_recovers_without_a_restart() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    let audit = scratch("fsize.jsonl");
    // Room for the opening event and a few decisions (soft limit; the hard one stays
    // unlimited so that it can be lifted below).
    let server = Serve::under(&["prlimit", "--fsize=4000:unlimited", "--"], BIN)
        .args(["--audit-file", audit.to_str().unwrap()])
        .start();
    let addr = server.addr();
    let mut answered = 0;
    let mut refused = None;
    for i in 0..50 {
        let (status, body) = decide(addr, i);
        match status {
            200 => answered += 1,
            503 => {
                assert!(body.contains("\"unavailable\""), "{body}");
                refused = Some(i);
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let refused = refused.expect("the limit was never reached");
    assert!(answered > 0);
    // Alive (liveness), failing closed, and not ready (readiness).
    assert_eq!(status_of(addr, "/health"), 200);
    assert_eq!(status_of(addr, "/ready"), 503);
    assert_eq!(decide(addr, 100).0, 503);

    // Lift the limit: the sink recovers by itself.
    let lifted = Command::new("prlimit")
        .args([
            "--pid",
            &server.pid().to_string(),
            "--fsize=unlimited:unlimited",
        ])
        .status()
        .unwrap();
    assert!(lifted.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of(addr, "/ready") != 200 {
        assert!(Instant::now() < deadline, "the sink never recovered");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(decide(addr, 200).0, 200);

    server.signal("TERM");
    assert_eq!(server.wait().status.code(), Some(0));
    let out = Command::new(BIN)
        .args(["audit", "verify", audit.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let trail = std::fs::read_to_string(&audit).unwrap();
    // The answered decisions, the one that failed (retried and written), and the one
    // after recovery; the decision refused while failing was never queued.
    for i in (0..answered).chain([refused, 200]) {
        assert!(
            trail.contains(&format!("\"request_id\":\"f-{i}\"")),
            "f-{i} missing"
        );
    }
    assert!(!trail.contains("\"request_id\":\"f-100\""));
}

/// An audit stream nobody reads (stdout a full pipe): the request whose batch is stuck
/// in `write(2)` and every later one get their 503 at the request timeout (the write
/// runs on a thread of its own), `/ready` turns 503 while `/health` stays 200, and
/// SIGTERM ends after the shutdown timeout with the number of unwritten events.
#[test]
fn a_blocked_audit_stream_bounds_every_request_and_the_shutdown() {
    let server = Serve::new(BIN)
        .stdout_unread()
        .args([
            "--request-timeout-ms",
            "300",
            "--shutdown-timeout-ms",
            "500",
        ])
        .start();
    let addr = server.addr();
    // A pipe holds 64 KiB: decisions are answered until the writer blocks.
    let mut blocked = None;
    for i in 0..5_000 {
        let (status, body) = decide(addr, i);
        match status {
            200 => {}
            503 => {
                assert!(body.contains("\"unavailable\""), "{body}");
                blocked = Some(i);
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let blocked = blocked.expect("the audit pipe never filled");
    assert!(blocked > 0, "the first decisions fit in the pipe");
    // Every later decision too is refused within its budget, not held.
    let (status, body) = decide(addr, 10_000);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("within the request timeout"), "{body}");
    // Liveness stays, readiness goes (the write is stuck past the request timeout).
    assert_eq!(status_of(addr, "/health"), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of(addr, "/ready") != 503 {
        assert!(
            Instant::now() < deadline,
            "/ready never reported the stuck sink"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    server.signal("TERM");
    let exited = server.wait();
    assert_eq!(exited.status.code(), Some(3), "{:#?}", exited.stderr);
    let unflushed = exited
        .stderr
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|v| v.get("unflushed").and_then(serde_json::Value::as_u64))
        .unwrap_or_else(|| panic!("no unflushed count logged: {:#?}", exited.stderr));
    // At least the refused decisions' lines (queued, never written).
    assert!(unflushed >= 2, "{unflushed} unflushed");
}
