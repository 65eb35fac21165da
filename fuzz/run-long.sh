#!/usr/bin/env bash
# Long fuzzing runs: every target (or the ones named) for SECONDS each (default 600), with
# FUZZ_JOBS parallel workers (default: the number of cores) sharing a corpus that grows in a
# temporary folder, seeded from fuzz/corpus/<target>/. Prints the executions per target, read
# from libFuzzer's final stats. Exit 1 when any target found a crash, a leak, a timeout or an
# out-of-memory; its input is kept in the work folder (the path is printed) and belongs in
# fuzz/corpus/<target>/ with a regression test once fixed (README.md, "Fuzzing").
#
#   fuzz/run-long.sh                  # 10 minutes per target
#   fuzz/run-long.sh 120 jwt request  # 2 minutes, two targets
#   FUZZ_JOBS=1 FUZZ_WORK_DIR=/tmp/fuzz-work fuzz/run-long.sh 60
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$PWD

seconds=${1:-600}
shift || true
targets=("$@")
((${#targets[@]} > 0)) || targets=(request ws_text ws_binary program_toml jwt)
jobs=${FUZZ_JOBS:-$(nproc)}
build_dir=${FUZZ_BUILD_DIR:-$source_dir/build-fuzz}
work_dir=${FUZZ_WORK_DIR:-$(mktemp -d -t loyalty-fuzz-XXXXXX)}

if [[ -z "${FUZZ_BUILD_DIR:-}" ]]; then
  scripts/install-deps.sh --test
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz
else
  cmake --build "$build_dir"
fi

# Leaks count as findings; UBSan stops at the first report (the code is built so as well).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

echo "work folder: $work_dir ($seconds s per target, $jobs workers)"
summary=()
found=0
for target in "${targets[@]}"; do
  binary="$build_dir/fuzz/fuzz_$target"
  [[ -x "$binary" ]] || { echo "no fuzz target $target ($binary)" >&2; exit 2; }
  dir="$work_dir/$target"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -n "$source_dir/fuzz/corpus/$target/"* "$dir/corpus/" 2>/dev/null || true
  dictionary=()
  [[ -f "$source_dir/fuzz/dict/$target.dict" ]] && dictionary=("-dict=$source_dir/fuzz/dict/$target.dict")
  echo "== $target"
  # -jobs/-workers run $jobs processes at once, each for the whole time, sharing the corpus;
  # each writes fuzz-<n>.log in the current folder.
  (cd "$dir" && "$binary" -jobs="$jobs" -workers="$jobs" -max_total_time="$seconds" \
     -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
     "${dictionary[@]}" corpus >/dev/null 2>&1) || true
  executions=$(cat "$dir"/fuzz-*.log 2>/dev/null |
    awk '/stat::number_of_executed_units:/ { total += $2 } END { print total + 0 }')
  corpus_files=$(find "$dir/corpus" -type f | wc -l)
  findings=$(find "$dir/artifacts" -type f | wc -l)
  ((findings == 0)) || found=1
  summary+=("$(printf '%-14s %14s executions %8s/s  corpus %6s  findings %s' "$target" \
    "$executions" "$((executions / seconds))" "$corpus_files" "$findings")")
  for artifact in "$dir"/artifacts/*; do
    [[ -e "$artifact" ]] && echo "  finding: $artifact (logs: $dir/fuzz-*.log)"
  done
done

echo "== executions per target ($seconds s each, $jobs workers)"
printf '%s\n' "${summary[@]}"
exit "$found"
