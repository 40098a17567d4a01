"""Static grids: rows and labels, PNG and PDF files."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from scd_lab.viz.grids import epoch_grid, saliency_grid, save_figure  # noqa: E402


def _labels(fig):
    return [ax.get_ylabel() for ax in fig.axes
            if ax.get_ylabel() and not ax.get_ylabel().startswith("map (")]


def test_saliency_grid(make_run, tmp_path):
    runs = {"SCD": make_run("scd"),
            "LEWEL": make_run("lewel", method="lewel-byol", maps=("lewel_maxvar",),
                              aurocs={"lewel_maxvar": [0.5, 0.5, 0.5, 0.3]})}
    fig = saliency_grid(runs, images=3)
    labels = _labels(fig)
    assert labels[:2] == ["image", "mask"]
    assert "SCD\nscd_fg\nepoch 3\nAUROC 0.60" == labels[2]
    assert "AUROC 0.30" in labels[3] and "▼ inverted" in labels[3]
    assert any(ax.get_ylabel() == "map (min-max per image)" for ax in fig.axes)  # colour bar
    png, pdf = save_figure(fig, tmp_path / "out" / "grid")
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
    fig = saliency_grid(runs, images=[1, 2], epoch=1, map_names={"SCD": ["scd_fg", "channel_sum"]})
    assert [lab.split("\n")[1] for lab in _labels(fig)[2:]] == ["scd_fg", "channel_sum",
                                                                "lewel_maxvar"]
    assert "epoch 1" in _labels(fig)[2]
    plt.close("all")


def test_epoch_grid_without_masks(make_run, tmp_path):
    fig = epoch_grid([make_run("nomask", masks=False)], image=1, epochs=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[:3] == ["#1 · dog", "ep 0", "ep 3"]
    assert "AUROC n/a" in _labels(fig)[0]
    assert all(p.stat().st_size > 0 for p in save_figure(fig, tmp_path / "e.png"))
    plt.close("all")
