//! The borrowed forms of the documents PolicyGate writes on its hot path: the evaluate
//! response and the audit event, built from references into the request, the decision
//! and the loaded policy, and serialised without copying a string.
//!
//! Each one writes exactly the bytes its owned form writes ([`EvaluateResponse`],
//! [`AuditEvent`]; the tests below check it field by field, omissions and escapes
//! included), so the owned forms stay the contract (schemas are generated from them,
//! clients deserialise them) and these are how the server writes it. A change to a
//! shape is made to both, in this crate, and the equivalence tests fail until it is.
//!
//! `decision_context` has no owned form beyond a JSON object: [`DecisionContextRef`]
//! defines what it holds (the request's own facts, keys in sorted order).
//!
//! [`EvaluateResponse`]: crate::EvaluateResponse
//! [`AuditEvent`]: crate::AuditEvent

use crate::audit::{AUDIT_EVENT_VERSION, AuditEvaluation};
use crate::domain::{DecisionKind, Sensitivity};
use crate::error::ErrorCode;
use crate::request::SignalValue;
use crate::response::{EvaluateResponse, Obligation, PolicyIdentity};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// [`EvaluateResponse`], borrowed. Field order is part of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EvaluateResponseRef<'a> {
    /// The request's `request_id`, or the id PolicyGate generated.
    pub correlation_id: &'a str,
    /// The decision.
    pub decision: DecisionKind,
    /// Why, as stable codes.
    pub rationale_codes: &'a [String],
    /// Non-empty exactly when the decision is `DEGRADE`; omitted when empty.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub obligations: &'a [Obligation],
    /// The policy that decided.
    pub policy: &'a PolicyIdentity,
    /// The rule that decided; omitted when the default decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_rule_id: Option<&'a str>,
}

impl<'a> From<&'a EvaluateResponse> for EvaluateResponseRef<'a> {
    fn from(r: &'a EvaluateResponse) -> EvaluateResponseRef<'a> {
        EvaluateResponseRef {
            correlation_id: &r.correlation_id,
            decision: r.decision,
            rationale_codes: &r.rationale_codes,
            obligations: &r.obligations,
            policy: &r.policy,
            matched_rule_id: r.matched_rule_id.as_deref(),
        }
    }
}

/// [`crate::AuditEvent`], borrowed, without its chain fields. `event_type`,
/// `event_version` and `service_name` are constants and written as such; field order
/// is stable. It serialises the event up to `latency_ms`; the writer completes the
/// line with [`crate::chain::seal_into`], which appends `seq` and `prev_hash`, and
/// the sealed line is byte for byte the owned [`crate::AuditEvent`].
#[derive(Debug, Clone, Copy)]
pub struct AuditEventRef<'a> {
    /// `event_type`: [`crate::AUDIT_EVENT_TYPE`] or [`crate::AUDIT_EXPLAIN_EVENT_TYPE`].
    pub event_type: &'static str,
    /// RFC 3339 UTC time the decision was made.
    pub occurred_at: &'a str,
    /// Deployment environment of the PDP (configured), if any.
    pub environment: Option<&'a str>,
    /// Equals the `correlation_id` returned to the caller.
    pub request_id: &'a str,
    /// W3C trace id from `traceparent`.
    pub trace_id: Option<&'a str>,
    /// W3C parent span id from `traceparent`.
    pub span_id: Option<&'a str>,
    /// Authenticated caller's name.
    pub caller_id: Option<&'a str>,
    /// Tenant, when known.
    pub tenant_id: Option<&'a str>,
    /// Policy that decided (or was loaded, for a rejected request), with its JSON
    /// ([`crate::Rendered`]: the same for every event of the policy).
    pub policy: &'a crate::Rendered<PolicyIdentity>,
    /// The decision, or the rejection.
    pub evaluation: AuditEvaluationRef<'a>,
    /// Decision-relevant facts, as configured (`null` when none are recorded).
    pub decision_context: Option<DecisionContextRef<'a>>,
    /// The fact paths this event records, sorted (see [`crate::AuditEvent`]), with
    /// their JSON; `None` writes `[]` (a refusal records none).
    pub decision_context_covers: Option<&'a crate::Rendered<Vec<String>>>,
    /// Time spent deciding, in milliseconds.
    pub latency_ms: f64,
    /// What the shadow policy would have decided (`--shadow-policy`), if any.
    pub shadow: Option<crate::shadow::ShadowOutcomeRef<'a>>,
}

/// The audit event as written: the constants first, then the borrowed fields.
#[derive(Serialize)]
struct AuditEventWire<'e, 'a> {
    event_type: &'static str,
    event_version: &'static str,
    occurred_at: &'a str,
    service_name: &'static str,
    environment: Option<&'a str>,
    request_id: &'a str,
    trace_id: Option<&'a str>,
    span_id: Option<&'a str>,
    caller_id: Option<&'a str>,
    tenant_id: Option<&'a str>,
    policy: &'a crate::Rendered<PolicyIdentity>,
    evaluation: &'e AuditEvaluationRef<'a>,
    decision_context: &'e Option<DecisionContextRef<'a>>,
    decision_context_covers: Covers<'a>,
    latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    shadow: &'e Option<crate::shadow::ShadowOutcomeRef<'a>>,
}

/// `decision_context_covers` as written: the rendered list, or `[]`.
struct Covers<'a>(Option<&'a crate::Rendered<Vec<String>>>);

impl Serialize for Covers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(covers) => covers.serialize(s),
            None => s.collect_seq(std::iter::empty::<&str>()),
        }
    }
}

impl Serialize for AuditEventRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        AuditEventWire {
            event_type: self.event_type,
            event_version: AUDIT_EVENT_VERSION,
            occurred_at: self.occurred_at,
            service_name: "policygate",
            environment: self.environment,
            request_id: self.request_id,
            trace_id: self.trace_id,
            span_id: self.span_id,
            caller_id: self.caller_id,
            tenant_id: self.tenant_id,
            policy: self.policy,
            evaluation: &self.evaluation,
            decision_context: &self.decision_context,
            decision_context_covers: Covers(self.decision_context_covers),
            latency_ms: self.latency_ms,
            shadow: &self.shadow,
        }
        .serialize(s)
    }
}

/// [`AuditEvaluation`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AuditEvaluationRef<'a> {
    /// `action` of the request, when known.
    pub action: Option<&'a str>,
    /// `resource.type` of the request, when known.
    pub resource_type: Option<&'a str>,
    /// The decision; `None` for a rejected request.
    pub decision: Option<DecisionKind>,
    /// The rule that decided; `None` for the default or a rejection.
    pub matched_rule_id: Option<&'a str>,
    /// True exactly when no rule matched (false for a rejection).
    pub default_applied: bool,
    /// Rationale codes of the decision (empty for a rejection).
    pub rationale_codes: &'a [String],
    /// Obligations of the decision.
    pub obligations: &'a [Obligation],
    /// For a rejected request: the error code returned; omitted otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
    /// For a rejected request: the HTTP status returned; omitted otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}

impl<'a> AuditEvaluationRef<'a> {
    /// The evaluation of a refused request: no decision, the error code and its status.
    pub fn refused(
        action: Option<&'a str>,
        resource_type: Option<&'a str>,
        code: ErrorCode,
    ) -> AuditEvaluationRef<'a> {
        AuditEvaluationRef {
            action,
            resource_type,
            decision: None,
            matched_rule_id: None,
            default_applied: false,
            rationale_codes: &[],
            obligations: &[],
            error_code: Some(code),
            http_status: Some(code.http_status()),
        }
    }
}

impl<'a> From<&'a AuditEvaluation> for AuditEvaluationRef<'a> {
    fn from(e: &'a AuditEvaluation) -> AuditEvaluationRef<'a> {
        AuditEvaluationRef {
            action: e.action.as_deref(),
            resource_type: e.resource_type.as_deref(),
            decision: e.decision,
            matched_rule_id: e.matched_rule_id.as_deref(),
            default_applied: e.default_applied,
            rationale_codes: &e.rationale_codes,
            obligations: &e.obligations,
            error_code: e.error_code,
            http_status: e.http_status,
        }
    }
}

/// `decision_context` of an audit event: the recorded facts of the request, each
/// copied as the request carried it. Keys are written in sorted order (`env`,
/// `resource`, `signals`, `subject`, and sorted within each); an object with nothing
/// recorded is omitted, except `subject`, whose presence alone is a fact (`{}`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecisionContextRef<'a> {
    /// `env.name`, when recorded.
    pub env_name: Option<&'a str>,
    /// `resource.id`, when recorded and present.
    pub resource_id: Option<&'a str>,
    /// `resource.sensitivity`, when recorded.
    pub resource_sensitivity: Option<Sensitivity>,
    /// `resource.type`, when recorded.
    pub resource_type: Option<&'a str>,
    /// `subject`, when recorded and present.
    pub subject: Option<SubjectContextRef<'a>>,
    /// The request's signals and which of them are recorded.
    pub signals: SignalsRef<'a>,
}

/// `decision_context.subject`: `{}` when only its presence is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SubjectContextRef<'a> {
    /// `subject.id`, when recorded and present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    /// `subject.type`, when recorded and present.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'a str>,
}

/// `decision_context.signals`: some or all of a request's signals, in name order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalsRef<'a> {
    /// The request's signals.
    pub signals: &'a BTreeMap<String, SignalValue>,
    /// Which of them are written.
    pub keep: SignalSelection<'a>,
}

/// Which signals `decision_context` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalSelection<'a> {
    /// Every signal of the request.
    All,
    /// The signals with these names, which are sorted ascending (others are left out).
    Named(&'a [String]),
}

impl SignalsRef<'_> {
    fn keeps(&self, name: &str) -> bool {
        match self.keep {
            SignalSelection::All => true,
            SignalSelection::Named(names) => {
                names.binary_search_by(|n| n.as_str().cmp(name)).is_ok()
            }
        }
    }

    /// True when no signal is written (the key is then omitted).
    pub fn is_empty(&self) -> bool {
        !self.signals.keys().any(|k| self.keeps(k))
    }
}

impl Serialize for SignalsRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.signals.iter().filter(|(k, _)| self.keeps(k)) {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct EnvContext<'a> {
    name: &'a str,
}

/// `decision_context.resource`, keys in sorted order.
#[derive(Serialize)]
struct ResourceContext<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sensitivity: Option<Sensitivity>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
}

impl Serialize for DecisionContextRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(name) = self.env_name {
            m.serialize_entry("env", &EnvContext { name })?;
        }
        if self.resource_id.is_some()
            || self.resource_sensitivity.is_some()
            || self.resource_type.is_some()
        {
            let resource = ResourceContext {
                id: self.resource_id,
                sensitivity: self.resource_sensitivity,
                kind: self.resource_type,
            };
            m.serialize_entry("resource", &resource)?;
        }
        if !self.signals.is_empty() {
            m.serialize_entry("signals", &self.signals)?;
        }
        if let Some(subject) = &self.subject {
            m.serialize_entry("subject", subject)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AUDIT_EVENT_TYPE, AuditEvent};
    use crate::response::OutputCap;
    use serde_json::{Map, Value};

    fn identity() -> PolicyIdentity {
        PolicyIdentity {
            policy_id: "p\"1".into(),
            policy_version: "v\u{e9}".into(),
            policy_sha256: "a".repeat(64),
        }
    }

    fn caps() -> Vec<Obligation> {
        vec![Obligation::OutputCap(OutputCap {
            max_tokens: Some(200),
            max_bytes: Some(1),
            ..OutputCap::default()
        })]
    }

    #[test]
    fn borrowed_responses_serialise_as_the_contract_response() {
        for (decision, obligations, rule) in [
            (DecisionKind::Degrade, caps(), Some("degrade_it")),
            (DecisionKind::Allow, vec![], None),
            (DecisionKind::Block, vec![], Some("block\u{e9}")),
            (DecisionKind::RequireReview, vec![], Some("r")),
        ] {
            let owned = EvaluateResponse {
                correlation_id: "req-\"1\n".into(),
                decision,
                rationale_codes: vec!["SENSITIVE_OUTPUT_LIMIT".into(), "B".into()],
                obligations,
                policy: identity(),
                matched_rule_id: rule.map(str::to_owned),
            };
            assert_eq!(
                serde_json::to_string(&EvaluateResponseRef::from(&owned)).unwrap(),
                serde_json::to_string(&owned).unwrap()
            );
        }
    }

    /// The reference `decision_context` is built as a `serde_json::Map` (a `BTreeMap`,
    /// so sorted) from the same facts, as the first version of the server did.
    fn reference_context(c: &DecisionContextRef<'_>) -> Value {
        let mut ctx = Map::new();
        if let Some(name) = c.env_name {
            ctx.insert("env".into(), serde_json::json!({ "name": name }));
        }
        let mut resource = Map::new();
        if let Some(id) = c.resource_id {
            resource.insert("id".into(), id.into());
        }
        if let Some(s) = c.resource_sensitivity {
            resource.insert("sensitivity".into(), s.as_str().into());
        }
        if let Some(kind) = c.resource_type {
            resource.insert("type".into(), kind.into());
        }
        if !resource.is_empty() {
            ctx.insert("resource".into(), Value::Object(resource));
        }
        if let Some(subject) = &c.subject {
            let mut s = Map::new();
            if let Some(id) = subject.id {
                s.insert("id".into(), id.into());
            }
            if let Some(kind) = subject.kind {
                s.insert("type".into(), kind.into());
            }
            ctx.insert("subject".into(), Value::Object(s));
        }
        let signals: Map<String, Value> = c
            .signals
            .signals
            .iter()
            .filter(|(k, _)| match c.signals.keep {
                SignalSelection::All => true,
                SignalSelection::Named(names) => names.contains(k),
            })
            .map(|(k, v)| (k.clone(), Value::from(v)))
            .collect();
        if !signals.is_empty() {
            ctx.insert("signals".into(), Value::Object(signals));
        }
        Value::Object(ctx)
    }

    fn signals() -> BTreeMap<String, SignalValue> {
        let request = crate::EvaluateRequest::from_json(
            br#"{"action":"infer:run","env":{"name":"prod"},
                 "resource":{"type":"t","sensitivity":"public"},
                 "signals":{"risk_score":0.5,"n":-3,"big":1e300,"e":null,"t":true,
                            "s":"x\"y\u00e9","l":["a","b"],"z":[]}}"#,
        )
        .unwrap();
        request.signals
    }

    /// The borrowed event is byte for byte what serialising [`AuditEvent`] gives, for
    /// decisions and refusals, with every combination of recorded facts.
    #[test]
    fn borrowed_events_serialise_as_the_audit_event() {
        let signals = signals();
        let none = BTreeMap::new();
        let named = ["l".to_owned(), "nope".to_owned(), "risk_score".to_owned()];
        let codes = ["CODE_A".to_owned(), "CODE_B".to_owned()];
        let obligations = caps();
        let identity = identity();
        let mut contexts = vec![None];
        for (i, signals) in [&signals, &none].into_iter().enumerate() {
            for keep in [
                SignalSelection::All,
                SignalSelection::Named(&named),
                SignalSelection::Named(&[]),
            ] {
                for facts in 0..16u8 {
                    let on = |bit: u8| facts & (1 << bit) != 0;
                    contexts.push(Some(DecisionContextRef {
                        env_name: on(0).then_some("prod"),
                        resource_id: (on(1) && i == 0).then_some("doc-\"1\""),
                        resource_sensitivity: on(1).then_some(Sensitivity::Restricted),
                        resource_type: on(2).then_some("doc"),
                        subject: on(3).then_some(SubjectContextRef {
                            id: on(2).then_some("u-\u{e9}"),
                            kind: on(0).then_some("user"),
                        }),
                        signals: SignalsRef { signals, keep },
                    }));
                }
            }
        }
        let covers = vec!["action".to_owned(), "signals.*".to_owned()];
        let rendered_covers = crate::Rendered::new(covers.clone());
        let rendered_identity = crate::Rendered::new(identity.clone());
        let mut compared = 0;
        for context in &contexts {
            for refused in [false, true] {
                let evaluation = if refused {
                    AuditEvaluationRef::refused(Some("infer:run"), None, ErrorCode::InvalidRequest)
                } else {
                    AuditEvaluationRef {
                        action: Some("infer:run"),
                        resource_type: Some("doc"),
                        decision: Some(DecisionKind::Degrade),
                        matched_rule_id: Some("rule_1"),
                        default_applied: false,
                        rationale_codes: &codes,
                        obligations: &obligations,
                        error_code: None,
                        http_status: None,
                    }
                };
                let borrowed = AuditEventRef {
                    event_type: AUDIT_EVENT_TYPE,
                    occurred_at: "2026-11-25T09:38:13.220122Z",
                    environment: refused.then_some("staging"),
                    request_id: "req-1",
                    trace_id: (!refused).then_some("4bf92f3577b34da6a3ce929d0e0e4736"),
                    span_id: (!refused).then_some("00f067aa0ba902b7"),
                    caller_id: Some("caller"),
                    tenant_id: None,
                    policy: &rendered_identity,
                    evaluation,
                    decision_context: *context,
                    decision_context_covers: (!refused).then_some(&rendered_covers),
                    latency_ms: 0.125,
                    shadow: None,
                };
                let owned = AuditEvent {
                    event_type: AUDIT_EVENT_TYPE.into(),
                    event_version: AUDIT_EVENT_VERSION.into(),
                    occurred_at: borrowed.occurred_at.into(),
                    service_name: "policygate".into(),
                    environment: borrowed.environment.map(str::to_owned),
                    request_id: borrowed.request_id.into(),
                    trace_id: borrowed.trace_id.map(str::to_owned),
                    span_id: borrowed.span_id.map(str::to_owned),
                    caller_id: borrowed.caller_id.map(str::to_owned),
                    tenant_id: None,
                    policy: identity.clone(),
                    evaluation: AuditEvaluation {
                        action: evaluation.action.map(str::to_owned),
                        resource_type: evaluation.resource_type.map(str::to_owned),
                        decision: evaluation.decision,
                        matched_rule_id: evaluation.matched_rule_id.map(str::to_owned),
                        default_applied: evaluation.default_applied,
                        rationale_codes: evaluation.rationale_codes.to_vec(),
                        obligations: evaluation.obligations.to_vec(),
                        error_code: evaluation.error_code,
                        http_status: evaluation.http_status,
                    },
                    decision_context: context.as_ref().map(reference_context),
                    decision_context_covers: if refused { Vec::new() } else { covers.clone() },
                    latency_ms: 0.125,
                    shadow: None,
                    seq: 42,
                    prev_hash: crate::chain::hash_hex(&[0xab; 32]),
                };
                assert_eq!(AuditEvaluationRef::from(&owned.evaluation), evaluation);
                let mut sealed = Vec::new();
                crate::chain::seal_into(
                    &mut sealed,
                    &serde_json::to_vec(&borrowed).unwrap(),
                    42,
                    &[0xab; 32],
                );
                assert_eq!(
                    String::from_utf8(sealed).unwrap(),
                    serde_json::to_string(&owned).unwrap()
                );
                compared += 1;
            }
        }
        assert_eq!(compared, (1 + 2 * 3 * 16) * 2);
    }
}
