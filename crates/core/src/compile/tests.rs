//! Unit tests of the evaluation index: when it splits, on which fact, what each branch
//! holds (in evaluation order, unpinned rules copied in), and that numeric keys at the
//! 2^53 edge stay distinct.
use super::*;
use crate::{LoadOptions, Policy, load};
use policygate_api::EvaluateRequest;

const HEADER: &str =
    "policy_id: t\npolicy_version: \"1\"\ndefault: { decision: BLOCK, rationale_codes: [DENY] }\n";
const P53: i64 = 1 << 53;

fn policy(body: &str) -> Policy {
    let text = format!("{HEADER}{body}");
    let (p, report) = load("t.yaml", text.as_bytes(), &LoadOptions::default());
    p.unwrap_or_else(|| panic!("{}", report.render_human(false)))
}

fn rule(id: &str, priority: u32, when: &str) -> String {
    format!(
        "  - {{ rule_id: {id}, priority: {priority}, when: {when}, then: {{ decision: ALLOW, rationale_codes: [A] }} }}\n"
    )
}

fn request(env: &str, signals: &str) -> EvaluateRequest {
    EvaluateRequest::from_json(
        format!(r#"{{"action":"infer:run","env":{{"name":"{env}"}},"resource":{{"type":"doc","sensitivity":"public"}},"signals":{signals}}}"#)
            .as_bytes(),
    )
    .unwrap()
}

/// Rule ids among a request's candidates, in order.
fn candidates(p: &Policy, req: &EvaluateRequest) -> Vec<String> {
    p.index
        .candidates(&p.facts, req)
        .iter()
        .map(|i| p.rules[*i as usize].id.clone())
        .collect()
}

#[test]
fn small_policies_are_one_list() {
    let mut body = String::from("rules:\n");
    for i in 0..LEAF {
        body.push_str(&rule(
            &format!("r{i}"),
            10,
            &format!("{{ env: {{ name: e{i} }} }}"),
        ));
    }
    let p = policy(&body);
    assert!(matches!(&p.index, Index::Leaf(list) if list.len() == LEAF));
}

#[test]
fn splits_on_the_pinned_fact_and_copies_unpinned_rules_into_every_branch() {
    let mut body = String::from("rules:\n");
    for i in 0..12 {
        body.push_str(&rule(
            &format!("e{i}"),
            10,
            &format!("{{ env: {{ name: e{i} }} }}"),
        ));
    }
    // Unpinned on `env.name`: one above the tenant rules, one below.
    body.push_str(&rule("guard", 20, "{ signals: { risk: { gte: 0.5 } } }"));
    body.push_str(&rule("floor", 5, "{ signals: { risk: { lt: 0.5 } } }"));
    let p = policy(&body);
    let Index::Split { fact, strs, .. } = &p.index else {
        panic!("not split: {:?}", p.index)
    };
    assert_eq!(p.facts[*fact].fact.path(), "env.name");
    assert_eq!(strs.len(), 12);
    // Evaluation order: priority descending, so `guard` first and `floor` last.
    assert_eq!(
        candidates(&p, &request("e3", "{}")),
        ["guard", "e3", "floor"]
    );
    // A value no rule pins: only the unpinned rules.
    assert_eq!(candidates(&p, &request("other", "{}")), ["guard", "floor"]);
}

#[test]
fn does_not_split_when_most_rules_would_be_copied() {
    let mut body = String::from("rules:\n");
    body.push_str(&rule("pinned", 10, "{ env: { name: prod } }"));
    for i in 0..11 {
        body.push_str(&rule(
            &format!("w{i}"),
            20 + i,
            &format!("{{ signals: {{ s{i}: true }} }}"),
        ));
    }
    let p = policy(&body);
    assert!(matches!(&p.index, Index::Leaf(list) if list.len() == 12));
}

#[test]
fn numeric_keys_at_2_53_stay_distinct() {
    let mut body = String::from("facts: { n: { type: integer } }\nrules:\n");
    for k in 0..12 {
        body.push_str(&rule(
            &format!("n{k}"),
            10,
            &format!("{{ signals: {{ n: {} }} }}", P53 + k),
        ));
    }
    let p = policy(&body);
    let Index::Split { nums, .. } = &p.index else {
        panic!("not split: {:?}", p.index)
    };
    assert_eq!(nums.len(), 12);
    assert!(
        nums.windows(2).all(|w| w[0].0 < w[1].0),
        "keys sorted and distinct"
    );
    for k in 0..12 {
        let req = request("prod", &format!(r#"{{"n":{}}}"#, P53 + k));
        let id = format!("n{k}");
        assert_eq!(candidates(&p, &req), std::slice::from_ref(&id));
        assert_eq!(p.evaluate(&req).matched_rule_id, Some(id.as_str()));
    }
    // Absent, and a value no key holds: no candidates.
    assert!(candidates(&p, &request("prod", "{}")).is_empty());
    let below = request("prod", &format!(r#"{{"n":{}}}"#, P53 - 1));
    assert!(candidates(&p, &below).is_empty());
}

#[test]
fn number_keys_match_integers_and_floats_by_value() {
    let mut body = String::from("facts: { x: { type: number } }\nrules:\n");
    for k in 0..12 {
        body.push_str(&rule(
            &format!("x{k}"),
            10,
            &format!("{{ signals: {{ x: {k}.5 }} }}"),
        ));
    }
    body.push_str(&rule("three", 10, "{ signals: { x: 3.0 } }"));
    body.push_str(&rule("zero", 10, "{ signals: { x: 0 } }"));
    let p = policy(&body);
    assert!(p.uses_index());
    for (signals, want) in [
        (r#"{"x":3}"#, Some("three")),
        (r#"{"x":3.0}"#, Some("three")),
        (r#"{"x":-0.0}"#, Some("zero")),
        (r#"{"x":0}"#, Some("zero")),
        (r#"{"x":7.5}"#, Some("x7")),
        (r#"{"x":7}"#, None),
    ] {
        let req = request("prod", signals);
        assert_eq!(p.evaluate(&req).matched_rule_id, want, "{signals}");
        assert_eq!(p.evaluate_in_order(&req).matched_rule_id, want, "{signals}");
    }
}
