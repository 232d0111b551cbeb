#!/usr/bin/env bash
# schemathesis (pinned in python/pyproject.toml, extra `api-test`) against a live
# `policygate serve`, from the OpenAPI document the server itself serves
# (/openapi.json = contracts/openapi.json). Every response must be a non-5xx answer
# whose status code, content type and body the document declares:
#
#   not_a_server_error, status_code_conformance, content_type_conformance,
#   response_schema_conformance
#
# Three runs against two servers (loopback, port 0 so the OS picks a free
# one; its address is read from the "listening" log line; ready once /ready answers
# 200; every server is stopped by the EXIT trap):
#   1. auth off, /explain enabled: phases examples, coverage (boundary values of every
#      schema) and fuzzing;
#   2. auth on (a tokens file; /explain enabled too), with a valid bearer token: fuzzing;
#   3. the same server without a token (the 401 paths): fuzzing.
# No check is excluded. The stateful phase is not run: the document declares no
# links between operations, so it would have nothing to chain.
#
#   SCHEMATHESIS        the `st` executable (default .venv-test/bin/st, which
#                       scripts/test.sh installs)
#   POLICYGATE_BIN      the binary (default target/debug/policygate)
#   ST_MAX_EXAMPLES     examples per operation and run (default 40)
#
# Usage: bash scripts/schemathesis.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${POLICYGATE_BIN:-$ROOT/target/debug/policygate}"
ST="${SCHEMATHESIS:-$ROOT/.venv-test/bin/st}"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-40}"
CHECKS="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
TOKEN="schemathesis-token-0123456789abcdef"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

printf 'schemathesis:%s\n' "$TOKEN" >"$work/tokens.txt"

# start NAME [serve flags...]: starts a server and sets ADDR once it is ready.
start() {
    local name="$1"
    shift
    "$BIN" serve --policy "$ROOT/policy/policy.yaml" --listen 127.0.0.1:0 --no-watch \
        --audit-file "$work/$name-audit.jsonl" "$@" >"$work/$name.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    ADDR=""
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || {
            echo "error: policygate serve ($name) exited:" >&2
            cat "$work/$name.log" >&2
            exit 1
        }
        ADDR="$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$work/$name.log" | head -n 1 | sed 's/^listening on //')" || true
        if [ -n "$ADDR" ] && "$BIN" healthcheck --url "http://$ADDR/ready" --timeout-ms 1000 >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "error: policygate serve ($name) was not ready within 30s:" >&2
    cat "$work/$name.log" >&2
    exit 1
}

# run NAME PHASES [st flags...]: schemathesis against the server at ADDR.
run() {
    local name="$1" phases="$2"
    shift 2
    echo "== schemathesis: $name (http://$ADDR; phases $phases; ${MAX_EXAMPLES} examples per operation)"
    local status=0
    # From the scratch directory: schemathesis keeps its example database in the
    # working directory (.schemathesis/).
    (cd "$work" && "$ST" run "http://$ADDR/openapi.json" --checks "$CHECKS" \
        --phases "$phases" --max-examples "$MAX_EXAMPLES" --seed 1 \
        --workers 2 --request-timeout 10 --no-color "$@") || status=$?
    if [ "$status" -ne 0 ]; then
        echo "schemathesis: $name FAILED (exit $status); the server's log:" >&2
        tail -n 40 "$work/$name.log" >&2
        exit 1
    fi
}

start open --enable-explain
run "auth off" examples,coverage,fuzzing

# Past authentication the code paths are those of the first run (which the coverage
# phase walks); these two runs check what authentication adds, so fuzzing suffices.
start auth --auth-tokens-file "$work/tokens.txt" --enable-explain
run "auth on, with a token" fuzzing --header "Authorization: Bearer $TOKEN"
run "auth on, without a token (401 paths)" fuzzing

echo "schemathesis: every response conformed, no 5xx"
