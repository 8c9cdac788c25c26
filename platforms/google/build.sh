#!/usr/bin/env bash
# Builds the function for Google Cloud Run: a fully static x86_64 `bootstrap`. The image FaaSET
# packs around it has nothing else in it (no libc, no loader: one layer holding /bootstrap), so
# nothing may be linked dynamically; faaset-runtime serves HTTP on 0.0.0.0:$PORT in it
# (docs/function-runtime.md). Packing and pushing the image is done by `faaset` itself at
# publish (docs/google.md): the same binary always gives the same image digest.
# The `azure` platform extends this template: the same binary is its custom handler (HTTP on
# 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT), zipped by `faaset` at publish (docs/azure.md).
# $1: the function's platform folder (functions/<fn>/google or azure); faaset has generated the crate in
# $1/.build. Set by faaset: FAASET_CRATE (crate and binary name), FAASET_TARGET_DIR (shared by
# all functions).
set -euo pipefail
cd "$1/.build"
target=x86_64-unknown-linux-gnu
exec 9>"$FAASET_TARGET_DIR/.faaset-build.lock"
flock 9
# crt-static with glibc gives a static-pie (the musl target's std is not installable offline).
# `--target` keeps RUSTFLAGS off build scripts and proc macros (which cannot be static) and the
# artifacts apart from the local platform's dynamically linked ones (docs/building-functions.md).
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target "$target" \
  --target-dir "$FAASET_TARGET_DIR" --color never
cp "$FAASET_TARGET_DIR/$target/release/$FAASET_CRATE" bootstrap.tmp
mv bootstrap.tmp bootstrap
