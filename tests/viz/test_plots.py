"""The static saliency figure: every row names its run and map, the epoch (epochs completed,
as everywhere else), the map's AUROC, a mark on inverted maps, and a colour bar. The learning
curves: one panel per metric, each restricted to the runs asked for."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from scd_lab.runs import build_run, load_run
from scd_lab.viz import plot_learning_curves, plot_saliency_evolution  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from helpers import tiny_config, tiny_data  # noqa: E402


def test_rows_name_run_map_epoch_auroc_and_polarity(tmp_path):
    data = tiny_data()
    for name in ("scd-byol", "lewel-byol"):
        build_run(tiny_config(name, ["train.epochs=1"]), tmp_path / name, data=data).fit()
    # make the last saliency record of the SCD run say "inverted"
    metrics = tmp_path / "scd-byol" / "metrics.jsonl"
    recs = [json.loads(line) for line in metrics.read_text().splitlines()]
    last = [r for r in recs if r["kind"] == "saliency"][-1]
    last["scd_fg/auroc"] = 0.3
    metrics.write_text("".join(json.dumps(r) + "\n" for r in recs))
    fig = plot_saliency_evolution({n: str(tmp_path / n) for n in ("scd-byol", "lewel-byol")},
                                  n_images=4, n_snapshots=2)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels[:2] == ["image", "mask"]
    assert "scd-byol\nscd_fg\nepoch 1\nAUROC 0.30\n(inverted)" in labels
    assert any(lab.startswith("scd-byol\nchannel_sum\nepoch 1\nAUROC") for lab in labels)
    assert any(lab.startswith("lewel-byol\nchannel_sum\nepoch 1\nAUROC") for lab in labels)
    assert any(lab.startswith("lewel-byol\nlewel_maxvar\nepoch 0\nAUROC") for lab in labels)
    inverted = next(ax for ax in fig.axes if "(inverted)" in ax.get_ylabel())
    assert inverted.yaxis.label.get_color() == "tab:red"
    assert len(fig.axes) == len(labels) * 4 + 1  # every panel, and one colour bar
    assert load_run(tmp_path / "scd-byol", with_data=False).epoch == 1.0  # the same epoch


def test_learning_curves_one_panel_per_metric_restricted_to_its_runs(tmp_path):
    def fake_run(name, loss_d):  # metrics.jsonl is all the figure reads
        recs = [{"kind": "knn", "epoch": e, "knn_top1": 0.1 + 0.1 * e} for e in (0, 1, 2)]
        recs += [{"kind": "train", "epoch": e, "loss": 2.0 - e, "loss_c": 1.5 - e,
                  **({"loss_d": 0.5} if loss_d else {})} for e in (0.5, 1.0, 1.5, 2.0)]
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in recs) + '{"kind": "tr')  # torn last line
        return str(tmp_path / name)

    runs = {"byol": fake_run("byol", False), "scd-byol": fake_run("scd-byol", True)}
    fig = plot_learning_curves(runs, [("kNN", "knn", "knn_top1"),
                                      ("L_c", "train", "loss_c", ["byol"]),
                                      ("L_d", "train", "loss_d")],
                               styles={"scd-byol": {"ls": "--", "color": "tab:red"}})
    knn, lc, ld = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["kNN", "L_c", "L_d"]
    assert [line.get_label() for line in knn.lines] == ["byol", "scd-byol"]
    assert list(knn.lines[1].get_ydata()) == pytest.approx([0.1, 0.2, 0.3])
    assert knn.lines[1].get_linestyle() == "--" and knn.lines[1].get_color() == "tab:red"
    assert [line.get_label() for line in lc.lines] == ["byol"]  # only the runs asked for
    assert [line.get_label() for line in ld.lines] == ["scd-byol"]  # BYOL has no L_d
    assert list(ld.lines[0].get_xdata()) == [0.5, 1.0, 1.5, 2.0]


def test_the_oracle_plot_names_its_one_seed():
    """The oracle runs on one seed (seed 0 in the shipped study): the figure says which."""
    from scd_lab.paths import study_dir
    from scd_lab.studies.objective import read_cells
    from scd_lab.viz.plots import plot_oracle_losses

    cells = read_cells(study_dir())
    fig = plot_oracle_losses(cells)
    ax = fig.axes[0]
    assert ax.get_title() == "L_d reached on seed 0 only (the seed with the oracle)"
    oracle = {"final_loss": 0.1, "oracle_mask": 0.2, "oracle_inverse": 0.3}
    mixed = plot_oracle_losses({"a": [{**oracle, "seed": 0}], "b": [{**oracle, "seed": 2}]})
    labels = [t.get_text() for t in mixed.axes[0].get_xticklabels()]
    assert labels == ["a\nseed 0", "b\nseed 2"] and "one seed per cell" in mixed.axes[0].get_title()
    matplotlib.pyplot.close("all")
