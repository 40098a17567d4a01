"""``scd-lab eval report --paired`` on tiny runs: an SCD run and its base run of the same
config and seed give one row per figure (kNN k=20, k=200, the default maps' AUROC) with the
difference and its bootstrap interval; two seeds make one comparison of two pairs; a run
without a partner is one line and exit 2."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))

from helpers import tiny_config, tiny_data  # noqa: E402

from scd_lab.cli import main  # noqa: E402
from scd_lab.eval.paired import paired_bootstrap  # noqa: E402
from scd_lab.runs import EvalError, build_run, knn_eval  # noqa: E402
from scd_lab.runs.report import pair_runs, paired_table, per_image_values  # noqa: E402

KNOBS = ["data.num_train=64", "data.num_test=32", "data.num_classes=4", "train.epochs=1",
         "train.knn_every=0", "train.snapshot_every=0"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("SCD_LAB_CACHE", str(tmp_path_factory.mktemp("cache")))
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for method in ("scd-byol", "byol"):
        for seed in (0, 1):
            path = root / f"{method}-s{seed}"
            build_run(tiny_config(method, KNOBS + [f"train.seed={seed}"]), path,
                      data=tiny_data()).fit()
            out[method, seed] = str(path)
    yield out
    mp.undo()


def test_pairs_are_found_by_config(runs):
    given = [runs["byol", 1], runs["scd-byol", 0], runs["byol", 0], runs["scd-byol", 1]]
    assert pair_runs(given) == [(runs["scd-byol", 0], runs["byol", 0]),
                                (runs["scd-byol", 1], runs["byol", 1])]


def test_one_pair_table(runs):
    a, b = runs["scd-byol", 0], runs["byol", 0]
    rows = paired_table([a, b], resamples=500)
    assert [r["figure"] for r in rows] == ["kNN k=20", "kNN k=200",
                                           "AUROC scd_fg vs channel_sum"]
    assert all((r["A"], r["B"], r["seeds"], r["shared init"]) ==
               ("scd-byol", "byol", "0", "all of the base") for r in rows)
    knn = rows[0]
    assert knn["mean A"] == pytest.approx(knn_eval(a)["knn_top1_k20"])
    assert knn["mean B"] == pytest.approx(knn_eval(b)["knn_top1_k20"])
    assert knn["images"] == 32
    va, vb = per_image_values(a), per_image_values(b)
    want = paired_bootstrap((va["AUROC"], vb["AUROC"]), resamples=500)
    auroc = rows[2]
    assert (auroc["A - B"], auroc["95% low"], auroc["95% high"]) == \
        (pytest.approx(want["diff"]), pytest.approx(want["low"]), pytest.approx(want["high"]))
    for r in rows:
        assert r["A - B"] == pytest.approx(r["mean A"] - r["mean B"])
        assert r["95% low"] <= r["A - B"] <= r["95% high"]


def test_two_seeds_make_one_comparison(runs):
    rows = paired_table([runs[m, s] for m in ("scd-byol", "byol") for s in (0, 1)],
                        resamples=200)
    assert len(rows) == 3 and all(r["seeds"] == "0, 1" for r in rows)
    assert rows[0]["images"] == 64  # 32 queries in each pair
    one = [paired_table([runs["scd-byol", s], runs["byol", s]], resamples=200)[0]["A - B"]
           for s in (0, 1)]
    assert rows[0]["A - B"] == pytest.approx(sum(one) / 2)


def test_cli_writes_the_table(runs, tmp_path, capsys):
    assert main(["eval", "report", runs["scd-byol", 0], runs["byol", 0], "--paired",
                 "--resamples", "100", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| A | B | seeds | shared init | figure |" in out and "95% high" in out
    assert (tmp_path / "paired.md").read_text() == out.rstrip("\n") + "\n"
    assert (tmp_path / "paired.csv").exists()


@pytest.mark.parametrize("which, why", [
    ((("scd-byol", 0), ("byol", 1)), "differs: train.seed 0 vs 1"),
    ((("scd-byol", 0),), "none given"),
    ((("scd-byol", 0), ("byol", 0), ("byol", 1)), "is no part of a pair"),
])
def test_unpairable_runs_are_one_line_and_exit_2(runs, capsys, which, why):
    assert main(["eval", "report", *(runs[w] for w in which), "--paired"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and why in lines[0] and "--paired" in lines[0]
    with pytest.raises(EvalError):
        pair_runs([runs[w] for w in which])
