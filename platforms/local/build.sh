#!/usr/bin/env bash
# Builds the function's `bootstrap` for the local platform: the same executable AWS Lambda's
# provided.al2023 runtime runs (it speaks the Lambda Runtime API through lambda_runtime).
# $1: the function's platform folder (functions/<fn>/local); faaset has generated the crate
# in $1/.build. Set by faaset: FAASET_FUNCTION, FAASET_CRATE (the crate and binary name,
# unique per function folder), FAASET_TARGET_DIR (shared by all functions, so dependencies
# compile once per machine).
set -euo pipefail
cd "$1/.build"
# One build at a time per target dir, so the binary is copied out before another build of a
# same-named function could replace it.
exec 9>"$FAASET_TARGET_DIR/.faaset-build.lock"
flock 9
cargo build --release --target-dir "$FAASET_TARGET_DIR" --color never
cp "$FAASET_TARGET_DIR/release/$FAASET_CRATE" bootstrap
