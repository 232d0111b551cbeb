//! Engine benchmarks: load+validate (with the full overlap/shadowing analysis) and
//! per-decision cost, for generated policies of 10 to 10,000 rules; and the direct
//! cost of a shadow policy (`serve --shadow-policy`) per request, which the server
//! benchmark (`bench/serve.sh`) cannot resolve below a few µs on a shared machine.
//!
//! Run: `cargo bench -p policygate-core --bench engine`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and bench code fails loudly"
)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use policygate_api::{EvaluateRequest, ShadowOutcomeRef, chain::line_hash};
use policygate_core::{LoadOptions, load};
use std::hint::black_box;

#[path = "../tests/shared/bench_policy.rs"]
mod bench_policy;
use bench_policy::{policy, request};

fn benches(c: &mut Criterion) {
    let mut load_group = c.benchmark_group("load_validate_compile");
    load_group.sample_size(10);
    for n in [10usize, 100, 1_000, 10_000] {
        let text = policy(n);
        let (p, report) = load("bench.yaml", text.as_bytes(), &LoadOptions::default());
        assert!(p.is_some(), "{}", report.render_human(false));
        assert!(
            report.warnings().is_empty(),
            "{}",
            report.render_human(false)
        );
        load_group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| {
                load(
                    "bench.yaml",
                    black_box(text.as_bytes()),
                    &LoadOptions::default(),
                )
            });
        });
    }
    load_group.finish();

    let mut eval_group = c.benchmark_group("evaluate");
    for n in [10usize, 100, 1_000, 10_000] {
        let text = policy(n);
        let (p, _) = load("bench.yaml", text.as_bytes(), &LoadOptions::default());
        let policy = p.expect("valid");
        let body = request(n);
        let req = EvaluateRequest::from_json(&body).expect("valid request");
        eval_group.bench_with_input(BenchmarkId::new("pure", n), &req, |b, req| {
            b.iter(|| policy.evaluate(black_box(req)).decision)
        });
        eval_group.bench_with_input(BenchmarkId::new("from_json", n), &body, |b, body| {
            b.iter(|| {
                let req = EvaluateRequest::from_json(black_box(body)).expect("valid");
                policy.evaluate(&req).decision
            });
        });
    }
    eval_group.finish();

    // What a shadow policy adds to one request, as the server does it: the shadow's
    // own check of the request and its evaluation, the comparison with the live
    // decision, the `shadow` object serialised into the audit line and SHA-256 over
    // those bytes (hashed on their own, which costs at most one block more than the
    // longer line does). The shadow here is the live policy itself (bench/serve.sh loads
    // the same file twice), so its caches are warmer than a server's.
    let mut shadow_group = c.benchmark_group("shadow");
    for n in [10usize, 10_000] {
        let text = policy(n);
        let (p, _) = load("bench.yaml", text.as_bytes(), &LoadOptions::default());
        let policy = p.expect("valid");
        let req = EvaluateRequest::from_json(&request(n)).expect("valid request");
        let live = policy.evaluate(&req);
        let mut line = Vec::with_capacity(512);
        shadow_group.bench_with_input(BenchmarkId::new("direct", n), &req, |b, req| {
            b.iter(|| {
                let req = black_box(req);
                policy.check_request(req).expect("accepted");
                let d = policy.evaluate(req);
                let outcome = ShadowOutcomeRef {
                    policy: policy.rendered_identity(),
                    decision: Some(d.decision),
                    matched_rule_id: d.matched_rule_id,
                    rationale_codes: d.rationale_codes,
                    differs: d.decision != live.decision || d.obligations != live.obligations,
                    error_code: None,
                };
                line.clear();
                serde_json::to_writer(&mut line, &outcome).expect("serialises");
                line_hash(&line)
            });
        });
    }
    shadow_group.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
