"""Hand-made run directories (no training): probe, snapshots, saliency metrics; and one
JupyterLab server + headless Chromium shared by the browser tests (``jupyter_lab``)."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from testenv import CHILD_THREADS, SHARED_CACHE
import torch

from scd_lab.config import apply_overrides, get_preset
from scd_lab.rundir import RunDir

BADGE_HOSTS = re.compile(r"https://(colab\.research\.google\.com|mybinder\.org)/.*")


def write_run(path, method="scd-byol", maps=("scd_fg", "channel_sum"), epochs=3, n=4,
              size=16, masks=True, seed=0, aurocs=None, finished=True, config=True,
              features=False):
    """A run dir with ``epochs + 1`` snapshots (epoch 0..epochs, 2 steps per epoch) whose
    maps are ``(epoch + 1) * 10 + image`` + a ramp, and saliency records with AUROC
    ``aurocs[map][k]`` (default 0.6); ``features``: snapshots hold an embedding (n, 8) in
    which images of one class (``image % 2``) draw together over the epochs."""
    rd = RunDir(path)
    rd.path.mkdir(parents=True, exist_ok=True)
    if config:
        rd.write_config(apply_overrides(get_preset("cpu"), [f"method.name={method}"]))
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    m = torch.zeros(n, size, size, dtype=torch.uint8)
    m[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
    rd.save_probe(images, torch.arange(n) % 2, m if masks else None, ["cat", "dog"])
    rd.snapshot_dir.mkdir(exist_ok=True)
    ramp = torch.linspace(0, 1, 4)[None, :, None].expand(n, 4, 4)
    for e in range(epochs + 1):
        step = 2 * e
        feats = None
        if features:
            centre = torch.eye(8)[torch.arange(n) % 2]  # (n, 8): one direction per class
            feats = e * centre + torch.randn(n, 8, generator=g)
        rd.save_snapshot(step, e, {name: (e + 1) * 10 + k * 100 + torch.arange(n)[:, None, None]
                                   + ramp for k, name in enumerate(maps)}, features=feats)
        rec = {"kind": "saliency", "step": step, "epoch": float(e)}
        if masks:
            for name in maps:
                auc = (aurocs or {}).get(name, [0.6] * (epochs + 1))[e]
                rec.update({f"{name}/auroc": auc, f"{name}/best_iou": 0.3 + 0.01 * e,
                            f"{name}/polarity": 1 if auc >= 0.5 else -1})
            rd.log(rec)
        rd.log({"kind": "train", "step": step, "epoch": float(e), "loss": 1.0 / (e + 1),
                "lr": 0.1, "collapsed": False})
    if finished:
        rd.write_summary({"ok": True})
    return rd.path


@pytest.fixture
def make_run(tmp_path):
    def make(name, **kw):
        return write_run(tmp_path / name, **kw)
    return make


# --- JupyterLab in a real browser -------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
LAB_TOKEN = "scd-lab-browser-test"


def _require_browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("the playwright package is missing (pip install playwright; no "
                    "`playwright install` needed: it drives /usr/bin/chromium)")
    if importlib.util.find_spec("jupyterlab") is None:
        pytest.skip("jupyterlab is missing (pip install -e .[dev])")


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


class Lab:
    """A running JupyterLab (``base``, ``token``, root folder ``work``) and a Chromium
    (``browser``). ``open`` gives a fresh page on a notebook with its kernel idle; ``close``
    closes the page and shuts the server's kernels down."""

    def __init__(self, base: str, work: Path, browser, log: Path):
        self.base, self.token, self.work, self.browser, self.log = base, LAB_TOKEN, work, browser, log

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def open(self, rel: str, viewport=(1500, 1100), timeout_ms: int = 120_000):
        """Open ``work/rel`` in a new browser context; returns ``(page, console, dialogs)``:
        the page once the notebook's cells are shown and its kernel is idle, the browser
        console's errors (and uncaught page errors) as they come, and the text of every
        dialog JupyterLab showed on the way (a kernel chooser is accepted and recorded)."""
        context = self.browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        # the launch badges' images live on Colab's and Binder's hosts, which this machine
        # cannot reach: answered with a blank SVG, so any other failed request still shows
        context.route(BADGE_HOSTS, lambda route: route.fulfill(
            status=200, content_type="image/svg+xml",
            body="<svg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/>"))
        page = context.new_page()
        console: list[str] = []
        dialogs: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text} ({m.location.get('url', '')})")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        page.goto(f"{self.base}/lab/tree/{rel}?token={self.token}&reset")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout_ms)
        # the kernel: the server's session for the notebook, its kernel idle (the toolbar's
        # execution indicator reads idle before any kernel is there)
        end = time.time() + timeout_ms / 1000
        while True:
            if page.query_selector(".jp-Dialog"):  # the kernel chooser, when JupyterLab asks
                dialogs.append(page.inner_text(".jp-Dialog"))
                if page.query_selector(".jp-Dialog .jp-mod-accept"):
                    page.click(".jp-Dialog .jp-mod-accept")
            if any(s["path"] == rel and s["kernel"]["execution_state"] == "idle"
                   for s in self.api("sessions")):
                break
            if time.time() > end:
                raise AssertionError(f"no idle kernel for {rel} after {timeout_ms / 1000:.0f} s: "
                                     f"{self.api('sessions')}")
            page.wait_for_timeout(250)
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator"
                               "[data-status='idle']", timeout=timeout_ms)
        return page, console, dialogs

    def close(self, page) -> None:
        page.context.close()
        for s in self.api("sessions"):
            self.api(f"sessions/{s['id']}", method="DELETE")


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory):
    """One JupyterLab on 127.0.0.1 (a free port, a token, temporary settings / runtime /
    workspace folders, every cell rendered) and one headless ``/usr/bin/chromium`` driven by
    Playwright, for the whole session; skips, naming what is missing, without them. Runs the
    kernels train go to ``$SCD_LAB_BROWSER_RUNS`` (default: a temporary folder). Every process
    it started is stopped at the end."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    root = tmp_path_factory.mktemp("jupyterlab")
    work = root / "work"
    work.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS=CHILD_THREADS,  # the kernels: one thread each
               SCD_LAB_CACHE=os.environ.get("SCD_LAB_CACHE", SHARED_CACHE))
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
        env[var] = str(root / sub)
        (root / sub).mkdir()
    # render every cell (JupyterLab 4 detaches off-screen cells by default)
    tracker = root / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    # no "get notified about Jupyter news?" toast over the screenshots, no update check
    notes = root / "settings" / "@jupyterlab" / "apputils-extension"
    notes.mkdir(parents=True)
    (notes / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env["SCD_LAB_RUNS"] = os.environ.get("SCD_LAB_BROWSER_RUNS") or str(root / "runs")
    env["IPYTHONDIR"] = str(root / "ipython")
    port = _free_port()
    log = root / "jupyterlab.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={LAB_TOKEN}", f"--ServerApp.root_dir={work}",
         "--ServerApp.open_browser=False", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        cwd=work, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    pw = None
    try:
        _wait_http(f"{base}/api/status?token={LAB_TOKEN}", proc, log)
        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS,
                                     headless=True)
        try:
            yield Lab(base, work, browser, log)
        finally:
            browser.close()
    finally:
        if pw is not None:
            pw.stop()
        _stop(proc)
    assert proc.poll() is not None
