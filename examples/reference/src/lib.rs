//! # Reference integration — COPY AND ADAPT
//!
//! A small business service that puts PolicyGate in front of an inference-style
//! operation: `POST /summarise {"document_id": "..."}` over an in-memory document store,
//! with a deterministic stand-in for the model. It is **example code**: copy it into
//! your service and change what is marked CHANGE. What it uses from `policygate-pep`
//! (client, enforcer, obligation helpers, layer) is the stable core: keep it as it is.
//!
//! | module | what | you |
//! |---|---|---|
//! | [`documents`] | document store and stand-in model | replace with your storage and model |
//! | [`mapping`] | business facts → PolicyGate facts | change: your facts |
//! | [`handlers`] | one handler per decision | change: your responses |
//! | this file | routes and wiring | keep the shape, rename freely |
//! | [`client`] | a tiny HTTP client of this service | for trying it out |
//!
//! Run it with `cargo run -p policygate-reference --bin reference-service -- --pdp-url
//! http://127.0.0.1:8000`; see the README.

pub mod client;
pub mod documents;
pub mod handlers;
pub mod mapping;

use crate::documents::DocumentStore;
use crate::handlers::{ReviewQueue, SummariseHandlers, SummariseJob};
use crate::mapping::{Caller, read_facts, summarise_facts};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use policygate_pep::api::{Action, Sensitivity};
use policygate_pep::{
    CallOptions, Decision, Enforcer, ObligationKind, OutputCapExt, PdpClient, PepError, PepLayer,
    RequestBuilder,
};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// How the service reaches the PDP and describes itself.
#[derive(Debug, Clone)]
pub struct Config {
    /// The PDP's base url, e.g. `http://127.0.0.1:8000`.
    pub pdp_url: String,
    /// The PDP's bearer token, if it requires one.
    pub pdp_token: Option<String>,
    /// The per-call deadline of a PDP call.
    pub pdp_deadline: Duration,
    /// The `env.name` fact this service reports (`prod`, `staging`, …).
    pub env_name: String,
}

impl Config {
    /// A configuration for the PDP at `pdp_url`, with a 500 ms deadline in `prod`.
    pub fn new(pdp_url: impl Into<String>) -> Config {
        Config {
            pdp_url: pdp_url.into(),
            pdp_token: None,
            pdp_deadline: Duration::from_millis(500),
            env_name: "prod".into(),
        }
    }
}

/// What the routes share.
#[derive(Debug, Clone)]
struct AppState {
    store: DocumentStore,
    enforcer: Enforcer,
    handlers: SummariseHandlers,
    env_name: String,
}

/// The service's routes, over `store`, asking the PDP of `config`.
///
/// Returns the router and the review queue (so a test or an admin route can inspect it).
pub fn app(config: &Config, store: DocumentStore) -> Result<(Router, ReviewQueue), PepError> {
    let mut client = PdpClient::builder(config.pdp_url.as_str()).deadline(config.pdp_deadline);
    if let Some(token) = &config.pdp_token {
        client = client.bearer_token(token.as_str());
    }
    let client = client.build()?;
    let reviews = ReviewQueue::default();
    let state = AppState {
        store: store.clone(),
        enforcer: Enforcer::new(client.clone()),
        handlers: SummariseHandlers {
            reviews: reviews.clone(),
        },
        env_name: config.env_name.clone(),
    };

    // The layer guards `GET /documents/{id}`: the closure maps the request head to facts.
    let env_name = config.env_name.clone();
    let read_guard = PepLayer::new(client, move |parts: &http::request::Parts| {
        let caller = Caller::from_headers(&parts.headers);
        let id = parts.uri.path().rsplit('/').next().unwrap_or_default();
        match store.get(id) {
            Some(document) => read_facts(&env_name, document, &caller),
            // An unknown id is asked about as if restricted: never more lenient.
            None => RequestBuilder::new(Action::DataRead)
                .env(env_name.as_str())
                .resource("document", Sensitivity::Restricted)
                .resource_id(id),
        }
    })
    .enforcing(ObligationKind::OutputCap);

    let router = Router::new()
        .route("/documents/{id}", get(read_document))
        .route_layer(read_guard)
        .route("/summarise", post(summarise))
        .route("/reviews", get(list_reviews))
        .route("/health", get(|| async { "ok" }))
        .with_state(state);
    Ok((router, reviews))
}

/// `POST /summarise` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SummariseRequest {
    document_id: String,
    #[serde(default)]
    max_tokens: Option<u32>,
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// `POST /summarise`: map facts, then let the enforcer run one of the four handlers.
async fn summarise(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<SummariseRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => {
            return error(rejection.status(), "invalid_request", rejection.body_text());
        }
    };
    let Some(document) = state.store.get(&request.document_id) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no document `{}`", request.document_id),
        );
    };
    let caller = Caller::from_headers(&headers);
    let facts = summarise_facts(&state.env_name, document, &caller);
    let job = SummariseJob {
        document: document.clone(),
        max_tokens: request.max_tokens,
    };
    let options = CallOptions {
        traceparent: headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    state
        .enforcer
        .enforce_with(facts, &options, job, &state.handlers)
        .await
}

/// `GET /documents/{id}`, behind the layer: the decision is in the request extensions.
async fn read_document(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Extension(decision): Extension<Decision>,
) -> Response {
    let Some(document) = state.store.get(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no document `{id}`"),
        );
    };
    // The layer only lets DEGRADE through because this route declared OUTPUT_CAP.
    let text = match decision.output_cap() {
        Some(cap) => cap.truncate_bytes(&document.text),
        None => document.text.as_str(),
    };
    Json(json!({
        "document_id": document.id,
        "title": document.title,
        "text": text,
        "decision": decision.kind(),
        "correlation_id": decision.correlation_id(),
    }))
    .into_response()
}

/// `GET /reviews`: the pending reviews (an admin view, for the demo).
async fn list_reviews(State(state): State<AppState>) -> Response {
    Json(json!({"pending": state.handlers.reviews.pending()})).into_response()
}

/// Starts the service with the sample documents on `addr` (port 0 picks a free port) in
/// a background task of the current Tokio runtime; returns the bound address and the
/// review queue. For tests and demos; the binary serves in the foreground.
pub async fn spawn(
    config: &Config,
    addr: std::net::SocketAddr,
) -> Result<(std::net::SocketAddr, ReviewQueue), String> {
    let (router, reviews) = app(config, DocumentStore::sample()).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("reference-service: {e}");
        }
    });
    Ok((bound, reviews))
}
