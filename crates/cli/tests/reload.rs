//! Hot reload of the real `policygate serve`: the file watcher (through the
//! Kubernetes `..data` symlink swap and in-place write-then-rename) under continuous
//! load, and `SIGHUP` with an invalid policy (last-known-good kept and reported).
//!
//! Waiting for a reload polls `/metrics` (the reload counters) with a deadline; no
//! test sleeps in place of a readiness check.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use policygate_testkit::audit::parse_lines;
use policygate_testkit::http::{self, JSON};
use policygate_testkit::{Running, Serve, fixture};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_policygate");
const WAIT: Duration = Duration::from_secs(30);

fn scratch_dir(name: &str) -> PathBuf {
    policygate_testkit::scratch_dir(env!("CARGO_TARGET_TMPDIR"), "reload-tests", name)
}

/// The fixture policy as version `i`: valid, or invalid (an unknown sensitivity).
fn version(i: usize, valid: bool) -> String {
    let text = std::fs::read_to_string(fixture("policy.yaml")).unwrap();
    let text = text.replace("2026-11-25.1", &format!("reload-{i}"));
    assert!(text.contains(&format!("reload-{i}")));
    if valid {
        text
    } else {
        let broken = text.replacen("sensitivity: public", "sensitivity: top-secret", 1);
        assert_ne!(broken, text);
        broken
    }
}

fn sha(text: &str) -> String {
    policygate_core::fingerprint(text.as_bytes())
}

/// Writes `text` to `path` the safe way: a temporary file renamed over it.
fn write_then_rename(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[cfg(unix)]
fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// A ConfigMap volume as the kubelet writes it: `policy.yaml -> ..data/policy.yaml`,
/// `..data -> ..vN`; an update writes `..vN+1`, renames a new `..data` over the old
/// one and deletes the old directory.
struct ConfigMapDir {
    dir: PathBuf,
    current: Option<String>,
}

impl ConfigMapDir {
    fn new(dir: &Path, first: &str) -> ConfigMapDir {
        let mut cm = ConfigMapDir {
            dir: dir.to_owned(),
            current: None,
        };
        cm.swap(0, first);
        symlink("..data/policy.yaml", &dir.join("policy.yaml"));
        cm
    }

    fn policy(&self) -> PathBuf {
        self.dir.join("policy.yaml")
    }

    /// The Kubernetes update: a new timestamped directory and a `..data` swap.
    fn swap(&mut self, i: usize, text: &str) {
        let name = format!("..v{i}");
        std::fs::create_dir(self.dir.join(&name)).unwrap();
        std::fs::write(self.dir.join(&name).join("policy.yaml"), text).unwrap();
        let tmp = self.dir.join("..data_tmp");
        symlink(&name, &tmp);
        std::fs::rename(&tmp, self.dir.join("..data")).unwrap();
        if let Some(old) = self.current.replace(name) {
            std::fs::remove_dir_all(self.dir.join(old)).unwrap();
        }
    }

    /// An edit of the file the symlinks lead to, by write-then-rename in its directory.
    fn edit_in_place(&self, text: &str) {
        write_then_rename(&self.dir.join("..data").join("policy.yaml"), text);
    }
}

/// `policygate_policy_reloads_total` by outcome.
fn reloads(addr: SocketAddr) -> BTreeMap<String, u64> {
    reloads_as(addr, None)
}

/// The same, with a bearer token when authentication is on.
fn reloads_as(addr: SocketAddr, token: Option<&str>) -> BTreeMap<String, u64> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    let reply = http::call(addr, "GET", "/metrics", &headers, "").unwrap();
    if reply.status == 401 {
        // The token is not (or no longer) valid: nothing to count yet.
        return BTreeMap::new();
    }
    assert_eq!(reply.status, 200);
    reply
        .text()
        .lines()
        .filter_map(|l| l.strip_prefix("policygate_policy_reloads_total{outcome=\""))
        .map(|rest| {
            let (outcome, n) = rest.split_once("\"} ").unwrap();
            (outcome.to_owned(), n.parse().unwrap())
        })
        .collect()
}

/// Polls `/metrics` until the applied and rejected counters reach the given values.
fn await_reloads(addr: SocketAddr, applied: u64, rejected: u64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = reloads(addr);
        let (a, r) = (now["applied"], now["rejected"]);
        if a == applied && r == rejected {
            return;
        }
        assert!(
            a <= applied && r <= rejected,
            "more reloads than changes: {now:?}, expected applied {applied}, rejected {rejected}"
        );
        assert!(
            Instant::now() < deadline,
            "reload not seen within {WAIT:?}: {now:?}, expected applied {applied}, rejected {rejected}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn health(addr: SocketAddr) -> Value {
    let reply = http::call(addr, "GET", "/health", &[], "").unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

const BODY: &str = r#"{"action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","sensitivity":"public"}}"#;

/// One `/evaluate`: status and the answer.
fn evaluate(addr: SocketAddr) -> (u16, Value) {
    let reply = http::call(addr, "POST", "/evaluate", &[JSON], BODY).unwrap();
    (reply.status, reply.value())
}

fn stop(server: Running) -> Vec<Value> {
    server.signal("TERM");
    let exited = server.wait();
    assert!(exited.status.success(), "{:#?}", exited.stderr);
    parse_lines(exited.stdout.as_bytes())
}

#[cfg(unix)]
#[test]
fn reload_under_load_keeps_serving_valid_versions_only() {
    let dir = scratch_dir("under-load");
    let mut cm = ConfigMapDir::new(&dir, &version(0, true));
    let server = Serve::new(BIN).policy(cm.policy()).start();
    let addr = server.addr();

    // Continuous load from two clients until every replacement is done.
    let stop_load = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let stop_load = Arc::clone(&stop_load);
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                while !stop_load.load(Ordering::Relaxed) {
                    // A transport error is recorded as status 0 (a failure), not a panic,
                    // so that the main thread reports what went wrong first.
                    answers.push(
                        http::call(addr, "POST", "/evaluate", &[JSON], BODY).map_or_else(
                            |e| (0, Value::String(e.to_string())),
                            |r| (r.status, r.value()),
                        ),
                    );
                }
                answers
            })
        })
        .collect();

    let mut valid_shas = BTreeSet::from([sha(&version(0, true))]);
    let mut last_valid = sha(&version(0, true));
    let (mut applied, mut rejected) = (0, 0);
    for i in 1..=50 {
        // Version 1 valid, 2, 3 invalid, 4, 5 valid, …, 49 valid, 50 invalid: half of
        // them, the last one invalid; each kind arrives both ways.
        let valid = i / 2 % 2 == 0;
        let text = version(i, valid);
        if i % 2 == 1 {
            cm.swap(i, &text);
        } else {
            cm.edit_in_place(&text);
        }
        if valid {
            applied += 1;
            valid_shas.insert(sha(&text));
            last_valid = sha(&text);
        } else {
            rejected += 1;
        }
        await_reloads(addr, applied, rejected);
        assert_eq!(health(addr)["policy"]["policy_sha256"], last_valid.as_str());
    }
    stop_load.store(true, Ordering::Relaxed);
    let answers: Vec<(u16, Value)> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert_eq!((applied, rejected), (25, 25));

    // The final state: the last valid version, the last attempt refused.
    let h = health(addr);
    assert_eq!(h["policy"]["policy_sha256"], last_valid.as_str());
    assert_eq!(h["policy"]["policy_version"], "reload-49");
    assert_eq!(h["last_reload"]["outcome"], "rejected");
    assert_eq!(h["last_reload"]["trigger"], "watch");

    assert!(answers.len() > 50, "too little load: {}", answers.len());
    let mut by_id = BTreeMap::new();
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        let policy = answer["policy"]["policy_sha256"].as_str().unwrap();
        assert!(valid_shas.contains(policy), "answered by {policy}");
        by_id.insert(
            answer["correlation_id"].as_str().unwrap().to_owned(),
            policy.to_owned(),
        );
    }

    let events = stop(server);
    let decisions: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "policygate.decision.evaluated")
        .collect();
    // `/health` and `/metrics` reads are not audited: one decision event per answer.
    assert_eq!(decisions.len(), answers.len());
    for event in &decisions {
        let id = event["request_id"].as_str().unwrap();
        assert_eq!(
            event["policy"]["policy_sha256"].as_str(),
            by_id.get(id).map(String::as_str),
            "the audit event of {id} names another policy than its answer"
        );
    }
    let swapped = events
        .iter()
        .filter(|e| e["event_type"] == "policygate.policy.swapped")
        .count();
    let refused: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "policygate.policy.reload_rejected")
        .collect();
    assert_eq!((swapped, refused.len()), (25, 25));
    for r in refused {
        assert!(valid_shas.contains(r["previous_policy"]["policy_sha256"].as_str().unwrap()));
        assert!(!valid_shas.contains(r["policy"]["policy_sha256"].as_str().unwrap()));
        assert!(r["error_count"].as_u64().unwrap() >= 1, "{r}");
    }
}

#[cfg(unix)]
#[test]
fn sighup_with_an_invalid_policy_keeps_serving_the_old_one_and_reports_it() {
    let dir = scratch_dir("sighup");
    let path = dir.join("policy.yaml");
    let old = version(1, true);
    std::fs::write(&path, &old).unwrap();
    let server = Serve::new(BIN).policy(&path).args(["--no-watch"]).start();
    let addr = server.addr();
    assert!(health(addr).get("last_reload").is_none());

    // An invalid policy, written in place (no watcher: only the signal reloads).
    std::fs::write(&path, std::fs::read(fixture("invalid.yaml")).unwrap()).unwrap();
    server.signal("HUP");
    await_reloads(addr, 0, 1);
    let h = health(addr);
    assert_eq!(h["status"], "ok");
    assert_eq!(h["policy"]["policy_sha256"], sha(&old).as_str());
    assert_eq!(h["last_reload"]["outcome"], "rejected");
    assert_eq!(h["last_reload"]["trigger"], "signal");
    let errors = h["last_reload"]["error_count"].as_u64().unwrap();
    assert!(errors >= 2, "{h}");
    assert!(
        h["last_reload"]["error"]
            .as_str()
            .unwrap()
            .contains("invalid"),
        "{h}"
    );
    let ready = http::call(addr, "GET", "/ready", &[], "").unwrap();
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "ready");
    let (status, answer) = evaluate(addr);
    assert_eq!(status, 200);
    assert_eq!(answer["policy"]["policy_sha256"], sha(&old).as_str());

    // The same signal with a valid policy swaps it in; a second one changes nothing.
    let new = version(2, true);
    std::fs::write(&path, &new).unwrap();
    server.signal("HUP");
    await_reloads(addr, 1, 1);
    assert_eq!(health(addr)["policy"]["policy_sha256"], sha(&new).as_str());
    server.signal("HUP");
    let deadline = Instant::now() + WAIT;
    while reloads(addr)["unchanged"] == 0 {
        assert!(Instant::now() < deadline, "the second SIGHUP was not seen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, answer) = evaluate(addr);
    assert_eq!(answer["policy"]["policy_sha256"], sha(&new).as_str());
    let metrics = http::call(addr, "GET", "/metrics", &[], "").unwrap().text();
    assert!(metrics.contains("policygate_policy_info{policy_id=\"policygate-server-tests\",policy_version=\"reload-2\""), "{metrics}");

    server.signal("TERM");
    let exited = server.wait();
    assert!(exited.status.success());
    // The log carries the diagnostics exactly as `validate` prints them.
    let log = exited.stderr.join("\n");
    assert!(log.contains("policy reload refused"), "{log}");
    for line in [
        "error[policygate::validate::invalid_literal]: `secret` is not a value of `resource.sensitivity` (rule `r1`)",
        "error[policygate::validate::duplicate_rule_id]: rule_id `r1` is used twice (rule `r1`)",
        "help: give every rule a unique rule_id",
    ] {
        assert!(log.contains(line), "{line} not in {log}");
    }
    let events = parse_lines(exited.stdout.as_bytes());
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .filter(|t| t.starts_with("policygate.policy."))
        .collect();
    assert_eq!(
        kinds,
        [
            "policygate.policy.reload_rejected",
            "policygate.policy.swapped"
        ]
    );
    let swap = events
        .iter()
        .find(|e| e["event_type"] == "policygate.policy.swapped")
        .unwrap();
    assert_eq!(swap["previous_policy"]["policy_sha256"], sha(&old).as_str());
    assert_eq!(swap["policy"]["policy_sha256"], sha(&new).as_str());
    assert_eq!(swap["trigger"], "signal");
}

/// `policygate_shadow_reloads_total{outcome="applied"}`.
fn shadow_applied(addr: SocketAddr) -> u64 {
    let text = http::call(addr, "GET", "/metrics", &[], "").unwrap().text();
    text.lines()
        .find_map(|l| l.strip_prefix("policygate_shadow_reloads_total{outcome=\"applied\"} "))
        .unwrap()
        .parse()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn an_invalid_shadow_policy_never_affects_live_decisions_and_a_valid_one_is_audited() {
    let dir = scratch_dir("shadow");
    let live = dir.join("policy.yaml");
    let shadow = dir.join("shadow.yaml");
    std::fs::write(&live, version(1, true)).unwrap();
    std::fs::write(&shadow, version(2, false)).unwrap();
    let server = Serve::new(BIN)
        .policy(&live)
        .args(["--shadow-policy".as_ref(), shadow.as_os_str()])
        .start();
    let addr = server.addr();
    let (status, answer) = evaluate(addr);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["decision"], "ALLOW");

    // A valid shadow arrives by write-then-rename; the watcher loads it.
    let candidate = version(3, true).replacen("decision: ALLOW", "decision: BLOCK", 1);
    write_then_rename(&shadow, &candidate);
    let deadline = Instant::now() + WAIT;
    while shadow_applied(addr) == 0 {
        assert!(
            Instant::now() < deadline,
            "the shadow policy was not reloaded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, answer) = evaluate(addr);
    assert_eq!((status, &answer["decision"]), (200, &Value::from("ALLOW")));
    assert_eq!(answer["policy"]["policy_version"], "reload-1");

    let events = stop(server);
    let decisions: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "policygate.decision.evaluated")
        .collect();
    assert_eq!(decisions.len(), 2);
    assert!(decisions[0].get("shadow").is_none(), "{}", decisions[0]);
    let s = &decisions[1]["shadow"];
    assert_eq!(s["policy"]["policy_sha256"], sha(&candidate).as_str());
    assert_eq!(s["decision"], "BLOCK");
    assert_eq!(s["differs"], true);
}

/// `/evaluate` with a bearer token: the status.
fn evaluate_as(addr: SocketAddr, token: &str) -> u16 {
    let auth = format!("Bearer {token}");
    http::call(
        addr,
        "POST",
        "/evaluate",
        &[JSON, ("authorization", auth.as_str())],
        BODY,
    )
    .unwrap()
    .status
}

/// Sends SIGHUP and waits until the policy reload it triggers was counted (the tokens
/// file is read again before the policy, in the same step); `/metrics` is read with
/// the token valid before, then the one valid after.
fn hup_and_wait(server: &Running, before_token: &str, after_token: &str) {
    let before = reloads_as(server.addr(), Some(before_token))["unchanged"];
    server.signal("HUP");
    let deadline = Instant::now() + WAIT;
    while reloads_as(server.addr(), Some(after_token))
        .get("unchanged")
        .is_none_or(|n| *n == before)
    {
        assert!(Instant::now() < deadline, "SIGHUP not handled");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const TOKEN_A: &str = "token-aaaaaaaaaaaaaaaaaaaa";
const TOKEN_B: &str = "token-bbbbbbbbbbbbbbbbbbbb";

#[cfg(unix)]
#[test]
fn the_tokens_file_is_read_again_on_sighup_and_a_bad_one_is_refused() {
    let dir = scratch_dir("tokens");
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("svc-a:{TOKEN_A}\n")).unwrap();
    let server = Serve::new(BIN)
        .args(["--auth-tokens-file".as_ref(), tokens.as_os_str()])
        .start();
    let addr = server.addr();
    assert_eq!(evaluate_as(addr, TOKEN_A), 200);
    assert_eq!(evaluate_as(addr, TOKEN_B), 401);

    // Rotation: B replaces A.
    write_then_rename(&tokens, &format!("svc-b:{TOKEN_B}\n"));
    hup_and_wait(&server, TOKEN_A, TOKEN_B);
    assert_eq!(evaluate_as(addr, TOKEN_B), 200);
    assert_eq!(evaluate_as(addr, TOKEN_A), 401);

    // A broken file is refused; B stays valid.
    write_then_rename(&tokens, "svc-c:short\n");
    hup_and_wait(&server, TOKEN_B, TOKEN_B);
    assert_eq!(evaluate_as(addr, TOKEN_B), 200);

    server.signal("TERM");
    let exited = server.wait();
    let log = exited.stderr.join("\n");
    assert!(log.contains("tokens file refused on reload"), "{log}");
    assert!(
        !log.contains(TOKEN_B) && !log.contains("short"),
        "a token was logged"
    );
    let callers: Vec<String> = parse_lines(exited.stdout.as_bytes())
        .iter()
        .filter(|e| e["evaluation"]["decision"].is_string())
        .map(|e| e["caller_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(callers, ["svc-a", "svc-b", "svc-b"]);
}

#[test]
fn tokens_come_from_the_environment_for_ecs_secrets() {
    let server = Serve::new(BIN)
        .env(
            "POLICYGATE_AUTH_TOKENS",
            format!("svc-a:{TOKEN_A},svc-b:{TOKEN_B}"),
        )
        .start();
    let addr = server.addr();
    assert_eq!(evaluate_as(addr, TOKEN_A), 200);
    assert_eq!(evaluate_as(addr, TOKEN_B), 200);
    assert_eq!(evaluate(addr).0, 401);
    drop(server);

    // A bad value, or both sources at once, is a usage error before anything listens.
    for (value, file) in [("svc-a:short", false), (&*format!("svc-a:{TOKEN_A}"), true)] {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--policy"])
            .arg(fixture("policy.yaml"))
            .env("POLICYGATE_AUTH_TOKENS", value);
        if file {
            cmd.arg("--auth-tokens-file").arg(fixture("tokens.txt"));
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("POLICYGATE_AUTH_TOKENS"), "{stderr}");
        assert!(!stderr.contains("short"), "a token was printed: {stderr}");
    }
}
