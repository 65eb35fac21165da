#!/usr/bin/env bash
# Builds the Debian package of loyaltyd and loyaltyctl (Release) into OUT (default: dist/):
#   scripts/package.sh [--out DIR]
# Installing it: sudo apt install ./dist/loyalty-engine_*.deb; then replace the development keys
# in /etc/loyalty/server.toml and `systemctl enable --now loyaltyd` (README.md, "Installing").
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    *) echo "usage: scripts/package.sh [--out DIR]" >&2; exit 2 ;;
  esac
done
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}" CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
cmake --preset release >/dev/null
cmake --build --preset release --target loyaltyd loyaltyctl
mkdir -p "$out"
cpack -G DEB --config build/CPackConfig.cmake -B "$(realpath "$out")" >/dev/null
rm -rf "$out/_CPack_Packages"
ls "$out"/loyalty-engine_*.deb
