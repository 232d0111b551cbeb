#!/usr/bin/env bash
# PolicyGate behind a real nginx (`auth_request`), end to end (issue 15, item 4).
#
# Starts, on free loopback ports and all inside one temp dir (config, pid, logs):
#   - a small upstream (python3) that answers every request with the headers it got, as JSON;
#   - `policygate serve --gateway-mapping policy/gateway-mapping.yaml` over policy/policy.yaml;
#   - nginx (own config, `-p` prefix, no daemon) with `auth_request` to PolicyGate's
#     /authz on one port, and the same proxy without auth on another (the bench baseline).
# Then asserts, through nginx: each of the four decisions (the audit trail says which
# rule decided), that obligation headers reach the upstream (`auth_request_set` +
# `proxy_set_header`) and that a client cannot forge them, that an unauthenticated
# caller gets 401, and that a PDP that is down makes nginx deny (never pass through).
# Everything it started is stopped by a trap. Readiness is polled, bounded.
#
# nginx comes from Debian (`apt-get install nginx-light`, only as root) when missing;
# where it cannot be installed the script prints a loud SKIP banner and exits 0.
#
# Usage: bash scripts/gateway-nginx.sh           (the test; POLICYGATE_BIN=... to use a built binary)
#        GATEWAY_NGINX_BENCH=1 bash scripts/gateway-nginx.sh   (what bench/nginx.sh runs: the
#        setup, then wrk through both nginx ports; needs wrk)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

skip() {
    echo "########################################################################"
    echo "## SKIP: scripts/gateway-nginx.sh did not run: $1"
    echo "## The nginx integration test of issue 15 was NOT exercised."
    echo "########################################################################"
    exit 0
}

# 1. nginx with the auth_request module.
if ! command -v nginx >/dev/null 2>&1 && [ -x /usr/sbin/nginx ]; then
    PATH="$PATH:/usr/sbin"
fi
if ! command -v nginx >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing nginx (apt-get)"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; } >/dev/null 2>&1 \
            || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null 2>&1; } \
            || true
        PATH="$PATH:/usr/sbin"
    fi
fi
command -v nginx >/dev/null 2>&1 || skip "nginx is not installed and cannot be installed here (needs root and apt-get)"
nginx -V 2>&1 | grep -q -- '--with-http_auth_request_module' || skip "this nginx has no auth_request module"
command -v curl >/dev/null 2>&1 || skip "curl is missing"

# 2. The binary.
BIN="${POLICYGATE_BIN:-$ROOT/target/debug/policygate}"
if [ ! -x "$BIN" ]; then
    echo "== cargo build -p policygate-cli --locked"
    cargo build -p policygate-cli --locked
fi

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    if [ -f "$WORK/nginx.pid" ]; then kill -TERM "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; fi
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Free loopback ports (asked of the kernel, then released for the servers to bind).
read -r UP_PORT PDP_PORT AUTH_PORT PLAIN_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
)

# 3. The upstream: every request answered with its method, path and headers as JSON;
#    each request is also appended to a log, so that "never reached" can be asserted.
cat > "$WORK/upstream.py" <<'EOF'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[2]

class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        doc = {"method": self.command, "path": self.path,
               "headers": {k.lower(): v for k, v in self.headers.items()}}
        body = json.dumps(doc).encode()
        with open(LOG, "a") as f:
            f.write(self.command + " " + self.path + "\n")
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
EOF
: > "$WORK/upstream.log"
python3 "$WORK/upstream.py" "$UP_PORT" "$WORK/upstream.log" &
PIDS+=($!)

# 4. PolicyGate with the example mapping.
"$BIN" serve --policy policy/policy.yaml --gateway-mapping policy/gateway-mapping.yaml \
    --listen "127.0.0.1:$PDP_PORT" --audit-file "$WORK/audit.jsonl" --no-watch \
    2> "$WORK/policygate.log" &
PG_PID=$!
PIDS+=("$PG_PID")

# 5. nginx: auth_request to /authz; the decision's headers passed upstream.
mkdir -p "$WORK/tmp"
cat > "$WORK/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;

    upstream policygate { server 127.0.0.1:$PDP_PORT; keepalive 32; }
    upstream app { server 127.0.0.1:$UP_PORT; keepalive 32; }

    server {
        listen 127.0.0.1:$AUTH_PORT;
        location / {
            auth_request /_policygate;
            auth_request_set \$pg_decision \$upstream_http_x_policygate_decision;
            auth_request_set \$pg_correlation \$upstream_http_x_policygate_correlation_id;
            auth_request_set \$pg_max_tokens \$upstream_http_x_policygate_max_tokens;
            auth_request_set \$pg_max_bytes \$upstream_http_x_policygate_max_bytes;
            # Always set (empty removes the header): a client cannot forge them.
            proxy_set_header X-PolicyGate-Decision \$pg_decision;
            proxy_set_header X-PolicyGate-Correlation-Id \$pg_correlation;
            proxy_set_header X-PolicyGate-Max-Tokens \$pg_max_tokens;
            proxy_set_header X-PolicyGate-Max-Bytes \$pg_max_bytes;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
        location = /_policygate {
            internal;
            proxy_pass http://policygate/authz;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI \$request_uri;
            proxy_set_header X-Original-Method \$request_method;
            proxy_connect_timeout 1s;
            proxy_read_timeout 2s;
        }
    }

    server {
        listen 127.0.0.1:$PLAIN_PORT;
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
    }
}
EOF
nginx -t -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" >/dev/null 2>&1 \
    || { nginx -t -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"; exit 1; }
nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" &
PIDS+=($!)

# Readiness: poll, bounded (10 s).
ready() {
    local url="$1" i
    for i in $(seq 1 100); do
        if curl -s -o /dev/null -m 1 "$url"; then return 0; fi
        sleep 0.1
    done
    echo "error: $url did not become ready" >&2
    cat "$WORK/policygate.log" "$WORK/nginx-error.log" >&2 2>/dev/null || true
    exit 1
}
ready "http://127.0.0.1:$PDP_PORT/health"
ready "http://127.0.0.1:$UP_PORT/"
ready "http://127.0.0.1:$PLAIN_PORT/"
: > "$WORK/upstream.log"

if [ "${GATEWAY_NGINX_BENCH:-0}" = "1" ]; then
    DURATION="${DURATION:-10s}" CONNECTIONS="${CONNECTIONS:-16}" THREADS="${THREADS:-2}"
    lua="$WORK/headers.lua"
    cat > "$lua" <<'EOF'
wrk.method = "POST"
wrk.headers["x-user-id"] = "u1"
wrk.headers["x-data-sensitivity"] = "public"
EOF
    for run in "nginx (no auth):$PLAIN_PORT" "nginx + PolicyGate auth_request:$AUTH_PORT"; do
        name="${run%%:*}" port="${run##*:}"
        wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$lua" "http://127.0.0.1:$port/v1/chat/completions" >/dev/null
        echo "== $name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$lua" \
            "http://127.0.0.1:$port/v1/chat/completions" | tee "$WORK/wrk-$port.txt"
        if grep -q "Non-2xx" "$WORK/wrk-$port.txt"; then
            echo "error: non-2xx answers through $name" >&2
            exit 1
        fi
    done
    p50() { awk '$1 == "50%" { print $2 }' "$1"; }
    echo "== p50: without auth $(p50 "$WORK/wrk-$PLAIN_PORT.txt"), with auth_request $(p50 "$WORK/wrk-$AUTH_PORT.txt")"
    exit 0
fi

# 6. Assertions.
FAIL=0
check() {
    local what="$1" want="$2" got="$3"
    if [ "$want" = "$got" ]; then
        echo "ok   $what"
    else
        echo "FAIL $what: want $want, got $got"
        FAIL=1
    fi
}
# call NAME METHOD PATH HEADER... : status into $WORK/NAME.status, body into $WORK/NAME.body
call() {
    local name="$1" method="$2" path="$3"
    shift 3
    local args=()
    for h in "$@"; do args+=(-H "$h"); done
    curl -s -m 5 -o "$WORK/$name.body" -w '%{http_code}' -X "$method" "${args[@]}" \
        "http://127.0.0.1:$AUTH_PORT$path" > "$WORK/$name.status" || echo "000" > "$WORK/$name.status"
}
status() { cat "$WORK/$1.status"; }
upstream_header() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["headers"].get(sys.argv[2], "<absent>"))' "$WORK/$1.body" "$2"; }
last_decision() { python3 -c 'import json,sys; e=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(e["evaluation"]["decision"], e["evaluation"]["matched_rule_id"])' "$WORK/audit.jsonl"; }
reached() { wc -l < "$WORK/upstream.log" | tr -d ' '; }

CHAT=/v1/chat/completions
call allow POST "$CHAT" "x-user-id: u1" "x-data-sensitivity: public" "x-policygate-max-tokens: 99999"
check "ALLOW passes (200)" 200 "$(status allow)"
check "ALLOW: decision header reaches the upstream" ALLOW "$(upstream_header allow x-policygate-decision)"
check "ALLOW: a forged obligation header is dropped" "<absent>" "$(upstream_header allow x-policygate-max-tokens)"
check "ALLOW: decided by allow_public_inference" "ALLOW allow_public_inference" "$(last_decision)"

call degrade POST "$CHAT" "x-user-id: u1" "x-data-sensitivity: internal"
check "DEGRADE passes (200)" 200 "$(status degrade)"
check "DEGRADE: decision header reaches the upstream" DEGRADE "$(upstream_header degrade x-policygate-decision)"
check "DEGRADE: x-policygate-max-tokens reaches the upstream" 256 "$(upstream_header degrade x-policygate-max-tokens)"
check "DEGRADE: decided by degrade_internal_inference" "DEGRADE degrade_internal_inference" "$(last_decision)"
cid="$(upstream_header degrade x-policygate-correlation-id)"
check "DEGRADE: the correlation id is the audit event's request_id" "$cid" \
    "$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["request_id"])' "$WORK/audit.jsonl")"

before="$(reached)"
call review POST "$CHAT" "x-user-id: u1"
check "REQUIRE_REVIEW is denied (403)" 403 "$(status review)"
check "REQUIRE_REVIEW: decided by review_restricted_inference" "REQUIRE_REVIEW review_restricted_inference" "$(last_decision)"

call block POST "$CHAT" "x-user-id: u1" "x-data-sensitivity: public" "x-risk-score: 0.95"
check "BLOCK is denied (403)" 403 "$(status block)"
check "BLOCK: decided by block_high_risk" "BLOCK block_high_risk" "$(last_decision)"

call tool POST /v1/tools/shell.exec/invoke "x-user-id: u1" "x-caller-trust: high"
check "a shell tool in prod is denied (403)" 403 "$(status tool)"
check "tool: decided by block_shell_tools_in_prod" "BLOCK block_shell_tools_in_prod" "$(last_decision)"

call anonymous POST "$CHAT" "x-data-sensitivity: public"
check "an unauthenticated caller gets 401" 401 "$(status anonymous)"

call unmapped GET /somewhere/else "x-user-id: u1"
check "a path no route maps is denied (403)" 403 "$(status unmapped)"
check "no denied request reached the upstream" "$before" "$(reached)"

# The PDP goes down: nginx must deny, never pass the request through.
kill -TERM "$PG_PID"
wait "$PG_PID" 2>/dev/null || true
before="$(reached)"
call down POST "$CHAT" "x-user-id: u1" "x-data-sensitivity: public"
case "$(status down)" in
    500|502|503|403) echo "ok   PDP down: nginx denies ($(status down))" ;;
    *) echo "FAIL PDP down: nginx answered $(status down)"; FAIL=1 ;;
esac
check "PDP down: the upstream was not reached" "$before" "$(reached)"

if [ "$FAIL" -ne 0 ]; then
    echo "== policygate log"; cat "$WORK/policygate.log"
    echo "== nginx error log"; cat "$WORK/nginx-error.log"
    exit 1
fi
echo "== nginx gateway test: all checks passed"
