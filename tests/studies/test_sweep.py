"""``scd-lab sweep``: a resumable grid of short runs, summarised with standard errors."""
from __future__ import annotations

import math
import sys
from pathlib import Path


from scd_lab.studies import sweep
from scd_lab.cli import main
from scd_lab.config import apply_overrides

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from helpers import tiny_config  # noqa: E402

SMALL = ["train.max_steps=2", "data.num_train=64", "data.num_test=32", "data.num_classes=4"]


def test_grids_hold_the_papers_settings():
    assert [c for c, _ in sweep.GRIDS["lambda"]] == [
        "lambda=0", "lambda=0.1", "lambda=0.5", "lambda=1", "lambda=2"]
    alphas = [float(c.split("=")[1]) for c, _ in sweep.GRIDS["alpha"]]
    assert alphas[0] == 0 and alphas[-1] == 1.4 and 1.0 in alphas
    cfg = apply_overrides(tiny_config(), dict(sweep.GRIDS["terms"])["bg only"])
    assert cfg.method.fg_term is False and cfg.method.bg_term is True
    # the paper's default is one run per seed, shared by the three grids
    shared = {sweep.cell_dir("R", g, c, 0) for g, c in
              (("alpha", "alpha=1"), ("lambda", "lambda=0.5"), ("terms", "fg+bg"))}
    assert shared == {Path("R/default/seed0")}


def test_mean_se_by_hand():
    m, se, n = sweep.mean_se([0.5, 0.7, 0.6])
    assert (round(m, 6), round(se, 6), n) == (0.6, round(0.1 / math.sqrt(3), 6), 3)
    assert math.isnan(sweep.mean_se([0.4])[1]) and sweep.mean_se([None])[2] == 0


def test_within_noise_names_only_real_differences():
    summary = [{"cell": "a", "knn": 0.30, "knn_se": 0.01},
               {"cell": "b", "knn": 0.31, "knn_se": 0.01},   # 0.7 se: noise
               {"cell": "c", "knn": 0.40, "knn_se": 0.01}]   # 7 se from a
    said = sweep.within_noise(summary)
    assert len(said) == 2 and said[0].startswith("c vs a: +0.100")


def test_grid_is_resumable_and_seeds_differ(tmp_path, monkeypatch):
    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path / "cache"))
    base = tiny_config("scd-byol", SMALL)
    cells = ["fg+bg", "fg only"]
    rows = sweep.run_grid("terms", (0, 1), tmp_path, base, cells, log=None)
    assert [(r["cell"], r["seed"]) for r in rows] == [
        ("fg+bg", 0), ("fg+bg", 1), ("fg only", 0), ("fg only", 1)]
    assert rows[0]["auroc"] != rows[1]["auroc"]  # another seed, another run
    summary = sweep.summarise(rows)
    m, se, _ = sweep.mean_se([rows[0]["knn"], rows[1]["knn"]])
    assert summary[0]["n"] == 2 and summary[0]["knn"] == m and summary[0]["knn_se"] == se
    first = Path(rows[0]["dir"]) / "summary.json"
    mtime = first.stat().st_mtime
    again = sweep.run_grid("terms", (0, 1), tmp_path, base, cells, log=None)
    assert again == rows and first.stat().st_mtime == mtime  # read back, not retrained
    assert "| fg only | 2 |" in sweep.summary_markdown(summary)


def test_cli_bad_cell_is_one_line(capsys):
    assert main(["sweep", "terms", "--cells", "fg"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'fg' is not a cell of terms" in err
    assert main(["sweep", "terms", "--seeds", "0,x"]) == 2
    assert "--seeds '0,x'" in capsys.readouterr().err


def test_cli_runs_grids_and_draws_the_figure(tmp_path, capsys, monkeypatch):
    from helpers import TINY
    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path / "cache"))
    sets = [a for o in TINY + SMALL for a in ("--set", o)]
    png = tmp_path / "sweep.png"
    args = ["sweep", "terms", "lambda", "--cells", "fg+bg,lambda=0", "--seeds", "0",
            "--out", str(tmp_path / "grid"), "--plot", str(png), "--json",
            str(tmp_path / "s.json"), "--quiet", *sets]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| fg+bg | 1 |" in out and "| lambda=0 | 1 |" in out
    assert png.stat().st_size > 1000 and (tmp_path / "s.json").is_file()
    assert main(args[:-len(sets)] + ["--plot", str(tmp_path / "no" / "x.png")] + sets) == 2
    assert "does not exist" in capsys.readouterr().err
