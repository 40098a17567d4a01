"""Every notebook: its .ipynb in sync with its jupytext source and free of outputs, a first code
cell tagged ``parameters``, a run top to bottom in smoke mode; every exercise's self-check fails
on the students' stub and passes on the solution."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest
from testenv import CHILD_THREADS, SHARED_CACHE

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
EXERCISES = sorted((REPO / "notebooks" / "exercises").glob("*.ipynb"))


def test_pairs_and_exercise_copies_are_in_sync():
    assert tool.stale() == [], "run `python scripts/notebooks.py sync`"
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in tool.sources()]


def test_student_copy_replaces_only_the_solutions():
    text = "a = 1\n    ### BEGIN SOLUTION\n    x = 2\n    ### END SOLUTION\nprint(a)\n"
    assert tool.student_copy(text) == \
        'a = 1\n    raise NotImplementedError("your code here")\nprint(a)\n'


@pytest.mark.parametrize("path", NOTEBOOKS + EXERCISES, ids=lambda p: p.name)
def test_no_outputs_and_a_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
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


@pytest.mark.slow
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_every_self_check_fails_on_the_stub(path, tmp_path):
    nb = execute(path, tmp_path, allow_errors=True)
    checks = [c for c in nb.cells if c.cell_type == "code" and "exercises.check_" in c.source]
    assert checks, "an exercise notebook without self-checks"
    for cell in checks:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert errors and "not implemented yet" in errors[0].evalue, cell.source
