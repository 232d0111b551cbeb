//! `POST /evaluate`: the decision endpoint, and the only hot path of the service.
//!
//! Checks run cheapest first, and no body is read before the caller is authenticated
//! and the headers are acceptable: auth (401) → content type (415) → declared length
//! (413) → body read within the size limit and the request deadline (413, 503) →
//! JSON (400) → contract (422, every problem with its JSON pointer) → policy-aware
//! checks (422) → evaluation → audit (503 when it cannot be written) → 200.
//!
//! `latency_ms` in the audit event measures the engine (request checks and
//! evaluation) only; the `policygate_evaluate_duration_seconds` histogram measures the
//! whole handler.

use super::decide::{self, Recorded, Undecided};
use super::{Ctx, refuse};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use policygate_api::{ErrorCode, EvaluateRequest, EvaluateResponseRef, RequestError};
use std::sync::Arc;
use std::time::Instant;

/// `POST /evaluate`.
pub(crate) async fn evaluate(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let _in_flight = state.inner.metrics.in_flight();
    let response = handle::<false>(&state, started, request).await;
    state.inner.metrics.evaluate_duration(started.elapsed());
    response
}

/// `POST /explain` (only routed with `--enable-explain`): the same body, auth and
/// checks as `/evaluate`, answered with the explain document. Audited with its own
/// `event_type` and never counted as an enforcement decision. The handler is the
/// same code instantiated with `EXPLAIN = true`, so `/evaluate` carries no branch
/// for it.
pub(crate) async fn explain(State(state): State<AppState>, request: Request) -> Response {
    handle::<true>(&state, Instant::now(), request).await
}

/// `application/json`, optionally with `charset=utf-8`; anything else is refused.
pub(super) fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |found: String| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "content-type must be `application/json` (optionally with `charset=utf-8`), found {found}"
            ),
        )
    };
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(refuse("none".to_owned()));
    };
    let Ok(text) = value.to_str() else {
        return Err(refuse("a value that is not plain text".to_owned()));
    };
    let mut parts = text.split(';');
    let media = parts.next().unwrap_or_default().trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(refuse(format!("`{}`", policygate_api::clip(text))));
    }
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let Some((key, val)) = param.split_once('=') else {
            return Err(refuse(format!("`{}`", policygate_api::clip(text))));
        };
        if key.trim().eq_ignore_ascii_case("charset") {
            let val = val.trim().trim_matches('"');
            if !val.eq_ignore_ascii_case("utf-8") && !val.eq_ignore_ascii_case("utf8") {
                return Err(refuse(format!("`{}`", policygate_api::clip(text))));
            }
        }
    }
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        let identity = encoding
            .to_str()
            .is_ok_and(|e| e.trim().eq_ignore_ascii_case("identity"));
        if !identity {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "content-encoding is not supported; send the body uncompressed",
            ));
        }
    }
    Ok(())
}

async fn handle<const EXPLAIN: bool>(
    state: &AppState,
    started: Instant,
    request: Request,
) -> Response {
    let inner = &state.inner;
    let deadline = tokio::time::Instant::from_std(started) + inner.config.request_timeout;
    // The tokens in force now (a SIGHUP may swap them); the caller's name borrows them.
    let tokens = inner.auth.as_ref().map(arc_swap::ArcSwap::load_full);
    // The connection's verified client certificate (mTLS), if any.
    let certificate = request
        .extensions()
        .get::<crate::conn::Peer>()
        .and_then(|peer| peer.identity.clone());
    let mut ctx = Ctx::new(&request);
    ctx.started = started;
    let (parts, body) = request.into_parts();

    match crate::auth::caller(tokens.as_deref(), certificate.as_deref(), &parts.headers) {
        Ok(caller) => ctx.caller = caller,
        Err(_) => return refuse(state, ctx, ApiError::unauthorized()).await,
    }
    if let Err(e) = check_content_type(&parts.headers) {
        return refuse(state, ctx, e).await;
    }
    let bytes = match decide::read_body(state, &parts.headers, body, deadline).await {
        Ok(bytes) => bytes,
        Err(err) => return refuse(state, ctx, err).await,
    };

    // Valid bodies (nearly all) are parsed in one pass; a refused one is read once,
    // for every problem and what its audit event can record.
    let mut request = match EvaluateRequest::parse(&bytes) {
        Ok(request) => request,
        Err(rejected) => {
            let mut err = match &rejected.error {
                RequestError::Malformed(_) => {
                    ApiError::new(ErrorCode::InvalidJson, rejected.error.summary())
                }
                RequestError::Invalid(problems) => {
                    ApiError::new(ErrorCode::InvalidRequest, rejected.error.summary())
                        .with_details(problems.clone())
                }
            };
            if let Some(id) = rejected.request_id {
                err = err.with_correlation_id(id);
            }
            ctx.action = rejected.action.map(|a| a.as_str().to_owned());
            ctx.resource_type = rejected.resource_type;
            return refuse(state, ctx, err).await;
        }
    };
    drop(bytes);
    // `caller.id` is the authenticated caller, never anything the body says.
    request.caller = ctx.caller.map(str::to_owned);

    let correlation_id = request
        .request_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

    // This request decides, audits and answers with the policy active now, even if a
    // reload swaps another in meanwhile.
    let active = inner.active.load_full();
    ctx.policy = Some(Arc::clone(&active.policy));
    let policy = &*active.policy;
    // What the audit event of a refusal from here on knows about the request.
    let known = |ctx: &mut Ctx<'_>| {
        ctx.action = Some(request.action.as_str().to_owned());
        ctx.resource_type = Some(request.resource.kind.clone());
    };
    let decided = match decide::decide(state, policy, &request) {
        Ok(decided) => decided,
        Err(Undecided::Invalid(problems)) => {
            known(&mut ctx);
            let err = ApiError::new(
                ErrorCode::InvalidRequest,
                policygate_api::Problem::summary(&problems),
            )
            .with_details(problems)
            .with_correlation_id(correlation_id);
            return refuse(state, ctx, err).await;
        }
        Err(Undecided::Panicked) => {
            known(&mut ctx);
            tracing::error!(correlation_id = %crate::logsafe::Escaped(&correlation_id), "the policy engine panicked");
            let err = ApiError::internal().with_correlation_id(correlation_id);
            return refuse(state, ctx, err).await;
        }
    };
    let decision = &decided.decision;

    let identity = policy.identity();
    let response = EvaluateResponseRef {
        correlation_id: &correlation_id,
        decision: decision.decision,
        rationale_codes: decision.rationale_codes,
        obligations: decision.obligations,
        policy: identity,
        matched_rule_id: decision.matched_rule_id,
    };
    let mut body = Vec::with_capacity(512);
    let written = if EXPLAIN {
        serde_json::to_writer(
            &mut body,
            &policy.explain(&request, correlation_id.clone(), false),
        )
    } else {
        serde_json::to_writer(&mut body, &response)
    };
    if let Err(e) = written {
        tracing::error!(error = %e, "cannot serialise a response");
        known(&mut ctx);
        let err = ApiError::internal().with_correlation_id(correlation_id);
        return refuse(state, ctx, err).await;
    }
    if let Err(unavailable) = decide::commit(
        state,
        &ctx,
        &active,
        &decided,
        &correlation_id,
        deadline,
        if EXPLAIN {
            Recorded::Explanation
        } else {
            Recorded::Decision
        },
    )
    .await
    {
        return unavailable;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, value.parse().unwrap());
        h
    }

    #[test]
    fn content_types() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
            "application/json; foo=bar",
        ] {
            assert!(check_content_type(&with_type(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/jsonx",
            "application/json; charset=latin1",
            "application/json; nonsense",
            "",
        ] {
            let err = check_content_type(&with_type(bad)).unwrap_err();
            assert_eq!(err.code, ErrorCode::UnsupportedMediaType, "{bad}");
        }
        assert!(check_content_type(&HeaderMap::new()).is_err());
        let mut gz = with_type("application/json");
        gz.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert!(check_content_type(&gz).is_err());
    }
}
