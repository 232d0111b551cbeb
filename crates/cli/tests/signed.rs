//! Signed policies: `policygate keygen`, `policygate sign` and `serve --verify-key`.
//! With a verify key an unsigned, tampered or other-key policy is refused at start
//! (exit 1) and at reload (the last valid policy stays, `/health` says why).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use policygate_testkit::http::{self, JSON};
use policygate_testkit::{Serve, fixture};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_policygate");

fn scratch_dir(name: &str) -> PathBuf {
    policygate_testkit::scratch_dir(env!("CARGO_TARGET_TMPDIR"), "signed-tests", name)
}

fn policygate(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn keygen(prefix: &Path) {
    let out = policygate(&["keygen".as_ref(), "--out".as_ref(), prefix.as_os_str()]);
    assert!(out.status.success(), "{out:?}");
}

fn sign(key: &Path, policy: &Path) {
    let out = policygate(&[
        "sign".as_ref(),
        "--key".as_ref(),
        key.as_os_str(),
        policy.as_os_str(),
    ]);
    assert!(out.status.success(), "{out:?}");
}

fn serve_status(policy: &Path, pubkey: &Path) -> Output {
    // `--listen 127.0.0.1:0`: a refused policy stops it before it binds anyway.
    Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--policy"])
        .arg(policy)
        .arg("--verify-key")
        .arg(pubkey)
        .output()
        .unwrap()
}

#[test]
fn keygen_sign_and_verify_at_start_and_at_reload() {
    let dir = scratch_dir("flow");
    let (ours, theirs) = (dir.join("ours"), dir.join("theirs"));
    keygen(&ours);
    keygen(&theirs);
    // keygen never overwrites a private key.
    let again = policygate(&["keygen".as_ref(), "--out".as_ref(), ours.as_os_str()]);
    assert_eq!(again.status.code(), Some(2));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("ours.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pubkey = dir.join("ours.pub");
    let policy = dir.join("policy.yaml");
    let text = std::fs::read_to_string(fixture("policy.yaml")).unwrap();
    std::fs::write(&policy, &text).unwrap();

    // Unsigned: refused before listening.
    let out = serve_status(&policy, &pubkey);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("policygate sign"), "{stderr}");
    // Signed with another key: refused, naming the key.
    sign(&dir.join("theirs.key"), &policy);
    let out = serve_status(&policy, &pubkey);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("signed with key"));
    // An invalid policy is not signed at all.
    let broken = dir.join("broken.yaml");
    std::fs::copy(fixture("invalid.yaml"), &broken).unwrap();
    let out = policygate(&[
        "sign".as_ref(),
        "--key".as_ref(),
        dir.join("ours.key").as_os_str(),
        broken.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.join("broken.yaml.sig").exists());

    // Signed with ours: served.
    sign(&dir.join("ours.key"), &policy);
    let server = Serve::new(BIN)
        .policy(&policy)
        .args([
            "--no-watch".as_ref(),
            "--verify-key".as_ref(),
            pubkey.as_os_str(),
        ])
        .start();
    let addr = server.addr();

    // A tampered policy (changed after signing) is refused at reload.
    std::fs::write(&policy, text.replace("2026-11-25.1", "tampered")).unwrap();
    server.signal("HUP");
    let health = await_last_reload(addr);
    assert_eq!(health["last_reload"]["outcome"], "rejected", "{health}");
    assert!(
        health["last_reload"]["error"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );
    assert_eq!(health["policy"]["policy_version"], "2026-11-25.1");
    let answer = http::call(addr, "POST", "/evaluate", &[JSON], r#"{"action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","sensitivity":"public"}}"#).unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["policy"]["policy_version"], "2026-11-25.1");

    // Signed again: the reload applies it.
    sign(&dir.join("ours.key"), &policy);
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health = http::call(addr, "GET", "/health", &[], "").unwrap().json();
        if health["last_reload"]["outcome"] == "applied" {
            assert_eq!(health["policy"]["policy_version"], "tampered");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the signed policy was not applied: {health}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn await_last_reload(addr: std::net::SocketAddr) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health = http::call(addr, "GET", "/health", &[], "").unwrap().json();
        if health.get("last_reload").is_some() {
            return health;
        }
        assert!(Instant::now() < deadline, "no reload reported");
        std::thread::sleep(Duration::from_millis(20));
    }
}
