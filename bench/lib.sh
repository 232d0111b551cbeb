# Helpers shared by the server benchmarks in bench/*.sh; sourced, never run:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Sourcing it moves to the repository's root (ROOT), makes a scratch directory (WORK)
# and installs an EXIT trap that sends SIGTERM to every process whose PID is in PIDS
# and removes WORK. A script adds each server it starts: `PIDS+=("$!")`.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORK="$(mktemp -d)"
PIDS=()
bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap bench_cleanup EXIT

# forget_pid PID: a server that was stopped and waited for leaves PIDS (so that the
# EXIT trap never signals a PID the system may have given to another process).
forget_pid() {
  local kept=() pid
  for pid in "${PIDS[@]}"; do [[ "$pid" == "$1" ]] || kept+=("$pid"); done
  PIDS=("${kept[@]}")
}

# Installs Debian's wrk (the load generator) when it is missing.
need_wrk() {
  command -v wrk >/dev/null && return 0
  echo "installing wrk (apt-get)..." >&2
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get install -y wrk >/dev/null 2>&1 ||
    { "${sudo[@]}" apt-get update >/dev/null && "${sudo[@]}" apt-get install -y wrk >/dev/null; }
}

# wait_healthy URL: waits (at most 30 s) until `policygate healthcheck` ($PG) passes.
wait_healthy() {
  local deadline=$((SECONDS + 30))
  until "$PG" healthcheck --url "$1" --timeout-ms 500 2>/dev/null; do
    if ((SECONDS > deadline)); then echo "server at $1 did not become healthy" >&2; exit 1; fi
    sleep 0.1
  done
}

# Converts a wrk latency (e.g. 812.00us, 1.20ms, 2.01s) to milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

# CPU time (user + system) process $1 has used, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# cpu_us_per T0 T1 N [DECIMALS]: the CPU time between two cpu_ticks readings, in µs per
# one of N, with DECIMALS (default 1) decimals.
cpu_us_per() { awk -v t=$(($2 - $1)) -v hz="$(getconf CLK_TCK)" -v n="$3" -v d="${4:-1}" 'BEGIN { printf "%.*f", d, t / hz * 1e6 / n }'; }

# median NUMBER...: the middle one (the mean of the middle two for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# wrk_fields FILE: from wrk's --latency output, sets RPS, P50 and P99 (ms) and REQS.
wrk_fields() {
  RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$1")
  P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$1")")
  P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$1")")
  REQS=$(awk '/requests in/ { print $1 }' "$1")
}

# wrk_load NAME URL LUA PID: warms up for $WARMUP, then loads for $DURATION with
# $THREADS threads and $CONNECTIONS connections, reading process PID's CPU time around
# the measured run; fails on any non-2xx answer. Sets RPS, P50, P99, REQS (measured),
# WARM_REQS, CPU_T0/CPU_T1 (the readings) and CPU_US (PID's CPU time per measured
# request). Outputs: $WORK/NAME.txt.
wrk_load() {
  local name="$1" url="$2" lua="$3" pid="$4"
  timeout 120 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$lua" "$url" > "$WORK/$name-warmup.txt"
  WARM_REQS=$(awk '/requests in/ { print $1 }' "$WORK/$name-warmup.txt")
  CPU_T0=$(cpu_ticks "$pid")
  timeout 600 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$lua" "$url" > "$WORK/$name.txt"
  CPU_T1=$(cpu_ticks "$pid")
  if grep -q "Non-2xx" "$WORK/$name.txt"; then
    cat "$WORK/$name.txt" >&2; echo "$name answered non-2xx responses" >&2; exit 1
  fi
  wrk_fields "$WORK/$name.txt"
  CPU_US=$(cpu_us_per "$CPU_T0" "$CPU_T1" "$REQS")
}
