"""What a notebook does in a few lines: build a method by hand, train it for N steps on the
embedded data, get its maps; and the layering (no evaluation code builds a Trainer)."""
from __future__ import annotations

import re
from pathlib import Path

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
