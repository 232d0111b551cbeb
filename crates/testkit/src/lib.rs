//! PolicyGate's test kit: the helpers every test suite shares, written once.
//!
//! A dev-only crate (never published; only `[dev-dependencies]` name it):
//! - [`serve`]: start the real `policygate serve` binary on an ephemeral port and wait
//!   until it is ready, signal it, collect its audit stream and logs;
//! - [`http`]: one raw HTTP/1.1 client, for requests no well-behaved client would send;
//! - [`pdp`]: a fake PDP (records calls, answers what a test says, after a delay) and
//!   misbehaving TCP servers, for PEP fault tests;
//! - [`audit`]: an in-memory audit sink and the audit-line parser;
//! - [`tls`]: a certificate authority made at test time, issuing server and client
//!   certificates (PEM files) for the TLS and mTLS tests;
//! - [`fixture`]: the one fixtures directory, `crates/testkit/fixtures`.
//!
//! Helpers fail the calling test loudly (panics with context) rather than returning
//! errors a test would only unwrap.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test kit fails the calling test loudly"
)]

pub mod audit;
pub mod http;
pub mod pdp;
pub mod serve;
pub mod tls;

use std::path::{Path, PathBuf};

pub use audit::MemorySink;
pub use serve::{Exited, Running, Serve};

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh, empty directory for one test: `{tmp}/{suite}/{pid}-{name}`, where `tmp` is
/// the test crate's `env!("CARGO_TARGET_TMPDIR")`; what an earlier run left there is
/// removed.
pub fn scratch_dir(tmp: &str, suite: &str, name: &str) -> PathBuf {
    let dir = Path::new(tmp)
        .join(suite)
        .join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// A path for one test's file, `{tmp}/{suite}/{pid}-{name}` (see [`scratch_dir`]), with
/// no file there yet.
pub fn scratch_file(tmp: &str, suite: &str, name: &str) -> PathBuf {
    let dir = Path::new(tmp).join(suite);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let path = dir.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// A file of `crates/testkit/fixtures`: `policy.yaml` (every decision kind reachable),
/// `invalid.yaml` (two errors), `tokens.txt` (two callers), `reference-policy.yaml`
/// (what the reference integration expects of its PDP).
pub fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    assert!(path.is_file(), "no fixture {}", path.display());
    path
}
