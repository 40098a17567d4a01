"""The one ``Run`` type: a folder opened without loading its method (what the explorer reads),
loaded on first use, or a method in memory; the one scorer of maps; ``config_differences``."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))

from helpers import tiny_config, tiny_data  # noqa: E402

from scd_lab.config import apply_overrides, resolve  # noqa: E402
from scd_lab.errors import RunError  # noqa: E402
from scd_lab.eval.saliency_metrics import pointing_game, saliency_report  # noqa: E402
from scd_lab.rundir import RunDir  # noqa: E402
from scd_lab.runs import (EvalError, Run, as_run, build_run, config_differences,  # noqa: E402
                          load_run, score_maps)
from scd_lab.runs.scoring import CHALLENGE_FIGURES, FIGURES, last_recorded  # noqa: E402

KNOBS = ["data.num_train=64", "data.num_test=32", "data.num_classes=4"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "scd"
    torch.manual_seed(0)
    build_run(tiny_config("scd-byol", KNOBS + ["train.epochs=2"]), path,
              data=tiny_data()).fit()
    return path


def test_open_reads_the_folder_without_the_method(run_dir):
    run = Run.open(run_dir)
    assert run.snapshots and [s["step"] for s in run.snapshots] == \
        sorted(s["step"] for s in run.snapshots)
    assert run.saliency and set(run.saliency) == {s["step"] for s in run.snapshots}
    assert run.probe["images"].dtype == torch.uint8 and run.masks is not None
    assert run.method_name == "scd-byol" and run.skipped == []
    last = run.snapshots[-1]
    assert run.snapshot(last["step"]) is last and run.snapshot(-1) is None
    assert run._method is None  # nothing loaded yet
    assert run.step == last["step"] and run._method is not None  # loaded on first use
    assert not run.refresh()  # nothing new


def test_what_the_explorer_reads_of_a_folder(run_dir):
    run = Run.open(run_dir)
    last = run.snapshots[-1]
    assert run.epochs == [float(s["epoch"]) for s in run.snapshots]
    assert run.map_names[0] == "scd_fg" and run.default_map == "scd_fg"
    assert run.snapshot_index_at(run.epochs[-1] + 5) == len(run.snapshots) - 1
    assert run.snapshot_index_at(-1.0) == 0
    auc = run.saliency_metric(last["step"], "scd_fg", "auroc")
    assert auc == run.saliency[last["step"]]["scd_fg/auroc"]
    assert run.saliency_metric(last["step"], "scd_fg", "nothing") is None
    assert run.saliency_curve("scd_fg", "auroc")[-1] == (float(last["epoch"]), auc)
    assert run.notes() == []  # finished, with probe, masks and metrics
    assert run._method is None  # none of these loads the method
    assert Run.of_method(load_run(run_dir, with_data=False).method).notes() == []


def test_load_run_builds_the_data_on_first_use_only(run_dir, monkeypatch):
    import scd_lab.runs.load as load_module
    calls = []
    real = load_module.build_data
    monkeypatch.setattr(load_module, "build_data",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    run = load_run(run_dir)
    assert run._method is not None and run.probe["images"].dtype == torch.uint8
    assert calls == []  # the method and the probe read, no image decoded
    assert len(run.train) == 64 and len(run.test) == 32 and calls == [1]  # once, on first use


def test_a_run_folder_from_before_issue_22_loads_its_biased_heads(run_dir, tmp_path):
    """Before issue 22 the BN heads' last Linear had a bias and config.yaml had no
    ``head_bias`` key: such a folder loads with those biases (RUN_FOLDER_LEGACY)."""
    import shutil

    from scd_lab.methods import build_method
    from scd_lab.train.checkpoint import load_checkpoint, save_checkpoint
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    rd = RunDir(old)
    text = rd.config_path.read_text()
    assert "head_bias: false" in text and "lars_form: lewel" in text
    rd.config_path.write_text(text.replace("  head_bias: false\n", "").replace(
        "  lars_form: lewel\n", ""))
    cfg = rd.config()
    assert cfg.method.head_bias is True and cfg.optim.lars_form == "joint"
    ckpt = load_checkpoint(rd.last_checkpoint)
    torch.manual_seed(3)
    biased = build_method(cfg).state_dict()  # what the old kit saved: the heads' last biases
    extra = sorted(k for k in biased if k not in ckpt["model"])
    assert extra and all(k.endswith(".3.bias") for k in extra)
    save_checkpoint(rd.last_checkpoint, model={**ckpt["model"], **{k: biased[k] for k in extra}},
                    optimizer=ckpt["optimizer"], step=ckpt["step"], epoch=ckpt["epoch"],
                    config=ckpt["config"])
    run = load_run(old, with_data=False)
    assert run.method.base.projector[3].bias is not None
    assert torch.equal(run.method.base.projector[3].bias, biased["base.projector.3.bias"])
    new = load_run(run_dir, with_data=False)  # a folder of this kit: no last bias
    assert new.method.base.projector[3].bias is None


def test_refresh_names_unreadable_snapshots_and_reads_new_ones(run_dir, tmp_path):
    rd = RunDir(run_dir)
    run = Run.open(run_dir)
    n = len(run.snapshots)
    bad = rd.snapshot_dir / "step_9999998.pt"
    bad.write_bytes(b"cut short")
    try:
        assert run.refresh() is False and run.skipped == [bad.name]
        good = rd.snapshot_dir / "step_9999999.pt"
        torch.save({**run.snapshots[-1], "step": 9999999}, good)
        assert run.refresh() and len(run.snapshots) == n + 1 and run.skipped == [bad.name]
        good.unlink()
    finally:
        bad.unlink()
    with pytest.raises(RunError, match="is not a folder"):
        Run.open(tmp_path / "nowhere")


def test_load_run_and_a_method_in_memory(run_dir):
    run = load_run(run_dir, with_data=False)
    assert run.train is None and run.step > 0 and run.cfg.method.name == "scd-byol"
    assert run.eval_dir == run_dir / "eval" and run.probe
    with pytest.raises(RunError, match="with_data=False"):
        run.monitor_sets()
    train, test = tiny_data(32, 8)
    mine = Run.of_method(run.method, train, test)
    assert mine.cfg is None and mine.path is None and mine.step is None
    assert mine.monitor_sets()["bank"] is train and mine.monitor_sets()["held"] is test
    assert mine.maps(test.images[:2])["scd_fg"].shape[0] == 2
    assert as_run(mine) is mine and as_run(run, test=test).monitor_sets()["queries"] is test
    with pytest.raises(EvalError, match="scd_lab method"):
        as_run(object())


def test_one_scorer_of_maps():
    masks = torch.zeros(3, 16, 16, dtype=torch.uint8)
    masks[:, 4:12, 4:12] = 1
    maps = {"m": torch.rand(3, 16, 16), "mask": masks.float()}
    metrics, per_image = score_maps(maps, masks)
    assert list(metrics["m"]) == list(FIGURES) and per_image["m"].shape == (3,)
    rep = saliency_report(maps["m"], masks)
    assert metrics["m"]["auroc"] == rep["auroc"] and metrics["m"]["best_iou"] == rep["best_iou"]
    assert metrics["m"]["pointing_game"] == pointing_game(maps["m"], masks)
    assert list(score_maps(maps, masks, CHALLENGE_FIGURES)[0]["mask"]) == list(CHALLENGE_FIGURES)
    recs = [{"kind": "saliency", "m/auroc": 0.4}, {"kind": "saliency", "m/auroc": 0.6}]
    assert last_recorded(recs) == {"m": {"auroc": 0.6, "best_iou": None, "pointing_game": None}}


def test_config_differences():
    a = resolve(tiny_config("scd-byol"))
    flip = f"train.progress={not a.train.progress}"
    b = resolve(apply_overrides(a, ["method.alpha=0.5", flip]))
    assert config_differences(a, a) == {}
    assert set(config_differences(b, a)) == {"method.alpha", "train.progress"}
    assert config_differences(b, a, ignore=("train.progress",))["method.alpha"] == \
        (0.5, a.method.alpha)
