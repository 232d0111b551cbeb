//! Helpers shared by the integration tests: the fixture policy, the app over an
//! in-memory audit sink, schema validators and request builders. Fixtures, the sink
//! and the raw HTTP client come from `policygate-testkit`.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use policygate_core::{LoadOptions, Policy};
use policygate_server::{AppState, AuditSink, AuditWriter, ServerConfig, Tokens, app};
#[allow(
    unused_imports,
    reason = "the audit-stream parser, for tests that read raw audit bytes"
)]
pub use policygate_testkit::audit::parse_lines;
pub use policygate_testkit::{MemorySink, fixture};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

pub const TOKEN_CHECKOUT: &str = "test-token-checkout-0123456789";

pub fn contracts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts")
}

pub fn load_policy() -> Arc<Policy> {
    let path = fixture("policy.yaml");
    let bytes = std::fs::read(&path).unwrap();
    let (policy, report) = policygate_core::load("policy.yaml", &bytes, &LoadOptions::default());
    match policy {
        Some(p) => Arc::new(p),
        None => panic!("fixture policy is invalid:\n{}", report.render_human(false)),
    }
}

pub fn tokens() -> Tokens {
    Tokens::load(&fixture("tokens.txt")).unwrap()
}

/// The app over the fixture policy and an in-memory audit sink.
pub struct Harness {
    pub state: AppState,
    pub sink: MemorySink,
    pub writer: Option<AuditWriter>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(ServerConfig::default(), None)
    }

    pub fn with(config: ServerConfig, auth: Option<Tokens>) -> Harness {
        let sink = MemorySink::default();
        let (audit, writer) = AuditSink::open(Box::new(sink.clone()));
        Harness {
            state: AppState::new(load_policy(), audit, auth, config),
            sink,
            writer: Some(writer),
        }
    }

    pub async fn call(&self, request: Request<Body>) -> Reply {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            let _ = w.close();
        }
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

pub fn post_evaluate(body: impl Into<Body>) -> Request<Body> {
    Request::post("/evaluate")
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

pub fn request_json(action: &str, sensitivity: &str) -> Value {
    serde_json::json!({
        "action": action,
        "env": {"name": "prod"},
        "resource": {"type": "document", "id": "doc-1", "sensitivity": sensitivity},
        "subject": {"type": "service", "id": "svc-1"},
        "signals": {"pii_detected": false, "caller_trust": "high"}
    })
}

/// A validator over one committed contract file.
pub fn load_schema(name: &str) -> jsonschema::Validator {
    compile(name)
}

fn compile(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(contracts_dir().join(name)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("contracts/{name} is not a valid schema: {e}"))
}

/// Validators over the committed contract files.
pub struct Schemas {
    pub request: jsonschema::Validator,
    pub response: jsonschema::Validator,
    pub error: jsonschema::Validator,
    pub audit: jsonschema::Validator,
    pub policy: jsonschema::Validator,
}

pub fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| Schemas {
        request: compile("evaluate_request.schema.json"),
        response: compile("evaluate_response.schema.json"),
        error: compile("error.schema.json"),
        audit: compile("audit_event.schema.json"),
        policy: compile("policy.schema.json"),
    })
}

pub fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} breaks its schema: {errors:#?}\n{instance:#}"
    );
}
