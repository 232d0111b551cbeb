//! `POST /evaluate/batch` in memory: results in order, each what `/evaluate` answers
//! for the same request (decision or error body), one audit event per item, the
//! 256-item limit, what refuses the whole batch (with one audited refusal), auth, the
//! body limits, metrics and a failing audit sink.

use crate::common::{
    Harness, TOKEN_CHECKOUT, assert_valid, load_schema, post_evaluate, request_json, schemas,
    tokens,
};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use policygate_api::{BatchResult, ErrorCode, EvaluateBatchResponse};
use policygate_server::ServerConfig;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

fn post_batch(body: impl Into<Body>) -> Request<Body> {
    Request::post("/evaluate/batch")
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

fn batch_of(items: &[Value]) -> String {
    json!({ "requests": items }).to_string()
}

/// A 200 batch answer, checked against its schema; its results.
fn results(reply: &crate::common::Reply) -> Vec<Value> {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    let body = reply.json();
    assert_valid(
        &load_schema("evaluate_batch_response.schema.json"),
        &body,
        "batch response",
    );
    let typed: EvaluateBatchResponse = serde_json::from_value(body.clone()).unwrap();
    for result in &typed.results {
        if let BatchResult::Decision(d) = result {
            d.check_invariants().unwrap();
        }
    }
    body["results"].as_array().unwrap().clone()
}

/// What `/evaluate` answers for `item` on a fresh service, with the correlation id
/// (generated when the item has none) left out.
async fn single(item: &Value) -> Value {
    let h = Harness::new();
    let mut body = h.call(post_evaluate(item.to_string())).await.json();
    strip_id(&mut body);
    body
}

fn strip_id(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        o.remove("correlation_id");
        if let Some(e) = o.get_mut("error").and_then(Value::as_object_mut) {
            e.remove("correlation_id");
        }
    }
}

#[tokio::test]
async fn results_are_in_order_and_each_is_what_evaluate_answers() {
    let h = Harness::new();
    let mut items = Vec::new();
    for (i, (action, sensitivity)) in [
        ("infer:run", "public"),
        ("infer:run", "restricted"),
        ("data:write", "internal"),
        ("tool:invoke", "public"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut item = request_json(action, sensitivity);
        item["request_id"] = json!(format!("item-{i}"));
        items.push(item);
    }
    // Contract violations, with and without a request id, and a policy-aware refusal.
    items.push(json!({"request_id": "bad-1", "action": "infer:runn", "env": {"name": "prod"}}));
    items.push(json!(17));
    let mut mistyped = request_json("infer:run", "public");
    mistyped["request_id"] = json!("mistyped");
    mistyped["signals"]["pii_detected"] = json!("yes");
    items.push(mistyped);
    // No request id: one is generated.
    items.push(request_json("infer:run", "public"));

    let reply = h.call(post_batch(batch_of(&items))).await;
    let got = results(&reply);
    assert_eq!(got.len(), items.len());
    let decisions: Vec<&str> = got
        .iter()
        .map(|r| {
            r["decision"]
                .as_str()
                .or_else(|| r["error"]["code"].as_str())
                .unwrap()
        })
        .collect();
    assert_eq!(
        decisions,
        [
            "ALLOW",
            "DEGRADE",
            "REQUIRE_REVIEW",
            "BLOCK",
            "invalid_request",
            "invalid_request",
            "invalid_request",
            "ALLOW"
        ]
    );
    for (item, result) in items.iter().zip(&got) {
        let mut want = single(item).await;
        let mut result = result.clone();
        strip_id(&mut want);
        strip_id(&mut result);
        assert_eq!(result, want, "item {item}");
    }
    assert_eq!(got[0]["correlation_id"], "item-0");
    assert_eq!(got[4]["error"]["correlation_id"], "bad-1");
    assert_eq!(got[4]["error"]["details"][0]["path"], "/action");

    // One event per item, in order, each with the item's correlation id.
    let events = h.sink.events();
    assert_eq!(events.len(), items.len(), "exactly one event per item");
    for (event, result) in events.iter().zip(&got) {
        assert_valid(&schemas().audit, event, "audit event");
        let id = result
            .get("correlation_id")
            .or_else(|| result["error"].get("correlation_id"))
            .unwrap();
        assert_eq!(&event["request_id"], id);
        match result.get("decision") {
            Some(d) => assert_eq!(&event["evaluation"]["decision"], d),
            None => {
                assert_eq!(event["evaluation"]["decision"], Value::Null);
                assert_eq!(event["evaluation"]["error_code"], result["error"]["code"]);
            }
        }
    }
    assert_eq!(events[4]["evaluation"]["action"], Value::Null);
    assert_eq!(events[6]["evaluation"]["action"], "infer:run");
    let generated = got[7]["correlation_id"].as_str().unwrap();
    assert_eq!(generated.len(), 36, "a generated uuid: {generated}");
}

#[tokio::test]
async fn two_hundred_fifty_six_items_are_decided_and_257_refused_whole() {
    let h = Harness::new();
    let items = vec![request_json("infer:run", "public"); 256];
    let got = results(&h.call(post_batch(batch_of(&items))).await);
    assert_eq!(got.len(), 256);
    assert!(got.iter().all(|r| r["decision"] == "ALLOW"));
    assert_eq!(h.sink.events().len(), 256);

    let items = vec![request_json("infer:run", "public"); 257];
    let reply = h.call(post_batch(batch_of(&items))).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = reply.json();
    assert_valid(&schemas().error, &body, "error body");
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(body["error"]["details"][0]["path"], "/requests");
    let events = h.sink.events();
    assert_eq!(events.len(), 257, "one refusal event for the whole batch");
    assert_eq!(events[256]["evaluation"]["error_code"], "invalid_request");
    assert_eq!(events[256]["request_id"], body["error"]["correlation_id"]);
}

#[tokio::test]
async fn malformed_or_shapeless_batches_are_refused_whole() {
    let h = Harness::new();
    let item = request_json("infer:run", "public").to_string();
    let cases = [
        ("{\"requests\": [".to_owned(), ErrorCode::InvalidJson),
        (
            format!("{{\"requests\": [{item}], \"requests\": []}}"),
            ErrorCode::InvalidJson,
        ),
        (
            format!(
                "{{\"requests\": [{item}, {{\"action\": \"infer:run\", \"action\": \"tool:invoke\"}}]}}"
            ),
            ErrorCode::InvalidJson,
        ),
        ("{\"requests\": {}}".to_owned(), ErrorCode::InvalidRequest),
        (format!("[{item}]"), ErrorCode::InvalidRequest),
        ("{}".to_owned(), ErrorCode::InvalidRequest),
        (
            format!("{{\"requests\": [{item}], \"mode\": \"all\"}}"),
            ErrorCode::InvalidRequest,
        ),
    ];
    for (i, (body, code)) in cases.iter().enumerate() {
        let reply = h.call(post_batch(body.clone())).await;
        assert_eq!(reply.status.as_u16(), code.http_status(), "{body}");
        let answer = reply.json();
        assert_valid(&schemas().error, &answer, "error body");
        assert_eq!(answer["error"]["code"], code.as_str(), "{body}");
        let events = h.sink.events();
        assert_eq!(events.len(), i + 1, "one event per refused batch: {body}");
        assert_eq!(events[i]["evaluation"]["error_code"], code.as_str());
    }
    let dup = h.call(post_batch(cases[2].0.clone())).await.json();
    let message = dup["error"]["message"].as_str().unwrap();
    assert!(message.contains("/requests/1"), "{message}");
}

#[tokio::test]
async fn body_limits_and_content_type() {
    let h = Harness::with(
        ServerConfig {
            max_body_bytes: 300,
            max_batch_body_bytes: 2_000,
            ..ServerConfig::default()
        },
        None,
    );
    let small = request_json("infer:run", "public");
    let mut big = request_json("infer:run", "public");
    big["request_id"] = json!("x".repeat(120));
    big["resource"]["id"] = json!("d".repeat(200));
    assert!(small.to_string().len() < 300 && big.to_string().len() > 300);
    // A batch over the single-request limit is fine; an item over it is its own 413.
    let got = results(
        &h.call(post_batch(batch_of(&[small.clone(), big, small.clone()])))
            .await,
    );
    assert_eq!(got[0]["decision"], "ALLOW");
    assert_eq!(got[1]["error"]["code"], "payload_too_large");
    assert_eq!(got[2]["decision"], "ALLOW");
    assert_eq!(h.sink.events().len(), 3);
    // Over the batch limit: refused whole.
    let reply = h.call(post_batch(batch_of(&vec![small; 20]))).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(h.sink.events().len(), 4);
    let reply = h
        .call(
            Request::post("/evaluate/batch")
                .header("content-type", "text/plain")
                .body(Body::from("{\"requests\": []}"))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // An empty batch decides nothing and writes nothing.
    assert_eq!(
        results(&h.call(post_batch("{\"requests\": []}")).await).len(),
        0
    );
    assert_eq!(h.sink.events().len(), 5);
}

#[tokio::test]
async fn auth_applies_to_the_batch_and_every_item_names_the_caller() {
    let h = Harness::with(ServerConfig::default(), Some(tokens()));
    let body = batch_of(&[
        request_json("infer:run", "public"),
        request_json("tool:invoke", "public"),
    ]);
    let reply = h.call(post_batch(body.clone())).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.sink.events().len(), 1, "one refusal for the batch");
    let reply = h
        .call(
            Request::post("/evaluate/batch")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {TOKEN_CHECKOUT}"))
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(results(&reply).len(), 2);
    let events = h.sink.events();
    assert_eq!(events.len(), 3);
    assert_eq!(events[1]["caller_id"], "checkout");
    assert_eq!(events[2]["caller_id"], "checkout");
}

#[tokio::test]
async fn metrics_count_items() {
    let h = Harness::new();
    let items = [
        request_json("infer:run", "public"),
        request_json("infer:run", "public"),
        request_json("tool:invoke", "public"),
        json!({"action": 3}),
    ];
    results(&h.call(post_batch(batch_of(&items))).await);
    let text = String::from_utf8(
        h.call(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .body,
    )
    .unwrap();
    for line in [
        "policygate_decisions_total{decision=\"ALLOW\",rule=\"allow_public_infer\"} 2",
        "policygate_decisions_total{decision=\"BLOCK\",rule=\"\"} 1",
        "policygate_rejected_requests_total{code=\"invalid_request\"} 1",
        "policygate_audit_events_written_total 4",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[tokio::test]
async fn a_failing_sink_withholds_the_whole_batch() {
    let h = Harness::new();
    h.sink.fail.store(true, Ordering::SeqCst);
    let reply = h
        .call(post_batch(batch_of(&[
            request_json("infer:run", "public"),
            json!({"action": 3}),
        ])))
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    let body = reply.json();
    assert_valid(&schemas().error, &body, "error body");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(h.sink.events().is_empty());
    // An empty batch decides nothing, so it has nothing to withhold: answered even
    // while the sink fails.
    let empty = h.call(post_batch("{\"requests\": []}")).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.json(), json!({"results": []}));
}
