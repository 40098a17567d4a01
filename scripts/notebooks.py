"""Notebooks: one reviewable source each (jupytext percent-format ``notebooks/NN_name.py``),
paired with an output-free ``.ipynb``, and the students' copies of the exercises.

    python scripts/notebooks.py sync     # write every .ipynb and notebooks/exercises/*
    python scripts/notebooks.py check    # list what is stale (the tests call this)

Solution regions are marked as nbgrader marks them (``### BEGIN SOLUTION`` /
``### END SOLUTION``), so a course that runs nbgrader can take the notebooks as they are. The
students' copies replace each region with ``raise NotImplementedError`` and keep every cell
after it, the self-checks included. No nbgrader is needed here.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1] / "notebooks"
EXERCISES = ROOT / "exercises"
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
SOLUTION = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION\n",
                      re.S | re.M)


def sources() -> list[Path]:
    """The notebook sources, in order."""
    return sorted(ROOT.glob("[0-9][0-9]_*.py"))


def student_copy(text: str) -> str:
    """The source with every solution region replaced by ``raise NotImplementedError``."""
    return SOLUTION.sub(lambda m: f"{m['indent']}raise NotImplementedError(\"your code here\")\n",
                        text)


def to_notebook(text: str) -> nbformat.NotebookNode:
    """A percent-format source as an output-free notebook with a Python 3 kernel."""
    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata = {"kernelspec": KERNEL, "jupytext": {"formats": "ipynb,py:percent"}}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: a sync that changes nothing writes nothing
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def targets() -> dict[Path, str]:
    """Every file the sources generate, with its expected text."""
    out = {}
    for src in sources():
        text = src.read_text()
        out[src.with_suffix(".ipynb")] = nbformat.writes(to_notebook(text)) + "\n"
        if SOLUTION.search(text):
            stub = student_copy(text)
            out[EXERCISES / src.name] = stub
            out[(EXERCISES / src.name).with_suffix(".ipynb")] = \
                nbformat.writes(to_notebook(stub)) + "\n"
    return out


def stale() -> list[str]:
    """Generated files that are missing or differ from their source (and orphans)."""
    want = targets()
    bad = [str(p.relative_to(ROOT.parent)) for p, text in want.items()
           if not p.is_file() or p.read_text() != text]
    for p in list(ROOT.glob("*.ipynb")) + list(EXERCISES.glob("*")):
        if p not in want:
            bad.append(f"{p.relative_to(ROOT.parent)} (no source)")
    return bad


def sync() -> None:
    EXERCISES.mkdir(exist_ok=True)
    for path, text in targets().items():
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            print("wrote", path.relative_to(ROOT.parent))


if __name__ == "__main__":
    if sys.argv[1:] == ["sync"]:
        sync()
    elif sys.argv[1:] == ["check"]:
        problems = stale()
        print("\n".join(problems) or "in sync")
        sys.exit(1 if problems else 0)
    else:
        sys.exit(__doc__)
