#!/usr/bin/env bash
# The whole test suite: formatting, lints, every Rust test (unit tests, the example functions,
# the end-to-end tests that drive the real `faaset` CLI and local engine), then the Jupyter
# kernel driven over the Jupyter protocol and the tutorial notebook run headless.
# Run ./install.sh once first: it installs the Python side (jupyter_client, nbclient, pytest).
set -euo pipefail
cd "$(dirname "$0")"
venv="${FAASET_VENV:-${FAASET_HOME:-$HOME/.local/share/faaset}/venv}"
cargo fmt --all -- --check
# `dataframe` (polars) is off in the binaries; its test and lints need it on.
cargo clippy --workspace --all-targets --locked --features faaset-core/dataframe -- -D warnings
# The kernel (evcxr) is tested in release, sharing the dependencies of the release build
# install.sh made: a debug evcxr would compile everything a second time.
cargo test --workspace --exclude faaset-kernel --locked --features faaset-core/dataframe
cargo test --release --locked -p faaset-kernel
cargo build --release --locked -p faaset-kernel
if [ ! -x "$venv/bin/pytest" ]; then
  echo "test.sh: no pytest in $venv: run ./install.sh first (it installs the Python test tools)" >&2
  exit 1
fi
# A hung test fails with its traceback (pytest-timeout) instead of running into CI's limit.
"$venv/bin/pytest" -q --timeout 1800 tests/kernel
