"""The explorer's HTML export and feature space, without a browser: what the file holds, the
neighbours and t-SNE layouts, the CLI verb's refusals. (The page in a real browser:
``tests/test_site.py``.)"""
from __future__ import annotations

import json
import re

import pytest
import torch

from scd_lab.viz.explorer import ExplorerModel
from scd_lab.viz.explorer.export import export_data, export_html
from scd_lab.viz.explorer.space import NO_FEATURES, neighbours, tsne_path


def _data(path) -> dict:
    text = path.read_text()
    return json.loads(re.search(r'id="data">(.*?)</script>', text, re.S).group(1)
                      .replace("<\\/", "</"))


def test_neighbours_are_the_most_similar_other_rows():
    f = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]])
    nn = neighbours(f, k=2)
    assert nn.shape == (5, 2)
    assert nn[0, 0] == 1 and nn[2, 0] == 3 and nn[3, 0] == 2
    assert all(i not in row.tolist() for i, row in enumerate(nn))  # never itself
    assert neighbours(f[:2], k=5).shape == (2, 1)  # capped at P - 1


def test_tsne_path_keeps_gaps_and_separates_classes():
    g = torch.Generator().manual_seed(0)
    cls = torch.arange(20) % 2
    f = torch.eye(6)[cls] * 5 + 0.1 * torch.randn(20, 6, generator=g)
    out = tsne_path([None, f, f])
    assert out[0] is None and out[1].shape == (20, 2)
    assert out[1].min() >= 0 and out[1].max() <= 1
    for xy in map(torch.as_tensor, out[1:]):  # the nearest point is mostly of the same class
        d = torch.cdist(xy, xy).fill_diagonal_(float("inf"))
        assert (cls[d.argmin(1)] == cls).float().mean() >= 0.9


def test_export_holds_every_view_and_needs_no_network(make_run, tmp_path):
    runs = {"SCD": make_run("a", features=True, n=6),
            "BYOL": make_run("b", method="byol", maps=("channel_sum",), features=True, n=6),
            "old": make_run("c", method="byol", maps=("channel_sum",), n=6)}
    model = ExplorerModel(runs, display=32)
    path = export_html(model, tmp_path / "out" / "x.html")
    text = path.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched
    d = _data(path)
    assert d["timeline"] == [0.0, 1.0, 2.0, 3.0] and len(d["images"]["src"]) == 6
    scd, byol, old = d["runs"]
    assert set(scd["strips"]) == {f"{m}|{s}|{f}" for m in ("scd_fg", "channel_sum")
                                  for s in range(4) for f in (0, 1)}
    assert scd["strips"]["scd_fg|0|0"].startswith("data:image/webp;base64,")
    # captions come from the model's Panel, per epoch, map and polarity
    cap, inverted, snap = scd["captions"]["scd_fg|2|1"]
    assert "epoch 2" in cap and "(1 − map)" in cap and snap == 2
    assert "marker" in scd["curves"]["scd_fg"] and "AUROC" in scd["curves"]["scd_fg"]
    assert scd["scatter"][3].count("<circle data-i=") == 6
    assert all(len(near) == 5 for near in byol["near"][3])
    assert old["scatter"] == [None] * 4 and old["space_note"] == NO_FEATURES
    assert scd["space_note"] == ""


def test_export_refuses_runs_without_snapshots(make_run, tmp_path):
    run = make_run("a", epochs=0)
    for f in (run / "snapshots").glob("*.pt"):
        f.unlink()
    with pytest.raises(Exception, match="no snapshots|nothing to export"):
        export_data(ExplorerModel({"a": run}))


def test_cli_explore_writes_the_page_and_refuses_a_missing_run(make_run, tmp_path, capsys):
    from scd_lab.cli import main
    run = make_run("a", features=True)
    out = tmp_path / "e.html"
    assert main(["explore", "--html", str(out), str(run)]) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    assert main(["explore", "--html", str(out), str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a run folder" in err[0]


def test_widget_shows_the_feature_space_and_exports(make_run, tmp_path):
    pytest.importorskip("ipywidgets")
    from scd_lab.viz import Explorer
    ex = Explorer({"new": make_run("a", features=True, n=6),
                   "old": make_run("b", n=6)}, display=32)
    new, old = ex.space_w["new"].value, ex.space_w["old"].value
    assert new.count("<circle data-i=") == 6 and 'class="sel"' in new
    assert new.count("<img src='data:image/png") == 5  # the neighbours
    assert "no embeddings" in old
    ex.set_image(3)  # the ring follows the picker
    assert '<circle data-i="3" class="sel"' in ex.space_w["new"].value
    assert ex.export_html(tmp_path / "w.html").stat().st_size > 0
