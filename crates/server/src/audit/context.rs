//! What goes into an audit event's `decision_context`: every fact of the request, only
//! the facts the policy tests, or nothing ([`AuditContext`]), planned once at startup
//! ([`ContextPlan`]) and serialised straight from the request.
//!
//! Recording only the tested facts keeps identifiers and free-text signals that no
//! rule looks at out of the audit trail by default.

use policygate_api::EvaluateRequest;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::collections::BTreeSet;

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
    env_name: bool,
    resource_type: bool,
    resource_id: bool,
    resource_sensitivity: bool,
    subject: bool,
    subject_type: bool,
    subject_id: bool,
    all_signals: bool,
    signals: BTreeSet<String>,
}

impl ContextPlan {
    /// A plan for `mode`, given the policy's tested fact paths (`env.name`,
    /// `signals.risk_score`, `subject`, …). Unknown paths are ignored.
    pub(crate) fn new(mode: AuditContext, tested: &BTreeSet<String>) -> ContextPlan {
        let mut plan = ContextPlan {
            mode,
            ..ContextPlan::default()
        };
        for path in tested {
            match path.as_str() {
                "env" | "env.name" => plan.env_name = true,
                "resource" => {
                    plan.resource_type = true;
                    plan.resource_id = true;
                    plan.resource_sensitivity = true;
                }
                "resource.type" => plan.resource_type = true,
                "resource.id" => plan.resource_id = true,
                "resource.sensitivity" => plan.resource_sensitivity = true,
                "subject" => plan.subject = true,
                "subject.type" => plan.subject_type = true,
                "subject.id" => plan.subject_id = true,
                "signals" => plan.all_signals = true,
                other => {
                    if let Some(name) = other.strip_prefix("signals.") {
                        plan.signals.insert(name.to_owned());
                    }
                }
            }
        }
        plan
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
        let mut ctx = Map::new();
        if self.env_name {
            let mut env = Map::new();
            env.insert("name".into(), Value::String(req.env.name.clone()));
            ctx.insert("env".into(), Value::Object(env));
        }
        let mut resource = Map::new();
        if self.resource_type {
            resource.insert("type".into(), Value::String(req.resource.kind.clone()));
        }
        if self.resource_id {
            if let Some(id) = &req.resource.id {
                resource.insert("id".into(), Value::String(id.clone()));
            }
        }
        if self.resource_sensitivity {
            resource.insert(
                "sensitivity".into(),
                Value::String(req.resource.sensitivity.as_str().to_owned()),
            );
        }
        if !resource.is_empty() {
            ctx.insert("resource".into(), Value::Object(resource));
        }
        if let Some(subject) = &req.subject {
            if self.subject || self.subject_type || self.subject_id {
                // `subject` alone (an `exists` test) records presence as `{}`.
                let mut s = Map::new();
                if let (true, Some(kind)) = (self.subject_type, &subject.kind) {
                    s.insert("type".into(), Value::String(kind.clone()));
                }
                if let (true, Some(id)) = (self.subject_id, &subject.id) {
                    s.insert("id".into(), Value::String(id.clone()));
                }
                ctx.insert("subject".into(), Value::Object(s));
            }
        }
        let signals: Map<String, Value> = req
            .signals
            .iter()
            .filter(|(k, _)| self.all_signals || self.signals.contains(k.as_str()))
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
        self.all || self.plan.all_signals || self.plan.signals.contains(name)
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
        let mut m = s.serialize_map(None)?;
        if all || plan.env_name {
            m.serialize_entry(
                "env",
                &EnvRef {
                    name: &req.env.name,
                },
            )?;
        }
        let resource = ResourceRef {
            id: req
                .resource
                .id
                .as_deref()
                .filter(|_| all || plan.resource_id),
            sensitivity: (all || plan.resource_sensitivity)
                .then(|| req.resource.sensitivity.as_str()),
            kind: (all || plan.resource_type).then_some(req.resource.kind.as_str()),
        };
        if resource.id.is_some() || resource.sensitivity.is_some() || resource.kind.is_some() {
            m.serialize_entry("resource", &resource)?;
        }
        let signals = SignalsRef { all, plan, req };
        if signals.any() {
            m.serialize_entry("signals", &signals)?;
        }
        if let Some(subject) = &req.subject {
            if all || plan.subject || plan.subject_type || plan.subject_id {
                // `subject` alone (an `exists` test) records presence as `{}`.
                let subject = SubjectRef {
                    id: subject.id.as_deref().filter(|_| all || plan.subject_id),
                    kind: subject.kind.as_deref().filter(|_| all || plan.subject_type),
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
        let tested: BTreeSet<String> = [
            "action",
            "resource.sensitivity",
            "subject",
            "signals.risk_score",
        ]
        .into_iter()
        .map(String::from)
        .collect();
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
