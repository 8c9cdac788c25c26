#!/usr/bin/env bash
# Benchmarks the Jupyter kernel (bench/kernel.py) and writes bench/results-kernel.md.
# Needs ./install.sh first (the release kernel, faaset, and the Python venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${FAASET_VENV:-${FAASET_HOME:-$HOME/.local/share/faaset}/venv}"
cd "$here/.."
cargo build --release --locked -p faaset-core --bin faaset >&2
cargo build --release --locked -p faaset-kernel >&2
"$venv/bin/python" bench/kernel.py "$@" > "$here/results-kernel.md.tmp"
mv "$here/results-kernel.md.tmp" "$here/results-kernel.md"
cat "$here/results-kernel.md"
