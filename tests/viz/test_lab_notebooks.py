"""Every notebook opened in JupyterLab in a real browser (headless Chromium, Playwright).

For each ``notebooks/NN_*.ipynb`` (globbed when the tests are collected), in the session's
JupyterLab + Chromium (the ``jupyter_lab`` fixture of ``tests/viz/conftest.py``; skips, naming
what is missing, without ``/usr/bin/chromium``, ``playwright`` or ``jupyterlab``): a copy of the
notebook is opened with its own kernelspec, and the test checks that

- every cell is shown and every markdown cell rendered, the title as a heading (``h1``);
- the kernel starts (the server's session for the notebook has a live, idle kernel and the
  toolbar names it) and no dialog opened on the way (no kernel chooser, no error), nor an
  error notification;
- the kernel imports the notebook's modules: the parameters cell, an injected
  ``SMOKE = True`` cell (the papermill convention) and an injected cell holding every import
  statement of the notebook followed by ``import scd_lab`` run from the keyboard
  (Shift+Enter), without a traceback. The notebooks' own cells are not run (their second cell
  may train: ``tests/test_notebooks.py`` executes them all in smoke mode, outside a browser);
- the browser console shows no error and the page raised no uncaught exception.

Notebooks in ``RUN_ALL`` are run top to bottom instead (Run > Run All Cells) in the mode given
there; notebook 02 runs in full mode (under 20 s) because only that mode shows its ipywidgets
plot, which must render as a widget (sliders and the figure).

One screenshot per notebook (``NN_name.png``; ``NN_name_widget.png`` for a widget) is saved
into ``$SCD_LAB_SCREENSHOTS`` (default: the test's tmp folder).
"""
from __future__ import annotations

import ast
import json
import os
import re
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MARK = "imported in the browser's kernel"
# notebooks run top to bottom: name -> SMOKE value (02's widget only shows with SMOKE = False)
RUN_ALL = {"02_losses_from_scratch": False}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600), pytest.mark.xdist_group("browser")]


def _imports(nb) -> list[str]:
    """Every absolute import statement of the notebook's code cells, in order, once each."""
    seen: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics: not ours to judge here
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and not node.level):
                line = ast.unparse(node)
                if line not in seen:
                    seen.append(line)
    return seen


def _copy(src: Path, dest: Path, smoke: bool | None):
    """The notebook as saved, or (``smoke`` not None) with ``SMOKE = <smoke>`` and the
    imports cell injected after its parameters cell. Returns the notebook written, and the
    number of code cells to run from the top (None: all)."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and "parameters" in code[0].metadata.get("tags", []), \
        f"{src.name}: the first code cell must be tagged parameters"
    if smoke is not None:
        at = nb.cells.index(code[0])
        imports = "\n".join(["# injected by the browser test: the notebook's imports"]
                            + _imports(nb) + ["import scd_lab", "",
                                              f'print("scd_lab", scd_lab.__version__, "{MARK}")'])
        nb.cells[at + 1:at + 1] = [
            nbformat.v4.new_code_cell(f"SMOKE = {smoke}", metadata={"tags": ["injected-parameters"]}),
            nbformat.v4.new_code_cell(imports, metadata={"tags": ["injected-imports"]})]
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    nbformat.write(nb, dest)
    return nb


def _plain(text: str) -> str:
    """Markdown or rendered text, for comparing a heading: no markup, no anchor, one space."""
    return " ".join(re.sub(r"[`*_¶#]", " ", text).split())


def _prompts(page) -> list[str]:
    return [t.strip() for t in page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").all_inner_texts()]


def _wait_run(page, n: int | None, timeout: float) -> None:
    """Until the first ``n`` code cells (all: None) show an execution count, or a traceback."""
    end = time.time() + timeout
    while time.time() < end:
        if page.locator(".jp-OutputArea-output:has-text('Traceback')").count():
            return
        done = _prompts(page)[:n]
        if done and all(re.fullmatch(r"\[\d+\]:", p) for p in done):
            return
        time.sleep(0.5)
    raise AssertionError(f"cells still running after {timeout:.0f}s: {_prompts(page)}")


@pytest.mark.parametrize("src", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_opens_in_jupyterlab(src, jupyter_lab, tmp_path):
    from playwright.sync_api import expect

    lab = jupyter_lab
    shots = Path(os.environ.get("SCD_LAB_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    (lab.work / "notebooks").mkdir(exist_ok=True)
    run_all = src.stem in RUN_ALL
    nb = _copy(src, lab.work / "notebooks" / src.name, RUN_ALL[src.stem] if run_all else True)
    t0 = time.time()
    page, console, dialogs = lab.open(f"notebooks/{src.name}")
    opened = time.time() - t0
    try:
        panel = page.locator(".jp-NotebookPanel:visible")
        # renders: every cell (JupyterLab adds them in batches), every markdown cell rendered,
        # the title as the first heading
        expect(panel.locator(".jp-Notebook .jp-Cell")).to_have_count(len(nb.cells), timeout=60_000)
        expect(panel.locator(".jp-MarkdownCell:not(.jp-mod-rendered)")).to_have_count(0)
        title = next(c.source for c in nb.cells  # the first markdown after the launch badges
                     if c.cell_type == "markdown" and "Open In Colab" not in c.source)
        title = title.splitlines()[0]
        assert title.startswith("# "), f"{src.name} does not open with a title"
        h1 = panel.locator(".jp-MarkdownCell .jp-RenderedMarkdown h1").first
        assert _plain(h1.inner_text()) == _plain(title[2:])

        # the kernel: started, idle, named in the toolbar, no dialog on the way
        assert not dialogs, f"JupyterLab asked: {dialogs}"
        sessions = [s for s in lab.api("sessions") if s["path"].endswith(src.name)]
        # alive (JupyterLab's own requests may keep it busy a moment after it was idle)
        assert len(sessions) == 1 and sessions[0]["kernel"]["execution_state"] in ("idle", "busy"), \
            sessions
        kernel = nb.metadata["kernelspec"]
        assert sessions[0]["kernel"]["name"] == kernel["name"]
        assert kernel["display_name"] in panel.locator(".jp-NotebookPanel-toolbar").inner_text()

        checked = time.time() - t0
        # the kernel imports scd_lab (and the notebook's modules), from the keyboard
        if run_all:
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            _wait_run(page, None, timeout=240)
        else:
            panel.locator(".jp-CodeCell .jp-InputPrompt").first.click()
            for _ in range(3):  # parameters, SMOKE = True, imports
                page.keyboard.press("Shift+Enter")
            _wait_run(page, 3, timeout=180)
        ran = time.time() - t0
        errors = panel.locator(".jp-OutputArea-output:has-text('Traceback')")
        if errors.count():
            page.screenshot(path=str(shots / f"{src.stem}.png"))
            raise AssertionError("a cell failed: " + errors.first.inner_text()[:3000])
        if run_all:
            assert all(re.fullmatch(r"\[\d+\]:", p) for p in _prompts(page)), _prompts(page)
        else:
            assert _prompts(page)[:3] == ["[1]:", "[2]:", "[3]:"], _prompts(page)
            assert panel.locator(f".jp-OutputArea-output:has-text(\"{MARK}\")").count() == 1
        page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator"
                               "[data-status='idle']", timeout=60_000)
        # screenshot: the top of the notebook (title, parameters, the cells run)
        panel.locator(".jp-Cell").first.scroll_into_view_if_needed()
        time.sleep(0.5)
        page.screenshot(path=str(shots / f"{src.stem}.png"))
        if run_all and "ipywidgets" in src.read_text():
            widget = panel.locator(".jp-OutputArea-output .widget-interact").first
            widget.wait_for(timeout=60_000)
            assert widget.locator(".widget-slider, .widget-hslider").count() >= 2
            widget.locator("img, canvas, svg").first.wait_for(timeout=60_000)
            widget.scroll_into_view_if_needed()
            time.sleep(0.5)
            page.screenshot(path=str(shots / f"{src.stem}_widget.png"))
        assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").inner_text()
        toasts = page.locator(".Toastify__toast--error").all_inner_texts()
        assert not toasts, f"error notifications: {toasts}"
        assert not console, "browser console errors:\n" + "\n".join(console)
        shot = time.time() - t0
    finally:
        lab.close(page)
        (shots / f"{src.stem}_console.json").write_text(json.dumps(console, indent=1))
    print(f"{src.stem}: kernel idle at {opened:.1f} s, checked {checked:.1f} s, ran {ran:.1f} s, "
          f"screenshots {shot:.1f} s, closed {time.time() - t0:.1f} s")
