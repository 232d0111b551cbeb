#!/usr/bin/env bash
# Forward-auth through nginx (issue 15): the p50 latency nginx + `auth_request` to
# PolicyGate's /authz adds over the same nginx proxy without auth, in one run on loopback.
#
# The setup is scripts/gateway-nginx.sh's (nginx with an auth and a no-auth port in front
# of the same python3 echo upstream; `policygate serve --gateway-mapping
# policy/gateway-mapping.yaml`, audit trail to a file), with a release build; then wrk
# loads both ports with the same ALLOW request (POST /v1/chat/completions, public data)
# and prints both latency distributions and the two p50s. A benchmark, not a test: it
# fails only on errors (non-2xx answers), never on the numbers.
#
# Usage: bash bench/nginx.sh      Knobs: DURATION=10s CONNECTIONS=16 THREADS=2
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # ROOT (the working directory), WORK, PIDS, helpers
need_wrk
echo "building (release)..." >&2
cargo build --release --quiet --locked -p policygate-cli
GATEWAY_NGINX_BENCH=1 POLICYGATE_BIN="$ROOT/target/release/policygate" bash scripts/gateway-nginx.sh
