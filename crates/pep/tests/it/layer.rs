//! The tower layer in front of an axum route.

use crate::answers::deciding;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use policygate_api::{Action, Sensitivity};
use policygate_pep::{Decision, ObligationKind, OutputCapExt, PdpClient, PepLayer, RequestBuilder};
use policygate_testkit::pdp::closed_port_url;
use serde_json::{Value, json};
use std::time::Duration;
use tower::ServiceExt;

const TEXT: &str = "the quick brown fox";

/// A route whose facts come from the path: `/doc/<sensitivity>`; `?force=X` forces a
/// decision; `/doc/bad` maps to invalid facts.
fn app(pdp_url: &str, configure: impl FnOnce(PepLayer<Mapper>) -> PepLayer<Mapper>) -> Router {
    let client = PdpClient::builder(pdp_url)
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let layer = configure(PepLayer::new(client, map as Mapper));
    Router::new()
        .route("/doc/{sensitivity}", get(handler))
        .route_layer(layer)
}

type Mapper = fn(&axum::http::request::Parts) -> RequestBuilder;

fn map(parts: &axum::http::request::Parts) -> RequestBuilder {
    let last = parts.uri.path().rsplit('/').next().unwrap_or_default();
    let sensitivity = match last {
        "public" => Sensitivity::Public,
        "internal" => Sensitivity::Internal,
        _ => Sensitivity::Restricted,
    };
    let mut facts = RequestBuilder::new(Action::DataRead)
        .env(if last == "bad" { "not valid" } else { "prod" })
        .resource("document", sensitivity);
    if let Some(forced) = parts.uri.query().and_then(|q| q.strip_prefix("force=")) {
        facts = facts.signal("force", forced);
    }
    facts
}

async fn handler(Extension(decision): Extension<Decision>) -> String {
    let text = match decision.output_cap() {
        Some(cap) => cap.truncate_bytes(TEXT),
        None => TEXT,
    };
    format!("{}:{text}", decision.kind())
}

async fn call(app: Router, uri: &str, traceparent: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(uri);
    if let Some(tp) = traceparent {
        request = request.header("traceparent", tp);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

#[tokio::test]
async fn allow_reaches_the_handler_with_the_decision() {
    let pdp = deciding().await;
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let (status, body) = call(app(&pdp.url, |l| l), "/doc/public", Some(tp)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, format!("ALLOW:{TEXT}"));
    assert_eq!(pdp.seen()[0].headers["traceparent"], tp);
    assert_eq!(pdp.seen()[0].body["action"], "data:read");
}

#[tokio::test]
async fn block_answers_403_without_running_the_handler() {
    let pdp = deciding().await;
    let (status, body) = call(app(&pdp.url, |l| l), "/doc/public?force=BLOCK", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        json_of(&body),
        json!({"decision": "BLOCK", "rationale_codes": ["FORCED_BLOCK"], "origin": "pdp",
               "correlation_id": "generated-1"})
    );
}

#[tokio::test]
async fn degrade_reaches_the_handler_only_when_the_route_honours_the_cap() {
    let pdp = deciding().await;
    let (status, body) = call(app(&pdp.url, |l| l), "/doc/internal", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        json_of(&body)["rationale_codes"],
        json!(["PEP_OBLIGATION_UNENFORCEABLE"])
    );
    assert_eq!(json_of(&body)["origin"], "pep");

    let honouring = app(&pdp.url, |l| l.enforcing(ObligationKind::OutputCap));
    let (status, body) = call(honouring, "/doc/internal", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "DEGRADE:the q"); // max_bytes 5
}

#[tokio::test]
async fn review_is_refused_unless_the_route_opts_in() {
    let pdp = deciding().await;
    let (status, body) = call(app(&pdp.url, |l| l), "/doc/restricted", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        json_of(&body)["rationale_codes"],
        json!(["PEP_DECISION_UNHANDLED"])
    );

    let opted_in = app(&pdp.url, |l| l.forward_review(true));
    let (status, body) = call(opted_in, "/doc/restricted", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("REQUIRE_REVIEW:"), "{body}");
}

#[tokio::test]
async fn failures_and_bad_facts_answer_403() {
    let (status, body) = call(app(&closed_port_url(), |l| l), "/doc/public", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        json_of(&body),
        json!({"decision": "BLOCK", "rationale_codes": ["PEP_PDP_UNAVAILABLE"], "origin": "pep"})
    );

    let pdp = deciding().await;
    let (status, body) = call(app(&pdp.url, |l| l), "/doc/bad", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        json_of(&body)["rationale_codes"],
        json!(["PEP_INVALID_FACTS"])
    );
    assert_eq!(pdp.hits(), 0);
}
