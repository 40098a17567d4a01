"""Notebooks: one reviewable source each (jupytext percent-format ``notebooks/NN_name.py``),
and its generated, output-free ``notebooks/NN_name.ipynb``: the full solutions with nbgrader's
metadata (``scd_lab.studies.course.build``, "source" copy). The students' copies are not kept
here: ``scd-lab course release DIR`` writes them outside the repository's notebooks/.

    python scripts/notebooks.py sync     # write every .ipynb
    python scripts/notebooks.py check    # list what is stale (the tests call this)

Hidden folders (``.ipynb_checkpoints``, which JupyterLab creates) are ignored by both.
"""
from __future__ import annotations

import sys
from pathlib import Path

from scd_lab.studies.course.build import render, sources

ROOT = Path(__file__).resolve().parents[1] / "notebooks"


def targets() -> dict[Path, str]:
    """Every file the sources generate, with its expected text."""
    return {src.with_suffix(".ipynb"): render(src, "source") for src in sources()}


def stale() -> list[str]:
    """Generated files that are missing or differ from their source, and orphans (a notebook
    with no source). Hidden files and folders, such as .ipynb_checkpoints, are not looked at."""
    want = targets()
    bad = [str(p.relative_to(ROOT.parent)) for p, text in want.items()
           if not p.is_file() or p.read_text() != text]
    for p in ROOT.iterdir():
        if p.name.startswith("."):
            continue
        if p.suffix == ".ipynb" and p not in want:
            bad.append(f"{p.relative_to(ROOT.parent)} (no source)")
    return sorted(bad)


def sync() -> None:
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
