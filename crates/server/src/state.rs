//! `AppState`: what every handler shares — the active policy, the audit sink, metrics,
//! authentication and settings — behind one `Arc`, so that a request clones a pointer
//! and nothing else. The active policy sits in an [`ArcSwap`] so that a reload swaps
//! it atomically without a lock on the request path.

use crate::audit::{AuditContext, AuditSink, ContextPlan, RateLimit};
use crate::auth::Tokens;
use crate::metrics::Metrics;
use arc_swap::{ArcSwap, ArcSwapOption};
use axum::body::Bytes;
use policygate_api::{HealthResponse, PolicyIdentity, ReloadAttempt, VersionResponse};
use policygate_core::Policy;
use policygate_core::gateway::Mapping;
use std::sync::Arc;
use std::time::Duration;

/// Default `--max-body-bytes`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default `--max-batch-body-bytes`: room for 256 requests of about 8 KiB each.
pub const DEFAULT_MAX_BATCH_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Default `--request-timeout-ms`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(5_000);

/// Default `--audit-unauthenticated-per-second`.
pub const DEFAULT_AUDIT_UNAUTHENTICATED_PER_SECOND: u32 = 10;

/// Settings of the HTTP service: the parts of the run configuration that handlers need.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest accepted `POST /evaluate` body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Largest accepted `POST /evaluate/batch` body (each item is still held to
    /// `max_body_bytes`); larger ones get 413.
    pub max_batch_body_bytes: usize,
    /// Budget of one `POST /evaluate`: reading the body and writing the audit event
    /// must both finish within it, else 503 `unavailable`.
    pub request_timeout: Duration,
    /// What `decision_context` records.
    pub audit_context: AuditContext,
    /// `environment` of audit events.
    pub environment: Option<String>,
    /// Route `POST /explain` (off by default: it reveals policy internals).
    pub enable_explain: bool,
    /// With auth on: at most this many unauthenticated calls to decision endpoints
    /// are audited per second (and at most this many at once); the others are still
    /// answered 401 and counted, and their number is audited periodically
    /// (`policygate.audit.suppressed`). 0 audits none of them, only their count.
    pub audit_unauthenticated_per_second: u32,
    /// The gateway mapping (`--gateway-mapping`): routes `/authz` when set. Bound to
    /// the active policy at start and again at every swap (see [`MappingSource`]).
    pub gateway_mapping: Option<MappingSource>,
}

/// A gateway mapping file's name and bytes, read once at start. The mapping is
/// validated against (bound to) every policy that becomes active, so that values are
/// always coerced to the types the deciding policy declares; the binary refuses a
/// reload whose policy the mapping does not fit, so a swap never leaves `/authz`
/// without one.
#[derive(Debug, Clone)]
pub struct MappingSource {
    /// The file name, for diagnostics.
    pub name: String,
    /// Its bytes.
    pub bytes: Arc<[u8]>,
}

impl MappingSource {
    /// The mapping bound to `policy`, or the report of why it does not fit.
    pub fn bind(&self, policy: &Policy) -> Result<Mapping, policygate_core::Report> {
        match Mapping::load(&self.name, &self.bytes, policy) {
            (Some(mapping), _) => Ok(mapping),
            (None, report) => Err(report),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_body_bytes: DEFAULT_MAX_BATCH_BODY_BYTES,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            audit_context: AuditContext::default(),
            environment: None,
            enable_explain: false,
            audit_unauthenticated_per_second: DEFAULT_AUDIT_UNAUTHENTICATED_PER_SECOND,
            gateway_mapping: None,
        }
    }
}

/// Shared state of the service; cloning is one `Arc` increment.
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

/// The active policy and what is derived from it, swapped as one on reload. A request
/// takes one `Arc` of it and decides, audits and answers with that policy even when a
/// reload swaps another in meanwhile.
#[derive(Debug)]
pub(crate) struct Active {
    pub(crate) policy: Arc<Policy>,
    pub(crate) context_plan: ContextPlan,
    /// Pre-rendered `GET /version` body.
    pub(crate) version_body: Bytes,
    /// The gateway mapping bound to `policy`; `None` without `--gateway-mapping`, or
    /// (never in practice: the binary refuses such a reload) when it does not fit.
    pub(crate) mapping: Option<Arc<Mapping>>,
}

/// What the probes say: re-rendered after every swap and every reload attempt.
#[derive(Debug)]
pub(crate) struct Probes {
    pub(crate) health_body: Bytes,
    pub(crate) ready_body: Bytes,
    pub(crate) last_reload: Option<ReloadAttempt>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) active: ArcSwap<Active>,
    pub(crate) probes: ArcSwap<Probes>,
    pub(crate) audit: AuditSink,
    /// Callers' tokens, swapped when the tokens file is read again (`SIGHUP`).
    pub(crate) auth: Option<ArcSwap<Tokens>>,
    pub(crate) config: ServerConfig,
    pub(crate) metrics: Metrics,
    /// Serialises reloads (SIGHUP and the watcher), so that swaps happen one at a time.
    pub(crate) reloading: tokio::sync::Mutex<()>,
    /// SHA-256 of the last reload candidate (at start, the loaded policy's): the
    /// watcher skips events that did not change the file's content.
    pub(crate) last_candidate: std::sync::Mutex<Option<String>>,
    /// The shadow policy (`--shadow-policy`), when one is loaded.
    pub(crate) shadow: ArcSwapOption<Policy>,
    /// SHA-256 of the last shadow candidate.
    pub(crate) shadow_last_candidate: std::sync::Mutex<Option<String>>,
    /// The rate at which unauthenticated refusals are audited, and their count.
    pub(crate) unauthenticated: RateLimit,
    /// The rate at which requests for no endpoint are logged above debug level.
    pub(crate) unrouted_log: RateLimit,
}

impl Active {
    fn new(policy: Arc<Policy>, config: &ServerConfig) -> Active {
        let version = VersionResponse {
            name: "policygate".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            policy: policy.identity().clone(),
        };
        let mapping = config.gateway_mapping.as_ref().and_then(|source| {
            match source.bind(&policy) {
                Ok(m) => Some(Arc::new(m)),
                Err(report) => {
                    tracing::error!(
                        mapping = %source.name,
                        diagnostics = %report.render_human(false),
                        "the gateway mapping does not fit the active policy; /authz answers 503 until it does"
                    );
                    None
                }
            }
        });
        Active {
            context_plan: ContextPlan::new(config.audit_context, policy.tested_facts()),
            version_body: Bytes::from(serde_json::to_vec(&version).unwrap_or_default()),
            policy,
            mapping,
        }
    }
}

impl Probes {
    fn new(policy: &PolicyIdentity, last_reload: Option<ReloadAttempt>) -> Probes {
        let mut health = HealthResponse {
            status: "ok".to_owned(),
            policy: policy.clone(),
            last_reload,
        };
        let health_body = Bytes::from(serde_json::to_vec(&health).unwrap_or_default());
        "ready".clone_into(&mut health.status);
        let ready_body = Bytes::from(serde_json::to_vec(&health).unwrap_or_default());
        Probes {
            health_body,
            ready_body,
            last_reload: health.last_reload,
        }
    }
}

impl AppState {
    /// State over a loaded policy, an audit sink, optional callers' tokens and settings.
    pub fn new(
        policy: Arc<Policy>,
        audit: AuditSink,
        auth: Option<Tokens>,
        config: ServerConfig,
    ) -> AppState {
        let probes = Probes::new(policy.identity(), None);
        let sha = policy.identity().policy_sha256.clone();
        AppState {
            inner: Arc::new(Inner {
                active: ArcSwap::from_pointee(Active::new(policy, &config)),
                probes: ArcSwap::from_pointee(probes),
                metrics: Metrics::new(),
                audit,
                auth: auth.map(ArcSwap::from_pointee),
                reloading: tokio::sync::Mutex::new(()),
                last_candidate: std::sync::Mutex::new(Some(sha)),
                shadow: ArcSwapOption::empty(),
                shadow_last_candidate: std::sync::Mutex::new(None),
                unauthenticated: RateLimit::new(config.audit_unauthenticated_per_second),
                unrouted_log: RateLimit::new(1),
                config,
            }),
        }
    }

    /// The audit sink (to check its health or count events).
    pub fn audit(&self) -> &AuditSink {
        &self.inner.audit
    }

    /// The policy deciding now.
    pub fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.inner.active.load().policy)
    }

    /// Sets (or, with `None`, removes) the shadow policy: it decides every
    /// `/evaluate` beside the live one and is recorded, never enforced.
    pub fn set_shadow(&self, policy: Option<Arc<Policy>>) {
        self.inner.shadow.store(policy);
    }

    /// The last reload attempt, if any.
    pub fn last_reload(&self) -> Option<ReloadAttempt> {
        self.inner.probes.load().last_reload.clone()
    }

    /// Makes `policy` the active one; requests already deciding keep theirs.
    pub(crate) fn install(&self, policy: Arc<Policy>) -> Arc<Active> {
        let active = Active::new(policy, &self.inner.config);
        self.inner.active.swap(Arc::new(active))
    }

    /// Replaces the callers' tokens (only when authentication is on; it cannot be
    /// turned on or off while serving). Returns whether they were replaced.
    pub(crate) fn set_tokens(&self, tokens: Tokens) -> bool {
        match &self.inner.auth {
            Some(auth) => {
                auth.store(Arc::new(tokens));
                true
            }
            None => false,
        }
    }

    /// Records a reload attempt: the probes and metrics show it from now on.
    pub(crate) fn attempted(&self, attempt: ReloadAttempt) {
        self.inner.metrics.reload(attempt.outcome);
        let active = self.inner.active.load();
        let probes = Probes::new(active.policy.identity(), Some(attempt));
        self.inner.probes.store(Arc::new(probes));
    }
}

/// A state over the test fixture policy, auditing to nowhere, without auth: what unit
/// tests that need a server's state but not its behaviour use.
#[cfg(test)]
pub(crate) fn fixture_state() -> AppState {
    let bytes = std::fs::read(policygate_testkit::fixture("policy.yaml")).unwrap_or_default();
    let (policy, report) = policygate_core::load(
        "policy.yaml",
        &bytes,
        &policygate_core::LoadOptions::default(),
    );
    let Some(policy) = policy else {
        unreachable!("the fixture policy does not load: {report:?}")
    };
    let (sink, _writer) = crate::audit::AuditSink::open(Box::new(std::io::sink()));
    AppState::new(Arc::new(policy), sink, None, ServerConfig::default())
}
