//! Gateway fact mapping: how a request seen by a gateway (Envoy ext_authz over gRPC or
//! HTTP, nginx `auth_request`, Traefik ForwardAuth) becomes an [`EvaluateRequest`], and
//! how a decision becomes the gateway's verdict. Both the HTTP `/authz` endpoint and
//! the Envoy gRPC server use this module and nothing else for either step, so a
//! gateway answers the same way whichever protocol it speaks.
//!
//! It is pure, like the rest of the engine: [`Mapping::load`] reads a mapping file's
//! bytes with the policy loader's YAML tree and diagnostics (line:col, stable codes
//! `policygate::mapping::*` for its meaning, the parse codes for its structure,
//! did-you-mean) and checks it **against the policy** it will feed (fact paths, the
//! declared type of every signal, constants inside their fact's domain, path
//! captures); [`Mapping::apply`] turns a [`GatewayRequest`] into a contract-valid
//! request or a [`MappingDenial`] with a stable code; [`Mapping::verdict`] and
//! [`Mapping::denial_verdict`] are the one translation to a [`Verdict`] (allow or
//! deny, status, `x-policygate-*` headers, denial body).
//!
//! The syntax is documented in `docs/gateways.md`; `policy/gateway-mapping.yaml` is the
//! example for `policy/policy.yaml`.

mod load;
#[cfg(test)]
mod tests;

use crate::Decision;
use crate::diag::Report;
use crate::model::{Domain, Fact};
use crate::{Policy, check_declared};
use policygate_api::{
    Action, DecisionKind, Env, EvaluateRequest, GatewayDenial, GatewayDenialCode,
    GatewayDenialDetail, HEADER_CORRELATION_ID, HEADER_DECISION, HEADER_DENIAL,
    HEADER_MATCHED_RULE, HEADER_MAX_BYTES, HEADER_MAX_ITEMS, HEADER_MAX_TOKENS,
    HEADER_RATIONALE_CODES, HEADER_REVIEW_REASON, Obligation, PolicyIdentity, Resource,
    Sensitivity, SignalValue, Subject,
};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The status of a REQUIRE_REVIEW denial when the mapping sets no `review_status`.
pub const DEFAULT_REVIEW_STATUS: u16 = 403;

/// A gateway request, whatever the gateway: what [`Mapping::apply`] reads facts from.
///
/// The HTTP `/authz` endpoint fills it from the forward-auth request (the original
/// method and URI from `X-Original-*`/`X-Forwarded-*` headers or the `/authz/<path>`
/// suffix); the Envoy gRPC server from `CheckRequest.attributes`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GatewayRequest {
    /// The original request's method, e.g. `POST` (compared case-insensitively).
    pub method: String,
    /// The original request's path, without the query string, as sent (not
    /// percent-decoded; captures are decoded when read).
    pub path: String,
    /// The raw query string, without the `?`; empty when there is none.
    pub query: String,
    /// The original request's headers, names lower-cased; a repeated header's values
    /// joined with `,` (as Envoy does).
    pub headers: BTreeMap<String, String>,
    /// Envoy's `context_extensions` (set per route in Envoy's configuration).
    pub context_extensions: BTreeMap<String, String>,
    /// Envoy's `metadata_context.filter_metadata`: filter name → its `Struct` as JSON.
    pub metadata: BTreeMap<String, Value>,
}

impl GatewayRequest {
    /// A request for `method` and a request target (`/path?query`).
    pub fn new(method: &str, target: &str) -> GatewayRequest {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, q),
            None => (target, ""),
        };
        GatewayRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            ..GatewayRequest::default()
        }
    }

    /// The gateway's request id (the `x-request-id` header) when the contract accepts
    /// it as a `request_id` (1..=128 characters): the correlation id of the decision.
    pub fn request_id(&self) -> Option<&str> {
        self.headers
            .get("x-request-id")
            .map(String::as_str)
            .filter(|id| (1..=policygate_api::MAX_REQUEST_ID_CHARS).contains(&id.chars().count()))
    }

    /// Adds a header (name lower-cased; a repeated one joined with `,`).
    pub fn header(&mut self, name: &str, value: &str) {
        self.insert_header(name.to_ascii_lowercase(), Cow::Borrowed(value));
    }

    /// [`GatewayRequest::header`], taking the name and value it would otherwise copy
    /// (for a caller that owns them, such as a decoded `CheckRequest`).
    pub fn header_owned(&mut self, mut name: String, value: String) {
        name.make_ascii_lowercase();
        self.insert_header(name, Cow::Owned(value));
    }

    fn insert_header(&mut self, name: String, value: Cow<'_, str>) {
        match self.headers.entry(name) {
            std::collections::btree_map::Entry::Occupied(mut joined) => {
                let v = joined.get_mut();
                v.push(',');
                v.push_str(&value);
            }
            std::collections::btree_map::Entry::Vacant(first) => {
                first.insert(value.into_owned());
            }
        }
    }
}

/// The values a mapping read for one request, by fact path.
type Values<'m> = BTreeMap<&'m str, (&'m Target, SignalValue)>;

/// Moves the text value of `path` out of `values`; a value of another type stays (it
/// is no text fact's value, so the fact counts as absent).
fn take_text(values: &mut Values<'_>, path: &str) -> Option<String> {
    match values.remove(path)? {
        (_, SignalValue::Str(s)) => Some(s),
        other => {
            values.insert(other.0.path.as_str(), other);
            None
        }
    }
}

/// Why a gateway request could not become an evaluate request: a deny, never an
/// error of the PDP. `code` is stable and documented; `message` says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingDenial {
    /// The stable reason.
    pub code: GatewayDenialCode,
    /// One line for people: which value, from where, and why.
    pub message: String,
    /// The fact concerned (`action`, `signals.risk_score`, …), when there is one.
    pub fact: Option<String>,
}

impl MappingDenial {
    fn new(code: GatewayDenialCode, fact: Option<&str>, message: impl Into<String>) -> Self {
        MappingDenial {
            code,
            message: message.into(),
            fact: fact.map(str::to_owned),
        }
    }

    /// The denial of a request the policy's own checks refused (a declared signal's
    /// type or range, a required signal missing): what the servers answer when
    /// `Policy::check_request` refuses a mapped request.
    pub fn invalid_request(problems: &[policygate_api::Problem]) -> MappingDenial {
        MappingDenial::new(
            GatewayDenialCode::MappingInvalidRequest,
            problems.first().map(|p| p.path.as_str()),
            format!(
                "the facts mapped from the gateway request are not a request the policy accepts: {}",
                policygate_api::Problem::summary(problems)
            ),
        )
    }
}

/// What a gateway must do: the one translation of a decision (or a mapping denial)
/// that HTTP forward-auth and Envoy gRPC ext_authz both answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Let the request through (ALLOW, DEGRADE).
    pub allowed: bool,
    /// The HTTP status: 200 when allowed, else 403, the mapping's `review_status`
    /// (REQUIRE_REVIEW) or 401 (the mapping says the caller is unauthenticated).
    pub status: u16,
    /// `x-policygate-*` headers, in a fixed order: for an allowed request the gateway
    /// passes them upstream (the obligations among them), for a denial to the client.
    pub headers: Vec<(&'static str, String)>,
    /// The denial body (JSON, `contracts/gateway_denial.schema.json`); `None` when allowed.
    pub body: Option<GatewayDenial>,
}

impl Verdict {
    /// The denial body as JSON bytes; empty when allowed.
    pub fn body_bytes(&self) -> Vec<u8> {
        match &self.body {
            // A struct of strings always serialises; the fallback keeps a body anyway.
            Some(b) => serde_json::to_vec(b).unwrap_or_else(|_| {
                br#"{"error":{"code":"policy_block","message":"denied","correlation_id":""}}"#
                    .to_vec()
            }),
            None => Vec::new(),
        }
    }
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Header(String),
    Query(String),
    Capture(String),
    Context(String),
    Metadata {
        filter: String,
        key: Vec<String>,
    },
    /// Checked against the fact's domain at load.
    Const(SignalValue),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::Header(h) => format!("header `{h}`"),
            Source::Query(q) => format!("query parameter `{q}`"),
            Source::Capture(c) => format!("path capture `{c}`"),
            Source::Context(c) => format!("context extension `{c}`"),
            Source::Metadata { filter, key } => {
                format!("metadata `{filter}` key `{}`", key.join("."))
            }
            Source::Const(_) => "constant".to_owned(),
        }
    }
}

/// How one fact gets its value.
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    source: Source,
    /// Used when the source is absent (checked against the domain at load).
    default: Option<SignalValue>,
    /// Absent (and no default) denies with `mapping_missing_value`.
    required: bool,
    /// For list facts: the separator of a text value (default `,`).
    split: String,
}

/// A mapped fact: its path, what it is, the domain the policy gives it, and its spec.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    path: String,
    fact: Fact,
    domain: Domain,
    spec: Spec,
}

/// One path segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*`: any one segment.
    Any,
    /// `{name}`: one segment, captured.
    Capture(String),
    /// `{*name}` (last only): the rest of the path, one segment or more, captured.
    Rest(String),
}

/// One route: which requests it matches and the facts it sets over the global ones.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    name: String,
    /// Upper-case; empty matches every method.
    methods: Vec<String>,
    /// `None` matches every path.
    pattern: Option<Vec<Segment>>,
    facts: Vec<Target>,
}

/// A validated gateway mapping, bound to the facts of the policy it was checked
/// against. Immutable; share it behind an `Arc`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    routes: Vec<Route>,
    /// Facts every route starts from (a route's own facts replace them one by one).
    facts: Vec<Target>,
    /// The caller is authenticated when any of these is present; empty: always.
    authenticated_by: Vec<Source>,
    review_status: u16,
}

impl Mapping {
    /// Reads and validates a mapping file against `policy` (every problem reported,
    /// as for policies). Returns `Some` exactly when the report has no errors.
    pub fn load(source_name: &str, bytes: &[u8], policy: &Policy) -> (Option<Mapping>, Report) {
        load::load(source_name, bytes, policy)
    }

    /// The status of a REQUIRE_REVIEW denial (`review_status`, default 403).
    pub fn review_status(&self) -> u16 {
        self.review_status
    }

    /// Turns a gateway request into a contract-valid evaluate request: the caller's
    /// authentication (401), then the first route that matches (no match:
    /// `mapping_no_action`), then every fact from its source, coerced to the type the
    /// policy declares. `request_id` is the `x-request-id` header when the contract
    /// accepts it. `caller` is left `None`: the server sets it.
    pub fn apply(&self, request: &GatewayRequest) -> Result<EvaluateRequest, MappingDenial> {
        if !self.authenticated_by.is_empty() {
            let empty = BTreeMap::new();
            let present = self.authenticated_by.iter().any(|s| {
                match read(s, request, &empty, "authenticated_by") {
                    Ok(Some(Read::Text(t))) => !t.is_empty(),
                    Ok(Some(Read::Json(_) | Read::Value(_))) => true,
                    Ok(None) | Err(_) => false,
                }
            });
            if !present {
                let names: Vec<String> =
                    self.authenticated_by.iter().map(Source::describe).collect();
                return Err(MappingDenial::new(
                    GatewayDenialCode::MappingUnauthenticated,
                    None,
                    format!(
                        "the caller is not authenticated: the gateway request has none of {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        check_path(&request.path)?;
        let mut matched = None;
        for route in &self.routes {
            if let Some(captures) = route.matches(request) {
                matched = Some((route, captures));
                break;
            }
        }
        let empty = (None, BTreeMap::new());
        let (route, captures) = match matched {
            Some((r, c)) => (Some(r), c),
            None => empty,
        };
        if route.is_none()
            && !self.routes.is_empty()
            && !self.facts.iter().any(|t| t.fact == Fact::Action)
        {
            return Err(MappingDenial::new(
                GatewayDenialCode::MappingNoAction,
                Some("action"),
                format!(
                    "no route of the mapping matches {} {}, so the request has no action",
                    policygate_api::clip(&request.method),
                    policygate_api::clip(&request.path)
                ),
            ));
        }
        let route_facts: &[Target] = route.map_or(&[], |r| r.facts.as_slice());
        let mut values: Values<'_> = BTreeMap::new();
        let mut absent: Vec<&Target> = Vec::new();
        let overridden = |t: &Target| route_facts.iter().any(|r| r.path == t.path);
        for target in self
            .facts
            .iter()
            .filter(|t| !overridden(t))
            .chain(route_facts)
        {
            match value(target, request, &captures)? {
                Some(v) => {
                    values.insert(target.path.as_str(), (target, v));
                }
                None => absent.push(target),
            }
        }
        // The request's text facts are moved out of `values`; what stays is signals.
        let need = |values: &mut Values<'_>, path: &str| {
            take_text(values, path).ok_or_else(|| {
                let from = absent
                    .iter()
                    .find(|t| t.path == path)
                    .map(|t| format!(" (from {})", t.spec.source.describe()))
                    .unwrap_or_default();
                let code = if path == "action" && from.is_empty() {
                    GatewayDenialCode::MappingNoAction
                } else {
                    GatewayDenialCode::MappingMissingValue
                };
                MappingDenial::new(
                    code,
                    Some(path),
                    format!("the gateway request gives no value for `{path}`{from}, which every request needs"),
                )
            })
        };
        let action_text = need(&mut values, "action")?;
        let action = Action::parse(&action_text).ok_or_else(|| {
            bad_value(
                "action",
                &format!("`{}` is not an action", policygate_api::clip(&action_text)),
            )
        })?;
        let sensitivity_text = need(&mut values, "resource.sensitivity")?;
        let sensitivity = Sensitivity::parse(&sensitivity_text).ok_or_else(|| {
            bad_value(
                "resource.sensitivity",
                &format!(
                    "`{}` is not a sensitivity",
                    policygate_api::clip(&sensitivity_text)
                ),
            )
        })?;
        let subject_type = take_text(&mut values, "subject.type");
        let subject_id = take_text(&mut values, "subject.id");
        let subject = (subject_type.is_some() || subject_id.is_some()).then_some(Subject {
            kind: subject_type,
            id: subject_id,
        });
        let env_name = need(&mut values, "env.name")?;
        let resource_type = need(&mut values, "resource.type")?;
        let resource_id = take_text(&mut values, "resource.id");
        let mut signals = BTreeMap::new();
        for (target, v) in values.into_values() {
            if let Fact::Signal(name) = &target.fact {
                signals.insert(name.clone(), v);
            }
        }
        let request_id = request.request_id().map(str::to_owned);
        let out = EvaluateRequest {
            request_id,
            timestamp: None,
            action,
            env: Env { name: env_name },
            resource: Resource {
                kind: resource_type,
                id: resource_id,
                sensitivity,
            },
            subject,
            signals,
            caller: None,
        };
        out.validate()
            .map_err(|problems| MappingDenial::invalid_request(&problems))?;
        Ok(out)
    }

    /// The verdict for a decision: ALLOW and DEGRADE pass (200, with the obligations
    /// as headers), BLOCK is a 403 and REQUIRE_REVIEW the mapping's `review_status`,
    /// both with the denial body.
    pub fn verdict(
        &self,
        decision: &Decision<'_>,
        correlation_id: &str,
        policy: &PolicyIdentity,
    ) -> Verdict {
        let mut headers = vec![
            (HEADER_DECISION, decision.decision.as_str().to_owned()),
            (HEADER_CORRELATION_ID, correlation_id.to_owned()),
            (HEADER_RATIONALE_CODES, decision.rationale_codes.join(",")),
        ];
        if let Some(rule) = decision.matched_rule_id {
            headers.push((HEADER_MATCHED_RULE, rule.to_owned()));
        }
        for o in decision.obligations {
            let Obligation::OutputCap(cap) = o;
            if let Some(n) = cap.max_tokens {
                headers.push((HEADER_MAX_TOKENS, n.to_string()));
            }
            if let Some(n) = cap.max_items {
                headers.push((HEADER_MAX_ITEMS, n.to_string()));
            }
            if let Some(n) = cap.max_bytes {
                headers.push((HEADER_MAX_BYTES, n.to_string()));
            }
        }
        // Only a denial says why in words: the rule (or the default) and its codes.
        let why = || {
            let rule = decision.matched_rule_id.map_or_else(
                || "the policy's default".to_owned(),
                |r| format!("rule `{r}`"),
            );
            (rule, decision.rationale_codes.join(", "))
        };
        let (code, status, message, review_reason) = match decision.decision {
            DecisionKind::Allow | DecisionKind::Degrade => {
                return Verdict {
                    allowed: true,
                    status: 200,
                    headers,
                    body: None,
                };
            }
            DecisionKind::Block => {
                let (rule_text, codes) = why();
                (
                    GatewayDenialCode::PolicyBlock,
                    403,
                    format!("the policy blocks this request ({rule_text}: {codes})"),
                    None,
                )
            }
            DecisionKind::RequireReview => {
                let (rule_text, codes) = why();
                let reason = format!("human review required by {rule_text}: {codes}");
                (
                    GatewayDenialCode::PolicyReview,
                    self.review_status,
                    format!(
                        "the policy requires a human review of this request ({rule_text}: {codes})"
                    ),
                    Some(reason),
                )
            }
        };
        if let Some(reason) = &review_reason {
            headers.push((HEADER_REVIEW_REASON, reason.clone()));
        }
        headers.push((HEADER_DENIAL, code.as_str().to_owned()));
        Verdict {
            allowed: false,
            status,
            headers,
            body: Some(GatewayDenial {
                error: GatewayDenialDetail {
                    code,
                    message,
                    correlation_id: correlation_id.to_owned(),
                    decision: Some(decision.decision),
                    rationale_codes: decision.rationale_codes.to_vec(),
                    matched_rule_id: decision.matched_rule_id.map(str::to_owned),
                    policy: Some(policy.clone()),
                    review_reason,
                    fact: None,
                },
            }),
        }
    }

    /// The verdict for a request the mapping denied: 401 for an unauthenticated
    /// caller, else 403; with the denial body and no decision.
    pub fn denial_verdict(&self, denial: &MappingDenial, correlation_id: &str) -> Verdict {
        let status = if denial.code == GatewayDenialCode::MappingUnauthenticated {
            401
        } else {
            403
        };
        Verdict {
            allowed: false,
            status,
            headers: vec![
                (HEADER_CORRELATION_ID, correlation_id.to_owned()),
                (HEADER_DENIAL, denial.code.as_str().to_owned()),
            ],
            body: Some(GatewayDenial {
                error: GatewayDenialDetail {
                    code: denial.code,
                    message: denial.message.clone(),
                    correlation_id: correlation_id.to_owned(),
                    decision: None,
                    rationale_codes: Vec::new(),
                    matched_rule_id: None,
                    policy: None,
                    review_reason: None,
                    fact: denial.fact.clone(),
                },
            }),
        }
    }
}

fn bad_value(path: &str, why: &str) -> MappingDenial {
    MappingDenial::new(
        GatewayDenialCode::MappingBadValue,
        Some(path),
        format!("the value mapped to `{path}` is not valid: {why}"),
    )
}

/// Dot segments, empty segments inside the path and non-UTF-8 percent-encoding are
/// refused before any route is tried, so that no pattern can be matched around.
fn check_path(path: &str) -> Result<(), MappingDenial> {
    let bad = |why: &str| {
        Err(MappingDenial::new(
            GatewayDenialCode::MappingBadPath,
            None,
            format!(
                "the path `{}` is refused: {why}",
                policygate_api::clip(path)
            ),
        ))
    };
    let Some(rest) = path.strip_prefix('/') else {
        return bad("it does not start with `/`");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        let Some(decoded) = decode(seg) else {
            return bad("it has a percent-encoding that is not UTF-8");
        };
        if decoded == "." || decoded == ".." {
            return bad("it has a `.` or `..` segment");
        }
        if seg.is_empty() && i != last {
            return bad("it has an empty segment (`//`)");
        }
    }
    Ok(())
}

/// Percent-decoding; `None` for bytes that are not UTF-8.
fn decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

impl Route {
    /// The captures when the route matches the request.
    fn matches(&self, request: &GatewayRequest) -> Option<BTreeMap<String, String>> {
        if !self.methods.is_empty()
            && !self
                .methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&request.method))
        {
            return None;
        }
        let mut captures = BTreeMap::new();
        let Some(pattern) = &self.pattern else {
            return Some(captures);
        };
        let mut segments = request.path.strip_prefix('/')?.split('/');
        for seg in pattern {
            match seg {
                Segment::Rest(name) => {
                    let rest: Vec<&str> = segments.by_ref().collect();
                    if rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
                        return None;
                    }
                    let decoded: Option<Vec<String>> = rest.iter().map(|s| decode(s)).collect();
                    captures.insert(name.clone(), decoded?.join("/"));
                    return Some(captures);
                }
                _ => {
                    let got = segments.next()?;
                    match seg {
                        Segment::Literal(l) => {
                            if got != l {
                                return None;
                            }
                        }
                        Segment::Any => {
                            if got.is_empty() {
                                return None;
                            }
                        }
                        Segment::Capture(name) => {
                            if got.is_empty() {
                                return None;
                            }
                            captures.insert(name.clone(), decode(got)?);
                        }
                        Segment::Rest(_) => return None,
                    }
                }
            }
        }
        segments.next().is_none().then_some(captures)
    }
}

/// What a source gave.
enum Read {
    Text(String),
    Json(Value),
    Value(SignalValue),
}

/// Reads a source; `Ok(None)` when the request does not have it.
fn read(
    source: &Source,
    request: &GatewayRequest,
    captures: &BTreeMap<String, String>,
    path: &str,
) -> Result<Option<Read>, MappingDenial> {
    Ok(match source {
        Source::Header(h) => request
            .headers
            .get(h)
            .map(|v| Read::Text(v.trim().to_owned())),
        Source::Context(c) => request
            .context_extensions
            .get(c)
            .map(|v| Read::Text(v.clone())),
        Source::Capture(c) => captures.get(c).map(|v| Read::Text(v.clone())),
        Source::Query(q) => {
            let mut found = None;
            for pair in request.query.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let Some(k) = decode(&k.replace('+', " ")) else {
                    continue;
                };
                if k != *q {
                    continue;
                }
                if found.is_some() {
                    return Err(bad_value(
                        path,
                        &format!("query parameter `{q}` is given more than once"),
                    ));
                }
                let v = decode(&v.replace('+', " ")).ok_or_else(|| {
                    bad_value(
                        path,
                        &format!("query parameter `{q}` is not UTF-8 once decoded"),
                    )
                })?;
                found = Some(v);
            }
            found.map(Read::Text)
        }
        Source::Metadata { filter, key } => {
            let mut at = request.metadata.get(filter);
            for k in key {
                at = at.and_then(|v| v.get(k));
            }
            at.filter(|v| !v.is_null()).cloned().map(Read::Json)
        }
        Source::Const(v) => Some(Read::Value(v.clone())),
    })
}

/// The value of one fact, coerced and checked; `Ok(None)` when absent (and optional).
fn value(
    target: &Target,
    request: &GatewayRequest,
    captures: &BTreeMap<String, String>,
) -> Result<Option<SignalValue>, MappingDenial> {
    let path = target.path.as_str();
    let spec = &target.spec;
    let got = match read(&spec.source, request, captures, path)? {
        Some(r) => Some(
            coerce(r, &target.domain, &spec.split)
                .map_err(|why| bad_value(path, &format!("{} {why}", spec.source.describe())))?,
        ),
        None => spec.default.clone(),
    };
    let Some(v) = got else {
        if spec.required {
            return Err(MappingDenial::new(
                GatewayDenialCode::MappingMissingValue,
                Some(path),
                format!(
                    "the gateway request has no {}, which the mapping requires for `{path}`",
                    spec.source.describe()
                ),
            ));
        }
        return Ok(None);
    };
    check_value(&target.domain, &v)
        .map_err(|why| bad_value(path, &format!("{} {why}", spec.source.describe())))?;
    Ok(Some(v))
}

/// Whether a value fits the domain (the policy's declared checks, and the request
/// contract's patterns for built-in string facts).
pub(crate) fn check_value(domain: &Domain, v: &SignalValue) -> Result<(), String> {
    if let (Domain::Str(check), SignalValue::Str(s)) = (domain, v)
        && !check.accepts(s)
    {
        return Err(format!(
            "gives `{}`, which is not {}",
            policygate_api::clip(s),
            check.describe()
        ));
    }
    check_declared(domain, v).map_err(|m| format!("gives a value that does not fit: {m}"))
}

/// Text (or JSON from metadata) to the domain's type.
fn coerce(read: Read, domain: &Domain, split: &str) -> Result<SignalValue, String> {
    match read {
        Read::Value(v) => Ok(v),
        Read::Text(t) => coerce_text(&t, domain, split),
        Read::Json(Value::String(t)) => coerce_text(&t, domain, split),
        Read::Json(Value::Bool(b)) if matches!(domain, Domain::Bool) => Ok(SignalValue::Bool(b)),
        Read::Json(Value::Number(n)) if domain.is_numeric() => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(SignalValue::Int(i)),
            (None, Some(f)) if matches!(domain, Domain::Num { .. }) && f.is_finite() => {
                Ok(SignalValue::Float(f))
            }
            _ => Err(format!(
                "holds {n}, which is not {}",
                crate::model::article(domain.describe())
            )),
        },
        Read::Json(Value::Array(items)) if matches!(domain, Domain::List) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or("holds a list with an item that is not a string".to_owned())
            })
            .collect::<Result<Vec<_>, _>>()
            .map(SignalValue::List),
        Read::Json(other) => Err(format!(
            "holds {}, which cannot be read as {}",
            json_kind(&other),
            crate::model::article(domain.describe())
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn coerce_text(t: &str, domain: &Domain, split: &str) -> Result<SignalValue, String> {
    let shown = policygate_api::clip(t);
    match domain {
        Domain::Enum(_) | Domain::Str(_) => Ok(SignalValue::Str(t.to_owned())),
        Domain::Int { .. } => t
            .trim()
            .parse::<i64>()
            .map(SignalValue::Int)
            .map_err(|_| format!("gives `{shown}`, which is not an integer")),
        Domain::Num { .. } => {
            let t = t.trim();
            if let Ok(i) = t.parse::<i64>() {
                return Ok(SignalValue::Int(i));
            }
            match t.parse::<f64>() {
                Ok(f)
                    if f.is_finite()
                        && !t.is_empty()
                        && t.chars().all(|c| {
                            c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')
                        }) =>
                {
                    Ok(SignalValue::Float(f))
                }
                _ => Err(format!("gives `{shown}`, which is not a number")),
            }
        }
        Domain::Bool => match t.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(SignalValue::Bool(true)),
            "false" | "0" => Ok(SignalValue::Bool(false)),
            _ => Err(format!(
                "gives `{shown}`, which is not a boolean (`true`, `false`, `1` or `0`)"
            )),
        },
        Domain::List => Ok(SignalValue::List(
            t.split(split)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )),
        // Refused at load: the mapping only sets facts whose type the policy declares.
        Domain::StrOrList | Domain::Any | Domain::Object => {
            Err("cannot be mapped: the policy gives the fact no type".to_owned())
        }
    }
}
