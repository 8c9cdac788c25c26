#!/usr/bin/env bash
# Installs FaaSET-rs from this clone. Idempotent: run it again after pulling.
#  - Debian packages it needs (curl for run.sh, flock for build.sh, a C toolchain for linking);
#  - the `faaset` binary into $FAASET_PREFIX/bin (default ~/.cargo/bin, rustup's PATH entry);
#  - the resources functions are built against (platform templates, faaset-runtime, saaf)
#    into ~/.local/share/faaset, so any folder can be a workspace;
#  - the release build of the dependencies functions share (~/.cache/faaset/target), so the
#    first deploy does not wait for them;
#  - the Jupyter kernel `faaset-kernel` and its kernelspec "Rust (FaaSET)", and the crates its
#    sessions use (polars included) compiled once into evcxr's cache (~/.cache/evcxr);
#  - a Python virtual environment (${FAASET_HOME:-~/.local/share/faaset}/venv) with the
#    packages of every requirements*.txt here (JupyterLab and the kernel's test tools,
#    cargo-lambda and Zig for AWS builds, moto for the offline AWS tests, jsonschema for the
#    OpenWhisk contract test, google-api-python-client, google-auth and google-cloud-run for the
#    Google one);
#  - Debian's mold, the linker evcxr uses for notebook cells when it is installed;
#  - Debian's Chromium, in which the browser test runs the tutorial (Playwright drives it);
#  - Debian's docker-registry, skopeo and umoci for the Google tests (a loopback OCI registry);
#  - Node's npm `openwhisk` client (~/.local/share/faaset/node), the reference the OpenWhisk
#    tests compare requests with.
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
command -v python3 >/dev/null || missing+=(python3)
# Debian's python3 lacks ensurepip (so `python3 -m venv` fails) until python3-venv is in.
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v objdump >/dev/null || missing+=(binutils)
# Node and npm: the OpenWhisk tests compare requests with the official npm `openwhisk` client.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
# mold: evcxr links each notebook cell with it when it is installed (several times faster
# than ld.bfd for a session that links polars; issue #13's timings).
command -v mold >/dev/null || missing+=(mold)
# Chromium: the browser test runs the tutorial in JupyterLab in it (headless, via Playwright).
command -v chromium >/dev/null || missing+=(chromium)
# The Google tests: a real OCI registry on loopback, and independent tools that read the image
# FaaSET pushed back (docs/google.md).
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v umoci >/dev/null || missing+=(umoci)
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
# Two builds, not one: `cargo test -p faaset-kernel` (test.sh) resolves features as a build of
# the kernel alone does, so this keeps evcxr's tree from being compiled twice.
cargo build --release --locked -p faaset-core --bin faaset
cargo build --release --locked -p faaset-kernel
install -d "$prefix/bin"
install -m 0755 "$target/release/faaset" "$prefix/bin/faaset"
install -m 0755 "$target/release/faaset-kernel" "$prefix/bin/faaset-kernel"

say "installing platform templates and runtime crates into $data"
rm -rf "$data.new"
mkdir -p "$data.new"
cp -r platforms faaset-runtime saaf "$data.new/"
mkdir -p "$data.new/kernel"
cp -r kernel/bridge "$data.new/kernel/"
# The venv lives in the same folder: carry it over instead of rebuilding it every time.
if [ -d "$data/venv" ]; then mv "$data/venv" "$data.new/venv"; fi
rm -rf "$data.old"
if [ -d "$data" ]; then mv "$data" "$data.old"; fi
mv "$data.new" "$data"
rm -rf "$data.old"

# Python tools into one venv: every requirements*.txt at the repository root, pinned there.
install_python_requirements() {
  local venv="${FAASET_VENV:-${FAASET_HOME:-$HOME/.local/share/faaset}/venv}"
  local files=(requirements*.txt)
  [ -e "${files[0]}" ] || return 0
  if [ ! -x "$venv/bin/python" ]; then
    say "creating the Python venv $venv"
    python3 -m venv "$venv"
  fi
  local args=()
  for f in "${files[@]}"; do args+=(-r "$f"); done
  say "installing Python packages into $venv: ${files[*]}"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${args[@]}"
}
install_python_requirements

# The official OpenWhisk JavaScript client, pinned by faaset-core/tests/node/package-lock.json,
# for the tests that compare the openwhisk platform's requests with its requests.
say "installing the npm openwhisk client into $data/node"
mkdir -p "$data/node"
cp faaset-core/tests/node/package.json faaset-core/tests/node/package-lock.json "$data/node/"
npm ci --prefix "$data/node" --no-audit --no-fund --ignore-scripts --loglevel=error

say "precompiling the dependencies functions share"
warm="$(mktemp -d)"
trap '"$prefix/bin/faaset" --workspace "$warm" local stop >/dev/null 2>&1 || true; rm -rf "$warm"' EXIT
mkdir -p "$warm/functions/warm_up/src"
printf '{"name": "warm_up", "platform": "local"}\n' > "$warm/functions/warm_up/FAASET.json"
printf 'fn warm_up(_request: Value, _context: Context) -> Value {\n    json!({})\n}\n' \
  > "$warm/functions/warm_up/src/function.rs"
"$prefix/bin/faaset" --workspace "$warm" deploy warm_up >/dev/null

say "installing the Jupyter kernel \"Rust (FaaSET)\""
"$prefix/bin/faaset-kernel" --install --user

# Notebook sessions use the bridge's and SAAF's dependencies, and polars for
# `%faaset load ... polars=true`: compiled once here into evcxr's cache (~/.cache/evcxr),
# the first cell in any new folder and the first polars load are seconds, not minutes.
say "precompiling what notebook sessions use (polars included; minutes the first time)"
"$prefix/bin/faaset-kernel" --warm-up

case ":$PATH:" in
  *":$prefix/bin:"*) say "done: run \`faaset --help\`" ;;
  *) say "done: add $prefix/bin to your PATH (export PATH=\"$prefix/bin:\$PATH\"), then run \`faaset --help\`" ;;
esac
