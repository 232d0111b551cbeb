//! Writes one [`Scenario`] as policy text for each engine: PolicyGate YAML, Cedar (with
//! its schema) and Rego.
//!
//! The three texts must mean exactly what `Scenario::decide` means; the fairness check
//! proves it on every request before anything is timed. How priority and the four
//! outcomes are expressed in Cedar and Rego is explained in BENCHMARKS.md.

use crate::model::{Cond, Rule, Scenario, hundredths};
use std::fmt::Write as _;

/// JSON-quotes a string (valid YAML, Cedar and Rego string syntax for our alphabet).
fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

impl Scenario {
    /// The PolicyGate policy file.
    pub fn policygate_yaml(&self) -> String {
        let mut y = String::with_capacity(self.rules.len() * 320 + 1024);
        let _ = write!(
            y,
            "policy_id: \"bench-ai-gateway-{size}\"\n\
             policy_version: \"bench.1\"\n\
             description: \"generated benchmark policy, {size} rules\"\n\
             facts:\n  \
               caller_trust: {{ type: string, enum: [low, medium, high] }}\n  \
               model: {{ type: string }}\n  \
               prompt_tokens: {{ type: integer, min: 0 }}\n  \
               risk_score: {{ type: number, min: 0, max: 1 }}\n\
             default:\n  \
               decision: BLOCK\n  \
               rationale_codes: [POLICY_DEFAULT_DENY]\n\
             rules:\n",
            size = self.size
        );
        for r in &self.rules {
            yaml_rule(&mut y, r);
        }
        y
    }

    /// The Cedar schema (Cedar schema syntax) the policies are validated against.
    pub fn cedar_schema(&self) -> String {
        "entity Subject;\n\
         entity Resource;\n\
         type Signals = {\n  \
           caller_trust?: String,\n  \
           model?: String,\n  \
           prompt_tokens?: Long,\n  \
           risk_score?: decimal,\n\
         };\n\
         action \"infer:run\", \"data:read\", \"data:write\", \"tool:invoke\", \"policy:admin\" appliesTo {\n  \
           principal: [Subject],\n  \
           resource: [Resource],\n  \
           context: {\n    \
             env: String,\n    \
             sensitivity: String,\n    \
             subject_type?: String,\n    \
             signals: Signals,\n  \
           },\n\
         };\n"
            .to_owned()
    }

    /// The Cedar policy set: one `permit` per rule, its outcome in annotations.
    pub fn cedar_policies(&self) -> String {
        let mut c = String::with_capacity(self.rules.len() * 400);
        for r in &self.rules {
            cedar_rule(&mut c, r);
        }
        c
    }

    /// The Rego module (package `policygate`): a `matched` set of
    /// `[priority, rule_id, decision, max_tokens]` and a max-priority selection.
    pub fn rego(&self) -> String {
        let mut g = String::with_capacity(self.rules.len() * 300 + 1024);
        g.push_str(
            "package policygate\n\n\
             import rego.v1\n\n\
             default decision := {\"decision\": \"BLOCK\", \"rule_id\": \"\", \"max_tokens\": 0}\n\n\
             best := max({m[0] | some m in matched})\n\n\
             decision := {\"decision\": m[2], \"rule_id\": m[1], \"max_tokens\": m[3]} if {\n  \
               some m in matched\n  \
               m[0] == best\n\
             }\n\n",
        );
        for r in &self.rules {
            rego_rule(&mut g, r);
        }
        g
    }
}

fn yaml_set(values: &[String]) -> String {
    match values {
        [one] => q(one),
        many => format!("{{ in: [{}] }}", list(many.iter().map(|v| q(v)))),
    }
}

fn yaml_rule(y: &mut String, r: &Rule) {
    let c = &r.cond;
    let _ = write!(
        y,
        "  - rule_id: {}\n    priority: {}\n    when:\n",
        q(&r.id),
        r.priority
    );
    if let Some(a) = &c.actions {
        let v: Vec<String> = a.iter().map(|x| x.as_str().to_owned()).collect();
        let _ = writeln!(y, "      action: {}", yaml_set(&v));
    }
    if let Some(e) = &c.envs {
        let _ = writeln!(y, "      env: {{ name: {} }}", yaml_set(e));
    }
    let mut res = Vec::new();
    if let Some(t) = &c.resource_type {
        res.push(format!("type: {}", q(t)));
    }
    if let Some(s) = &c.sensitivities {
        let v: Vec<String> = s.iter().map(|x| x.as_str().to_owned()).collect();
        res.push(format!("sensitivity: {}", yaml_set(&v)));
    }
    if !res.is_empty() {
        let _ = writeln!(y, "      resource: {{ {} }}", res.join(", "));
    }
    let mut sub = Vec::new();
    if let Some(t) = &c.subject_type {
        sub.push(format!("type: {}", q(t)));
    }
    if let Some(i) = &c.subject_id {
        sub.push(format!("id: {}", q(i)));
    }
    if !sub.is_empty() {
        let _ = writeln!(y, "      subject: {{ {} }}", sub.join(", "));
    }
    let mut sig = Vec::new();
    if let Some(t) = &c.caller_trust {
        let v: Vec<String> = t.iter().map(|x| (*x).to_owned()).collect();
        sig.push(format!("caller_trust: {}", yaml_set(&v)));
    }
    if let Some(m) = &c.model {
        sig.push(format!("model: {}", q(m)));
    }
    if let Some(p) = c.prompt_tokens_gt {
        sig.push(format!("prompt_tokens: {{ gt: {p} }}"));
    }
    if let Some(h) = c.risk_gte {
        sig.push(format!("risk_score: {{ gte: {} }}", hundredths(h)));
    }
    if !sig.is_empty() {
        let _ = writeln!(y, "      signals: {{ {} }}", sig.join(", "));
    }
    let _ = write!(
        y,
        "    then:\n      decision: {}\n      rationale_codes: [{}]\n",
        r.decision.as_str(),
        r.rationale
    );
    if let Some(m) = r.max_tokens {
        let _ = writeln!(
            y,
            "      obligations: [{{ type: OUTPUT_CAP, params: {{ max_tokens: {m} }} }}]"
        );
    }
}

/// `expr == a` or `[a, b].contains(expr)`.
fn cedar_in(expr: &str, values: &[String]) -> String {
    match values {
        [one] => format!("{expr} == {}", q(one)),
        many => format!("[{}].contains({expr})", list(many.iter().map(|v| q(v)))),
    }
}

fn cedar_cond(c: &Cond) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(e) = &c.envs {
        w.push(cedar_in("context.env", e));
    }
    if let Some(s) = &c.sensitivities {
        let v: Vec<String> = s.iter().map(|x| x.as_str().to_owned()).collect();
        w.push(cedar_in("context.sensitivity", &v));
    }
    if let Some(t) = &c.subject_type {
        w.push(format!(
            "context has subject_type && context.subject_type == {}",
            q(t)
        ));
    }
    if let Some(t) = &c.caller_trust {
        let v: Vec<String> = t.iter().map(|x| (*x).to_owned()).collect();
        w.push(format!(
            "context.signals has caller_trust && {}",
            cedar_in("context.signals.caller_trust", &v)
        ));
    }
    if let Some(m) = &c.model {
        w.push(format!(
            "context.signals has model && context.signals.model == {}",
            q(m)
        ));
    }
    if let Some(p) = c.prompt_tokens_gt {
        w.push(format!(
            "context.signals has prompt_tokens && context.signals.prompt_tokens > {p}"
        ));
    }
    if let Some(h) = c.risk_gte {
        w.push(format!(
            "context.signals has risk_score && context.signals.risk_score.greaterThanOrEqual(decimal(\"{}\"))",
            hundredths(h)
        ));
    }
    w
}

fn cedar_rule(c: &mut String, r: &Rule) {
    let cond = &r.cond;
    let _ = writeln!(c, "@rule_id({})", q(&r.id));
    let _ = writeln!(c, "@priority(\"{}\")", r.priority);
    let _ = writeln!(c, "@decision(\"{}\")", r.decision.as_str());
    if let Some(m) = r.max_tokens {
        let _ = writeln!(c, "@max_tokens(\"{m}\")");
    }
    // Scope: subject.id is the principal, the action is the action entity; resource.type
    // is the resource entity (requests name resources by type).
    let principal = match &cond.subject_id {
        Some(id) => format!("principal == Subject::{}", q(id)),
        None => "principal".to_owned(),
    };
    let action = match cond.actions.as_deref() {
        None => "action".to_owned(),
        Some([one]) => format!("action == Action::{}", q(one.as_str())),
        Some(many) => format!(
            "action in [{}]",
            list(many.iter().map(|a| format!("Action::{}", q(a.as_str()))))
        ),
    };
    let resource = match &cond.resource_type {
        Some(t) => format!("resource == Resource::{}", q(t)),
        None => "resource".to_owned(),
    };
    let _ = write!(c, "permit ({principal}, {action}, {resource})");
    let when = cedar_cond(cond);
    if when.is_empty() {
        c.push_str(";\n\n");
    } else {
        let _ = write!(c, "\nwhen {{\n  {}\n}};\n\n", when.join(" &&\n  "));
    }
}

fn rego_in(expr: &str, values: &[String]) -> String {
    match values {
        [one] => format!("{expr} == {}", q(one)),
        many => format!("{expr} in {{{}}}", list(many.iter().map(|v| q(v)))),
    }
}

fn rego_rule(g: &mut String, r: &Rule) {
    let c = &r.cond;
    let mut body = Vec::new();
    // The most selective test first (as a Rego author tuning for speed would).
    if let Some(e) = &c.envs {
        body.push(rego_in("input.env.name", e));
    }
    if let Some(a) = &c.actions {
        let v: Vec<String> = a.iter().map(|x| x.as_str().to_owned()).collect();
        body.push(rego_in("input.action", &v));
    }
    if let Some(t) = &c.resource_type {
        body.push(format!("input.resource.type == {}", q(t)));
    }
    if let Some(s) = &c.sensitivities {
        let v: Vec<String> = s.iter().map(|x| x.as_str().to_owned()).collect();
        body.push(rego_in("input.resource.sensitivity", &v));
    }
    if let Some(t) = &c.subject_type {
        body.push(format!("input.subject.type == {}", q(t)));
    }
    if let Some(i) = &c.subject_id {
        body.push(format!("input.subject.id == {}", q(i)));
    }
    if let Some(t) = &c.caller_trust {
        let v: Vec<String> = t.iter().map(|x| (*x).to_owned()).collect();
        body.push(rego_in("input.signals.caller_trust", &v));
    }
    if let Some(m) = &c.model {
        body.push(format!("input.signals.model == {}", q(m)));
    }
    if let Some(p) = c.prompt_tokens_gt {
        body.push(format!("input.signals.prompt_tokens > {p}"));
    }
    if let Some(h) = c.risk_gte {
        body.push(format!("input.signals.risk_score >= {}", hundredths(h)));
    }
    let _ = write!(
        g,
        "matched contains [{}, {}, \"{}\", {}] if {{\n  {}\n}}\n\n",
        r.priority,
        q(&r.id),
        r.decision.as_str(),
        r.max_tokens.unwrap_or(0),
        body.join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_appears_in_every_language() {
        let s = Scenario::generate(100);
        let (y, c, g) = (s.policygate_yaml(), s.cedar_policies(), s.rego());
        for r in &s.rules {
            let quoted = q(&r.id);
            assert!(y.contains(&format!("rule_id: {quoted}")), "{}", r.id);
            assert!(c.contains(&format!("@rule_id({quoted})")), "{}", r.id);
            assert!(g.contains(&format!(", {quoted}, ")), "{}", r.id);
        }
        assert_eq!(c.matches("permit (").count(), 100);
        assert_eq!(g.matches("matched contains").count(), 100);
    }

    #[test]
    fn degrade_rules_carry_an_output_cap() {
        let s = Scenario::generate(10);
        let y = s.policygate_yaml();
        let degrades = s.rules.iter().filter(|r| r.max_tokens.is_some()).count();
        assert!(degrades > 0);
        assert_eq!(y.matches("type: OUTPUT_CAP").count(), degrades);
    }
}
