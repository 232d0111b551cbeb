//! The audit sink and the server under faults, with the real `policygate serve`
//! (issue 11's fault list): a file-size limit (SIGXFSZ, then EFBIG) and a full disk
//! are a failing sink, not a dead process; decisions fail closed while it fails
//! (`/ready` 503, `/health` still 200) and resume by themselves once writes succeed
//! again; the trail verifies afterwards. A blocked stream bounds every request and
//! the shutdown. `kill -9` under load leaves at most a torn tail, which a restart
//! seals. An anonymous flood is audited only at the configured rate. Caller text in
//! text logs cannot forge lines. Every test is bounded in requests and time.

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
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_policygate");

fn scratch(name: &str) -> PathBuf {
    policygate_testkit::scratch_file(env!("CARGO_TARGET_TMPDIR"), "audit-fault-tests", name)
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

/// `policygate audit verify --format json FILE` and its exit code.
fn verify(file: &Path) -> (Option<i32>, serde_json::Value) {
    let out = Command::new(BIN)
        .args(["audit", "verify", "--format", "json"])
        .arg(file)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code(), report)
}

/// `kill -9` while four clients send decisions: every answered decision is a whole
/// line of the trail, `audit verify` finds at most a torn tail, and a restart seals it
/// so that the whole trail verifies. (A killed `write(2)` rarely leaves a fragment, so
/// after the kill the test also appends the fragment a torn write leaves, to exercise
/// the sealing every time.)
#[test]
fn kill_9_under_load_leaves_at_most_a_torn_tail_and_a_restart_seals_it() {
    let audit = scratch("kill9.jsonl");
    let mut server = Serve::new(BIN)
        .args(["--audit-file", audit.to_str().unwrap()])
        .start();
    let addr = server.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut answered = Vec::new();
                for i in 0..5_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let n = c * 10_000 + i;
                    match http::call(addr, "POST", "/evaluate", &[JSON], &decide_body(n)) {
                        Ok(reply) if reply.status == 200 => answered.push(n),
                        Ok(reply) => panic!("unexpected {}: {}", reply.status, reply.text()),
                        Err(_) => break, // the server is gone
                    }
                }
                answered
            })
        })
        .collect();
    // Under load: kill once a few hundred decisions were answered (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read(&audit).map_or(0, |b| b.len()) < 200_000 {
        assert!(
            Instant::now() < deadline,
            "the load never reached the trail"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    stop.store(true, Ordering::SeqCst);
    let answered: Vec<usize> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert!(!answered.is_empty());

    // At most a torn tail: no break.
    let (code, report) = verify(&audit);
    assert_eq!(
        report["files"][0]["breaks"],
        serde_json::json!([]),
        "{report:#}"
    );
    assert_eq!(code, Some(0), "{report:#}");
    let trail = std::fs::read_to_string(&audit).unwrap();
    for n in &answered {
        assert!(
            trail.contains(&format!("\"request_id\":\"f-{n}\"")),
            "decision f-{n} was answered but is not in the trail"
        );
    }

    // A torn write's fragment (what a crash mid-write leaves), then a restart.
    let torn_by_kill = report["files"][0]["torn_tail_bytes"].as_u64().unwrap_or(0);
    let fragment = r#"{"event_type":"policygate.decision.evaluated","event_vers"#;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&audit)
        .unwrap();
    std::io::Write::write_all(&mut file, fragment.as_bytes()).unwrap();
    drop(file);
    let (_, report) = verify(&audit);
    assert_eq!(
        report["files"][0]["torn_tail_bytes"],
        torn_by_kill + fragment.len() as u64,
        "reported as a torn tail: {report:#}"
    );
    assert_eq!(
        report["files"][0]["breaks"],
        serde_json::json!([]),
        "{report:#}"
    );

    let server = Serve::new(BIN)
        .args(["--audit-file", audit.to_str().unwrap()])
        .start();
    assert_eq!(decide(server.addr(), 99_999).0, 200);
    server.signal("TERM");
    assert_eq!(server.wait().status.code(), Some(0));
    let (code, report) = verify(&audit);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["files"][0]["sealed_fragments"], 1, "{report:#}");
    assert_eq!(
        report["files"][0]["torn_tail_bytes"],
        serde_json::Value::Null
    );
}

fn decide_body(i: usize) -> String {
    format!(
        r#"{{"request_id":"f-{i}","action":"infer:run","env":{{"name":"prod"}},"resource":{{"type":"document","sensitivity":"public"}}}}"#
    )
}

/// A full disk: the audit file on a tiny tmpfs (in a mount namespace of the server's
/// own, so nothing stays mounted), filled up; decisions fail closed, and once space is
/// freed they resume by themselves and the trail verifies. Where mounting is not
/// permitted, the same test runs with a file-size limit instead (and says so).
#[test]
fn a_full_disk_fails_closed_then_recovers_when_space_is_freed() {
    let dir = scratch("tmpfs-dir");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir_s = dir.to_str().unwrap().to_owned();
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!("mount -t tmpfs -o size=64k tmpfs '{dir_s}'"))
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let audit_inside = dir.join("audit.jsonl");
    let (server, in_server_view, filler) = if probe {
        eprintln!("DISK FULL TEST: a 64 KiB tmpfs in a private mount namespace (real ENOSPC)");
        // 64 KiB: the filler leaves room for the opening event and a few decisions.
        let script = format!(
            "mount -t tmpfs -o size=64k tmpfs '{dir_s}' && head -c 57344 /dev/zero > '{dir_s}/filler' && exec \"$0\" \"$@\""
        );
        let server = Serve::under(&["unshare", "-m", "sh", "-c", &script], BIN)
            .args(["--audit-file", audit_inside.to_str().unwrap()])
            .start();
        // The server's view of the files (its mount namespace), through /proc.
        let root = PathBuf::from(format!("/proc/{}/root", server.pid()));
        let view = |p: &Path| root.join(p.strip_prefix("/").unwrap());
        let filler = view(&dir.join("filler"));
        (server, view(&audit_inside), Some(filler))
    } else {
        if Command::new("prlimit").arg("--version").output().is_err() {
            eprintln!("skipped: neither tmpfs mounts nor prlimit (util-linux) are available");
            return;
        }
        eprintln!(
            "DISK FULL TEST: mounting a tmpfs is not permitted here; FALLBACK to a file-size limit (ulimit -f, EFBIG)"
        );
        let server = Serve::under(&["sh", "-c", "ulimit -S -f 8 && exec \"$0\" \"$@\""], BIN)
            .args(["--audit-file", audit_inside.to_str().unwrap()])
            .start();
        (server, audit_inside.clone(), None)
    };
    let addr = server.addr();
    let mut refused = None;
    for i in 0..500 {
        let (status, body) = decide(addr, i);
        match status {
            200 => {}
            503 => {
                assert!(body.contains("\"unavailable\""), "{body}");
                refused = Some(i);
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let refused = refused.expect("the disk never filled");
    assert_eq!(status_of(addr, "/health"), 200);
    assert_eq!(status_of(addr, "/ready"), 503);

    // Free space (or lift the limit): the sink recovers by itself.
    match &filler {
        Some(filler) => std::fs::remove_file(filler).unwrap(),
        None => assert!(
            Command::new("prlimit")
                .args(["--pid", &server.pid().to_string(), "--fsize=unlimited"])
                .status()
                .unwrap()
                .success()
        ),
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_of(addr, "/ready") != 200 {
        assert!(Instant::now() < deadline, "the sink never recovered");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(decide(addr, 1_000).0, 200);
    // The trail as the server sees it (the tmpfs goes with its namespace).
    let copy = scratch("diskfull-copy.jsonl");
    std::fs::copy(&in_server_view, &copy).unwrap();
    server.signal("TERM");
    assert_eq!(server.wait().status.code(), Some(0));
    let (code, report) = verify(&copy);
    assert_eq!(code, Some(0), "{report:#}");
    let trail = std::fs::read_to_string(&copy).unwrap();
    // The decision that hit the full disk was retried and written, then the next one.
    for i in [refused, 1_000] {
        assert!(
            trail.contains(&format!("\"request_id\":\"f-{i}\"")),
            "f-{i} missing"
        );
    }
}

/// An anonymous flood (auth on): unauthenticated calls to decision endpoints are
/// audited only at the configured rate, the rest are counted in a
/// `policygate.audit.suppressed` event, and unknown paths are never audited; every
/// call still gets its 401/404 with the error body.
#[test]
fn an_anonymous_flood_is_audited_only_at_the_rate() {
    let server = Serve::new(BIN)
        .args([
            "--auth-tokens-file",
            policygate_testkit::fixture("tokens.txt").to_str().unwrap(),
        ])
        .args(["--audit-unauthenticated-per-second", "5"])
        .start();
    let addr = server.addr();
    let started = Instant::now();
    let calls = 300;
    for i in 0..calls {
        let reply = http::call(addr, "POST", "/evaluate", &[JSON], &decide_body(i)).unwrap();
        assert_eq!(reply.status, 401, "{}", reply.text());
        assert!(reply.text().contains("\"unauthorized\""));
        let reply = http::call(addr, "GET", &format!("/probe/{i}"), &[], "").unwrap();
        assert_eq!(reply.status, 404);
        assert!(reply.text().contains("\"not_found\""));
    }
    let elapsed = started.elapsed();
    server.signal("TERM");
    let exited = server.wait();
    assert_eq!(exited.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = exited
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let audited = lines
        .iter()
        .filter(|l| l["evaluation"]["error_code"] == "unauthorized")
        .count() as u64;
    let suppressed: u64 = lines
        .iter()
        .filter(|l| l["event_type"] == "policygate.audit.suppressed")
        .map(|l| l["suppressed"].as_u64().unwrap())
        .sum();
    // Nothing is lost: each call is audited or counted, once.
    assert_eq!(
        audited + suppressed,
        calls as u64,
        "{audited} + {suppressed}"
    );
    // At most the burst plus the rate for the time the flood took.
    let bound = 5 + 5 * (elapsed.as_secs() + 1);
    assert!(audited <= bound, "{audited} audited in {elapsed:?}");
    let not_found = lines
        .iter()
        .filter(|l| l["evaluation"]["error_code"] == "not_found")
        .count();
    assert_eq!(not_found, 0, "unknown paths are never audited");
    // Unknown paths are logged at most once a second at warn.
    let warned = exited
        .stderr
        .iter()
        .filter(|l| l.contains("request for no endpoint"))
        .count() as u64;
    assert!(
        warned >= 1 && warned <= elapsed.as_secs() + 1,
        "{warned} warn lines"
    );
}

/// Caller-supplied text (a `request_id` with CR, LF and an escape sequence) in the
/// default text log format: escaped, so it can neither start a log line of its own nor
/// repaint a terminal. The line that carries it is the warning of a decision withheld
/// because the audit stream (a pipe nobody reads) is blocked.
#[test]
fn caller_text_cannot_forge_text_log_lines() {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "text"])
        .args(["--request-timeout-ms", "200", "--policy"])
        .arg(policygate_testkit::fixture("policy.yaml"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("POLICYGATE_") {
            command.env_remove(key);
        }
    }
    let mut child = command.spawn().unwrap();
    // Held open and never read: the audit stream blocks once the pipe is full.
    let _stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        loop {
            let mut line = Vec::new();
            match std::io::BufRead::read_until(&mut stderr, b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr: SocketAddr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|e| panic!("no listening line ({e}): {seen:?}"));
        let text = String::from_utf8_lossy(&line).into_owned();
        seen.push(text.clone());
        if let Some(rest) = text.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    // Fill the pipe until decisions are withheld.
    let mut blocked = false;
    for i in 0..5_000 {
        if decide(addr, i).0 == 503 {
            blocked = true;
            break;
        }
    }
    assert!(blocked, "the audit pipe never filled");
    let forged = r#"{"request_id":"x\r\n2026-12-01T00:00:00.000000Z  INFO policygate: FORGED-LINE \u001b[2J","action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","sensitivity":"public"}}"#;
    let reply = http::call(addr, "POST", "/evaluate", &[JSON], forged).unwrap();
    assert_eq!(reply.status, 503, "{}", reply.text());
    // Wait (bounded) for the warning that carries it.
    let mut carrier = None;
    while carrier.is_none() {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|e| panic!("no log line carried the request_id ({e}): {seen:?}"));
        assert!(!line.contains(&0x1b), "a raw ESC reached the log: {line:?}");
        assert!(!line.contains(&b'\r'), "a raw CR reached the log: {line:?}");
        let text = String::from_utf8_lossy(&line).into_owned();
        if text.contains("FORGED-LINE") {
            carrier = Some(text.clone());
        }
        seen.push(text);
    }
    let carrier = carrier.unwrap();
    assert!(carrier.contains("decision withheld"), "{carrier}");
    assert!(
        carrier.contains(r"x\r\n2026-12-01"),
        "escaped, on the warning's own line: {carrier}"
    );
    assert!(carrier.contains(r"\u{1b}[2J"), "{carrier}");
    // No line of the log starts with the forged text.
    assert!(
        !seen
            .iter()
            .any(|l| l.starts_with("2026-12-01T00:00:00.000000Z"))
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
