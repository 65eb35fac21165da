#!/usr/bin/env bash
# The README's first command: install what is missing, build Release, start loyaltyd on the
# shipped config/server.toml + config/program.toml with a local data/ folder.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/npm-ci.sh console  # the console's build tools (esbuild), as console/package-lock.json pins
cmake --preset release >/dev/null
cmake --build --preset release --target loyaltyd loyaltyctl
exec build/loyaltyd --config config/server.toml --data data "$@"
