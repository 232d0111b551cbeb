//! `policygate serve`: the flags and environment variables of the service, turned
//! into the server crate's plain [`RunConfig`], and its failures into exit codes.
//!
//! Exit codes:
//! - `0`: stopped cleanly on SIGTERM/SIGINT, every audit event flushed;
//! - `1`: the policy is invalid, or the `--gateway-mapping` does not fit it
//!   (diagnostics on stderr, as `policygate validate` prints them); nothing was bound;
//! - `2`: usage or input error: unreadable policy file, bad tokens file or audit signing
//!   key, bad flag value;
//! - `3`: runtime failure: cannot bind, cannot open the audit sink, the runtime failed,
//!   the audit sink was failing at shutdown (decisions were refused with 503 meanwhile),
//!   or the audit trail could not be flushed within `--shutdown-timeout-ms`.

use crate::{exit, load, signing};
use ed25519_dalek::VerifyingKey;
use policygate_server::{
    AuditContext, AuditOptions, AuditSync, AuditTarget, ConnConfig, MappingSource, PolicyLoader,
    ReloadConfig, RunConfig, RunError, ServerConfig, TlsFiles,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `--header-read-timeout-ms` and `--idle-timeout-ms` defaults, from the server's.
const HEADER_READ_TIMEOUT_MS: u64 =
    policygate_server::DEFAULT_HEADER_READ_TIMEOUT.as_millis() as u64;
const IDLE_TIMEOUT_MS: u64 = policygate_server::DEFAULT_IDLE_TIMEOUT.as_millis() as u64;

/// Format of operational logs (stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log pipelines.
    Json,
    /// Human-readable lines.
    Text,
}

/// What audit events record in `decision_context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DecisionContext {
    /// Every fact of the request (env, resource, subject, signals).
    All,
    /// Only the facts some rule of the policy tests.
    Tested,
    /// Nothing: `decision_context` is `null`.
    None,
}

/// When the audit file is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncMode {
    /// Never: the OS writes back when it likes.
    Never,
    /// At most once a second, after a batch.
    Batch,
    /// After every batch, before its decisions are answered.
    Always,
}

/// `policygate serve` arguments. Every flag has a `POLICYGATE_*` environment variable.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Policy file to load (refused at startup if invalid).
    #[arg(long, env = "POLICYGATE_POLICY", default_value = "policy/policy.yaml")]
    pub policy: PathBuf,

    /// Address to listen on (`host:port`; port 0 picks a free port), or a Unix domain socket for sidecars (`unix:/path/to.sock`).
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
    #[arg(long, env = "POLICYGATE_AUDIT_CONTEXT", value_enum, default_value_t = DecisionContext::Tested)]
    pub audit_context: DecisionContext,

    /// Deployment environment written into audit events (`environment`).
    #[arg(long, env = "POLICYGATE_ENVIRONMENT")]
    pub environment: Option<String>,

    /// File of named bearer tokens (`name:token` lines; re-read on SIGHUP); when set, /evaluate and /metrics need one. Alternatively, the environment variable POLICYGATE_AUTH_TOKENS holds the same entries separated by newlines or commas.
    #[arg(long, env = "POLICYGATE_AUTH_TOKENS_FILE")]
    pub auth_tokens_file: Option<PathBuf>,

    /// File holding an ed25519 secret key (64 hex digits, e.g. `openssl rand -hex 32`): audit checkpoints are then signed (the public key is logged on start, for `audit verify --verify-key`).
    #[arg(long, env = "POLICYGATE_AUDIT_SIGNING_KEY")]
    pub audit_signing_key: Option<PathBuf>,

    /// With --audit-signing-key: sign a checkpoint after this many audit lines.
    #[arg(long, env = "POLICYGATE_AUDIT_CHECKPOINT_EVENTS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub audit_checkpoint_events: u64,

    /// With --audit-signing-key: or when a batch is written this many seconds after the last checkpoint (and always on shutdown).
    #[arg(long, env = "POLICYGATE_AUDIT_CHECKPOINT_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub audit_checkpoint_seconds: u64,

    /// With --audit-file: rotate it before it would exceed this many bytes; the full file is renamed to `FILE.<first seq, 12 digits>` and the chain goes on in a new FILE (verify with `audit verify FILE.* FILE`).
    #[arg(long, env = "POLICYGATE_AUDIT_MAX_BYTES",
          value_parser = clap::value_parser!(u64).range(4096..))]
    pub audit_max_bytes: Option<u64>,

    /// With --audit-file: when to fsync it. `never` (page cache only), `batch` (at most a second of lines at risk on power loss), `always` (an answered decision is on disk; costs one fdatasync per batch).
    #[arg(long, env = "POLICYGATE_AUDIT_SYNC", value_enum, default_value_t = SyncMode::Never)]
    pub audit_sync: SyncMode,

    /// Bound on stopping, in milliseconds: on SIGTERM in-flight requests get the request timeout to finish, then each of stopping the connection tasks and flushing the audit trail gets this long; past it the process exits 3 and logs how many audit events were not written.
    #[arg(long, env = "POLICYGATE_SHUTDOWN_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub shutdown_timeout_ms: u64,

    /// With auth on: audit at most this many calls without a valid bearer token per second (and at most this many at once); the others are still answered 401 and counted in the metrics, and their number is audited every 10 s and at shutdown as a `policygate.audit.suppressed` event. 0 audits only that count.
    #[arg(long, env = "POLICYGATE_AUDIT_UNAUTHENTICATED_PER_SECOND",
          default_value_t = policygate_server::DEFAULT_AUDIT_UNAUTHENTICATED_PER_SECOND,
          value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub audit_unauthenticated_per_second: u32,

    /// Treat policy warnings (e.g. shadowed rules) as errors.
    #[arg(long, env = "POLICYGATE_STRICT")]
    pub strict: bool,

    /// Largest policy file accepted, in bytes, at start and at every reload (the shadow policy too); a larger file is refused before parsing.
    #[arg(long, env = "POLICYGATE_MAX_POLICY_BYTES", default_value_t = load::DEFAULT_MAX_POLICY_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_policy_bytes: u64,

    /// Reload the policy when its file changes (follows symlinks and the Kubernetes `..data` swap); SIGHUP always reloads.
    #[arg(long, env = "POLICYGATE_WATCH", overrides_with = "no_watch", default_value_t = true,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub watch: bool,

    /// Candidate policy to run beside the live one on every /evaluate: its outcome is audited (`shadow`) and counted, never answered; reloaded like --policy; one that fails to load never affects live decisions.
    #[arg(long, env = "POLICYGATE_SHADOW_POLICY")]
    pub shadow_policy: Option<PathBuf>,

    /// Public key (from `policygate keygen`): only policies signed with it (POLICY.sig, from `policygate sign`) are loaded, at start and at every reload; the shadow policy too.
    #[arg(long, env = "POLICYGATE_VERIFY_KEY")]
    pub verify_key: Option<PathBuf>,

    /// Do not watch the policy file (reload on SIGHUP only).
    #[arg(long, overrides_with = "watch")]
    pub no_watch: bool,

    /// Serve POST /explain (same body and auth as /evaluate; answers why, never enforced). Off by default: it reveals policy internals.
    #[arg(long, env = "POLICYGATE_ENABLE_EXPLAIN")]
    pub enable_explain: bool,

    // Connections (the server's connection layer).
    /// Time a client has to send a complete request head, in milliseconds: from the connection's accept for its first request, from the first byte for later ones; past it the connection is closed.
    #[arg(long, env = "POLICYGATE_HEADER_READ_TIMEOUT_MS", default_value_t = HEADER_READ_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub header_read_timeout_ms: u64,

    /// A kept-alive connection with no request in flight is closed after this many milliseconds. Behind a load balancer, set it above the balancer's idle timeout (AWS ALB: 60 s).
    #[arg(long, env = "POLICYGATE_IDLE_TIMEOUT_MS", default_value_t = IDLE_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub idle_timeout_ms: u64,

    /// Client connections served at once; past it new connections are closed at once (counted in policygate_connections_refused_total) while open ones keep being served [default: 1024, or the file-descriptor limit minus 64 when lower].
    #[arg(long, env = "POLICYGATE_MAX_CONNECTIONS",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: Option<u64>,

    // TLS (`--tls-*`): HTTPS on a TCP listener, mTLS with a client CA.
    /// Serve HTTPS with this certificate chain (PEM, leaf first; needs --tls-key). Re-read on SIGHUP: new handshakes use the new certificate, a broken one keeps the old.
    #[arg(long, env = "POLICYGATE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// Private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1). Re-read on SIGHUP.
    #[arg(long, env = "POLICYGATE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// With --tls-cert: require client certificates signed by these CA certificates (PEM); others are refused in the handshake. The certificate's first URI SAN (e.g. a SPIFFE ID), else DNS SAN, else common name is the caller (`caller_id`, `caller.id`); tokens, if configured, are still required. Re-read on SIGHUP.
    #[arg(long, env = "POLICYGATE_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,

    // --- POST /evaluate/batch ---
    /// Largest accepted POST /evaluate/batch body, in bytes (each of its up to 256 requests is still held to --max-body-bytes); larger bodies get 413.
    #[arg(long, env = "POLICYGATE_MAX_BATCH_BODY_BYTES", default_value_t = 2 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..=64 * 1024 * 1024))]
    pub max_batch_body_bytes: u64,

    // --- Gateways (issue 15) ---
    /// Gateway fact mapping (docs/gateways.md): serves forward-auth on `/authz` and `/authz/<path>` for Envoy ext_authz (HTTP), nginx auth_request and Traefik forward-auth. Validated against the policy at start (the service does not start when it does not fit) and at every reload (a policy it does not fit is refused); the file itself is read once.
    #[arg(long, env = "POLICYGATE_GATEWAY_MAPPING", value_name = "PATH")]
    pub gateway_mapping: Option<PathBuf>,

    // --- Envoy ext_authz gRPC ---
    /// Also serve Envoy's ext_authz gRPC service (envoy.service.auth.v3.Authorization/Check) on this `host:port`, through the gateway mapping. It has no authentication of its own: make it reachable only by the gateway (loopback, pod-local address or a network policy).
    #[arg(
        long,
        env = "POLICYGATE_EXT_AUTHZ_LISTEN",
        value_name = "ADDR",
        requires = "gateway_mapping"
    )]
    pub ext_authz_listen: Option<String>,
}

impl ServeArgs {
    /// The server's configuration; the environment name must have been checked.
    fn config(&self, key: Option<&VerifyingKey>, mapping: Option<&MappingSource>) -> RunConfig {
        RunConfig {
            listen: self.listen.clone(),
            ext_authz_listen: self.ext_authz_listen.clone(),
            audit: self
                .audit_file
                .clone()
                .map_or(AuditTarget::Stdout, AuditTarget::File),
            log_format: match self.log_format {
                LogFormat::Json => policygate_server::LogFormat::Json,
                LogFormat::Text => policygate_server::LogFormat::Text,
            },
            auth_tokens_file: self.auth_tokens_file.clone(),
            // Environment only: a token on the command line would show in `ps`.
            auth_tokens_env: std::env::var("POLICYGATE_AUTH_TOKENS").ok(),
            server: ServerConfig {
                max_body_bytes: usize::try_from(self.max_body_bytes).unwrap_or(usize::MAX),
                max_batch_body_bytes: usize::try_from(self.max_batch_body_bytes)
                    .unwrap_or(usize::MAX),
                request_timeout: Duration::from_millis(self.request_timeout_ms),
                audit_context: match self.audit_context {
                    DecisionContext::All => AuditContext::All,
                    DecisionContext::Tested => AuditContext::Tested,
                    DecisionContext::None => AuditContext::None,
                },
                environment: self.environment.clone(),
                enable_explain: self.enable_explain,
                audit_unauthenticated_per_second: self.audit_unauthenticated_per_second,
                gateway_mapping: mapping.cloned(),
            },
            reload: Some(ReloadConfig {
                path: self.policy.clone(),
                watch: self.watch && !self.no_watch,
                loader: {
                    let path = self.policy.clone();
                    let strict = self.strict;
                    let key = key.copied();
                    match mapping.cloned() {
                        None => {
                            PolicyLoader::new(move || load::candidate(&path, strict, key.as_ref()))
                        }
                        Some(m) => PolicyLoader::new(move || {
                            load::candidate_with_mapping(&path, strict, key.as_ref(), &m)
                        }),
                    }
                },
            }),
            shadow: self.shadow_policy.as_ref().map(|path| ReloadConfig {
                path: path.clone(),
                watch: self.watch && !self.no_watch,
                loader: {
                    let path = path.clone();
                    let strict = self.strict;
                    let key = key.copied();
                    PolicyLoader::new(move || load::candidate(&path, strict, key.as_ref()))
                },
            }),
            audit_options: AuditOptions {
                signing_key: self.audit_signing_key.clone(),
                checkpoint_every_events: self.audit_checkpoint_events,
                checkpoint_every: Duration::from_secs(self.audit_checkpoint_seconds),
                max_bytes: self.audit_max_bytes,
                shutdown_timeout: Duration::from_millis(self.shutdown_timeout_ms),
                sync: match self.audit_sync {
                    SyncMode::Never => AuditSync::Never,
                    SyncMode::Batch => AuditSync::Batch,
                    SyncMode::Always => AuditSync::Always,
                },
            },
            connections: ConnConfig {
                header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
                idle_timeout: Duration::from_millis(self.idle_timeout_ms),
                max_connections: self
                    .max_connections
                    .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            },
            tls: None,
        }
    }
}

/// Runs `policygate serve`; returns the process exit code.
pub fn run(args: ServeArgs) -> ExitCode {
    load::set_max_policy_bytes(args.max_policy_bytes);
    let key = match &args.verify_key {
        None => None,
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| signing::parse_public(&text))
        {
            Ok(key) => Some(key),
            Err(e) => {
                return exit::usage_error(&format!(
                    "cannot use `{}` as a verify key: {e}\n  help: pass the PREFIX.pub written by `policygate keygen`",
                    path.display()
                ));
            }
        },
    };
    let mapping = match &args.gateway_mapping {
        None => None,
        Some(path) => match load::read_mapping(path) {
            Ok(m) => Some(m),
            Err(e) => {
                return exit::usage_error(&format!(
                    "cannot read gateway mapping `{}`: {e}\n  help: pass an existing mapping file with --gateway-mapping (or POLICYGATE_GATEWAY_MAPPING)",
                    path.display()
                ));
            }
        },
    };
    let mut config = args.config(key.as_ref(), mapping.as_ref());
    config.tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.tls_client_ca.clone(),
        }),
        (None, None) if args.tls_client_ca.is_none() => None,
        (None, None) => {
            return exit::usage_error(
                "--tls-client-ca needs --tls-cert and --tls-key: client certificates are only asked for over TLS",
            );
        }
        (Some(_), None) | (None, Some(_)) => {
            return exit::usage_error(
                "--tls-cert and --tls-key go together: give the certificate chain and its private key (PEM)",
            );
        }
    };
    policygate_server::init_logging(config.log_format);

    // The policy, before anything is bound.
    let policy = match load::require_verified(
        &args.policy,
        args.strict,
        key.as_ref(),
        "--policy (or POLICYGATE_POLICY)",
        "the service was not started",
    ) {
        Ok(policy) => policy,
        Err(code) => return code,
    };
    if let Some(m) = &mapping
        && let Err(code) = load::require_mapping(m, &policy, "the service was not started")
    {
        return code;
    }
    if let Some(env) = &args.environment
        && !policygate_api::is_valid_env_name(env)
    {
        return exit::usage_error(&format!(
            "--environment `{env}` must match `{}`",
            policygate_api::contract::ENV_NAME_PATTERN
        ));
    }

    match policygate_server::run(policy, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(RunError::Tokens { path, error }) => exit::usage_error(&format!(
            "tokens file `{}` refused:\n{error}",
            path.display()
        )),
        Err(RunError::TokensEnv(error)) => {
            exit::usage_error(&format!("POLICYGATE_AUTH_TOKENS refused:\n{error}"))
        }
        Err(RunError::AuditFile { path, error }) => {
            eprintln!(
                "error: cannot open audit file `{}`: {error}\n  help: check the directory exists and is writable, or omit --audit-file to write audit events to stdout",
                path.display()
            );
            exit::code(exit::RUNTIME)
        }
        Err(RunError::AuditSigningKey { path, error }) => exit::usage_error(&format!(
            "audit signing key `{}` refused: {error}",
            path.display()
        )),
        Err(RunError::Tls(error)) => exit::usage_error(&format!(
            "TLS not started: {error}\n  the service was not started"
        )),
        Err(RunError::TlsOnUnixSocket { listen }) => exit::usage_error(&format!(
            "--tls-cert with --listen `{listen}`: TLS is served on TCP listeners only; a Unix socket is reached by local processes, so drop the --tls-* flags or listen on host:port"
        )),
        Err(RunError::Runtime(error)) => {
            eprintln!("error: cannot start the async runtime: {error}");
            exit::code(exit::RUNTIME)
        }
        Err(RunError::Bind { listen, error }) => {
            eprintln!(
                "error: cannot listen on `{listen}`: {error}\n  help: pick a free address with --listen (or POLICYGATE_LISTEN)"
            );
            exit::code(exit::RUNTIME)
        }
        // Logged by the server as they happened.
        Err(RunError::Serve(_) | RunError::AuditSink(_) | RunError::FlushTimeout { .. }) => {
            exit::code(exit::RUNTIME)
        }
    }
}
