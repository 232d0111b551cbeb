//! Diagnostics that never mislead: the words users read for the mistakes new users
//! make (issue 12, item 7). The golden cases under `tests/cases/diagnostics/` pin the
//! codes and positions; these tests pin the hints.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code fails loudly"
)]

use policygate_core::{Code, LoadOptions, Report, load};
use std::path::Path;

fn case(name: &str) -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let policy = doc["policy"].as_str().unwrap();
    load("policy.yaml", policy.as_bytes(), &LoadOptions::default()).1
}

fn helps(report: &Report) -> Vec<String> {
    report
        .errors()
        .iter()
        .map(|d| format!("{} | {}", d.message(), d.help_text().unwrap_or_default()))
        .collect()
}

#[test]
fn misspelt_roots_are_unknown_facts_with_the_right_suggestion() {
    let r = case("diagnostics/misspelt_fact_root.yaml");
    assert!(
        r.errors().iter().all(|d| d.code() == Code::UnknownFact),
        "{:?}",
        helps(&r)
    );
    let h = helps(&r);
    assert!(
        h[0].contains("`environment`") && h[0].contains("did you mean `env`?"),
        "{}",
        h[0]
    );
    assert!(h[1].contains("did you mean `signals`?"), "{}", h[1]);
    assert!(h[2].contains("did you mean `resource`?"), "{}", h[2]);
    assert!(h[3].contains("did you mean `env`?"), "{}", h[3]);
    for line in &h {
        assert!(!line.contains("operator"), "{line}");
        assert!(!line.contains("is a value, not an object"), "{line}");
    }
}

#[test]
fn fields_are_suggested_by_meaning() {
    let h = helps(&case("diagnostics/field_by_meaning.yaml"));
    assert!(h[0].contains("did you mean `resource.type`?"), "{}", h[0]);
    assert!(h[1].contains("did you mean `subject.type`?"), "{}", h[1]);
}

#[test]
fn an_invalid_declaration_is_reported_once() {
    let r = case("diagnostics/invalid_declaration_once.yaml");
    let h = helps(&r);
    assert_eq!(h.len(), 1, "{h:?}");
    assert!(
        h[0].contains("unknown fact type `float`") && h[0].contains("`number`"),
        "{}",
        h[0]
    );
}

#[test]
fn dead_rules_point_at_the_contradicting_tests() {
    let policy = "policy_id: p\npolicy_version: \"1\"\ndefault: {decision: BLOCK, rationale_codes: [D]}\nrules:\n  - rule_id: r\n    priority: 1\n    when: {signals: {tokens: {gt: 10, lt: 5}}}\n    then: {decision: BLOCK, rationale_codes: [A]}\n";
    let (_, r) = load("p.yaml", policy.as_bytes(), &LoadOptions::default());
    let d = &r.errors()[0];
    assert_eq!(d.code(), Code::DeadRule);
    let loc = d.loc().unwrap();
    assert_eq!(
        (loc.line(), loc.column()),
        (7, 31),
        "the `gt` test, not `when:`"
    );
    let human = r.render_human(false);
    assert!(human.contains("contradicted here"), "{human}");
    assert!(
        !human.contains("this condition is unsatisfiable"),
        "{human}"
    );
}
