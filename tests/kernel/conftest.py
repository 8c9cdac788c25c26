"""Fixtures that start the real `faaset-kernel` through jupyter_client, as Jupyter does.

The kernel under test is the release build of this checkout (`target/release/faaset-kernel`,
or `$FAASET_KERNEL_BIN`), registered in a private Jupyter data folder so the user's own
kernelspecs are neither used nor touched. Each test workspace is a fresh temporary folder.
"""

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
from jupyter_client.manager import KernelManager

REPO = pathlib.Path(__file__).resolve().parents[2]


def kernel_binary() -> pathlib.Path:
    explicit = os.environ.get("FAASET_KERNEL_BIN")
    if explicit:
        return pathlib.Path(explicit)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "release" / "faaset-kernel"
    if not binary.exists():
        pytest.fail(
            f"{binary} does not exist: build it with `cargo build --release --locked -p faaset-kernel` "
            "(./install.sh does) or set FAASET_KERNEL_BIN"
        )
    return binary


@pytest.fixture(scope="session")
def jupyter_path(tmp_path_factory):
    """A Jupyter data folder holding only the `faaset` kernelspec of this build."""
    prefix = tmp_path_factory.mktemp("jupyter")
    subprocess.run(
        [str(kernel_binary()), "--install", "--prefix", str(prefix)], check=True
    )
    return prefix / "share" / "jupyter"


@pytest.fixture(scope="session")
def evcxr_dir(tmp_path_factory):
    """evcxr's build folder, shared by the (sequential) kernels of this test run so the
    session's dependencies compile once."""
    cache = pathlib.Path(
        os.environ.get("FAASET_TEST_EVCXR_DIR", pathlib.Path.home() / ".cache" / "faaset" / "evcxr-tests")
    )
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def free_port():
    """A port nothing listens on now, on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(server):
    """Stops a server started with start_new_session=True and everything in its process
    group (a Jupyter server's kernels)."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def interrupt_when(kernel, ready, deadline=300):
    """Interrupts the kernel once `ready()` holds (polled), not after a fixed time: on a
    loaded host a cell can take longer to start than any timer allows. Returns the thread."""

    def wait_then_interrupt():
        end = time.monotonic() + deadline
        while not ready() and time.monotonic() < end:
            time.sleep(0.05)
        kernel.manager.interrupt_kernel()

    thread = threading.Thread(target=wait_then_interrupt, daemon=True)
    thread.start()
    return thread


def new_workspace() -> pathlib.Path:
    return pathlib.Path(tempfile.mkdtemp(prefix="faaset-kernel-test-"))


class Kernel:
    """A running kernel and a blocking client, with helpers that collect a cell's outputs."""

    def __init__(self, workspace, jupyter_path, evcxr_dir, extra_env=None):
        """`evcxr_dir` None: the kernel takes its build folder from the pool, as in use."""
        self.workspace = workspace
        env = dict(os.environ)
        env["JUPYTER_PATH"] = str(jupyter_path)
        env["FAASET_WORKSPACE"] = str(workspace)
        env.pop("EVCXR_TMPDIR", None)
        if evcxr_dir is not None:
            env["EVCXR_TMPDIR"] = str(evcxr_dir)
        env.update(extra_env or {})
        self.env = env
        self.manager = KernelManager(kernel_name="faaset")
        self.manager.kernel_spec_manager.kernel_dirs = [str(jupyter_path / "kernels")]
        self.manager.start_kernel(env=env, cwd=str(workspace))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def execute(self, code, timeout=300):
        """Runs a cell; returns (reply content, list of iopub messages of this cell)."""
        outputs = []
        reply = self.client.execute_interactive(
            code, output_hook=outputs.append, timeout=timeout, allow_stdin=False
        )
        return reply["content"], outputs

    def ok(self, code, timeout=300):
        reply, outputs = self.execute(code, timeout)
        assert reply["status"] == "ok", f"cell failed: {reply}\n{text(outputs)}"
        return outputs

    def fails(self, code, timeout=300):
        reply, outputs = self.execute(code, timeout)
        assert reply["status"] == "error", f"cell should fail: {text(outputs)}"
        return reply, outputs

    def reply(self, msg_id, timeout=60):
        """The shell reply to `msg_id` (earlier replies, e.g. to wait_for_ready's
        kernel_info requests, are skipped)."""
        while True:
            message = self.client.get_shell_msg(timeout=timeout)
            if message["parent_header"].get("msg_id") == msg_id:
                return message

    def restart(self):
        self.client.stop_channels()
        self.manager.restart_kernel(now=False, env=self.env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def close(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)
        # The local platform's engine outlives kernels by design; stop this workspace's.
        faaset = shutil.which("faaset")
        if faaset:
            subprocess.run(
                [faaset, "--workspace", str(self.workspace), "local", "stop"],
                capture_output=True,
            )


def text(outputs):
    """Everything a cell printed or showed as text, in order."""
    parts = []
    for message in outputs:
        kind = message["msg_type"]
        content = message["content"]
        if kind == "stream":
            parts.append(content["text"])
        elif kind in ("execute_result", "display_data", "update_display_data"):
            parts.append(content["data"].get("text/plain", ""))
        elif kind == "error":
            parts.append(f"{content['ename']}: {content['evalue']}")
    return "\n".join(parts)


def result_text(outputs):
    """The text of the cell's result (`Out[n]`)."""
    results = of_type(outputs, "execute_result")
    assert results, f"no result: {text(outputs)}"
    return results[-1]["data"]["text/plain"]


def of_type(outputs, kind):
    return [m["content"] for m in outputs if m["msg_type"] == kind]


@pytest.fixture(scope="module")
def kernel(jupyter_path, evcxr_dir):
    workspace = new_workspace()
    k = Kernel(workspace, jupyter_path, evcxr_dir)
    yield k
    k.close()
    shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture
def fresh_kernel(jupyter_path, evcxr_dir):
    """A kernel of its own (for tests that restart it)."""
    workspace = new_workspace()
    k = Kernel(workspace, jupyter_path, evcxr_dir)
    yield k
    k.close()
    shutil.rmtree(workspace, ignore_errors=True)
