//! What goes into an audit event's `decision_context`: every fact of the request, only
//! the facts the policy tests, or nothing ([`AuditContext`]), planned once at startup
//! ([`ContextPlan`]) and borrowed from the request as `api`'s [`DecisionContextRef`].
//!
//! Recording only the tested facts keeps identifiers and free-text signals that no
//! rule looks at out of the audit trail by default.

use policygate_api::{
    DecisionContextRef, EvaluateRequest, Rendered, SignalSelection, SignalsRef, SubjectContextRef,
};
use policygate_core::TestedFacts;

/// What `decision_context` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditContext {
    /// Every fact of the request (env, resource, subject, signals).
    All,
    /// Only the facts some rule of the policy tests (`Policy::tested_facts`).
    #[default]
    Tested,
    /// Nothing: `decision_context` is `null`.
    None,
}

/// Which facts of a request go into `decision_context`, fixed at startup.
#[derive(Debug, Clone)]
pub(crate) struct ContextPlan {
    mode: AuditContext,
    /// What `Tested` records (`All` records everything, `None` nothing).
    tested: TestedFacts,
    /// `decision_context_covers` of a decision event: the fact paths the event records
    /// (`signals.*` for every signal), so that a replay can tell whether it holds
    /// every fact another policy tests. `action`, `resource.type` and `caller.id` are
    /// always recorded, in `evaluation` and `caller_id`. Rendered once: every
    /// decision event of the policy writes the same list.
    covers: Rendered<Vec<String>>,
}

/// The facts every decision event records outside `decision_context`.
const ALWAYS_RECORDED: [&str; 3] = ["action", "resource.type", "caller.id"];

/// What `--audit-context all` records.
const ALL_FACTS: [&str; 9] = [
    "action",
    "env.name",
    "resource.type",
    "resource.id",
    "resource.sensitivity",
    "subject",
    "subject.type",
    "subject.id",
    "caller.id",
];

impl ContextPlan {
    /// A plan for `mode`, given the facts the policy tests.
    pub(crate) fn new(mode: AuditContext, tested: &TestedFacts) -> ContextPlan {
        let mut covers: Vec<String> = match mode {
            AuditContext::All => ALL_FACTS
                .iter()
                .map(|p| (*p).to_owned())
                .chain(std::iter::once("signals.*".to_owned()))
                .collect(),
            AuditContext::Tested => tested.paths(),
            AuditContext::None => Vec::new(),
        };
        for path in ALWAYS_RECORDED {
            if !covers.iter().any(|c| c == path) {
                covers.push(path.to_owned());
            }
        }
        covers.sort();
        ContextPlan {
            mode,
            tested: tested.clone(),
            covers: Rendered::new(covers),
        }
    }

    /// The fact paths a decision event records (`decision_context_covers`), sorted.
    pub(crate) fn covers(&self) -> &Rendered<Vec<String>> {
        &self.covers
    }

    /// The `decision_context` of a decided request, borrowed from it; `None` when
    /// nothing is recorded.
    pub(crate) fn context_ref<'a>(
        &'a self,
        req: &'a EvaluateRequest,
    ) -> Option<DecisionContextRef<'a>> {
        let all = match self.mode {
            AuditContext::None => return None,
            AuditContext::All => true,
            AuditContext::Tested => false,
        };
        let t = &self.tested;
        let subject = req
            .subject
            .as_ref()
            // `subject` alone (an `exists` test) records presence as `{}`.
            .filter(|_| all || t.subject || t.subject_type || t.subject_id)
            .map(|s| SubjectContextRef {
                id: s.id.as_deref().filter(|_| all || t.subject_id),
                kind: s.kind.as_deref().filter(|_| all || t.subject_type),
            });
        Some(DecisionContextRef {
            env_name: (all || t.env_name).then_some(req.env.name.as_str()),
            resource_id: req.resource.id.as_deref().filter(|_| all || t.resource_id),
            resource_sensitivity: (all || t.resource_sensitivity)
                .then_some(req.resource.sensitivity),
            resource_type: (all || t.resource_type).then_some(req.resource.kind.as_str()),
            subject,
            signals: SignalsRef {
                signals: &req.signals,
                keep: if all {
                    SignalSelection::All
                } else {
                    SignalSelection::Named(&t.signals)
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn context(plan: &ContextPlan, req: &EvaluateRequest) -> Value {
        serde_json::to_value(plan.context_ref(req)).unwrap()
    }

    #[test]
    fn tested_plan_keeps_only_tested_facts() {
        let req = EvaluateRequest::from_json(
            br#"{"action":"infer:run","env":{"name":"prod"},
                 "resource":{"type":"doc","id":"d1","sensitivity":"restricted"},
                 "subject":{"type":"user","id":"u-secret"},
                 "signals":{"risk_score":0.5,"email":"x@example.com"}}"#,
        )
        .unwrap();
        let mut tested = TestedFacts::default();
        tested.action = true;
        tested.resource_sensitivity = true;
        tested.subject = true;
        tested.signals = vec!["risk_score".to_owned()];
        assert_eq!(
            context(&ContextPlan::new(AuditContext::Tested, &tested), &req),
            json!({"resource": {"sensitivity": "restricted"}, "subject": {}, "signals": {"risk_score": 0.5}})
        );
        tested.subject_id = true;
        tested.env_name = true;
        tested.signals.clear();
        assert_eq!(
            context(&ContextPlan::new(AuditContext::Tested, &tested), &req),
            json!({"env": {"name": "prod"}, "resource": {"sensitivity": "restricted"}, "subject": {"id": "u-secret"}})
        );
        assert_eq!(
            context(&ContextPlan::new(AuditContext::None, &tested), &req),
            Value::Null
        );
    }

    /// `all` records each fact as the request carried it.
    #[test]
    fn all_plan_copies_the_request_facts() {
        let plan = ContextPlan::new(AuditContext::All, &TestedFacts::default());
        for body in [
            br#"{"action":"infer:run","env":{"name":"prod"},
                 "resource":{"type":"doc","id":"d1","sensitivity":"restricted"},
                 "subject":{"type":"user","id":"u-secret"},
                 "signals":{"risk_score":0.5,"email":"x@example.com","l":["a"],"n":null}}"#
                .as_slice(),
            br#"{"action":"infer:run","env":{"name":"dev"},
                 "resource":{"type":"doc","sensitivity":"public"},"subject":{}}"#
                .as_slice(),
        ] {
            let req = EvaluateRequest::from_json(body).unwrap();
            let mut want = json!({
                "env": serde_json::to_value(&req.env).unwrap(),
                "resource": serde_json::to_value(&req.resource).unwrap(),
                "subject": serde_json::to_value(&req.subject).unwrap(),
            });
            if !req.signals.is_empty() {
                want["signals"] = serde_json::to_value(&req.signals).unwrap();
            }
            assert_eq!(context(&plan, &req), want);
        }
    }
}
