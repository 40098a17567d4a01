"""Notebook 05 in a real browser: JupyterLab + headless Chromium (Playwright for Python).

Installs nothing: skips, naming what is missing, without ``/usr/bin/chromium`` (Debian:
``apt-get install chromium``) or the ``playwright`` package (``pip install playwright``; its
own browser download is not used). It starts JupyterLab on 127.0.0.1 (a free port, a token,
temporary settings / runtime / workspace folders), opens a copy of notebook 05 with
``SMOKE = True`` (two tiny runs trained in the kernel, about a minute), runs all cells, moves
the epoch slider, the image picker and a map picker, checks that the overlay's pixels changed
each time and that the browser console shows no errors, saves screenshots into
``$SCD_LAB_SCREENSHOTS`` (default: the test's tmp folder), and stops every process it started.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
NB_PY = REPO / "notebooks" / "05_saliency_explorer.py"
NB_IPYNB = REPO / "notebooks" / "05_saliency_explorer.ipynb"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _require():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: the browser test needs Debian's chromium "
                    "(apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("the playwright package is missing (pip install playwright; no "
                    "`playwright install` needed: it drives /usr/bin/chromium)")
    if importlib.util.find_spec("jupyterlab") is None:
        pytest.skip("jupyterlab is missing (pip install -e .[dev])")


def _notebook(dest: Path) -> Path:
    """The .ipynb of notebook 05 (the paired one, else converted with jupytext), with
    ``SMOKE = True`` in its parameters cell."""
    import nbformat

    if NB_IPYNB.is_file():
        nb = nbformat.read(NB_IPYNB, as_version=4)
    elif importlib.util.find_spec("jupytext") is not None:
        import jupytext
        nb = jupytext.read(NB_PY)
    else:
        pytest.skip(f"{NB_IPYNB.name} is not paired yet and jupytext is missing "
                    "(pip install jupytext)")
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "SMOKE = False" in params.source
    params.source = params.source.replace("SMOKE = False", "SMOKE = True")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    nbformat.write(nb, dest)
    return dest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError(f"JupyterLab exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"JupyterLab did not answer in {timeout}s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (the server and the kernels it started), then
    SIGKILL what is left after 20 s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # kernels left in the group
    except ProcessLookupError:
        pass
    proc.wait(10)


def _changed(el, before: bytes, timeout: float = 20.0) -> bytes:
    end = time.time() + timeout
    shot = el.screenshot()
    while shot == before and time.time() < end:
        time.sleep(0.25)
        shot = el.screenshot()
    return shot


def test_notebook_05_in_jupyterlab(tmp_path):
    _require()
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("SCD_LAB_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    work = tmp_path / "work"
    work.mkdir()
    nb = _notebook(work / "05_saliency_explorer.ipynb")
    env = dict(os.environ)
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
        env[var] = str(tmp_path / sub)
        (tmp_path / sub).mkdir()
    # render every cell (JupyterLab 4 detaches off-screen cells by default)
    tracker = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env["SCD_LAB_RUNS"] = os.environ.get("SCD_LAB_BROWSER_RUNS") or str(tmp_path / "runs")
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    port, token = _free_port(), "scd-lab-browser-test"
    log = tmp_path / "jupyterlab.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         "--ServerApp.open_browser=False", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        cwd=work, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    console: list[str] = []
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/api/status?token={token}", proc, log)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS,
                                         headless=True)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1100})
                page.on("console", lambda m: console.append(f"{m.type}: {m.text}")
                        if m.type == "error" else None)
                page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
                page.goto(f"{base}/lab/tree/{nb.name}?token={token}&reset")
                page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
                try:  # the kernel chooser, when JupyterLab asks: accept Python 3
                    page.wait_for_selector(".jp-Dialog .jp-mod-accept", timeout=20_000)
                    page.click(".jp-Dialog .jp-mod-accept")
                except Exception:  # noqa: BLE001  (no dialog: the kernel started by itself)
                    pass
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                       timeout=120_000)
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                # the summary cell prints "AUROC ... -> ..." once everything above ran; a
                # traceback ends the wait early
                try:
                    page.wait_for_selector(".jp-OutputArea-output:has-text('->'), "
                                           ".jp-OutputArea-output:has-text('Traceback')",
                                           timeout=480_000)
                finally:
                    page.screenshot(path=str(shots / "nb05_after_run_all.png"), full_page=True)
                errors = page.query_selector_all(".jp-OutputArea-output:has-text('Traceback')")
                assert not errors, "a cell failed: " + errors[0].inner_text()[:3000]
                page.wait_for_selector(".scd-explorer .scd-overlay", timeout=60_000)
                explorer = page.query_selector(".scd-explorer")
                explorer.scroll_into_view_if_needed()
                time.sleep(1.0)
                page.screenshot(path=str(shots / "nb05_page.png"), full_page=False)
                explorer.screenshot(path=str(shots / "nb05_explorer_last_epoch.png"))
                overlay = page.query_selector_all(".scd-explorer img.scd-overlay")[0]
                s0 = overlay.screenshot()

                # epoch slider: click the start of its track (epoch 0)
                track = page.query_selector(".scd-epoch .noUi-base, .scd-epoch .slider")
                track.scroll_into_view_if_needed()
                box = track.bounding_box()
                page.mouse.click(box["x"] + 2, box["y"] + box["height"] / 2)
                s1 = _changed(overlay, s0, timeout=5)
                if s1 == s0:  # the click missed: use the keyboard on the slider's handle
                    page.focus(".scd-epoch .noUi-handle")
                    page.keyboard.press("Home")
                    s1 = _changed(overlay, s0)
                assert s1 != s0, "the overlay did not change when the epoch slider moved"
                explorer.screenshot(path=str(shots / "nb05_explorer_epoch0.png"))

                # image picker
                page.select_option(".scd-image-picker select", index=3)
                s2 = _changed(overlay, s1)
                assert s2 != s1, "the overlay did not change with the image picker"

                # map picker of the first run
                picker = page.query_selector_all(".scd-map-picker select")[0]
                options = [o.inner_text() for o in picker.query_selector_all("option")]
                other = next(o for o in options if o != picker.input_value())
                picker.select_option(label=other)
                s3 = _changed(overlay, s2)
                assert s3 != s2, f"the overlay did not change when the map became {other}"
                explorer.screenshot(path=str(shots / "nb05_explorer_map_image3.png"))
                caption = explorer.inner_text()
                assert other in caption and "epoch 0" in caption
                (shots / "overlay_before.png").write_bytes(s0)
                (shots / "overlay_after.png").write_bytes(s3)
                assert not console, "browser console errors:\n" + "\n".join(console)
            finally:
                browser.close()
    finally:
        _stop(proc)
        (shots / "console.json").write_text(json.dumps(console, indent=1))
    assert proc.poll() is not None
