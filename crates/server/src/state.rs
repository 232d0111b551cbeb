//! `AppState`: what every handler shares — the policy, the audit sink, metrics,
//! authentication and settings — behind one `Arc`, so that a request clones a pointer
//! and nothing else.

use crate::audit::{AuditContext, AuditSink, ContextPlan};
use crate::auth::Tokens;
use crate::metrics::Metrics;
use axum::body::Bytes;
use policygate_api::{HealthResponse, VersionResponse};
use policygate_core::Policy;
use std::sync::Arc;
use std::time::Duration;

/// Default `--max-body-bytes`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default `--request-timeout-ms`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(5_000);

/// Settings of the HTTP service: the parts of the run configuration that handlers need.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted `POST /evaluate` body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Budget of one `POST /evaluate`: reading the body and writing the audit event
    /// must both finish within it, else 503 `unavailable`.
    pub request_timeout: Duration,
    /// What `decision_context` records.
    pub audit_context: AuditContext,
    /// `environment` of audit events.
    pub environment: Option<String>,
    /// Route `POST /explain` (off by default: it reveals policy internals).
    pub enable_explain: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            audit_context: AuditContext::default(),
            environment: None,
            enable_explain: false,
        }
    }
}

/// Shared state of the service; cloning is one `Arc` increment.
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) policy: Arc<Policy>,
    pub(crate) audit: AuditSink,
    pub(crate) auth: Option<Tokens>,
    pub(crate) config: ServerConfig,
    pub(crate) context_plan: ContextPlan,
    pub(crate) metrics: Metrics,
    /// Pre-rendered `GET /health` and `GET /version` bodies.
    pub(crate) health_body: Bytes,
    pub(crate) version_body: Bytes,
}

impl AppState {
    /// State over a loaded policy, an audit sink, optional callers' tokens and settings.
    pub fn new(
        policy: Arc<Policy>,
        audit: AuditSink,
        auth: Option<Tokens>,
        config: ServerConfig,
    ) -> AppState {
        let identity = policy.identity().clone();
        let health = HealthResponse {
            status: "ok".to_owned(),
            policy: identity.clone(),
        };
        let version = VersionResponse {
            name: "policygate".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            policy: identity.clone(),
        };
        let context_plan = ContextPlan::new(config.audit_context, policy.tested_facts());
        AppState {
            inner: Arc::new(Inner {
                metrics: Metrics::new(&identity),
                health_body: Bytes::from(serde_json::to_vec(&health).unwrap_or_default()),
                version_body: Bytes::from(serde_json::to_vec(&version).unwrap_or_default()),
                policy,
                audit,
                auth,
                config,
                context_plan,
            }),
        }
    }

    /// The audit sink (to check its health or count events).
    pub fn audit(&self) -> &AuditSink {
        &self.inner.audit
    }
}
