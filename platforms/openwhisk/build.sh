#!/usr/bin/env bash
# Builds the function as an OpenWhisk native action: a fully static x86_64 `exec` (the
# action images are Debian stretch with an old glibc, or Alpine with musl, so nothing may be
# linked dynamically), zipped as a top-level `exec` with mode 0755. The same binary speaks
# both action protocols (ActionLoop and dockerskeleton, docs/function-runtime.md).
# $1: the function's platform folder (functions/<fn>/openwhisk); faaset has generated the
# crate in $1/.build. Set by faaset: FAASET_CRATE (crate and binary name), FAASET_TARGET_DIR
# (shared by all functions).
set -euo pipefail
cd "$1/.build"
target=x86_64-unknown-linux-gnu
exec 9>"$FAASET_TARGET_DIR/.faaset-build.lock"
flock 9
# crt-static with glibc gives a static-pie. `--target` is what makes it work and keeps it
# apart: with an explicit target RUSTFLAGS apply to the target only, not to build scripts and
# proc macros (which cannot be static), and the artifacts go to $FAASET_TARGET_DIR/$target/,
# not over the local platform's dynamically linked ones in release/ (docs/building-functions.md).
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target "$target" \
  --target-dir "$FAASET_TARGET_DIR" --color never
# `bootstrap`, as on every platform (faaset checks for it), is zipped under the name `exec`.
cp "$FAASET_TARGET_DIR/$target/release/$FAASET_CRATE" bootstrap
# Python's zipfile (python3 is installed by install.sh) writes the mode into the entry and a
# fixed timestamp, so the same binary always gives the same zip.
python3 - <<'PY'
import zipfile
entry = zipfile.ZipInfo("exec", date_time=(1980, 1, 1, 0, 0, 0))
entry.external_attr = (0o100755 << 16)
entry.compress_type = zipfile.ZIP_DEFLATED
with open("bootstrap", "rb") as binary, zipfile.ZipFile("exec.zip.tmp", "w") as archive:
    archive.writestr(entry, binary.read())
PY
mv exec.zip.tmp exec.zip
