"""What a notebook does in a few lines: build a method by hand, train it for N steps on the
embedded data, get its maps; the layering (no evaluation code builds a Trainer); and the one
face the notebooks import from (``scd_lab`` or ``scd_lab.lab``, no repository path)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def test_five_line_example_from_the_readme(tmp_path, monkeypatch):
    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path / "cache"))
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```python\n(from scd_lab import .*?)```", readme, re.S).group(1)
    code = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(code) <= 6, code  # the imports and five lines
    # the same code, on a smaller split and fewer steps so that the test is quick
    small = block.replace('load_synthetic("default")',
                          'load_synthetic("default", num_train=128, num_test=16)')
    small = small.replace("max_steps=100", "max_steps=3")
    assert small != block
    scope: dict = {}
    exec(compile(small, "README.md", "exec"), scope)  # noqa: S102 - our own README
    maps = scope["maps"]
    assert set(maps) == {"channel_sum", "scd_fg"}
    assert maps["scd_fg"].shape == (8, 8, 8) and torch.isfinite(maps["scd_fg"]).all()
    assert scope["summary"]["steps"] == 3
    assert len(scope["trainer"].history) > 0  # the records, without a run directory


def test_no_evaluation_or_figure_code_builds_a_trainer():
    offenders = []
    for folder in ("scd_lab/eval", "scd_lab/viz", "benchmarks"):
        for path in (REPO / folder).rglob("*.py"):
            if re.search(r"\bTrainer\(", path.read_text()):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


NOTEBOOK_SOURCES = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))
FACES = {"scd_lab", "scd_lab.lab"}


def reaches_past_the_face(source: str) -> list[str]:
    """What a notebook's source imports from the package other than ``scd_lab`` and
    ``scd_lab.lab``, and every use of a ``__file__`` (a path into the repository)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        found += [f"line {node.lineno}: import {n}" for n in names
                  if n.split(".")[0] == "scd_lab" and n not in FACES]
        if isinstance(node, ast.Attribute) and node.attr == "__file__":
            found.append(f"line {node.lineno}: __file__")
    return found


def test_the_check_sees_internals_and_paths():
    bad = "from scd_lab.cli.study import row\nimport scd_lab.paths\nx = scd_lab.__file__\n"
    assert reaches_past_the_face(bad) == [
        "line 1: import scd_lab.cli.study", "line 2: import scd_lab.paths", "line 3: __file__"]
    assert reaches_past_the_face("from scd_lab.lab import ensure_run\nimport scd_lab\n") == []


@pytest.mark.parametrize("path", NOTEBOOK_SOURCES, ids=lambda p: p.name)
def test_notebooks_import_only_the_face(path):
    assert reaches_past_the_face(path.read_text()) == []


def test_the_face_has_every_name_it_lists():
    import scd_lab.lab

    assert [n for n in scd_lab.lab.__all__ if not hasattr(scd_lab.lab, n)] == []
