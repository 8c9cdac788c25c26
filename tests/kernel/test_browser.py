"""The tutorial as a researcher runs it: JupyterLab on 127.0.0.1 with a token, the notebook
opened in a real browser (Debian's headless Chromium, driven by Playwright), "Run All Cells",
and what the page then shows: no error, the experiment's progress bar, HTML tables and plots.
A screenshot of the whole notebook is kept in target/tutorial-browser.png."""

import json
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from conftest import REPO, free_port, new_workspace, stop_group

# Long enough for the tutorial's deploys and experiments on a busy 2-core machine.
RUN_ALL_TIMEOUT_S = int(os.environ.get("FAASET_BROWSER_TIMEOUT_S", "1200"))


@pytest.fixture
def jupyterlab(jupyter_path, evcxr_dir, tmp_path):
    """JupyterLab serving a fresh workspace holding the tutorial, with settings of its own
    (every cell kept in the page, so all of them can be checked) and a random token; stopped,
    with the kernels it started, when the test ends."""
    workspace = new_workspace()
    shutil.copy(REPO / "notebooks" / "tutorial.ipynb", workspace / "tutorial.ipynb")
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    # No "news" prompt over the notebook (it would also ask the internet).
    apputils = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    token = secrets.token_hex(24)
    port = free_port()
    env = dict(os.environ, JUPYTER_PATH=str(jupyter_path), EVCXR_TMPDIR=str(evcxr_dir))
    env.pop("FAASET_WORKSPACE", None)
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={workspace}",
            f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
            f"--LabApp.workspaces_dir={tmp_path / 'lab-workspaces'}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        cwd=workspace,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "jupyterlab.log", "w"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(tmp_path / 'jupyterlab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield base, token, workspace
    finally:
        stop_group(server)
        faaset = shutil.which("faaset")
        if faaset:
            subprocess.run([faaset, "--workspace", str(workspace), "local", "stop"], capture_output=True)
        shutil.rmtree(workspace, ignore_errors=True)


def prompts(page):
    return [p.strip() for p in page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]


def run_all(page):
    """Run → Run All Cells; once more if no cell started within a minute (a click that
    landed while the page was still settling)."""
    for _ in range(3):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        started = time.monotonic()
        while time.monotonic() - started < 60:
            if any(p not in ("[ ]:", "") for p in prompts(page)):
                return
            time.sleep(1)
    pytest.fail(f"Run All Cells started no cell: {prompts(page)}")


def test_the_tutorial_runs_in_jupyterlab_in_a_real_browser(jupyterlab):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if not chromium:
        pytest.fail("no chromium on PATH: run ./install.sh (it installs Debian's chromium)")
    base, token, workspace = jupyterlab
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    target.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        # As root (CI) Chromium needs --no-sandbox; it only opens the loopback server.
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/tutorial.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
            # The kernel is up when the status bar says so.
            page.get_by_text("Rust (FaaSET) | Idle").wait_for(timeout=180_000)
            run_all(page)
            deadline = time.monotonic() + RUN_ALL_TIMEOUT_S
            while True:
                shown = prompts(page)
                done = [p for p in shown if p.strip("[]:").strip().isdigit()]
                if shown and len(done) == len(shown):
                    break
                if time.monotonic() > deadline:
                    page.screenshot(path=str(target / "tutorial-browser-stuck.png"))
                    pytest.fail(f"cells still running after {RUN_ALL_TIMEOUT_S} s (page in target/tutorial-browser-stuck.png): {shown}")
                time.sleep(2)
            page.keyboard.press("Control+s")
            saved_by = time.monotonic() + 60
            while not all_cells_saved_run(workspace / "tutorial.ipynb") and time.monotonic() < saved_by:
                time.sleep(0.5)
            page.screenshot(path=str(target / "tutorial-browser.png"), full_page=True)
            html_tables = page.locator(".jp-OutputArea-output table").count()
            images = page.locator(".jp-OutputArea-output img, .jp-OutputArea-output svg").count()
            bars = page.locator(".jp-OutputArea-output .faaset-progress progress")
            bar_shown = bars.count() > 0 and bars.first.is_visible()
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
        finally:
            browser.close()

    assert bar_shown, "no experiment progress bar on the page"
    assert html_tables >= 1, "no HTML table on the page"
    assert images >= 1, "no plot on the page"
    # The notebook as the browser saved it: error outputs are exact there.
    notebook = nbformat.read(workspace / "tutorial.ipynb", as_version=4)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    failed = [(o.ename, o.evalue) for o in outputs if o.output_type == "error"]
    assert not failed, f"error outputs: {failed}; stderr on the page: {errors}"
    assert all_cells_saved_run(workspace / "tutorial.ipynb"), "a code cell did not run (or the save did not reach the disk)"


def all_cells_saved_run(path):
    """Whether the notebook on disk has every code cell run (the browser's save is done)."""
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - a file being written is not yet readable
        return False
    return all(cell.execution_count for cell in notebook.cells if cell.cell_type == "code")
