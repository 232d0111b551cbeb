//! `policygate healthcheck [--url URL]`: probes a running PDP with one `GET`, for
//! container health checks. Exits 0 when the URL answers 200, 1 otherwise (an error
//! status, no answer, a failed TLS handshake), 2 for a bad URL or path, unusable TLS
//! files, or an https:// URL without `--tls-ca` on a system with no trust store.
//!
//! The probe is the PEP client's [`PdpClient::status`], so it reaches the PDP however
//! a PEP does: plain HTTP, HTTPS (`serve --tls-cert`; the certificate checked against
//! `--tls-ca`, else the system's trust store, and the URL's host), mTLS
//! (`--tls-client-cert`/`--tls-client-key`) and a Unix socket (`--unix-socket`, as
//! `curl --unix-socket` does: the URL's path is asked over the socket).

use crate::exit;
use policygate_pep::{PdpClient, PepError};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `policygate healthcheck` arguments.
#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// URL to probe: `http://host:port/path`, or `https://` for a PDP serving TLS.
    #[arg(
        long,
        env = "POLICYGATE_HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8000/health"
    )]
    pub url: String,

    /// Give up after this many milliseconds (connect, handshake, send and read).
    #[arg(long, env = "POLICYGATE_HEALTHCHECK_TIMEOUT_MS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub timeout_ms: u64,

    /// Connect to this Unix socket (`serve --listen unix:PATH`) instead of the URL's
    /// host; the URL (http://) gives the path.
    #[arg(long, env = "POLICYGATE_HEALTHCHECK_UNIX_SOCKET", value_name = "PATH")]
    pub unix_socket: Option<PathBuf>,

    /// CA certificates (PEM) the PDP's certificate must chain to (https:// only;
    /// default: the system's trust store). The URL's host must be a name or address
    /// in the certificate.
    #[arg(long, env = "POLICYGATE_HEALTHCHECK_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// Client certificate chain (PEM) for a PDP that requires one (`--tls-client-ca`).
    #[arg(
        long,
        env = "POLICYGATE_HEALTHCHECK_TLS_CLIENT_CERT",
        value_name = "FILE",
        requires = "tls_client_key"
    )]
    pub tls_client_cert: Option<PathBuf>,

    /// The client certificate's private key (PEM).
    #[arg(
        long,
        env = "POLICYGATE_HEALTHCHECK_TLS_CLIENT_KEY",
        value_name = "FILE",
        requires = "tls_client_cert"
    )]
    pub tls_client_key: Option<PathBuf>,
}

/// `http://` or `https://host[:port][/path]` split into the base the PEP client takes
/// (scheme and authority) and the path to ask.
fn parse_url(url: &str) -> Result<(String, String), String> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        ("http", rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        ("https", rest)
    } else {
        return Err(format!(
            "`{url}` is not an http:// or https:// URL; pass one such as http://127.0.0.1:8000/health"
        ));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("`{url}` has no usable host"));
    }
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    Ok((format!("{scheme}://{authority}"), path))
}

/// The client that asks, and the path it asks for.
fn client(args: &HealthcheckArgs) -> Result<(PdpClient, String), String> {
    let (base, path) = parse_url(&args.url)?;
    let https = base.starts_with("https://");
    let base = match &args.unix_socket {
        Some(_) if https => {
            return Err(
                "--unix-socket takes an http:// URL: the PDP serves no TLS on a Unix socket"
                    .to_owned(),
            );
        }
        Some(socket) => format!("unix:{}", socket.display()),
        None => base,
    };
    let tls_option = args.tls_ca.is_some() || args.tls_client_cert.is_some();
    if tls_option && !https {
        return Err(format!(
            "--tls-ca and --tls-client-cert are for an https:// URL, and `{}` is not one",
            args.url
        ));
    }
    let mut builder = PdpClient::builder(base)
        .deadline(Duration::from_millis(args.timeout_ms))
        .max_retries(0);
    if let Some(ca) = &args.tls_ca {
        builder = builder.tls_ca_file(ca);
    }
    if let (Some(cert), Some(key)) = (&args.tls_client_cert, &args.tls_client_key) {
        builder = builder.tls_client_cert_files(cert, key);
    }
    let client = builder.build().map_err(|e| {
        let reason = match e {
            PepError::Config { reason } => reason,
            other => other.to_string(),
        };
        // Without --tls-ca the system's trust store is used, and may hold no CA.
        if https && args.tls_ca.is_none() {
            format!("{reason}\n  help: for a PDP whose certificate a private CA issued, pass that CA with --tls-ca")
        } else {
            reason
        }
    })?;
    Ok((client, path))
}

/// One probe on a current-thread runtime. `Config`: the path or the runtime is unusable
/// (a usage error, not an unhealthy PDP).
fn probe(client: &PdpClient, path: &str) -> Result<u16, PepError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PepError::Config {
            reason: format!("cannot start the probe's runtime: {e}"),
        })?;
    runtime.block_on(client.status(path))
}

/// Runs `policygate healthcheck`: exit 0 when the URL answers 200.
pub fn run(args: &HealthcheckArgs) -> ExitCode {
    let (client, path) = match client(args) {
        Ok(c) => c,
        Err(e) => return exit::usage_error(&e),
    };
    let target = match &args.unix_socket {
        Some(socket) => format!("{path} on unix:{}", socket.display()),
        None => args.url.clone(),
    };
    match probe(&client, &path) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("unhealthy: {target} answered {status}");
            exit::code(exit::INVALID)
        }
        Err(PepError::Config { reason }) => exit::usage_error(&reason),
        Err(e) => {
            eprintln!("unhealthy: {target}: {e}");
            exit::code(exit::INVALID)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:8000/health").unwrap(),
            ("http://127.0.0.1:8000".into(), "/health".into())
        );
        assert_eq!(
            parse_url("https://pdp.internal:8443/ready?x=1").unwrap(),
            ("https://pdp.internal:8443".into(), "/ready?x=1".into())
        );
        assert_eq!(
            parse_url("http://localhost").unwrap(),
            ("http://localhost".into(), "/".into())
        );
        assert_eq!(
            parse_url("http://[::1]:9?q").unwrap(),
            ("http://[::1]:9".into(), "/?q".into())
        );
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http:///x").is_err());
        assert!(parse_url("http://user@host/x").is_err());
    }

    fn args(url: &str) -> HealthcheckArgs {
        HealthcheckArgs {
            url: url.to_owned(),
            timeout_ms: 5_000,
            unix_socket: None,
            tls_ca: None,
            tls_client_cert: None,
            tls_client_key: None,
        }
    }

    #[test]
    fn options_that_cannot_apply_are_refused() {
        let mut unix_tls = args("https://localhost/health");
        unix_tls.unix_socket = Some("/run/pdp.sock".into());
        assert!(client(&unix_tls).unwrap_err().contains("--unix-socket"));
        let mut plain_ca = args("http://localhost/health");
        plain_ca.tls_ca = Some("ca.pem".into());
        assert!(client(&plain_ca).unwrap_err().contains("https://"));
        let mut missing_ca = args("https://localhost/health");
        missing_ca.tls_ca = Some("/nonexistent/ca.pem".into());
        let err = client(&missing_ca).unwrap_err();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn probe_reports_status_and_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let mut asked = Vec::new();
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).unwrap();
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                asked.push(head.lines().next().unwrap_or_default().to_owned());
                write!(
                    s,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                )
                .unwrap();
            }
            asked
        });
        let (client, path) = client(&args(&format!("http://{addr}/ready"))).unwrap();
        assert_eq!(probe(&client, &path).unwrap(), 200);
        assert_eq!(probe(&client, &path).unwrap(), 503);
        assert_eq!(
            server.join().unwrap(),
            ["GET /ready HTTP/1.1", "GET /ready HTTP/1.1"]
        );
        // Nothing listens any more.
        let err = probe(&client, &path).unwrap_err();
        assert!(matches!(err, PepError::Unavailable { .. }), "{err}");
        // A path the client cannot send is a usage error, not an unhealthy PDP.
        let (spaced, path) = super::client(&args(&format!("http://{addr}/he alth"))).unwrap();
        assert!(matches!(
            probe(&spaced, &path),
            Err(PepError::Config { .. })
        ));
    }
}
