#!/usr/bin/env bash
# Rebuilds the binary seed corpus of fuzz_ws_binary (fuzz/corpus/ws_binary/*.bin) from the
# hand-written JSON in fuzz/wire-seeds/, with flatc and the wire schema.
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus/ws_binary
mkdir -p "$out"
for source in fuzz/wire-seeds/*.json; do
  flatc --binary -o "$out" api/schema/wire.fbs "$source"
done
ls "$out"
