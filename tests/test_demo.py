"""`scd-lab demo` end to end on a tiny budget: runs, figure, table, and reuse of finished runs."""
from __future__ import annotations

import sys
from pathlib import Path

import scd_lab.demo as demo_module
from scd_lab.demo import run_demo

sys.path.insert(0, str(Path(__file__).parent / "train"))
from helpers import TINY  # noqa: E402

SMALL = [s for s in TINY if not s.startswith("train.knn_bank_size")] + [
    "data.num_train=128", "data.num_test=64", "data.num_classes=4", "train.knn_bank_size=128"]


def test_demo_on_a_tiny_budget(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path / "cache"))
    real_speed = demo_module._measure_speed

    def slow_speed(cfg, data):  # the speed is measured, but the plan must not depend on it
        assert real_speed(cfg, data) > 0
        return 1.0  # s/step: the 3 s budget then gives the 10-step floor, whatever the machine

    monkeypatch.setattr(demo_module, "_measure_speed", slow_speed)
    out = tmp_path / "demo"
    result = run_demo(out=str(out), budget_min=0.05, overrides=SMALL)
    text = capsys.readouterr().out
    # the budget is stated up front; at least 10 steps, rounded down to whole epochs of 8
    assert "[demo] budget 0.1 min: 8 steps (1.0 epochs of 8 steps)" in text
    assert set(result) == {"byol", "scd-byol", "lewel-byol"}
    for name, summary in result.items():
        assert summary["steps"] == 8 and "knn_top1_init" in summary and "knn_top1" in summary
    assert "scd_fg/auroc" in result["scd-byol"] and "lewel_maxvar/auroc" in result["lewel-byol"]
    assert (out / "saliency_evolution.png").stat().st_size > 10_000
    table = (out / "results.md").read_text()
    assert table.count("\n") == 5 and "| scd-byol | scd_fg |" in table
    again = run_demo(out=str(out), budget_min=0.05, overrides=SMALL)
    assert "reusing the finished run" in capsys.readouterr().out
    assert again == result
