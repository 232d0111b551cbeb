//! The contracts under `contracts/` are golden files generated from the Rust types of
//! `policygate-api` (schemars, draft 2020-12). This test fails when a committed file
//! differs from what the types generate; `UPDATE_CONTRACTS=1 cargo test -p
//! policygate-server --test it contracts` rewrites them. `policy.schema.json` is
//! written by hand and checked against the policies we ship.

use crate::common::{assert_valid, contracts_dir, fixture, load_schema, schemas};
use policygate_api::{
    AuditCheckpoint, AuditEvent, AuditOpened, AuditSuppressed, AuditVerifyReport, DiffReport,
    ErrorBody, EvaluateBatchRequest, EvaluateBatchResponse, EvaluateRequest, EvaluateResponse,
    ExplainResponse, FileReport, GatewayDenial, HealthResponse, LiteLlmGuardrailAnswer,
    LiteLlmGuardrailCall, PolicyChangeEvent, ReplayChange, ReplayReport, TestReport,
    ValidationReport, VersionResponse,
};
use policygate_core::LoadOptions;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use std::path::Path;

const GENERATED_NOTE: &str = "Generated from the Rust types in crates/api by crates/server/tests/it/contracts.rs; do not edit by hand (UPDATE_CONTRACTS=1 regenerates).";

#[derive(Clone, Copy)]
enum Direction {
    /// What PolicyGate accepts.
    Accepted,
    /// What PolicyGate emits.
    Emitted,
}

/// Makes generated schemas read as contracts rather than Rust docs: drops the
/// non-standard `format`s schemars adds for Rust integer/float types and turns rustdoc
/// links (``[`X`]``) into plain code spans.
fn tidy(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| f != "date-time")
            {
                map.remove("format");
            }
            if let Some(Value::String(d)) = map.get_mut("description") {
                *d = d.replace("[`", "`").replace("`]", "`");
            }
            map.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

fn schema_for<T: JsonSchema>(direction: Direction, description: &str) -> Value {
    let settings = SchemaSettings::draft2020_12();
    let settings = match direction {
        Direction::Accepted => settings.for_deserialize(),
        Direction::Emitted => settings.for_serialize(),
    };
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = schema.to_value();
    tidy(&mut value);
    let obj = value.as_object_mut().unwrap();
    obj.insert("$comment".into(), Value::String(GENERATED_NOTE.into()));
    obj.insert("description".into(), Value::String(description.into()));
    value
}

/// Every generated contract file, by file name.
fn generated() -> Vec<(&'static str, Value)> {
    let request = schema_for::<EvaluateRequest>(
        Direction::Accepted,
        "EvaluateRequest, contract version 1: the body of POST /evaluate. Unknown fields are rejected. A body that is not JSON gets 400, one that breaks this schema 422 (with a JSON pointer per problem).",
    );
    let response = schema_for::<EvaluateResponse>(
        Direction::Emitted,
        "EvaluateResponse, contract version 1: the 200 answer of POST /evaluate. Fields appear in this order; `obligations` is present (non-empty) exactly when `decision` is DEGRADE; `matched_rule_id` is absent when the policy's default decided.",
    );
    let audit = schema_for::<AuditEvent>(
        Direction::Emitted,
        "Audit event, version 2.0: one JSON object per line, one per POST /evaluate call (decisions and refusals) and per other refused request. `request_id` equals the `correlation_id` returned to the caller. A refusal has `evaluation.decision` null and carries `error_code` and `http_status`. Every line of the stream (this event and the opening event, audit_opened.schema.json) ends with the hash chain: `seq` (one more than the line before) and `prev_hash`, the lowercase hex SHA-256 of the line before exactly as written without its newline (64 zeros for the first line of a chain).",
    );
    let opened = schema_for::<AuditOpened>(
        Direction::Emitted,
        "Audit opening event, version 2.0: the first line of every audit file and stdout stream. Names the policy loaded; `prev_hash` is the hash of the last complete line before it (the previous file, or the same file before a restart), 64 zeros when a new chain starts; `torn_tail_bytes` counts a torn final line found on start, which was ended with a newline and is outside the chain.",
    );
    let error = schema_for::<ErrorBody>(
        Direction::Emitted,
        "Error body of every non-2xx answer. `code` is stable and machine-readable; an enforcer treats any answer but 200 as BLOCK.",
    );
    let policy_change = schema_for::<PolicyChangeEvent>(
        Direction::Emitted,
        "Policy change event, version 1.0: written to the audit stream (beside the decision events, told apart by `event_type`) when a reload swaps a new policy in (`policygate.policy.swapped`, before the new policy decides) and when a reload is refused and the last valid policy stays active (`policygate.policy.reload_rejected`).",
    );
    let health = schema_for::<HealthResponse>(
        Direction::Emitted,
        "GET /health (liveness) and GET /ready (readiness: 200 while the audit sink works): the active policy and the last reload attempt.",
    );
    let version = schema_for::<VersionResponse>(
        Direction::Emitted,
        "GET /version: the running PolicyGate and its policy.",
    );
    let validation = schema_for::<ValidationReport>(
        Direction::Emitted,
        "Validation report: what `policygate validate --format json` prints, one entry per file given. Keys are in alphabetical order; a finding's `column`, `line`, `help` and `rule_id` are null when unknown, `related` and `witness` appear only when the finding has them; `policy` and `rule_count` appear for a valid file.",
    );
    let diff = schema_for::<DiffReport>(
        Direction::Emitted,
        "Report of `policygate diff OLD NEW --format json`, version 1.0. `changes` lists every pair (deciding rule or default under OLD, under NEW; `rule_id` null for the default) that some request reaches and whose outcome differs, with a witness request evaluated on both policies; with `--rules` also pairs with an identical outcome (`outcome_changed` false). `undecided` lists pairs the analysis could not decide. `equivalent` is true exactly when no outcome changed and nothing is undecided.",
    );
    let replay = schema_for::<ReplayReport>(
        Direction::Emitted,
        "Summary of `policygate replay --policy NEW AUDIT.jsonl... --format json`, version 1.0: recorded decisions re-decided under NEW. Events that do not record every fact NEW tests are counted as not replayable, never guessed.",
    );
    let replay_change = schema_for::<ReplayChange>(
        Direction::Emitted,
        "One line of `policygate replay --changes FILE`: a recorded decision whose outcome or deciding rule differs under the new policy.",
    );
    let explain = schema_for::<ExplainResponse>(
        Direction::Emitted,
        "Explain document: `policygate explain --format json` (and the 200 answer of POST /explain when enabled). `response` is the EvaluateResponse the same request gets from /evaluate; `trace` lists the rules in evaluation order down to the deciding one (every rule when `complete`), each with the first failing test of a miss. Deterministic: the same policy and request give the same bytes.",
    );
    // The explain document embeds EvaluateResponse, whose contract (with its own
    // description) is a root of the OpenAPI document already: refer to that one.
    let mut explain_in_openapi = explain.clone();
    if let Some(Value::Object(defs)) = explain_in_openapi.get_mut("$defs") {
        defs.remove("EvaluateResponse");
    }
    let batch_request = schema_for::<EvaluateBatchRequest>(
        Direction::Accepted,
        "EvaluateBatchRequest, contract version 1: the body of POST /evaluate/batch, at most 256 EvaluateRequests. A body that is not JSON (or repeats a key in any object) gets 400, one without a `requests` array, with another field or with more than 256 items 422, in each case refusing the whole batch. An item that breaks the EvaluateRequest contract does not refuse the batch: its result is its error body.",
    );
    let batch_response = schema_for::<EvaluateBatchResponse>(
        Direction::Emitted,
        "EvaluateBatchResponse, contract version 1: the 200 answer of POST /evaluate/batch. `results` has one entry per request, in order: the EvaluateResponse POST /evaluate would answer for it, or (for a request it would refuse) the error body it would answer, whose `code` gives that status. Each item has its own audit event.",
    );
    // In the OpenAPI document the batch shapes refer to the root contracts they embed.
    let in_openapi = |schema: &Value| {
        let mut schema = schema.clone();
        if let Some(Value::Object(defs)) = schema.get_mut("$defs") {
            for root in ["EvaluateRequest", "EvaluateResponse", "ErrorBody"] {
                defs.remove(root);
            }
        }
        schema
    };
    let batch_request_in_openapi = in_openapi(&batch_request);
    let batch_response_in_openapi = in_openapi(&batch_response);
    let checkpoint = schema_for::<AuditCheckpoint>(
        Direction::Emitted,
        "Audit checkpoint, version 2.0 (with --audit-signing-key): an ed25519 signature by `public_key` over the UTF-8 bytes `policygate.audit.checkpoint/2.0:{head_seq}:{head_hash}`, where `head_seq` and `head_hash` are the `seq` and hash of the line before this one. Written every N lines or seconds and on shutdown; chained like every other line.",
    );
    let suppressed = schema_for::<AuditSuppressed>(
        Direction::Emitted,
        "Count of suppressed refusals, version 2.0: with auth on, calls without a valid bearer token are audited at most `max_per_second` per second (--audit-unauthenticated-per-second); the ones past that rate are still answered 401 and counted in the metrics, and their number since the previous count (`suppressed`, from `first_at` to `occurred_at`) is written as this event every 10 seconds while there are any, and at shutdown. Chained like every other line; `policygate replay` skips it.",
    );
    let verify = schema_for::<AuditVerifyReport>(
        Direction::Emitted,
        "Audit verification report: what `policygate audit verify --format json` prints. One entry per file given (in chain order) with its figures; `breaks` lists every line at which the trail does not verify (the first is where it stops being trustworthy), each with a stable `reason`; a torn final line is reported in `torn_tail_bytes` and is not a break. `ok` is true exactly when no file has a break.",
    );
    let gateway_denial = schema_for::<GatewayDenial>(
        Direction::Emitted,
        "Gateway denial: the body of a denied /authz answer (403, the mapping's review_status for REQUIRE_REVIEW, 401 when the mapping finds the caller unauthenticated), and of the Envoy gRPC denied_response. The `error` object starts like the error body's (`code`, `message`, `correlation_id`); `code` is stable: policy_block and policy_review carry the decision, its rationale codes, the deciding rule and the policy; a mapping_* code means the gateway request could not be turned into a request the policy accepts, with the fact concerned when there is one.",
    );
    // The LiteLLM Generic Guardrail API: only in the OpenAPI document (LiteLLM owns
    // this contract; these are the parts PolicyGate reads and writes).
    let guardrail_call = schema_for::<LiteLlmGuardrailCall>(
        Direction::Accepted,
        "LiteLLM Generic Guardrail API call: the body of POST /beta/litellm_basic_guardrail_api as PolicyGate reads it. Members not listed are ignored (LiteLLM adds members over its versions); `additional_provider_specific_params` may hold only `env`, `sensitivity` and `resource_type` (strings).",
    );
    let guardrail_answer = schema_for::<LiteLlmGuardrailAnswer>(
        Direction::Emitted,
        "LiteLLM Generic Guardrail API answer: `NONE` for an ALLOW; `BLOCKED` for BLOCK, REQUIRE_REVIEW and DEGRADE, with the decision, rationale codes and correlation id in `blocked_reason`.",
    );
    let openapi = openapi(&[
        ("LiteLlmGuardrailCall", &guardrail_call),
        ("LiteLlmGuardrailAnswer", &guardrail_answer),
        ("EvaluateRequest", &request),
        ("EvaluateResponse", &response),
        ("AuditEvent", &audit),
        ("PolicyChangeEvent", &policy_change),
        ("ErrorBody", &error),
        ("HealthResponse", &health),
        ("VersionResponse", &version),
        ("ExplainResponse", &explain_in_openapi),
        ("EvaluateBatchRequest", &batch_request_in_openapi),
        ("EvaluateBatchResponse", &batch_response_in_openapi),
        ("GatewayDenial", &gateway_denial),
    ]);
    let test_report = schema_for::<TestReport>(
        Direction::Emitted,
        "`policygate test --format json`: counts, per test file the result of every case that ran, and with --coverage per policy which rules (and the default) decided a case, with a suggested request for each one that none did.",
    );
    vec![
        ("explain.schema.json", explain),
        ("test_report.schema.json", test_report),
        ("evaluate_request.schema.json", request),
        ("evaluate_response.schema.json", response),
        ("evaluate_batch_request.schema.json", batch_request),
        ("evaluate_batch_response.schema.json", batch_response),
        ("audit_event.schema.json", audit),
        ("policy_change_event.schema.json", policy_change),
        ("audit_opened.schema.json", opened),
        ("audit_suppressed.schema.json", suppressed),
        ("audit_checkpoint.schema.json", checkpoint),
        ("audit_verify_report.schema.json", verify),
        ("error.schema.json", error),
        ("gateway_denial.schema.json", gateway_denial),
        ("validation_report.schema.json", validation),
        ("diff_report.schema.json", diff),
        ("replay_report.schema.json", replay),
        ("replay_change.schema.json", replay_change),
        ("openapi.json", openapi),
    ]
}

/// Rewrites `#/$defs/X` references to `#/components/schemas/X`.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "$ref" {
                    if let Some(s) = v.as_str()
                        && let Some(name) = s.strip_prefix("#/$defs/")
                    {
                        *v = Value::String(format!("#/components/schemas/{name}"));
                    }
                } else {
                    rewrite_refs(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// The OpenAPI 3.1 document: the generated schemas, their `$defs` hoisted into
/// `components/schemas` (a definition shared by several contracts must be identical).
fn openapi(roots: &[(&str, &Value)]) -> Value {
    let mut components = Map::new();
    let mut add = |name: &str, mut schema: Value| {
        rewrite_refs(&mut schema);
        if let Some(existing) = components.get(name) {
            assert_eq!(
                existing, &schema,
                "two contracts define `{name}` differently"
            );
        } else {
            components.insert(name.to_owned(), schema);
        }
    };
    for (name, root) in roots {
        let mut root = (*root).clone();
        let obj = root.as_object_mut().unwrap();
        obj.remove("$schema");
        obj.remove("$comment");
        if let Some(Value::Object(defs)) = obj.remove("$defs") {
            for (def_name, def) in defs {
                add(&def_name, def);
            }
        }
        add(name, root);
    }
    let error = json!({
        "description": "Refused: the contract's error body; an enforcer treats it as BLOCK.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    });
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "PolicyGate PDP",
            "version": "1",
            "description": "The decision interface of PolicyGate (contract version 1). Every non-2xx answer carries the error body, including those to malformed HTTP on any path: 400 bad_request (bad request line, header or framing; an HTTP/1.1 request without Host), 414 uri_too_long, 431 headers_too_large. Bearer authentication applies to /evaluate, /explain, /authz, the LiteLLM guardrail endpoint and /metrics, only when the service runs with --auth-tokens-file.",
            "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"}
        },
        "paths": {
            "/evaluate": {"post": {
                "operationId": "evaluate",
                "summary": "Decide one request",
                "description": "Validates the facts, evaluates the loaded policy and writes one audit event. Errors: 400 invalid_json, 401 unauthorized, 413 payload_too_large, 415 unsupported_media_type, 422 invalid_request (details carry JSON pointers), 503 unavailable (audit sink failed or request timeout), 500 internal.",
                "security": [{}, {"bearer": []}],
                "parameters": [{
                    "name": "traceparent", "in": "header", "required": false,
                    "description": "W3C Trace Context; its trace id and parent id are recorded in the audit event.",
                    "schema": {"type": "string"}
                }],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EvaluateRequest"}}}},
                "responses": {
                    "200": {"description": "The decision.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EvaluateResponse"}}}},
                    "default": error
                }
            }},
            "/evaluate/batch": {"post": {
                "operationId": "evaluateBatch",
                "summary": "Decide up to 256 requests in order",
                "description": "Same auth and content type as /evaluate; the body may be up to --max-batch-body-bytes (default 2 MiB), each request up to --max-body-bytes. Each request is checked, decided and audited as /evaluate would do it alone (one audit event per item, decision or refusal); the answer lists, in order, each EvaluateResponse or the error body of a refused item. Refusing the whole batch (one audit event): 400 invalid_json (not JSON, or a key repeated in any object), 401 unauthorized, 413 payload_too_large, 415 unsupported_media_type, 422 invalid_request (no `requests` array, another field, more than 256 items), 503 unavailable (the items' audit events could not be written, or the request timeout passed: no decision is returned).",
                "security": [{}, {"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EvaluateBatchRequest"}}}},
                "responses": {
                    "200": {"description": "One result per request, in order.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EvaluateBatchResponse"}}}},
                    "default": error
                }
            }},
            "/explain": {"post": {
                "operationId": "explain",
                "summary": "Explain one decision (only with --enable-explain)",
                "description": "Served only when the service runs with --enable-explain (POLICYGATE_ENABLE_EXPLAIN); otherwise 404. Same body, auth and errors as /evaluate; answers the explain document: the EvaluateResponse /evaluate would give, and the rules in evaluation order down to the deciding one, each with the first failing test of a miss. Audited with event_type policygate.decision.explained; never an enforcement decision.",
                "security": [{}, {"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EvaluateRequest"}}}},
                "responses": {
                    "200": {"description": "The explanation.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ExplainResponse"}}}},
                    "default": error
                }
            }},
            "/authz": {"get": authz(), "post": authz(), "put": authz(), "delete": authz(), "patch": authz(), "head": authz(), "options": authz()},
            "/authz/{original}": {"get": authz_path(), "post": authz_path(), "put": authz_path(), "delete": authz_path(), "patch": authz_path(), "head": authz_path(), "options": authz_path()},
            "/beta/litellm_basic_guardrail_api": {"post": {
                "operationId": "litellmGuardrail",
                "summary": "LiteLLM Generic Guardrail API",
                "description": "LiteLLM's Generic Guardrail API, answered by the policy (docs/litellm.md has the fixed mapping of a call to facts). Audited as /evaluate is. With --auth-tokens-file the token is read from `Authorization: Bearer` or, as LiteLLM's `api_key` setting sends it, from `x-api-key`. Errors: 400 invalid_json, 401 unauthorized, 413 payload_too_large, 415 unsupported_media_type, 422 invalid_request (the mapped facts break the request contract, or an unknown param), 503 unavailable, 500 internal; LiteLLM treats every error as a failed guardrail and blocks the call.",
                "security": [{}, {"bearer": []}, {"litellm_api_key": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LiteLlmGuardrailCall"}}}},
                "responses": {
                    "200": {"description": "What LiteLLM does with the call.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LiteLlmGuardrailAnswer"}}}},
                    "default": error
                }
            }},
            "/health": {"get": {
                "operationId": "health",
                "summary": "Liveness",
                "description": "200 with the active policy and the last reload attempt while the process serves (it never runs without a valid policy). A failing audit sink recovers by itself, so /health does not report it: use /ready to take an instance out of a load balancer.",
                "responses": {
                    "200": {"description": "Serving.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HealthResponse"}}}},
                    "default": error
                }
            }},
            "/ready": {"get": {
                "operationId": "ready",
                "summary": "Readiness",
                "description": "200 (`status` `ready`) while decisions can be served: a valid policy is active (an invalid one is refused at start and never swapped in) and the audit sink works; 503 unavailable while the audit sink is failing (it is retried with backoff) or a write to it has been blocked for longer than the request timeout.",
                "responses": {
                    "200": {"description": "Ready.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HealthResponse"}}}},
                    "default": error
                }
            }},
            "/version": {"get": {
                "operationId": "version",
                "summary": "Build and policy identity",
                "responses": {
                    "200": {"description": "Versions.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VersionResponse"}}}},
                    "default": error
                }
            }},
            "/metrics": {"get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text format 0.0.4)",
                "security": [{}, {"bearer": []}],
                "responses": {
                    "200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}},
                    "default": error
                }
            }},
            "/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                    "200": {"description": "The OpenAPI document.", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "default": error
                }
            }}
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A named token from the service's --auth-tokens-file."},
                "litellm_api_key": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "The same token, as LiteLLM's `api_key` setting sends it (the LiteLLM guardrail endpoint only)."}
            }
        }
    })
}

/// `/authz` (any method; the same operation for each, one operation id per method).
fn authz() -> Value {
    json!({
        "summary": "Gateway forward-auth (only with --gateway-mapping)",
        "description": "Served only when the service runs with --gateway-mapping; otherwise 404. Any method; the body is never read. The original request is the appended path (Envoy HTTP ext_authz: /authz/<original path>, with the original method and query), or X-Original-Method/X-Original-URI (nginx auth_request), or X-Forwarded-Method/X-Forwarded-Uri (Traefik ForwardAuth); its headers are the request's headers. The gateway mapping turns it into an EvaluateRequest, which is decided and audited like /evaluate. 200 (empty body) allows: ALLOW and DEGRADE, with x-policygate-decision, x-policygate-correlation-id, x-policygate-rationale-codes, x-policygate-matched-rule and, for DEGRADE, x-policygate-max-tokens / -max-items / -max-bytes. Denials carry the GatewayDenial body and x-policygate-denial: 403 policy_block and mapping_* codes, the mapping's review_status (default 403) for policy_review, 401 mapping_unauthenticated. Other errors carry the error body: 401 unauthorized (the PDP's own bearer token), 503 unavailable (audit sink failed), 500 internal.",
        "security": [{}, {"bearer": []}],
        "responses": {
            "200": {"description": "Allowed (ALLOW or DEGRADE); the x-policygate-* headers go upstream."},
            "401": {"description": "The mapping finds the caller unauthenticated (mapping_unauthenticated), or the PDP's bearer token is missing (error body, unauthorized).", "content": {"application/json": {"schema": {"oneOf": [{"$ref": "#/components/schemas/GatewayDenial"}, {"$ref": "#/components/schemas/ErrorBody"}]}}}},
            "403": {"description": "Denied: BLOCK, REQUIRE_REVIEW (default status), or a mapping_* code.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GatewayDenial"}}}},
            "default": {"description": "REQUIRE_REVIEW with a configured review_status (GatewayDenial), or an error (error body).", "content": {"application/json": {"schema": {"oneOf": [{"$ref": "#/components/schemas/GatewayDenial"}, {"$ref": "#/components/schemas/ErrorBody"}]}}}}
        }
    })
}

/// [`authz`] under `/authz/{original}`: the same operation, with its path parameter.
fn authz_path() -> Value {
    let mut op = authz();
    op["parameters"] = json!([{
        "name": "original",
        "in": "path",
        "required": true,
        "description": "The original request's path, as Envoy's HTTP ext_authz appends it (its first segment here; later segments follow it).",
        "schema": {"type": "string"}
    }]);
    op
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    text
}

#[test]
fn contract_files_match_the_rust_types() {
    let dir = contracts_dir();
    let update = std::env::var("UPDATE_CONTRACTS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, value) in generated() {
        let path = dir.join(name);
        let text = pretty(&value);
        if update {
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "contracts {stale:?} differ from the Rust types; if the change is deliberate (a contract change is a versioned act), run `UPDATE_CONTRACTS=1 cargo test -p policygate-server --test it contracts` and commit the result"
    );
}

#[test]
fn every_contract_is_a_valid_draft_2020_12_schema() {
    // Compiling validates each schema against the 2020-12 meta-schema.
    let s = schemas();
    assert_valid(
        &s.error,
        &json!({"error": {"code": "not_found", "message": "m"}}),
        "error body",
    );
    assert!(
        !s.error
            .is_valid(&json!({"error": {"code": "teapot", "message": "m"}}))
    );
}

/// Requests on both sides of every rule of the contract: the schema and
/// `EvaluateRequest::from_value` must agree on each.
fn request_corpus() -> Vec<Value> {
    let base = json!({"action": "infer:run", "env": {"name": "prod"},
                      "resource": {"type": "document", "sensitivity": "public"}});
    let with = |pointer: &str, v: Value| {
        let mut r = base.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut r
        } else {
            r.pointer_mut(parent).unwrap()
        };
        target.as_object_mut().unwrap().insert(key.to_owned(), v);
        r
    };
    let without = |key: &str| {
        let mut r = base.clone();
        r.as_object_mut().unwrap().remove(key);
        r
    };
    let mut many_signals = Map::new();
    for i in 0..50 {
        many_signals.insert(format!("s{i}"), json!(i));
    }
    let mut too_many = many_signals.clone();
    too_many.insert("s50".into(), json!(1));
    vec![
        base.clone(),
        json!([]),
        json!("x"),
        without("action"),
        without("env"),
        without("resource"),
        with("/bogus", json!(1)),
        with("/request_id", json!("r")),
        with("/request_id", json!("")),
        with("/request_id", json!("x".repeat(128))),
        with("/request_id", json!("x".repeat(129))),
        with("/request_id", json!(null)),
        with("/request_id", json!(7)),
        with("/timestamp", json!("2026-11-25T09:38:13Z")),
        with("/timestamp", json!("2026-11-25T09:38:13.5+01:00")),
        with("/timestamp", json!("yesterday")),
        with("/action", json!("infer:runn")),
        with("/action", json!("policy:admin")),
        with("/env/name", json!("-prod")),
        with("/env/name", json!("a".repeat(64))),
        with("/env/name", json!("a".repeat(65))),
        with("/env/other", json!("x")),
        with("/resource/type", json!("1doc")),
        with("/resource/sensitivity", json!("secret")),
        with("/resource/id", json!("")),
        with("/resource/id", json!("i".repeat(256))),
        with("/resource/id", json!("i".repeat(257))),
        with("/resource/owner", json!("x")),
        with("/subject", json!(null)),
        with("/subject", json!({})),
        with("/subject", json!({"type": "service", "id": "s"})),
        with("/subject", json!({"type": "9x"})),
        with("/subject", json!({"type": "s".repeat(33)})),
        with("/subject", json!({"role": "admin"})),
        with("/subject", json!("me")),
        with("/signals", json!(null)),
        with("/signals", json!([])),
        with(
            "/signals",
            json!({"risk_score": 0.5, "n": 3, "b": true, "z": null, "s": "x"}),
        ),
        with("/signals", json!({"Bad": 1})),
        with("/signals", json!({"a-b": 1})),
        with("/signals", json!({format!("a{}", "b".repeat(40)): 1})),
        with("/signals", json!({format!("a{}", "b".repeat(41)): 1})),
        with("/signals", json!({"s": "x".repeat(256)})),
        with("/signals", json!({"s": "x".repeat(257)})),
        with("/signals", json!({"l": ["a", "b"]})),
        with("/signals", json!({"l": vec!["a"; 64]})),
        with("/signals", json!({"l": vec!["a"; 65]})),
        with("/signals", json!({"l": ["a", 1]})),
        with("/signals", json!({"l": ["x".repeat(257)]})),
        with("/signals", json!({"o": {"nested": 1}})),
        with("/signals", Value::Object(many_signals)),
        with("/signals", Value::Object(too_many)),
    ]
}

#[test]
fn request_schema_agrees_with_the_request_validator() {
    let schema = &schemas().request;
    for request in request_corpus() {
        let by_code = EvaluateRequest::from_value(&request).is_ok();
        let by_schema = schema.is_valid(&request);
        assert_eq!(
            by_code, by_schema,
            "validator says {by_code}, schema says {by_schema} for {request}"
        );
    }
}

fn yaml_to_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str::<Value>(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

#[test]
fn policy_schema_accepts_the_policies_we_ship() {
    let schema = &schemas().policy;
    let root = contracts_dir().join("..");
    let mut paths = vec![
        fixture("policy.yaml"),
        fixture("invalid.yaml"),
        root.join("policy/policy.yaml"),
    ];
    if let Ok(entries) = std::fs::read_dir(root.join("examples/policies")) {
        for entry in entries.flatten() {
            paths.push(entry.path().join("policy.yaml"));
        }
    }
    let mut checked = 0;
    for path in paths.iter().filter(|p| p.exists()) {
        assert_valid(schema, &yaml_to_json(path), &path.display().to_string());
        checked += 1;
    }
    assert!(checked >= 2);
}

#[test]
fn test_file_schema_accepts_the_suites_we_ship_and_refuses_mistakes() {
    let text = std::fs::read_to_string(contracts_dir().join("policy_test.schema.json")).unwrap();
    let schema = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
    let suite = yaml_to_json(&contracts_dir().join("../policy/policy_test.yaml"));
    assert_valid(&schema, &suite, "policy/policy_test.yaml");
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut s = suite.clone();
        edit(&mut s);
        s
    };
    for bad in [
        broken(&|s| s["cases"][0]["expect"]["matched_rule"] = json!("x")),
        broken(&|s| s["cases"][0]["expect"]["decision"] = json!("MAYBE")),
        broken(&|s| s["cases"] = json!([])),
        broken(&|s| {
            s.as_object_mut().unwrap().remove("policy");
        }),
        broken(&|s| {
            s["cases"][0]["expect"]["default"] = json!(true);
        }),
    ] {
        assert!(!schema.is_valid(&bad), "accepted {bad:#}");
    }
}

#[test]
fn explain_output_satisfies_its_schema() {
    let text = std::fs::read_to_string(contracts_dir().join("explain.schema.json")).unwrap();
    let schema = jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap();
    let policy = crate::common::load_policy();
    for body in [
        json!({"action": "infer:run", "env": {"name": "prod"}, "resource": {"type": "doc", "sensitivity": "public"}}),
        json!({"action": "tool:invoke", "env": {"name": "prod"}, "resource": {"type": "doc", "sensitivity": "restricted"}, "subject": {"type": "user"}}),
    ] {
        let request = EvaluateRequest::from_value(&body).unwrap();
        for all in [false, true] {
            let explained =
                serde_json::to_value(policy.explain(&request, "c".into(), all)).unwrap();
            assert_valid(&schema, &explained, "an explanation");
        }
    }
}

#[test]
fn policy_schema_refuses_structural_mistakes() {
    let schema = &schemas().policy;
    let good = yaml_to_json(&fixture("policy.yaml"));
    assert!(schema.is_valid(&good));
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut p = good.clone();
        edit(&mut p);
        p
    };
    let cases = [
        broken(&|p| {
            p["rules"][0]["prority"] = json!(1);
        }),
        broken(&|p| {
            p.as_object_mut().unwrap().remove("default");
        }),
        broken(&|p| p["rules"] = json!([])),
        broken(&|p| p["rules"][0]["priority"] = json!(-1)),
        broken(&|p| p["rules"][0]["then"]["decision"] = json!("MAYBE")),
        broken(&|p| p["rules"][0]["then"]["rationale_codes"] = json!([])),
        // DEGRADE without obligations, obligations on ALLOW, unknown obligation type.
        broken(&|p| {
            p["rules"][1]["then"]
                .as_object_mut()
                .unwrap()
                .remove("obligations");
        }),
        broken(&|p| {
            p["rules"][0]["then"]["obligations"] =
                json!([{"type": "OUTPUT_CAP", "params": {"max_tokens": 1}}])
        }),
        broken(&|p| {
            p["rules"][1]["then"]["obligations"] = json!([{"type": "REDACT", "params": {}}])
        }),
        broken(&|p| p["rules"][1]["then"]["obligations"][0]["params"] = json!({"max_tokens": 0})),
        broken(&|p| p["rules"][0]["when"]["resource"]["sensitivty"] = json!("public")),
        broken(&|p| p["rules"][0]["when"]["signals"] = json!({"x": {"gtt": 1}})),
        broken(&|p| p["facts"]["pii_detected"] = json!({"type": "bool"})),
    ];
    for (i, case) in cases.iter().enumerate() {
        assert!(
            !schema.is_valid(case),
            "case {i} should be refused: {case:#}"
        );
    }
    // The operators of policy-language.md are accepted.
    let operators = broken(&|p| {
        p["rules"][0]["when"] = json!({
            "action": {"in": ["infer:run", "data:read"]},
            "env": {"name": {"starts_with": "prod"}},
            "resource": {"sensitivity": {"ne": "restricted"}, "id": {"matches": "^doc-"}},
            "subject": {"exists": true},
            "signals": {"prompt_tokens": {"gt": 4000, "lte": 128000}, "tags": {"contains": "phi"}, "trust": {"not_in": ["low"]}, "ok": {"eq": true}},
            "any": [{"subject": {"type": "service"}}, {"signals": {"pii_detected": true}}],
            "not": {"env": {"name": "dev"}},
            "all": [{"action": "infer:run"}, {"signals": {"risk_score": {"gte": 0.1, "lt": 0.9}}}]
        });
    });
    assert_valid(schema, &operators, "policy with every operator");
}

#[test]
fn openapi_document_is_served_and_resolves() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(contracts_dir().join("openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    // Every reference points at a component that exists.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v.as_str()) {
                        ("$ref", Some(r)) => out.push(r),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 10);
    for r in all {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external ref {r}"));
        assert!(doc.pointer(pointer).is_some(), "dangling {r}");
    }
    // The component schemas validate like the contract files.
    let mut wrapper = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/components/schemas/EvaluateResponse",
    });
    wrapper["components"] = doc["components"].clone();
    let v = jsonschema::draft202012::new(&wrapper).unwrap();
    let response = json!({"correlation_id": "c", "decision": "ALLOW", "rationale_codes": ["A"],
        "policy": {"policy_id": "p", "policy_version": "1", "policy_sha256": "a".repeat(64)}});
    assert!(v.is_valid(&response));
    let mut degrade = response.clone();
    degrade["decision"] = json!("DEGRADE");
    assert!(!v.is_valid(&degrade), "DEGRADE needs obligations");
}

/// The engine's reports of a valid and an invalid policy, assembled as `validate`
/// does, follow the validation report schema (the CLI's tests check its real output).
#[test]
fn validation_reports_follow_their_schema() {
    let schema = load_schema("validation_report.schema.json");
    let mut files = Vec::new();
    for name in ["policy.yaml", "invalid.yaml"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let (policy, report) = policygate_core::load(name, &bytes, &LoadOptions { strict: true });
        let mut file = report.to_file_report();
        if let Some(p) = &policy {
            file.policy = Some(p.identity().clone());
            file.rule_count = Some(p.rule_count());
        }
        assert_eq!(file.valid, policy.is_some());
        files.push(FileReport::Checked(file));
    }
    let report = ValidationReport {
        files,
        valid: false,
    };
    let value = serde_json::to_value(&report).unwrap();
    assert_valid(&schema, &value, "validation report");
    assert!(
        value["files"][1]["errors"].as_array().unwrap().len() > 1,
        "{value:#}"
    );
    let mut broken = value.clone();
    broken["files"][1]["errors"][0]["severity"] = json!("fatal");
    assert!(!schema.is_valid(&broken));
    let unreadable =
        json!({"files": [{"file": "x", "io_error": "gone", "valid": false}], "valid": false});
    assert_valid(&schema, &unreadable, "unreadable file");
}
