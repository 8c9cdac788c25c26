"""Colab's local runtime as the README sets it up: a Jupyter server started with the README's
own command line (only the port changed, to a free one) lets a page from
https://colab.research.google.com start the `faaset` kernel and run a cell over the kernel
websocket, and refuses a page from any other origin. (Colab itself cannot be reached from
here: this checks the server side of that connection.)

Jupyter's model, which this checks: a request carrying the token is the user's own, whatever
its origin; what origins guard is the browser's login cookie. So a page of another origin
neither reads API answers (no CORS header for it) nor opens a kernel websocket with the
cookie, while Colab's page does both."""

import http.cookiejar
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from tornado import httpclient, ioloop, websocket

from conftest import REPO, free_port, new_workspace, stop_group

COLAB = "https://colab.research.google.com"


def readme_command():
    """The Colab command of the README, as a list of arguments."""
    readme = (REPO / "README.md").read_text()
    found = re.search(r"`(~/\.local/share/faaset/venv/bin/jupyter server[^`]*)`", readme)
    assert found, "the README no longer gives the Colab command (a `jupyter server ...` span)"
    return shlex.split(found.group(1).replace("\n", " "))


@pytest.fixture
def colab_server(jupyter_path, evcxr_dir, tmp_path):
    command = readme_command()
    assert "--ServerApp.allow_origin=https://colab.research.google.com" in command, command
    port = free_port()
    arguments = [re.sub(r"^--port=\d+$", f"--port={port}", a) for a in command[1:]]
    assert f"--port={port}" in arguments, command
    # `jupyter` of the venv running the tests: the same one install.sh made.
    jupyter = pathlib.Path(sys.executable).parent / "jupyter"
    workspace = new_workspace()
    log = tmp_path / "server.log"
    env = dict(os.environ, JUPYTER_PATH=str(jupyter_path), EVCXR_TMPDIR=str(evcxr_dir))
    env.pop("FAASET_WORKSPACE", None)
    server = subprocess.Popen(
        # Jupyter refuses root without --allow-root (CI runs as root; a user does not).
        [str(jupyter), *arguments, "--no-browser", *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=workspace,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),
        start_new_session=True,
    )
    try:
        # The URL with the token the user would paste into Colab.
        deadline = time.monotonic() + 300
        while not (found := re.search(rf"http://(?:localhost|127\.0\.0\.1):{port}/\S*token=(\w+)", log.read_text())):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not print its URL: {log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield f"127.0.0.1:{port}", found.group(1), workspace
    finally:
        stop_group(server)
        shutil.rmtree(workspace, ignore_errors=True)


def api(address, token, path, origin, method="GET", body=None):
    headers = {"Origin": origin, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"token {token}"
    request = urllib.request.Request(
        f"http://{address}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, dict(response.headers), json.loads(response.read() or b"null")


def login_cookie(address, token):
    """The cookie a browser gets by opening the URL with the token, as a Cookie header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"http://{address}/lab?token={token}", timeout=30).read()
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    assert "username-" in cookies, f"no login cookie: {cookies}"
    return cookies


def execute_over_websocket(address, kernel_id, origin, code, token=None, cookie=None):
    """Opens the kernel's channels as a browser page of `origin` would (with the token in the
    URL, or only the login cookie) and runs `code`; returns the iopub messages of that
    request up to idle."""

    async def run():
        headers = {"Origin": origin}
        if cookie:
            headers["Cookie"] = cookie
        query = f"?token={token}" if token else ""
        request = httpclient.HTTPRequest(
            f"ws://{address}/api/kernels/{kernel_id}/channels{query}",
            headers=headers,
            request_timeout=30,
        )
        connection = await websocket.websocket_connect(request)
        msg_id = uuid.uuid4().hex
        await connection.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "colab",
                       "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        seen = []
        while True:
            raw = await connection.read_message()
            assert raw is not None, f"the websocket closed: {seen}"
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            seen.append(message)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                connection.close()
                return seen

    return ioloop.IOLoop.current().run_sync(run, timeout=600)


def result(messages):
    results = [m for m in messages if m["msg_type"] == "execute_result"]
    assert results, messages
    return results[-1]["content"]["data"]["text/plain"]


def test_colab_origin_runs_a_cell_and_other_origins_are_refused(colab_server):
    address, token, _ = colab_server
    other = "https://example.com"
    # Colab starts the kernel with the token the user pasted, and may read the answer.
    status, headers, kernel = api(address, token, "/api/kernels", COLAB, "POST", {"name": "faaset"})
    assert status == 201, kernel
    assert headers.get("Access-Control-Allow-Origin") == COLAB, headers
    assert result(execute_over_websocket(address, kernel["id"], COLAB, "6 * 7", token=token)) == "42"
    # Another origin's page is not let read API answers (the answer names Colab's origin
    # only, so that page's browser withholds it) ...
    _, headers, _ = api(address, token, "/api/kernels", other)
    assert headers.get("Access-Control-Allow-Origin") == COLAB, headers
    # ... and without the token gets nothing: the API refuses it ...
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(address, None, "/api/kernels", other)
    assert refused.value.code in (403, 404), refused.value
    # ... even riding on the user's login cookie, where Colab's origin is let in.
    cookie = login_cookie(address, token)
    assert result(execute_over_websocket(address, kernel["id"], COLAB, "7 * 6", cookie=cookie)) == "42"
    with pytest.raises(httpclient.HTTPClientError) as closed:
        execute_over_websocket(address, kernel["id"], other, "1", cookie=cookie)
    assert closed.value.code == 403, closed.value
    api(address, token, f"/api/kernels/{kernel['id']}", COLAB, "DELETE")
