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
//!
//! One exception, also decided here for every endpoint: with auth on, a call without
//! a valid bearer token is audited only at a bounded rate
//! (`--audit-unauthenticated-per-second`, `audit/limit`). Past it the call is still
//! answered 401 with the error body and counted in the metrics, and the number of
//! such calls is audited every [`SUPPRESSED_EVERY`] and at shutdown
//! ([`audit_suppressed`]), so that probing leaves evidence but cannot fill the disk.
//! Authenticated calls are always audited. Requests for no endpoint are logged at
//! `warn` at most once a second (with the number left out), else at `debug`.

mod authz;
mod batch;
pub(crate) mod decide;
mod evaluate;
mod guardrail;
mod info;

use crate::audit::clock::occurred_at;
use crate::audit::{EventParts, Line, latency_ms, serialize_event};
use crate::error::ApiError;
use crate::state::AppState;
use crate::traceparent::{self, TraceParent};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use policygate_api::{
    AUDIT_EVENT_VERSION, AUDIT_SUPPRESSED_TYPE, AuditEvaluationRef, AuditSuppressed, ErrorCode,
    SUPPRESSED_UNAUTHENTICATED,
};
use policygate_core::Policy;
use std::sync::Arc;
use std::time::Instant;

pub(crate) use authz::record_mapping_denial;
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
            .route(authz::PATH_FOR_ROOT, any(authz::authz))
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

/// How often the number of unaudited unauthenticated calls is written (when any).
pub(crate) const SUPPRESSED_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Answers a refused request: assigns a correlation id if none, writes the audit event
/// (for an unauthenticated call only within the rate, see the module documentation),
/// counts it, and renders the error body.
pub(crate) async fn refuse(state: &AppState, ctx: Ctx<'_>, mut err: ApiError) -> Response {
    let inner = &state.inner;
    let correlation_id = assign_correlation_id(&mut err);
    if err.code == ErrorCode::Unauthorized
        && ctx.caller.is_none()
        && !inner
            .unauthenticated
            .admit(tokio::time::Instant::now(), || {
                occurred_at(inner.audit.clock())
            })
    {
        tracing::debug!(
            correlation_id = %crate::logsafe::Escaped(&correlation_id),
            "unauthenticated call not audited (over --audit-unauthenticated-per-second); counted"
        );
        inner.metrics.rejected(err.code);
        return err.into_response();
    }
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
            covers: None,
            latency_ms: latency_ms(inner.audit.clock(), ctx.started),
            shadow: None,
        },
        policy.rendered_identity(),
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

/// Answers a request that reached no endpoint: counted by code, logged at `warn` at
/// most once a second (with how many were logged at `debug` only since), never audited
/// (see the module's auditing rule).
fn unaudited(state: &AppState, mut err: ApiError) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let log = &state.inner.unrouted_log;
    if log.admit(tokio::time::Instant::now(), String::new) {
        let since = log.take_suppressed().map_or(0, |(n, _)| n);
        tracing::warn!(
            code = err.code.as_str(),
            correlation_id = %id,
            not_logged = since,
            "request for no endpoint (at most one such line a second; {since} more since the last one)"
        );
    } else {
        tracing::debug!(code = err.code.as_str(), correlation_id = %id, "request for no endpoint");
    }
    err.correlation_id = Some(id);
    state.inner.metrics.rejected(err.code);
    err.into_response()
}

/// Writes the number of unauthenticated calls answered without their own audit event
/// since the last count, if any (`policygate.audit.suppressed`).
pub(crate) async fn audit_suppressed(state: &AppState) {
    let inner = &state.inner;
    let Some((suppressed, first_at)) = inner.unauthenticated.take_suppressed() else {
        return;
    };
    let event = AuditSuppressed {
        event_type: AUDIT_SUPPRESSED_TYPE.to_owned(),
        event_version: AUDIT_EVENT_VERSION.to_owned(),
        occurred_at: occurred_at(inner.audit.clock()),
        service_name: "policygate".to_owned(),
        environment: inner.config.environment.clone(),
        reason: SUPPRESSED_UNAUTHENTICATED.to_owned(),
        suppressed,
        max_per_second: inner.unauthenticated.per_second(),
        first_at,
        seq: None,
        prev_hash: None,
    };
    let line = match serde_json::to_vec(&event) {
        Ok(line) => line,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise the count of unaudited calls");
            return;
        }
    };
    let deadline = tokio::time::Instant::now() + inner.config.request_timeout;
    if let Err(e) = inner.audit.record(line, deadline).await {
        tracing::warn!(
            suppressed,
            reason = e.message(),
            "the count of unaudited unauthenticated calls could not be audited"
        );
    }
}

/// Writes [`audit_suppressed`] every [`SUPPRESSED_EVERY`] until aborted (with auth on;
/// without it nothing is ever suppressed).
pub(crate) fn report_suppressed(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if state.inner.auth.is_none() {
            return;
        }
        let first = tokio::time::Instant::now() + SUPPRESSED_EVERY;
        let mut every = tokio::time::interval_at(first, SUPPRESSED_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            audit_suppressed(&state).await;
        }
    })
}

/// The body of a panic caught by the outermost layer: the contract's `internal` error.
pub(crate) fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answered 500 internal");
    ApiError::internal().into_response()
}

#[cfg(test)]
mod tests;
