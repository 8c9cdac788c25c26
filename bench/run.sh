#!/usr/bin/env bash
# Runs the local platform benchmark (faaset-core/benches/local_platform.rs) and writes its
# table to bench/results-local.md (kept as it was when the run fails). Progress on stderr.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   where cargo builds the bench and the faaset CLI
#   FAASET_TARGET_DIR  where the benchmark's functions are built (default ~/.cache/faaset/target)
#   FAASET_BIN         an existing faaset binary to measure instead of the one cargo builds
#   CARGO_LAMBDA       the cargo-lambda binary: adds `cargo lambda watch` as a baseline
#                      (default: cargo-lambda on PATH, if any)
#   FAASET_BENCH_CALLS, FAASET_BENCH_COLD, FAASET_BENCH_EDITS, FAASET_BENCH_CLI_RUNS,
#   FAASET_BENCH_WRK_SECONDS   sample counts (see bench/README.md)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/results-local.md"
if [ -z "${CARGO_LAMBDA:-}" ] && command -v cargo-lambda >/dev/null 2>&1; then
  export CARGO_LAMBDA="$(command -v cargo-lambda)"
fi
command -v wrk >/dev/null 2>&1 || echo "run.sh: wrk not found (apt-get install wrk): its rows are skipped" >&2
cd "$here/.."
cargo bench -p faaset-core --bench local_platform > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
