"""Notebook 05 in a real browser: JupyterLab + headless Chromium (Playwright for Python).

Installs nothing: skips, naming what is missing, without ``/usr/bin/chromium`` (Debian:
``apt-get install chromium``) or the ``playwright`` package (``pip install playwright``; its
own browser download is not used). In the session's JupyterLab on 127.0.0.1 and Chromium
(the ``jupyter_lab`` fixture of ``tests/viz/conftest.py``, shared with
``test_lab_notebooks.py``: a free port, a token, temporary settings / runtime / workspace
folders, every process stopped at the end) it opens a copy of notebook 05 with
``SMOKE = True`` (two tiny runs trained in the kernel, about a minute), runs all cells, moves
the epoch slider, the image picker and a map picker, checks that the overlay's pixels changed
each time and that the browser console shows no errors, and saves screenshots into
``$SCD_LAB_SCREENSHOTS`` (default: the test's tmp folder).
"""
from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NB_PY = REPO / "notebooks" / "05_saliency_explorer.py"
NB_IPYNB = REPO / "notebooks" / "05_saliency_explorer.ipynb"

# one worker runs both browser tests, so JupyterLab starts once (pytest-xdist --dist loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.xdist_group("browser")]


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


def _changed(el, before: bytes, timeout: float = 20.0) -> bytes:
    end = time.time() + timeout
    shot = el.screenshot()
    while shot == before and time.time() < end:
        time.sleep(0.25)
        shot = el.screenshot()
    return shot


def test_notebook_05_in_jupyterlab(jupyter_lab, tmp_path):
    lab = jupyter_lab
    shots = Path(os.environ.get("SCD_LAB_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    work = lab.work / "browser"
    work.mkdir(exist_ok=True)
    nb = _notebook(work / "05_saliency_explorer.ipynb")
    page, console, _ = lab.open(f"browser/{nb.name}")
    try:
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

        # image picker: another image than the one the explorer opened on (its clearest)
        shown = page.eval_on_selector(".scd-image-picker select", "s => s.selectedIndex")
        page.select_option(".scd-image-picker select", index=3 if shown != 3 else 4)
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
        lab.close(page)
        (shots / "console.json").write_text(json.dumps(console, indent=1))
