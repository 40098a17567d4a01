"""The explorer's logic, without a browser: state -> arrays, messages, caching, widgets."""
from __future__ import annotations

import pytest
import torch

from scd_lab.errors import RunError
from scd_lab.rundir import RunDir
from scd_lab.viz.explorer import (INVERTED_MARK, Explorer, ExplorerModel, ExplorerState,
                                  ProbeMismatchError, reference_runs)
from scd_lab.viz.explorer.model import clearest_image


@pytest.fixture
def two_runs(make_run):
    return {"SCD": make_run("scd"),
            "LEWEL": make_run("lewel", method="lewel-byol", maps=("lewel_maxvar", "channel_sum"),
                              aurocs={"lewel_maxvar": [0.6, 0.55, 0.45, 0.3]})}


def test_state_selects_the_snapshot_image_and_map(two_runs):
    model = ExplorerModel(two_runs)
    assert model.timeline == [0.0, 1.0, 2.0, 3.0]
    st = model.default_state()
    assert st.epoch == 3.0 and st.maps == {"SCD": "scd_fg", "LEWEL": "lewel_maxvar"}
    snaps = model.view("SCD").snapshots
    p = model.panel(st.with_(epoch=1.0, image=2), "SCD")
    assert (p.snapshot, p.step, p.epoch, p.map_name) == (1, 2, 1.0, "scd_fg")
    assert torch.equal(p.map, snaps[1]["maps"]["scd_fg"][2])
    # between snapshots: the last one at or before; a different map: its array
    p = model.panel(st.with_(epoch=2.5, image=0, maps={"SCD": "channel_sum"}), "SCD")
    assert p.snapshot == 2 and torch.equal(p.map, snaps[2]["maps"]["channel_sum"][0])
    assert p.auroc == pytest.approx(0.6) and p.best_iou == pytest.approx(0.32)
    assert p.mask is not None and p.mask.shape == (16, 16)
    assert model.panel(st.with_(show_mask=False), "SCD").mask is None


def test_the_default_image_is_the_one_with_the_largest_object():
    masks = torch.zeros(4, 8, 8, dtype=torch.uint8)
    masks[0, :1, :1] = 1  # a speck
    masks[1, :4, :4] = masks[3, 4:, 4:] = 1  # a tie: the first wins
    masks[2, :2, :2] = 1
    assert clearest_image(masks, [0, 1, 2, 3]) == 1 and clearest_image(masks, [0, 2, 3]) == 3
    assert clearest_image(None, [2, 3]) == 2 and clearest_image(masks, []) == 0
    # the demo's first probe image shows a speck of its object (3 % of the pixels): not it
    model = ExplorerModel(reference_runs("demo"), images=8)
    image = model.default_state().image
    assert image != 0 and image == clearest_image(model.masks, model.images)


def test_inverted_marker_and_flip(two_runs):
    model = ExplorerModel(two_runs)
    st = model.default_state()
    low = model.panel(st, "LEWEL")
    assert low.auroc == pytest.approx(0.3) and low.inverted and INVERTED_MARK in low.caption()
    ok = model.panel(st.with_(epoch=0.0), "LEWEL")
    assert not ok.inverted and INVERTED_MARK not in ok.caption()
    flipped = model.panel(st.with_(flip={"LEWEL": True}), "LEWEL")
    assert "AUROC 0.700 (1 − map)" in flipped.caption()
    a = model.heat("LEWEL", "lewel_maxvar", 3, 0, False)
    b = model.heat("LEWEL", "lewel_maxvar", 3, 0, True)
    assert (a != b).any() and (a[0, 0] == b[-1, 0]).all()  # the ramp runs the other way


def test_image_bytes_change_with_epoch_and_are_cached(two_runs):
    ex = Explorer(two_runs, display=64)
    first = {k: bytes(w.value) for k, w in ex.images_w.items()}
    curves = {k: bytes(w.value) for k, w in ex.curves_w.items()}
    assert all(v.startswith(b"\x89PNG") for v in first.values())
    ex.set_epoch_index(0)
    assert ex.state.epoch == 0.0
    assert all(ex.images_w[k].value != first[k] for k in first)
    assert all(ex.curves_w[k].value != curves[k] for k in curves)  # the epoch marker moved
    assert INVERTED_MARK not in ex.captions["LEWEL"].value
    ex.set_epoch_index(3)
    assert {k: bytes(w.value) for k, w in ex.images_w.items()} == first  # same state, same bytes
    assert INVERTED_MARK in ex.captions["LEWEL"].value
    before = bytes(ex.images_w["SCD"].value)
    ex.set_image(1)
    assert ex.images_w["SCD"].value != before
    before = bytes(ex.images_w["SCD"].value)
    ex.set_map("SCD", "channel_sum")
    assert ex.images_w["SCD"].value != before and "channel_sum" in ex.captions["SCD"].value
    before = bytes(ex.images_w["SCD"].value)
    ex.opacity.value = 0.2
    assert ex.images_w["SCD"].value != before
    assert ex.last_update_s > 0 and len(ex.update_times) >= 6
    assert ex.play.max == ex.epoch_slider.max == 3


def test_run_without_snapshots(make_run, tmp_path):
    runs = {"ok": make_run("ok")}
    empty = make_run("empty", epochs=0)
    for f in (empty / "snapshots").glob("*.pt"):
        f.unlink()
    runs["empty"] = empty
    model = ExplorerModel(runs)
    p = model.panel(model.default_state(), "empty")
    assert p.map is None and "no snapshots" in p.message
    ex = Explorer(runs, display=32)
    assert "no snapshots" in ex.notes_w["empty"].value and "Refresh" in ex.notes_w["empty"].value
    assert bytes(ex.images_w["empty"].value).startswith(b"\x89PNG")  # the image alone


def test_run_without_masks(make_run):
    model = ExplorerModel({"m": make_run("m", masks=False)})
    p = model.panel(model.default_state(), "m")
    assert p.mask is None and p.auroc is None and p.map is not None
    assert "AUROC n/a" in p.caption()
    assert any("no ground-truth masks" in n for n in model.view("m").notes())
    Explorer({"m": model.view("m").path}, display=32)  # builds, no outline


def test_different_probe_sets_name_both_runs(make_run):
    a, b = make_run("a"), make_run("b", seed=1)
    with pytest.raises(ProbeMismatchError) as err:
        ExplorerModel({"first": a, "second": b})
    msg = str(err.value)
    assert "'first'" in msg and "'second'" in msg and str(a) in msg and str(b) in msg
    with pytest.raises(ProbeMismatchError, match="8, 3, 16, 16"):
        ExplorerModel([a, make_run("c", n=8)])


def test_run_being_written(make_run):
    path = make_run("live", epochs=1, finished=False)
    torn = path / "snapshots" / "step_0000004.pt"
    torn.write_bytes(b"PK\x03\x04 half a zip")
    ex = Explorer([path], display=32)
    model = ex.model
    assert model.timeline == [0.0, 1.0] and model.view("live").skipped == [torn.name]
    assert "unreadable" in ex.notes_w["live"].value and "not finished" in ex.notes_w["live"].value
    torn.unlink()
    rd = RunDir(path)
    rd.save_snapshot(4, 2, {"scd_fg": torch.rand(4, 4, 4), "channel_sum": torch.rand(4, 4, 4)})
    rd.log({"kind": "saliency", "step": 4, "epoch": 2.0, "scd_fg/auroc": 0.2,
            "scd_fg/best_iou": 0.1})
    assert ex.refresh() == ["live"]
    assert model.timeline == [0.0, 1.0, 2.0] and ex.epoch_slider.max == 2
    assert ex.epoch_slider.value == 2 and ex.state.epoch == 2.0  # followed the newest
    assert INVERTED_MARK in ex.captions["live"].value and "unreadable" not in ex.notes_w["live"].value
    assert ex.refresh() == []


def test_labels_and_errors(make_run, tmp_path):
    model = ExplorerModel([make_run("x"), make_run("y")])
    assert model.labels == ["x", "y"]
    with pytest.raises(RunError, match="not a folder"):
        ExplorerModel([tmp_path / "nope"])
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(RunError, match="probe"):
        ExplorerModel({"bare": bare})
    # a reference run without config.yaml: the map comes from the snapshots
    ref = make_run("ref", method="lewel-byol", maps=("channel_sum", "lewel_maxvar"), config=False)
    assert ExplorerModel([ref]).view("ref").default_map == "lewel_maxvar"
    assert ExplorerState().with_(image=2).image == 2


def test_runs_are_opened_without_their_method(two_runs):
    ex = Explorer(two_runs, display=32)
    ex.set_epoch_index(0)
    ex.refresh()
    assert list(ex.model.runs) == ["SCD", "LEWEL"]
    assert all(r._method is None for r in ex.model.runs.values())
    assert ex.model.view("LEWEL").method_name == "lewel-byol"
    with pytest.raises(KeyError, match="no run labelled 'x'"):
        ex.model.view("x")
