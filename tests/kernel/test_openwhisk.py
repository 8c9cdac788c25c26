"""`%%cloud_function openwhisk` in the notebook, against the contract-test control plane of
faaset-core's OpenWhisk tests (real HTTP on loopback, Basic auth checked, every request
validated against the controller's Swagger file, the real `exec` run under ActionLoop)."""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

from conftest import Kernel, REPO, new_workspace, of_type, result_text, text

AUTH = "0c4f3e1a-7b2d-4e59-9a61-faa5e7c0ffee:kQ7vX2mN9pL4sR8tW1yZ6bC3dF5gH0jK2lM4nP6qS8uV0wX3zA5cE7"
TESTS = REPO / "faaset-core" / "tests"


@pytest.fixture
def control_plane():
    """The control plane on a free port, in a process group of its own (the actions it runs
    are in it too), stopped with everything it started when the test ends."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="faaset-ow-plane-"))
    log = folder / "requests.jsonl"
    plane = subprocess.Popen(
        [
            sys.executable,
            str(TESTS / "cli" / "openwhisk_control_plane.py"),
            str(TESTS / "specs" / "openwhisk-apiv1swagger.json"),
            str(log),
            "60000",
        ],
        env={**os.environ, "OW_CONTRACT_AUTH": AUTH, "OW_CONTRACT_TLS": "0"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = plane.stdout.readline().strip()
        assert line.startswith("listening "), f"the control plane did not start: {line!r}"
        props = folder / "wskprops"
        props.write_text(f"APIHOST=http://127.0.0.1:{line.split()[1]}\nAUTH={AUTH}\n")
        yield props, log
    finally:
        os.killpg(plane.pid, signal.SIGKILL)
        plane.wait()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_cell_deploys_to_openwhisk_and_a_rust_cell_calls_it(
    control_plane, jupyter_path, evcxr_dir, monkeypatch
):
    props, log = control_plane
    # The kernel reads the key where the `wsk` CLI would: the file WSK_CONFIG_FILE names.
    monkeypatch.setenv("WSK_CONFIG_FILE", str(props))
    workspace = new_workspace()
    kernel = Kernel(workspace, jupyter_path, evcxr_dir)
    try:
        outputs = kernel.ok(
            '%%cloud_function openwhisk {"memory": 256}\n'
            "fn hello_ow(request: Value, _context: Context) -> Value {\n"
            "    let mut inspector = Inspector::new();\n"
            "    inspector.inspect_platform();\n"
            '    let name = request["name"].as_str().unwrap_or("nobody").to_string();\n'
            '    inspector.add_attribute("message", format!("Hello {name}!"));\n'
            "    inspector.finish()\n"
            "}\n",
            timeout=900,
        )
        assert "published" in text(outputs), text(outputs)
        outputs = kernel.ok('hello_ow(json!({"name": "Ann"}))["message"].clone()')
        assert result_text(outputs) == '"Hello Ann!"'
        outputs = kernel.ok('hello_ow(json!({}))["platform"].clone()')
        assert result_text(outputs) == '"OpenWhisk"'
        requests = [json.loads(line) for line in log.read_text().splitlines()]
        methods = {
            (r["method"], r["path"].rsplit("/", 1)[-1]) for r in requests if "method" in r
        }
        assert ("PUT", "hello_ow") in methods and ("POST", "hello_ow") in methods, methods
        # The key stays out of the workspace.
        for path in workspace.rglob("*"):
            if path.is_file():
                assert AUTH.split(":")[1] not in path.read_text(errors="ignore"), path
    finally:
        kernel.close()
        shutil.rmtree(workspace, ignore_errors=True)
