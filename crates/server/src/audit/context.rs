//! What goes into an audit event's `decision_context`: every fact of the request, only
//! the facts the policy tests, or nothing ([`AuditContext`]), planned once at startup
//! ([`ContextPlan`]) and serialised straight from the request.
//!
//! Recording only the tested facts keeps identifiers and free-text signals that no
//! rule looks at out of the audit trail by default.

use policygate_api::EvaluateRequest;
use policygate_core::TestedFacts;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// What `decision_context` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
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
#[derive(Debug, Clone, Default)]
pub(crate) struct ContextPlan {
    mode: AuditContext,
    /// What `Tested` records (`All` records everything, `None` nothing).
    tested: TestedFacts,
}

impl ContextPlan {
    /// A plan for `mode`, given the facts the policy tests.
    pub(crate) fn new(mode: AuditContext, tested: &TestedFacts) -> ContextPlan {
        ContextPlan {
            mode,
            tested: tested.clone(),
        }
    }

    /// The `decision_context` of a decided request, to serialise in place (the same
    /// JSON as the `Value` [`ContextPlan::context`] builds, without building it).
    pub(crate) fn context_ref<'a>(&'a self, req: &'a EvaluateRequest) -> Option<ContextRef<'a>> {
        (self.mode != AuditContext::None).then_some(ContextRef { plan: self, req })
    }

    /// The `decision_context` as a `Value`: the reference [`ContextRef`] is tested against.
    #[cfg(test)]
    pub(crate) fn context(&self, req: &EvaluateRequest) -> Option<Value> {
        match self.mode {
            AuditContext::None => None,
            AuditContext::All => {
                let mut ctx = Map::new();
                ctx.insert("env".into(), serde_json::to_value(&req.env).ok()?);
                ctx.insert("resource".into(), serde_json::to_value(&req.resource).ok()?);
                if let Some(subject) = &req.subject {
                    ctx.insert("subject".into(), serde_json::to_value(subject).ok()?);
                }
                if !req.signals.is_empty() {
                    let signals: Map<String, Value> = req
                        .signals
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v)))
                        .collect();
                    ctx.insert("signals".into(), Value::Object(signals));
                }
                Some(Value::Object(ctx))
            }
            AuditContext::Tested => Some(Value::Object(self.tested(req))),
        }
    }

    #[cfg(test)]
    fn tested(&self, req: &EvaluateRequest) -> Map<String, Value> {
        let t = &self.tested;
        let mut ctx = Map::new();
        if t.env_name {
            let mut env = Map::new();
            env.insert("name".into(), Value::String(req.env.name.clone()));
            ctx.insert("env".into(), Value::Object(env));
        }
        let mut resource = Map::new();
        if t.resource_type {
            resource.insert("type".into(), Value::String(req.resource.kind.clone()));
        }
        if t.resource_id {
            if let Some(id) = &req.resource.id {
                resource.insert("id".into(), Value::String(id.clone()));
            }
        }
        if t.resource_sensitivity {
            resource.insert(
                "sensitivity".into(),
                Value::String(req.resource.sensitivity.as_str().to_owned()),
            );
        }
        if !resource.is_empty() {
            ctx.insert("resource".into(), Value::Object(resource));
        }
        if let Some(subject) = &req.subject {
            if t.subject || t.subject_type || t.subject_id {
                // `subject` alone (an `exists` test) records presence as `{}`.
                let mut s = Map::new();
                if let (true, Some(kind)) = (t.subject_type, &subject.kind) {
                    s.insert("type".into(), Value::String(kind.clone()));
                }
                if let (true, Some(id)) = (t.subject_id, &subject.id) {
                    s.insert("id".into(), Value::String(id.clone()));
                }
                ctx.insert("subject".into(), Value::Object(s));
            }
        }
        let signals: Map<String, Value> = req
            .signals
            .iter()
            .filter(|(k, _)| t.signal(k))
            .map(|(k, v)| (k.clone(), Value::from(v)))
            .collect();
        if !signals.is_empty() {
            ctx.insert("signals".into(), Value::Object(signals));
        }
        ctx
    }
}

/// `decision_context`, serialised straight from the request. Keys come out sorted, as
/// from the `serde_json::Map` (a `BTreeMap`) an earlier version built per request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContextRef<'a> {
    plan: &'a ContextPlan,
    req: &'a EvaluateRequest,
}

#[derive(Serialize)]
struct EnvRef<'a> {
    name: &'a str,
}

/// `resource` with its keys in sorted order.
#[derive(Serialize)]
struct ResourceRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sensitivity: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
}

/// `subject` with its keys in sorted order.
#[derive(Serialize)]
struct SubjectRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
}

/// The recorded signals (all of them, or the tested ones), in name order.
struct SignalsRef<'a> {
    all: bool,
    plan: &'a ContextPlan,
    req: &'a EvaluateRequest,
}

impl SignalsRef<'_> {
    fn keeps(&self, name: &str) -> bool {
        self.all || self.plan.tested.signal(name)
    }
    fn any(&self) -> bool {
        self.req.signals.keys().any(|k| self.keeps(k))
    }
}

impl Serialize for SignalsRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.req.signals.iter().filter(|(k, _)| self.keeps(k)) {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for ContextRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (plan, req) = (self.plan, self.req);
        let all = plan.mode == AuditContext::All;
        let t = &plan.tested;
        let mut m = s.serialize_map(None)?;
        if all || t.env_name {
            m.serialize_entry(
                "env",
                &EnvRef {
                    name: &req.env.name,
                },
            )?;
        }
        let resource = ResourceRef {
            id: req.resource.id.as_deref().filter(|_| all || t.resource_id),
            sensitivity: (all || t.resource_sensitivity).then(|| req.resource.sensitivity.as_str()),
            kind: (all || t.resource_type).then_some(req.resource.kind.as_str()),
        };
        if resource.id.is_some() || resource.sensitivity.is_some() || resource.kind.is_some() {
            m.serialize_entry("resource", &resource)?;
        }
        let signals = SignalsRef { all, plan, req };
        if signals.any() {
            m.serialize_entry("signals", &signals)?;
        }
        if let Some(subject) = &req.subject {
            if all || t.subject || t.subject_type || t.subject_id {
                // `subject` alone (an `exists` test) records presence as `{}`.
                let subject = SubjectRef {
                    id: subject.id.as_deref().filter(|_| all || t.subject_id),
                    kind: subject.kind.as_deref().filter(|_| all || t.subject_type),
                };
                m.serialize_entry("subject", &subject)?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
use serde_json::{Map, Value};

#[cfg(test)]
mod tests {
    use super::*;

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
        let ctx = ContextPlan::new(AuditContext::Tested, &tested)
            .context(&req)
            .unwrap();
        assert_eq!(
            ctx,
            serde_json::json!({"resource": {"sensitivity": "restricted"}, "subject": {}, "signals": {"risk_score": 0.5}})
        );
        let all = ContextPlan::new(AuditContext::All, &tested)
            .context(&req)
            .unwrap();
        assert_eq!(all["subject"]["id"], "u-secret");
        assert_eq!(all["signals"]["email"], "x@example.com");
        assert!(
            ContextPlan::new(AuditContext::None, &tested)
                .context(&req)
                .is_none()
        );
    }
}
