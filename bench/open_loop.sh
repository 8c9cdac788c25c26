#!/usr/bin/env bash
# Runs the open-loop runner benchmark (faaset-core/benches/open_loop.rs): 5,000 calls/s for
# 10 s against the local platform, with the closed-loop runner as the baseline of the same run,
# and writes its table to bench/results-open-loop.md (kept as it was when the run fails).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/results-open-loop.md"
cd "$here/.."
cargo bench --locked -p faaset-core --bench open_loop > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
