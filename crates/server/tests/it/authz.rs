//! `/authz`: HTTP forward-auth through the gateway mapping, as Envoy (path appended),
//! nginx (`X-Original-*`) and Traefik (`X-Forwarded-*`) call it; every decision, every
//! kind of denial, one audit event per call, and fail-closed answers.

use crate::common::{Harness, TOKEN_CHECKOUT, assert_valid, load_schema, tokens};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use policygate_server::{MappingSource, ServerConfig};
use serde_json::Value;

/// A mapping for the server fixture policy: the action from method and path, the
/// sensitivity and the PII flag from headers.
const MAPPING: &str = r#"
mapping_version: 1
policy_id: policygate-server-tests
review_status: 428
authenticated_by: { header: x-user }
facts:
  env.name: prod
  resource.type: document
  resource.sensitivity: { header: x-sensitivity, required: true }
  subject.id: { header: x-user }
  signals.pii_detected: { header: x-pii, default: false }
routes:
  - { name: infer, methods: [POST], path: /v1/infer, facts: { action: infer:run } }
  - name: docs_read
    methods: [GET]
    path: /docs/{id}
    facts: { action: data:read, resource.id: { capture: id } }
  - { name: docs_write, methods: [PUT], path: "/docs/{id}", facts: { action: data:write } }
"#;

fn config() -> ServerConfig {
    ServerConfig {
        gateway_mapping: Some(MappingSource {
            name: "gateway-mapping.yaml".into(),
            bytes: MAPPING.as_bytes().into(),
        }),
        ..ServerConfig::default()
    }
}

fn nginx(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut r = Request::get("/authz")
        .header("x-original-method", method)
        .header("x-original-uri", uri)
        .header("x-user", "alice");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::empty()).unwrap()
}

fn header<'a>(reply: &'a crate::common::Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn every_decision_through_nginx_style_headers() {
    let h = Harness::with(config(), None);
    let allow = h
        .call(nginx(
            "POST",
            "/v1/infer",
            &[("x-sensitivity", "public"), ("x-request-id", "gw-allow")],
        ))
        .await;
    assert_eq!(allow.status, StatusCode::OK);
    assert!(allow.body.is_empty());
    assert_eq!(header(&allow, "x-policygate-decision"), Some("ALLOW"));
    assert_eq!(
        header(&allow, "x-policygate-correlation-id"),
        Some("gw-allow")
    );
    assert_eq!(
        header(&allow, "x-policygate-matched-rule"),
        Some("allow_public_infer")
    );

    let degrade = h
        .call(nginx(
            "POST",
            "/v1/infer",
            &[("x-sensitivity", "restricted")],
        ))
        .await;
    assert_eq!(degrade.status, StatusCode::OK);
    assert_eq!(header(&degrade, "x-policygate-decision"), Some("DEGRADE"));
    assert_eq!(header(&degrade, "x-policygate-max-tokens"), Some("200"));

    let review = h
        .call(nginx("PUT", "/docs/d1", &[("x-sensitivity", "internal")]))
        .await;
    assert_eq!(review.status.as_u16(), 428);
    assert_eq!(
        header(&review, "x-policygate-decision"),
        Some("REQUIRE_REVIEW")
    );
    assert!(
        header(&review, "x-policygate-review-reason")
            .unwrap()
            .contains("WRITE_NEEDS_REVIEW")
    );
    let body = review.json();
    assert_eq!(body["error"]["code"], "policy_review");
    assert_eq!(body["error"]["decision"], "REQUIRE_REVIEW");

    let block = h
        .call(nginx(
            "GET",
            "/docs/d1",
            &[("x-sensitivity", "public"), ("x-pii", "true")],
        ))
        .await;
    assert_eq!(block.status, StatusCode::FORBIDDEN);
    let body = block.json();
    assert_eq!(body["error"]["code"], "policy_block");
    assert_eq!(
        body["error"]["rationale_codes"],
        serde_json::json!(["PII_READ_BLOCKED"])
    );
    assert_eq!(body["error"]["matched_rule_id"], "block_pii_read");
    assert_eq!(
        body["error"]["policy"]["policy_id"],
        "policygate-server-tests"
    );
    validate_denial(&body);

    let events = h.sink.events();
    assert_eq!(events.len(), 4, "one audit event per call: {events:?}");
    assert_eq!(events[0]["request_id"], "gw-allow");
    assert_eq!(
        events[0]["decision_context"]["resource"]["sensitivity"],
        "public"
    );
    let decisions: Vec<&Value> = events
        .iter()
        .map(|e| &e["evaluation"]["decision"])
        .collect();
    assert_eq!(decisions, ["ALLOW", "DEGRADE", "REQUIRE_REVIEW", "BLOCK"]);

    // Timed as gateway checks, not as /evaluate calls.
    let metrics = h
        .call(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("\npolicygate_gateway_check_duration_seconds_count{protocol=\"http\"} 4\n"),
        "{text}"
    );
    assert!(
        text.contains("\npolicygate_evaluate_duration_seconds_count 0\n"),
        "{text}"
    );
}

#[tokio::test]
async fn envoy_appends_the_path_and_traefik_sends_forwarded_headers() {
    let h = Harness::with(config(), None);
    let envoy = Request::post("/authz/v1/infer?stream=true")
        .header("x-user", "alice")
        .header("x-sensitivity", "public")
        .body(Body::empty())
        .unwrap();
    let reply = h.call(envoy).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    // Envoy keeps the original method: a GET of the same path matches no route.
    let envoy_get = Request::get("/authz/v1/infer")
        .header("x-user", "alice")
        .header("x-sensitivity", "public")
        .body(Body::empty())
        .unwrap();
    let reply = h.call(envoy_get).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["error"]["code"], "mapping_no_action");

    // The original path `/` appended: `/authz/`, which no route of the mapping maps.
    let root = Request::post("/authz/")
        .header("x-user", "alice")
        .header("x-sensitivity", "public")
        .body(Body::empty())
        .unwrap();
    let reply = h.call(root).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["error"]["code"], "mapping_no_action");

    let traefik = |method: &str, uri: &str| {
        Request::get("/authz")
            .header("x-forwarded-method", method)
            .header("x-forwarded-uri", uri)
            .header("x-forwarded-host", "gw.example")
            .header("x-user", "alice")
            .header("x-sensitivity", "public")
            .body(Body::empty())
            .unwrap()
    };
    let reply = h.call(traefik("POST", "/v1/infer")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(header(&reply, "x-policygate-decision"), Some("ALLOW"));
    // A read no rule allows: the policy's default blocks it.
    let reply = h.call(traefik("GET", "/docs/d7")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let body = reply.json();
    assert_eq!(body["error"]["code"], "policy_block");
    assert_eq!(
        body["error"]["rationale_codes"],
        serde_json::json!(["POLICY_DEFAULT_DENY"])
    );
    assert!(body["error"].get("matched_rule_id").is_none());
    assert_eq!(h.sink.events().len(), 5);
}

#[tokio::test]
async fn mapping_denials_are_specific_audited_and_never_pass() {
    let h = Harness::with(config(), None);
    let anonymous = Request::get("/authz")
        .header("x-original-method", "POST")
        .header("x-original-uri", "/v1/infer")
        .header("x-sensitivity", "public")
        .body(Body::empty())
        .unwrap();
    let cases = [
        (anonymous, 401, "mapping_unauthenticated"),
        (
            nginx("POST", "/v1/infer", &[]),
            403,
            "mapping_missing_value",
        ),
        (
            nginx("DELETE", "/docs/d1", &[("x-sensitivity", "public")]),
            403,
            "mapping_no_action",
        ),
        (
            nginx("POST", "/v1/infer", &[("x-sensitivity", "secret")]),
            403,
            "mapping_bad_value",
        ),
        (
            nginx(
                "POST",
                "/v1/infer",
                &[("x-sensitivity", "public"), ("x-pii", "maybe")],
            ),
            403,
            "mapping_bad_value",
        ),
        (
            nginx("GET", "/docs/../v1/infer", &[("x-sensitivity", "public")]),
            403,
            "mapping_bad_path",
        ),
        (
            nginx(
                "POST",
                "/v1/infer",
                &[("x-sensitivity", "public"), ("x-forwarded-uri", "/docs/d1")],
            ),
            403,
            "mapping_bad_path",
        ),
    ];
    let n = cases.len();
    for (request, status, code) in cases {
        let reply = h.call(request).await;
        assert_eq!(reply.status.as_u16(), status, "{code}");
        let body = reply.json();
        assert_eq!(body["error"]["code"], code);
        assert!(body["error"]["message"].as_str().unwrap().len() > 10);
        assert!(header(&reply, "x-policygate-decision").is_none());
        assert_eq!(header(&reply, "x-policygate-denial"), Some(code));
        validate_denial(&body);
    }
    let events = h.sink.events();
    assert_eq!(events.len(), n);
    for e in &events {
        assert_eq!(e["evaluation"]["error_code"], "invalid_request");
        assert!(e["evaluation"]["decision"].is_null());
    }
    assert_eq!(events[0]["evaluation"]["http_status"], 401);
    assert_eq!(
        events[2]["evaluation"]["rationale_codes"],
        serde_json::json!(["MAPPING_NO_ACTION"])
    );
}

#[tokio::test]
async fn the_pdp_token_is_required_like_for_evaluate() {
    let h = Harness::with(config(), Some(tokens()));
    let reply = h
        .call(nginx("POST", "/v1/infer", &[("x-sensitivity", "public")]))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json()["error"]["code"], "unauthorized");
    let bearer = format!("Bearer {TOKEN_CHECKOUT}");
    let reply = h
        .call(nginx(
            "POST",
            "/v1/infer",
            &[("x-sensitivity", "public"), ("authorization", &bearer)],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let events = h.sink.events();
    assert_eq!(events.len(), 2);
    assert!(events[1]["caller_id"].is_string());
}

#[tokio::test]
async fn authz_is_not_routed_without_a_mapping() {
    let h = Harness::new();
    let reply = h
        .call(nginx("POST", "/v1/infer", &[("x-sensitivity", "public")]))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(h.sink.events().is_empty());
}

#[tokio::test]
async fn an_audit_sink_that_fails_makes_authz_fail_closed() {
    let h = Harness::with(config(), None);
    h.sink.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let reply = h
        .call(nginx("POST", "/v1/infer", &[("x-sensitivity", "public")]))
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(header(&reply, "x-policygate-decision").is_none());
    assert_eq!(reply.json()["error"]["code"], "unavailable");
}

fn validate_denial(body: &Value) {
    assert_valid(
        &load_schema("gateway_denial.schema.json"),
        body,
        "gateway denial",
    );
}
