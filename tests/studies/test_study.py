"""``scd-lab study objective``: cells of seeds, resumable, one table row with standard errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from scd_lab.cli import main
from scd_lab.runs import build_run
from scd_lab.studies.objective import _mse

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from helpers import tiny_config  # noqa: E402


def test_mean_and_standard_error():
    assert _mse([0.5, 0.7, 0.6]) == "0.600 ± 0.058"  # sd 0.1 / sqrt(3)
    assert _mse([0.4]) == "0.400" and _mse([None]) == "-"


def test_study_cell_is_resumable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path / "cache"))
    cfg = tiny_config("supervised", ["train.max_steps=2", "data.num_train=64",
                                     "data.num_test=32", "data.num_classes=4"])
    build_run(cfg, tmp_path / "sup").fit()
    args = ["study", "objective", "--trunk", str(tmp_path / "sup"), "--steps", "3", "--batch",
            "16", "--seeds", "0,1", "--oracle", "--out", str(tmp_path / "study"), "--quiet",
            "--device", "cpu"]
    assert main(args) == 0
    table = capsys.readouterr().out
    cell = tmp_path / "study" / "sup-own-scd-a1"
    results = [json.loads((cell / f"seed{s}.json").read_text()) for s in (0, 1)]
    assert [h["step"] for h in results[0]["history"]] == [0, 3]
    assert results[0]["history"] != results[1]["history"]  # another seed, other heads
    assert all("oracle_mask" in r and "oracle_inverse" in r for r in results)
    assert results[0]["device"] == "cpu"
    assert "| sup-own-scd-a1 | 2 |" in table and " ± " in table
    mtime = (cell / "seed0.json").stat().st_mtime
    assert main(args) == 0  # finished seeds are read back, not trained again
    assert (cell / "seed0.json").stat().st_mtime == mtime
    assert capsys.readouterr().out == table
    assert main(["study", "table", "--per-seed", "--out", str(tmp_path / "study")]) == 0
    assert capsys.readouterr().out.count("| sup-own-scd-a1 | ") == 2  # seeds 0 and 1
    assert len(results[0]["example_maps"]) == 8  # seed 0's learned map of 8 held-out images
    assert main(["study", "figures", "--out", str(tmp_path), "--results",
                 str(tmp_path / "study")]) == 0
    assert (tmp_path / "study-oracle.png").stat().st_size > 1000
    assert (tmp_path / "study-maps.png").stat().st_size > 1000


def test_bad_trunk_is_one_line(tmp_path):
    with pytest.raises(SystemExit):
        main(["study", "objective"])  # argparse: --trunk is required
    assert main(["study", "objective", "--trunk", str(tmp_path / "nope")]) == 2


def test_device_option_is_checked(capsys):
    import torch
    from scd_lab.errors import UserError
    from scd_lab.studies.probe import module_device
    from scd_lab.studies.objective import study_device
    assert study_device("cpu") == torch.device("cpu")
    for bad in ("gpu", "meta"):
        with pytest.raises(UserError, match="give cpu, cuda or cuda:N"):
            study_device(bad)
    assert module_device(torch.nn.ReLU()) == torch.device("cpu")  # no parameters: the CPU
    assert module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    if not torch.cuda.is_available():
        assert main(["study", "objective", "--trunk", "random", "--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err
        assert main(["study", "trunks", "random", "--device", "cuda:0"]) == 2


def test_trunk_report_and_table_of_cells(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path / "cache"))
    cfg = tiny_config("supervised", ["train.max_steps=2", "data.num_train=64",
                                     "data.num_test=32", "data.num_classes=4"])
    build_run(cfg, tmp_path / "sup").fit()
    out = tmp_path / "trunks.json"
    assert main(["study", "trunks", str(tmp_path / "sup"), "--ceiling-steps", "5",
                 "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert rows[0]["data"] == "own" and 0 <= rows[0]["knn_top1"] <= 1
    assert 0 <= rows[0]["channel_sum_auroc"] <= 1 and 0 <= rows[0]["ceiling_auroc"] <= 1
    assert f"| {tmp_path / 'sup'} | own |" in capsys.readouterr().out
    assert main(["study", "trunks", str(tmp_path / "sup") + ":nope"]) == 2
    assert "must be one of" in capsys.readouterr().err
    assert main(["study", "trunks", str(tmp_path / "sup"), "--json", str(tmp_path / "no" / "t.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["study", "table", "--out", str(tmp_path / "empty")]) == 2
    assert "no study cells" in capsys.readouterr().err


def test_a_seed_of_other_steps_is_refused_and_the_oracle_added_later(tmp_path, monkeypatch):
    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path / "cache"))
    cfg = tiny_config("supervised", ["train.max_steps=2", "data.num_train=64",
                                     "data.num_test=32", "data.num_classes=4"])
    build_run(cfg, tmp_path / "sup").fit()
    base = ["study", "objective", "--trunk", str(tmp_path / "sup"), "--batch", "16",
            "--seeds", "0", "--out", str(tmp_path / "study"), "--quiet"]
    assert main(base + ["--steps", "3"]) == 0
    seed0 = tmp_path / "study" / "sup-own-scd-a1" / "seed0.json"
    before = json.loads(seed0.read_text())
    assert "oracle_mask" not in before
    assert main(base + ["--steps", "4"]) == 2  # not read back as a 4-step result
    assert main(base + ["--steps", "3", "--oracle", "0"]) == 0  # the oracle added to the seed
    after = json.loads(seed0.read_text())
    assert after["history"] == before["history"] and after["oracle_lam"] == 0.5
    assert after["oracle_mask"] >= 0 and after["oracle_inverse"] >= 0


def test_table_row_names_lewels_loss_as_its_own():
    from scd_lab.studies.objective import objective_table
    h = {"auroc": 0.6, "auroc_per_image_unsigned": 0.7, "polarity": 1}
    cell = [{"cell": "c", "history": [h, h], "final_loss": 1.5, "method": "lewel"}] * 2
    assert "(LEWEL loss 1.500 ± 0.000)" in objective_table([cell])
    scd = [dict(r, method="scd", final_loss=0.25) for r in cell]
    assert "| 0.250 ± 0.000 |" in objective_table([scd]) and "LEWEL" not in objective_table([scd])
