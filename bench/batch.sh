#!/usr/bin/env bash
# Server CPU per decided item: N single `POST /evaluate` calls against batches of 100
# items on `POST /evaluate/batch` (issue 15: "batch of 100 items: server CPU per item
# <= that of single calls").
#
# One run on loopback: build `policygate` (release), start it with its audit trail in a
# file, load it with wrk for DURATION with single calls, then (same server, same
# connections, same duration) with batches of BATCH items, reading the server's CPU time
# (utime + stime from /proc/PID/stat) before and after each run. Prints server CPU per
# item, items/s and p50/p99 latency per call, then checks that the audit trail has an
# event for every answered item and verifies it.
#
# Usage: bench/batch.sh            (from anywhere; bounded by DURATION, stops by itself)
# Knobs (environment): DURATION=10s WARMUP=2s CONNECTIONS=64 THREADS=2 BATCH=100
#                      PG_PORT=18183 POLICY=<path>
# This is a benchmark, not a test: it fails only on errors (non-2xx answers, missing
# audit events, a trail that does not verify), never on the numbers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT (the working directory), WORK, PIDS, helpers
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
BATCH="${BATCH:-100}"
PG_PORT="${PG_PORT:-18183}"
if [[ -z "${POLICY:-}" ]]; then
  if [[ -f policy/policy.yaml ]]; then POLICY=policy/policy.yaml; else POLICY=crates/testkit/fixtures/policy.yaml; fi
fi
need_wrk

echo "building (release)..." >&2
cargo build --release --quiet -p policygate-cli
PG="$ROOT/target/release/policygate"

# The same realistic request (DEGRADE with an obligation) alone and BATCH times.
ITEM='{"action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","id":"doc-42","sensitivity":"restricted"},"subject":{"type":"service","id":"svc-a"},"signals":{"caller_trust":"high","prompt_tokens":5120,"pii_detected":false}}'
printf '%s' "$ITEM" > "$WORK/single.json"
{
  printf '{"requests":['
  for ((i = 0; i < BATCH; i++)); do
    ((i > 0)) && printf ','
    printf '%s' "$ITEM"
  done
  printf ']}'
} > "$WORK/batch.json"
for name in single batch; do
  cat > "$WORK/$name.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("$WORK/$name.json", "rb"))
wrk.body = f:read("*a")
f:close()
LUA
done

# run NAME PATH ITEMS_PER_CALL -> CALLS, ITEMS, IPS (items/s), P50, P99 (per call),
# CPU_US (per item); adds the calls' items, warm-up included, to ANSWERED
run() {
  local name="$1" path="$2" per="$3"
  wrk_load "$name" "http://127.0.0.1:$PG_PORT$path" "$WORK/$name.lua" "$PG_PID"
  CALLS=$REQS
  ITEMS=$((CALLS * per))
  IPS=$(awk -v r="$RPS" -v p="$per" 'BEGIN { printf "%.0f", r * p }')
  CPU_US=$(cpu_us_per "$CPU_T0" "$CPU_T1" "$ITEMS" 2)
  ANSWERED=$((ANSWERED + (CALLS + WARM_REQS) * per))
}

ANSWERED=0
AUDIT="$WORK/audit.jsonl"
"$PG" serve --policy "$POLICY" --no-watch --listen "127.0.0.1:$PG_PORT" --audit-file "$AUDIT" 2>"$WORK/pg.log" &
PG_PID=$!; PIDS+=("$PG_PID")
wait_healthy "http://127.0.0.1:$PG_PORT/health"
run single /evaluate 1
S_CALLS=$CALLS S_IPS=$IPS S_P50=$P50 S_P99=$P99 S_CPU=$CPU_US
run batch /evaluate/batch "$BATCH"
B_CALLS=$CALLS B_IPS=$IPS B_P50=$P50 B_P99=$P99 B_CPU=$CPU_US
kill -TERM "$PG_PID"
wait "$PG_PID" || { echo "server exited with $?" >&2; exit 1; }
forget_pid "$PG_PID"
# Every answered item has its event (wrk may cut off calls at the end of a run that
# were decided but not counted); the opening event is one more line.
audited=$(($(wc -l < "$AUDIT") - 1))
if ((audited < ANSWERED)); then
  echo "only $audited audit events for $ANSWERED answered items" >&2; exit 1
fi
"$PG" audit verify "$AUDIT" > "$WORK/verify.txt" || { cat "$WORK/verify.txt" >&2; echo "the trail does not verify" >&2; exit 1; }

echo
echo "bench/batch.sh: $CONNECTIONS connections, $THREADS wrk threads, $DURATION after $WARMUP warm-up, $(nproc) cores, policy $POLICY, audit to a file"
printf '%-30s %10s %12s %12s %12s %16s\n' "calls" "calls" "items/s" "p50 ms/call" "p99 ms/call" "CPU us/item"
printf '%-30s %10s %12s %12s %12s %16s\n' "single POST /evaluate" "$S_CALLS" "$S_IPS" "$S_P50" "$S_P99" "$S_CPU"
printf '%-30s %10s %12s %12s %12s %16s\n' "POST /evaluate/batch x$BATCH" "$B_CALLS" "$B_IPS" "$B_P50" "$B_P99" "$B_CPU"
echo "batch CPU per item: $(awk -v b="$B_CPU" -v s="$S_CPU" 'BEGIN { printf "%.1f%%", 100 * b / s }') of a single call's (goal <= 100%)"
echo "load on the machine (1-min load average): $(cut -d' ' -f1 /proc/loadavg)"
echo "audit: $audited events for $ANSWERED answered items; $(tail -1 "$WORK/verify.txt")"
