"""The research studies that were scripts under benchmarks/ (conditions, ceiling, by-class,
channel-sum), run through ``scd-lab study`` on tiny runs, and their one-line errors."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from scd_lab.cli import main
from scd_lab.rundir import RunDir
from scd_lab.runs import Run

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from helpers import TINY  # noqa: E402

SMALL = TINY + ["data.num_train=64", "data.num_test=32", "data.num_classes=4",
                "train.max_steps=4"]


@pytest.fixture(scope="module")
def conditions(tmp_path_factory):
    out = tmp_path_factory.mktemp("conditions")
    argv = ["study", "conditions", "--out", str(out), "--variant", "base:"]
    for s in SMALL:
        argv += ["--common", s]
    return out, argv


def test_conditions_checks_every_variant_then_trains_each(conditions, capsys):
    out, argv = conditions
    bad = argv + ["--variant", "broken:method.name=no-such-method"]
    assert main(bad) == 2  # one line, before any variant trains
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "method.name='no-such-method'" in err
    assert not (out / "base").exists()
    assert main(argv) == 0
    assert "[base]" in capsys.readouterr().out
    table = (out / "results.md").read_text()
    assert table.startswith("| variant | map |") and "| base | scd_fg |" in table
    assert RunDir(out / "base").is_finished()


def test_ceiling_by_class_on_a_finished_run(conditions, tmp_path, capsys):
    out, argv = conditions
    if not RunDir(out / "base").is_finished():
        main(argv)
    run = str(out / "base")
    assert main(["study", "by-class", run]) == 0
    text = capsys.readouterr().out
    assert "mean per-image AUROC" in text and text.count("\n| ") >= 2
    assert main(["study", "by-class", run, "--map", "no_such_map"]) == 2
    assert "no map 'no_such_map'" in capsys.readouterr().err
    assert main(["study", "ceiling", run, "--n", "32", "--steps", "3",
                 "--reference", str(tmp_path / "ref")]) == 0
    row = capsys.readouterr().out.splitlines()[-1]
    assert row.startswith(f"| {run} | scd_fg |") and row.count(" / ") == 2
    ref = RunDir(tmp_path / "ref" / "ceiling-base")
    snap = ref.snapshots()
    assert len(snap) == 1 and set(snap[0]["maps"]) == {"ceiling", "scd_fg"}
    assert "ceiling/auroc" in ref.metrics("saliency")[0]
    # the explorer shows the folder's supervised map first, not the run's own map
    assert Run.open(ref.path).default_map == "ceiling"


def test_channel_sum_baseline_lines(capsys):
    assert main(["study", "channel-sum", "--splits", "default", "--n", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("untrained ResNet-18") and len(lines) == 6
    assert [ln.split()[1] for ln in lines[2:4]] == ["channel-sum", "cs"]
