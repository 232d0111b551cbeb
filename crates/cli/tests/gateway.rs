//! The gateway mapping from the command line: `policygate validate --mapping` (offline,
//! exit codes as for policies) and `policygate serve --gateway-mapping` (refused at
//! start when it does not fit the policy, `/authz` served, and a reloaded policy the
//! mapping does not fit refused while the old one keeps serving).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use policygate_testkit::Serve;
use policygate_testkit::http;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_policygate");

fn repo(path: &str) -> PathBuf {
    policygate_testkit::repo_root().join(path)
}

fn scratch(name: &str) -> PathBuf {
    policygate_testkit::scratch_dir(env!("CARGO_TARGET_TMPDIR"), "gateway-tests", name)
}

fn validate(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .arg("validate")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The example mapping with one signal read from a header the policy does not type.
fn broken_mapping(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo("policy/gateway-mapping.yaml"))
        .unwrap()
        .replace("signals.risk_score:", "signals.risk_scroe:");
    let path = dir.join("mapping.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn validate_checks_a_mapping_against_its_policy() {
    let mapping = repo("policy/gateway-mapping.yaml");
    let policy = repo("policy/policy.yaml");
    let (m, p) = (mapping.to_str().unwrap(), policy.to_str().unwrap());
    let (code, out, err) = validate(&["--mapping", m, p]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("gateway-mapping.yaml: valid"), "{out}");

    let (code, out, _) = validate(&["--format", "json", "--mapping", m, p]);
    assert_eq!(code, Some(0));
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["files"].as_array().unwrap().len(), 2);

    let dir = scratch("validate");
    let broken = broken_mapping(&dir);
    let (code, out, _) = validate(&["--mapping", broken.to_str().unwrap(), p]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("policygate::mapping::undeclared_signal"),
        "{out}"
    );
    assert!(out.contains("did you mean `risk_score`?"), "{out}");

    let missing = dir.join("absent.yaml");
    let (code, _, err) = validate(&["--mapping", missing.to_str().unwrap(), p]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = validate(&["--mapping", m, p, p]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn serve_refuses_to_start_with_a_mapping_that_does_not_fit() {
    let dir = scratch("serve-refused");
    let broken = broken_mapping(&dir);
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--policy"])
        .arg(repo("policy/policy.yaml"))
        .arg("--gateway-mapping")
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("policygate::mapping::undeclared_signal"),
        "{stderr}"
    );
    assert!(stderr.contains("does not fit"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
}

fn authz(addr: std::net::SocketAddr, sensitivity: &str) -> (u16, Option<String>) {
    let reply = http::call(
        addr,
        "GET",
        "/authz",
        &[
            ("x-original-method", "POST"),
            ("x-original-uri", "/v1/chat/completions"),
            ("x-user-id", "u1"),
            ("x-data-sensitivity", sensitivity),
        ],
        "",
    )
    .unwrap();
    (
        reply.status,
        reply.header("x-policygate-decision").map(str::to_owned),
    )
}

#[cfg(unix)]
#[test]
fn a_reloaded_policy_the_mapping_does_not_fit_is_refused() {
    let dir = scratch("reload");
    let policy = dir.join("policy.yaml");
    let original = std::fs::read_to_string(repo("policy/policy.yaml")).unwrap();
    std::fs::write(&policy, &original).unwrap();
    let server = Serve::new(BIN)
        .policy(&policy)
        .args(["--no-watch", "--gateway-mapping"])
        .args([repo("policy/gateway-mapping.yaml")])
        .start();
    let addr = server.addr();
    assert_eq!(authz(addr, "internal"), (200, Some("DEGRADE".to_owned())));

    // The new policy no longer declares `risk_score`, which the mapping sets: valid on
    // its own, but the mapping does not fit it, so the reload is refused.
    let changed = original
        .replace("risk_score:      { type: number, min: 0, max: 1 }", "")
        .replace(
            "signals: { risk_score: { gte: 0.9 } }",
            "signals: { caller_trust: { in: [low] }, prompt_tokens: { gt: 1000000 } }",
        );
    assert_ne!(changed, original);
    std::fs::write(&policy, &changed).unwrap();
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    let last = loop {
        let h: Value = http::call(addr, "GET", "/health", &[], "").unwrap().json();
        if !h["last_reload"].is_null() {
            break h["last_reload"].clone();
        }
        assert!(Instant::now() < deadline, "the reload was not seen");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(last["outcome"], "rejected", "{last}");
    assert!(
        last["error"].as_str().unwrap().contains("gateway mapping"),
        "{last}"
    );
    // The old policy (and its mapping) keeps deciding.
    assert_eq!(authz(addr, "public"), (200, Some("ALLOW".to_owned())));
    server.signal("TERM");
    assert!(server.wait().status.success());
}
