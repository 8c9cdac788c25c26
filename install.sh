#!/usr/bin/env bash
# Installs FaaSET-rs from this clone. Idempotent: run it again after pulling.
#  - Debian packages it needs (curl for run.sh, flock for build.sh, a C toolchain for linking);
#  - the `faaset` binary into $FAASET_PREFIX/bin (default ~/.cargo/bin, rustup's PATH entry);
#  - the resources functions are built against (platform templates, faaset-runtime, saaf)
#    into ~/.local/share/faaset, so any folder can be a workspace;
#  - the release build of the dependencies functions share (~/.cache/faaset/target), so the
#    first deploy does not wait for them;
#  - the Jupyter kernel `faaset-kernel` and its kernelspec "Rust (FaaSET)", and a Python
#    virtual environment (~/.local/share/faaset/venv) with JupyterLab and the test tools,
#    from the requirements*.txt files of this clone.
set -euo pipefail
cd "$(dirname "$0")"

prefix="${FAASET_PREFIX:-$HOME/.cargo}"
data="${XDG_DATA_HOME:-$HOME/.local/share}/faaset"
target="${CARGO_TARGET_DIR:-$PWD/target}"
say() { printf '==> %s\n' "$*" >&2; }

missing=()
command -v curl >/dev/null || missing+=(curl)
command -v flock >/dev/null || missing+=(util-linux)
command -v cc >/dev/null || missing+=(gcc libc6-dev)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
if ! command -v cargo >/dev/null; then
  echo "install.sh: FaaSET-rs needs Rust (cargo); install it from https://rustup.rs and run ./install.sh again" >&2
  exit 1
fi

say "building faaset and faaset-kernel (release; the kernel's evcxr takes ~10 minutes the first time)"
cargo build --release --locked -p faaset-core --bin faaset -p faaset-kernel
install -d "$prefix/bin"
install -m 0755 "$target/release/faaset" "$prefix/bin/faaset"
install -m 0755 "$target/release/faaset-kernel" "$prefix/bin/faaset-kernel"

say "installing platform templates and runtime crates into $data"
rm -rf "$data.new"
mkdir -p "$data.new"
cp -r platforms faaset-runtime saaf "$data.new/"
mkdir -p "$data.new/kernel"
cp -r kernel/bridge "$data.new/kernel/"
rm -rf "$data.old"
if [ -d "$data" ]; then mv "$data" "$data.old"; fi
mv "$data.new" "$data"
rm -rf "$data.old"

say "precompiling the dependencies functions share"
warm="$(mktemp -d)"
trap '"$prefix/bin/faaset" --workspace "$warm" local stop >/dev/null 2>&1 || true; rm -rf "$warm"' EXIT
mkdir -p "$warm/functions/warm_up/src"
printf '{"name": "warm_up", "platform": "local"}\n' > "$warm/functions/warm_up/FAASET.json"
printf 'fn warm_up(_request: Value, _context: Context) -> Value {\n    json!({})\n}\n' \
  > "$warm/functions/warm_up/src/function.rs"
"$prefix/bin/faaset" --workspace "$warm" deploy warm_up >/dev/null

venv="${FAASET_VENV:-${FAASET_HOME:-$HOME/.local/share/faaset}/venv}"
say "installing Jupyter and the Python test tools into $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
for requirements in requirements*.txt; do
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
done

say "installing the Jupyter kernel \"Rust (FaaSET)\""
"$prefix/bin/faaset-kernel" --install --user

case ":$PATH:" in
  *":$prefix/bin:"*) say "done: run \`faaset --help\`" ;;
  *) say "done: add $prefix/bin to your PATH (export PATH=\"$prefix/bin:\$PATH\"), then run \`faaset --help\`" ;;
esac
