"""The challenge's scorer (notebook 09): the figures checked by hand on constructed maps, the
rules, and a tiny smoke-tier run scored as the notebook scores it."""
from __future__ import annotations

import os
import subprocess

import pytest
import torch

from scd_lab.studies import challenge
from scd_lab import ensure_run
from scd_lab.config import apply_overrides
from scd_lab.eval.saliency_metrics import centre_prior
from scd_lab.cli import main
from scd_lab.errors import RunError
from scd_lab.rundir import RunDir


def square_masks(n: int = 3, size: int = 16) -> torch.Tensor:
    """(n, size, size) masks, a square of a different size and place in each image."""
    masks = torch.zeros(n, size, size, dtype=torch.uint8)
    for i in range(n):
        masks[i, 2 + i:9 + 2 * i, 3:10 + i] = 1
    return masks


def test_map_scores_by_hand():
    masks = square_masks()
    both = torch.cat([masks[:1].float(), 1 - masks[1:2].float()])  # right, then inverted
    got = challenge.map_scores({"mask": masks.float(), "inverse": 1 - masks.float(),
                                "constant": torch.full((3, 16, 16), 0.7)}, masks)
    assert got["mask"]["auroc"] == 1.0 and got["mask"]["polarity"] == 1
    assert got["mask"]["pointing_game"] == 1.0 and got["mask"]["best_iou"] == 1.0
    assert got["inverse"]["auroc"] == 0.0 and got["inverse"]["polarity"] == -1
    assert got["inverse"]["auroc_per_image_unsigned"] == 1.0  # splits each image, wrong side
    assert got["constant"]["auroc"] == 0.5
    # one image right, one inverted: each is split perfectly, the pooled score is near chance
    mixed = challenge.map_scores({"mixed": both}, masks[:2])["mixed"]
    assert mixed["auroc_per_image_unsigned"] == 1.0 and 0.3 < mixed["auroc"] < 0.7


def test_map_scores_upsample_a_feature_resolution_map():
    masks = torch.zeros(2, 16, 16, dtype=torch.uint8)
    masks[:, 4:12, 4:12] = 1
    small = torch.nn.functional.avg_pool2d(masks[:, None].float(), 4)[:, 0]  # (2, 4, 4)
    assert challenge.map_scores({"m": small}, masks)["m"]["auroc"] > 0.95


def test_rules():
    start = challenge.starting_config()
    assert challenge.planned_steps(start) == 6 * 78 and start.method.name == "scd-byol"
    assert challenge.TIERS["full"]["budget_pairs"] == 15 * (5000 // 64) * 64
    assert challenge.check_rules(start) == []
    allowed = challenge.challenge_config(["backbone.padding_mode=reflect", "method.alpha=0.0",
                                          "data.distinct_textures=true", "data.num_classes=5",
                                          "data.crop_scale_min=0.08", "train.epochs=15"])
    assert challenge.check_rules(allowed) == []
    assert set(challenge.config_changes(allowed, start)) == {
        "backbone.padding_mode", "method.alpha", "data.distinct_textures", "data.num_classes",
        "data.crop_scale_min", "train.epochs"}
    wider = challenge.challenge_config(["backbone.widths=[32, 64, 128, 256]"])
    assert any("backbone.widths" in p for p in challenge.check_rules(wider))
    bigger = challenge.challenge_config(["data.image_size=96"])
    assert any("data.image_size" in p for p in challenge.check_rules(bigger))
    lewel = challenge.challenge_config(["method.name=lewel-byol"])
    assert any("method.name" in p for p in challenge.check_rules(lewel))
    longer = challenge.challenge_config(["train.epochs=16"])
    assert any("budget" in p for p in challenge.check_rules(longer))
    # the budget counts pairs: batch 128 for 15 epochs (585 steps) is within it
    assert challenge.check_rules(challenge.challenge_config(
        ["train.batch_size=128", "train.epochs=15"])) == []
    quiet = challenge.challenge_config(["train.progress=false", "train.knn_every=0"])
    assert challenge.config_changes(quiet, start) == {}


def test_a_run_of_one_tier_scored_as_the_other_is_refused_with_the_fix():
    smoke, full = challenge.starting_config(smoke=True), challenge.starting_config()
    assert challenge.tier_of(smoke) == "smoke" and challenge.tier_of(full) == "full"
    wider = challenge.challenge_config(["backbone.widths=[32, 64, 128, 256]"])
    assert challenge.tier_of(wider) is None
    assert challenge.check_rules(smoke)[0].startswith("a smoke-tier run")
    with pytest.raises(RunError, match=r"smoke-tier run .*--smoke"):
        challenge.check_tier(smoke, smoke=False)
    with pytest.raises(RunError, match="full-tier run: score it without --smoke"):
        challenge.check_tier(full, smoke=True)
    challenge.check_tier(smoke, smoke=True)
    challenge.check_tier(wider, smoke=False)  # another network: scored, its rules broken


def test_submission_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SCD_LAB_RUNS", str(tmp_path))
    assert challenge.submission_dir() == tmp_path / "challenge" / "start"
    assert challenge.submission_dir(smoke=True).name == "smoke-start"
    a = challenge.submission_dir(["method.alpha=0.0"])
    assert a == challenge.submission_dir(["method.alpha=0.0"]) and a.name.startswith("alpha=0.0-")
    assert a != challenge.submission_dir(["method.alpha=0.5"])


def fake_score(name, auroc, violations=()):
    row = {"auroc": auroc, "polarity": 1 if auroc >= 0.5 else -1, "pointing_game": 0.5,
           "auroc_per_image_unsigned": 0.7, "best_iou": 0.3}
    return {"name": name, "score": auroc, "polarity": row["polarity"], "num_images": 500,
            "maps": {k: dict(row) for k, _ in challenge.ROWS}, "changes": {"method.alpha": 0.0},
            "violations": list(violations)}


def test_leaderboard_ranks_and_flags():
    text = challenge.leaderboard_markdown([fake_score("low", 0.41), fake_score("high", 0.62),
                                           fake_score("wide", 0.70, ["backbone.widths=..."])])
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [r.split(" | ")[1] for r in rows] == ["wide", "high", "low"]
    assert "**0.410** (inverted)" in rows[2] and "broken" in rows[0] and "| ok |" in rows[1]
    assert "- wide breaks a rule: backbone.widths=..." in text
    assert "500 held-out images" in text
    assert challenge.leaderboard_markdown(fake_score("one", 0.5)).count("| one |") == 1
    assert "smoke run" not in text
    tiny = challenge.leaderboard_markdown({**fake_score("tiny", 0.5), "steps": 12})
    assert "- tiny: NOTE: a smoke run (12 steps" in tiny and "mean nothing" in tiny


def test_reference_answers_read_the_shipped_runs():
    text = challenge.reference_answers()
    assert "| distinct-zeros |" in text and "0.470 → 0.359" in text
    assert "| demo-scd-byol |" in text and "0.464 → 0.579" in text
    assert text.splitlines()[-1].startswith("| ceiling-distinct-zeros |")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """A one-epoch run of the smoke tier's starting point (4 steps on 128 images of 32 px)."""
    root = tmp_path_factory.mktemp("challenge")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCD_LAB_CACHE", str(root / "cache"))
        cfg = challenge.challenge_config(["train.epochs=1"], smoke=True)
        path = challenge.submission_dir(["train.epochs=1"], smoke=True, root=root / "runs")
        ensure_run(cfg, path)
        s = challenge.score(path, smoke=True, ceiling_steps=30, keep_maps=True)
        yield path, s


def test_score_of_a_run_agrees_with_its_monitor(smoke_run):
    path, s = smoke_run
    sal = RunDir(path).metrics("saliency")
    # the same 64 held-out images and figures as the saliency monitor: the end, and step 0
    assert s["num_images"] == 64 and s["score"] == pytest.approx(sal[-1]["scd_fg/auroc"])
    assert s["maps"]["init"]["auroc"] == pytest.approx(sal[0]["scd_fg/auroc"])
    assert s["maps"]["channel_sum"]["auroc"] == pytest.approx(sal[-1]["channel_sum/auroc"])
    assert [k for k, _ in challenge.ROWS] == list(s["maps"])
    t = s["tensors"]
    prior = challenge.map_scores({"c": centre_prior(*t["student"].shape)}, t["masks"])["c"]
    assert s["maps"]["centre_prior"] == prior
    assert s["steps"] == 4 and s["pairs"] == 4 * 32 and s["violations"] == []
    assert s["changes"] == {"train.epochs": 1}
    assert s["ceiling"]["train_images"] == 128 and s["ceiling"]["steps"] == 30
    assert s["polarity"] == (1 if s["score"] >= 0.5 else -1)


def test_the_held_out_images_ignore_the_runs_data_knobs(smoke_run, tmp_path):
    """A run trained on other data is scored on the reference images all the same."""
    path, s = smoke_run
    from scd_lab.runs import load_run
    run = load_run(path, with_data=False)
    run.cfg = apply_overrides(run.cfg, ["data.distinct_textures=true", "data.num_classes=5"])
    other = challenge.score(run, smoke=True, ceiling_steps=30, keep_maps=True)
    assert torch.equal(other["tensors"]["images"], s["tensors"]["images"])
    assert other["score"] == pytest.approx(s["score"])
    assert set(other["changes"]) >= {"data.distinct_textures", "data.num_classes"}


def test_score_run_keeps_the_score(smoke_run, monkeypatch):
    path, _ = smoke_run
    first = challenge.score_run(path, smoke=True)
    assert (path / "eval" / "challenge-smoke.json").is_file()
    monkeypatch.setattr(challenge, "score", lambda *a, **k: pytest.fail("scored again"))
    assert challenge.score_run(path, smoke=True) == first  # read back, not recomputed


def test_a_smoke_run_scored_without_smoke_says_so(smoke_run, capsys):
    path, _ = smoke_run
    assert main(["challenge", str(path)]) == 2  # refused before any scoring
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "smoke-tier run" in err and "--smoke" in err
    assert not (path / "eval" / "challenge.json").exists()


@pytest.mark.slow  # a subprocess: the whole suite runs it, the fast suite does not
def test_command_line(smoke_run):
    path, _ = smoke_run
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "SCD_LAB_CACHE": str(path.parents[1] / "cache")}
    proc = subprocess.run(["scd-lab", "challenge", str(path), "--smoke",
                           "--fresh"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"| 1 | {path.name} | train.epochs=1 |" in proc.stdout
