#!/usr/bin/env bash
# The one test command: the Rust workspace and the Python package.
#
#   1. cargo test --workspace --locked
#   2. cargo build of the `policygate` binary the Python suites start (target/debug/policygate),
#      and scripts/gateway-nginx.sh (nginx auth_request against it; a loud SKIP without nginx)
#   3. a virtualenv of its own (.venv-test/, ignored), with ./python and its pinned test
#      tools installed (and litellm[proxy] for the LiteLLM end-to-end test)
#   4. ruff (lint and format check) and mypy --strict over python/
#   5. pytest over python/tests (exit 5, "no tests ran", counts as a failure)
#   6. the reliability suite: every fuzz target of fuzz/ for FUZZ_SECONDS (default 25)
#      each (scripts/fuzz.sh), then schemathesis against a live `policygate serve`
#      (scripts/schemathesis.sh). POLICYGATE_SKIP_FUZZ=1 skips both, for quick local
#      runs only: CI never sets it.
#
# Needs the Rust toolchain and Python >= 3.11 (python3, or $PYTHON; the pinned test tools
# need 3.11, the package itself supports 3.10), and PyPI for the first run. POLICYGATE_SKIP_LITELLM=1 skips installing LiteLLM and its end-to-end test
# (the install takes about a minute the first time; see python/README.md).
#
# Usage: bash scripts/test.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv-test"
PYTHON="${PYTHON:-python3}"

echo "== cargo test --workspace --locked"
cargo test --workspace --locked

echo "== cargo build -p policygate-cli --locked (the binary the Python tests start)"
cargo build -p policygate-cli --locked
export POLICYGATE_BIN="$ROOT/target/debug/policygate"

echo "== nginx auth_request in front of policygate serve --gateway-mapping (skips loudly without nginx)"
bash "$ROOT/scripts/gateway-nginx.sh"

echo "== python: virtualenv $VENV"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' || {
    echo "error: the test tools need Python >= 3.11; set PYTHON to one (and remove $VENV)" >&2
    exit 1
}
extras="test"
if [ "${POLICYGATE_SKIP_FUZZ:-0}" != "1" ]; then
    extras="$extras,api-test"
fi
if [ "${POLICYGATE_SKIP_LITELLM:-0}" != "1" ]; then
    extras="$extras,litellm"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "./python[$extras]"
# Always test the code in this checkout, even when the version number did not change.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --force-reinstall ./python

cd "$ROOT/python"
echo "== ruff check / ruff format --check"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .

echo "== mypy --strict"
"$VENV/bin/mypy" --strict

echo "== pytest"
status=0
"$VENV/bin/python" -m pytest -q -p no:cacheprovider || status=$?
if [ "$status" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    exit "$status"
fi

cd "$ROOT"
if [ "${POLICYGATE_SKIP_FUZZ:-0}" = "1" ]; then
    echo "== reliability suite skipped (POLICYGATE_SKIP_FUZZ=1; CI always runs it)"
    exit 0
fi
echo "== fuzz targets (scripts/fuzz.sh, ${FUZZ_SECONDS:-25}s each)"
bash scripts/fuzz.sh
echo "== schemathesis against a live policygate serve (scripts/schemathesis.sh)"
SCHEMATHESIS="$VENV/bin/st" bash scripts/schemathesis.sh
