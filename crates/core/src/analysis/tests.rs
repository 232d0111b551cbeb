//! Unit tests of the cross-rule analysis: dead rules, equal-priority overlap and its
//! witness (typed, checked), shadowing, possible overlap, the expansion bound, and the
//! keys the evaluation index is built from.
use super::*;
use crate::{LoadOptions, Policy, Report, load};

const HEADER: &str =
    "policy_id: t\npolicy_version: \"1\"\ndefault: { decision: BLOCK, rationale_codes: [DENY] }\n";
const P53: i64 = 1 << 53;

fn run(body: &str) -> (Option<Policy>, Report) {
    let text = format!("{HEADER}{body}");
    load("t.yaml", text.as_bytes(), &LoadOptions::default())
}

fn codes(ds: &[Diagnostic]) -> Vec<(Code, Option<String>)> {
    ds.iter()
        .map(|d| (d.code(), d.rule_id().map(str::to_owned)))
        .collect()
}

/// Two rules at priority 10, the second with `then` ALLOW.
fn pair(facts: &str, a: &str, b: &str) -> String {
    format!(
        "facts: {facts}\nrules:\n  - {{ rule_id: a, priority: 10, when: {a}, then: {{ decision: BLOCK, rationale_codes: [A] }} }}\n  - {{ rule_id: b, priority: 10, when: {b}, then: {{ decision: ALLOW, rationale_codes: [B] }} }}\n"
    )
}

#[test]
fn overlap_witness_is_typed_and_matches_both_rules() {
    let (policy, report) = run(&pair(
        "{ n: { type: integer }, x: { type: number } }",
        "{ signals: { n: { gt: 9007199254740992 } } }",
        "{ signals: { n: { lt: 9007199254740994 }, x: { gte: 0.5 } } }",
    ));
    assert!(policy.is_none());
    let [d] = report.errors() else {
        panic!("{}", report.render_human(false))
    };
    assert_eq!(d.code(), Code::EqualPriorityOverlap);
    let w = d.witness_request().unwrap();
    // The only integer strictly between 2^53 and 2^53 + 2, as a JSON integer.
    assert_eq!(w["signals"]["n"].as_i64(), Some(P53 + 1), "{w}");
    assert!(w["signals"]["x"].as_f64().is_some_and(|x| x >= 0.5), "{w}");
    // The witness is a valid request.
    assert!(EvaluateRequest::from_value(w).is_ok());
}

#[test]
fn edges_that_meet_but_do_not_overlap_are_disjoint() {
    for (a, b) in [
        ("{ lte: 9007199254740992 }", "{ gt: 9007199254740992 }"),
        ("{ lt: 9007199254740993 }", "{ gte: 9007199254740993 }"),
        (
            "{ lt: -9223372036854775807 }",
            "{ gt: -9223372036854775808 }",
        ),
        ("{ lte: 4.5 }", "{ gte: 5 }"),
        ("{ in: [9007199254740992] }", "{ in: [9007199254740993] }"),
    ] {
        let (policy, report) = run(&pair(
            "{ n: { type: integer } }",
            &format!("{{ signals: {{ n: {a} }} }}"),
            &format!("{{ signals: {{ n: {b} }} }}"),
        ));
        assert!(
            policy.is_some(),
            "{a} / {b}: {}",
            report.render_human(false)
        );
        assert!(report.warnings().is_empty(), "{a} / {b}");
    }
}

#[test]
fn number_facts_overlap_between_an_integer_and_its_float_neighbours() {
    // For a number fact, 2^53 + 1 is a value a request can send (as an integer): it is
    // above the float 2^53 and below the float 2^53 + 2.
    let (policy, report) = run(&pair(
        "{ x: { type: number } }",
        "{ signals: { x: { gt: 9007199254740992.0 } } }",
        "{ signals: { x: { lt: 9007199254740994.0 } } }",
    ));
    assert!(policy.is_none());
    let w = report.errors()[0].witness_request().unwrap();
    assert!(w["signals"]["x"].is_number(), "{w}");
    // With that integer excluded there is no value left between them.
    let (policy, report) = run(&pair(
        "{ x: { type: number } }",
        "{ signals: { x: { gt: 9007199254740992.0 } } }",
        "{ signals: { x: { lt: 9007199254740994.0, ne: 9007199254740993 } } }",
    ));
    assert!(policy.is_some(), "{}", report.render_human(false));
}

#[test]
fn dead_rules_name_the_contradictory_fact() {
    let (policy, report) = run(
        "facts: { n: { type: integer } }\nrules:\n  - { rule_id: r, priority: 1, when: { signals: { n: { gt: 9223372036854775806, lt: 9223372036854775807 } } }, then: { decision: ALLOW, rationale_codes: [A] } }\n",
    );
    assert!(policy.is_none());
    assert_eq!(
        codes(report.errors()),
        vec![(Code::DeadRule, Some("r".to_owned()))]
    );
    assert!(
        report.errors()[0].message().contains("`signals.n`"),
        "{}",
        report.errors()[0].message()
    );
    // One integer between them: alive.
    let (policy, _) = run(
        "facts: { n: { type: integer } }\nrules:\n  - { rule_id: r, priority: 1, when: { signals: { n: { gt: 9223372036854775805, lt: 9223372036854775807 } } }, then: { decision: ALLOW, rationale_codes: [A] } }\n",
    );
    assert!(policy.is_some());
}

#[test]
fn shadowing_is_reported_with_every_rule_that_covers() {
    // An integer fact is covered by `lt: 4.5` plus `gt: 4.2`.
    let (policy, report) = run(
        "facts: { n: { type: integer } }\nrules:\n  - { rule_id: low, priority: 30, when: { signals: { n: { lt: 4.5 } } }, then: { decision: ALLOW, rationale_codes: [A] } }\n  - { rule_id: high, priority: 20, when: { signals: { n: { gt: 4.2 } } }, then: { decision: ALLOW, rationale_codes: [B] } }\n  - { rule_id: any_n, priority: 10, when: { signals: { n: { exists: true } } }, then: { decision: BLOCK, rationale_codes: [C] } }\n",
    );
    assert!(policy.is_some());
    assert_eq!(
        codes(report.warnings()),
        vec![(Code::ShadowedRule, Some("any_n".to_owned()))]
    );
    let msg = report.warnings()[0].message();
    assert!(msg.contains("`low`") && msg.contains("`high`"), "{msg}");
    // A number fact is not: 4.3 escapes `lt: 4.2` plus `gt: 4.5`... and 4.25 escapes
    // `lt: 4.2` plus `gt: 4.3`.
    let (_, report) = run(
        "facts: { x: { type: number } }\nrules:\n  - { rule_id: low, priority: 30, when: { signals: { x: { lt: 4.2 } } }, then: { decision: ALLOW, rationale_codes: [A] } }\n  - { rule_id: high, priority: 20, when: { signals: { x: { gt: 4.3 } } }, then: { decision: ALLOW, rationale_codes: [B] } }\n  - { rule_id: any_x, priority: 10, when: { signals: { x: { exists: true } } }, then: { decision: BLOCK, rationale_codes: [C] } }\n",
    );
    assert!(
        report.warnings().is_empty(),
        "{}",
        report.render_human(false)
    );
}

#[test]
fn shadowing_at_i64_max_is_exact() {
    let rules = |lower: &str| {
        format!(
            "facts: {{ n: {{ type: integer }} }}\nrules:\n  - {{ rule_id: hi, priority: 20, when: {{ signals: {{ n: {{ gt: 9223372036854775806 }} }} }}, then: {{ decision: ALLOW, rationale_codes: [A] }} }}\n  - {{ rule_id: lo, priority: 10, when: {{ signals: {{ n: {lower} }} }}, then: {{ decision: BLOCK, rationale_codes: [B] }} }}\n"
        )
    };
    let (_, report) = run(&rules("{ gte: 9223372036854775807 }"));
    assert_eq!(
        codes(report.warnings()),
        vec![(Code::ShadowedRule, Some("lo".to_owned()))]
    );
    let (_, report) = run(&rules("{ gte: 9223372036854775806 }"));
    assert!(
        report.warnings().is_empty(),
        "{}",
        report.render_human(false)
    );
}

#[test]
fn undecidable_patterns_give_a_possible_overlap() {
    let (policy, report) = run(&pair(
        "{ tool: { type: string } }",
        "{ signals: { tool: { matches: \"^sh\" } } }",
        "{ signals: { tool: { matches: \"ell$\" } } }",
    ));
    assert!(policy.is_some());
    assert_eq!(
        codes(report.warnings()),
        vec![(Code::MayOverlap, Some("b".to_owned()))]
    );
}

#[test]
fn expansion_is_bounded() {
    let anys: Vec<String> = (0..9)
        .map(|k| {
            format!("{{ any: [{{ signals: {{ a{k}: true }} }}, {{ signals: {{ b{k}: true }} }}] }}")
        })
        .collect();
    let (policy, report) = run(&format!(
        "rules:\n  - {{ rule_id: big, priority: 1, when: {{ all: [{}] }}, then: {{ decision: ALLOW, rationale_codes: [A] }} }}\n",
        anys.join(", ")
    ));
    assert!(policy.is_none());
    assert_eq!(
        codes(report.errors()),
        vec![(Code::RuleTooComplex, Some("big".to_owned()))]
    );
}

/// The keys `analyse` hands to the index, by rule, through the real pipeline.
fn keys(body: &str) -> (Vec<FactInfo>, Vec<RuleKeys>) {
    let text = format!("{HEADER}{body}");
    let root = crate::yaml::parse(&text).unwrap();
    let mut diags = Vec::new();
    let raw = crate::parse::Parser::new(&mut diags).document(root);
    let checked = crate::check::Checker::run(&raw, &mut diags, true);
    let keys = analyse(&checked.facts, &checked.rules, &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    (checked.facts, keys)
}

#[test]
fn rule_keys_are_the_finite_value_sets_a_rule_pins() {
    let (facts, keys) = keys(
        "facts: { n: { type: integer } }\nrules:\n  - { rule_id: a, priority: 3, when: { action: { in: [infer:run, data:read] }, signals: { n: { in: [9007199254740992, 9007199254740993] } } }, then: { decision: ALLOW, rationale_codes: [A] } }\n  - { rule_id: b, priority: 2, when: { any: [{ action: tool:invoke }, { action: data:write, signals: { n: { gt: 3 } } }] }, then: { decision: ALLOW, rationale_codes: [B] } }\n  - { rule_id: c, priority: 1, when: { not: { resource: { sensitivity: public } } }, then: { decision: ALLOW, rationale_codes: [C] } }\n",
    );
    let fact = |path: &str| facts.iter().position(|f| f.fact.path() == path).unwrap();
    let (action, n, sens) = (
        fact("action"),
        fact("signals.n"),
        fact("resource.sensitivity"),
    );
    let a = keys[0].as_ref().unwrap();
    assert_eq!(
        a.get(&action).unwrap(),
        &vec![
            Key::Val(Val::Str("data:read".into())),
            Key::Val(Val::Str("infer:run".into()))
        ]
    );
    // Two keys: the integers stay distinct.
    assert_eq!(
        a.get(&n).unwrap(),
        &vec![
            Key::Val(Val::Num(Num::Int(P53))),
            Key::Val(Val::Num(Num::Int(P53 + 1)))
        ]
    );
    // `b` pins the action in both alternatives, and `n` in neither.
    let b = keys[1].as_ref().unwrap();
    assert_eq!(b.get(&action).map(Vec::len), Some(2));
    assert!(!b.contains_key(&n));
    // `not public` over an enum is the other two sensitivities.
    let c = keys[2].as_ref().unwrap();
    assert_eq!(c.get(&sens).map(Vec::len), Some(2));
}

#[test]
fn subject_fields_are_absent_when_the_subject_is() {
    let rules = |a: &str, b: &str| {
        format!(
            "rules:\n  - {{ rule_id: a, priority: 10, when: {a}, then: {{ decision: BLOCK, rationale_codes: [A] }} }}\n  - {{ rule_id: b, priority: 10, when: {b}, then: {{ decision: ALLOW, rationale_codes: [B] }} }}\n"
        )
    };
    // No subject means no subject type: disjoint.
    let (policy, report) = run(&rules(
        "{ subject: { exists: false } }",
        "{ subject: { type: service } }",
    ));
    assert!(policy.is_some(), "{}", report.render_human(false));
    // An absent subject has no id either: both match a request without a subject.
    let (policy, report) = run(&rules(
        "{ subject: { exists: false } }",
        "{ subject: { id: { exists: false } } }",
    ));
    assert!(policy.is_none());
    let w = report.errors()[0].witness_request().unwrap();
    assert!(w.get("subject").is_none(), "{w}");
}
