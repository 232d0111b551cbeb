//! Command-line entry points the `policygate` binary delegates to: `serve` and
//! `healthcheck`.
//!
//! Exit codes of `serve` (the binary's documented codes):
//! - `0`: stopped cleanly on SIGTERM/SIGINT, every audit event flushed;
//! - `1`: the policy is invalid (diagnostics on stderr, as `policygate validate`
//!   prints them); nothing was bound;
//! - `2`: usage or input error: unreadable policy file, bad tokens file, bad flag value;
//! - `3`: runtime failure: cannot bind, cannot open the audit sink, the runtime failed,
//!   or the audit sink failed while serving (decisions were refused with 503 from then on).
//!
//! `healthcheck` exits 0 when the URL answers 200, 1 otherwise, 2 for a bad URL.

use crate::audit::{AuditContext, AuditSink};
use crate::auth::Tokens;
use crate::state::{AppState, ServerConfig};
use std::io::{IsTerminal, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Format of operational logs (stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log pipelines.
    Json,
    /// Human-readable lines.
    Text,
}

/// `policygate serve` arguments. Every flag has a `POLICYGATE_*` environment variable.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Policy file to load (refused at startup if invalid).
    #[arg(long, env = "POLICYGATE_POLICY", default_value = "policy/policy.yaml")]
    pub policy: PathBuf,

    /// Address to listen on (`host:port`; port 0 picks a free port).
    #[arg(long, env = "POLICYGATE_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: String,

    /// File to append audit events to, one JSON line each [default: stdout].
    #[arg(long, env = "POLICYGATE_AUDIT_FILE")]
    pub audit_file: Option<PathBuf>,

    /// Largest accepted request body, in bytes; larger bodies get 413.
    #[arg(long, env = "POLICYGATE_MAX_BODY_BYTES", default_value_t = 65_536,
          value_parser = clap::value_parser!(u64).range(1..=16 * 1024 * 1024))]
    pub max_body_bytes: u64,

    /// Budget of one /evaluate call (reading the body, writing its audit event); past it the caller gets 503.
    #[arg(long, env = "POLICYGATE_REQUEST_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub request_timeout_ms: u64,

    /// Format of operational logs on stderr (level via POLICYGATE_LOG, e.g. `debug`).
    #[arg(long, env = "POLICYGATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What audit events record in `decision_context`.
    #[arg(long, env = "POLICYGATE_AUDIT_CONTEXT", value_enum, default_value_t = AuditContext::Tested)]
    pub audit_context: AuditContext,

    /// Deployment environment written into audit events (`environment`).
    #[arg(long, env = "POLICYGATE_ENVIRONMENT")]
    pub environment: Option<String>,

    /// File of named bearer tokens (`name:token` lines); when set, /evaluate and /metrics need one.
    #[arg(long, env = "POLICYGATE_AUTH_TOKENS_FILE")]
    pub auth_tokens_file: Option<PathBuf>,

    /// Treat policy warnings (e.g. shadowed rules) as errors.
    #[arg(long, env = "POLICYGATE_STRICT")]
    pub strict: bool,
}

const EXIT_INVALID_POLICY: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_RUNTIME: u8 = 3;

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("POLICYGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `try_init` fails only if a subscriber is already set (a test calling twice).
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Runs `policygate serve`; returns the process exit code.
pub fn run_serve(args: ServeArgs) -> ExitCode {
    init_logging(args.log_format);

    // 1. The policy, before anything is bound.
    let bytes = match std::fs::read(&args.policy) {
        Ok(b) => b,
        Err(e) => {
            return usage_error(&format!(
                "cannot read policy file `{}`: {e}\n  help: pass an existing policy file with --policy (or POLICYGATE_POLICY)",
                args.policy.display()
            ));
        }
    };
    let name = args.policy.display().to_string();
    let (policy, report) = policygate_core::load(
        &name,
        &bytes,
        &policygate_core::LoadOptions {
            strict: args.strict,
        },
    );
    let color = std::io::stderr().is_terminal();
    let Some(policy) = policy else {
        eprint!("{}", report.render_human(color));
        eprintln!("error: policy `{name}` is invalid; the service was not started");
        return ExitCode::from(EXIT_INVALID_POLICY);
    };
    if !report.warnings().is_empty() {
        eprint!("{}", report.render_human(color));
    }
    let policy = Arc::new(policy);

    // 2. Other inputs.
    if let Some(env) = &args.environment {
        if !policygate_api::is_valid_env_name(env) {
            return usage_error(&format!(
                "--environment `{env}` must match `^[a-zA-Z0-9][a-zA-Z0-9._-]{{0,63}}$`"
            ));
        }
    }
    let auth = match &args.auth_tokens_file {
        None => None,
        Some(path) => match Tokens::load(path) {
            Ok(tokens) => {
                warn_if_readable_by_others(path);
                Some(tokens)
            }
            Err(e) => {
                return usage_error(&format!("tokens file `{}` refused:\n{e}", path.display()));
            }
        },
    };
    let max_body_bytes = usize::try_from(args.max_body_bytes).unwrap_or(usize::MAX);
    let config = ServerConfig {
        max_body_bytes,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        audit_context: args.audit_context,
        environment: args.environment.clone(),
    };

    // 3. The audit sink.
    let out: Box<dyn Write + Send> = match &args.audit_file {
        None => Box::new(std::io::stdout()),
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!(
                    "error: cannot open audit file `{}`: {e}\n  help: check the directory exists and is writable, or omit --audit-file to write audit events to stdout",
                    path.display()
                );
                return ExitCode::from(EXIT_RUNTIME);
            }
        },
    };
    let (sink, writer) = AuditSink::open(out);

    // 4. Serve.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let state = AppState::new(Arc::clone(&policy), sink.clone(), auth, config.clone());
    let grace = config.request_timeout + Duration::from_secs(2);
    let served = runtime.block_on(async {
        let listener = match tokio::net::TcpListener::bind(&args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "error: cannot listen on `{}`: {e}\n  help: pick a free address with --listen (or POLICYGATE_LISTEN)",
                    args.listen
                );
                return Err(());
            }
        };
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|_| args.listen.clone());
        let identity = policy.identity();
        tracing::info!(
            addr = %addr,
            policy_id = %identity.policy_id,
            policy_version = %identity.policy_version,
            policy_sha256 = %identity.policy_sha256,
            audit = %args.audit_file.as_ref().map_or_else(|| "stdout".to_owned(), |p| p.display().to_string()),
            auth = state.inner.auth.is_some(),
            "policygate listening on {addr}"
        );
        crate::serve(listener, state, shutdown_signal(), grace)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "server failed");
            })
    });
    // The runtime (and every connection task with it) is gone before the audit
    // trail is drained, so no event can be queued after the final flush.
    drop(runtime);
    let audit_result = writer.close();
    match (served, audit_result) {
        (Ok(()), Ok(())) => {
            tracing::info!(
                audit_events = sink.events_written(),
                "stopped; audit trail flushed"
            );
            ExitCode::SUCCESS
        }
        (Err(()), _) => ExitCode::from(EXIT_RUNTIME),
        (Ok(()), Err(e)) => {
            tracing::error!(error = %e, "stopped; the audit sink had failed (decisions were refused with 503)");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "the tokens file is readable by group or others; restrict it with `chmod 600`"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &std::path::Path) {}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

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
pub fn run_healthcheck(args: HealthcheckArgs) -> ExitCode {
    if let Err(e) = parse_http_url(&args.url) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    match probe(&args.url, Duration::from_millis(args.timeout_ms)) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("unhealthy: {} answered {status}", args.url);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
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
