#!/usr/bin/env bash
# Builds the function's `bootstrap` for AWS Lambda's provided.al2023 runtime and zips it:
# cargo-lambda cross-links with Zig against an old glibc, so the binary runs on Lambda's
# Amazon Linux whatever this machine's glibc is. The same binary also runs on the local
# platform. $1: the function's platform folder; faaset has generated the crate in $1/.build.
# Set by faaset: FAASET_CRATE (crate and binary name), FAASET_TARGET_DIR (shared by all
# functions), FAASET_ARCHITECTURE (x86_64 or arm64).
set -euo pipefail
cd "$1/.build"
# cargo-lambda and Zig come from PyPI into FaaSET's virtual environment (install.sh); one on
# PATH is used when the venv has none. $FAASET_VENV names another venv.
# The kernel's venv (~/.local/share/faaset-venv) is looked at too, as install.sh may put
# every requirements*.txt there.
venv="${FAASET_VENV:-${FAASET_HOME:-$HOME/.local/share/faaset}/venv}"
for candidate in "$venv" "${XDG_DATA_HOME:-$HOME/.local/share}/faaset-venv"; do
  if [ -x "$candidate/bin/cargo-lambda" ]; then venv="$candidate"; break; fi
done
if [ -x "$venv/bin/cargo-lambda" ]; then
  export PATH="$venv/bin:$PATH"
elif ! command -v cargo-lambda >/dev/null; then
  echo "cargo-lambda is neither in $venv nor on PATH: run ./install.sh (it installs cargo-lambda and ziglang from PyPI)" >&2
  exit 1
fi
case "${FAASET_ARCHITECTURE:-x86_64}" in
  x86_64) target=x86_64-unknown-linux-gnu; flag=--x86-64 ;;
  arm64) target=aarch64-unknown-linux-gnu; flag=--arm64 ;;
  *) echo "unknown architecture ${FAASET_ARCHITECTURE}: use x86_64 or arm64" >&2; exit 1 ;;
esac
exec 9>"$FAASET_TARGET_DIR/.faaset-build.lock"
flock 9
# The target dir goes through the environment: cargo-lambda 1.9 passes a --target-dir flag
# on to `cargo metadata`, which refuses it.
CARGO_TARGET_DIR="$FAASET_TARGET_DIR" cargo lambda build --release "$flag" --output-format zip \
  --lambda-dir lambda --color never
cp "lambda/$FAASET_CRATE/bootstrap.zip" bootstrap.zip
cp "$FAASET_TARGET_DIR/$target/release/$FAASET_CRATE" bootstrap
