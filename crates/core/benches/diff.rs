//! `diff` benchmarks on the generated 10,000-rule policy (the generator of the engine
//! benchmarks, `tests/shared/bench_policy.rs`): two identical policies, and two that differ in 10 rules (outcomes,
//! priorities and conditions edited). Loading is not timed here; `policygate diff`
//! end to end is measured in BENCHMARKS.md.
//!
//! Run: `cargo bench -p policygate-core --bench diff`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and bench code fails loudly"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use policygate_core::{LoadOptions, Policy, load};
use std::hint::black_box;

#[path = "../tests/shared/bench_policy.rs"]
#[expect(dead_code, reason = "the diff bench needs the policy, not the request")]
mod bench_policy;
use bench_policy::policy;

/// Ten edits spread over the policy: four outcomes, three priorities, three conditions.
fn edited(text: &str) -> String {
    let mut out = text.to_owned();
    for (k, i) in (500..10_000).step_by(950).take(10).enumerate() {
        let block_start = out
            .find(&format!("  - rule_id: r{i}\n"))
            .expect("rule exists");
        let block_end = out[block_start + 1..]
            .find("  - rule_id:")
            .map_or(out.len(), |e| block_start + 1 + e);
        let block = out[block_start..block_end].to_owned();
        let new_block = match k % 3 {
            0 => block.replace(&format!("[R{i}]"), &format!("[R{i}_CHANGED]")),
            1 => {
                let p = block
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("priority: "))
                    .expect("priority")
                    .to_owned();
                block.replace(&format!("priority: {p}"), "priority: 150")
            }
            _ => block.replace(&format!("lte: {}", 1000 + i), "lte: 50"),
        };
        assert_ne!(block, new_block, "edit {k} of r{i} changed nothing");
        out.replace_range(block_start..block_end, &new_block);
    }
    out
}

fn loaded(text: &str) -> Policy {
    let (p, report) = load("bench.yaml", text.as_bytes(), &LoadOptions::default());
    p.unwrap_or_else(|| panic!("{}", report.render_human(false)))
}

fn benches(c: &mut Criterion) {
    let text = policy(10_000);
    let old = loaded(&text);
    let same = loaded(&text);
    let changed = loaded(&edited(&text));
    // `DIFF_BENCH_WRITE=DIR` writes the two policies, to time `policygate diff` on them.
    if let Ok(dir) = std::env::var("DIFF_BENCH_WRITE") {
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join("old.yaml"), &text).unwrap();
        std::fs::write(dir.join("new.yaml"), edited(&text)).unwrap();
    }
    let report = old.diff(&same, false);
    assert!(report.equivalent);
    let report = old.diff(&changed, false);
    assert_eq!(report.changed_rules.old.len(), 10);
    assert!(!report.changes.is_empty() && report.undecided.is_empty());
    println!(
        "10,000 rules, 10 edited: {} changes, changed rules {:?}",
        report.changes.len(),
        report.changed_rules.old
    );

    let mut group = c.benchmark_group("diff");
    group.sample_size(10);
    group.bench_function("identical_10000", |b| {
        b.iter(|| black_box(old.diff(black_box(&same), false)).equivalent)
    });
    group.bench_function("10_changed_of_10000", |b| {
        b.iter(|| {
            black_box(old.diff(black_box(&changed), false))
                .changes
                .len()
        })
    });
    group.finish();
}

criterion_group!(diff, benches);
criterion_main!(diff);
