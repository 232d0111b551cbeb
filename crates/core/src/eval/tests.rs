//! Unit tests of condition evaluation, through `holds` and `fact_state` on conditions
//! that stages one and two built from policy text: equality, absent facts (null counts
//! as absent), `exists`, the combinators, strings and lists.

use super::*;
use crate::check::{Checked, Checker};
use crate::parse::Parser;
use policygate_api::{Action, Env, Resource, Sensitivity, Subject};
use std::collections::BTreeMap;

/// The checked policy of one rule whose condition is `when`.
fn compile(when: &str) -> Checked {
    let text = format!(
        "policy_id: p\npolicy_version: \"1\"\ndefault: {{ decision: BLOCK, rationale_codes: [D] }}\nrules:\n  - rule_id: r\n    priority: 1\n    when: {when}\n    then: {{ decision: ALLOW, rationale_codes: [A] }}\n"
    );
    let root = crate::yaml::parse(&text).unwrap();
    let mut diags = Vec::new();
    let raw = Parser::new(&mut diags).document(root);
    let structure_ok = diags.is_empty();
    let checked = Checker::run(&raw, &mut diags, structure_ok);
    assert!(diags.is_empty(), "{when}: {diags:?}");
    assert_eq!(checked.rules.len(), 1, "{when}");
    checked
}

fn request() -> EvaluateRequest {
    EvaluateRequest {
        request_id: None,
        timestamp: None,
        action: Action::InferRun,
        env: Env {
            name: "prod".into(),
        },
        resource: Resource {
            kind: "document".into(),
            id: None,
            sensitivity: Sensitivity::Restricted,
        },
        subject: None,
        signals: BTreeMap::new(),
        caller: None,
    }
}

fn with_signal(name: &str, value: SignalValue) -> EvaluateRequest {
    let mut r = request();
    r.signals.insert(name.into(), value);
    r
}

/// Whether the one rule of `when` holds for `req`.
fn holds_for(when: &str, req: &EvaluateRequest) -> bool {
    let checked = compile(when);
    holds(&checked.rules[0].when, &checked.facts, req)
}

#[test]
fn equality_on_built_in_facts() {
    let r = request();
    assert!(holds_for("{ action: infer:run }", &r));
    assert!(!holds_for("{ action: data:read }", &r));
    assert!(holds_for(
        "{ env: { name: prod }, resource: { sensitivity: restricted } }",
        &r
    ));
    assert!(!holds_for(
        "{ env: { name: prod }, resource: { sensitivity: public } }",
        &r
    ));
    assert!(holds_for(
        "{ resource: { sensitivity: { in: [internal, restricted] } } }",
        &r
    ));
    assert!(!holds_for(
        "{ resource: { sensitivity: { not_in: [internal, restricted] } } }",
        &r
    ));
}

#[test]
fn combinators() {
    let r = request();
    assert!(holds_for(
        "{ any: [ { action: data:read }, { action: infer:run } ] }",
        &r
    ));
    assert!(!holds_for(
        "{ all: [ { action: infer:run }, { env: { name: dev } } ] }",
        &r
    ));
    assert!(holds_for("{ not: { env: { name: dev } } }", &r));
    assert!(!holds_for(
        "{ not: { any: [ { action: infer:run } ] } }",
        &r
    ));
}

#[test]
fn tests_on_absent_facts_are_false_and_null_is_absent() {
    let when = "{ signals: { caller_trust: high } }";
    assert!(!holds_for(when, &request()));
    assert!(!holds_for(
        when,
        &with_signal("caller_trust", SignalValue::Null)
    ));
    assert!(holds_for(
        when,
        &with_signal("caller_trust", SignalValue::Str("high".into()))
    ));
    // `ne` is a test too: false on an absent fact, so `not` of it is true.
    assert!(!holds_for(
        "{ signals: { caller_trust: { ne: high } } }",
        &request()
    ));
    assert!(holds_for(
        "{ not: { signals: { caller_trust: { ne: high } } } }",
        &request()
    ));
    assert!(matches!(
        fact_state(
            &Fact::Signal("caller_trust".into()),
            &with_signal("caller_trust", SignalValue::Null)
        ),
        State::Absent
    ));
}

#[test]
fn exists_sees_presence_only() {
    let when = "{ signals: { reason: { exists: true } } }";
    assert!(!holds_for(when, &request()));
    assert!(!holds_for(when, &with_signal("reason", SignalValue::Null)));
    assert!(holds_for(
        when,
        &with_signal("reason", SignalValue::Str(String::new()))
    ));
    assert!(holds_for(
        "{ signals: { reason: { exists: false } } }",
        &request()
    ));
}

#[test]
fn optional_built_in_facts() {
    let mut r = request();
    assert!(holds_for("{ subject: { exists: false } }", &r));
    assert!(!holds_for("{ subject: { type: user } }", &r));
    r.subject = Some(Subject {
        kind: Some("user".into()),
        id: None,
    });
    assert!(holds_for("{ subject: { exists: true } }", &r));
    assert!(holds_for("{ subject: { type: user } }", &r));
    assert!(!holds_for("{ subject: { id: { exists: true } } }", &r));
    assert!(!holds_for("{ resource: { id: d1 } }", &r));
    r.resource.id = Some("d1".into());
    assert!(holds_for("{ resource: { id: d1 } }", &r));
}

#[test]
fn numbers_compare_across_integer_and_float() {
    let when = "{ signals: { tokens: { gt: 100 } } }";
    assert!(holds_for(
        when,
        &with_signal("tokens", SignalValue::Int(101))
    ));
    assert!(!holds_for(
        when,
        &with_signal("tokens", SignalValue::Int(100))
    ));
    assert!(holds_for(
        when,
        &with_signal("tokens", SignalValue::Float(100.5))
    ));
    // A value of another type than the rules expect does not satisfy the test.
    assert!(!holds_for(
        when,
        &with_signal("tokens", SignalValue::Str("1000".into()))
    ));
}

#[test]
fn strings_and_lists() {
    let r = with_signal("model", SignalValue::Str("gpt-4o-mini".into()));
    assert!(holds_for(
        "{ signals: { model: { starts_with: gpt- } } }",
        &r
    ));
    assert!(holds_for("{ signals: { model: { ends_with: mini } } }", &r));
    assert!(!holds_for(
        "{ signals: { model: { starts_with: claude } } }",
        &r
    ));
    assert!(holds_for(
        "{ signals: { model: { matches: \"^gpt-[0-9]\" } } }",
        &r
    ));

    let tags = with_signal("tags", SignalValue::List(vec!["pii".into(), "eu".into()]));
    assert!(holds_for("{ signals: { tags: { contains: pii } } }", &tags));
    assert!(!holds_for("{ signals: { tags: { contains: us } } }", &tags));
    assert!(!holds_for(
        "{ signals: { tags: { contains: pii } } }",
        &request()
    ));
}
