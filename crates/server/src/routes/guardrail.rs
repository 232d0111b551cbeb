//! `POST /beta/litellm_basic_guardrail_api`: LiteLLM's Generic Guardrail API, answered
//! by the policy, so that a LiteLLM proxy can use PolicyGate with configuration only.
//!
//! LiteLLM posts `{texts, input_type, model, request_data: {user_api_key_*},
//! litellm_call_id, additional_provider_specific_params, …}` and expects
//! `{action: NONE | BLOCKED | GUARDRAIL_INTERVENED, blocked_reason?}`. This module maps
//! the call to facts by one documented, fixed mapping ([`facts`]), checks them with the
//! same contract walk as `/evaluate` (`EvaluateRequest::from_value`), evaluates them, and
//! writes exactly one audit event per call, as `/evaluate` does. ALLOW answers `NONE`;
//! BLOCK and REQUIRE_REVIEW answer `BLOCKED` with the rationale codes in
//! `blocked_reason`; DEGRADE also answers `BLOCKED`, because this API cannot lower
//! `max_tokens` and an obligation that cannot be honoured must not be ignored (the
//! `policygate.litellm` Python guardrail enforces it). Bad input gets the contract's
//! error body (400/401/413/422), which LiteLLM treats as a failed guardrail and so
//! blocks the call. It must not answer `NONE` for anything but an ALLOW.

use super::decide::{self, Recorded, Undecided};
use super::{Ctx, refuse};
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use policygate_api::{
    DecisionKind, ErrorCode, EvaluateRequest, LiteLlmAction, LiteLlmGuardrailAnswer,
    LiteLlmGuardrailCall, MAX_REQUEST_ID_CHARS, Problem,
};
use serde_json::{Value, json};
use std::time::Instant;

/// The path LiteLLM appends to the configured `api_base`.
pub(crate) const PATH: &str = "/beta/litellm_basic_guardrail_api";

/// The params of `additional_provider_specific_params` this mapping reads.
const PARAMS: [&str; 3] = ["env", "sensitivity", "resource_type"];

/// The facts for one call (the fixed mapping documented in `docs/litellm.md`):
///
/// - `action`: `infer:run`;
/// - `env.name`: param `env`, else the server's `--environment`, else `prod`;
/// - `resource`: `{type: param resource_type or "model", id: model, sensitivity: param
///   sensitivity or "restricted"}`;
/// - `subject`: the key's user (`user`), else its team (`team`), when LiteLLM sent one;
/// - `signals.prompt_tokens`: for `input_type` `request`, the characters of `texts` / 4,
///   rounded up (an estimate);
/// - `request_id`: `litellm_call_id`, when it fits the contract.
///
/// An unknown param is an error: a misspelt `sensitivity` must not silently decide.
fn facts(call: &LiteLlmGuardrailCall, environment: Option<&str>) -> Result<Value, Problem> {
    let params = call
        .additional_provider_specific_params
        .clone()
        .unwrap_or_default();
    if let Some(unknown) = params.keys().find(|k| !PARAMS.contains(&k.as_str())) {
        return Err(Problem::new(
            format!("/additional_provider_specific_params/{unknown}"),
            format!(
                "unknown param `{unknown}`; PolicyGate reads only {}",
                PARAMS.join(", ")
            ),
        ));
    }
    let text_param = |name: &str, default: &str| match params.get(name) {
        None | Some(Value::Null) => Ok(Value::String(default.to_owned())),
        Some(v @ Value::String(_)) => Ok(v.clone()),
        Some(_) => Err(Problem::new(
            format!("/additional_provider_specific_params/{name}"),
            format!("`{name}` must be a string"),
        )),
    };
    let env = text_param("env", environment.unwrap_or("prod"))?;
    let sensitivity = text_param("sensitivity", "restricted")?;
    let resource_type = text_param("resource_type", "model")?;
    let mut resource = json!({"type": resource_type, "sensitivity": sensitivity});
    if let Some(model) = call.model.as_deref().filter(|m| !m.is_empty()) {
        resource["id"] = Value::String(model.to_owned());
    }
    let mut request = json!({"action": "infer:run", "env": {"name": env}, "resource": resource});
    let data = call.request_data.as_ref();
    let user = data.and_then(|d| d.user_api_key_user_id.as_deref());
    let team = data.and_then(|d| d.user_api_key_team_id.as_deref());
    if let Some(id) = user.filter(|u| !u.is_empty()) {
        request["subject"] = json!({"type": "user", "id": id});
    } else if let Some(id) = team.filter(|t| !t.is_empty()) {
        request["subject"] = json!({"type": "team", "id": id});
    }
    if call.input_type.as_deref().unwrap_or("request") == "request" {
        let chars: usize = call.texts.iter().flatten().map(|t| t.chars().count()).sum();
        request["signals"] = json!({"prompt_tokens": chars.div_ceil(4)});
    }
    if let Some(id) = call
        .litellm_call_id
        .as_deref()
        .filter(|id| (1..=MAX_REQUEST_ID_CHARS).contains(&id.chars().count()))
    {
        request["request_id"] = Value::String(id.to_owned());
    }
    Ok(request)
}

/// What LiteLLM is told for a decision.
fn answer(
    decision: DecisionKind,
    rationale_codes: &[String],
    correlation_id: &str,
) -> LiteLlmGuardrailAnswer {
    let codes = rationale_codes.join(", ");
    let blocked = |why: String| LiteLlmGuardrailAnswer {
        action: LiteLlmAction::Blocked,
        blocked_reason: Some(why),
    };
    match decision {
        DecisionKind::Allow => LiteLlmGuardrailAnswer {
            action: LiteLlmAction::None,
            blocked_reason: None,
        },
        DecisionKind::Block | DecisionKind::RequireReview => blocked(format!(
            "PolicyGate: {decision} ({codes}); correlation_id {correlation_id}"
        )),
        DecisionKind::Degrade => blocked(format!(
            "PolicyGate: DEGRADE ({codes}) needs obligations the Generic Guardrail API cannot apply; \
             use the policygate.litellm guardrail to enforce them; correlation_id {correlation_id}"
        )),
    }
}

/// The `Authorization: Bearer` header, or LiteLLM's `x-api-key` (what its `api_key`
/// setting sends) as one.
fn bearer_headers(headers: &HeaderMap) -> HeaderMap {
    if headers.contains_key(header::AUTHORIZATION) {
        return headers.clone();
    }
    let mut out = HeaderMap::new();
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok())
        && let Ok(value) = HeaderValue::from_str(&format!("Bearer {key}"))
    {
        out.insert(header::AUTHORIZATION, value);
    }
    out
}

/// `POST /beta/litellm_basic_guardrail_api`.
pub(crate) async fn guardrail(State(state): State<AppState>, request: Request) -> Response {
    let inner = &state.inner;
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started) + inner.config.request_timeout;
    // The tokens in force now (a SIGHUP may swap them); the caller's name borrows them.
    let tokens = inner.auth.as_ref().map(arc_swap::ArcSwap::load_full);
    // The connection's verified client certificate (mTLS), if any.
    let certificate = request
        .extensions()
        .get::<crate::conn::Peer>()
        .and_then(|peer| peer.identity.clone());
    let mut ctx = Ctx::new(&request);
    let (parts, body) = request.into_parts();
    let headers = bearer_headers(&parts.headers);
    match crate::auth::caller(tokens.as_deref(), certificate.as_deref(), &headers) {
        Ok(caller) => ctx.caller = caller,
        Err(_) => return refuse(&state, ctx, ApiError::unauthorized()).await,
    }
    let bytes = match decide::read_body(&state, &parts.headers, body, deadline).await {
        Ok(bytes) => bytes,
        Err(err) => return refuse(&state, ctx, err).await,
    };
    let call: LiteLlmGuardrailCall = match serde_json::from_slice(&bytes) {
        Ok(c) => c,
        Err(e) => {
            let err = ApiError::new(
                ErrorCode::InvalidJson,
                format!("the body is not a LiteLLM guardrail request: {e}"),
            );
            return refuse(&state, ctx, err).await;
        }
    };
    let invalid = |problems: Vec<Problem>| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "the facts mapped from the LiteLLM call break the request contract: {}; \
                 check the guardrail's additional_provider_specific_params",
                Problem::summary(&problems)
            ),
        )
        .with_details(problems)
    };
    let value = match facts(&call, inner.config.environment.as_deref()) {
        Ok(v) => v,
        Err(problem) => return refuse(&state, ctx, invalid(vec![problem])).await,
    };
    let mut request = match EvaluateRequest::from_value(&value) {
        Ok(r) => r,
        Err(policygate_api::RequestError::Invalid(problems)) => {
            return refuse(&state, ctx, invalid(problems)).await;
        }
        Err(e) => {
            let err = ApiError::new(ErrorCode::InvalidRequest, e.summary());
            return refuse(&state, ctx, err).await;
        }
    };
    ctx.action = Some(request.action.as_str().to_owned());
    ctx.resource_type = Some(request.resource.kind.clone());
    // `caller.id` is the authenticated caller, never anything the call says.
    request.caller = ctx.caller.map(str::to_owned);
    let correlation_id = request
        .request_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());

    // Decided, audited and answered with the policy active now (see `reload`).
    let active = inner.active.load_full();
    ctx.policy = Some(std::sync::Arc::clone(&active.policy));
    let policy = &*active.policy;
    let decided = match decide::decide(&state, policy, &request) {
        Ok(decided) => decided,
        Err(Undecided::Invalid(problems)) => {
            let err = invalid(problems).with_correlation_id(correlation_id);
            return refuse(&state, ctx, err).await;
        }
        Err(Undecided::Panicked) => {
            tracing::error!(correlation_id = %crate::logsafe::Escaped(&correlation_id), "the policy engine panicked");
            let err = ApiError::internal().with_correlation_id(correlation_id);
            return refuse(&state, ctx, err).await;
        }
    };
    let decision = &decided.decision;
    let body = match serde_json::to_vec(&answer(
        decision.decision,
        decision.rationale_codes,
        &correlation_id,
    )) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a guardrail answer");
            let err = ApiError::internal().with_correlation_id(correlation_id);
            return refuse(&state, ctx, err).await;
        }
    };
    if let Err(unavailable) = decide::commit(
        &state,
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
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        Body::from(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(v: Value) -> LiteLlmGuardrailCall {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_fixed_mapping() {
        let c = call(json!({
            "texts": ["hello", "there!"],
            "input_type": "request",
            "model": "gpt-x",
            "litellm_call_id": "call-1",
            "request_data": {"user_api_key_user_id": "alice", "user_api_key_team_id": "t"},
            "additional_provider_specific_params": {"sensitivity": "internal", "env": "prod-eu"},
            "litellm_version": "1.0",
        }));
        assert_eq!(
            facts(&c, Some("staging")).unwrap(),
            json!({
                "action": "infer:run",
                "env": {"name": "prod-eu"},
                "resource": {"type": "model", "sensitivity": "internal", "id": "gpt-x"},
                "subject": {"type": "user", "id": "alice"},
                "signals": {"prompt_tokens": 3},
                "request_id": "call-1",
            })
        );
        let bare = facts(&call(json!({"input_type": "response"})), Some("staging")).unwrap();
        assert_eq!(
            bare,
            json!({
                "action": "infer:run",
                "env": {"name": "staging"},
                "resource": {"type": "model", "sensitivity": "restricted"},
            })
        );
        let team = facts(
            &call(json!({"request_data": {"user_api_key_team_id": "t1"}})),
            None,
        )
        .unwrap();
        assert_eq!(team["subject"], json!({"type": "team", "id": "t1"}));
        assert_eq!(team["env"]["name"], "prod");
    }

    #[test]
    fn unknown_or_mistyped_params_are_refused() {
        let e = facts(
            &call(json!({"additional_provider_specific_params": {"sensitivty": "public"}})),
            None,
        )
        .unwrap_err();
        assert_eq!(e.path, "/additional_provider_specific_params/sensitivty");
        assert!(e.message.contains("reads only env, sensitivity"), "{e}");
        let e = facts(
            &call(json!({"additional_provider_specific_params": {"env": 3}})),
            None,
        )
        .unwrap_err();
        assert_eq!(e.message, "`env` must be a string");
    }

    #[test]
    fn only_an_allow_passes() {
        let codes = ["C1".to_owned(), "C2".to_owned()];
        let a = answer(DecisionKind::Allow, &codes, "id");
        assert_eq!((a.action, a.blocked_reason), (LiteLlmAction::None, None));
        for d in [
            DecisionKind::Block,
            DecisionKind::RequireReview,
            DecisionKind::Degrade,
        ] {
            let a = answer(d, &codes, "id-9");
            assert_eq!(a.action, LiteLlmAction::Blocked);
            let reason = a.blocked_reason.unwrap();
            assert!(
                reason.contains("(C1, C2)") && reason.contains("id-9"),
                "{reason}"
            );
        }
    }

    #[test]
    fn x_api_key_counts_as_a_bearer_token() {
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("tok"));
        assert_eq!(bearer_headers(&h)[header::AUTHORIZATION], "Bearer tok");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer other"),
        );
        assert_eq!(bearer_headers(&h)[header::AUTHORIZATION], "Bearer other");
        assert!(bearer_headers(&HeaderMap::new()).is_empty());
    }
}
