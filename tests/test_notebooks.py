"""Every notebook: its .ipynb in sync with its jupytext source, free of outputs and of jupytext
pairing, a first code cell tagged ``parameters``, a run top to bottom in smoke mode (every check
cell passes on the solutions); the sync check ignores hidden folders (JupyterLab's
checkpoints). The course's grading is tested in tests/studies/test_course*.py."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest
from testenv import CHILD_THREADS, SHARED_CACHE

from scd_lab.studies.course.build import student_code

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("notebooks_tool", REPO / "scripts" / "notebooks.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)
_spec = importlib.util.spec_from_file_location("website_tool", REPO / "scripts" / "website.py")
website = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(website)

# figures as PNG outputs (headless, no GUI): the docs site shows the executions the test caches
INLINE = "module://matplotlib_inline.backend_inline"
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_pairs_are_in_sync():
    assert tool.stale() == [], "run `python scripts/notebooks.py sync`"
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in tool.sources()]


def test_the_sync_check_ignores_hidden_folders():
    checkpoints = REPO / "notebooks" / ".ipynb_checkpoints"
    made = not checkpoints.exists()
    checkpoints.mkdir(exist_ok=True)
    stray = checkpoints / "00_primer-checkpoint.ipynb"  # what JupyterLab writes on opening
    stray.write_text("{}")
    try:
        assert tool.stale() == []
    finally:
        stray.unlink()
        if made:
            checkpoints.rmdir()


def test_student_copy_replaces_only_the_solutions():
    text = "a = 1\n    ### BEGIN SOLUTION\n    x = 2\n    ### END SOLUTION\nprint(a)\n"
    assert student_code(text) == \
        'a = 1\n    raise NotImplementedError("your code here")\nprint(a)\n'


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_outputs_no_pairing_and_a_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert "jupytext" not in nb.metadata  # saving it in JupyterLab writes no .py
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs"
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", []), "first code cell must be tagged"
    assert "SMOKE = False" in first.source  # people get the full notebook


def execute(path: Path, tmp_path: Path, allow_errors: bool = False):
    """Run a notebook as CI does: ``SMOKE = True`` injected after the parameters cell (the
    papermill convention), runs in a temporary folder, datasets in the session's shared cache,
    one thread in the kernel."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell("SMOKE = True", metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(at + 1, injected)
    env = {"MPLBACKEND": INLINE, "SCD_LAB_RUNS": str(tmp_path / "runs"),
           "SCD_LAB_CACHE": os.environ.get("SCD_LAB_CACHE", SHARED_CACHE),
           "OMP_NUM_THREADS": CHILD_THREADS}  # the kernel: one thread, as the test process
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=allow_errors,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb


@pytest.mark.slow  # a kernel per notebook: CI runs them (the full suite), the fast suite does not
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_in_smoke_mode(path, tmp_path):
    nb = execute(path, tmp_path)
    # kept for the docs site (scripts/website.py): a build after the suite executes nothing
    website.store(path.with_suffix(".py").read_text(), "smoke", nb,
                  root=os.environ.get("SCD_LAB_CACHE", SHARED_CACHE))
