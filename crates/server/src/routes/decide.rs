//! What every decision endpoint shares, so that each rule has one owner: reading the
//! body within its size limit and the request deadline, deciding (the policy-aware
//! request checks and the evaluation, with a panic caught), and committing a decision
//! (its audit event written before anything is answered, then counted).
//!
//! `/evaluate` and LiteLLM's guardrail endpoint differ only in how a body becomes an
//! [`EvaluateRequest`] and how the decision is rendered; the rest is here.

use super::Ctx;
use crate::audit::{EventParts, Line, latency_ms, serialize_event};
use crate::error::ApiError;
use crate::state::{Active, AppState};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use policygate_api::{AuditEvaluationRef, DecisionKind, ErrorCode, EvaluateRequest, Problem};
use policygate_core::{Decision, Policy};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// Reads the whole body: refused with 413 when the declared or the actual length is
/// over the limit, 400 when the transfer breaks, and 503 when it has not arrived by
/// `deadline`.
pub(crate) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    deadline: tokio::time::Instant,
) -> Result<Bytes, ApiError> {
    read_body_within(
        state,
        headers,
        body,
        deadline,
        state.inner.config.max_body_bytes,
    )
    .await
}

/// [`read_body`] with another size limit (`POST /evaluate/batch`'s).
pub(crate) async fn read_body_within(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    deadline: tokio::time::Instant,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let config = &state.inner.config;
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("request body is larger than the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout_at(deadline, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(_)) => Err(ApiError::new(
            ErrorCode::InvalidJson,
            "request body could not be read (connection error or bad transfer encoding)",
        )),
        Err(_) => Err(ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "request body was not received within {} ms",
                config.request_timeout.as_millis()
            ),
        )),
    }
}

/// A request the policy decided, with the engine's time in milliseconds.
#[derive(Debug)]
pub(crate) struct Decided<'p, 'r> {
    pub(crate) request: &'r EvaluateRequest,
    pub(crate) decision: Decision<'p>,
    pub(crate) latency_ms: f64,
}

/// Why a contract-valid request got no decision.
#[derive(Debug)]
pub(crate) enum Undecided {
    /// The policy-aware checks refused it (declared signal types): a 422.
    Invalid(Vec<Problem>),
    /// The engine panicked; it must not, but if it ever does the caller gets an audited
    /// 500 rather than a dropped connection.
    Panicked,
}

/// Runs the policy-aware checks and the evaluation of `request` on `policy`.
pub(crate) fn decide<'p, 'r>(
    state: &AppState,
    policy: &'p Policy,
    request: &'r EvaluateRequest,
) -> Result<Decided<'p, 'r>, Undecided> {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        policy
            .check_request(request)
            .map(|()| policy.evaluate(request))
    }));
    let latency_ms = latency_ms(state.inner.audit.clock(), started);
    match outcome {
        Ok(Ok(decision)) => Ok(Decided {
            request,
            decision,
            latency_ms,
        }),
        Ok(Err(problems)) => Err(Undecided::Invalid(problems)),
        Err(_) => Err(Undecided::Panicked),
    }
}

/// What a committed decision is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// An enforcement decision: audited as a decision, counted in the decision metrics
    /// and decided by the shadow policy too.
    Decision,
    /// A `/explain` answer: audited with its own `event_type`, never counted as an
    /// enforcement decision and not shadowed.
    Explanation,
}

/// A decision's audit line, serialised and ready to be written, with what is counted
/// once it is. [`commit`] writes one; a batch prepares one per item and writes them
/// all with [`commit_all`] (one wait on the sink for the lot).
#[derive(Debug)]
pub(crate) struct Pending<'p> {
    pub(crate) line: Line,
    count: Count<'p>,
}

#[derive(Debug)]
enum Count<'p> {
    Decision {
        decision: DecisionKind,
        rule: Option<&'p str>,
        shadow: Option<Option<DecisionKind>>,
    },
    Explanation,
    Refusal(ErrorCode),
}

impl AsRef<[u8]> for Pending<'_> {
    fn as_ref(&self) -> &[u8] {
        self.line.as_ref()
    }
}

impl Pending<'_> {
    /// A refusal's line (from [`super::refusal_line`]), counted by its code once written.
    pub(crate) fn refusal(line: Line, code: ErrorCode) -> Pending<'static> {
        Pending {
            line,
            count: Count::Refusal(code),
        }
    }

    /// Counts the written event in the metrics.
    fn count(&self, state: &AppState) {
        let metrics = &state.inner.metrics;
        match self.count {
            Count::Decision {
                decision,
                rule,
                shadow,
            } => {
                metrics.decision(decision, rule);
                if let Some(shadow) = shadow {
                    metrics.shadow_pair(decision, shadow);
                }
            }
            Count::Explanation => {}
            Count::Refusal(code) => metrics.rejected(code),
        }
    }
}

/// Serialises the audit event of a decision made by `active`'s policy, with the
/// shadow policy's outcome beside it when one is loaded (and the decision is an
/// enforcement decision).
pub(crate) fn prepare<'p>(
    state: &AppState,
    ctx: &Ctx<'_>,
    active: &Active,
    decided: &Decided<'p, '_>,
    correlation_id: &str,
    recorded: Recorded,
) -> Pending<'p> {
    let inner = &state.inner;
    let (request, decision) = (decided.request, &decided.decision);
    // The shadow policy decides too (recorded, never answered), outside `latency_ms`.
    // A guard, not a counted `Arc`: the shadow is only used in this (synchronous)
    // function, and counting a shared `Arc` up and down on every request contends
    // across workers.
    let guard = inner.shadow.load();
    let shadow = match recorded {
        Recorded::Decision => guard.as_deref(),
        Recorded::Explanation => None,
    };
    let shadow_outcome = shadow.map(|s| crate::shadow::decide(s, request, decision));
    let shadow_decision = shadow_outcome.as_ref().map(|s| s.decision);
    let evaluation = AuditEvaluationRef {
        action: Some(request.action.as_str()),
        resource_type: Some(&request.resource.kind),
        decision: Some(decision.decision),
        matched_rule_id: decision.matched_rule_id,
        default_applied: decision.matched_rule_id.is_none(),
        rationale_codes: decision.rationale_codes,
        obligations: decision.obligations,
        error_code: None,
        http_status: None,
    };
    let line = serialize_event(
        EventParts {
            event_type: match recorded {
                Recorded::Decision => policygate_api::AUDIT_EVENT_TYPE,
                Recorded::Explanation => policygate_api::AUDIT_EXPLAIN_EVENT_TYPE,
            },
            request_id: correlation_id,
            trace: ctx.trace.as_ref(),
            caller: ctx.caller,
            evaluation,
            context: active.context_plan.context_ref(request),
            covers: Some(active.context_plan.covers()),
            latency_ms: decided.latency_ms,
            shadow: shadow_outcome,
        },
        active.policy.rendered_identity(),
        inner.config.environment.as_deref(),
        inner.audit.clock(),
    );
    let count = match recorded {
        Recorded::Decision => Count::Decision {
            decision: decision.decision,
            rule: decision.matched_rule_id,
            shadow: shadow_decision,
        },
        Recorded::Explanation => Count::Explanation,
    };
    Pending { line, count }
}

/// Writes the audit event of a decision made by `active`'s policy (with the shadow
/// policy's outcome beside it, when one is loaded) and counts it; only when this
/// returns `Ok` may the decision be answered. `Err` is the `503` to answer instead
/// (the sink could not take the event by `deadline`).
pub(crate) async fn commit(
    state: &AppState,
    ctx: &Ctx<'_>,
    active: &Active,
    decided: &Decided<'_, '_>,
    correlation_id: &str,
    deadline: tokio::time::Instant,
    recorded: Recorded,
) -> Result<(), Response> {
    let mut pending = prepare(state, ctx, active, decided, correlation_id, recorded);
    commit_all(
        state,
        std::slice::from_mut(&mut pending),
        correlation_id,
        deadline,
    )
    .await
    .map_err(IntoResponse::into_response)
}

/// Writes several prepared events together, in order, with one wait on the sink, and
/// counts each; only when this returns `Ok` may any of them be answered. `Err` is the
/// `503 unavailable` (carrying `correlation_id`) to answer instead: none of the
/// decisions is returned when their events could not all be written. The lines are
/// copied into the sink's queue and emptied (their buffers reused at once); the
/// counts stay in `pending`.
pub(crate) async fn commit_all(
    state: &AppState,
    pending: &mut [Pending<'_>],
    correlation_id: &str,
    deadline: tokio::time::Instant,
) -> Result<(), ApiError> {
    let inner = &state.inner;
    let queued = inner.audit.enqueue(pending);
    // Queued or refused, the lines are no longer needed: their buffers go back to
    // this worker thread before the wait.
    for p in pending.iter_mut() {
        p.line = Line::default();
    }
    let written = match queued {
        Ok(queued) => inner.audit.written(queued, deadline).await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        tracing::warn!(
            correlation_id = %crate::logsafe::Escaped(correlation_id),
            events = pending.len(),
            reason = e.message(),
            "decision withheld: its audit event could not be written"
        );
        inner.metrics.rejected(ErrorCode::Unavailable);
        return Err(ApiError::new(ErrorCode::Unavailable, e.message())
            .with_correlation_id(correlation_id.to_owned()));
    }
    for p in pending {
        p.count(state);
    }
    Ok(())
}
