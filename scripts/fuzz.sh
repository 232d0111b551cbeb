#!/usr/bin/env bash
# The fuzz targets of fuzz/ (cargo-fuzz and libFuzzer), each for a bounded time, from the
# committed seed corpus (fuzz/corpus/TARGET). scripts/test.sh runs this; so can you.
#
#   FUZZ_SECONDS   seconds per target (default 25)
#   FUZZ_TARGETS   targets to run, space-separated (default: every target, below)
#   FUZZ_JOBS      libFuzzer worker processes per target (default 1)
#
# cargo-fuzz (pinned below) is installed into .tools/ (ignored) when it is missing. The
# fuzz crate is its own workspace with its own Cargo.lock: `cargo metadata --locked`
# fails first when that lock file is stale, so the build uses exactly what it pins.
# No sanitizer (`-s none`) keeps the build on the stable toolchain: cargo-fuzz then
# passes only stable codegen flags, so RUSTC_BOOTSTRAP is not needed. Debug assertions
# and overflow checks are on (fuzz/Cargo.toml's release profile).
#
# New inputs that libFuzzer finds go to a scratch directory, never into the committed
# corpus (add one deliberately: see CONTRIBUTING.md). A crash, a failed assertion, a
# timeout (-timeout, seconds per input) or running out of memory fails the run, and
# the input is left under fuzz/artifacts/TARGET/ (the path is printed, with the
# command that reproduces it).
#
# Usage: bash scripts/fuzz.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"

CARGO_FUZZ_VERSION="0.13.2"
TOOLS="$ROOT/.tools"
CARGO_FUZZ="$TOOLS/bin/cargo-fuzz"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-25}"
TARGETS="${FUZZ_TARGETS:-load_policy parse_request evaluate audit_verify}"
JOBS="${FUZZ_JOBS:-1}"

if ! "$CARGO_FUZZ" --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS"
    cargo install --locked --quiet --root "$TOOLS" cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

cargo metadata --locked --format-version 1 >/dev/null

# 16 codegen units (cargo-fuzz's default is 1): a much shorter build from cold, for
# somewhat fewer executions a second; `run` must be given the same flags, or it rebuilds.
BUILD_FLAGS=(--codegen-units 16)
echo "== cargo fuzz build (fuzz/, release profile with debug assertions, no sanitizer)"
start=$(date +%s)
"$CARGO_FUZZ" build -s none "${BUILD_FLAGS[@]}"
echo "fuzz: build took $(( $(date +%s) - start ))s"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

failed=()
for target in $TARGETS; do
    if [ ! -d "corpus/$target" ]; then
        echo "error: no seed corpus fuzz/corpus/$target (every target has one)" >&2
        exit 1
    fi
    mkdir -p "$scratch/$target" "artifacts/$target"
    echo "== fuzz $target for ${SECONDS_PER_TARGET}s (seeds: fuzz/corpus/$target, $(ls "corpus/$target" | wc -l) files)"
    status=0
    # More than one job makes libFuzzer fork workers that log to fuzz/fuzz-N.log
    # (ignored); one job runs in the foreground, its output here.
    parallel=()
    if [ "$JOBS" -gt 1 ]; then
        parallel=(-jobs="$JOBS" -workers="$JOBS")
    fi
    # The first corpus directory receives new inputs (scratch); the seeds are only read.
    "$CARGO_FUZZ" run -s none "${BUILD_FLAGS[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 "${parallel[@]}" \
        -artifact_prefix="$ROOT/fuzz/artifacts/$target/" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "fuzz: $target FAILED (exit $status); the failing input is under fuzz/artifacts/$target/:" >&2
        ls -1 "artifacts/$target" | sed "s|^|  fuzz/artifacts/$target/|" >&2
        echo "  reproduce: (cd fuzz && $CARGO_FUZZ run -s none ${BUILD_FLAGS[*]} $target artifacts/$target/FILE)" >&2
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: every target ran ${SECONDS_PER_TARGET}s without a failure: $TARGETS"
