#!/usr/bin/env bash
# The long run of the cluster's Jepsen-style check (tests/cluster/test_nemesis.py): 200 faults
# (about 25 minutes on 2 cores) against a loopback cluster of the built binaries. CI runs the
# same test with 10. NEMESIS_SEED=N repeats a run.
#   scripts/nemesis-long.sh [--events N] [--build DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
events=200 build="$root/build"
while (($#)); do
  case "$1" in
    --events) events=$2; shift 2 ;;
    --build) build=$(realpath -m "$2"); shift 2 ;;
    *) echo "usage: $0 [--events N] [--build DIR]" >&2; exit 2 ;;
  esac
done
cd "$root/tests/cluster"
LOYALTYD="$build/loyaltyd" LOYALTYCTL="$build/loyaltyctl" LOYALTY_SOURCE_DIR="$root" \
  NEMESIS_EVENTS="$events" PYTHONDONTWRITEBYTECODE=1 exec python3 -m unittest -v test_nemesis
