//! `/authz` and `/authz/<original path>`: HTTP forward-auth for gateways (routed only
//! with `--gateway-mapping`). Any method; the body is never read.
//!
//! The original request is read from what each gateway sends:
//! - Envoy's HTTP ext_authz service: the original method, and the original path (with
//!   its query) appended after `/authz`;
//! - nginx `auth_request`: `X-Original-Method` and `X-Original-URI` (set with
//!   `proxy_set_header` in the auth location);
//! - Traefik ForwardAuth: `X-Forwarded-Method` and `X-Forwarded-Uri`.
//!
//! On a bare `/authz`, when both header pairs are present they must agree (else the
//! request is denied as `mapping_bad_path`), so a client header cannot override what
//! the gateway set. Every header of the forward-auth request is a header of the
//! gateway request the mapping reads.
//!
//! Then it is `/evaluate`'s pipeline (`routes/decide`): auth (401) → the mapping
//! (`core::gateway::Mapping::apply`; a denial is audited as a refusal, with the denial
//! code as its rationale code) → policy checks and evaluation → audit (503 when it
//! cannot be written: a gateway with `failure_mode_allow: false` denies) → the
//! verdict of `core::gateway` (200 with `x-policygate-*` headers, or 403 / the
//! review status / 401 with the denial body).

use super::decide::{self, Recorded, Undecided};
use super::{Ctx, record_refusal, refuse};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use policygate_api::{AuditEvaluationRef, ErrorCode};
use policygate_core::gateway::{GatewayRequest, MappingDenial, Verdict};
use std::sync::Arc;
use std::time::Instant;

/// The bare path (nginx, Traefik).
pub(crate) const PATH: &str = "/authz";
/// With the original path appended (Envoy's HTTP ext_authz service).
pub(crate) const PATH_WITH_ORIGINAL: &str = "/authz/{*original}";
/// The same for an original path of `/` (a catch-all never matches an empty rest).
pub(crate) const PATH_FOR_ROOT: &str = "/authz/";

/// Any method on `/authz` or `/authz/<original path>`.
pub(crate) async fn authz(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let _in_flight = state.inner.metrics.in_flight();
    let response = handle(&state, started, request).await;
    state
        .inner
        .metrics
        .gateway_check_duration(crate::metrics::GatewayProtocol::Http, started.elapsed());
    response
}

/// The original request as the gateway describes it, or why it cannot be read.
fn gateway_request(request: &Request) -> Result<GatewayRequest, MappingDenial> {
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let uri = request.uri();
    let appended = uri.path().strip_prefix(PATH).filter(|p| p.starts_with('/'));
    let (method, target) = match appended {
        Some(path) => {
            let target = match uri.query() {
                Some(q) => format!("{path}?{q}"),
                None => path.to_owned(),
            };
            (request.method().as_str().to_owned(), target)
        }
        None => {
            let nginx = (text("x-original-method"), text("x-original-uri"));
            let traefik = (text("x-forwarded-method"), text("x-forwarded-uri"));
            let conflict =
                |a: Option<&str>, b: Option<&str>| matches!((a, b), (Some(x), Some(y)) if x != y);
            if conflict(nginx.0, traefik.0) || conflict(nginx.1, traefik.1) {
                return Err(MappingDenial {
                    code: policygate_api::GatewayDenialCode::MappingBadPath,
                    message: "X-Original-Method/X-Original-URI and X-Forwarded-Method/X-Forwarded-Uri disagree; the gateway must set one pair and drop the other from client requests".to_owned(),
                    fact: None,
                });
            }
            let method = nginx.0.or(traefik.0).unwrap_or(request.method().as_str());
            let target = nginx.1.or(traefik.1).unwrap_or("/");
            (method.to_owned(), target.to_owned())
        }
    };
    let mut out = GatewayRequest::new(&method, &target);
    for (name, value) in headers {
        if let Ok(v) = value.to_str() {
            out.header(name.as_str(), v);
        }
    }
    Ok(out)
}

/// The verdict as the HTTP answer: status, `x-policygate-*` headers, and the denial
/// body (JSON) when denied.
fn render(verdict: &Verdict) -> Response {
    let status = StatusCode::from_u16(verdict.status).unwrap_or(StatusCode::FORBIDDEN);
    let mut headers = HeaderMap::new();
    for (name, value) in &verdict.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.append(HeaderName::from_static(name), v);
        }
    }
    if verdict.allowed {
        return (status, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (status, headers, verdict.body_bytes()).into_response()
}

async fn handle(state: &AppState, started: Instant, request: Request) -> Response {
    let inner = &state.inner;
    let deadline = tokio::time::Instant::from_std(started) + inner.config.request_timeout;
    let tokens = inner.auth.as_ref().map(arc_swap::ArcSwap::load_full);
    let mut ctx = Ctx::new(&request);
    ctx.started = started;
    if let Some(tokens) = &tokens {
        match tokens.authenticate(request.headers()) {
            Some(name) => ctx.caller = Some(name),
            None => return refuse(state, ctx, ApiError::unauthorized()).await,
        }
    }
    // The policy (and the mapping bound to it) active now decides, audits and answers.
    let active = inner.active.load_full();
    ctx.policy = Some(Arc::clone(&active.policy));
    let Some(mapping) = active.mapping.clone() else {
        let err = ApiError::new(
            ErrorCode::Unavailable,
            "the gateway mapping does not fit the active policy (see the service's logs)",
        );
        return refuse(state, ctx, err).await;
    };
    let gateway = gateway_request(&request);
    drop(request);
    let correlation_id = gateway
        .as_ref()
        .ok()
        .and_then(GatewayRequest::request_id)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let mut evaluate = match gateway.and_then(|g| mapping.apply(&g)) {
        Ok(r) => r,
        Err(denial) => return deny(state, &ctx, &mapping, &denial, &correlation_id).await,
    };
    evaluate.caller = ctx.caller.map(str::to_owned);
    ctx.action = Some(evaluate.action.as_str().to_owned());
    ctx.resource_type = Some(evaluate.resource.kind.clone());

    let policy = &*active.policy;
    let decided = match decide::decide(state, policy, &evaluate) {
        Ok(decided) => decided,
        Err(Undecided::Invalid(problems)) => {
            let denial = MappingDenial::invalid_request(&problems);
            return deny(state, &ctx, &mapping, &denial, &correlation_id).await;
        }
        Err(Undecided::Panicked) => {
            tracing::error!(correlation_id = %crate::logsafe::Escaped(&correlation_id), "the policy engine panicked");
            let err = ApiError::internal().with_correlation_id(correlation_id);
            return refuse(state, ctx, err).await;
        }
    };
    let verdict = mapping.verdict(&decided.decision, &correlation_id, policy.identity());
    if let Err(unavailable) = decide::commit(
        state,
        &ctx,
        &active,
        &decided,
        &correlation_id,
        deadline,
        Recorded::Decision,
    )
    .await
    {
        return unavailable;
    }
    render(&verdict)
}

/// A request the mapping could not turn into a decidable one, answered with the denial
/// verdict.
async fn deny(
    state: &AppState,
    ctx: &Ctx<'_>,
    mapping: &policygate_core::gateway::Mapping,
    denial: &MappingDenial,
    correlation_id: &str,
) -> Response {
    render(&record_mapping_denial(state, ctx, mapping, denial, correlation_id).await)
}

/// The one rule for a gateway request the mapping could not turn into a decidable one
/// (`/authz` and the ext_authz Check): audited as a refusal (`invalid_request`, the
/// verdict's status, the denial code upper-cased as its rationale code), counted; the
/// denial verdict to render.
pub(crate) async fn record_mapping_denial(
    state: &AppState,
    ctx: &Ctx<'_>,
    mapping: &policygate_core::gateway::Mapping,
    denial: &MappingDenial,
    correlation_id: &str,
) -> Verdict {
    let verdict = mapping.denial_verdict(denial, correlation_id);
    let reason = [denial.code.as_str().to_ascii_uppercase()];
    let mut evaluation = AuditEvaluationRef::refused(
        ctx.action.as_deref(),
        ctx.resource_type.as_deref(),
        ErrorCode::InvalidRequest,
    );
    evaluation.http_status = Some(verdict.status);
    evaluation.rationale_codes = &reason;
    record_refusal(state, ctx, correlation_id, evaluation).await;
    state.inner.metrics.rejected(ErrorCode::InvalidRequest);
    verdict
}
