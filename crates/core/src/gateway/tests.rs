//! Unit tests of the gateway mapping: the shipped example against the example policy,
//! every decision and every denial reason, and path patterns.

use super::*;
use crate::{LoadOptions, load};

const POLICY: &str = include_str!("../../../../policy/policy.yaml");
const MAPPING: &str = include_str!("../../../../policy/gateway-mapping.yaml");

fn policy() -> Policy {
    let (p, report) = load("policy.yaml", POLICY.as_bytes(), &LoadOptions::default());
    p.unwrap_or_else(|| panic!("{}", report.render_human(false)))
}

fn mapping(policy: &Policy) -> Mapping {
    let (m, report) = Mapping::load("gateway-mapping.yaml", MAPPING.as_bytes(), policy);
    assert!(
        report.warnings().is_empty(),
        "{}",
        report.render_human(false)
    );
    m.unwrap_or_else(|| panic!("{}", report.render_human(false)))
}

fn req(method: &str, target: &str, headers: &[(&str, &str)]) -> GatewayRequest {
    let mut r = GatewayRequest::new(method, target);
    r.header("X-User-Id", "u1");
    for (k, v) in headers {
        r.header(k, v);
    }
    r
}

#[test]
fn the_example_reaches_every_decision() {
    let policy = policy();
    let m = mapping(&policy);
    let cases = [
        (
            req(
                "POST",
                "/v1/chat/completions",
                &[("x-data-sensitivity", "public")],
            ),
            DecisionKind::Allow,
            200,
        ),
        (
            req(
                "POST",
                "/v1/chat/completions",
                &[("x-data-sensitivity", "internal")],
            ),
            DecisionKind::Degrade,
            200,
        ),
        (
            req("POST", "/v1/chat/completions", &[]),
            DecisionKind::RequireReview,
            403,
        ),
        (
            req("POST", "/v1/chat/completions", &[("x-risk-score", "0.95")]),
            DecisionKind::Block,
            403,
        ),
    ];
    for (r, want, status) in cases {
        let er = m.apply(&r).unwrap_or_else(|d| panic!("{d:?}"));
        policy.check_request(&er).unwrap();
        let d = policy.evaluate(&er);
        assert_eq!(d.decision, want);
        let v = m.verdict(&d, "c1", policy.identity());
        assert_eq!(v.status, status, "{want:?}");
        assert_eq!(v.allowed, status == 200);
        assert!(
            v.headers
                .contains(&(HEADER_DECISION, want.as_str().to_owned()))
        );
        assert!(
            v.headers
                .contains(&(HEADER_CORRELATION_ID, "c1".to_owned()))
        );
        if want == DecisionKind::Degrade {
            assert!(v.headers.contains(&(HEADER_MAX_TOKENS, "256".to_owned())));
        }
        if want == DecisionKind::RequireReview {
            assert!(v.headers.iter().any(|(h, _)| *h == HEADER_REVIEW_REASON));
            let body = v.body.as_ref().unwrap();
            assert_eq!(body.error.code, GatewayDenialCode::PolicyReview);
            assert!(
                body.error
                    .review_reason
                    .as_deref()
                    .unwrap()
                    .contains("RESTRICTED_DATA_REVIEW")
            );
        }
        if want == DecisionKind::Block {
            let body: serde_json::Value = serde_json::from_slice(&v.body_bytes()).unwrap();
            assert_eq!(body["error"]["code"], "policy_block");
            assert_eq!(body["error"]["rationale_codes"][0], "RISK_SCORE_TOO_HIGH");
        }
    }
}

#[test]
fn facts_come_from_captures_headers_and_context_coerced_to_declared_types() {
    let policy = policy();
    let m = mapping(&policy);
    let mut r = req(
        "post",
        "/v1/tools/shell.exec/invoke",
        &[
            ("x-caller-trust", "high"),
            ("x-pii-detected", "TRUE"),
            ("x-prompt-tokens", "12"),
            ("x-data-categories", "phi, pii,"),
            ("x-request-id", "gw-1"),
        ],
    );
    r.context_extensions.insert("env".into(), "staging".into());
    let er = m.apply(&r).unwrap();
    assert_eq!(er.action, Action::ToolInvoke);
    assert_eq!(er.env.name, "staging");
    assert_eq!(er.resource.kind, "tool");
    assert_eq!(er.resource.id.as_deref(), Some("shell.exec"));
    assert_eq!(er.request_id.as_deref(), Some("gw-1"));
    assert_eq!(
        er.subject.as_ref().and_then(|s| s.id.as_deref()),
        Some("u1")
    );
    assert_eq!(
        er.signal("tool_name"),
        Some(&SignalValue::Str("shell.exec".into()))
    );
    assert_eq!(er.signal("pii_detected"), Some(&SignalValue::Bool(true)));
    assert_eq!(er.signal("prompt_tokens"), Some(&SignalValue::Int(12)));
    assert_eq!(
        er.signal("data_categories"),
        Some(&SignalValue::List(vec!["phi".into(), "pii".into()]))
    );
    assert_eq!(er.signal("risk_score"), None);
}

#[test]
fn every_denial_has_its_reason() {
    let policy = policy();
    let m = mapping(&policy);
    let code = |r: &GatewayRequest| m.apply(r).unwrap_err().code;
    let mut anonymous = GatewayRequest::new("POST", "/v1/chat/completions");
    anonymous.header("x-data-sensitivity", "public");
    assert_eq!(code(&anonymous), GatewayDenialCode::MappingUnauthenticated);
    let denial = m.apply(&anonymous).unwrap_err();
    assert_eq!(m.denial_verdict(&denial, "c").status, 401);
    assert_eq!(
        code(&req("GET", "/v1/chat/completions", &[])),
        GatewayDenialCode::MappingNoAction
    );
    assert_eq!(
        code(&req("POST", "/nowhere", &[])),
        GatewayDenialCode::MappingNoAction
    );
    let bad = m
        .apply(&req(
            "POST",
            "/v1/chat/completions",
            &[("x-risk-score", "high")],
        ))
        .unwrap_err();
    assert_eq!(bad.code, GatewayDenialCode::MappingBadValue);
    assert_eq!(bad.fact.as_deref(), Some("signals.risk_score"));
    assert!(
        bad.message.contains("header `x-risk-score`"),
        "{}",
        bad.message
    );
    assert_eq!(m.denial_verdict(&bad, "c").status, 403);
    assert_eq!(
        code(&req(
            "POST",
            "/v1/chat/completions",
            &[("x-risk-score", "7")]
        )),
        GatewayDenialCode::MappingBadValue
    );
    assert_eq!(
        code(&req(
            "POST",
            "/v1/chat/completions",
            &[("x-caller-trust", "root")]
        )),
        GatewayDenialCode::MappingBadValue
    );
    assert_eq!(
        code(&req(
            "POST",
            "/v1/chat/completions",
            &[("x-data-sensitivity", "secret")]
        )),
        GatewayDenialCode::MappingBadValue
    );
    assert_eq!(
        code(&req("GET", "/v1/documents/..", &[])),
        GatewayDenialCode::MappingBadPath
    );
    assert_eq!(
        code(&req("GET", "/v1/documents/%2e%2e", &[])),
        GatewayDenialCode::MappingBadPath
    );
    assert_eq!(
        code(&req("GET", "/v1//documents/a", &[])),
        GatewayDenialCode::MappingBadPath
    );
    assert_eq!(
        code(&req("GET", "/v1/documents/%ff", &[])),
        GatewayDenialCode::MappingBadPath
    );
}

#[test]
fn patterns() {
    let p = |s: &str| load::parse_pattern(s);
    assert!(p("/a/{b}/*/{*rest}").is_ok());
    assert!(p("a").is_err());
    assert!(p("/a/{*rest}/b").is_err());
    assert!(p("/a/{b}/{b}").is_err());
    assert!(p("/a/x{b}").is_err());
    assert!(p("/a?b=1").is_err());
    let route = |path: &str| Route {
        name: "r".into(),
        methods: vec!["GET".into()],
        pattern: Some(p(path).unwrap()),
        facts: Vec::new(),
    };
    let get = |path: &str| GatewayRequest::new("GET", path);
    let r = route("/docs/{id}/{*rest}");
    let c = r.matches(&get("/docs/a%20b/x/y")).unwrap();
    assert_eq!(c["id"], "a b");
    assert_eq!(c["rest"], "x/y");
    assert!(r.matches(&get("/docs/a")).is_none());
    assert!(
        r.matches(&GatewayRequest::new("POST", "/docs/a/x"))
            .is_none()
    );
    assert!(route("/").matches(&get("/")).is_some());
    assert!(route("/a/*").matches(&get("/a/")).is_none());
}

#[test]
fn query_parameters_are_decoded_and_never_repeated() {
    let policy = policy();
    let text = MAPPING.replace(
        "signals.caller_trust: { header: x-caller-trust, default: low }",
        "signals.caller_trust: { query: trust, default: low }",
    );
    let (m, report) = Mapping::load("m.yaml", text.as_bytes(), &policy);
    let m = m.unwrap_or_else(|| panic!("{}", report.render_human(false)));
    let er = m
        .apply(&req("POST", "/v1/chat/completions?x=1&trust=hig%68", &[]))
        .unwrap();
    assert_eq!(
        er.signal("caller_trust"),
        Some(&SignalValue::Str("high".into()))
    );
    let d = m
        .apply(&req(
            "POST",
            "/v1/chat/completions?trust=high&trust=low",
            &[],
        ))
        .unwrap_err();
    assert_eq!(d.code, GatewayDenialCode::MappingBadValue);
}

#[test]
fn metadata_values_keep_their_json_type() {
    let policy = policy();
    let text = MAPPING.replace(
        "signals.risk_score: { header: x-risk-score }",
        "signals.risk_score: { metadata: envoy.filters.http.ext_proc, key: risk.score }",
    );
    let (m, report) = Mapping::load("m.yaml", text.as_bytes(), &policy);
    let m = m.unwrap_or_else(|| panic!("{}", report.render_human(false)));
    let mut r = req(
        "POST",
        "/v1/chat/completions",
        &[("x-data-sensitivity", "public")],
    );
    r.metadata.insert(
        "envoy.filters.http.ext_proc".into(),
        serde_json::json!({"risk": {"score": 0.95}}),
    );
    let er = m.apply(&r).unwrap();
    assert_eq!(er.signal("risk_score"), Some(&SignalValue::Float(0.95)));
    r.metadata.insert(
        "envoy.filters.http.ext_proc".into(),
        serde_json::json!({"risk": {"score": [1]}}),
    );
    assert_eq!(
        m.apply(&r).unwrap_err().code,
        GatewayDenialCode::MappingBadValue
    );
}
