#!/usr/bin/env bash
# Runs the CPU-model fidelity benchmark (faaset-core/benches/fidelity.rs) and writes its table
# to bench/results-fidelity.md (kept as it was when the run fails).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/results-fidelity.md"
cd "$here/.."
trap 'rm -f "$out.tmp"' EXIT
cargo bench -p faaset-core --bench fidelity > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
