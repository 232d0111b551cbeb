//! Unit tests of stage two (semantics of single rules), through `Checker::run` on the
//! output of stage one: fact resolution, literal domains, operator applicability,
//! duplicate ids and the types inferred for undeclared signals.

use super::*;
use crate::diag::Code;
use crate::model::StrCheck;
use crate::parse::Parser;
use policygate_api::contract::{
    ENV_NAME_PATTERN, MAX_SIGNAL_STRING_CHARS, RESOURCE_TYPE_PATTERN, SIGNAL_NAME_PATTERN,
    SUBJECT_TYPE_PATTERN,
};

/// Stages one and two over a policy whose rules are `rules` (YAML, indented as list
/// items under `rules:`), optionally with a `facts:` section.
fn check(facts: Option<&str>, rules: &str) -> (Checked, Vec<Diagnostic>) {
    let facts = facts.map_or(String::new(), |f| format!("facts:\n{f}\n"));
    let text = format!(
        "policy_id: p\npolicy_version: \"1\"\ndefault: {{ decision: BLOCK, rationale_codes: [D] }}\n{facts}rules:\n{rules}"
    );
    let root = crate::yaml::parse(&text).unwrap();
    let mut diags = Vec::new();
    let raw = Parser::new(&mut diags).document(root);
    let structure_ok = diags.iter().all(|d| d.severity() != crate::Severity::Error);
    assert!(structure_ok, "stage one refused the test policy: {diags:?}");
    let checked = Checker::run(&raw, &mut diags, structure_ok);
    (checked, diags)
}

/// One rule `r` with condition `when`.
fn rule(when: &str) -> String {
    format!(
        "  - rule_id: r\n    priority: 1\n    when: {when}\n    then: {{ decision: ALLOW, rationale_codes: [A] }}\n"
    )
}

fn codes(diags: &[Diagnostic]) -> Vec<Code> {
    diags.iter().map(Diagnostic::code).collect()
}

fn domain_of<'c>(checked: &'c Checked, fact: &Fact) -> Option<&'c Domain> {
    checked
        .facts
        .iter()
        .find(|f| &f.fact == fact)
        .map(|f| &f.domain)
}

#[test]
fn a_valid_rule_resolves_its_facts() {
    let (checked, diags) = check(
        None,
        &rule("{ action: infer:run, resource: { sensitivity: { in: [internal, restricted] } } }"),
    );
    assert!(diags.is_empty(), "{diags:?}");
    assert!(checked.all_rules_valid);
    let [r] = checked.rules.as_slice() else {
        panic!("{:?}", checked.rules)
    };
    assert_eq!(r.id, "r");
    assert_eq!(r.priority, 1);
    // The built-in facts are always in the table.
    for fact in Fact::BUILTIN {
        assert!(domain_of(&checked, &fact).is_some(), "{fact}");
    }
}

#[test]
fn unknown_fact_paths_are_refused_with_a_suggestion() {
    let (checked, diags) = check(None, &rule("{ resource: { kind: document } }"));
    assert_eq!(codes(&diags), [Code::UnknownFact]);
    assert!(
        diags[0].message().contains("resource.kind"),
        "{}",
        diags[0].message()
    );
    assert!(!checked.all_rules_valid);
    assert!(checked.rules.is_empty());
}

#[test]
fn invalid_signal_paths_quote_the_contract_pattern() {
    let (_, diags) = check(None, &rule("{ signals.Risk: 1 }"));
    assert_eq!(codes(&diags), [Code::UnknownFact]);
    assert!(
        diags[0]
            .help_text()
            .is_some_and(|h| h.contains(SIGNAL_NAME_PATTERN)),
        "{:?}",
        diags[0].help_text()
    );
}

#[test]
fn literals_outside_a_closed_domain_are_refused() {
    let (_, diags) = check(None, &rule("{ action: infer:runn }"));
    assert_eq!(codes(&diags), [Code::InvalidLiteral]);
    let (_, diags) = check(None, &rule("{ resource: { sensitivity: secret } }"));
    assert_eq!(codes(&diags), [Code::InvalidLiteral]);
    // An env name a request can never carry.
    let (_, diags) = check(None, &rule("{ env: { name: \"-prod\" } }"));
    assert_eq!(codes(&diags), [Code::InvalidLiteral]);
}

#[test]
fn string_checks_describe_the_contract_patterns() {
    for (check, pattern) in [
        (StrCheck::EnvName, ENV_NAME_PATTERN),
        (StrCheck::ResourceType, RESOURCE_TYPE_PATTERN),
        (StrCheck::SubjectType, SUBJECT_TYPE_PATTERN),
    ] {
        assert!(check.describe().contains(pattern), "{check:?}");
    }
    assert!(
        StrCheck::Signal
            .describe()
            .contains(&MAX_SIGNAL_STRING_CHARS.to_string())
    );
    assert!(StrCheck::Signal.accepts(&"x".repeat(MAX_SIGNAL_STRING_CHARS)));
    assert!(!StrCheck::Signal.accepts(&"x".repeat(MAX_SIGNAL_STRING_CHARS + 1)));
    assert!(!StrCheck::Id.accepts(""));
}

#[test]
fn operators_must_apply_to_the_fact() {
    let (_, diags) = check(None, &rule("{ action: { gt: 3 } }"));
    assert_eq!(codes(&diags), [Code::OperatorNotApplicable]);
    let (_, diags) = check(
        Some("  tags: { type: list }"),
        &rule("{ signals: { tags: { gt: 1 } } }"),
    );
    assert_eq!(codes(&diags), [Code::OperatorNotApplicable], "{diags:?}");
}

#[test]
fn list_elements_longer_than_a_signal_string_can_never_match() {
    let long = "x".repeat(MAX_SIGNAL_STRING_CHARS + 1);
    let facts = "  tags: { type: list }";
    let (_, diags) = check(
        Some(facts),
        &rule(&format!(
            "{{ signals: {{ tags: {{ contains: {long} }} }} }}"
        )),
    );
    assert_eq!(codes(&diags), [Code::InvalidLiteral]);
    assert_eq!(
        diags[0].message(),
        format!(
            "list elements are at most {MAX_SIGNAL_STRING_CHARS} characters: this can never match"
        )
    );
    let fits = "x".repeat(MAX_SIGNAL_STRING_CHARS);
    let (_, diags) = check(
        Some(facts),
        &rule(&format!(
            "{{ signals: {{ tags: {{ contains: {fits} }} }} }}"
        )),
    );
    assert!(diags.is_empty(), "{diags:?}");
}

#[test]
fn duplicate_rule_ids_are_refused() {
    let (_, diags) = check(
        None,
        &format!(
            "{}{}",
            rule("{ action: infer:run }"),
            rule("{ action: data:read }")
        ),
    );
    assert_eq!(codes(&diags), [Code::DuplicateRuleId]);
}

#[test]
fn declared_facts_refuse_undeclared_signals() {
    let (_, diags) = check(
        Some("  caller_trust: { type: string }"),
        &rule("{ signals: { risk: 1 } }"),
    );
    assert_eq!(codes(&diags), [Code::UndeclaredSignal]);
    let (checked, diags) = check(
        Some("  caller_trust: { type: string }"),
        &rule("{ signals: { caller_trust: high } }"),
    );
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(
        domain_of(&checked, &Fact::Signal("caller_trust".into())),
        Some(&Domain::Str(StrCheck::Signal))
    );
}

#[test]
fn undeclared_signals_get_the_type_their_literals_imply() {
    let (checked, diags) = check(None, &rule("{ signals: { pii: true, region: eu } }"));
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(
        domain_of(&checked, &Fact::Signal("pii".into())),
        Some(&Domain::Bool)
    );
    assert!(matches!(
        domain_of(&checked, &Fact::Signal("region".into())),
        Some(Domain::Str(_))
    ));
    // Undeclared signals may carry another type at run time.
    assert!(
        checked
            .facts
            .iter()
            .any(|f| f.fact == Fact::Signal("pii".into()) && f.untyped)
    );
}

#[test]
fn conflicting_literal_types_for_one_undeclared_signal_are_refused() {
    let rules = format!(
        "{}  - rule_id: s\n    priority: 2\n    when: {{ signals: {{ x: high }} }}\n    then: {{ decision: ALLOW, rationale_codes: [A] }}\n",
        rule("{ signals: { x: true } }")
    );
    let (_, diags) = check(None, &rules);
    assert!(
        codes(&diags).contains(&Code::SignalTypeConflict),
        "{diags:?}"
    );
}
