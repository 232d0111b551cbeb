//! `policygate serve --listen unix:/path` (sidecar deployments): the service on a Unix
//! domain socket, reached by a raw HTTP/1.1 exchange and by the PEP client
//! (`PdpClient::builder("unix:/path")`); the socket file is removed at shutdown.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use policygate_pep::PdpClient;
use policygate_pep::api::DecisionKind;
use policygate_testkit::fixture;
use policygate_testkit::http::{self, JSON};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_policygate");

fn socket_path() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("unix-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}.sock", std::process::id()))
}

fn exchange(path: &Path, raw: &[u8]) -> http::Reply {
    let mut stream = UnixStream::connect(path).unwrap();
    stream.set_read_timeout(Some(http::TIMEOUT)).unwrap();
    stream.write_all(raw).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    http::parse_reply(&answer).unwrap()
}

#[test]
fn serves_on_a_unix_socket_for_raw_http_and_the_pep_client() {
    let path = socket_path();
    // A stale socket from an earlier run is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).or_else(|_| {
        std::fs::remove_file(&path)?;
        std::os::unix::net::UnixListener::bind(&path)
    }));
    assert!(path.exists());
    let listen = format!("unix:{}", path.display());
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--log-format",
            "json",
            "--listen",
            &listen,
            "--idle-timeout-ms",
            "300",
            "--policy",
        ])
        .arg(fixture("policy.yaml"))
        .env_remove("POLICYGATE_AUTH_TOKENS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Ready once the log line names the socket.
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = stderr
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("policygate listening on"))
        .expect("no listening line");
    assert!(
        listening.contains(&format!("\"addr\":\"{listen}\"")),
        "{listening}"
    );

    let health = exchange(&path, &http::request("GET", "/health", &[], b""));
    assert_eq!(health.status, 200, "{}", health.text());
    // The connection layer is the same as on TCP: a kept-alive connection is answered,
    // then closed by the idle timeout (read to the end within the read timeout).
    let kept = exchange(&path, b"GET /health HTTP/1.1\r\nhost: test\r\n\r\n");
    assert_eq!(kept.status, 200, "{}", kept.text());
    let body = br#"{"action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","sensitivity":"public"}}"#;
    let answer = exchange(&path, &http::request("POST", "/evaluate", &[JSON], body));
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["decision"], "ALLOW");

    // `policygate healthcheck --unix-socket` asks the URL's path over the socket.
    let probe = |path_url: &str| {
        Command::new(BIN)
            .args(["healthcheck", "--unix-socket"])
            .arg(&path)
            .args(["--url", path_url])
            .output()
            .unwrap()
    };
    let ok = probe("http://localhost/health");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let missing = probe("http://localhost/nope");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nope on unix:"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let decision = runtime.block_on(async {
        let client = PdpClient::builder(listen.clone()).build().unwrap();
        client
            .decide(
                policygate_pep::RequestBuilder::new(policygate_pep::api::Action::InferRun)
                    .env("prod")
                    .resource("document", policygate_pep::api::Sensitivity::Restricted),
            )
            .await
    });
    assert_eq!(decision.kind(), DecisionKind::Degrade, "{decision:?}");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    let mut audit = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut audit)
        .unwrap();
    // The opening event, then one decision per call (raw HTTP and the PEP client).
    let events = policygate_testkit::audit::decision_events(audit.as_bytes());
    assert_eq!(events.len(), 2, "{audit}");
    assert!(!path.exists(), "the socket file outlived the server");
}
