"""`%%cloud_function google` in the notebook, against the loopback parts of faaset-core's
Google tests: Debian's `docker-registry` receives the pushed image, and the contract-test
control plane (token endpoint with google-auth, every request validated against the
discovery documents of google-api-python-client) pulls it with skopeo, unpacks it with umoci
and runs its `/bootstrap` under Cloud Run's container contract."""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import googleapiclient
import pytest

from conftest import Kernel, REPO, free_port, new_workspace, of_type, result_text, text

TESTS = REPO / "faaset-core" / "tests"
DOCUMENTS = pathlib.Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"


@pytest.fixture
def google_loopback():
    """The registry and the control plane on free ports, each in a process group of its own
    (the plane's instances are in its group), both stopped when the test ends."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="faaset-google-"))
    port = free_port()
    config = folder / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'storage'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    with open(folder / "registry.log", "w") as registry_log:
        registry = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=registry_log,
            stderr=registry_log,
            start_new_session=True,
        )
    log, key = folder / "requests.jsonl", folder / "key.json"
    plane = subprocess.Popen(
        [
            sys.executable,
            str(TESTS / "cli" / "google_control_plane.py"),
            str(DOCUMENTS / "run.v2.json"),
            str(DOCUMENTS / "artifactregistry.v1.json"),
            str(log),
            str(key),
            f"127.0.0.1:{port}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, (folder / "registry.log").read_text()
                time.sleep(0.05)
        line = plane.stdout.readline().strip()
        assert line.startswith("listening "), f"the control plane did not start: {line!r}"
        endpoint = f"http://127.0.0.1:{line.split()[1]}"
        env = {
            "GOOGLE_APPLICATION_CREDENTIALS": str(key),
            "FAASET_GOOGLE_RUN_ENDPOINT": endpoint,
            "FAASET_GOOGLE_ARTIFACT_ENDPOINT": endpoint,
            "FAASET_GOOGLE_REGISTRY": f"http://127.0.0.1:{port}",
        }
        yield env, log, key
    finally:
        # Closing stdin lets the plane stop its instances (SIGTERM); the group kill is the
        # backstop.
        plane.stdin.close()
        try:
            plane.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        for process in (plane, registry):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_cell_deploys_to_google_and_a_rust_cell_calls_it(
    google_loopback, jupyter_path, evcxr_dir, monkeypatch
):
    env, log, key = google_loopback
    # The kernel finds credentials and endpoints where the CLI does: the environment.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    workspace = new_workspace()
    kernel = Kernel(workspace, jupyter_path, evcxr_dir)
    try:
        outputs = kernel.ok(
            '%%cloud_function google {"memory": 1024, "project": "contract-test"}\n'
            "fn hello_gc(request: Value, _context: Context) -> Value {\n"
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
        assert "Cloud Run service hello-gc" in shown and "pushed image sha256:" in shown, shown
        outputs = kernel.ok('hello_gc(json!({"name": "Ann"}))["message"].clone()')
        assert result_text(outputs) == '"Hello Ann!"'
        outputs = kernel.ok('hello_gc(json!({}))["platform"].clone()')
        assert result_text(outputs) == '"Google Cloud Run"'
        outputs = kernel.ok('hello_gc(json!({}))["functionMemory"].clone()')
        assert result_text(outputs) == "1024"
        entries = [json.loads(line) for line in log.read_text().splitlines()]
        assert not [e for e in entries if "violation" in e or "failure" in e], entries
        patches = [e for e in entries if e.get("method") == "PATCH"]
        assert patches and patches[-1]["body"]["template"]["containers"][0]["resources"][
            "limits"
        ] == {"memory": "1024Mi", "cpu": "583m"}, patches
        assert any(e.get("invoke") == patches[-1]["path"][len("/v2/"):] for e in entries), entries
        # The key stays out of the workspace.
        secret_line = json.loads(key.read_text())["private_key"].splitlines()[2]
        for path in workspace.rglob("*"):
            if path.is_file():
                assert secret_line not in path.read_text(errors="ignore"), path
    finally:
        kernel.close()
        shutil.rmtree(workspace, ignore_errors=True)
