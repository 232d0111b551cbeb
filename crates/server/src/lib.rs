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
//! Module map: `routes` (handlers), `state` (shared state), `error` (`ApiError`),
//! [`audit`] (event sink and `decision_context`), `metrics` (Prometheus text),
//! [`auth`] (bearer tokens), [`reload`](mod@reload) (SIGHUP, file watcher, atomic swap),
//! `shadow` (the candidate policy deciding beside the live one), `traceparent` (W3C
//! trace ids), `ext_authz` (Envoy's ext_authz gRPC service, [`serve_ext_authz`]), `run`
//! (the process).
#![warn(missing_docs)]

pub mod audit;
pub mod auth;
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
mod traceparent;

pub use audit::{AuditContext, AuditSink, AuditSync, AuditWriter, Clock, FixedClock, SystemClock};
pub use auth::{Tokens, TokensError};
pub use ext_authz::serve_ext_authz;
pub use reload::{PolicyLoader, Rejected, ReloadConfig, reload};
pub use run::{AuditOptions, AuditTarget, LogFormat, RunConfig, RunError, init_logging, run};
pub use state::{
    AppState, DEFAULT_MAX_BATCH_BODY_BYTES, DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUEST_TIMEOUT,
    MappingSource, ServerConfig,
};

use axum::Router;
use axum::serve::ListenerExt;
use std::future::Future;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;

/// The service's router over `state`.
pub fn app(state: AppState) -> Router {
    routes::router(state).layer(CatchPanicLayer::custom(routes::panic_response))
}

/// Serves `state` on `listener` until `shutdown` completes, then stops accepting and
/// waits for in-flight requests, at most `grace` (connections still open after that
/// are dropped). The caller then closes the [`AuditWriter`] to flush the audit trail.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        // Small request/response exchanges: do not let Nagle's algorithm delay them.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    serve_on(listener, state, shutdown, grace).await
}

/// [`serve`] on a Unix domain socket (`--listen unix:/path`), for sidecars: the same
/// service, the same graceful shutdown.
#[cfg(unix)]
pub async fn serve_unix(
    listener: tokio::net::UnixListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    serve_on(listener, state, shutdown, grace).await
}

async fn serve_on<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = fired_tx.send(());
    });
    tokio::select! {
        result = server => result,
        () = async {
            if fired_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            tracing::warn!(grace_ms = grace.as_millis(), "in-flight requests did not finish within the shutdown grace period; closing their connections");
            Ok(())
        }
    }
}
