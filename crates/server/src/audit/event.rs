//! Audit event serialisation: one line per event, written from borrowed parts of the
//! request, the decision and the policy without copying a string, into a buffer that
//! is reused by the next event on the same worker thread.

use super::clock::{Clock, occurred_at};
use super::context::ContextRef;
use crate::traceparent::TraceParent;
use policygate_api::{
    AUDIT_EVENT_TYPE, AUDIT_EVENT_VERSION, DecisionKind, ErrorCode, Obligation, PolicyIdentity,
};
use serde::Serialize;
use std::cell::Cell;

/// `evaluation` of an event, borrowed: serialises exactly as
/// [`policygate_api::AuditEvaluation`] (a test checks it).
#[derive(Debug, Serialize)]
pub(crate) struct EvaluationRef<'a> {
    pub(crate) action: Option<&'a str>,
    pub(crate) resource_type: Option<&'a str>,
    pub(crate) decision: Option<DecisionKind>,
    pub(crate) matched_rule_id: Option<&'a str>,
    pub(crate) default_applied: bool,
    pub(crate) rationale_codes: &'a [String],
    pub(crate) obligations: &'a [Obligation],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_code: Option<ErrorCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) http_status: Option<u16>,
}

/// The per-request parts of an audit event.
#[derive(Debug)]
pub(crate) struct EventParts<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) trace: Option<&'a TraceParent>,
    pub(crate) caller: Option<&'a str>,
    pub(crate) evaluation: EvaluationRef<'a>,
    pub(crate) context: Option<ContextRef<'a>>,
    pub(crate) latency_ms: f64,
}

/// The audit event, borrowed: serialises exactly as [`policygate_api::AuditEvent`]
/// (same fields, same order; a test checks it) without copying a string.
#[derive(Serialize)]
struct EventRef<'a> {
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
    policy: &'a PolicyIdentity,
    evaluation: EvaluationRef<'a>,
    decision_context: Option<ContextRef<'a>>,
    latency_ms: f64,
}

thread_local! {
    /// One spare line buffer per worker thread: a line is copied into the queue, so
    /// its buffer can serve the next event instead of being freed.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// One serialised audit line; its buffer goes back to the thread's spare when dropped.
#[derive(Debug)]
pub(crate) struct Line(Vec<u8>);

impl AsRef<[u8]> for Line {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.0);
        if buf.capacity() <= 16 * 1024 {
            buf.clear();
            SPARE.set(buf);
        }
    }
}

/// Serialises one audit event (without the trailing newline).
pub(crate) fn serialize_event(
    parts: EventParts<'_>,
    policy: &PolicyIdentity,
    environment: Option<&str>,
    clock: &dyn Clock,
) -> Line {
    write_event(parts, policy, environment, &occurred_at(clock))
}

fn write_event(
    parts: EventParts<'_>,
    policy: &PolicyIdentity,
    environment: Option<&str>,
    occurred_at: &str,
) -> Line {
    let event = EventRef {
        event_type: AUDIT_EVENT_TYPE,
        event_version: AUDIT_EVENT_VERSION,
        occurred_at,
        service_name: "policygate",
        environment,
        request_id: parts.request_id,
        trace_id: parts.trace.map(|t| t.trace_id.as_str()),
        span_id: parts.trace.map(|t| t.span_id.as_str()),
        caller_id: parts.caller,
        tenant_id: None,
        policy,
        evaluation: parts.evaluation,
        decision_context: parts.context,
        latency_ms: parts.latency_ms,
    };
    let mut out = Line(SPARE.take());
    out.0.reserve(1024);
    // Serialising strings, numbers and maps into a Vec cannot fail; an empty line
    // would be caught by the consumer's JSON parser rather than lost silently.
    if let Err(e) = serde_json::to_writer(&mut out.0, &event) {
        tracing::error!(error = %e, "cannot serialise an audit event");
    }
    out
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditContext, ContextPlan};
    use policygate_api::EvaluateRequest;
    use policygate_core::TestedFacts;

    fn identity() -> PolicyIdentity {
        PolicyIdentity {
            policy_id: "p\"1".into(),
            policy_version: "2".into(),
            policy_sha256: "a".repeat(64),
        }
    }

    /// The borrowed event is byte for byte what serialising `AuditEvent` gives,
    /// `decision_context` included, for every recording mode.
    #[test]
    fn borrowed_events_serialise_as_the_audit_event() {
        let requests = [
            br#"{"request_id":"r\u00e9","action":"infer:run","env":{"name":"prod"},
                 "resource":{"type":"doc","id":"d1","sensitivity":"restricted"},
                 "subject":{"type":"user","id":"u-1"},
                 "signals":{"risk_score":0.5,"n":-3,"big":1e300,"e":null,"t":true,
                            "s":"x\"y","l":["a","b"],"z":[]}}"#
                .as_slice(),
            br#"{"action":"data:read","env":{"name":"dev"},
                 "resource":{"type":"t","sensitivity":"public"},"subject":{}}"#
                .as_slice(),
            br#"{"action":"data:read","env":{"name":"dev"},
                 "resource":{"type":"t","sensitivity":"public"}}"#
                .as_slice(),
        ];
        let facts = |edit: &dyn Fn(&mut TestedFacts)| {
            let mut t = TestedFacts::default();
            edit(&mut t);
            t
        };
        let plans = [
            TestedFacts::default(),
            facts(&|t| {
                t.env_name = true;
                t.resource_type = true;
                t.resource_id = true;
                t.resource_sensitivity = true;
                t.subject = true;
                t.signals = vec!["big".into(), "n".into(), "risk_score".into(), "s".into()];
            }),
            facts(&|t| {
                t.resource_id = true;
                t.subject_id = true;
                t.signals = vec!["l".into(), "risk_score".into()];
            }),
            facts(&|t| {
                t.resource_type = true;
                t.resource_sensitivity = true;
                t.subject_type = true;
                t.signals = vec!["nope".into()];
            }),
            facts(&|t| {
                t.subject = true;
                t.env_name = true;
            }),
        ];
        let trace = TraceParent {
            trace_id: "1".repeat(32),
            span_id: "2".repeat(16),
        };
        let obligations = vec![policygate_api::Obligation::OutputCap(
            policygate_api::OutputCap {
                max_tokens: Some(200),
                ..Default::default()
            },
        )];
        let codes = vec!["CODE_A".to_owned(), "CODE_B".to_owned()];
        let mut compared = 0;
        for body in requests {
            let req = EvaluateRequest::from_json(body).unwrap();
            for tested in &plans {
                for mode in [AuditContext::All, AuditContext::Tested, AuditContext::None] {
                    let plan = ContextPlan::new(mode, tested);
                    for refused in [false, true] {
                        let evaluation = EvaluationRef {
                            action: Some(req.action.as_str()),
                            resource_type: Some(&req.resource.kind),
                            decision: (!refused).then_some(DecisionKind::Degrade),
                            matched_rule_id: (!refused).then_some("rule_1"),
                            default_applied: false,
                            rationale_codes: if refused { &[] } else { &codes },
                            obligations: if refused { &[] } else { &obligations },
                            error_code: refused.then_some(ErrorCode::InvalidRequest),
                            http_status: refused.then_some(422),
                        };
                        let expected = policygate_api::AuditEvent {
                            event_type: AUDIT_EVENT_TYPE.into(),
                            event_version: AUDIT_EVENT_VERSION.into(),
                            occurred_at: "2026-11-25T09:38:13.220122Z".into(),
                            service_name: "policygate".into(),
                            environment: refused.then(|| "staging".to_owned()),
                            request_id: "req-1".into(),
                            trace_id: (!refused).then(|| trace.trace_id.clone()),
                            span_id: (!refused).then(|| trace.span_id.clone()),
                            caller_id: Some("caller".into()),
                            tenant_id: None,
                            policy: identity(),
                            evaluation: policygate_api::AuditEvaluation {
                                action: evaluation.action.map(str::to_owned),
                                resource_type: evaluation.resource_type.map(str::to_owned),
                                decision: evaluation.decision,
                                matched_rule_id: evaluation.matched_rule_id.map(str::to_owned),
                                default_applied: false,
                                rationale_codes: evaluation.rationale_codes.to_vec(),
                                obligations: evaluation.obligations.to_vec(),
                                error_code: evaluation.error_code,
                                http_status: evaluation.http_status,
                            },
                            decision_context: plan.context(&req),
                            latency_ms: 0.125,
                        };
                        let line = write_event(
                            EventParts {
                                request_id: "req-1",
                                trace: (!refused).then_some(&trace),
                                caller: Some("caller"),
                                evaluation,
                                context: plan.context_ref(&req),
                                latency_ms: 0.125,
                            },
                            &identity(),
                            refused.then_some("staging"),
                            "2026-11-25T09:38:13.220122Z",
                        );
                        assert_eq!(
                            String::from_utf8(line.as_ref().to_vec()).unwrap(),
                            serde_json::to_string(&expected).unwrap()
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(compared, 3 * 5 * 3 * 2);
    }
}
