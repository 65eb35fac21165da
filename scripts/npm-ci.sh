#!/usr/bin/env bash
# Installs a folder's npm packages exactly as its committed lock file pins them (`npm ci`), and
# again only when the lock file changed since the last install: scripts/npm-ci.sh <folder>...
# Used for the console (console/, built into loyaltyd) and the webhook tests' receiver.
set -euo pipefail
cd "$(dirname "$0")/.."
for folder in "$@"; do
  lock_sum=$(sha256sum "$folder/package-lock.json" | cut -d' ' -f1)
  if [[ "$(cat "$folder/node_modules/.lock-sha256" 2>/dev/null || true)" != "$lock_sum" ]]; then
    npm ci --prefix "$folder" --no-audit --no-fund --loglevel=error
    echo "$lock_sum" > "$folder/node_modules/.lock-sha256"
  fi
done
