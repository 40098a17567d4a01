"""TensorBoard export: scalars and map images at the training steps, read back."""
from __future__ import annotations

import argparse

import pytest

pytest.importorskip("tensorboard", reason="the tensorboard package is not installed "
                                         "(pip install -e .[dev])")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    IMAGES, SCALARS, EventAccumulator)

from scd_lab.cli.export_tb import register  # noqa: E402
from scd_lab.viz.tensorboard import export_tensorboard  # noqa: E402


def _read(logdir):
    acc = EventAccumulator(str(logdir), size_guidance={SCALARS: 0, IMAGES: 0})
    acc.Reload()
    return acc


def test_scalars_and_images(make_run, tmp_path):
    runs = {"scd": make_run("scd"), "lewel": make_run("lewel", method="lewel-byol",
                                                      maps=("lewel_maxvar", "channel_sum"))}
    out = export_tensorboard(runs, tmp_path / "tb", display=24)
    assert set(out) == {"scd", "lewel"}
    acc = _read(out["scd"])
    tags = acc.Tags()
    assert {"saliency/scd_fg/auroc", "train/loss", "train/collapsed"} <= set(tags["scalars"])
    loss = acc.Scalars("train/loss")
    assert [e.step for e in loss] == [0, 2, 4, 6]
    assert loss[-1].value == pytest.approx(0.25)
    assert [e.value for e in acc.Scalars("saliency/scd_fg/auroc")] == pytest.approx([0.6] * 4)
    assert set(tags["images"]) == {"maps/scd_fg", "maps/channel_sum"}
    imgs = acc.Images("maps/scd_fg")
    assert [e.step for e in imgs] == [0, 2, 4, 6]
    assert (imgs[0].width, imgs[0].height) == (4 * 24, 2 * 24)  # 4 images over 4 overlays
    assert imgs[0].encoded_image_string[:4] == b"\x89PNG"
    assert "maps/lewel_maxvar" in _read(out["lewel"]).Tags()["images"]
    # exporting again replaces, not appends
    export_tensorboard(runs, tmp_path / "tb", display=24)
    assert len(_read(out["scd"]).Scalars("train/loss")) == 4


def test_register_adds_export_tb(make_run, tmp_path, capsys):
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="command"))
    run = make_run("r")
    args = p.parse_args(["export-tb", str(run), "--out", str(tmp_path / "tb")])
    assert args.fn(args) == 0
    printed = capsys.readouterr().out
    assert "tensorboard --logdir" in printed and (tmp_path / "tb" / "r").is_dir()
