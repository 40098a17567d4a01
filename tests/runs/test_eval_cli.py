"""``scd-lab eval`` sub-verbs on a tiny trained run: through ``scd_lab.cli.eval`` in process, a
couple through ``python -m scd_lab.cli eval``, and the notebook functions on a method in
memory."""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))

from helpers import tiny_config, tiny_data  # noqa: E402

from scd_lab.errors import RunError, UserError  # noqa: E402
from scd_lab.cli import eval as cli
from scd_lab.runs import EvalError

pytest.importorskip("captum")

# the config's own data is as small as tiny_data(), so load_run (which rebuilds it) is fast
KNOBS = ["data.num_train=64", "data.num_test=32", "data.num_classes=4"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("cache")
    mp.setenv("SCD_LAB_CACHE", str(path))
    yield path
    mp.undo()


def _train(root: Path, method: str, epochs: int) -> Path:
    from scd_lab.runs import build_run
    torch.manual_seed(0)
    cfg = tiny_config(method, KNOBS + [f"train.epochs={epochs}"])
    build_run(cfg, root / method, data=tiny_data()).fit()
    return root / method


@pytest.fixture(scope="module")
def runs(cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {"scd": _train(root, "scd-byol", 2), "byol": _train(root, "byol", 1)}


def run_json(capsys, *words) -> dict:
    assert cli.dispatch([str(w) for w in words]) == 0
    return json.loads(capsys.readouterr().out)


def test_knn_verb(runs, capsys):
    out = run_json(capsys, "knn", runs["scd"])
    assert 0 <= out["knn_top1_k20"] <= 1 and 0 <= out["knn_top1_k200"] <= 1
    assert (out["bank"], out["queries"], out["k"]) == (64, 32, [20, 200])
    assert json.loads((runs["scd"] / "eval" / "knn.json").read_text()) == out


def test_linear_gap_and_fg(runs, capsys):
    for kind in ("gap", "fg"):
        out = run_json(capsys, "linear", runs["scd"], "--features", kind, "--epochs", "3")
        stored = json.loads((runs["scd"] / "eval" / f"linear_{kind}.json").read_text())
        assert stored == out and 0 <= out["test_acc"] <= 1 and out["features"] == kind
        probe = torch.load(runs["scd"] / "eval" / f"linear_{kind}.pt", weights_only=True)
        assert probe["weight"].shape[0] == 4


def test_fg_of_a_non_scd_run_is_a_user_error(runs):
    with pytest.raises(EvalError, match="needs an SCD run"):
        cli.dispatch(["linear", str(runs["byol"]), "--features", "fg"])


def test_semi_writes_reproducible_indices(runs, capsys):
    from scd_lab.eval.semi import label_subset
    from scd_lab.runs import load_run
    out = run_json(capsys, "semi", runs["scd"], "--labels", "10%", "--epochs", "1")
    idx = torch.load(runs["scd"] / "eval" / "semi_10pct_indices.pt", weights_only=True)
    assert torch.equal(idx, label_subset(load_run(runs["scd"]).train.labels, 0.1, seed=0))
    assert out["num_labelled"] == len(idx) and out["labels"] == "10%"
    assert (runs["scd"] / "eval" / "semi_10pct.json").is_file()
    with pytest.raises(EvalError, match="percentage"):
        cli.dispatch(["semi", str(runs["scd"]), "--labels", "150%"])


def test_saliency_on_the_runs_held_out_images(runs, capsys, tmp_path):
    out = run_json(capsys, "saliency", runs["scd"], "--out", tmp_path, "--figures", "2")
    assert set(out["metrics"]) == {"scd_fg", "channel_sum", "centre_prior", "gradcam"}
    for figs in out["metrics"].values():
        assert {"auroc", "auroc_per_image", "polarity", "iou@0.5", "best_iou",
                "pointing_game"} <= set(figs)
    assert out["num_images"] == 32 and out["default_map"] == "scd_fg"
    assert (runs["scd"] / "eval" / "linear_gap.pt").is_file()  # the Grad-CAM probe is stored
    assert json.loads((runs["scd"] / "eval" / "saliency.json").read_text())["metrics"]
    assert len(list((tmp_path / "figures").glob("*.png"))) == 2
    rows = list(csv.DictReader(open(tmp_path / "saliency.csv")))
    assert [r["map"] for r in rows] == ["scd_fg", "channel_sum", "gradcam", "centre_prior"]


def _png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array).save(path)


def test_saliency_on_a_folder_skips_bad_files(runs, capsys, tmp_path):
    img_dir, mask_dir, out_dir = tmp_path / "img", tmp_path / "mask", tmp_path / "out"
    img_dir.mkdir(), mask_dir.mkdir()
    rng = np.random.default_rng(0)

    def pair(name, size, mask_size=None, with_mask=True):
        _png(img_dir / f"{name}.png", rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        if with_mask:
            m = np.zeros((mask_size or size,) * 2, np.uint8)
            m[size // 4: size // 2, size // 4: size // 2] = 255
            _png(mask_dir / f"{name}.png", m)

    pair("a", 48), pair("b", 40), pair("c", 32)  # other sizes than the run's 32 px: resized
    pair("nomask", 32, with_mask=False)
    pair("wrongsize", 32, mask_size=20)
    (img_dir / "corrupt.png").write_bytes(b"not a png at all")
    (mask_dir / "corrupt.png").write_bytes((mask_dir / "a.png").read_bytes())
    assert cli.dispatch(["saliency", str(runs["scd"]), "--images", str(img_dir), "--masks",
                         str(mask_dir), "--out", str(out_dir)]) == 0
    captured = capsys.readouterr()
    out, err = json.loads(captured.out), captured.err
    warnings = [line for line in err.splitlines() if line.startswith("warning: skipped")]
    assert len(warnings) == 3
    for name in ("corrupt.png", "nomask.png", "wrongsize.png"):
        assert sum(name in line for line in warnings) == 1
    assert out["skipped"] == 3 and out["num_images"] == 3
    assert sorted(p.stem for p in (out_dir / "figures").glob("*.png")) == ["a", "b", "c"]
    assert (out_dir / "saliency.md").read_text().count("\n| ") >= 4
    assert [r["image"] for r in csv.DictReader(open(out_dir / "per_image.csv"))] == \
        ["a", "b", "c"]


def test_report_computes_what_is_missing(runs):
    from scd_lab.runs import report_table
    from scd_lab.tables import table_markdown
    (row,) = report_table([runs["byol"]], compute=True)  # nothing stored for this run yet
    assert row["run"] == "byol" and row["method"] == "byol" and row["epochs"] == 1
    assert 0 <= row["kNN k=20"] <= 1 and 0 <= row["linear gap"] <= 1
    assert row["linear fg"] is None  # no foreground feature without SCD's map
    assert {"channel_sum AUROC", "gradcam pointing", "centre_prior best IoU"} <= set(row)
    assert (runs["byol"] / "eval" / "linear_gap.json").is_file()  # stored for the next time
    assert table_markdown([row]).count("\n") == 3


def test_report_verb_table_and_curves(runs, capsys, tmp_path):
    assert cli.dispatch(["report", str(runs["scd"]), str(runs["byol"]), "--out",
                         str(tmp_path), "--no-compute"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "report.csv")))
    assert [r["run"] for r in rows] == ["scd-byol", "byol"]
    assert {"method", "data", "epochs", "kNN k=20", "kNN k=200", "linear gap", "linear fg",
            "scd_fg AUROC", "scd_fg best IoU", "scd_fg pointing", "channel_sum AUROC",
            "s/epoch", "peak mem GB"} <= set(rows[0])
    assert rows[0]["scd_fg AUROC"] != "" and rows[1]["scd_fg AUROC"] == ""  # BYOL: no map
    assert float(rows[0]["s/epoch"]) > 0 and rows[0]["kNN k=20"] != ""
    assert (tmp_path / "report.md").read_text().count("\n") == 4
    assert (tmp_path / "report_curves.png").stat().st_size > 1000


def test_export_of_a_tiny_trunk_is_a_user_error(runs):
    with pytest.raises(EvalError, match="only resnet18 / resnet50 trunks export"):
        cli.dispatch(["export", str(runs["byol"]), "--format", "torchvision"])


def test_export_of_a_resnet18_method(tmp_path):
    from scd_lab.config import apply_overrides
    from scd_lab.runs import export_run
    from scd_lab.runs.export import torchvision_model
    from scd_lab.methods import build_method
    cfg = apply_overrides(tiny_config("byol"), ["backbone.arch=resnet18"])
    method = build_method(cfg)
    res = export_run(method, "torchvision", tmp_path / "r18.pth")
    model = torchvision_model("resnet18", small_stem=res["small_stem"])
    model.load_state_dict(torch.load(tmp_path / "r18.pth", weights_only=True), strict=True)
    res = export_run(method, "detectron2", tmp_path / "r18.pkl")
    assert res["keys"] > 0 and (tmp_path / "r18.pkl").is_file()


def test_old_form_and_register(runs, capsys):
    p = argparse.ArgumentParser(prog="scd-lab")
    cli.register(p.add_subparsers(dest="command"))
    before = sorted(runs["scd"].rglob("*"))
    args = p.parse_args(["eval", str(runs["scd"])])  # `scd-lab eval RUN_DIR` as before
    assert args.fn(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"knn_top1", "knn_top1_k200", "scd_fg/auroc"} <= set(out)
    assert sorted(runs["scd"].rglob("*")) == before  # writes nothing
    args = p.parse_args(["eval", "knn", str(runs["scd"])])
    assert args.eval_words == ["knn", str(runs["scd"])]
    with pytest.raises(SystemExit):
        p.parse_args(["eval", "--help"])
    helptext = capsys.readouterr().out
    assert "RUN_DIR" in helptext and "checkpoints/last.pt" in helptext
    assert all(verb in helptext for verb in cli.SUBVERBS)


def test_bad_runs_are_user_errors(cache, tmp_path):
    from scd_lab.rundir import RunDir
    with pytest.raises(UserError, match="no run directory"):
        cli.dispatch(["knn", str(tmp_path / "nowhere")])
    with pytest.raises(UserError, match="no run directory"):
        cli.dispatch([str(tmp_path / "nowhere")])
    RunDir(tmp_path / "fresh").write_config(tiny_config("scd-byol", KNOBS))
    with pytest.raises(RunError, match="no checkpoint"):
        cli.dispatch(["saliency", str(tmp_path / "fresh")])
    with pytest.raises(EvalError, match="go together"):
        cli.dispatch(["saliency", str(tmp_path / "fresh"), "--images", str(tmp_path)])
    with pytest.raises(SystemExit):
        cli.dispatch([])


def test_notebook_functions_on_a_method_in_memory():
    from scd_lab.runs import evaluate_saliency, knn_eval
    from scd_lab.methods import build_method
    train, test = tiny_data(32, 8)
    method = build_method(tiny_config("scd-byol")).eval()
    knn = knn_eval(method, train=train, test=test)
    assert knn["bank"] == 32 and knn["queries"] == 8
    res = evaluate_saliency(method, test.images, test.masks, train=train)
    assert set(res["maps"]) == {"scd_fg", "channel_sum", "centre_prior", "gradcam"}
    assert res["per_image_auroc"]["scd_fg"].shape == (8,)


def _cli(*words, env):
    return subprocess.run([sys.executable, "-m", "scd_lab.cli", "eval", *map(str, words)],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.slow
def test_module_entry_point(runs, cache):
    env = {**os.environ, "SCD_LAB_CACHE": str(cache)}
    ok = _cli("knn", runs["scd"], env=env)
    assert ok.returncode == 0, ok.stderr
    assert "knn_top1_k200" in json.loads(ok.stdout)
    bad = _cli("linear", runs["byol"], "--features", "fg", env=env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "needs an SCD run" in bad.stderr
