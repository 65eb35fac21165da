#!/usr/bin/env bash
# The long crash test: SIGKILL loyaltyd under load CYCLES times (default 500) in each durability
# mode, then check everything (tests/recovery/crash_test.py). Uses build/ (scripts/test.sh builds
# it) unless LOYALTYD / LOYALTYCTL name other binaries. Extra arguments go to crash_test.py,
# e.g. --seed 42 --durability fsync --clients 8.
#   tests/recovery/crash-long.sh 1000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cycles="${1:-500}"
shift || true
export LOYALTY_SOURCE_DIR="$root"
export LOYALTYD="${LOYALTYD:-$root/build/loyaltyd}"
export LOYALTYCTL="${LOYALTYCTL:-$root/build/loyaltyctl}"
for binary in "$LOYALTYD" "$LOYALTYCTL"; do
  [[ -x "$binary" ]] || { echo "crash-long.sh: $binary is missing; build first (scripts/test.sh)" >&2; exit 2; }
done
cd "$here"
exec /usr/bin/python3 crash_test.py --cycles "$cycles" "$@"
