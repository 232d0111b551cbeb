#!/usr/bin/env bash
# PolicyGate vs Cedar vs Rego (regorus): the one command of issue 5 / BENCHMARKS.md.
#
#   bench/peers/run.sh            full run: fairness check + criterion timings for
#                                 10, 100, 1,000 and 10,000 rules, memory, summary tables
#   PEERS_QUICK=1 bench/peers/run.sh     smoke run with short measurements (not for publishing)
#   PEERS_SIZES=10,100 bench/peers/run.sh   only some sizes
#   bench/peers/run.sh test       the crate's tests (fairness at 10 and 100 rules, generator)
#
# This crate is its own cargo workspace (target dir bench/peers/target), so nothing here
# is built by `cargo test --workspace` at the repository root. The first build compiles
# cedar-policy and regorus: several minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")"

if [[ "${1:-}" == "test" ]]; then
  exec cargo test --release --locked
fi

cargo bench --locked --bench peers -- "$@"
cargo run --release --locked --quiet --bin peers-memory
cargo run --release --locked --quiet --bin peers-summary
