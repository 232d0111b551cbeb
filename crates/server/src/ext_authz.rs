//! Envoy's external authorization over gRPC: `envoy.service.auth.v3.Authorization/Check`
//! on its own listener (`--ext-authz-listen`), beside the HTTP service and stopped with it.
//!
//! A Check goes through exactly what `/authz` does, so a gateway gets the same answer
//! whichever protocol it speaks: the gateway-neutral request is built from
//! `CheckRequest.attributes` ([`gateway_request`]: `request.http`'s method, path (with
//! its query), headers (pseudo-headers such as `:authority` included, as Envoy sends
//! them), the `host`, `context_extensions`, and `metadata_context.filter_metadata` as
//! JSON), turned into an EvaluateRequest by the gateway mapping bound to the active
//! policy (`core::gateway::Mapping::apply`), decided and audited by the shared pipeline
//! (`routes/decide`: one audit event per Check, `x-request-id` as its `request_id` when
//! the contract accepts it), and translated by the one verdict translation
//! (`Mapping::verdict` / `Mapping::denial_verdict`) into a `CheckResponse`:
//!
//! - ALLOW, DEGRADE: `ok_response`, status OK, with the verdict's `x-policygate-*`
//!   headers set on the upstream request (overwriting any the client sent, and removing
//!   every other `x-policygate-*` header, so a client cannot forge an obligation), the
//!   correlation id also on the response to the client, and the whole decision (the
//!   EvaluateResponse) in `dynamic_metadata`;
//! - BLOCK, REQUIRE_REVIEW (the mapping's review status, default 403), a request the
//!   mapping cannot turn into a valid EvaluateRequest (its denial code, e.g.
//!   `mapping_no_action`, or 401 `mapping_unauthenticated`): `denied_response`, status
//!   PERMISSION_DENIED (UNAUTHENTICATED for a 401), with the verdict's status, headers
//!   and JSON denial body;
//! - a failure of the PDP itself (the audit event cannot be written, the mapping does
//!   not fit the active policy, an engine fault): `error_response` (503 or 500 with the
//!   contract's error body), status UNAVAILABLE or INTERNAL. Envoy counts it as an
//!   ext_authz error and applies `failure_mode_allow` (keep it false); it is never an
//!   allow.
//!
//! The port has no authentication of its own (bearer tokens are for the HTTP API):
//! like Envoy's own documentation advises for ext_authz services, it must be reachable
//! only by the gateway (bind it to loopback or a pod-local address, or restrict it with
//! a network policy); mTLS can be added later.

mod coalesce;
mod metadata;
mod service;
mod wire;

use crate::error::ApiError;
use crate::routes::decide::{self, Recorded, Undecided};
use crate::routes::{Ctx, record_refusal};
use crate::state::AppState;
use envoy_types::ext_authz::v3::pb::{
    CheckRequest, CheckResponse, DeniedHttpResponse, HeaderAppendAction, HeaderValue,
    HeaderValueOption, HttpResponse, HttpStatus,
};
use envoy_types::pb::google::protobuf::{Struct, Value as PbValue, value};
use envoy_types::pb::google::rpc;
use policygate_api::{
    AuditEvaluationRef, ErrorCode, EvaluateResponseRef, HEADER_CORRELATION_ID, HEADER_DECISION,
    HEADER_DENIAL, HEADER_MATCHED_RULE, HEADER_MAX_BYTES, HEADER_MAX_ITEMS, HEADER_MAX_TOKENS,
    HEADER_RATIONALE_CODES, HEADER_REVIEW_REASON, TraceParent,
};
use policygate_core::gateway::{GatewayRequest, Mapping, MappingDenial, Verdict};
use serde_json::{Map, Number, Value};
use service::{Allowed, AuthorizationService, CheckAnswer};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Every `x-policygate-*` header a verdict can carry: those it does not set are
/// removed from the upstream request of an allowed Check.
const VERDICT_HEADERS: [&str; 9] = [
    HEADER_DECISION,
    HEADER_CORRELATION_ID,
    HEADER_RATIONALE_CODES,
    HEADER_MATCHED_RULE,
    HEADER_MAX_TOKENS,
    HEADER_MAX_ITEMS,
    HEADER_MAX_BYTES,
    HEADER_REVIEW_REASON,
    HEADER_DENIAL,
];

/// The gRPC status codes a CheckResponse carries (`google.rpc.Code`).
const RPC_PERMISSION_DENIED: i32 = 7;
const RPC_UNAUTHENTICATED: i32 = 16;
const RPC_UNAVAILABLE: i32 = 14;
const RPC_INTERNAL: i32 = 13;

/// The `Authorization` service's state (served by `service::AuthorizationService`).
#[derive(Debug, Clone)]
struct ExtAuthz {
    state: AppState,
}

/// Serves the ext_authz gRPC service on `listener` until `shutdown` completes, then
/// stops accepting and lets in-flight Checks finish, at most `grace`.
pub async fn serve_ext_authz(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let incoming = tokio_stream::StreamExt::map(
        tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        |accepted| accepted.map(coalesce::Coalescing),
    );
    let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .add_service(AuthorizationService::new(ExtAuthz { state }))
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.await;
            let _ = fired_tx.send(());
        });
    tokio::select! {
        result = server => result.map_err(std::io::Error::other),
        () = async {
            if fired_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            tracing::warn!(grace_ms = grace.as_millis(), "in-flight ext_authz Checks did not finish within the shutdown grace period; closing their connections");
            Ok(())
        }
    }
}

/// The gateway-neutral request Envoy describes in `attributes`, built from the decoded
/// CheckRequest by moving its strings rather than copying them.
pub(crate) fn gateway_request(check: CheckRequest) -> GatewayRequest {
    let Some(mut attributes) = check.attributes else {
        return GatewayRequest::default();
    };
    let Some(http) = attributes.request.take().and_then(|r| r.http) else {
        return GatewayRequest::default();
    };
    // `path` is the request target: the path with its query (Envoy leaves `query` empty).
    let mut out = if http.query.is_empty() || http.path.contains('?') {
        GatewayRequest::new(&http.method, &http.path)
    } else {
        GatewayRequest::new(&http.method, &format!("{}?{}", http.path, http.query))
    };
    // Names that are unique once lower-cased (Envoy sends them lower-cased, in a map)
    // need no order; otherwise they are sorted, so that repeated names (in
    // `header_map`, or differing only in case) join in a fixed order.
    let unique = http.header_map.is_none()
        && http
            .headers
            .keys()
            .all(|name| !name.bytes().any(|b| b.is_ascii_uppercase()));
    if unique {
        for (name, value) in http.headers {
            out.header_owned(name, value);
        }
        return finish_gateway_request(out, http.host, attributes);
    }
    let mut headers: Vec<(String, String)> = http.headers.into_iter().collect();
    if let Some(map) = http.header_map {
        // Envoy sends `header_map` instead of `headers` with `encode_raw_headers`.
        for h in map.headers {
            let value = if h.raw_value.is_empty() {
                h.value
            } else {
                String::from_utf8_lossy(&h.raw_value).into_owned()
            };
            headers.push((h.key, value));
        }
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in headers {
        out.header_owned(name, value);
    }
    finish_gateway_request(out, http.host, attributes)
}

/// The rest of [`gateway_request`], once the headers are in: `http.host` (unless a
/// `host` header came), `context_extensions` and the metadata.
fn finish_gateway_request(
    mut out: GatewayRequest,
    host: String,
    attributes: envoy_types::pb::envoy::service::auth::v3::AttributeContext,
) -> GatewayRequest {
    if !host.is_empty() && !out.headers.contains_key("host") {
        out.header_owned("host".to_owned(), host);
    }
    out.context_extensions = attributes.context_extensions.into_iter().collect();
    if let Some(meta) = attributes.metadata_context {
        out.metadata = meta
            .filter_metadata
            .into_iter()
            .map(|(filter, s)| (filter, struct_to_json(&s)))
            .collect();
    }
    out
}

/// A protobuf `Struct` as JSON (numbers that are whole and fit an `i64` as integers, so
/// that integer facts read them exactly).
fn struct_to_json(s: &Struct) -> Value {
    let mut fields: Vec<(&String, &PbValue)> = s.fields.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect::<Map<String, Value>>(),
    )
}

fn value_to_json(v: &PbValue) -> Value {
    match &v.kind {
        None | Some(value::Kind::NullValue(_)) => Value::Null,
        Some(value::Kind::BoolValue(b)) => Value::Bool(*b),
        Some(value::Kind::StringValue(s)) => Value::String(s.clone()),
        Some(value::Kind::NumberValue(n)) => number(*n),
        Some(value::Kind::StructValue(s)) => struct_to_json(s),
        Some(value::Kind::ListValue(l)) => {
            Value::Array(l.values.iter().map(value_to_json).collect())
        }
    }
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "only a whole number within ±2^53 is turned into an integer, which is exact"
)]
fn number(n: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if n.fract() == 0.0 && n.abs() <= EXACT {
        return Value::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// Decides one Check; every path writes exactly one audit event.
pub(crate) async fn check(state: &AppState, request: CheckRequest) -> CheckAnswer {
    let inner = &state.inner;
    let started = Instant::now();
    let _in_flight = inner.metrics.in_flight();
    let deadline = tokio::time::Instant::from_std(started) + inner.config.request_timeout;
    let gateway = gateway_request(request);
    let mut ctx = Ctx {
        started,
        trace: gateway
            .headers
            .get("traceparent")
            .and_then(|t| TraceParent::parse(t)),
        caller: None,
        action: None,
        resource_type: None,
        policy: None,
    };
    let correlation_id = gateway
        .request_id()
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let response = decide_check(state, &mut ctx, &gateway, &correlation_id, deadline).await;
    inner
        .metrics
        .gateway_check_duration(crate::metrics::GatewayProtocol::Grpc, started.elapsed());
    response
}

async fn decide_check(
    state: &AppState,
    ctx: &mut Ctx<'_>,
    gateway: &GatewayRequest,
    correlation_id: &str,
    deadline: tokio::time::Instant,
) -> CheckAnswer {
    let inner = &state.inner;
    // The policy (and the mapping bound to it) active now decides, audits and answers.
    let active = inner.active.load_full();
    ctx.policy = Some(Arc::clone(&active.policy));
    let Some(mapping) = active.mapping.clone() else {
        let err = ApiError::new(
            ErrorCode::Unavailable,
            "the gateway mapping does not fit the active policy, or none was given (--gateway-mapping); see the service's logs",
        );
        return failed(state, ctx, err, correlation_id).await;
    };
    let mut evaluate = match mapping.apply(gateway) {
        Ok(r) => r,
        Err(denial) => return denied(state, ctx, &mapping, &denial, correlation_id).await,
    };
    ctx.action = Some(evaluate.action.as_str().to_owned());
    ctx.resource_type = Some(evaluate.resource.kind.clone());
    evaluate.caller = None;
    let policy = &*active.policy;
    let decided = match decide::decide(state, policy, &evaluate) {
        Ok(decided) => decided,
        Err(Undecided::Invalid(problems)) => {
            let denial = MappingDenial::invalid_request(&problems);
            return denied(state, ctx, &mapping, &denial, correlation_id).await;
        }
        Err(Undecided::Panicked) => {
            tracing::error!(correlation_id = %crate::logsafe::Escaped(correlation_id), "the policy engine panicked");
            return failed(state, ctx, ApiError::internal(), correlation_id).await;
        }
    };
    let verdict = mapping.verdict(&decided.decision, correlation_id, policy.identity());
    let decision = &decided.decision;
    // Written before the audit event is committed, while the decision (borrowed from
    // the policy) is at hand; sent only once the event is written.
    let answer = render(
        &verdict,
        Some(&EvaluateResponseRef {
            correlation_id,
            decision: decision.decision,
            rationale_codes: decision.rationale_codes,
            obligations: decision.obligations,
            policy: policy.identity(),
            matched_rule_id: decision.matched_rule_id,
        }),
    );
    let mut pending = decide::prepare(
        state,
        ctx,
        &active,
        &decided,
        correlation_id,
        Recorded::Decision,
    );
    if let Err(unavailable) = decide::commit_all(
        state,
        std::slice::from_mut(&mut pending),
        correlation_id,
        deadline,
    )
    .await
    {
        return error_response(&unavailable).into();
    }
    answer
}

/// A request the mapping could not turn into a decidable one: audited and counted as
/// `/authz` does (`routes::record_mapping_denial`), denied with the denial verdict.
async fn denied(
    state: &AppState,
    ctx: &Ctx<'_>,
    mapping: &Mapping,
    denial: &MappingDenial,
    correlation_id: &str,
) -> CheckAnswer {
    let verdict =
        crate::routes::record_mapping_denial(state, ctx, mapping, denial, correlation_id).await;
    render(&verdict, None)
}

/// A failure of the PDP: audited as a refusal with its code, answered `error_response`.
async fn failed(
    state: &AppState,
    ctx: &Ctx<'_>,
    err: ApiError,
    correlation_id: &str,
) -> CheckAnswer {
    let err = err.with_correlation_id(correlation_id.to_owned());
    let evaluation = AuditEvaluationRef::refused(
        ctx.action.as_deref(),
        ctx.resource_type.as_deref(),
        err.code,
    );
    record_refusal(state, ctx, correlation_id, evaluation).await;
    state.inner.metrics.rejected(err.code);
    error_response(&err).into()
}

fn header(name: &str, value: &str) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name.to_owned(),
            value: value.to_owned(),
            raw_value: Vec::new(),
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..HeaderValueOption::default()
    }
}

fn rpc_status(code: i32, message: &str) -> Option<rpc::Status> {
    Some(rpc::Status {
        code,
        message: message.to_owned(),
        details: Vec::new(),
    })
}

fn http_status(code: u16) -> Option<HttpStatus> {
    Some(HttpStatus {
        code: i32::from(code),
    })
}

/// The verdict as a CheckResponse: an allowed one with `decision` (the EvaluateResponse)
/// in `dynamic_metadata`, written in wire form (`CheckAnswer::allowed`); a denial as a
/// prost message.
fn render(verdict: &Verdict, decision: Option<&EvaluateResponseRef<'_>>) -> CheckAnswer {
    if verdict.allowed {
        let sets = |h: &str| verdict.headers.iter().any(|(name, _)| *name == h);
        let mut remove = [""; VERDICT_HEADERS.len()];
        let mut removed = 0;
        for h in VERDICT_HEADERS.into_iter().filter(|h| !sets(h)) {
            remove[removed] = h;
            removed += 1;
        }
        let to_client = verdict
            .headers
            .iter()
            .position(|(name, _)| *name == HEADER_CORRELATION_ID)
            .map_or(&[][..], |i| &verdict.headers[i..=i]);
        let (answer, error) = CheckAnswer::allowed(&Allowed {
            headers: &verdict.headers,
            remove: &remove[..removed],
            to_client,
            decision,
        });
        if let Some(e) = error {
            tracing::error!(error = %e, "the decision has no dynamic_metadata form");
        }
        return answer;
    }
    let headers: Vec<HeaderValueOption> = verdict
        .headers
        .iter()
        .map(|(name, value)| header(name, value))
        .collect();
    let code = if verdict.status == 401 {
        RPC_UNAUTHENTICATED
    } else {
        RPC_PERMISSION_DENIED
    };
    let body = verdict.body_bytes();
    let message = verdict
        .body
        .as_ref()
        .map_or_else(String::new, |b| b.error.message.clone());
    let mut headers = headers;
    headers.push(header("content-type", "application/json"));
    CheckResponse {
        status: rpc_status(code, &message),
        dynamic_metadata: None,
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: http_status(verdict.status),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })),
    }
    .into()
}

/// A PDP failure as `error_response`: the contract's error body with its status.
fn error_response(err: &ApiError) -> CheckResponse {
    let code = if err.code == ErrorCode::Internal {
        RPC_INTERNAL
    } else {
        RPC_UNAVAILABLE
    };
    CheckResponse {
        status: rpc_status(code, &err.message),
        dynamic_metadata: None,
        http_response: Some(HttpResponse::ErrorResponse(DeniedHttpResponse {
            status: http_status(err.code.http_status()),
            headers: vec![header("content-type", "application/json")],
            body: String::from_utf8_lossy(&err.body_bytes()).into_owned(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::core::v3::Metadata;
    use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
    use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
    use std::collections::HashMap;

    #[test]
    fn the_gateway_request_is_what_envoy_describes() {
        let mut headers = HashMap::new();
        for (k, v) in [
            (":authority", "api.example.com"),
            (":method", "POST"),
            (":path", "/v1/models/m1/infer?tier=gold"),
            ("x-request-id", "req-1"),
        ] {
            headers.insert(k.to_owned(), v.to_owned());
        }
        let mut meta = Struct::default();
        meta.fields.insert(
            "risk".to_owned(),
            PbValue {
                kind: Some(value::Kind::NumberValue(3.0)),
            },
        );
        meta.fields.insert(
            "score".to_owned(),
            PbValue {
                kind: Some(value::Kind::NumberValue(0.5)),
            },
        );
        let check = CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(Request {
                    http: Some(HttpRequest {
                        method: "POST".to_owned(),
                        path: "/v1/models/m1/infer?tier=gold".to_owned(),
                        host: "api.example.com".to_owned(),
                        headers,
                        ..HttpRequest::default()
                    }),
                    ..Request::default()
                }),
                context_extensions: [("env".to_owned(), "prod".to_owned())].into(),
                metadata_context: Some(Metadata {
                    filter_metadata: [("envoy.filters.http.jwt_authn".to_owned(), meta)].into(),
                    ..Metadata::default()
                }),
                ..AttributeContext::default()
            }),
        };
        let g = gateway_request(check);
        assert_eq!(g.method, "POST");
        assert_eq!(g.path, "/v1/models/m1/infer");
        assert_eq!(g.query, "tier=gold");
        assert_eq!(g.headers[":authority"], "api.example.com");
        assert_eq!(g.headers["host"], "api.example.com");
        assert_eq!(g.context_extensions["env"], "prod");
        assert_eq!(
            g.metadata["envoy.filters.http.jwt_authn"],
            serde_json::json!({"risk": 3, "score": 0.5})
        );
        assert_eq!(g.request_id(), Some("req-1"));
        assert_eq!(
            gateway_request(CheckRequest::default()),
            GatewayRequest::default()
        );
    }

    #[test]
    fn raw_headers_are_lower_cased_and_repeats_joined_in_name_order() {
        use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue as PbHeader};
        let raw = |key: &str, value: &str, raw: &[u8]| PbHeader {
            key: key.to_owned(),
            value: value.to_owned(),
            raw_value: raw.to_vec(),
        };
        let check = CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(Request {
                    http: Some(HttpRequest {
                        method: "GET".to_owned(),
                        path: "/v1/models".to_owned(),
                        query: "tier=gold".to_owned(),
                        host: "api.example.com".to_owned(),
                        headers: [("X-Tenant".to_owned(), "acme".to_owned())].into(),
                        header_map: Some(HeaderMap {
                            headers: vec![
                                raw("x-tag", "", b"b"),
                                raw("X-Tag", "a", b""),
                                raw("host", "", b"gw.internal"),
                                raw("x-bytes", "", b"caf\xff"),
                            ],
                        }),
                        ..HttpRequest::default()
                    }),
                    ..Request::default()
                }),
                ..AttributeContext::default()
            }),
        };
        let g = gateway_request(check);
        assert_eq!(g.query, "tier=gold");
        assert_eq!(g.headers["x-tenant"], "acme");
        // "X-Tag" sorts before "x-tag": its value comes first.
        assert_eq!(g.headers["x-tag"], "a,b");
        assert_eq!(g.headers["x-bytes"], "caf\u{fffd}");
        // A `host` header wins over `http.host`.
        assert_eq!(g.headers["host"], "gw.internal");
        let mut by_ref = GatewayRequest::new("GET", "/v1/models?tier=gold");
        for (name, value) in [("X-Tenant", "acme"), ("X-Tag", "a"), ("x-tag", "b")] {
            by_ref.header(name, value);
        }
        let mut owned = GatewayRequest::new("GET", "/v1/models?tier=gold");
        for (name, value) in [("X-Tenant", "acme"), ("X-Tag", "a"), ("x-tag", "b")] {
            owned.header_owned(name.to_owned(), value.to_owned());
        }
        assert_eq!(owned, by_ref);
    }

    #[test]
    fn lower_case_headers_and_mixed_case_ones_give_the_same_request() {
        let check = |headers: &[(&str, &str)], host: &str| CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(Request {
                    http: Some(HttpRequest {
                        method: "POST".to_owned(),
                        path: "/v1/chat/completions".to_owned(),
                        host: host.to_owned(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                            .collect(),
                        ..HttpRequest::default()
                    }),
                    ..Request::default()
                }),
                context_extensions: [("env".to_owned(), "prod".to_owned())].into(),
                ..AttributeContext::default()
            }),
        };
        // As Envoy sends them (unique, lower-case): no sorting needed.
        let lower = gateway_request(check(
            &[
                (":path", "/v1/chat/completions"),
                ("x-user-id", "alice"),
                ("x-request-id", "r-1"),
            ],
            "gw.internal",
        ));
        // The same names in mixed case take the sorting path: the same request.
        let mixed = gateway_request(check(
            &[
                (":path", "/v1/chat/completions"),
                ("X-User-Id", "alice"),
                ("X-Request-ID", "r-1"),
            ],
            "gw.internal",
        ));
        assert_eq!(lower, mixed);
        assert_eq!(lower.headers["x-user-id"], "alice");
        assert_eq!(lower.headers["host"], "gw.internal");
        assert_eq!(lower.context_extensions["env"], "prod");
        assert_eq!(lower.request_id(), Some("r-1"));
        // Names equal once lower-cased still join, in name order ("X-Tag" < "x-tag").
        let joined = gateway_request(check(&[("x-tag", "b"), ("X-Tag", "a")], ""));
        assert_eq!(joined.headers["x-tag"], "a,b");
        assert!(!joined.headers.contains_key("host"));
    }

    #[test]
    fn protobuf_struct_numbers_read_back_as_json() {
        let s = Struct {
            fields: [
                ("whole".to_owned(), pb_number(-7.0)),
                ("fraction".to_owned(), pb_number(2.5)),
                ("big".to_owned(), pb_number(1e300)),
                ("limit".to_owned(), pb_number(9_007_199_254_740_992.0)),
            ]
            .into(),
        };
        assert_eq!(
            struct_to_json(&s),
            serde_json::json!({"whole": -7, "fraction": 2.5, "big": 1e300, "limit": 9_007_199_254_740_992_i64})
        );
    }

    fn pb_number(n: f64) -> PbValue {
        PbValue {
            kind: Some(value::Kind::NumberValue(n)),
        }
    }
}
