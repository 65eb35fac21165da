#!/usr/bin/env bash
# The long soak (README.md, "Tests"): the Release loyaltyd under a mixed load at half its
# capacity, 10 minutes by default; arguments go to tests/soak/soak.py (--minutes, --interval,
# --rate, --json, …). Exit 1 when a sampled figure keeps growing.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target loyaltyd loyaltyctl
export LOYALTYD="${LOYALTYD:-$PWD/build/loyaltyd}" LOYALTYCTL="${LOYALTYCTL:-$PWD/build/loyaltyctl}"
exec /usr/bin/python3 tests/soak/soak.py "$@"
