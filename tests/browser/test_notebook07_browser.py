"""Notebook 07 in a real browser: JupyterLab on 127.0.0.1 driven by Playwright for Python with Debian's chromium.

Opens a copy of the notebook, runs all cells, flips in-place conversion and the source address in the control
panel, and checks that the shown outcome and the ownership figure change; fails on browser console errors beyond
the allowlist below. Runs by default (CI installs chromium through tools/test); set TDXSIM_SKIP_BROWSER=1 to skip
it on a machine without chromium.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "07-source-addr-zero.ipynb"
# Console errors that are not the notebook's fault. Keep this short, and say why each one is harmless.
CONSOLE_ALLOWLIST = [
    re.compile(r"Failed to load resource: .*(404|net::ERR_)"),  # lab probes optional endpoints / no network here
]
TIMEOUT_MS = 120_000
SHOTS = Path(os.environ.get("TDXSIM_SCREENSHOTS", "/tmp"))

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TDXSIM_SKIP_BROWSER")), reason="TDXSIM_SKIP_BROWSER is set (no chromium on this machine)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A JupyterLab server on a free loopback port serving a temporary copy of notebook 07; yields its URL."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium, or set TDXSIM_SKIP_BROWSER=1")
    work = tmp_path_factory.mktemp("lab")
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    settings = work / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port = _free_port()
    env = dict(
        os.environ,
        JUPYTERLAB_SETTINGS_DIR=str(work / ".settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(work / ".workspaces"),
        JUPYTER_CONFIG_DIR=str(work / ".config"),
    )
    log = open(work / "lab.log", "w")  # noqa: SIM115 - closed below, after the server stops
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--allow-root",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={work}",
            "--ServerApp.disable_check_xsrf=True",
        ],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start:\n" + (work / "lab.log").read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_for_kernel(page, quiet: float = 3.0) -> None:
    """Wait until the kernel is idle and no dialog has shown up for `quiet` seconds. While the kernel starts,
    JupyterLab may still ask which kernel to use (a race with the kernelspec list): accept its preselected choice,
    the notebook's own python3."""
    idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    settled = time.monotonic()
    while time.monotonic() - settled < quiet:
        if accept.count() and accept.first.is_visible():
            accept.first.click()
            settled = time.monotonic()
        elif not idle.is_visible():
            settled = time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError("the notebook's kernel never became idle")
        page.wait_for_timeout(200)


def test_notebook07_runs_and_the_panel_reacts(lab: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        try:
            _drive(page, expect, f"{lab}/lab/tree/{NOTEBOOK.name}")
        except Exception:
            page.screenshot(path=str(SHOTS / "nb07-failure.png"))
            raise
        finally:
            browser.close()
    unexpected = [e for e in errors if not any(a.search(e) for a in CONSOLE_ALLOWLIST)]
    assert not unexpected, unexpected


def _drive(page, expect, url: str) -> None:
    """Open notebook 07, run all cells, flip in-place conversion and the source address; check what is shown."""
    page.goto(url)
    _wait_for_kernel(page)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    panel = page.locator(".jp-OutputArea-output").filter(
        has=page.locator(".widget-toggle-buttons", has_text="in-place conversion")
    )
    outcome = panel.locator(".widget-html-content").first
    expect(outcome).to_contain_text("KVM_TDX_INIT_MEM_REGION")
    expect(outcome).to_contain_text("written while shared")  # in place, source 0: the TD got the gmem page
    figure = panel.locator("img").first
    before = figure.get_attribute("src")

    panel.get_by_role("button", name="off", exact=True).click()  # in-place conversion off
    expect(outcome).to_contain_text("-EOPNOTSUPP")  # v8 23/46: !src_page && !gmem_in_place_conversion
    expect(figure).not_to_have_attribute("src", before or "")
    after_toggle = figure.get_attribute("src")

    panel.locator("select").first.select_option(label="a separate buffer")  # source_addr
    expect(outcome).to_contain_text("from the separate buffer")
    expect(outcome).not_to_contain_text("-EOPNOTSUPP")
    expect(figure).not_to_have_attribute("src", after_toggle or "")

    page.locator(".jp-Cell").last.scroll_into_view_if_needed()
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    panel.screenshot(path=str(SHOTS / "nb07-panel.png"))
