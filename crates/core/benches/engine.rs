//! Engine benchmarks: load+validate (with the full overlap/shadowing analysis) and
//! per-decision cost, for generated policies of 10 to 10,000 rules.
//!
//! Run: `cargo bench -p policygate-core --bench engine`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and bench code fails loudly"
)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use policygate_api::EvaluateRequest;
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
}

criterion_group!(engine, benches);
criterion_main!(engine);
