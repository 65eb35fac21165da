#!/usr/bin/env bash
# The README's second command (and all that CI runs): install what is missing, build, and run
# the whole suite twice: Release (build/) and Debug with AddressSanitizer + UBSan (build-dev/).
# Then every libFuzzer target for a few seconds over its seed corpus (build-fuzz/, clang), and
# the in-process race test under ThreadSanitizer (build-tsan/: the engine, runtime and that test).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
# The console (built into loyaltyd) and the webhook tests' receiver: their npm packages as their
# lock files pin them (installed again only when a lock file changed).
scripts/npm-ci.sh console tests/e2e/webhook_receiver

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# CI builds in a fresh clone at a new path each time: hash paths relative to the checkout so
# the cache still hits, debug builds (-g) included.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
export CTEST_OUTPUT_ON_FAILURE=1
# Sanitizer findings fail the run; leaks are reported at exit of every binary, loyaltyd too.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"

started=$(date +%s)
for preset in release dev fuzz tsan; do
  echo "== build ($preset)"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
done
echo "== builds took $(( $(date +%s) - started )) s"
echo "== tests (release)"
ctest --test-dir build --parallel 2 --timeout 600
echo "== tests (dev: ASan + UBSan)"
ctest --test-dir build-dev --parallel 2 --timeout 900
echo "== fuzz (5 s per target; fuzz/run-long.sh for long runs)"
ctest --test-dir build-fuzz --parallel 2 --timeout 120 -L fuzz
echo "== races under ThreadSanitizer"
ctest --test-dir build-tsan --parallel 2 --timeout 300 -L tsan
