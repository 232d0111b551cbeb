#!/usr/bin/env bash
# Throughput and latency of `policygate serve` against a bare axum JSON echo, the
# cost of a shadow policy (`--shadow-policy`), and HTTPS (`--tls-cert`/`--tls-key`)
# beside plaintext.
#
# One run on loopback: build both (release), start the echo and keep it running, then
# for each --audit-sync mode start PolicyGate and load the echo and PolicyGate in turn
# ROUNDS times with wrk (same body, same connections, same duration; warm-up first);
# the ratio reported is the median of the rounds' ratios (on a shared machine one
# run's throughput moves by more than the gap measured). Finally print throughputs,
# ratios, p50/p99 latency and server CPU per request. PolicyGate runs with its audit
# trail going to a file, as in production.
#
# Usage: bench/serve.sh            (from anywhere; bounded by DURATION, stops by itself)
# Knobs (environment): DURATION=10s WARMUP=2s CONNECTIONS=64 THREADS=2 ROUNDS=5
#                      POLICY=<path> (default policy/policy.yaml, else the server's test fixture)
#                      ECHO_PORT=18181 PG_PORT=18182 (and PG_PORT+1 for the shadow pair)
#                      SYNC_MODES="never batch always" (one PolicyGate run per --audit-sync mode)
#                      TLS_RUN=1 (0 skips the HTTPS run; it needs the openssl CLI)
#                      SHADOW_ROUNDS=5 (interleaved runs without/with --shadow-policy; 0 skips them)
# Goal (issue 11): PolicyGate with the hash chain on >= 85% of the baseline's throughput
# at 64 connections on the 2-core machine; `batch` and `always` are reported beside it. This is a benchmark, not a test: it never fails
# on the numbers, only on errors (non-2xx answers, missing audit events).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT (the working directory), WORK, PIDS, helpers
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
ECHO_PORT="${ECHO_PORT:-18181}"
PG_PORT="${PG_PORT:-18182}"
SYNC_MODES="${SYNC_MODES:-never batch always}"
read -r -d '' -a MODES <<< "$SYNC_MODES" || true  # every word, across lines
if ((${#MODES[@]} == 0)); then echo "SYNC_MODES must name at least one --audit-sync mode (never, batch, always)" >&2; exit 2; fi
for mode in "${MODES[@]}"; do
  case "$mode" in never | batch | always) ;; *) echo "SYNC_MODES: '$mode' is not an --audit-sync mode (never, batch, always)" >&2; exit 2 ;; esac
done
SHADOW_ROUNDS="${SHADOW_ROUNDS:-5}"
ROUNDS="${ROUNDS:-5}"
if ! [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]]; then echo "ROUNDS must be a whole number >= 1 (got '$ROUNDS')" >&2; exit 2; fi
if ! [[ "$SHADOW_ROUNDS" =~ ^[0-9]+$ ]]; then echo "SHADOW_ROUNDS must be a whole number (got '$SHADOW_ROUNDS')" >&2; exit 2; fi
if [[ -z "${POLICY:-}" ]]; then
  if [[ -f policy/policy.yaml ]]; then POLICY=policy/policy.yaml; else POLICY=crates/testkit/fixtures/policy.yaml; fi
fi
VERIFIED=()
# 1. The load generator (Debian's wrk).
need_wrk
# 2. Both servers, release builds. The echo is its own workspace; its target dir is
#    kept under the ignored target/.
echo "building (release)..." >&2
cargo build --release --quiet -p policygate-cli
CARGO_TARGET_DIR="$ROOT/target/bench-echo" cargo build --release --quiet --manifest-path bench/echo/Cargo.toml
PG="$ROOT/target/release/policygate"
ECHO="$ROOT/target/bench-echo/release/policygate-bench-echo"

# 3. One body for both: a realistic request that ends in DEGRADE with an obligation.
BODY='{"request_id":"bench-1","action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","id":"doc-42","sensitivity":"restricted"},"subject":{"type":"service","id":"svc-a"},"signals":{"caller_trust":"high","prompt_tokens":5120,"pii_detected":false}}'
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
LUA

# run NAME URL PID: bench/lib.sh's wrk_load with the body above -> RPS, P50, P99, REQS
# (measured), WARM_REQS and CPU_US (server CPU time per measured request: less
# sensitive to other load on the machine than req/s)
run() { wrk_load "$1" "$2" "$WORK/post.lua" "$3"; }

stop() { # pid
  kill -TERM "$1"
  wait "$1" || { echo "server $1 exited with $?" >&2; exit 1; }
  forget_pid "$1"
}

# 4. The baseline, running beside each PolicyGate (an idle server costs nothing).
"$ECHO" "127.0.0.1:$ECHO_PORT" 2>"$WORK/echo.log" &
ECHO_PID=$!; PIDS+=("$ECHO_PID")
wait_healthy "http://127.0.0.1:$ECHO_PORT/health"

# 5. PolicyGate, audit to a file (hash-chained; checked with `audit verify` after each
#    mode), once per --audit-sync mode in SYNC_MODES, each loaded in turn with the
#    echo ROUNDS times.
ROWS=()
for mode in "${MODES[@]}"; do
  audit="$WORK/audit-$mode.jsonl"
  "$PG" serve --policy "$POLICY" --listen "127.0.0.1:$PG_PORT" --audit-file "$audit" --audit-sync "$mode" 2>"$WORK/pg-$mode.log" &
  PG_PID=$!; PIDS+=("$PG_PID")
  wait_healthy "http://127.0.0.1:$PG_PORT/health"
  answered=0
  RATIOS=()
  for round in $(seq 1 "$ROUNDS"); do
    run "echo-$mode-$round" "http://127.0.0.1:$ECHO_PORT/evaluate" "$ECHO_PID"
    E_RPS=$RPS E_P50=$P50 E_P99=$P99 E_CPU=$CPU_US
    run "policygate-$mode-$round" "http://127.0.0.1:$PG_PORT/evaluate" "$PG_PID"
    answered=$((answered + REQS + WARM_REQS))
    RATIOS+=("$(awk -v p="$RPS" -v e="$E_RPS" 'BEGIN { printf "%.1f", 100 * p / e }')")
  done
  stop "$PG_PID"
  # Every answered request has its audit line (a few more may exist: requests cut off
  # by wrk at the end of a run were decided but not counted by wrk); the opening event
  # is one more line.
  audited=$(($(wc -l < "$audit") - 1))
  if ((audited < answered)); then
    echo "only $audited audit events for $answered answered requests" >&2; exit 1
  fi
  "$PG" audit verify "$audit" > "$WORK/verify-$mode.txt" || { cat "$WORK/verify-$mode.txt" >&2; echo "the $mode trail does not verify" >&2; exit 1; }
  ratio=$(awk -v m="$(median "${RATIOS[@]}")" 'BEGIN { printf "%.1f", m }')
  ROWS+=("$(printf '%-26s %12.0f %10s %10s %14s %8s%%   (rounds: %s)' "policygate --audit-sync $mode" "$RPS" "$P50" "$P99" "$CPU_US" "$ratio" "${RATIOS[*]}")")
  VERIFIED+=("$mode: $audited events for $answered answered; $(tail -1 "$WORK/verify-$mode.txt")")
  # The TLS run below is compared with the first mode (the default, `never`).
  P_CPU="${P_CPU:-$CPU_US}"
  P_RPS="${P_RPS:-$RPS}"
done

# 5b. PolicyGate with a shadow policy (the same policy as candidate, so the shadow
# does the full work of a second evaluation): the added server CPU per request. Two
# servers run side by side, one without and one with the shadow, and are loaded in
# turn SHADOW_ROUNDS times; the result is the median of the per-round differences
# (one run's CPU per request moves by a microsecond or two on a shared machine, as
# much as the effect measured).
if ((SHADOW_ROUNDS > 0)); then
  SHADOW_PORT=$((PG_PORT + 1))
  "$PG" serve --policy "$POLICY" --no-watch --listen "127.0.0.1:$PG_PORT" --audit-file "$WORK/audit-plain.jsonl" 2>"$WORK/pg-plain.log" &
  PLAIN_PID=$!; PIDS+=("$PLAIN_PID")
  "$PG" serve --policy "$POLICY" --shadow-policy "$POLICY" --no-watch --listen "127.0.0.1:$SHADOW_PORT" --audit-file "$WORK/audit-shadow.jsonl" 2>"$WORK/pg-shadow.log" &
  PG_PID=$!; PIDS+=("$PG_PID")
  wait_healthy "http://127.0.0.1:$PG_PORT/health"
  wait_healthy "http://127.0.0.1:$SHADOW_PORT/health"
  SHADOW_DIFFS=()
  for round in $(seq 1 "$SHADOW_ROUNDS"); do
    run "policygate-plain-$round" "http://127.0.0.1:$PG_PORT/evaluate" "$PLAIN_PID"
    plain_cpu=$CPU_US
    run "policygate-shadow-$round" "http://127.0.0.1:$SHADOW_PORT/evaluate" "$PG_PID"
    SHADOW_DIFFS+=("$(awk -v s="$CPU_US" -v p="$plain_cpu" 'BEGIN { printf "%.2f", s - p }')")
  done
  S_RPS=$RPS S_P50=$P50 S_P99=$P99 S_CPU=$CPU_US
  stop "$PLAIN_PID"
  stop "$PG_PID"
  if ! grep -q '"shadow":' "$WORK/audit-shadow.jsonl"; then
    echo "the shadow run wrote no shadow outcome" >&2; exit 1
  fi
  SHADOW_MEDIAN=$(median "${SHADOW_DIFFS[@]}")
fi

# 5c. PolicyGate over TLS (a throwaway self-signed P-256 certificate made with the
# openssl CLI; wrk keeps its connections open, so this is mostly the record layer's
# cost, one handshake per connection), audit as in the first mode.
TLS_RUN="${TLS_RUN:-1}"
if [[ "$TLS_RUN" == 1 ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -addext basicConstraints=critical,CA:FALSE \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
  "$PG" serve --policy "$POLICY" --no-watch --listen "127.0.0.1:$PG_PORT" --audit-file "$WORK/audit-tls.jsonl" --audit-sync "${MODES[0]}" \
    --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key" 2>"$WORK/pg-tls.log" &
  PG_PID=$!; PIDS+=("$PG_PID")
  # The self-signed certificate (not a CA: CA:FALSE) is its own trust anchor.
  deadline=$((SECONDS + 30))
  until "$PG" healthcheck --url "https://127.0.0.1:$PG_PORT/health" --tls-ca "$WORK/tls.crt" --timeout-ms 500 2>"$WORK/tls-probe.txt"; do
    # Exit 2: the probe cannot use its settings (the CA file); waiting would not help.
    if (($? == 2)); then cat "$WORK/tls-probe.txt" >&2; echo "the TLS probe refused its settings" >&2; exit 1; fi
    # A certificate rustls refuses (OpenSSL before 3 writes CA:TRUE beside the CA:FALSE
    # asked for) fails every handshake: the last probe's error says so.
    if ((SECONDS > deadline)); then cat "$WORK/pg-tls.log" "$WORK/tls-probe.txt" >&2; echo "the TLS server did not become healthy" >&2; exit 1; fi
    sleep 0.1
  done
  run policygate-tls "https://127.0.0.1:$PG_PORT/evaluate" "$PG_PID"
  T_RPS=$RPS T_P50=$P50 T_P99=$P99 T_CPU=$CPU_US
  stop "$PG_PID"
  if (($(wc -l < "$WORK/audit-tls.jsonl") - 1 < REQS + WARM_REQS)); then
    echo "the TLS run has fewer audit events than answered requests" >&2; exit 1
  fi
fi

stop "$ECHO_PID"

# 6. Report.
echo
echo "bench/serve.sh: $CONNECTIONS connections, $THREADS wrk threads, $DURATION after $WARMUP warm-up, $(nproc) cores, policy $POLICY"
echo "each row: its last round; \"of echo\": the median of the rounds' throughput ratios ($ROUNDS interleaved rounds per mode)"
printf '%-26s %12s %10s %10s %14s %9s\n' "server" "req/s" "p50 ms" "p99 ms" "CPU us/req" "of echo"
printf '%-26s %12.0f %10s %10s %14s\n' "axum JSON echo (baseline)" "$E_RPS" "$E_P50" "$E_P99" "$E_CPU"
printf '%s\n' "${ROWS[@]}"
if ((SHADOW_ROUNDS > 0)); then
  printf '%-26s %12.0f %10s %10s %14s\n' "policygate + shadow (last)" "$S_RPS" "$S_P50" "$S_P99" "$S_CPU"
fi
if [[ "$TLS_RUN" == 1 ]]; then
  printf '%-26s %12.0f %10s %10s %14s\n' "policygate over TLS" "$T_RPS" "$T_P50" "$T_P99" "$T_CPU"
fi
echo "goal: policygate (hash chain on) >= 85% of the baseline's throughput"
if [[ "$TLS_RUN" == 1 ]]; then
  echo "TLS: $(awk -v t="$T_RPS" -v p="$P_RPS" 'BEGIN { printf "%.1f", 100 * t / p }')% of the first mode's plaintext throughput, $(awk -v t="$T_CPU" -v p="$P_CPU" 'BEGIN { printf "%+.1f", t - p }') us of server CPU per request"
fi
if ((SHADOW_ROUNDS > 0)); then
  echo "shadow evaluation: $(awk -v m="$SHADOW_MEDIAN" 'BEGIN { printf "%+.2f", m }') us of server CPU per request (median of $SHADOW_ROUNDS interleaved pairs: ${SHADOW_DIFFS[*]}; goal <= 1 us)"
fi
echo "load on the machine (1-min load average): $(cut -d' ' -f1 /proc/loadavg)"
printf 'audit: %s\n' "${VERIFIED[@]}"
