"""`scd-lab demo` end to end on a tiny plan: runs, figure, table, reuse and resume."""
from __future__ import annotations

import pytest

import sys
from pathlib import Path

import scd_lab.studies.demo as demo_module
from scd_lab.studies.demo import run_demo
from scd_lab.rundir import RunDir

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from helpers import TINY  # noqa: E402

SMALL = [s for s in TINY if not s.startswith("train.knn_bank_size")] + [
    "data.num_train=128", "data.num_test=64", "data.num_classes=4", "train.knn_bank_size=128"]


@pytest.mark.slow
def test_demo_trains_a_fixed_plan_then_reuses_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path / "cache"))
    speeds = iter([5.0, 0.01, 0.01])  # whatever the machine's speed, the plan is the same

    def fake_speed(cfg, data):
        return next(speeds)

    monkeypatch.setattr(demo_module, "seconds_per_step", fake_speed)
    out = tmp_path / "demo"
    result = run_demo(out=str(out), epochs=1, overrides=SMALL)
    text = capsys.readouterr().out
    # the plan is stated up front, in epochs; the estimate follows the measured speed
    assert "[demo] plan: 1 epochs of 8 steps for each of byol, scd-byol, lewel-byol" in text
    assert "about 0.8 min" in text  # 8 steps x 5.02 s / 0.8 / 60
    assert set(result) == {"byol", "scd-byol", "lewel-byol"}
    for name, summary in result.items():
        assert summary["steps"] == 8 and summary["epochs"] == 1.0
        assert "knn_top1_init" in summary and "knn_top1" in summary
    assert "scd_fg/auroc" in result["scd-byol"] and "lewel_maxvar/auroc" in result["lewel-byol"]
    assert (out / "saliency_evolution.png").stat().st_size > 10_000
    table = (out / "results.md").read_text()
    assert table.count("\n") == 5 and "| scd-byol | scd_fg |" in table
    # a finished run is reused
    again = run_demo(out=str(out), epochs=1, overrides=SMALL)
    assert "reusing the finished run" in capsys.readouterr().out
    assert again == result
    # a stopped run (summary gone, as after Ctrl-C at the last step) is resumed, not refused
    (out / "byol" / "summary.json").unlink()
    monkeypatch.setattr(demo_module, "seconds_per_step", lambda cfg, data: 0.01)
    third = run_demo(out=str(out), epochs=1, overrides=SMALL)
    assert "resuming the stopped run" in capsys.readouterr().out
    assert third["byol"]["knn_top1"] == result["byol"]["knn_top1"]
    assert [r["step"] for r in RunDir(out / "byol").metrics("train")] == list(range(1, 9))
