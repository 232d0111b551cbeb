//! The HTTP surface: which path and method go to which handler, and the one way every
//! refusal is answered (audited, counted, and rendered as the contract's error body).
//!
//! Auditing rule: every call to a decision endpoint (`/evaluate`, `/explain`, the
//! LiteLLM guardrail, gateway forward-auth `/authz`, an Envoy ext_authz Check) produces
//! exactly one audit event, decision or refusal; a call to `/evaluate/batch` one per
//! item (or one refusal for a batch refused whole). Requests
//! for unknown paths or with the wrong method are answered with the error body (404,
//! 405) and counted in the metrics, but never audited: they decide nothing, and an
//! anonymous client must not be able to fill the audit trail (or its disk) with them.
//! Reads of `/health`, `/ready`, `/version`, `/metrics` and `/openapi.json` are not
//! audited either.

mod authz;
mod batch;
pub(crate) mod decide;
mod evaluate;
mod guardrail;
mod info;

use crate::audit::{EventParts, Line, latency_ms, serialize_event};
use crate::error::ApiError;
use crate::state::AppState;
use crate::traceparent::{self, TraceParent};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use policygate_api::{AuditEvaluationRef, ErrorCode};
use policygate_core::Policy;
use std::sync::Arc;
use std::time::Instant;

pub(crate) use evaluate::{evaluate, explain};

/// The router, before the outer layers of [`crate::app`].
pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/evaluate", post(evaluate))
        .route(batch::PATH, post(batch::evaluate_batch));
    if state.inner.config.enable_explain {
        router = router.route("/explain", post(explain));
    }
    if state.inner.config.gateway_mapping.is_some() {
        router = router
            .route(authz::PATH, any(authz::authz))
            .route(authz::PATH_WITH_ORIGINAL, any(authz::authz));
    }
    router
        .route(guardrail::PATH, post(guardrail::guardrail))
        .route("/health", get(info::health))
        .route("/ready", get(info::ready))
        .route("/version", get(info::version))
        .route("/metrics", get(info::metrics))
        .route("/openapi.json", get(info::openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// What is known about a request when it is refused.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) started: Instant,
    pub(crate) trace: Option<TraceParent>,
    pub(crate) caller: Option<&'a str>,
    /// `action` and `resource.type`, when they could be read from the body.
    pub(crate) action: Option<String>,
    pub(crate) resource_type: Option<String>,
    /// The policy that refused, once one was chosen (else the active one is named).
    pub(crate) policy: Option<Arc<Policy>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(request: &Request) -> Ctx<'a> {
        Ctx {
            started: Instant::now(),
            trace: traceparent::from_headers(request.headers()),
            caller: None,
            action: None,
            resource_type: None,
            policy: None,
        }
    }
}

/// Answers a refused request: assigns a correlation id if none, writes the audit event,
/// counts it, and renders the error body.
pub(crate) async fn refuse(state: &AppState, ctx: Ctx<'_>, mut err: ApiError) -> Response {
    let correlation_id = assign_correlation_id(&mut err);
    let evaluation = AuditEvaluationRef::refused(
        ctx.action.as_deref(),
        ctx.resource_type.as_deref(),
        err.code,
    );
    record_refusal(state, &ctx, &correlation_id, evaluation).await;
    state.inner.metrics.rejected(err.code);
    err.into_response()
}

/// `err`'s correlation id, generated (and set) when it has none.
fn assign_correlation_id(err: &mut ApiError) -> String {
    match &err.correlation_id {
        Some(id) => id.clone(),
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            err.correlation_id = Some(id.clone());
            id
        }
    }
}

/// Writes the audit event of a refused request (within a budget of its own: its
/// request's may already be spent); a failure is logged, the refusal stands.
pub(crate) async fn record_refusal(
    state: &AppState,
    ctx: &Ctx<'_>,
    correlation_id: &str,
    evaluation: AuditEvaluationRef<'_>,
) {
    let inner = &state.inner;
    let code = evaluation.error_code.map_or("", ErrorCode::as_str);
    let line = refusal_event(state, ctx, correlation_id, evaluation);
    let deadline = tokio::time::Instant::now() + inner.config.request_timeout;
    if let Err(e) = inner.audit.record(line, deadline).await {
        tracing::warn!(
            correlation_id = %crate::logsafe::Escaped(correlation_id),
            code,
            reason = e.message(),
            "refused request could not be audited"
        );
    }
}

/// The audit line of a refusal by `err` (assigning it a correlation id if it has
/// none), for a caller that writes several events together (`/evaluate/batch`).
pub(crate) fn refusal_line(state: &AppState, ctx: &Ctx<'_>, err: &mut ApiError) -> Line {
    let correlation_id = assign_correlation_id(err);
    let evaluation = AuditEvaluationRef::refused(
        ctx.action.as_deref(),
        ctx.resource_type.as_deref(),
        err.code,
    );
    refusal_event(state, ctx, &correlation_id, evaluation)
}

/// Serialises a refusal's audit event.
fn refusal_event(
    state: &AppState,
    ctx: &Ctx<'_>,
    correlation_id: &str,
    evaluation: AuditEvaluationRef<'_>,
) -> Line {
    let inner = &state.inner;
    let policy = ctx
        .policy
        .clone()
        .unwrap_or_else(|| Arc::clone(&inner.active.load().policy));
    serialize_event(
        EventParts {
            event_type: policygate_api::AUDIT_EVENT_TYPE,
            request_id: correlation_id,
            trace: ctx.trace.as_ref(),
            caller: ctx.caller,
            evaluation,
            context: None,
            covers: &[],
            latency_ms: latency_ms(inner.audit.clock(), ctx.started),
            shadow: None,
        },
        policy.identity(),
        inner.config.environment.as_deref(),
        inner.audit.clock(),
    )
}

async fn not_found(State(state): State<AppState>) -> Response {
    unaudited(&state, ApiError::not_found())
}

async fn method_not_allowed(State(state): State<AppState>) -> Response {
    unaudited(&state, ApiError::method_not_allowed())
}

/// Answers a request that reached no endpoint: counted by code, logged at debug level
/// only, never audited (see the module's auditing rule).
fn unaudited(state: &AppState, mut err: ApiError) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    tracing::debug!(code = err.code.as_str(), correlation_id = %id, "request for no endpoint");
    err.correlation_id = Some(id);
    state.inner.metrics.rejected(err.code);
    err.into_response()
}

/// The body of a panic caught by the outermost layer: the contract's `internal` error.
pub(crate) fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answered 500 internal");
    ApiError::internal().into_response()
}
