#!/usr/bin/env bash
# Runs the whole benchmark suite of issue 6 and prints ONE table: figure | ours | limit or
# baseline | ratio | target. Limits (RocksDB alone with our layout and the reference shape,
# GET /healthz) and the PostgreSQL baseline run in the same invocation, so ratios hold on a
# noisy machine.
#   bench/run.sh [--quick] [--out FILE.md] [--build DIR] [--server-durability wal|fsync] [--keep]
# --quick: 20,000 members and a few seconds per figure (HTTP at 80% of the peak for a minute),
# under 4 minutes on 2 cores; the full run uses 1,000,000 members. bench/ops (loyaltyctl import and recalc, issue 5) runs last, over
# 20,000 events (--quick) or 1,000,000. Installs what is missing (scripts/install-deps.sh --test) and
# builds the Release binaries it needs (ccache) in DIR (default build/).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
args=()
while (($#)); do
  case "$1" in
    --build) build="$(realpath -m "$2")"; shift ;;
    --out) args+=(--out "$(realpath -m "$2")"); shift ;;
    *) args+=("$1") ;;
  esac
  shift
done

"$root/scripts/install-deps.sh" --test
"$root/scripts/npm-ci.sh" console  # loyaltyd embeds the console, built with esbuild
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
fi
nice cmake --build "$build" -j2 --target loyaltyd loyaltyctl loadgen storage_limit loyalty_micro_bench \
  >/dev/null

exec /usr/bin/python3 "$root/bench/run_all.py" --build "$build" "${args[@]}"
