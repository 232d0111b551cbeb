//! `policygate healthcheck [--url URL]`: probes a running PDP with one plain HTTP/1.1
//! `GET` (std only, no async runtime), for container health checks. Exits 0 when the
//! URL answers 200, 1 otherwise, 2 for a bad URL.

use crate::exit;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// `policygate healthcheck` arguments.
#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// URL to probe (plain `http://host:port/path`).
    #[arg(
        long,
        env = "POLICYGATE_HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8000/health"
    )]
    pub url: String,

    /// Give up after this many milliseconds (connect, send and read together).
    #[arg(long, env = "POLICYGATE_HEALTHCHECK_TIMEOUT_MS", default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub timeout_ms: u64,
}

/// `http://host[:port][/path]` split into an authority (for `Host`), address and path.
fn parse_http_url(url: &str) -> Result<(String, String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("`{url}` is not an http:// URL (https is not supported by the probe)")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("`{url}` has no usable host"));
    }
    let has_port = match authority.rfind(':') {
        Some(i) => {
            !authority.ends_with(']') && authority.get(i + 1..).is_some_and(|p| !p.is_empty())
        }
        None => false,
    };
    let addr = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((authority.to_owned(), addr, path.to_owned()))
}

fn probe(url: &str, timeout: Duration) -> Result<u16, String> {
    let (host, addr, path) = parse_http_url(url)?;
    let deadline = std::time::Instant::now() + timeout;
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{addr}`: {e}"))?
        .collect();
    let mut last_error = format!("`{addr}` resolved to no address");
    for sock in addrs {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        if remaining.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&sock, remaining) {
            Ok(mut stream) => {
                let remaining = deadline
                    .saturating_duration_since(std::time::Instant::now())
                    .max(Duration::from_millis(1));
                stream
                    .set_read_timeout(Some(remaining))
                    .and_then(|()| stream.set_write_timeout(Some(remaining)))
                    .map_err(|e| e.to_string())?;
                let request = format!(
                    "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: policygate-healthcheck\r\nConnection: close\r\n\r\n"
                );
                stream
                    .write_all(request.as_bytes())
                    .map_err(|e| format!("cannot send the request: {e}"))?;
                // The status line fits in the first bytes; read until it is complete.
                let mut head = Vec::with_capacity(256);
                let mut chunk = [0u8; 256];
                while !head.contains(&b'\n') && head.len() < 4096 {
                    let n = stream
                        .read(&mut chunk)
                        .map_err(|e| format!("no answer: {e}"))?;
                    if n == 0 {
                        break;
                    }
                    head.extend_from_slice(chunk.get(..n).unwrap_or_default());
                }
                let line = String::from_utf8_lossy(&head);
                let status = line
                    .lines()
                    .next()
                    .and_then(|l| {
                        let mut parts = l.split(' ');
                        let version = parts.next()?;
                        let code = parts.next()?;
                        version.starts_with("HTTP/1.").then_some(code)
                    })
                    .and_then(|c| c.parse::<u16>().ok())
                    .ok_or_else(|| "the answer is not HTTP/1.x".to_owned())?;
                return Ok(status);
            }
            Err(e) => last_error = format!("cannot connect to {sock}: {e}"),
        }
    }
    Err(last_error)
}

/// Runs `policygate healthcheck`: exit 0 when the URL answers 200.
pub fn run(args: &HealthcheckArgs) -> ExitCode {
    if let Err(e) = parse_http_url(&args.url) {
        return exit::usage_error(&e);
    }
    match probe(&args.url, Duration::from_millis(args.timeout_ms)) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("unhealthy: {} answered {status}", args.url);
            exit::code(exit::INVALID)
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            exit::code(exit::INVALID)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_http_url("http://127.0.0.1:8000/health").unwrap(),
            (
                "127.0.0.1:8000".into(),
                "127.0.0.1:8000".into(),
                "/health".into()
            )
        );
        assert_eq!(
            parse_http_url("http://localhost").unwrap(),
            ("localhost".into(), "localhost:80".into(), "/".into())
        );
        assert_eq!(
            parse_http_url("http://[::1]:9/x").unwrap().1,
            "[::1]:9".to_owned()
        );
        assert!(parse_http_url("https://x/").is_err());
        assert!(parse_http_url("http:///x").is_err());
    }

    #[test]
    fn probe_reports_status_and_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).unwrap();
                write!(s, "HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").unwrap();
            }
        });
        let url = format!("http://{addr}/health");
        assert_eq!(probe(&url, Duration::from_secs(5)), Ok(200));
        assert_eq!(probe(&url, Duration::from_secs(5)), Ok(503));
        server.join().unwrap();
        // Nothing listens any more.
        assert!(probe(&url, Duration::from_secs(5)).is_err());
    }
}
