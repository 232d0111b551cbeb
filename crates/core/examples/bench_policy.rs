//! Prints the generated benchmark policy of N rules (`tests/shared/bench_policy.rs`,
//! the policy of the engine and diff benchmarks) on stdout, for benchmarks of the
//! binary (`bench/rss.sh`).
//!
//! Run: `cargo run --release -p policygate-core --example bench_policy -- 10000 > p.yaml`.

#[path = "../tests/shared/bench_policy.rs"]
#[expect(dead_code, reason = "only the policy is printed")]
mod bench_policy;

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(n) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
    else {
        eprintln!("usage: bench_policy N   (N: the number of rules, e.g. 10000)");
        return ExitCode::from(2);
    };
    let text = bench_policy::policy(n);
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
