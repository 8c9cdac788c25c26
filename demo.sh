#!/usr/bin/env bash
# A tour of FaaSET-rs on the local platform, in a fresh workspace (default ./demo-workspace):
# deploy, call, redeploy (up to date), reconfigure, a burst of concurrent calls.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ws="${1:-$here/demo-workspace}"
export PATH="${FAASET_PREFIX:-$HOME/.cargo}/bin:$PATH"
mkdir -p "$ws/functions"
for fn in hello_world sleeper; do
  [ -d "$ws/functions/$fn" ] || cp -r "$here/functions/$fn" "$ws/functions/$fn"
done
cd "$ws"
step() { printf '\n$ %s\n' "$*"; "$@"; }
step faaset deploy hello_world
step faaset invoke hello_world '{"name":"Steve"}'
step faaset deploy hello_world
step faaset reconfigure hello_world '{"memory":1024}'
step faaset invoke hello_world '{"name":"Steve"}'
step faaset deploy sleeper
printf '\n$ eight concurrent calls of sleeper (200 ms each)\n'
out="$(mktemp -d)"
start=$(date +%s%N)
pids=()
for i in 1 2 3 4 5 6 7 8; do
  faaset invoke sleeper '{"ms":200}' >"$out/$i.json" 2>"$out/$i.err" & pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || { cat "$out"/*.err >&2; echo "demo: a call of sleeper failed" >&2; exit 1; }
done
end=$(date +%s%N)
echo "all eight answered in $(( (end - start) / 1000000 )) ms (includes starting eight faaset processes)"
grep -h '"environmentId"' "$out"/*.json | sort | uniq -c
rm -rf "$out"
step faaset local status
step faaset list
echo
echo "Workspace: $ws — edit functions/hello_world/src/function.rs and run \`faaset invoke hello_world\` again."
