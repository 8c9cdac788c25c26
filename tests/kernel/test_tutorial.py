"""The tutorial notebook runs headless, start to end, with kernel `faaset` (as
`jupyter nbconvert --execute` would), shows no error, and shows at least one plot and one
HTML table. The executed copy is kept in target/ for a look."""

import csv
import os
import pathlib
import shutil
import statistics
import subprocess

import nbformat
from nbclient import NotebookClient

from conftest import REPO, new_workspace


def test_the_tutorial_runs_headless(jupyter_path, evcxr_dir, monkeypatch):
    workspace = new_workspace()
    notebook_path = workspace / "tutorial.ipynb"
    shutil.copy(REPO / "notebooks" / "tutorial.ipynb", notebook_path)
    notebook = nbformat.read(notebook_path, as_version=4)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("EVCXR_TMPDIR", str(evcxr_dir))
    monkeypatch.delenv("FAASET_WORKSPACE", raising=False)
    client = NotebookClient(
        notebook,
        kernel_name="faaset",
        timeout=900,
        resources={"metadata": {"path": str(workspace)}},
    )
    try:
        client.execute()
    finally:
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        target.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target / "tutorial.executed.ipynb")
        faaset = shutil.which("faaset")
        # What the engine says of its limits (the CPU governor's priority) and what else ran
        # on the host: the measurements below depend on both.
        engine = subprocess.run(
            [faaset or "faaset", "--workspace", str(workspace), "local", "status"],
            capture_output=True, text=True,
        ).stdout if faaset else ""
        busiest = subprocess.run(
            ["ps", "-eo", "pcpu,etime,args", "--sort=-pcpu"], capture_output=True, text=True
        ).stdout.splitlines()[:6]
        host = f"load {os.getloadavg()}; {engine.strip()}; busiest: {busiest}"
        if faaset:
            os.system(f"{faaset} --workspace {workspace} local stop >/dev/null 2>&1")

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, f"error outputs: {[(e.ename, e.evalue) for e in errors]}"
    data = [o.get("data", {}) for o in outputs]
    assert any("image/svg+xml" in d or "image/png" in d for d in data), "an image output"
    assert any("<table" in d.get("text/html", "") for d in data), "an HTML table"
    # The tutorial's functions were saved in the notebook's folder (the workspace).
    for function in ["hello_world", "cpu_test_cloud", "calc_service", "page_rank"]:
        assert (workspace / "functions" / function / "FAASET.json").is_file(), function
    rows = workspace / "functions" / "calc_service" / "experiments" / "t_test_demo" / "results.csv"
    assert len(rows.read_text().strip().splitlines()) == 31
    # Activity 1: memory buys CPU, also for the tutorial's short (few ms) call, as on Lambda
    # (1769 MB = one vCPU): 128 MB is 2048/128 = 16x slower than 2048 MB in Lambda's model of
    # a single-threaded call (13.8x, as 2048 MB gives one thread no more than 1769 MB).
    sweep = workspace / "functions" / "calc_service" / "experiments" / "activity1" / "results.csv"
    durations = {}
    with open(sweep, newline="") as f:
        for row in csv.DictReader(f):
            assert not row["error"], row["error"]
            durations.setdefault(int(float(row["memorySize"])), []).append(float(row["duration"]))
    slow, fast = statistics.median(durations[128]), statistics.median(durations[2048])
    # (Asserted with room: the 2048 MB call is not governed, so the host's other work
    # lengthens it and shrinks the ratio; 128 MB's is held to its share whatever the load.)
    assert slow >= 6 * fast, (
        f"median duration at 128 MB {slow} ms vs 2048 MB {fast} ms: {durations}; {host}"
    )
    shutil.rmtree(workspace, ignore_errors=True)
