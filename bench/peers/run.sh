#!/usr/bin/env bash
# PolicyGate vs Cedar vs Rego (regorus): the one command of issue 5 / BENCHMARKS.md.
#
#   bench/peers/run.sh                     full run: for 10, 100, 1,000 and 10,000 rules the
#                                          fairness check, then criterion timings; then
#                                          memory and the summary tables
#   PEERS_QUICK=1 bench/peers/run.sh       short measurements (a smoke run, not for publishing)
#   PEERS_SIZES=10,100 bench/peers/run.sh  only some sizes (the 10,000-rule fairness check
#                                          alone takes 7-12 minutes: the peers need
#                                          30-60 ms per decision there)
#   bench/peers/run.sh test                the crate's tests (generator; fairness at 10 and
#                                          100 rules)
#
# Extra arguments go to criterion, e.g. `bench/peers/run.sh decide/` (filters).
# This crate is its own cargo workspace (target dir bench/peers/target), so nothing here
# is built by `cargo test --workspace` at the repository root. The first build compiles
# cedar-policy and regorus: several minutes on two cores.
set -euo pipefail
cd "$(dirname "$0")"

if [[ "${1:-}" == "test" ]]; then
  exec cargo test --release --locked
fi

echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(rustc -V)"
echo "policygate: $(git -C ../.. log -1 --format='%h %s' 2>/dev/null || echo 'not a git checkout')" \
  "($(git -C ../.. status --short -- crates/core crates/api 2>/dev/null | wc -l) uncommitted engine files)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
cargo bench --locked --bench peers -- "$@"
cargo run --release --locked --quiet --bin peers-memory
cargo run --release --locked --quiet --bin peers-summary
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); total $(( $(date +%s) - start )) s"
