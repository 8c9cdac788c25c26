#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (unit tests, the example functions,
# and the end-to-end tests that drive the real `faaset` CLI and local engine).
set -euo pipefail
cd "$(dirname "$0")"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
