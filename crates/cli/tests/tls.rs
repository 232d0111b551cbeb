//! `policygate serve --tls-cert --tls-key [--tls-client-ca]` end to end, with
//! certificates made at test time (`policygate_testkit::tls`, none committed):
//! HTTPS with the PEP client; mTLS refusing a client without a certificate or with
//! one from another CA in the handshake, and making a good certificate's identity the
//! caller (`caller_id` in the audit event, `caller.id` in a rule); token auth on top;
//! rotation on SIGHUP (a broken new certificate keeps the old one); invalid TLS files
//! and TLS on a Unix socket refused at start.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly; clippy only exempts #[test] bodies"
)]

use policygate_pep::PdpClient;
use policygate_pep::RequestBuilder;
use policygate_pep::api::{Action, DecisionKind, Sensitivity};
use policygate_testkit::audit::parse_lines;
use policygate_testkit::http::JSON;
use policygate_testkit::tls::{self, CertKey, Name, Pki};
use policygate_testkit::{Running, Serve, fixture};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_policygate");
const SPIFFE: &str = "spiffe://example.org/ns/prod/sa/billing-svc";
const TOKEN: &str = "tok-billing-0123456789abcdef";

fn scratch_dir(name: &str) -> PathBuf {
    policygate_testkit::scratch_dir(env!("CARGO_TARGET_TMPDIR"), "tls-tests", name)
}

/// The fixture policy plus a rule only the caller `SPIFFE` matches (priority above
/// every other rule, so it decides whenever it matches).
fn caller_policy(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("policy.yaml")).unwrap();
    let rule = format!(
        "rules:\n  - rule_id: billing_may_write\n    priority: 900\n    when:\n      action: data:write\n      caller: {{ id: \"{SPIFFE}\" }}\n    then:\n      decision: ALLOW\n      rationale_codes: [BILLING_WRITE]\n\n"
    );
    let text = text.replacen("rules:\n", &rule, 1);
    assert!(text.contains("billing_may_write"));
    let path = dir.join("policy.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Files {
    cert: PathBuf,
    key: PathBuf,
    client_ca: PathBuf,
}

fn server_files(dir: &Path, pki: &Pki) -> Files {
    let (cert, key) = pki.server().write(dir, "server");
    Files {
        cert,
        key,
        client_ca: pki.write_ca(dir, "client-ca"),
    }
}

fn tls_args(files: &Files, mtls: bool) -> Vec<PathBuf> {
    let mut args = vec![
        "--tls-cert".into(),
        files.cert.clone(),
        "--tls-key".into(),
        files.key.clone(),
    ];
    if mtls {
        args.push("--tls-client-ca".into());
        args.push(files.client_ca.clone());
    }
    args
}

fn pep(server: &Running, ca: &Pki, client: Option<&CertKey>, token: Option<&str>) -> PdpClient {
    let mut builder = PdpClient::builder(server.url())
        .tls_ca_pem(ca.ca_pem())
        .deadline(Duration::from_secs(5));
    if let Some(c) = client {
        builder = builder.tls_client_cert_pem(c.cert_pem.clone(), c.key_pem.clone());
    }
    if let Some(t) = token {
        builder = builder.bearer_token(t);
    }
    builder.build().unwrap()
}

fn write_request(id: &str) -> RequestBuilder {
    RequestBuilder::new(Action::DataWrite)
        .request_id(id)
        .env("prod")
        .resource("document", Sensitivity::Public)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Decision audit events by `request_id`.
fn decisions(stdout: &str) -> BTreeMap<String, Value> {
    parse_lines(stdout.as_bytes())
        .into_iter()
        .filter(|e| e["event_type"] == policygate_pep::api::AUDIT_EVENT_TYPE)
        .map(|e| (e["request_id"].as_str().unwrap().to_owned(), e))
        .collect()
}

#[test]
fn https_serves_the_pep_client_without_a_caller() {
    let dir = scratch_dir("https");
    let pki = Pki::new("test CA");
    let files = server_files(&dir, &pki);
    let server = Serve::new(BIN)
        .policy(caller_policy(&dir))
        .args(tls_args(&files, false))
        .tls(pki.client_config(None))
        .start();
    assert!(server.url().starts_with("https://"), "{}", server.url());

    let client = pep(&server, &pki, None, None);
    let decision = runtime().block_on(client.decide(write_request("https-1")));
    assert!(decision.is_from_pdp(), "{decision:?}");
    // No client certificate and no token: no caller, so the caller rule cannot match.
    assert_ne!(decision.matched_rule_id(), Some("billing_may_write"));

    // Plain HTTP on the TLS port is no HTTP exchange.
    let plain = policygate_testkit::http::call(server.addr(), "GET", "/health", &[], "");
    assert!(plain.is_err() || plain.unwrap().status != 200);

    // A client that does not trust the server's CA refuses it.
    let other = Pki::new("other CA");
    let err = tls::call(
        server.addr(),
        &other.client_config(None),
        "GET",
        "/health",
        &[],
        "",
    )
    .unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    server.signal("TERM");
    let exited = server.wait();
    let events = decisions(&exited.stdout);
    assert_eq!(events["https-1"]["caller_id"], Value::Null);
}

#[test]
fn mtls_refuses_missing_and_foreign_certificates_and_makes_the_identity_the_caller() {
    let dir = scratch_dir("mtls");
    let pki = Pki::new("test CA");
    let files = server_files(&dir, &pki);
    let good = pki.client(Name::Uri(SPIFFE));
    let server = Serve::new(BIN)
        .policy(caller_policy(&dir))
        .args(tls_args(&files, true))
        .args(["--audit-context", "all"])
        .tls(pki.client_config(Some(&good)))
        .start();

    // No client certificate: refused in the handshake, never an HTTP answer.
    let err = tls::call(
        server.addr(),
        &pki.client_config(None),
        "POST",
        "/evaluate",
        &[JSON],
        "{}",
    )
    .unwrap_err();
    assert!(err.to_string().contains("CertificateRequired"), "{err}");

    // A certificate from another CA, naming the same identity: refused too.
    let other = Pki::new("other CA");
    let foreign = other.client(Name::Uri(SPIFFE));
    let err = tls::call(
        server.addr(),
        &pki.client_config(Some(&foreign)),
        "GET",
        "/health",
        &[],
        "",
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("UnknownCA") || text.contains("BadCertificate"),
        "{text}"
    );

    // The PEP client without its certificate gets no decision (fail closed).
    let rt = runtime();
    let no_cert = pep(&server, &pki, None, None);
    let decision = rt.block_on(no_cert.decide(write_request("mtls-none")));
    assert!(!decision.is_from_pdp(), "{decision:?}");
    assert_eq!(decision.kind(), DecisionKind::Block);

    // The good certificate: its URI SAN is the caller, and the caller rule decides.
    let client = pep(&server, &pki, Some(&good), None);
    let decision = rt.block_on(client.decide(write_request("mtls-good")));
    assert_eq!(decision.kind(), DecisionKind::Allow);
    assert_eq!(decision.matched_rule_id(), Some("billing_may_write"));

    // Another good certificate of the same CA, naming someone else (DNS SAN): the rule
    // does not match.
    let someone = pki.client(Name::Dns("reports.internal"));
    let client = pep(&server, &pki, Some(&someone), None);
    let decision = rt.block_on(client.decide(write_request("mtls-other")));
    assert_ne!(decision.matched_rule_id(), Some("billing_may_write"));

    server.signal("TERM");
    let exited = server.wait();
    assert!(exited.status.success(), "{:#?}", exited.stderr);
    let events = decisions(&exited.stdout);
    assert_eq!(events["mtls-good"]["caller_id"], SPIFFE);
    assert_eq!(events["mtls-other"]["caller_id"], "reports.internal");
    assert!(
        !events.contains_key("mtls-none"),
        "refused in the handshake, never audited"
    );
}

/// `policygate healthcheck` (the image's HEALTHCHECK) probes an mTLS PDP with the CA
/// and a client certificate, and reports it unhealthy without either.
#[test]
fn healthcheck_probes_over_https_with_a_private_ca_and_a_client_certificate() {
    let dir = scratch_dir("healthcheck");
    let pki = Pki::new("test CA");
    let files = server_files(&dir, &pki);
    let ca = pki.write_ca(&dir, "server-ca");
    let (cert, key) = pki
        .client(Name::Dns("prober.internal"))
        .write(&dir, "prober");
    let server = Serve::new(BIN)
        .policy(fixture("policy.yaml"))
        .args(tls_args(&files, true))
        .tls(pki.client_config(Some(&pki.client(Name::Dns("harness")))))
        .start();
    let url = format!("https://{}/ready", server.addr());
    let probe = |extra: &[&std::ffi::OsStr]| {
        let out = Command::new(BIN)
            .args(["healthcheck", "--url", &url, "--timeout-ms", "5000"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = probe(&[
        "--tls-ca".as_ref(),
        ca.as_os_str(),
        "--tls-client-cert".as_ref(),
        cert.as_os_str(),
        "--tls-client-key".as_ref(),
        key.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    // No client certificate: the handshake is refused.
    let (code, stderr) = probe(&["--tls-ca".as_ref(), ca.as_os_str()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("unhealthy"), "{stderr}");
    // Without --tls-ca: the system's trust store does not hold the test CA (1, the
    // handshake fails), or the machine has no trust store at all (2, naming --tls-ca).
    let (code, stderr) = probe(&[
        "--tls-client-cert".as_ref(),
        cert.as_os_str(),
        "--tls-client-key".as_ref(),
        key.as_os_str(),
    ]);
    match code {
        Some(1) => assert!(stderr.contains("unhealthy"), "{stderr}"),
        Some(2) => assert!(stderr.contains("--tls-ca"), "{stderr}"),
        other => panic!("exit {other:?}: {stderr}"),
    }
    // A CA file that cannot be read is a usage error, not an unhealthy PDP.
    let (code, stderr) = probe(&["--tls-ca".as_ref(), key.with_extension("none").as_os_str()]);
    assert_eq!(code, Some(2), "{stderr}");
    server.signal("TERM");
    assert!(server.wait().status.success());
}

#[test]
fn with_tokens_too_a_token_is_still_required_and_the_certificate_is_the_caller() {
    let dir = scratch_dir("mtls-tokens");
    let pki = Pki::new("test CA");
    let files = server_files(&dir, &pki);
    let tokens = dir.join("tokens.txt");
    std::fs::write(&tokens, format!("batch-jobs:{TOKEN}\n")).unwrap();
    let good = pki.client(Name::Uri(SPIFFE));
    let server = Serve::new(BIN)
        .policy(caller_policy(&dir))
        .args(tls_args(&files, true))
        .args([
            std::ffi::OsStr::new("--auth-tokens-file"),
            tokens.as_os_str(),
        ])
        .tls(pki.client_config(Some(&good)))
        .start();
    let rt = runtime();

    // A good certificate without a token: 401.
    let reply = tls::call(
        server.addr(),
        &pki.client_config(Some(&good)),
        "POST",
        "/evaluate",
        &[JSON],
        r#"{"action":"data:write","env":{"name":"prod"},"resource":{"type":"document","sensitivity":"public"}}"#,
    )
    .unwrap();
    assert_eq!(reply.status, 401, "{}", reply.text());

    // Certificate and token of another name: the certificate identity is the caller.
    let client = pep(&server, &pki, Some(&good), Some(TOKEN));
    let decision = rt.block_on(client.decide(write_request("both-1")));
    assert_eq!(decision.matched_rule_id(), Some("billing_may_write"));

    server.signal("TERM");
    let exited = server.wait();
    assert_eq!(decisions(&exited.stdout)["both-1"]["caller_id"], SPIFFE);
}

/// `policygate_policy_reloads_total` summed over outcomes, read over TLS by the first
/// of `clients` the server accepts.
fn reload_attempts(server: &Running, clients: &[&Arc<tls::ClientConfig>]) -> u64 {
    let reply = clients
        .iter()
        .find_map(|c| tls::call(server.addr(), c, "GET", "/metrics", &[], "").ok())
        .unwrap();
    assert_eq!(reply.status, 200);
    reply
        .text()
        .lines()
        .filter(|l| l.starts_with("policygate_policy_reloads_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// Sends SIGHUP and waits until the reload it triggers has run: the TLS files are
/// read before the policy, so a counted policy reload means the TLS reload is done.
fn hangup_and_wait(server: &Running, clients: &[&Arc<tls::ClientConfig>]) {
    let before = reload_attempts(server, clients);
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reload_attempts(server, clients) == before {
        assert!(Instant::now() < deadline, "no reload after SIGHUP");
        std::thread::yield_now();
    }
}

#[test]
fn sighup_rotates_the_certificate_and_keeps_the_old_one_when_the_new_is_broken() {
    let dir = scratch_dir("rotate");
    let first = Pki::new("first CA");
    let files = server_files(&dir, &first);
    let server = Serve::new(BIN)
        .args(tls_args(&files, false))
        .tls(first.client_config(None))
        .start();
    let trusts_first = first.client_config(None);

    // A new certificate from another CA, written the safe way (then renamed).
    let second = Pki::new("second CA");
    let trusts_second = second.client_config(None);
    let next = second.server();
    std::fs::write(dir.join("next.crt"), &next.cert_pem).unwrap();
    std::fs::write(dir.join("next.key"), &next.key_pem).unwrap();
    std::fs::rename(dir.join("next.crt"), &files.cert).unwrap();
    std::fs::rename(dir.join("next.key"), &files.key).unwrap();
    // Until the signal, new connections still get the first certificate.
    assert_eq!(
        tls::call(server.addr(), &trusts_first, "GET", "/health", &[], "")
            .unwrap()
            .status,
        200
    );
    hangup_and_wait(&server, &[&trusts_first, &trusts_second]);
    assert_eq!(
        tls::call(server.addr(), &trusts_second, "GET", "/health", &[], "")
            .unwrap()
            .status,
        200
    );
    let err = tls::call(server.addr(), &trusts_first, "GET", "/health", &[], "").unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // A broken certificate: refused, the second one stays in use.
    std::fs::write(&files.cert, "not a certificate\n").unwrap();
    hangup_and_wait(&server, &[&trusts_second]);
    assert_eq!(
        tls::call(server.addr(), &trusts_second, "GET", "/health", &[], "")
            .unwrap()
            .status,
        200
    );

    server.signal("TERM");
    let exited = server.wait();
    let logs = exited.stderr.join("\n");
    assert!(
        logs.contains("TLS certificate, key and client CA reloaded"),
        "{logs}"
    );
    assert!(logs.contains("TLS files refused on reload"), "{logs}");
    assert!(logs.contains("holds no certificate"), "{logs}");
}

fn serve_fails(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--policy")
        .arg(fixture("policy.yaml"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("POLICYGATE_AUTH_TOKENS")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn invalid_tls_files_refuse_to_start_naming_the_file() {
    let dir = scratch_dir("invalid");
    let pki = Pki::new("test CA");
    let files = server_files(&dir, &pki);
    let missing = dir.join("missing.crt");
    let os = |p: &Path| p.as_os_str().to_owned();

    let (code, stderr) = serve_fails(&[
        "--tls-cert".as_ref(),
        &os(&missing),
        "--tls-key".as_ref(),
        &os(&files.key),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--tls-cert `") && stderr.contains("missing.crt"),
        "{stderr}"
    );
    assert!(stderr.contains("check the path"), "{stderr}");

    // The certificate's own file as its key.
    let (code, stderr) = serve_fails(&[
        "--tls-cert".as_ref(),
        &os(&files.cert),
        "--tls-key".as_ref(),
        &os(&files.cert),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--tls-key `") && stderr.contains("no private key"),
        "{stderr}"
    );

    let (code, stderr) = serve_fails(&["--tls-cert".as_ref(), &os(&files.cert)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--tls-cert and --tls-key go together"),
        "{stderr}"
    );

    let (code, stderr) = serve_fails(&["--tls-client-ca".as_ref(), &os(&files.client_ca)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--tls-client-ca needs --tls-cert"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn tls_on_a_unix_socket_is_refused_at_start() {
    let dir = scratch_dir("unix");
    let pki = Pki::new("test CA");
    let files = server_files(&dir, &pki);
    let listen = format!("unix:{}", dir.join("pdp.sock").display());
    let out = Command::new(BIN)
        .arg("serve")
        .arg("--policy")
        .arg(fixture("policy.yaml"))
        .args(["--listen", &listen])
        .args(tls_args(&files, false))
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("TCP listeners only"), "{stderr}");
    assert!(!dir.join("pdp.sock").exists(), "nothing was bound");
}
