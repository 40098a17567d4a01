"""The top of every notebook: Colab and Binder badges and the setup cell (scripts/launch.py),
which installs nothing where the kit imports and installs it from the repository where not."""
from __future__ import annotations

import builtins
import importlib.util
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from scd_lab.paths import REPO_URL

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("launch_tool", REPO / "scripts" / "launch.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_source_has_its_badges_and_setup_cell():
    assert tool.stale() == [], "run `python scripts/launch.py apply` (then notebooks.py sync)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badges_first_and_setup_right_after_the_parameters(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert f"notebooks/{path.name}" in first.source and "colab" in first.source
    assert f"labpath=notebooks%2F{path.name}" in first.source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert tool.SETUP_MARK in code[1].source and "setup()" in code[1].source


def _run_setup_cell(monkeypatch, capsys, kit_importable: bool) -> list:
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda cmd, **kw: calls.append(cmd) or 0)
    if not kit_importable:  # the first ``import scd_lab`` fails, as on Colab
        real, failed = builtins.__import__, []

        def fake_import(name, *args, **kw):
            if name == "scd_lab" and not failed:
                failed.append(name)
                raise ImportError("No module named 'scd_lab'")
            return real(name, *args, **kw)
        monkeypatch.setattr(builtins, "__import__", fake_import)
    ns: dict = {}
    exec(compile(tool.setup_cell().replace("# %%\n", "", 1), "setup-cell", "exec"), ns)
    return calls, ns["LAB"], capsys.readouterr().out


def test_setup_cell_installs_nothing_where_the_kit_imports(monkeypatch, capsys):
    calls, lab, out = _run_setup_cell(monkeypatch, capsys, kit_importable=True)
    assert calls == []
    assert lab.tier in ("cpu", "gpu") and lab.preset in ("cpu", "in100-r18")
    assert re.search(r"found (no GPU, a CPU|a GPU)", out) and "tier" in out


def test_setup_cell_installs_from_the_repository_where_the_kit_is_missing(monkeypatch, capsys):
    calls, lab, _ = _run_setup_cell(monkeypatch, capsys, kit_importable=False)
    assert len(calls) == 1 and calls[0][-1] == f"scd-lab[notebooks] @ git+{REPO_URL}"
    assert calls[0][1:4] == ["-m", "pip", "install"]


def test_cpu_tier_on_a_machine_without_cuda(monkeypatch, capsys):
    import torch
    from scd_lab.lab import setup
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    s = setup()
    assert (s.tier, s.preset, s.device) == ("cpu", "cpu", "cpu")
    assert "CPU tier" in capsys.readouterr().out


def test_apply_keeps_jupytext_header_first_and_is_idempotent(tmp_path):
    src = tmp_path / "00_primer.py"
    src.write_text("# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n# ---\n\n"
                   "# %% [markdown]\n# # 00 · Primer\n\n# %% tags=[\"parameters\"]\n"
                   "SMOKE = False\n\n# %%\nprint(1)\n")
    once = tool.with_top(src)
    assert once.startswith("# ---\n# jupyter:") and once.index("Open In Colab") < once.index("# # 00")
    assert once.index("SMOKE = False") < once.index(tool.SETUP_MARK) < once.index("print(1)")
    assert "notebooks/00_primer.ipynb" in once
    src.write_text(once)
    assert tool.with_top(src) == once
