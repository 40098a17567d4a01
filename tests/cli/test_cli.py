"""The command line as users call it: every verb in a subprocess, every user error one line.

Each mistake must exit with status 2 and print exactly one line on stderr that names the
problem and the fix, never a traceback. The commands the README shows run in test_readme.py.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from helpers import TINY  # noqa: E402

_spec = importlib.util.spec_from_file_location("data_fixtures",
                                               Path(__file__).parents[1] / "data" / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
fake_imagenet = _fixtures.fake_imagenet  # the fake ImageNet tree of tests/data

REPO = Path(__file__).resolve().parents[2]
SMALL = TINY + ["data.num_train=64", "data.num_test=32", "data.num_classes=4"]


def scd_lab(*args, tmp_path, check=None):
    env = {**os.environ, "SCD_LAB_CACHE": str(tmp_path / "cache"),
           "SCD_LAB_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "scd_lab.cli", *map(str, args)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    if check is not None:
        assert proc.returncode == check, proc.stdout + proc.stderr
    return proc


def one_line_error(proc, *words):
    """Status 2, one line on stderr, no traceback, and the words that name problem and fix."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def sets(*overrides):
    return [a for s in overrides for a in ("--set", s)]


@pytest.mark.slow
def test_help_describes_every_verb_and_argument(tmp_path):
    out = scd_lab("--help", tmp_path=tmp_path, check=0).stdout
    for verb in ("train", "demo", "eval", "data", "presets", "methods"):
        assert verb in out
    ev = scd_lab("eval", "--help", tmp_path=tmp_path, check=0).stdout
    assert "RUN_DIR" in ev and "checkpoints/last.pt" in ev
    demo = scd_lab("demo", "--help", tmp_path=tmp_path, check=0).stdout
    assert "folder of the runs" in demo and "comma-separated methods" in demo
    assert "--epochs" in demo


@pytest.mark.slow
def test_presets_and_methods(tmp_path):
    assert "cpu" in scd_lab("presets", tmp_path=tmp_path, check=0).stdout
    names = scd_lab("methods", tmp_path=tmp_path, check=0).stdout.split()
    assert names == ["byol", "scd-byol", "moco", "scd-moco", "lewel-byol", "lewel-moco",
                     "supervised"]


@pytest.mark.slow
def test_data_synthetic_and_in100_as_users_call_them(tmp_path, fake_imagenet):
    proc = scd_lab("data", "synthetic", "--split", "easy", "--set", "num_train=6", "--set",
                   "num_test=2", "--set", "image_size=16", "--cache-dir", tmp_path / "c",
                   "--gallery", tmp_path / "g.png", tmp_path=tmp_path, check=0)
    assert "train 6, test 2" in proc.stdout and (tmp_path / "g.png").is_file()
    root, _ = fake_imagenet
    proc = scd_lab("data", "in100", "--imagenet-root", root, "--out", tmp_path / "in100",
                   tmp_path=tmp_path)
    assert proc.returncode == 1 and "MISSING" in proc.stdout  # a report, not a traceback
    assert "Traceback" not in proc.stderr


SLOW = pytest.mark.slow  # each case starts Python and torch (2-3 s): the fast suite keeps one


@pytest.mark.parametrize("args,words", [
    (["data", "synthetic", "--set", "clutterr=8"], ["clutterr", "clutter"]),
    pytest.param(["data", "synthetic", "--split", "nope"], ["nope", "default"], marks=SLOW),
    pytest.param(["data", "in100", "--imagenet-root", "missing", "--out", "o"],
                 ["missing", "train/"], marks=SLOW),
    pytest.param(["train", "--set", "method.alpah=1"], ["method.alpah", "did you mean 'alpha'"],
                 marks=SLOW),
    pytest.param(["train", "--method", "simclr"], ["simclr", "byol"], marks=SLOW),
    pytest.param(["train", "--preset", "gpu"], ["gpu", "cpu"], marks=SLOW),
    pytest.param(["train", "--config", "nope.yaml"], ["nope.yaml", "does not exist"],
                 marks=SLOW),
    pytest.param(["train", "--set", "data.dataset=imagenet100", "--set", "data.root=nowhere"],
                 ["nowhere", "scd-lab data in100"], marks=SLOW),
    pytest.param(["train", "--set", "train.batch_size=100000"],
                 ["100000", "lower the batch size"], marks=SLOW),
    pytest.param(["eval", "nowhere"], ["nowhere", "scd-lab train"], marks=SLOW),
    pytest.param(["train", "--resume", "nowhere"], ["nowhere", "scd-lab train"], marks=SLOW),
])
def test_user_errors_are_one_line(tmp_path, args, words):
    one_line_error(scd_lab(*args, tmp_path=tmp_path), *words)


def test_demo_refuses_a_budget_that_is_not_positive(tmp_path, capsys):
    from scd_lab.cli import main  # in process: the refusal comes before any data or training
    for budget in ("-1", "0", "nan"):
        assert main(["demo", "--budget-min", budget, "--out", str(tmp_path / "demo")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--budget-min" in err[0] and "positive number of minutes" \
            in err[0], err
    assert not (tmp_path / "demo").exists()  # nothing was made


@pytest.mark.slow
def test_demo_rejects_an_unknown_method(tmp_path):
    proc = scd_lab("demo", "--methods", "byol,simclr", tmp_path=tmp_path)
    assert proc.returncode == 2 and "unknown method 'simclr'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_train_eval_resume_and_refusals(tmp_path):
    run = tmp_path / "run"
    args = ["train", *sets(*SMALL, "train.max_steps=4", "train.knn_every=1"), "--out", run]
    # a run stopped before its first checkpoint: eval says what to do
    (run).mkdir()
    (run / "config.yaml").write_text("preset: cpu\n")
    one_line_error(scd_lab("eval", run, tmp_path=tmp_path), "no checkpoint yet", "--resume")
    one_line_error(scd_lab(*args, tmp_path=tmp_path), "stopped run", "--resume")
    (run / "config.yaml").unlink()
    run.rmdir()
    out = scd_lab(*args, tmp_path=tmp_path, check=0).stdout
    assert "4 steps" in out and "kNN top-1" in out
    metrics = (run / "metrics.jsonl").read_text()
    ev = json.loads(scd_lab("eval", run, tmp_path=tmp_path, check=0).stdout)
    assert ev["step"] == 4 and ev["epoch"] == 1.0 and 0 <= ev["knn_top1"] <= 1
    summary = json.loads((run / "summary.json").read_text())
    assert ev["knn_top1"] == pytest.approx(summary["knn_top1"])
    assert (run / "metrics.jsonl").read_text() == metrics  # eval writes nothing
    # training again into a finished run is refused, and nothing is lost
    one_line_error(scd_lab(*args, tmp_path=tmp_path), "finished run", "another --out")
    assert (run / "metrics.jsonl").read_text() == metrics
    # resuming a finished run trains nothing more
    assert "4 steps" in scd_lab("train", "--resume", run, tmp_path=tmp_path, check=0).stdout


@pytest.mark.slow
def test_default_run_folder_is_the_runs_root(tmp_path):
    scd_lab("train", *sets(*SMALL, "train.max_steps=2", "train.knn_every=0",
                           "train.snapshot_every=0"), "--method", "moco",
            tmp_path=tmp_path, check=0)
    assert (tmp_path / "runs" / "cpu-moco" / "summary.json").is_file()
