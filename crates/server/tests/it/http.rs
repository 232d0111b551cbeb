//! The service driven in memory through `app(state)`: every decision kind, every
//! error status, and the audit event each one leaves.

use crate::common::{
    Harness, TOKEN_CHECKOUT, assert_valid, load_schema, post_evaluate, request_json, schemas,
    tokens,
};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt;
use policygate_api::{ErrorCode, EvaluateResponse};
use policygate_server::{AuditContext, ServerConfig};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Checks a decision answer and its audit event against the contracts; returns both.
fn check_decision(h: &Harness, reply: &crate::common::Reply) -> (Value, Value) {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    let body = reply.json();
    assert_valid(&schemas().response, &body, "response");
    let typed: EvaluateResponse = serde_json::from_value(body.clone()).unwrap();
    typed.check_invariants().unwrap();
    let events = h.sink.events();
    let event = events.last().unwrap().clone();
    assert_valid(&schemas().audit, &event, "audit event");
    assert_eq!(event["request_id"], body["correlation_id"]);
    assert_eq!(event["policy"], body["policy"]);
    assert_eq!(event["evaluation"]["decision"], body["decision"]);
    assert_eq!(
        event["evaluation"]["rationale_codes"],
        body["rationale_codes"]
    );
    assert_eq!(
        event["evaluation"]["matched_rule_id"],
        body.get("matched_rule_id").cloned().unwrap_or(Value::Null)
    );
    assert_eq!(
        event["evaluation"]["default_applied"],
        json!(body.get("matched_rule_id").is_none())
    );
    (body, event)
}

/// Checks an error answer and its audit event; returns both.
fn check_error(h: &Harness, reply: &crate::common::Reply, code: ErrorCode) -> (Value, Value) {
    assert_eq!(
        reply.status.as_u16(),
        code.http_status(),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    let body = reply.json();
    assert_valid(&schemas().error, &body, "error body");
    assert_eq!(body["error"]["code"], code.as_str());
    let events = h.sink.events();
    let event = events.last().unwrap().clone();
    assert_valid(&schemas().audit, &event, "audit event");
    assert_eq!(event["request_id"], body["error"]["correlation_id"]);
    assert_eq!(event["evaluation"]["decision"], Value::Null);
    assert_eq!(event["evaluation"]["error_code"], code.as_str());
    assert_eq!(event["evaluation"]["http_status"], code.http_status());
    assert_eq!(event["decision_context"], Value::Null);
    (body, event)
}

#[tokio::test]
async fn every_decision_kind_with_its_audit_event() {
    let h = Harness::new();
    let cases = [
        ("infer:run", "public", "ALLOW", Some("allow_public_infer")),
        (
            "infer:run",
            "restricted",
            "DEGRADE",
            Some("degrade_restricted_infer"),
        ),
        (
            "data:write",
            "internal",
            "REQUIRE_REVIEW",
            Some("review_internal_write"),
        ),
        ("tool:invoke", "public", "BLOCK", None),
    ];
    for (i, (action, sensitivity, decision, rule)) in cases.into_iter().enumerate() {
        let mut req = request_json(action, sensitivity);
        req["request_id"] = json!(format!("req-{i}"));
        let reply = h.call(post_evaluate(req.to_string())).await;
        let (body, event) = check_decision(&h, &reply);
        assert_eq!(body["decision"], decision);
        assert_eq!(body["correlation_id"], format!("req-{i}"));
        assert_eq!(body.get("matched_rule_id").and_then(Value::as_str), rule);
        assert_eq!(event["evaluation"]["action"], action);
        assert_eq!(event["evaluation"]["resource_type"], "document");
        assert!(event["latency_ms"].as_f64().unwrap() >= 0.0);
    }
    let degrade = &h.sink.events()[1];
    assert_eq!(
        degrade["evaluation"]["obligations"],
        json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 200}}])
    );
    assert_eq!(h.sink.events().len(), 4, "exactly one event per call");

    // A BLOCK by a rule (a signal the policy declares), and the default's rationale.
    let mut req = request_json("data:read", "internal");
    req["signals"]["pii_detected"] = json!(true);
    let (body, _) = check_decision(&h, &h.call(post_evaluate(req.to_string())).await);
    assert_eq!(body["decision"], "BLOCK");
    assert_eq!(body["matched_rule_id"], "block_pii_read");
    assert_eq!(
        h.sink.events()[3]["evaluation"]["rationale_codes"],
        json!(["POLICY_DEFAULT_DENY"])
    );
}

#[tokio::test]
async fn correlation_ids_are_generated_when_absent() {
    let h = Harness::new();
    let (body, _) = check_decision(
        &h,
        &h.call(post_evaluate(
            request_json("infer:run", "public").to_string(),
        ))
        .await,
    );
    let id = body["correlation_id"].as_str().unwrap();
    let parsed = uuid::Uuid::parse_str(id).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
}

#[tokio::test]
async fn decision_context_follows_the_setting() {
    // tested (default): only facts the fixture's rules test.
    let h = Harness::new();
    let (_, event) = check_decision(
        &h,
        &h.call(post_evaluate(
            request_json("infer:run", "public").to_string(),
        ))
        .await,
    );
    assert_eq!(
        event["decision_context"],
        json!({"resource": {"sensitivity": "public"}, "signals": {"pii_detected": false}})
    );

    let all = Harness::with(
        ServerConfig {
            audit_context: AuditContext::All,
            environment: Some("prod-eu".into()),
            ..ServerConfig::default()
        },
        None,
    );
    let (_, event) = check_decision(
        &all,
        &all.call(post_evaluate(
            request_json("infer:run", "public").to_string(),
        ))
        .await,
    );
    assert_eq!(
        event["decision_context"]["subject"],
        json!({"type": "service", "id": "svc-1"})
    );
    assert_eq!(event["decision_context"]["signals"]["caller_trust"], "high");
    assert_eq!(event["decision_context"]["resource"]["id"], "doc-1");
    assert_eq!(event["environment"], "prod-eu");

    let none = Harness::with(
        ServerConfig {
            audit_context: AuditContext::None,
            ..ServerConfig::default()
        },
        None,
    );
    let (_, event) = check_decision(
        &none,
        &none
            .call(post_evaluate(
                request_json("infer:run", "public").to_string(),
            ))
            .await,
    );
    assert_eq!(event["decision_context"], Value::Null);
    assert_eq!(event["environment"], Value::Null);
}

#[tokio::test]
async fn traceparent_fills_trace_and_span_ids() {
    let h = Harness::new();
    let request = |traceparent: &str| {
        Request::post("/evaluate")
            .header("content-type", "application/json")
            .header("traceparent", traceparent)
            .body(Body::from(request_json("infer:run", "public").to_string()))
            .unwrap()
    };
    let (_, event) = check_decision(
        &h,
        &h.call(request(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .await,
    );
    assert_eq!(event["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(event["span_id"], "00f067aa0ba902b7");
    let (_, event) = check_decision(&h, &h.call(request("00-nonsense")).await);
    assert_eq!(event["trace_id"], Value::Null);
    assert_eq!(event["span_id"], Value::Null);
}

#[tokio::test]
async fn malformed_json_is_400() {
    let h = Harness::new();
    for body in ["{", "", "nul", "{\"action\": }"] {
        let reply = h.call(post_evaluate(body)).await;
        check_error(&h, &reply, ErrorCode::InvalidJson);
    }
    // Deep nesting is refused cheaply by the parser's depth limit, not by a stack overflow.
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let reply = h.call(post_evaluate(deep)).await;
    check_error(&h, &reply, ErrorCode::InvalidJson);
    assert_eq!(h.sink.events().len(), 5);
}

/// A body that reads two ways (a repeated key: serde keeps the last, a WAF or logger may
/// read the first) is refused, at any depth, naming the key and where it repeats.
#[tokio::test]
async fn repeated_keys_are_refused_with_400() {
    let h = Harness::new();
    for (body, key, at) in [
        (
            r#"{"action":"infer:run","env":{"name":"prod"},"resource":{"type":"doc","sensitivity":"public"},"signals":{"risk_score":0.95,"risk_score":0.1}}"#,
            "risk_score",
            "/signals",
        ),
        (
            r#"{"action":"infer:run","action":"data:read","env":{"name":"prod"},"resource":{"type":"doc","sensitivity":"public"}}"#,
            "action",
            "/",
        ),
        (
            r#"{"action":"infer:run","env":{"name":"prod"},"resource":{"type":"doc","sensitivity":"public","sensitivity":"restricted"}}"#,
            "sensitivity",
            "/resource",
        ),
    ] {
        let reply = h.call(post_evaluate(body)).await;
        let (error, _) = check_error(&h, &reply, ErrorCode::InvalidJson);
        let message = error["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("duplicate key `{key}` in the object at {at}")),
            "{message}"
        );
    }
}

#[tokio::test]
async fn contract_violations_are_422_with_a_pointer_per_problem() {
    let h = Harness::new();
    let body = json!({"request_id": "bad-1", "action": "infer:runn", "env": {"name": "prod"},
                      "resource": {"type": "document", "sensitivity": "secret"}, "extra": 1});
    let reply = h.call(post_evaluate(body.to_string())).await;
    let (err, event) = check_error(&h, &reply, ErrorCode::InvalidRequest);
    assert_eq!(
        err["error"]["correlation_id"], "bad-1",
        "a valid request_id is kept"
    );
    let paths: Vec<&str> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["/extra", "/action", "/resource/sensitivity"]);
    assert_eq!(
        event["evaluation"]["action"],
        Value::Null,
        "an invalid action is not recorded"
    );
    assert_eq!(event["evaluation"]["resource_type"], "document");

    // Policy-aware checks: `pii_detected` is declared boolean by the policy.
    let mut req = request_json("data:read", "public");
    req["signals"]["pii_detected"] = json!("yes");
    let reply = h.call(post_evaluate(req.to_string())).await;
    let (err, event) = check_error(&h, &reply, ErrorCode::InvalidRequest);
    assert_eq!(err["error"]["details"][0]["path"], "/signals/pii_detected");
    assert_eq!(event["evaluation"]["action"], "data:read");
}

#[tokio::test]
async fn oversized_bodies_are_413_whether_declared_or_streamed() {
    let h = Harness::with(
        ServerConfig {
            max_body_bytes: 1024,
            ..ServerConfig::default()
        },
        None,
    );
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(4096));
    let reply = h.call(post_evaluate(big.clone())).await;
    check_error(&h, &reply, ErrorCode::PayloadTooLarge);

    // No content-length: the limit applies while reading.
    let chunks: Vec<Result<String, std::io::Error>> = (0..8).map(|_| Ok("x".repeat(512))).collect();
    let request = Request::post("/evaluate")
        .header("content-type", "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    assert!(request.headers().get(header::CONTENT_LENGTH).is_none());
    let reply = h.call(request).await;
    check_error(&h, &reply, ErrorCode::PayloadTooLarge);
    assert_eq!(h.sink.events().len(), 2);
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let h = Harness::new();
    let body = request_json("infer:run", "public").to_string();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/json; charset=latin1"),
    ] {
        let mut builder = Request::post("/evaluate");
        if let Some(ct) = ct {
            builder = builder.header("content-type", ct);
        }
        let reply = h
            .call(builder.body(Body::from(body.clone())).unwrap())
            .await;
        check_error(&h, &reply, ErrorCode::UnsupportedMediaType);
    }
    let ok = Request::post("/evaluate")
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(body))
        .unwrap();
    check_decision(&h, &h.call(ok).await);
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let h = Harness::new();
    let check = |reply: &crate::common::Reply, code: ErrorCode| {
        assert_eq!(reply.status.as_u16(), code.http_status());
        let body = reply.json();
        assert_valid(&schemas().error, &body, "error body");
        assert_eq!(body["error"]["code"], code.as_str());
    };
    let reply = h
        .call(Request::get("/nope").body(Body::empty()).unwrap())
        .await;
    check(&reply, ErrorCode::NotFound);
    let reply = h
        .call(Request::post("/health").body(Body::empty()).unwrap())
        .await;
    check(&reply, ErrorCode::MethodNotAllowed);
    let reply = h
        .call(Request::get("/evaluate").body(Body::empty()).unwrap())
        .await;
    check(&reply, ErrorCode::MethodNotAllowed);
    assert_eq!(reply.headers[header::ALLOW], "POST");
    // They decide nothing: counted in the metrics, never audited, so an anonymous
    // client cannot fill the audit trail with them.
    assert!(h.sink.events().is_empty(), "{:?}", h.sink.events());
    let metrics = h
        .call(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    assert!(
        text.contains("policygate_rejected_requests_total{code=\"not_found\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("policygate_rejected_requests_total{code=\"method_not_allowed\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out_with_503() {
    let h = Harness::with(
        ServerConfig {
            request_timeout: Duration::from_millis(200),
            ..ServerConfig::default()
        },
        None,
    );
    // The first bytes arrive, the rest never does.
    let first: Result<&'static [u8], std::io::Error> = Ok(b"{\"action\":");
    let stream = futures_util::stream::iter([first]).chain(futures_util::stream::pending());
    let request = Request::post("/evaluate")
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap();
    let reply = h.call(request).await;
    let (body, _) = check_error(&h, &reply, ErrorCode::Unavailable);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("200 ms")
    );
}

#[tokio::test]
async fn an_unwritable_audit_sink_fails_decisions_closed() {
    let h = Harness::new();
    check_decision(
        &h,
        &h.call(post_evaluate(
            request_json("infer:run", "public").to_string(),
        ))
        .await,
    );
    h.sink.fail.store(true, Ordering::SeqCst);
    let mut req = request_json("infer:run", "public");
    req["request_id"] = json!("after-failure");
    let reply = h.call(post_evaluate(req.to_string())).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = reply.json();
    assert_valid(&schemas().error, &body, "error body");
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(body["error"]["correlation_id"], "after-failure");
    // Failing: /ready says so, /health (liveness) does not.
    let ready = h
        .call(Request::get("/ready").body(Body::empty()).unwrap())
        .await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_valid(&schemas().error, &ready.json(), "ready error");
    let health = h
        .call(Request::get("/health").body(Body::empty()).unwrap())
        .await;
    assert_eq!(health.status, StatusCode::OK);
    let metrics = h
        .call(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains("\npolicygate_audit_sink_up 0\n"), "{text}");
    assert!(
        text.contains("policygate_rejected_requests_total{code=\"unavailable\"} 1"),
        "{text}"
    );
    // Only the decision made before the failure is on the record so far.
    assert_eq!(h.sink.events().len(), 1);
    // The disk recovers: a retry writes the failed line, and decisions resume.
    h.sink.fail.store(false, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let ready = h
            .call(Request::get("/ready").body(Body::empty()).unwrap())
            .await;
        if ready.status == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never ready again");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    check_decision(
        &h,
        &h.call(post_evaluate(
            request_json("infer:run", "public").to_string(),
        ))
        .await,
    );
    let ids: Vec<String> = h
        .sink
        .events()
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[1], "after-failure", "the failed line was retried");
}

#[tokio::test]
async fn auth_on_requires_a_named_bearer_token() {
    let h = Harness::with(ServerConfig::default(), Some(tokens()));
    let body = request_json("infer:run", "public").to_string();
    let with_auth = |value: Option<&str>| {
        let mut b = Request::post("/evaluate").header("content-type", "application/json");
        if let Some(v) = value {
            b = b.header("authorization", v);
        }
        b.body(Body::from(body.clone())).unwrap()
    };
    for bad in [
        None,
        Some("Bearer wrong-token-0000000000"),
        Some("Basic dXNlcjpwYXNz"),
    ] {
        let reply = h.call(with_auth(bad)).await;
        let (_, event) = check_error(&h, &reply, ErrorCode::Unauthorized);
        assert_eq!(
            reply.headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"policygate\""
        );
        assert_eq!(event["caller_id"], Value::Null);
    }
    let reply = h
        .call(with_auth(Some(&format!("Bearer {TOKEN_CHECKOUT}"))))
        .await;
    let (_, event) = check_decision(&h, &reply);
    assert_eq!(event["caller_id"], "checkout");
    // No token ever reaches the audit trail.
    let all = serde_json::to_string(&h.sink.events()).unwrap();
    assert!(!all.contains(TOKEN_CHECKOUT) && !all.contains("wrong-token"));

    // /health and /version stay open; /metrics needs a token.
    for open in ["/health", "/version", "/openapi.json"] {
        let reply = h
            .call(Request::get(open).body(Body::empty()).unwrap())
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{open}");
    }
    let reply = h
        .call(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    check_error(&h, &reply, ErrorCode::Unauthorized);
    let reply = h
        .call(
            Request::get("/metrics")
                .header("authorization", format!("Bearer {TOKEN_CHECKOUT}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn info_endpoints_follow_the_contract() {
    let h = Harness::new();
    let identity = h.state.audit().events_written(); // the sink is idle
    assert_eq!(identity, 0);
    let health = h
        .call(Request::get("/health").body(Body::empty()).unwrap())
        .await;
    assert_eq!(health.status, StatusCode::OK);
    let health = health.json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["policy"]["policy_id"], "policygate-server-tests");
    let version = h
        .call(Request::get("/version").body(Body::empty()).unwrap())
        .await
        .json();
    assert_eq!(version["name"], "policygate");
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["policy"], health["policy"]);
    let openapi = h
        .call(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    let committed = std::fs::read(crate::common::contracts_dir().join("openapi.json")).unwrap();
    assert_eq!(
        openapi.body, committed,
        "the served OpenAPI document is the committed one"
    );
    assert!(h.sink.events().is_empty(), "reads are not audited");
}

#[tokio::test]
async fn metrics_count_decisions_rejections_and_audit_events() {
    let h = Harness::new();
    for _ in 0..3 {
        check_decision(
            &h,
            &h.call(post_evaluate(
                request_json("infer:run", "public").to_string(),
            ))
            .await,
        );
    }
    check_decision(
        &h,
        &h.call(post_evaluate(
            request_json("tool:invoke", "public").to_string(),
        ))
        .await,
    );
    h.call(post_evaluate("{")).await;
    let reply = h
        .call(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(reply.body).unwrap();
    for line in [
        "policygate_decisions_total{decision=\"ALLOW\",rule=\"allow_public_infer\"} 3",
        "policygate_decisions_total{decision=\"BLOCK\",rule=\"\"} 1",
        "policygate_rejected_requests_total{code=\"invalid_json\"} 1",
        "policygate_evaluate_duration_seconds_count 5",
        "policygate_audit_events_written_total 5",
        "policygate_audit_sink_up 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(text.contains("policygate_policy_info{policy_id=\"policygate-server-tests\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_get_exactly_one_event_each() {
    let h = std::sync::Arc::new(Harness::new());
    let mut tasks = Vec::new();
    for i in 0..100 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let body = if i % 10 == 0 {
                "{".to_owned()
            } else {
                let mut req = request_json("infer:run", "restricted");
                req["request_id"] = json!(format!("c-{i}"));
                req.to_string()
            };
            h.call(post_evaluate(body)).await.json()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let body = t.await.unwrap();
        let id = body
            .get("correlation_id")
            .or_else(|| body["error"].get("correlation_id"))
            .and_then(Value::as_str)
            .unwrap()
            .to_owned();
        ids.push(id);
    }
    let mut audited: Vec<String> = h
        .sink
        .events()
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    audited.sort();
    assert_eq!(ids, audited);
}

/// Issue 12: `POST /explain` is off by default; when enabled it answers the explain
/// document for the same body as /evaluate, audits the call with its own event type
/// and does not count it as a decision.
#[tokio::test]
async fn explain_is_off_by_default_and_audited_apart_when_on() {
    let explain = |body: String| {
        Request::post("/explain")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let body = request_json("infer:run", "public").to_string();
    let off = Harness::new();
    assert_eq!(
        off.call(explain(body.clone())).await.status,
        StatusCode::NOT_FOUND
    );

    let on = Harness::with(
        ServerConfig {
            enable_explain: true,
            ..ServerConfig::default()
        },
        None,
    );
    let evaluated = on.call(post_evaluate(body.clone())).await.json();
    let reply = on.call(explain(body)).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let doc = reply.json();
    assert_valid(
        &load_schema("explain.schema.json"),
        &doc,
        "explain document",
    );
    assert_eq!(doc["response"]["decision"], evaluated["decision"]);
    assert_eq!(
        doc["response"]["matched_rule_id"],
        evaluated["matched_rule_id"]
    );
    assert_eq!(
        doc["trace"].as_array().unwrap().last().unwrap()["decided"],
        true
    );
    let events = on.sink.events();
    assert_eq!(events.len(), 2, "one audit event per call");
    assert_eq!(events[0]["event_type"], "policygate.decision.evaluated");
    assert_eq!(events[1]["event_type"], "policygate.decision.explained");
    assert_valid(&schemas().audit, &events[1], "explain audit event");
    let metrics = on
        .call(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    let decisions: f64 = text
        .lines()
        .filter(|l| l.starts_with("policygate_decisions_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(
        decisions, 1.0,
        "only the /evaluate call is a decision:\n{text}"
    );
}
