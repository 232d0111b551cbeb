//! `POST /evaluate/batch`: up to 256 EvaluateRequests in one body, answered in order.
//!
//! The same checks as `/evaluate`, cheapest first, for the whole batch: auth (401) →
//! content type (415) → body within `--max-batch-body-bytes` and the request deadline
//! (413, 503) → the envelope (400 for a body that is not JSON or repeats a key anywhere,
//! 422 for no `requests` array, another field or more than 256 items). Each of those
//! refuses the whole batch with one audited refusal. Then each item is read, checked and
//! decided exactly as `/evaluate` would do it on its own (an item over `--max-body-bytes`
//! is its own 413), and every item gets its own audit event, a decision or a refusal
//! with its own `request_id`. All the events are written together, with one wait on the
//! sink ([`decide::commit_all`]), before anything is answered: if they cannot be, the
//! whole batch is a 503 and no decision is returned. Otherwise the answer is 200 with
//! `{"results": [...]}`, an EvaluateResponse or the item's error body per item.

use super::decide::{self, Decided, Pending, Recorded, Undecided};
use super::evaluate::check_content_type;
use super::{Ctx, refusal_line, refuse};
use crate::error::ApiError;
use crate::state::{Active, AppState};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use policygate_api::{
    BatchItem, BatchResultRef, ErrorBody, ErrorCode, EvaluateBatchRequest,
    EvaluateBatchResponseRef, EvaluateRequest, EvaluateResponseRef, Problem, RequestError,
};
use std::sync::Arc;
use std::time::Instant;

/// The path of the batch endpoint.
pub(crate) const PATH: &str = "/evaluate/batch";

/// `POST /evaluate/batch`.
pub(crate) async fn evaluate_batch(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let _in_flight = state.inner.metrics.in_flight();
    handle(&state, started, request).await
}

/// An item refused before it could be decided, with what its audit event records.
struct Refusal {
    err: ApiError,
    action: Option<String>,
    resource_type: Option<String>,
}

/// An item after reading: a request to decide (by its index in the requests) or a
/// refusal.
enum Planned {
    Request(usize),
    Refused(Refusal),
}

/// An item's result.
enum Outcome<'p, 'r> {
    Decided(Decided<'p, 'r>, String),
    Refused(ErrorBody),
}

async fn handle(state: &AppState, started: Instant, request: Request) -> Response {
    let inner = &state.inner;
    let config = &inner.config;
    let deadline = tokio::time::Instant::from_std(started) + config.request_timeout;
    let tokens = inner.auth.as_ref().map(arc_swap::ArcSwap::load_full);
    let mut ctx = Ctx::new(&request);
    ctx.started = started;
    let (parts, body) = request.into_parts();

    if let Some(tokens) = &tokens {
        match tokens.authenticate(&parts.headers) {
            Some(name) => ctx.caller = Some(name),
            None => return refuse(state, ctx, ApiError::unauthorized()).await,
        }
    }
    if let Err(e) = check_content_type(&parts.headers) {
        return refuse(state, ctx, e).await;
    }
    let bytes = match decide::read_body_within(
        state,
        &parts.headers,
        body,
        deadline,
        config.max_batch_body_bytes,
    )
    .await
    {
        Ok(bytes) => bytes,
        Err(err) => return refuse(state, ctx, err).await,
    };
    let items = match EvaluateBatchRequest::parse_items(&bytes, config.max_body_bytes) {
        Ok(items) => items,
        Err(e) => {
            let err = match e {
                RequestError::Malformed(m) => ApiError::new(
                    ErrorCode::InvalidJson,
                    format!("batch body is not valid JSON: {m}"),
                ),
                RequestError::Invalid(problems) => ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("not a batch: {}", Problem::summary(&problems)),
                )
                .with_details(problems),
            };
            return refuse(state, ctx, err).await;
        }
    };
    drop(bytes);

    // Every item decides, audits and answers with the policy active now.
    let active = inner.active.load_full();
    ctx.policy = Some(Arc::clone(&active.policy));
    let policy = &*active.policy;

    let mut requests: Vec<EvaluateRequest> = Vec::with_capacity(items.len());
    let plan: Vec<Planned> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            BatchItem::Request(mut request) => {
                // `caller.id` is the authenticated caller, never anything the body says.
                request.caller = ctx.caller.map(str::to_owned);
                requests.push(request);
                Planned::Request(requests.len() - 1)
            }
            BatchItem::Rejected(rejected) => {
                let mut err = ApiError::new(ErrorCode::InvalidRequest, rejected.error.summary());
                if let RequestError::Invalid(problems) = rejected.error {
                    err = err.with_details(problems);
                }
                if let Some(id) = rejected.request_id {
                    err = err.with_correlation_id(id);
                }
                Planned::Refused(Refusal {
                    err,
                    action: rejected.action.map(|a| a.as_str().to_owned()),
                    resource_type: rejected.resource_type,
                })
            }
            BatchItem::TooLarge(size) => Planned::Refused(Refusal {
                err: ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "request {i} of the batch is {size} bytes, over the limit of {} bytes for one request",
                        config.max_body_bytes
                    ),
                ),
                action: None,
                resource_type: None,
            }),
        })
        .collect();

    let mut pending: Vec<Pending<'_>> = Vec::with_capacity(plan.len());
    let mut outcomes: Vec<Outcome<'_, '_>> = Vec::with_capacity(plan.len());
    for planned in plan {
        let refusal = match planned {
            Planned::Refused(refusal) => refusal,
            Planned::Request(index) => {
                let request = &requests[index];
                let correlation_id = request
                    .request_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                let known = |err: ApiError| Refusal {
                    err: err.with_correlation_id(correlation_id.clone()),
                    action: Some(request.action.as_str().to_owned()),
                    resource_type: Some(request.resource.kind.clone()),
                };
                match decide::decide(state, policy, request) {
                    Ok(decided) => {
                        pending.push(decide::prepare(
                            state,
                            &ctx,
                            &active,
                            &decided,
                            &correlation_id,
                            Recorded::Decision,
                        ));
                        outcomes.push(Outcome::Decided(decided, correlation_id));
                        continue;
                    }
                    Err(Undecided::Invalid(problems)) => known(
                        ApiError::new(ErrorCode::InvalidRequest, Problem::summary(&problems))
                            .with_details(problems),
                    ),
                    Err(Undecided::Panicked) => {
                        tracing::error!(correlation_id = %crate::logsafe::Escaped(&correlation_id), "the policy engine panicked");
                        known(ApiError::internal())
                    }
                }
            }
        };
        let (line, body) = item_refusal(state, &ctx, &active, refusal);
        pending.push(line);
        outcomes.push(Outcome::Refused(body));
    }

    let identity = policy.identity();
    let results: Vec<BatchResultRef<'_>> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Decided(decided, correlation_id) => {
                let decision = &decided.decision;
                BatchResultRef::Decision(EvaluateResponseRef {
                    correlation_id,
                    decision: decision.decision,
                    rationale_codes: decision.rationale_codes,
                    obligations: decision.obligations,
                    policy: identity,
                    matched_rule_id: decision.matched_rule_id,
                })
            }
            Outcome::Refused(body) => BatchResultRef::Refused(body),
        })
        .collect();
    let mut body = Vec::with_capacity(results.len() * 384 + 16);
    if let Err(e) =
        serde_json::to_writer(&mut body, &EvaluateBatchResponseRef { results: &results })
    {
        tracing::error!(error = %e, "cannot serialise a batch response");
        return refuse(state, ctx, ApiError::internal()).await;
    }
    let batch_id = uuid::Uuid::new_v4().to_string();
    if let Err(unavailable) = decide::commit_all(state, &mut pending, &batch_id, deadline).await {
        return unavailable.into_response();
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The audit line and the answer of a refused item.
fn item_refusal(
    state: &AppState,
    ctx: &Ctx<'_>,
    active: &Active,
    refusal: Refusal,
) -> (Pending<'static>, ErrorBody) {
    let Refusal {
        mut err,
        action,
        resource_type,
    } = refusal;
    let item = Ctx {
        started: ctx.started,
        trace: ctx.trace.clone(),
        caller: ctx.caller,
        action,
        resource_type,
        policy: Some(Arc::clone(&active.policy)),
    };
    let line = refusal_line(state, &item, &mut err);
    (Pending::refusal(line, err.code), err.body())
}
