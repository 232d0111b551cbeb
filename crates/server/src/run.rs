//! Running the service as a process: logging, the audit sink, the runtime, the socket
//! and graceful shutdown on SIGTERM/SIGINT, from a plain [`RunConfig`].
//!
//! The command line (flags, environment variables, exit codes, the wording of usage
//! hints) belongs to the `policygate` binary; this module only reports what went wrong
//! as a [`RunError`], and the binary decides how to say it and which code to exit with.

use crate::audit::{
    AuditFile, AuditOutput, AuditSigning, AuditSink, AuditSync, ChainStart, SystemClock, resume,
};
use crate::auth::{Tokens, TokensError};
use crate::conn::ConnConfig;
use crate::reload::ReloadConfig;
use crate::state::{AppState, ServerConfig};
use crate::tls::{Tls, TlsError, TlsFiles};
use policygate_core::Policy;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Format of operational logs (stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line, for log pipelines.
    Json,
    /// Human-readable lines.
    #[default]
    Text,
}

/// Where audit events go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AuditTarget {
    /// Standard output, one JSON line per event.
    #[default]
    Stdout,
    /// A file opened for appending (created if missing).
    File(PathBuf),
}

/// Everything [`run`] needs besides the policy.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Address to listen on (`host:port`; port 0 picks a free port), or a Unix
    /// domain socket (`unix:/path/to.sock`).
    pub listen: String,
    /// Address (`host:port`) of the Envoy ext_authz gRPC service, when it is served
    /// (`--ext-authz-listen`); it must be reachable only by the gateway.
    pub ext_authz_listen: Option<String>,
    /// Where audit events go.
    pub audit: AuditTarget,
    /// Format of operational logs on stderr (the level comes from `POLICYGATE_LOG`).
    pub log_format: LogFormat,
    /// File of named bearer tokens; when set, `/evaluate` and `/metrics` need one. It
    /// is read again on `SIGHUP`.
    pub auth_tokens_file: Option<PathBuf>,
    /// The same entries from the environment (`POLICYGATE_AUTH_TOKENS`: newline- or
    /// comma-separated), for secrets injected as variables. At most one of the two.
    pub auth_tokens_env: Option<String>,
    /// Settings the handlers use.
    pub server: ServerConfig,
    /// How the policy is reloaded (`SIGHUP`, file watcher); `None`: never (a `SIGHUP`
    /// is then logged and ignored).
    pub reload: Option<ReloadConfig>,
    /// The shadow policy (`--shadow-policy`): loaded at start (a failure is logged and
    /// the service runs without one) and reloaded like the live one.
    pub shadow: Option<ReloadConfig>,
    /// How the audit trail is written (checkpoints, rotation, fsync).
    pub audit_options: AuditOptions,
    /// Connection limits: header read and idle timeouts, maximum connections.
    pub connections: ConnConfig,
    /// Serve HTTPS (and with a client CA, mTLS) with these files; TCP listeners only.
    /// They are read again on `SIGHUP`.
    pub tls: Option<TlsFiles>,
}

/// How the audit trail is written, beyond where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// File holding the ed25519 secret key that signs checkpoints (64 hex digits).
    pub signing_key: Option<PathBuf>,
    /// Sign a checkpoint after this many lines.
    pub checkpoint_every_events: u64,
    /// Or when a batch is written this long after the last checkpoint.
    pub checkpoint_every: Duration,
    /// Rotate the audit file before it would exceed this many bytes.
    pub max_bytes: Option<u64>,
    /// When the audit file is `fsync`ed.
    pub sync: AuditSync,
    /// Bound on each step of stopping: finishing the connection tasks, then flushing
    /// the audit trail.
    pub shutdown_timeout: Duration,
}

impl Default for AuditOptions {
    fn default() -> AuditOptions {
        AuditOptions {
            signing_key: None,
            checkpoint_every_events: 1000,
            checkpoint_every: Duration::from_secs(60),
            max_bytes: None,
            sync: AuditSync::Never,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Why [`run`] stopped with a failure. Each variant says what was not started.
#[derive(Debug)]
pub enum RunError {
    /// The tokens file was refused; nothing was bound.
    Tokens {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        error: TokensError,
    },
    /// `POLICYGATE_AUTH_TOKENS` was refused (or given together with a tokens file);
    /// nothing was bound.
    TokensEnv(TokensError),
    /// The audit file could not be opened; nothing was bound.
    AuditFile {
        /// The file.
        path: PathBuf,
        /// The error opening it.
        error: std::io::Error,
    },
    /// The async runtime could not be started.
    Runtime(std::io::Error),
    /// The listen address could not be bound.
    Bind {
        /// The address as given.
        listen: String,
        /// The error binding it.
        error: std::io::Error,
    },
    /// The server failed while serving (already logged).
    Serve(std::io::Error),
    /// The audit trail could not be flushed within the shutdown timeout (a blocked
    /// sink); already logged.
    FlushTimeout {
        /// Audit events queued but not written.
        unflushed: u64,
    },
    /// The audit signing key was refused; nothing was bound.
    AuditSigningKey {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        error: String,
    },
    /// The audit sink failed while serving; decisions were refused with 503 from then
    /// on (already logged).
    AuditSink(std::io::Error),
    /// A TLS file was refused; nothing was bound.
    Tls(TlsError),
    /// TLS was asked for on a Unix socket listener; nothing was bound.
    TlsOnUnixSocket {
        /// The listen address as given.
        listen: String,
    },
}

/// Installs the operational log subscriber on stderr (level from `POLICYGATE_LOG`,
/// default `info`). A second call keeps the first subscriber.
pub fn init_logging(format: LogFormat) {
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

/// Serves `policy` as `config` says until SIGTERM or SIGINT, then finishes in-flight
/// requests and flushes the audit trail. Logging must be initialised
/// ([`init_logging`]) first for the operational logs to appear.
pub fn run(policy: Policy, config: RunConfig) -> Result<(), RunError> {
    let policy = Arc::new(policy);
    let auth = match (&config.auth_tokens_file, &config.auth_tokens_env) {
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(RunError::TokensEnv(TokensError::Invalid(vec![
                "POLICYGATE_AUTH_TOKENS and a tokens file are both set; use one of them".to_owned(),
            ])));
        }
        (None, Some(text)) => Some(Tokens::parse_env(text).map_err(RunError::TokensEnv)?),
        (Some(path), None) => match Tokens::load(path) {
            Ok(tokens) => {
                warn_if_readable_by_others(path, "the tokens file");
                Some(tokens)
            }
            Err(error) => {
                return Err(RunError::Tokens {
                    path: path.clone(),
                    error,
                });
            }
        },
    };

    // TLS files, before anything is bound.
    let tls = match &config.tls {
        None => None,
        Some(_) if crate::listener::unix_path(&config.listen).is_some() => {
            return Err(RunError::TlsOnUnixSocket {
                listen: config.listen.clone(),
            });
        }
        Some(files) => {
            let tls = Tls::load(files.clone()).map_err(RunError::Tls)?;
            warn_if_readable_by_others(&files.key, "the TLS private key");
            Some(Arc::new(tls))
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    // A file-size limit (`ulimit -f`) raises SIGXFSZ, whose default action kills the
    // process. With a handler registered the write fails with EFBIG instead, and the
    // audit sink fails closed and retries like on any other write error. The handler
    // stays registered for the life of the process.
    #[cfg(unix)]
    if let Err(e) = runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ))
    }) {
        tracing::warn!(error = %e, "cannot catch SIGXFSZ; a file-size limit would end the process");
    }

    // Bind before anything is written: a start that fails here leaves no opening
    // event in the audit trail.
    let listener = runtime
        .block_on(crate::listener::Bound::bind(&config.listen))
        .map_err(|error| RunError::Bind {
            listen: config.listen.clone(),
            error,
        })?;
    let ext_authz = match &config.ext_authz_listen {
        None => None,
        Some(listen) => Some(
            runtime
                .block_on(tokio::net::TcpListener::bind(listen))
                .map_err(|error| RunError::Bind {
                    listen: listen.clone(),
                    error,
                })?,
        ),
    };

    // The checkpoint signing key, before anything is written.
    let signing = match &config.audit_options.signing_key {
        None => None,
        Some(path) => {
            let signing = AuditSigning::load(
                path,
                config.audit_options.checkpoint_every_events,
                config.audit_options.checkpoint_every,
            )
            .map_err(|error| RunError::AuditSigningKey {
                path: path.clone(),
                error,
            })?;
            warn_if_readable_by_others(path, "the audit signing key");
            tracing::info!(
                public_key = %signing.public_key_hex(),
                "audit checkpoints are signed; verify with `policygate audit verify --verify-key {}`",
                signing.public_key_hex()
            );
            Some(signing)
        }
    };

    // The audit sink: a file continues its chain (sealing a torn tail); every stream
    // starts with an opening event.
    let audit_error = |error: std::io::Error| match &config.audit {
        AuditTarget::File(path) => RunError::AuditFile {
            path: path.clone(),
            error,
        },
        AuditTarget::Stdout => RunError::AuditSink(error),
    };
    let (out, start) = match &config.audit {
        AuditTarget::Stdout => (
            AuditOutput::Stream(Box::new(std::io::stdout())),
            ChainStart::NEW,
        ),
        AuditTarget::File(path) => {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(path)
                .map_err(audit_error)?;
            let start = resume(&mut file).map_err(audit_error)?;
            if let Some(bytes) = start.torn_tail_bytes {
                tracing::warn!(
                    path = %path.display(),
                    bytes,
                    "the audit file ended in a torn line; it was sealed off and the opening event records it"
                );
            }
            let file = AuditFile {
                file,
                path: path.clone(),
                max_bytes: config.audit_options.max_bytes,
                sync: config.audit_options.sync,
            };
            (AuditOutput::File(file), start)
        }
    };
    let (sink, writer) = AuditSink::open_file(
        out,
        start,
        policy.identity(),
        signing,
        Arc::new(SystemClock),
    )
    .map_err(audit_error)?;

    // Serve.
    let state = AppState::new(
        Arc::clone(&policy),
        sink.clone(),
        auth,
        config.server.clone(),
    );
    let grace = config.server.request_timeout + Duration::from_secs(2);
    let served = runtime.block_on(async {
        let addr = listener.display(&config.listen);
        let identity = policy.identity();
        let audit = match &config.audit {
            AuditTarget::Stdout => "stdout".to_owned(),
            AuditTarget::File(path) => path.display().to_string(),
        };
        // Installed before the "listening" line, so that a SIGHUP sent once the
        // service is up reloads and never kills the process.
        if let Some(shadow) = &config.shadow {
            crate::shadow::load_at_start(&state, &shadow.loader);
        }
        let reloader = match &config.reload {
            Some(reload) => crate::reload::start(
                state.clone(),
                reload.clone(),
                config.shadow.clone(),
                config.auth_tokens_file.clone(),
                tls.clone(),
            ),
            None => ignore_hangup(),
        };
        let suppressed = crate::routes::report_suppressed(state.clone());
        // One shutdown signal for both listeners.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let signal = tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        let ext_authz = match ext_authz {
            None => None,
            Some(grpc) => {
                let grpc_addr = grpc
                    .local_addr()
                    .map_or_else(|_| "?".to_owned(), |a| a.to_string());
                tracing::info!(
                    addr = %grpc_addr,
                    "envoy ext_authz gRPC listening on {grpc_addr}"
                );
                let state = state.clone();
                let stop = stopped();
                Some(tokio::spawn(async move {
                    crate::ext_authz::serve_ext_authz(grpc, state, stop, grace).await
                }))
            }
        };
        tracing::info!(
            addr = %addr,
            policy_id = %identity.policy_id,
            policy_version = %identity.policy_version,
            policy_sha256 = %identity.policy_sha256,
            audit = %audit,
            auth = state.inner.auth.is_some(),
            tls = tls.is_some(),
            mtls = tls.as_ref().is_some_and(|t| t.requires_client_cert()),
            watch = config.reload.as_ref().is_some_and(|r| r.watch),
            max_connections = config.connections.resolved_max_connections(),
            header_read_timeout_ms = config.connections.header_read_timeout.as_millis(),
            idle_timeout_ms = config.connections.idle_timeout.as_millis(),
            "policygate listening on {addr}"
        );
        let connections = config.connections.clone();
        let counted = state.clone();
        let served = match listener {
            crate::listener::Bound::Tcp(tcp) => match tls {
                Some(tls) => crate::serve_tls(tcp, tls, state, connections, stopped(), grace).await,
                None => crate::serve(tcp, state, connections, stopped(), grace).await,
            },
            #[cfg(unix)]
            crate::listener::Bound::Unix(unix, path) => {
                let served = crate::serve_unix(unix, state, connections, stopped(), grace).await;
                // The socket file goes with the process.
                let _ = std::fs::remove_file(&path);
                served
            }
        };
        // The HTTP server stops only on the signal (or a failure); the gRPC one then
        // stops too, and its in-flight Checks finish before the audit trail is drained.
        signal.abort();
        let grpc_served = match ext_authz {
            None => Ok(()),
            Some(task) => {
                if served.is_err() {
                    task.abort();
                }
                match task.await {
                    Ok(result) => result,
                    Err(e) if e.is_cancelled() => Ok(()),
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                }
            }
        };
        let served = served.and(grpc_served).map_err(|e| {
            tracing::error!(error = %e, "server failed");
            RunError::Serve(e)
        });
        reloader.abort();
        suppressed.abort();
        // The last count of unaudited unauthenticated calls.
        crate::routes::audit_suppressed(&counted).await;
        served
    });
    // The runtime (and every connection task with it) is gone before the audit
    // trail is drained, so no event can be queued after the final flush. Both steps
    // are bounded: a handler stuck in a write to a blocked sink cannot hold the
    // process forever.
    let bound = config.audit_options.shutdown_timeout;
    runtime.shutdown_timeout(bound);
    let (done, flushed) = std::sync::mpsc::channel();
    let closer = std::thread::Builder::new()
        .name("audit-flush".into())
        .spawn(move || {
            let _ = done.send(writer.close());
        });
    let audit_result = match closer {
        Ok(_) => flushed.recv_timeout(bound).ok(),
        Err(e) => Some(Err(e)),
    };
    served?;
    let Some(audit_result) = audit_result else {
        let unflushed = sink.unwritten();
        tracing::error!(
            unflushed,
            "stopped; the audit trail could not be flushed within --shutdown-timeout ({} ms): {unflushed} audit events were not written",
            bound.as_millis()
        );
        return Err(RunError::FlushTimeout { unflushed });
    };
    match audit_result {
        Ok(()) => {
            tracing::info!(
                audit_events = sink.events_written(),
                "stopped; audit trail flushed"
            );
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, "stopped; the audit sink had failed (decisions were refused with 503)");
            Err(RunError::AuditSink(e))
        }
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &std::path::Path, what: &str) {
    use std::os::unix::fs::PermissionsExt;
    // Group read is how Kubernetes Secret volumes reach a non-root user (fsGroup), so
    // it is allowed for the tokens file; others reading a secret never is.
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o007 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "{what} is readable by others; restrict it with `chmod 600` (or 640 for a group)"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &std::path::Path, _what: &str) {}

/// Without reload configured: logs and ignores `SIGHUP` (its default action would
/// kill the process).
fn ignore_hangup() -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    tokio::spawn(async move {
        #[cfg(unix)]
        while let Some(s) = hangup.as_mut() {
            if s.recv().await.is_none() {
                break;
            }
            tracing::warn!("SIGHUP received but reload is not configured; ignored");
        }
    })
}

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
