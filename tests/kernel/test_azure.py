"""`%%cloud_function azure` in the notebook, against the loopback contract test of Azure's
control plane from faaset-core's Azure tests (Entra ID's token endpoint, ARM with the SDKs'
api-versions, OneDeploy, and a host that runs the real `bootstrap` from the uploaded zip under
the custom handler contract)."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

from conftest import Kernel, REPO, new_workspace, result_text, text

TESTS = REPO / "faaset-core" / "tests"


@pytest.fixture
def azure_loopback():
    """The control plane on a free port, in a process group of its own (the handlers it
    starts are in it), stopped when the test ends."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="faaset-azure-"))
    log, made = folder / "requests.jsonl", folder / "credentials.json"
    plane = subprocess.Popen(
        [sys.executable, str(TESTS / "cli" / "azure_control_plane.py"), str(log), str(made)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = plane.stdout.readline().strip()
        assert line.startswith("listening "), f"the control plane did not start: {line!r}"
        endpoint = f"http://127.0.0.1:{line.split()[1]}"
        credentials = json.loads(made.read_text())
        env = {
            "AZURE_TENANT_ID": credentials["tenant"],
            "AZURE_CLIENT_ID": credentials["client_id"],
            "AZURE_CLIENT_SECRET": credentials["client_secret"],
            "AZURE_SUBSCRIPTION_ID": credentials["subscription"],
            "AZURE_AUTHORITY_HOST": endpoint,
            "FAASET_AZURE_ARM_ENDPOINT": endpoint,
        }
        yield env, log, credentials
    finally:
        # Closing stdin lets the plane stop its handlers (SIGTERM); the group kill is the
        # backstop.
        plane.stdin.close()
        try:
            plane.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(plane.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        plane.wait()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_cell_deploys_to_azure_and_a_rust_cell_calls_it(
    azure_loopback, jupyter_path, evcxr_dir, monkeypatch
):
    env, log, credentials = azure_loopback
    # The kernel finds credentials and endpoints where the CLI does: the environment.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    workspace = new_workspace()
    kernel = Kernel(workspace, jupyter_path, evcxr_dir)
    try:
        outputs = kernel.ok(
            '%%cloud_function azure {"memory": 2048, "location": "eastus"}\n'
            "fn hello_az(request: Value, _context: Context) -> Value {\n"
            "    let mut inspector = Inspector::new();\n"
            "    inspector.inspect_container();\n"
            "    inspector.inspect_platform();\n"
            '    let name = request["name"].as_str().unwrap_or("nobody").to_string();\n'
            '    inspector.add_attribute("message", format!("Hello {name}!"));\n'
            "    inspector.finish()\n"
            "}\n",
            timeout=900,
        )
        shown = text(outputs)
        assert "Azure function app hello-az-" in shown and "OneDeploy of" in shown, shown
        outputs = kernel.ok('hello_az(json!({"name": "Ann"}))["message"].clone()')
        assert result_text(outputs) == '"Hello Ann!"'
        outputs = kernel.ok('hello_az(json!({}))["platform"].clone()')
        assert result_text(outputs) == '"Azure Functions"'
        outputs = kernel.ok('hello_az(json!({}))["functionMemory"].clone()')
        assert result_text(outputs) == "2048"
        entries = [json.loads(line) for line in log.read_text().splitlines()]
        assert not [e for e in entries if "violation" in e or "failure" in e], entries
        sites = [
            e for e in entries
            if e.get("method") == "PUT" and "/Microsoft.Web/sites/" in e.get("path", "")
            and "config" not in e["path"]
        ]
        assert sites and sites[-1]["body"]["properties"]["functionAppConfig"][
            "scaleAndConcurrency"
        ]["instanceMemoryMB"] == 2048, sites
        posts = [e for e in entries if e.get("invoke") and e.get("method") == "POST"]
        assert len(posts) == 3 and all(e["status"] == 200 for e in posts), posts
        # The secret and the storage key stay out of the workspace.
        for path in workspace.rglob("*"):
            if path.is_file():
                content = path.read_text(errors="ignore")
                assert credentials["client_secret"] not in content, path
                assert credentials["storage_key"] not in content, path
    finally:
        kernel.close()
        shutil.rmtree(workspace, ignore_errors=True)
