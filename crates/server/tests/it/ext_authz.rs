//! The Envoy ext_authz gRPC service (`envoy.service.auth.v3.Authorization/Check`) over a
//! real socket. No Envoy binary is available from the package registries here, so the
//! test is a tonic client sending CheckRequests shaped as Envoy's ext_authz filter sends
//! them: the peers, `request.http` with the pseudo-headers (`:authority`, `:method`,
//! `:path`) among the headers, the path with its query, `host`, `scheme`, `protocol`,
//! the route's `context_extensions` and the JWT filter's `metadata_context`. Every
//! decision, mapping failures, a failing audit sink (`error_response`, never an allow),
//! and exactly one audit event per Check.

use crate::common::{Harness, assert_valid, load_schema, schemas};
use envoy_types::ext_authz::v3::pb::{
    CheckRequest, CheckResponse, HeaderValueOption, HttpResponse,
};
use envoy_types::pb::envoy::config::core::v3::{Address, Metadata, SocketAddress, address};
use envoy_types::pb::envoy::service::auth::v3::AttributeContext;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::google::protobuf::{Struct, Value as PbValue, value};
use policygate_server::{MappingSource, ServerConfig, serve_ext_authz};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A mapping for the server fixture policy that reads every part of a CheckRequest:
/// headers, a path capture, `context_extensions` and the JWT filter's metadata.
const MAPPING: &str = r#"
mapping_version: 1
policy_id: policygate-server-tests
review_status: 409
authenticated_by: { header: x-user }
facts:
  env.name: { context: env, default: prod }
  resource.type: document
  resource.sensitivity: { header: x-sensitivity, required: true }
  subject.type: service
  subject.id: { metadata: envoy.filters.http.jwt_authn, key: payload.sub }
  signals.pii_detected: { header: x-pii, default: false }
routes:
  - { name: infer, methods: [POST], path: /v1/infer, facts: { action: infer:run } }
  - name: tools
    methods: [POST]
    path: "/v1/tools/{tool}"
    facts: { action: tool:invoke, resource.id: { capture: tool } }
  - name: docs_write
    methods: [PUT]
    path: "/docs/{id}"
    facts: { action: data:write, resource.id: { capture: id } }
"#;

fn harness() -> Harness {
    Harness::with(
        ServerConfig {
            gateway_mapping: Some(MappingSource {
                name: "gateway-mapping.yaml".into(),
                bytes: MAPPING.as_bytes().into(),
            }),
            ..ServerConfig::default()
        },
        None,
    )
}

/// The service on a loopback port; dropping the sender stops it.
struct Grpc {
    client: AuthorizationClient<tonic::transport::Channel>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Grpc {
    async fn start(h: &Harness) -> Grpc {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve_ext_authz(
            listener,
            h.state.clone(),
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(5),
        ));
        let client = AuthorizationClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        Grpc {
            client,
            stop: Some(stop),
            task,
        }
    }

    async fn check(&mut self, request: CheckRequest) -> CheckResponse {
        self.client.check(request).await.unwrap().into_inner()
    }

    /// Graceful stop: the server returns once its connections are done.
    async fn stop(mut self) {
        drop(self.client);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap().unwrap();
    }
}

fn peer(ip: &str, port: u32) -> Option<Peer> {
    Some(Peer {
        address: Some(Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                address: ip.to_owned(),
                port_specifier: Some(
                    envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier::PortValue(port),
                ),
                ..SocketAddress::default()
            })),
        }),
        ..Peer::default()
    })
}

/// What Envoy's HTTP ext_authz filter sends for `method target` with `headers`.
fn envoy_check(method: &str, target: &str, headers: &[(&str, &str)]) -> CheckRequest {
    let mut all: HashMap<String, String> = HashMap::new();
    for (k, v) in [
        (":authority", "api.example.com"),
        (":method", method),
        (":path", target),
        (":scheme", "https"),
        ("user-agent", "curl/8.5.0"),
        ("x-forwarded-proto", "https"),
        ("x-user", "alice"),
    ] {
        all.insert(k.to_owned(), v.to_owned());
    }
    for (k, v) in headers {
        all.insert((*k).to_owned(), (*v).to_owned());
    }
    let mut payload = Struct::default();
    payload.fields.insert(
        "sub".to_owned(),
        PbValue {
            kind: Some(value::Kind::StringValue("svc-checkout".to_owned())),
        },
    );
    let mut jwt = Struct::default();
    jwt.fields.insert(
        "payload".to_owned(),
        PbValue {
            kind: Some(value::Kind::StructValue(payload)),
        },
    );
    CheckRequest {
        attributes: Some(AttributeContext {
            source: peer("10.0.0.7", 51234),
            destination: peer("10.0.0.1", 8443),
            request: Some(Request {
                http: Some(HttpRequest {
                    id: "1234567890".to_owned(),
                    method: method.to_owned(),
                    headers: all,
                    path: target.to_owned(),
                    host: "api.example.com".to_owned(),
                    scheme: "https".to_owned(),
                    protocol: "HTTP/1.1".to_owned(),
                    ..HttpRequest::default()
                }),
                ..Request::default()
            }),
            context_extensions: [("env".to_owned(), "prod".to_owned())].into(),
            metadata_context: Some(Metadata {
                filter_metadata: [("envoy.filters.http.jwt_authn".to_owned(), jwt)].into(),
                ..Metadata::default()
            }),
            ..AttributeContext::default()
        }),
    }
}

fn header<'a>(headers: &'a [HeaderValueOption], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .filter_map(|h| h.header.as_ref())
        .find(|h| h.key == name)
        .map(|h| h.value.as_str())
}

fn rpc_code(response: &CheckResponse) -> i32 {
    response.status.as_ref().unwrap().code
}

/// The decision in `dynamic_metadata`, as JSON.
fn metadata(response: &CheckResponse) -> Value {
    fn json(v: &PbValue) -> Value {
        match v.kind.as_ref().unwrap() {
            value::Kind::NullValue(_) => Value::Null,
            value::Kind::BoolValue(b) => Value::Bool(*b),
            value::Kind::NumberValue(n) => serde_json::json!(n),
            value::Kind::StringValue(s) => Value::String(s.clone()),
            value::Kind::ListValue(l) => Value::Array(l.values.iter().map(json).collect()),
            value::Kind::StructValue(s) => {
                Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), json(v))).collect())
            }
        }
    }
    let s = response.dynamic_metadata.as_ref().unwrap();
    Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), json(v))).collect())
}

fn denied(response: &CheckResponse) -> (u16, Vec<HeaderValueOption>, Value) {
    let Some(HttpResponse::DeniedResponse(d)) = &response.http_response else {
        panic!("not denied: {response:?}")
    };
    let status = u16::try_from(d.status.as_ref().unwrap().code).unwrap();
    (
        status,
        d.headers.clone(),
        serde_json::from_str(&d.body).unwrap(),
    )
}

#[tokio::test]
async fn every_decision_as_envoy_expects_it_with_one_audit_event_per_check() {
    let h = harness();
    let mut grpc = Grpc::start(&h).await;

    // ALLOW: ok_response, the headers upstream, a forged obligation header removed.
    let allow = grpc
        .check(envoy_check(
            "POST",
            "/v1/infer?stream=true",
            &[
                ("x-sensitivity", "public"),
                ("x-request-id", "envoy-allow"),
                ("x-policygate-max-tokens", "999999"),
            ],
        ))
        .await;
    assert_eq!(rpc_code(&allow), 0, "{allow:?}");
    let Some(HttpResponse::OkResponse(ok)) = &allow.http_response else {
        panic!("{allow:?}")
    };
    assert_eq!(header(&ok.headers, "x-policygate-decision"), Some("ALLOW"));
    assert_eq!(
        header(&ok.headers, "x-policygate-correlation-id"),
        Some("envoy-allow")
    );
    assert!(ok.headers.iter().all(|h| h.append_action == 2), "overwrite");
    assert!(
        ok.headers_to_remove
            .contains(&"x-policygate-max-tokens".to_owned())
    );
    assert_eq!(
        header(&ok.response_headers_to_add, "x-policygate-correlation-id"),
        Some("envoy-allow")
    );
    let decision = metadata(&allow);
    assert_eq!(decision["decision"], "ALLOW");
    assert_eq!(decision["correlation_id"], "envoy-allow");
    assert_eq!(decision["matched_rule_id"], "allow_public_infer");

    // DEGRADE: allowed, with the obligation as a header and in the metadata.
    let degrade = grpc
        .check(envoy_check(
            "POST",
            "/v1/infer",
            &[
                ("x-sensitivity", "restricted"),
                ("x-request-id", "envoy-degrade"),
            ],
        ))
        .await;
    assert_eq!(rpc_code(&degrade), 0);
    let Some(HttpResponse::OkResponse(ok)) = &degrade.http_response else {
        panic!("{degrade:?}")
    };
    assert_eq!(
        header(&ok.headers, "x-policygate-decision"),
        Some("DEGRADE")
    );
    assert_eq!(header(&ok.headers, "x-policygate-max-tokens"), Some("200"));
    assert!(
        !ok.headers_to_remove
            .contains(&"x-policygate-max-tokens".to_owned())
    );
    assert_eq!(
        metadata(&degrade)["obligations"][0]["params"]["max_tokens"],
        200.0
    );

    // BLOCK: denied 403 with the denial body and the rationale codes.
    let block = grpc
        .check(envoy_check(
            "POST",
            "/v1/tools/shell",
            &[("x-sensitivity", "public"), ("x-request-id", "envoy-block")],
        ))
        .await;
    assert_eq!(rpc_code(&block), 7, "PERMISSION_DENIED");
    let (status, headers, body) = denied(&block);
    assert_eq!(status, 403);
    assert_eq!(header(&headers, "x-policygate-decision"), Some("BLOCK"));
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_valid(&load_schema("gateway_denial.schema.json"), &body, "denial");
    assert_eq!(body["error"]["code"], "policy_block");
    assert_eq!(body["error"]["correlation_id"], "envoy-block");
    assert_eq!(
        body["error"]["rationale_codes"],
        serde_json::json!(["POLICY_DEFAULT_DENY"])
    );

    // REQUIRE_REVIEW: denied with the mapping's review status and a review reason.
    let review = grpc
        .check(envoy_check(
            "PUT",
            "/docs/d-7",
            &[
                ("x-sensitivity", "internal"),
                ("x-request-id", "envoy-review"),
            ],
        ))
        .await;
    assert_eq!(rpc_code(&review), 7);
    let (status, headers, body) = denied(&review);
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "policy_review");
    assert!(header(&headers, "x-policygate-review-reason").is_some());
    assert!(body["error"]["review_reason"].is_string());

    // The audit trail: one decision event per Check, with Envoy's x-request-id and
    // the facts the mapping read from the context extensions and metadata.
    let events = h.sink.events();
    assert_eq!(events.len(), 4);
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "envoy-allow",
            "envoy-degrade",
            "envoy-block",
            "envoy-review"
        ]
    );
    let decisions: Vec<&str> = events
        .iter()
        .map(|e| e["evaluation"]["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["ALLOW", "DEGRADE", "BLOCK", "REQUIRE_REVIEW"]);
    for e in &events {
        assert_valid(&schemas().audit, e, "audit event");
    }
    grpc.stop().await;
}

#[tokio::test]
async fn mapping_failures_are_documented_denials() {
    let h = harness();
    let mut grpc = Grpc::start(&h).await;
    // No route for the path: mapping_no_action.
    let (status, _, body) = denied(
        &grpc
            .check(envoy_check(
                "GET",
                "/nowhere",
                &[("x-sensitivity", "public")],
            ))
            .await,
    );
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "mapping_no_action");
    // A required header missing.
    let (status, _, body) = denied(&grpc.check(envoy_check("POST", "/v1/infer", &[])).await);
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "mapping_missing_value");
    // Not authenticated: 401, UNAUTHENTICATED.
    let mut anonymous = envoy_check("POST", "/v1/infer", &[("x-sensitivity", "public")]);
    let http = anonymous
        .attributes
        .as_mut()
        .and_then(|a| a.request.as_mut())
        .and_then(|r| r.http.as_mut())
        .unwrap();
    http.headers.remove("x-user");
    let response = grpc.check(anonymous).await;
    assert_eq!(rpc_code(&response), 16, "UNAUTHENTICATED");
    let (status, _, body) = denied(&response);
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "mapping_unauthenticated");
    // An empty CheckRequest (no attributes) is denied, never allowed.
    let (_, _, body) = denied(&grpc.check(CheckRequest::default()).await);
    assert!(
        body["error"]["code"]
            .as_str()
            .unwrap()
            .starts_with("mapping_")
    );

    let events = h.sink.events();
    assert_eq!(events.len(), 4, "one refusal event per Check");
    for e in &events {
        assert_valid(&schemas().audit, e, "audit event");
        assert_eq!(e["evaluation"]["decision"], Value::Null);
        assert_eq!(e["evaluation"]["error_code"], "invalid_request");
        assert!(
            e["evaluation"]["rationale_codes"][0]
                .as_str()
                .unwrap()
                .starts_with("MAPPING_")
        );
    }
    assert_eq!(events[2]["evaluation"]["http_status"], 401);
    grpc.stop().await;
}

#[tokio::test]
async fn a_failing_audit_sink_is_an_error_response_never_an_allow() {
    let h = harness();
    let mut grpc = Grpc::start(&h).await;
    h.sink.fail.store(true, Ordering::SeqCst);
    let response = grpc
        .check(envoy_check(
            "POST",
            "/v1/infer",
            &[("x-sensitivity", "public"), ("x-request-id", "sink-down")],
        ))
        .await;
    assert_eq!(rpc_code(&response), 14, "UNAVAILABLE");
    let Some(HttpResponse::ErrorResponse(err)) = &response.http_response else {
        panic!("not an error_response: {response:?}")
    };
    assert_eq!(err.status.as_ref().unwrap().code, 503);
    let body: Value = serde_json::from_str(&err.body).unwrap();
    assert_valid(&schemas().error, &body, "error body");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(body["error"]["correlation_id"], "sink-down");
    assert!(response.dynamic_metadata.is_none());
    assert!(h.sink.events().is_empty());
    grpc.stop().await;
}

#[tokio::test]
async fn without_a_mapping_every_check_is_an_error_response() {
    let h = Harness::new();
    let mut grpc = Grpc::start(&h).await;
    let response = grpc
        .check(envoy_check(
            "POST",
            "/v1/infer",
            &[("x-sensitivity", "public")],
        ))
        .await;
    assert!(
        matches!(response.http_response, Some(HttpResponse::ErrorResponse(_))),
        "{response:?}"
    );
    assert_eq!(rpc_code(&response), 14);
    assert_eq!(h.sink.events().len(), 1, "audited as a refusal");
    assert_eq!(
        h.sink.events()[0]["evaluation"]["error_code"],
        "unavailable"
    );
    grpc.stop().await;
}
