//! Unit tests of stage one (structure), through `Parser::document` on a YAML tree: what
//! a document becomes, and which diagnostic each structural mistake gets.

use super::*;
use crate::diag::Code;
use policygate_api::contract::{OUTPUT_CAP_MAX_BYTES, OUTPUT_CAP_MAX_TOKENS, SIGNAL_NAME_PATTERN};

/// Stage one over `text`: the raw policy and every diagnostic, in order.
fn parse(text: &str) -> (RawPolicy, Vec<Diagnostic>) {
    let root = crate::yaml::parse(text).unwrap();
    let mut diags = Vec::new();
    let raw = Parser::new(&mut diags).document(root);
    (raw, diags)
}

fn codes(diags: &[Diagnostic]) -> Vec<Code> {
    diags.iter().map(Diagnostic::code).collect()
}

/// A document with one rule whose `then` is `then`.
fn with_then(then: &str) -> String {
    format!(
        "policy_id: p\npolicy_version: \"1\"\ndefault: {{ decision: BLOCK, rationale_codes: [D] }}\nrules:\n  - rule_id: r\n    priority: 1\n    when: {{ action: infer:run }}\n    then: {then}\n"
    )
}

const MINIMAL: &str = "\
policy_id: p
policy_version: \"1\"
default: { decision: BLOCK, rationale_codes: [DENY] }
rules:
  - rule_id: allow_public
    priority: 10
    when: { resource: { sensitivity: public } }
    then: { decision: ALLOW, rationale_codes: [PUBLIC] }
";

#[test]
fn a_minimal_document_is_read_without_diagnostics() {
    let (raw, diags) = parse(MINIMAL);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(raw.policy_id.as_deref(), Some("p"));
    assert_eq!(raw.policy_version.as_deref(), Some("1"));
    assert!(raw.facts.is_none());
    let default = raw.default.unwrap();
    assert_eq!(default.decision, DecisionKind::Block);
    assert_eq!(default.rationale_codes, ["DENY"]);
    let [rule] = raw.rules.as_slice() else {
        panic!("{:?}", raw.rules)
    };
    assert_eq!(rule.id.as_deref(), Some("allow_public"));
    assert_eq!(rule.priority, Some(10));
    assert_eq!(rule.id_loc.line(), 5);
    // A mapping is the conjunction of its entries, at each level: `when` holds one
    // entry (`resource`), which holds one field test.
    let Some(RawCond::All(top)) = &rule.when else {
        panic!("{:?}", rule.when)
    };
    let [RawCond::All(fields)] = top.as_slice() else {
        panic!("{top:?}")
    };
    let [RawCond::Test { path, matcher, .. }] = fields.as_slice() else {
        panic!("{fields:?}")
    };
    assert_eq!(path, "resource.sensitivity");
    let RawMatcher::Literal(node) = matcher else {
        panic!("{matcher:?}")
    };
    assert!(matches!(&node.kind, crate::yaml::Kind::Str(s) if s == "public"));
}

#[test]
fn missing_and_unknown_top_level_keys() {
    let (_, diags) = parse("policy_id: p\nrule: []\n");
    let found = codes(&diags);
    assert!(found.contains(&Code::UnknownKey), "{found:?}");
    assert!(found.contains(&Code::MissingKey), "{found:?}");
    let unknown = diags.iter().find(|d| d.code() == Code::UnknownKey).unwrap();
    assert!(
        unknown.message().contains("`rule`"),
        "{}",
        unknown.message()
    );
    // A near miss is named in the help.
    assert!(
        unknown.help_text().is_some_and(|h| h.contains("rules")),
        "{:?}",
        unknown.help_text()
    );
}

#[test]
fn did_you_mean_suggests_only_close_words() {
    assert!(did_you_mean("prority", ["priority", "rule_id"]).contains("priority"));
    assert_eq!(did_you_mean("zzzzzz", ["priority", "rule_id"]), "");
}

#[test]
fn priority_is_bounded() {
    for (priority, ok) in [
        ("0", true),
        ("1000000", true),
        ("1000001", false),
        ("-1", false),
    ] {
        let text = MINIMAL.replace("priority: 10", &format!("priority: {priority}"));
        let (raw, diags) = parse(&text);
        if ok {
            assert!(diags.is_empty(), "{priority}: {diags:?}");
            assert!(raw.rules[0].priority.is_some());
        } else {
            assert_eq!(codes(&diags), [Code::OutOfRange], "{priority}");
            assert_eq!(raw.rules[0].priority, None);
        }
    }
}

#[test]
fn output_cap_parameters_use_the_contract_bounds() {
    let degrade = |params: &str| {
        with_then(&format!(
            "{{ decision: DEGRADE, rationale_codes: [C], obligations: [{{ type: OUTPUT_CAP, params: {{ {params} }} }}] }}"
        ))
    };
    let (raw, diags) = parse(&degrade(&format!(
        "max_tokens: {OUTPUT_CAP_MAX_TOKENS}, max_bytes: {OUTPUT_CAP_MAX_BYTES}"
    )));
    assert!(diags.is_empty(), "{diags:?}");
    let then = raw.rules[0].then.as_ref().unwrap();
    assert_eq!(
        then.obligations,
        [Obligation::OutputCap(OutputCap {
            max_tokens: Some(OUTPUT_CAP_MAX_TOKENS),
            max_items: None,
            max_bytes: Some(OUTPUT_CAP_MAX_BYTES),
        })]
    );

    let over = OUTPUT_CAP_MAX_TOKENS + 1;
    let (_, diags) = parse(&degrade(&format!("max_tokens: {over}")));
    assert_eq!(codes(&diags), [Code::InvalidObligationParams]);
    assert_eq!(
        diags[0].message(),
        format!("`max_tokens` must be in 1..={OUTPUT_CAP_MAX_TOKENS}, found {over}")
    );

    let (_, diags) = parse(&degrade("max_tokens: 0"));
    assert_eq!(codes(&diags), [Code::InvalidObligationParams]);

    let (_, diags) = parse(&degrade("max_token: 5"));
    assert_eq!(codes(&diags), [Code::InvalidObligationParams]);
    assert!(
        diags[0]
            .help_text()
            .is_some_and(|h| h.contains("max_tokens")),
        "{:?}",
        diags[0].help_text()
    );
}

#[test]
fn unknown_obligation_types_are_refused() {
    let (raw, diags) = parse(&with_then(
        "{ decision: DEGRADE, rationale_codes: [C], obligations: [{ type: OUTPUT_CAPS, params: { max_tokens: 1 } }] }",
    ));
    assert!(
        codes(&diags).contains(&Code::UnknownObligation),
        "{diags:?}"
    );
    assert!(
        raw.rules[0]
            .then
            .as_ref()
            .is_none_or(|t| t.obligations.is_empty())
    );
}

#[test]
fn declared_signal_names_follow_the_contract_pattern() {
    let text = MINIMAL.replace(
        "rules:",
        "facts:\n  caller_trust: { type: string }\n  Caller-Trust: { type: string }\nrules:",
    );
    let (raw, diags) = parse(&text);
    assert_eq!(codes(&diags), [Code::InvalidValue]);
    assert!(
        diags[0]
            .help_text()
            .is_some_and(|h| h.contains(SIGNAL_NAME_PATTERN)),
        "{:?}",
        diags[0].help_text()
    );
    let names: Vec<&str> = raw
        .facts
        .iter()
        .flatten()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, ["caller_trust"]);
}

#[test]
fn wrong_types_are_reported_where_they_are() {
    let (_, diags) = parse(&MINIMAL.replace("policy_id: p", "policy_id: [p]"));
    assert_eq!(codes(&diags), [Code::WrongType]);
    assert_eq!(diags[0].loc().map(|l| l.line()), Some(1));
}

#[test]
fn unknown_operators_are_a_structural_error() {
    let text = MINIMAL.replace(
        "when: { resource: { sensitivity: public } }",
        "when: { action: { bogus: 3 } }",
    );
    let (_, diags) = parse(&text);
    assert_eq!(codes(&diags), [Code::UnknownOperator]);
    assert!(
        diags[0]
            .help_text()
            .is_some_and(|h| h.contains("eq, ne, in")),
        "{:?}",
        diags[0].help_text()
    );
}
