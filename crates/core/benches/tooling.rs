//! Policy authors' tools at scale: a 10,000-case test suite against a 1,000-rule
//! policy (load, validation and analysis of the policy, reading and binding the suite,
//! running every case), and coverage suggestions for every rule of that policy.
//! Targets (issue 12): each under 1 s on the development machine.
//!
//! Run: `cargo bench -p policygate-core --bench tooling`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and bench code fails loudly"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use policygate_core::{LoadOptions, load, parse_suite, run_case};
use std::hint::black_box;

const ACTIONS: [&str; 4] = ["infer:run", "data:read", "data:write", "tool:invoke"];
const SENS: [&str; 3] = ["public", "internal", "restricted"];
const DECISIONS: [&str; 4] = ["ALLOW", "REQUIRE_REVIEW", "DEGRADE", "BLOCK"];

/// The engine bench's policy shape: per-tenant rules, disjoint at equal priority.
fn policy(n: usize) -> String {
    let mut s = String::from(
        "policy_id: bench\npolicy_version: \"1\"\nfacts:\n  risk_score: {type: number, min: 0, max: 1}\n  prompt_tokens: {type: integer, min: 0}\n  caller_trust: {type: string, enum: [low, medium, high]}\ndefault: {decision: BLOCK, rationale_codes: [DEFAULT_DENY]}\nrules:\n  - rule_id: block_risk\n    priority: 1000\n    when: {signals: {risk_score: {gte: 0.95}}}\n    then: {decision: BLOCK, rationale_codes: [RISK]}\n",
    );
    for i in 0..n - 1 {
        let extra = if i % 4 == 2 {
            "\n      obligations: [{type: OUTPUT_CAP, params: {max_tokens: 256}}]"
        } else {
            ""
        };
        s.push_str(&format!(
            "  - rule_id: r{i}\n    priority: {}\n    when:\n      action: \"{}\"\n      env: {{name: tenant-{}}}\n      resource: {{sensitivity: {}}}\n      signals: {{prompt_tokens: {{lte: {}}}, caller_trust: {{in: [medium, high]}}}}\n    then:\n      decision: {}\n      rationale_codes: [R{i}]{extra}\n",
            100 + (i % 7),
            ACTIONS[i % 4],
            i / 12,
            SENS[(i / 4) % 3],
            1000 + i,
            DECISIONS[i % 4],
        ));
    }
    s
}

/// `cases` cases, each decided by one of the rules (round robin).
fn suite(rules: usize, cases: usize) -> String {
    let mut s = String::from(
        "policy: bench.yaml\ndefaults:\n  resource: {type: document}\n  signals: {prompt_tokens: 500, caller_trust: high, risk_score: 0.2}\ncases:\n",
    );
    for c in 0..cases {
        let i = c % (rules - 1);
        s.push_str(&format!(
            "  - name: case {c}\n    request: {{action: \"{}\", env: {{name: tenant-{}}}, resource: {{sensitivity: {}}}}}\n    expect: {{decision: {}, matched_rule_id: r{i}}}\n",
            ACTIONS[i % 4],
            i / 12,
            SENS[(i / 4) % 3],
            DECISIONS[i % 4],
        ));
    }
    s
}

fn benches(c: &mut Criterion) {
    let policy_text = policy(1_000);
    let suite_text = suite(1_000, 10_000);
    let mut g = c.benchmark_group("tooling");
    g.sample_size(10);
    g.bench_function("test_10000_cases_1000_rules_load_included", |b| {
        b.iter(|| {
            let (policy, report) = load(
                "bench.yaml",
                black_box(policy_text.as_bytes()),
                &LoadOptions::default(),
            );
            let policy = policy.unwrap_or_else(|| panic!("{}", report.render_human(false)));
            let (doc, report) = parse_suite("bench_test.yaml", black_box(suite_text.as_bytes()));
            let doc = doc.unwrap_or_else(|| panic!("{}", report.render_human(false)));
            let (suite, report) = doc.bind(&policy);
            let suite = suite.unwrap_or_else(|| panic!("{}", report.render_human(false)));
            let passed = suite
                .cases
                .iter()
                .filter(|c| run_case(&policy, c).passed)
                .count();
            assert_eq!(passed, 10_000);
        });
    });
    let (policy, _) = load(
        "bench.yaml",
        policy_text.as_bytes(),
        &LoadOptions::default(),
    );
    let policy = policy.unwrap();
    let ids: Vec<String> = policy.rules().map(|r| r.rule_id.to_owned()).collect();
    g.bench_function("coverage_suggestions_1000_rules", |b| {
        b.iter(|| {
            let found = ids
                .iter()
                .filter(|id| policy.suggest_request(Some(id)).is_some())
                .count()
                + usize::from(policy.suggest_request(None).is_some());
            assert_eq!(found, ids.len() + 1);
        });
    });
    g.finish();
}

criterion_group!(tooling, benches);
criterion_main!(tooling);
