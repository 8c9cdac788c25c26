"""Benchmark of the faaset Jupyter kernel over the real Jupyter protocol (jupyter_client).

Measures, on a workspace with 20 saved functions (DESIGN's and issue #13's targets in brackets):
  - kernel start → kernel_info reply, and → first cell answered (stubs of all 20 defined)
    [< 15 s with a warm dependency cache];
  - the first cell in a folder never used before, with the kernels' build folders as
    install.sh's warm-up left them [≤ 5 s], against, in the same run, a build folder of its
    own (one per workspace, as releases before 2026-12 did) and that with an empty evcxr
    cache too (before the warm-up existed);
  - `%faaset load … as df polars=true`, the first time in a new folder [≤ 10 s], against the
    same with a build folder of its own;
  - what `%faaset invoke` adds to the function's own round trip [< 50 ms], against the
    round trip the core measures inside the same call (the baseline, same run);
  - a stub call from a Rust cell, evcxr's compile included [< 1.5 s].
Prints a Markdown table. Usage: python bench/kernel.py [KERNEL_BINARY]
"""

import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager

REPO = pathlib.Path(__file__).resolve().parents[1]
STARTS = int(os.environ.get("FAASET_BENCH_KERNEL_STARTS", "5"))
INVOKES = int(os.environ.get("FAASET_BENCH_KERNEL_INVOKES", "30"))
STUB_CALLS = int(os.environ.get("FAASET_BENCH_KERNEL_STUB_CALLS", "10"))


def main():
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else target / "release" / "faaset-kernel"
    faaset = shutil.which("faaset") or str(target / "release" / "faaset")
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="faaset-kernel-bench-"))
    prefix = scratch / "jupyter"
    subprocess.run([str(binary), "--install", "--prefix", str(prefix)], check=True, capture_output=True)
    workspace = scratch / "ws"
    workspace.mkdir()
    for i in range(20):
        subprocess.run([faaset, "--workspace", str(workspace), "new", f"saved_{i:02}"], check=True, capture_output=True)
    hello = (REPO / "functions" / "hello_world" / "src" / "function.rs").read_text()
    # A copy made before any kernel ran there: a folder never used before.
    fresh = scratch / "ws-fresh"
    shutil.copytree(workspace, fresh)
    # The kernels take their build folder from the user's pool (~/.cache/faaset/evcxr), as
    # in use; the baselines set EVCXR_TMPDIR to a folder of their own.
    env = {k: v for k, v in os.environ.items() if k != "EVCXR_TMPDIR"}
    env["FAASET_WORKSPACE"] = str(workspace)

    def start(env=env, cwd=workspace):
        manager = KernelManager(kernel_name="faaset")
        manager.kernel_spec_manager.kernel_dirs = [str(prefix / "share" / "jupyter" / "kernels")]
        began = time.monotonic()
        manager.start_kernel(env=env, cwd=str(cwd))
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=300)
        info = time.monotonic() - began
        run(client, "1 + 1")
        first_cell = time.monotonic() - began
        return manager, client, info, first_cell

    def run(client, code):
        reply = client.execute_interactive(code, output_hook=lambda m: outputs.append(m), timeout=600)
        assert reply["content"]["status"] == "ok", (code, reply["content"])
        return reply

    outputs = []
    # Baseline: a new folder and an empty evcxr cache (as every new folder was before
    # install.sh's warm-up): the session compiles serde_json & co. and the bridge and SAAF.
    empty_cache = dict(env, EVCXR_TMPDIR=str(scratch / "evcxr-empty"), XDG_CACHE_HOME=str(scratch / "cache"))
    manager, client, _, empty_first = start(empty_cache)
    client.stop_channels()
    manager.shutdown_kernel()
    # Baseline: a build folder of its own (one per workspace), with the user's evcxr cache.
    manager, client, _, own_first = start(dict(env, EVCXR_TMPDIR=str(scratch / "evcxr-own")))
    client.stop_channels()
    manager.shutdown_kernel()
    # The first start in a folder never used before, build folder from the pool.
    manager, client, cold_info, cold_first = start(dict(env, FAASET_WORKSPACE=str(fresh)), fresh)
    client.stop_channels()
    manager.shutdown_kernel()
    infos, firsts = [], []
    for _ in range(STARTS):
        manager, client, info, first = start()
        infos.append(info)
        firsts.append(first)
        client.stop_channels()
        manager.shutdown_kernel()

    manager, client, _, _ = start()
    run(client, "%%cloud_function local\n" + hello)
    added, own = [], []
    for _ in range(INVOKES):
        outputs.clear()
        began = time.monotonic()
        run(client, '%faaset invoke hello_world {"name": "Bench"}')
        total = (time.monotonic() - began) * 1000
        response = next(m for m in outputs if m["msg_type"] == "display_data")["content"]["data"]["application/json"]
        own.append(response["roundTripTime"])
        added.append(total - response["roundTripTime"])
    stub = []
    for i in range(STUB_CALLS):
        began = time.monotonic()
        run(client, f'let r{i} = hello_world(json!({{"name": "Bench"}}));')
        stub.append(time.monotonic() - began)
    run(client, "%faaset experiment hello_world threads=2 runs_per_thread=3 experiment_name=bench_df")
    client.stop_channels()
    manager.shutdown_kernel()
    # polars, the first time in a folder never used before (a copy of the workspace with the
    # experiment), from the pool and, as the baseline, with a build folder of its own.
    def polars_load(folder, env):
        shutil.copytree(workspace, folder, ignore=shutil.ignore_patterns(".faaset"))
        manager, client, _, _ = start(dict(env, FAASET_WORKSPACE=str(folder)), folder)
        began = time.monotonic()
        run(client, "%faaset load hello_world bench_df as df polars=true")
        took = time.monotonic() - began
        run(client, "assert_eq!(df.height(), 6);")
        client.stop_channels()
        manager.shutdown_kernel()
        subprocess.run([faaset, "--workspace", str(folder), "local", "stop"], capture_output=True)
        return took

    polars_own = polars_load(scratch / "ws-polars-own", dict(env, EVCXR_TMPDIR=str(scratch / "evcxr-polars")))
    polars_pool = polars_load(scratch / "ws-polars", env)
    subprocess.run([faaset, "--workspace", str(workspace), "local", "stop"], capture_output=True)
    shutil.rmtree(scratch, ignore_errors=True)

    med = statistics.median
    print("| figure (median) | measured | baseline in the same run | target |")
    print("|---|--:|--:|---|")
    print(f"| kernel start → `kernel_info` reply, 20 saved functions ({STARTS} starts) | {med(infos):.2f} s | first start (cold session build) {cold_info:.2f} s | < 15 s |")
    print(f"| kernel start → first cell answered (20 stubs defined) | {med(firsts):.1f} s | first start in that folder {cold_first:.1f} s | |")
    print(f"| first cell in a folder never used before (build folders from install.sh's warm-up) | {cold_first:.1f} s | build folder of its own {own_first:.1f} s; and empty evcxr cache {empty_first:.1f} s | ≤ 5 s |")
    print(f"| `%faaset load … as df polars=true`, first time in a new folder | {polars_pool:.1f} s | build folder of its own {polars_own:.1f} s | ≤ 10 s |")
    print(f"| `%faaset invoke` added to the function's round trip ({INVOKES} calls) | {med(added):.1f} ms (max {max(added):.1f}) | the call's own round trip {med(own):.2f} ms | < 50 ms |")
    print(f"| stub call from a Rust cell, evcxr compile included ({STUB_CALLS} cells) | {med(stub):.2f} s (max {max(stub):.2f}) | | < 1.5 s |")


if __name__ == "__main__":
    main()
