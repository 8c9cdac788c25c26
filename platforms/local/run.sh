#!/usr/bin/env bash
# Calls the function once: $1 = its platform folder (functions/<fn>/local), $2 = the payload
# JSON (`-` when it is too long for a command line), which is also on stdin; prints the
# response JSON. While this file is unchanged faaset calls the engine
# directly (same request, no process per call); edit it to call the function your own way
# and faaset will run it for every call instead.
set -euo pipefail
fn="$(basename "$(dirname "$1")")"
info="$(cd "$1/../../.." && pwd)/.faaset/local/engine.json"
address="$(sed -n 's/.*"address": "\(.*\)".*/\1/p' "$info")"
token="$(sed -n 's/.*"token": "\(.*\)".*/\1/p' "$info")"
# The token reaches curl as a header file on a pipe and the payload from stdin: a command
# line is readable by every local user (ps, /proc/<pid>/cmdline), and the token lets its
# holder run code as you.
curl -sS --fail-with-body -H @<(printf 'Authorization: Bearer %s\n' "$token") \
  --data-binary @- "http://$address/2015-03-31/functions/$fn/invocations"
