//! PolicyGate's PDP HTTP service: `policygate serve`.
//!
//! [`app`] builds the axum [`Router`] over an [`AppState`] (policy, audit sink,
//! metrics, optional caller tokens, settings) so that tests can drive it in memory with
//! `tower::ServiceExt::oneshot`; [`serve`] runs it on a socket with graceful shutdown;
//! [`run`] is the whole process behind `policygate serve` (logging, audit sink,
//! runtime, socket, signals) from a plain [`RunConfig`]. The command line itself
//! (flags, environment variables, exit codes) lives in the `policygate` binary.
//!
//! The service speaks the frozen v1 contract of `contracts/` and nothing else: every
//! answer is either a contract document or the contract's error body, including
//! answers to unknown paths, wrong methods and panics. It never answers 500 for a
//! caller's mistake, and never returns a decision whose audit event was not written
//! (see [`audit`]).
//!
//! Module map: `conn` (the accept loop: connection limit, header read and idle
//! timeouts, error bodies for what hyper refuses), `routes` (handlers), `state`
//! (shared state), `error` (`ApiError`),
//! [`audit`] (event sink and `decision_context`), `metrics` (Prometheus text),
//! [`auth`] (bearer tokens; the caller with mTLS), [`reload`](mod@reload) (SIGHUP, file
//! watcher, atomic swap), `shadow` (the candidate policy deciding beside the live
//! one), [`tls`] (rustls configuration, rotation, client certificate identity),
//! `traceparent` (W3C trace ids), `ext_authz` (Envoy's ext_authz gRPC service,
//! [`serve_ext_authz`]), `run` (the process).
#![warn(missing_docs)]

pub mod audit;
pub mod auth;
mod conn;
mod error;
mod ext_authz;
mod listener;
mod logsafe;
mod metrics;
pub mod reload;
mod routes;
mod run;
mod shadow;
mod state;
pub mod tls;
mod traceparent;

pub use audit::{AuditContext, AuditSink, AuditSync, AuditWriter, Clock, FixedClock, SystemClock};
pub use auth::{Tokens, TokensError};
pub use conn::{
    ConnConfig, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    HEAD_BUFFER_BYTES, MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES, RESERVED_FDS,
};
pub use ext_authz::serve_ext_authz;
pub use reload::{PolicyLoader, Rejected, ReloadConfig, reload};
pub use run::{AuditOptions, AuditTarget, LogFormat, RunConfig, RunError, init_logging, run};
pub use state::{
    AppState, DEFAULT_AUDIT_UNAUTHENTICATED_PER_SECOND, DEFAULT_MAX_BATCH_BODY_BYTES,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT, MappingSource, ServerConfig,
};
pub use tls::{Tls, TlsError, TlsFile, TlsFiles};

use axum::Router;
use std::future::Future;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;

/// The service's router over `state`.
pub fn app(state: AppState) -> Router {
    routes::router(state).layer(CatchPanicLayer::custom(routes::panic_response))
}

/// Serves `state` on `listener` with the connection limits of `connections` until
/// `shutdown` completes, then stops accepting and waits for in-flight requests, at
/// most `grace` (connections still open after that are dropped). The caller then
/// closes the [`AuditWriter`] to flush the audit trail. See `conn` for the accept
/// loop, the timeouts and the connection limit.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    connections: ConnConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    conn::serve(listener, conn::Plain, state, connections, shutdown, grace).await
}

/// [`serve`] on a Unix domain socket (`--listen unix:/path`), for sidecars: the same
/// service, limits and graceful shutdown.
#[cfg(unix)]
pub async fn serve_unix(
    listener: tokio::net::UnixListener,
    state: AppState,
    connections: ConnConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    conn::serve(listener, conn::Plain, state, connections, shutdown, grace).await
}

/// [`serve`] over TLS (`--tls-cert`, `--tls-key`; mTLS with `--tls-client-ca`): each
/// connection's TLS handshake runs in its own task within the header read timeout,
/// with the certificate, key and client CA active when it starts (see [`Tls`]); the
/// rest (limits, timeouts, error bodies, graceful shutdown) is [`serve`]'s.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: std::sync::Arc<Tls>,
    state: AppState,
    connections: ConnConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    conn::serve(
        listener,
        tls::TlsHandshake(tls),
        state,
        connections,
        shutdown,
        grace,
    )
    .await
}
