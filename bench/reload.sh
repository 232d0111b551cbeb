#!/usr/bin/env bash
# Does reloading a 10,000-rule policy disturb the requests served meanwhile? (issue 14)
#
# One run on loopback, release build: `policygate serve` on the generated 10,000-rule
# benchmark policy (`crates/core/examples/bench_policy.rs`), loaded by wrk with the same
# request, connections and duration in ROUNDS interleaved pairs of runs: one undisturbed,
# one while the policy file is replaced every RELOAD_EVERY seconds (write-then-rename,
# alternating two valid versions, which the file watcher picks up: a full load,
# validation and analysis off the request path, then the swap). Prints p50/p99 of every
# run, the median p99 of each kind and their difference, and how many swaps the server
# reported (`policygate_policy_reloads_total`).
#
# Usage: bench/reload.sh         (bounded by DURATION; stops by itself)
# Knobs: DURATION=10s WARMUP=2s CONNECTIONS=16 THREADS=2 RULES=10000 RELOAD_EVERY=1 PORT=18183
#        ROUNDS=3 (interleaved undisturbed/reloading pairs; medians reported)
# Goal (issue 14): reloads raise the p99 of concurrent requests by at most 1 ms. A
# benchmark, not a test: it fails only on errors (non-2xx answers, no swap seen).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT (the working directory), WORK, PIDS, helpers
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
RULES="${RULES:-10000}"
RELOAD_EVERY="${RELOAD_EVERY:-1}"
ROUNDS="${ROUNDS:-3}"
PORT="${PORT:-18183}"
need_wrk
echo "building (release)..." >&2
cargo build --release --quiet -p policygate-cli
cargo build --release --quiet -p policygate-core --example bench_policy
PG="$ROOT/target/release/policygate"
"$ROOT/target/release/examples/bench_policy" "$RULES" > "$WORK/v1.yaml"
# The second version differs in its version string only: same rules, new identity.
sed 's/^policy_version: "1"/policy_version: "2"/' "$WORK/v1.yaml" > "$WORK/v2.yaml"
cp "$WORK/v1.yaml" "$WORK/policy.yaml"

tenant=$(( (RULES - 2) / 12 / 2 ))
BODY="{\"action\":\"data:read\",\"env\":{\"name\":\"tenant-$tenant\"},\"resource\":{\"type\":\"document\",\"sensitivity\":\"public\"},\"signals\":{\"prompt_tokens\":500,\"caller_trust\":\"high\",\"risk_score\":0.2}}"
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
LUA

"$PG" serve --policy "$WORK/policy.yaml" --listen "127.0.0.1:$PORT" --audit-file "$WORK/audit.jsonl" 2>"$WORK/pg.log" &
PG_PID=$!; PIDS+=("$PG_PID")
deadline=$((SECONDS + 120))
until "$PG" healthcheck --url "http://127.0.0.1:$PORT/health" --timeout-ms 500 2>/dev/null; do
  if ((SECONDS > deadline)); then cat "$WORK/pg.log" >&2; echo "server did not become healthy" >&2; exit 1; fi
  sleep 0.2
done
url="http://127.0.0.1:$PORT/evaluate"

measure() { # NAME -> P50, P99, RPS
  timeout 600 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/post.lua" "$url" > "$WORK/$1.txt"
  if grep -q "Non-2xx" "$WORK/$1.txt"; then cat "$WORK/$1.txt" >&2; echo "$1: non-2xx answers" >&2; exit 1; fi
  wrk_fields "$WORK/$1.txt"
}
swaps() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^policygate_policy_reloads_total\{outcome="applied"\}/ { print $2 }'; }

timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$WORK/post.lua" "$url" > /dev/null

# ROUNDS rounds of (undisturbed, reloading), interleaved so that both see the same
# machine; the medians are the result (one run's p99 moves by a millisecond on a
# shared 2-core machine).
seconds=${DURATION%s}
Q_P99S=() R_P99S=() ROWS=()
total_swaps=0
for round in $(seq 1 "$ROUNDS"); do
  measure "quiet-$round"
  Q_P99S+=("$P99"); ROWS+=("$(printf '%-22s %10.0f %10s %10s' "no reloads ($round)" "$RPS" "$P50" "$P99")")
  before=$(swaps); before=${before:-0}
  # The replacer: bounded by the duration of the loaded run.
  (
    v=2
    end=$((SECONDS + seconds))
    while ((SECONDS < end)); do
      cp "$WORK/v$v.yaml" "$WORK/policy.yaml.tmp" && mv "$WORK/policy.yaml.tmp" "$WORK/policy.yaml"
      v=$((3 - v))
      sleep "$RELOAD_EVERY"
    done
  ) &
  REPLACER=$!; PIDS+=("$REPLACER")
  measure "reloading-$round"
  wait "$REPLACER" || true
  # Let the last reload finish before the next undisturbed run.
  sleep 1
  after=$(swaps); after=${after:-0}
  if [[ "$after" == "$before" ]]; then cat "$WORK/pg.log" >&2; echo "no reload was seen" >&2; exit 1; fi
  total_swaps=$((total_swaps + ${after%.*} - ${before%.*}))
  R_P99S+=("$P99"); ROWS+=("$(printf '%-22s %10.0f %10s %10s' "reloading ($round)" "$RPS" "$P50" "$P99")")
done
Q_MED=$(awk -v m="$(median "${Q_P99S[@]}")" 'BEGIN { printf "%.3f", m }')
R_MED=$(awk -v m="$(median "${R_P99S[@]}")" 'BEGIN { printf "%.3f", m }')

echo "bench/reload.sh: $RULES rules, $CONNECTIONS connections, $THREADS wrk threads, $ROUNDS rounds of $DURATION after $WARMUP warm-up, policy replaced every ${RELOAD_EVERY}s while reloading, $(nproc) cores"
printf '%-22s %10s %10s %10s\n' run req/s "p50 ms" "p99 ms"
printf '%s\n' "${ROWS[@]}"
echo "swaps during the reloading runs: $total_swaps"
echo "median p99: $Q_MED ms undisturbed, $R_MED ms reloading"
echo "p99 raised by $(awk -v a="$R_MED" -v b="$Q_MED" 'BEGIN { printf "%+.3f", a - b }') ms (medians; goal <= 1 ms)"
echo "load on the machine (1-min load average): $(cut -d' ' -f1 /proc/loadavg)"
