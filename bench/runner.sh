#!/usr/bin/env bash
# Runs the CPU-model runner benchmark (faaset-core/benches/runner.rs) and writes its table
# to bench/results-runner.md (kept as it was when the run fails).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/results-runner.md"
cd "$here/.."
cargo bench -p faaset-core --bench runner > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
