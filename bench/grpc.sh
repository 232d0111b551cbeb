#!/usr/bin/env bash
# Envoy ext_authz gRPC Check throughput of `policygate serve --ext-authz-listen` against a
# bare tonic server that answers OK without work, at STREAMS concurrent streams, measured
# in the same run (issue 15: ">= 80% of the bare server").
#
# One run on loopback: build `policygate` (release) and bench/grpc (its own workspace:
# `bare` and the `load` client), start both servers, then ROUNDS times load each in
# turn: warm up, load it for DURATION with STREAMS Checks in flight over one HTTP/2
# connection (as an Envoy worker holds them), read the server's CPU time (utime +
# stime, /proc/PID/stat) before and after. PolicyGate decides through policy/gateway-mapping.yaml and
# policy/policy.yaml (a DEGRADE with an obligation header for every Check) with its audit
# trail in a file, which must then hold an event for every answered Check and verify.
#
# Each round loads both servers once per decode mode of the load client (DECODES):
# `light` reads each answer's verdict (status code, which http_response) and steps over
# the rest, as wrk in bench/serve.sh reads an HTTP status and not the body; `full`
# decodes every answer into envoy-types' CheckResponse, as Envoy does. The client runs
# on the same cores as the server, so what it spends decoding PolicyGate's larger
# answers (headers, headers_to_remove, the decision in dynamic_metadata) lowers
# PolicyGate's throughput too; the client's own CPU per Check is reported beside the
# server's.
#
# Usage: bench/grpc.sh            (from anywhere; bounded by DURATION, stops by itself)
# Knobs (environment): DURATION=10 WARMUP=2 (seconds) STREAMS=64 ROUNDS=3 DECODES="light full"
#                      BARE_PORT=18191 PG_PORT=18192 GRPC_PORT=18193
# This is a benchmark, not a test: it fails only on errors (failed Checks, missing audit
# events, a trail that does not verify), never on the numbers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT (the working directory), WORK, PIDS, helpers
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
STREAMS="${STREAMS:-64}"
ROUNDS="${ROUNDS:-3}"
if ! [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]]; then echo "ROUNDS must be a whole number >= 1 (got '$ROUNDS')" >&2; exit 2; fi
read -r -a DECODE_MODES <<< "${DECODES:-light full}"
if ((${#DECODE_MODES[@]} == 0)); then echo "DECODES must name at least one of light, full" >&2; exit 2; fi
declare -A SEEN
for mode in "${DECODE_MODES[@]}"; do
  if [[ "$mode" != light && "$mode" != full ]]; then echo "DECODES takes light and full (got '$mode')" >&2; exit 2; fi
  if [[ -n "${SEEN[$mode]:-}" ]]; then echo "DECODES names $mode twice" >&2; exit 2; fi
  SEEN[$mode]=1
done
BARE_PORT="${BARE_PORT:-18191}"
PG_PORT="${PG_PORT:-18192}"
GRPC_PORT="${GRPC_PORT:-18193}"

echo "building (release)..." >&2
cargo build --release --quiet -p policygate-cli
CARGO_TARGET_DIR="$ROOT/target/bench-grpc" cargo build --release --quiet --manifest-path bench/grpc/Cargo.toml
PG="$ROOT/target/release/policygate"
BARE="$ROOT/target/bench-grpc/release/bare"
LOAD="$ROOT/target/bench-grpc/release/load"

# Waits until a gRPC port accepts a Check (the load client itself, for one second).
wait_grpc() {
  local deadline=$((SECONDS + 30))
  until "$LOAD" "http://127.0.0.1:$1" 1 1 > /dev/null 2>&1; do
    if ((SECONDS > deadline)); then echo "nothing answers Checks on port $1" >&2; exit 1; fi
    sleep 0.1
  done
}
field() { tr ' ' '\n' < "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# run NAME PORT PID DECODE -> RPS P50 P99 CHECKS CPU_US (server CPU per Check) CLIENT_US
# (the load client's CPU per Check, user + system, from bash's `time`)
run() {
  # LC_ALL=C: `time` prints its seconds with the locale's decimal separator.
  local name="$1" port="$2" pid="$3" decode="$4" t0 t1 status=0 TIMEFORMAT='%3U %3S' LC_ALL=C
  "$LOAD" "http://127.0.0.1:$port" "$STREAMS" "$WARMUP" "$decode" > "$WORK/$name-warmup.txt"
  t0=$(cpu_ticks "$pid")
  { time "$LOAD" "http://127.0.0.1:$port" "$STREAMS" "$DURATION" "$decode" > "$WORK/$name.txt" 2> "$WORK/$name.err" || status=$?; } 2> "$WORK/$name.cpu"
  t1=$(cpu_ticks "$pid")
  if ((status != 0)); then cat "$WORK/$name.txt" "$WORK/$name.err" >&2; echo "$name: Checks failed" >&2; exit 1; fi
  RPS=$(field "$WORK/$name.txt" rps)
  P50=$(field "$WORK/$name.txt" p50_ms)
  P99=$(field "$WORK/$name.txt" p99_ms)
  CHECKS=$(field "$WORK/$name.txt" checks)
  CPU_US=$(cpu_us_per "$t0" "$t1" "$CHECKS")
  CLIENT_US=$(awk -v n="$CHECKS" '{ printf "%.1f", ($1 + $2) * 1e6 / n }' "$WORK/$name.cpu")
}

# Both servers run side by side (an idle one costs nothing) and are loaded in turn
# ROUNDS times; the ratio reported is the median of the rounds' ratios (on a shared
# machine one run's throughput moves by more than the gap measured).
"$BARE" "127.0.0.1:$BARE_PORT" 2>"$WORK/bare.log" &
BARE_PID=$!; PIDS+=("$BARE_PID")
AUDIT="$WORK/audit.jsonl"
"$PG" serve --policy policy/policy.yaml --gateway-mapping policy/gateway-mapping.yaml --no-watch \
  --listen "127.0.0.1:$PG_PORT" --ext-authz-listen "127.0.0.1:$GRPC_PORT" --audit-file "$AUDIT" 2>"$WORK/pg.log" &
PG_PID=$!; PIDS+=("$PG_PID")
wait_grpc "$BARE_PORT"
wait_grpc "$GRPC_PORT"
declare -A RATIOS LAST
answered=0
for round in $(seq 1 "$ROUNDS"); do
  # The decode modes take turns going first, so that neither always runs after the
  # other's audit writes (whose writeback the kernel does meanwhile).
  shift_by=$(((round - 1) % ${#DECODE_MODES[@]}))
  for mode in "${DECODE_MODES[@]:shift_by}" "${DECODE_MODES[@]:0:shift_by}"; do
    run "bare-$mode-$round" "$BARE_PORT" "$BARE_PID" "$mode"
    B_RPS=$RPS B_P50=$P50 B_P99=$P99 B_CPU=$CPU_US B_CLIENT=$CLIENT_US
    run "policygate-$mode-$round" "$GRPC_PORT" "$PG_PID" "$mode"
    if [[ "$(field "$WORK/policygate-$mode-$round.txt" ok)" != "$CHECKS" ]]; then
      cat "$WORK/policygate-$mode-$round.txt" >&2; echo "policygate did not allow every Check (expected DEGRADE)" >&2; exit 1
    fi
    answered=$((answered + CHECKS + $(field "$WORK/policygate-$mode-$round-warmup.txt" checks)))
    ratio=$(awk -v p="$RPS" -v b="$B_RPS" 'BEGIN { printf "%.1f", 100 * p / b }')
    RATIOS[$mode]="${RATIOS[$mode]:-}${RATIOS[$mode]:+ }$ratio"
    LAST[$mode]="$B_RPS $B_P50 $B_P99 $B_CPU $B_CLIENT $RPS $P50 $P99 $CPU_US $CLIENT_US"
    printf '%s\n' "round $round, $mode decode: bare $B_RPS Checks/s ($B_CPU us/Check, client $B_CLIENT), policygate $RPS Checks/s ($CPU_US us/Check, client $CLIENT_US): $ratio%" >&2
  done
done
kill -TERM "$BARE_PID"; wait "$BARE_PID" || true; forget_pid "$BARE_PID"
kill -TERM "$PG_PID"
wait "$PG_PID" || { echo "policygate exited with $?" >&2; exit 1; }
forget_pid "$PG_PID"
audited=$(($(wc -l < "$AUDIT") - 1))
if ((audited < answered)); then
  echo "only $audited audit events for $answered answered Checks" >&2; exit 1
fi
"$PG" audit verify "$AUDIT" > "$WORK/verify.txt" || { cat "$WORK/verify.txt" >&2; echo "the trail does not verify" >&2; exit 1; }

echo
echo "bench/grpc.sh: $STREAMS concurrent Check streams over one HTTP/2 connection, ${DURATION}s after ${WARMUP}s warm-up, $(nproc) cores (load client on the same machine)"
echo "last round of each decode mode (server and client CPU per Check: user + system):"
printf '%-40s %10s %10s %10s %14s %14s\n' "server" "Checks/s" "p50 ms" "p99 ms" "CPU us/Check" "client us"
for mode in "${DECODE_MODES[@]}"; do
  read -r b_rps b_p50 b_p99 b_cpu b_client p_rps p_p50 p_p99 p_cpu p_client <<< "${LAST[$mode]}"
  printf '%-40s %10s %10s %10s %14s %14s\n' "bare tonic (answers OK), $mode decode" "$b_rps" "$b_p50" "$b_p99" "$b_cpu" "$b_client"
  printf '%-40s %10s %10s %10s %14s %14s\n' "policygate, $mode decode" "$p_rps" "$p_p50" "$p_p99" "$p_cpu" "$p_client"
done
for mode in "${DECODE_MODES[@]}"; do
  read -r -a ratios <<< "${RATIOS[$mode]}"
  MEDIAN=$(awk -v m="$(median "${ratios[@]}")" 'BEGIN { printf "%.1f", m }')
  echo "policygate, $mode decode: ${MEDIAN}% of the bare server's throughput, median of $ROUNDS interleaved rounds (${ratios[*]}) (goal >= 80%)"
done
echo "load on the machine (1-min load average): $(cut -d' ' -f1 /proc/loadavg)"
echo "audit: $audited events for $answered answered Checks; $(tail -1 "$WORK/verify.txt")"
