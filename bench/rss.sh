#!/usr/bin/env bash
# Memory of `policygate serve` with the generated benchmark policy at 1,000, 5,000 and
# 10,000 rules (issue 11 item 8): VmRSS (resident now) and VmHWM (the resident peak)
# from /proc/PID/status, read once the server has printed its listening line, then
# the server is stopped. The policy is the engine benchmarks' generator
# (crates/core/tests/shared/bench_policy.rs, printed by the `bench_policy` example).
#
# Usage: bench/rss.sh               (from anywhere; builds release binaries first)
# Knobs (environment): SIZES="1000 5000 10000"  PORT=18191  SETTLE=0.5 (seconds after
#                      the listening line before reading, so that a late free is seen)
#                      PG=<path to a policygate binary> (skips the build; e.g. an old one)
# Goal (issue 11): VmRSS under 50 MB at 10,000 rules. This is a benchmark, not a
# test: it fails only on errors (the server not starting), never on the numbers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT (the working directory), WORK, PIDS, helpers
SIZES="${SIZES:-1000 5000 10000}"
PORT="${PORT:-18191}"
SETTLE="${SETTLE:-0.5}"

echo "building (release)..." >&2
cargo build --release --quiet --locked -p policygate-core --example bench_policy
if [[ -z "${PG:-}" ]]; then
  cargo build --release --quiet --locked -p policygate-cli
  PG="$ROOT/target/release/policygate"
fi
GEN="$ROOT/target/release/examples/bench_policy"

kb() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$PID/status"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

echo "policygate: $PG (worktree at $(git rev-parse --short HEAD 2>/dev/null || echo "?"))"
printf '%8s %10s %12s %12s %10s\n' rules "file MB" "VmRSS MB" "VmHWM MB" "start s"
for n in $SIZES; do
  policy="$WORK/p$n.yaml"
  "$GEN" "$n" > "$policy"
  log="$WORK/serve-$n.log"; : > "$log"
  start=$SECONDS
  t0=$(date +%s.%N)
  "$PG" serve --policy "$policy" --no-watch --listen "127.0.0.1:$PORT" \
    --audit-file "$WORK/audit-$n.jsonl" 2>"$log" >/dev/null &
  PID=$!; PIDS+=("$PID")
  # Wait (bounded) for the listening line.
  until grep -q "policygate listening on" "$log"; do
    if ! kill -0 "$PID" 2>/dev/null; then cat "$log" >&2; echo "the server exited" >&2; exit 1; fi
    if ((SECONDS - start > 120)); then echo "no listening line after 120 s" >&2; exit 1; fi
    sleep 0.05
  done
  t1=$(date +%s.%N)
  sleep "$SETTLE"
  rss=$(kb VmRSS); hwm=$(kb VmHWM)
  kill -TERM "$PID"; wait "$PID" || true; forget_pid "$PID"
  printf '%8s %10s %12s %12s %10s\n' "$n" "$(mb $(($(stat -c %s "$policy") / 1024)))" \
    "$(mb "$rss")" "$(mb "$hwm")" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
  rm -f "$policy" "$WORK/audit-$n.jsonl"
done
