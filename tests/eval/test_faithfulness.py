"""Faithfulness curves on a constructed encoder whose embedding is the mean colour inside a known
mask, so every value can be worked out by hand; then the protocol and the command on a tiny run.

The image is 4x4: the left half (the mask, 8 pixels) red (200, 0, 0), the right half blue
(0, 0, 200); the fill (the mean colour) is (100, 0, 100). With j of the 8 mask pixels filled
the embedding is (200 - 12.5 j, 0, 12.5 j), whose cosine with the clean (200, 0, 0) is
1 for j = 0, 3/sqrt(10) for j = 4 and 1/sqrt(2) for j = 8.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

from scd_lab.eval.faithfulness import (baseline_fill, faithfulness_curves, fractions_for,
                                       pixel_ranks)

MASK = torch.zeros(4, 4, dtype=torch.bool)
MASK[:, :2] = True
C0, C4, C8 = 1.0, 3 / math.sqrt(10), 1 / math.sqrt(2)


def image() -> torch.Tensor:
    x = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    x[:, 0][:, MASK] = 200
    x[:, 2][:, ~MASK] = 200
    return x  # (1, 3, 4, 4)


def encode(x: torch.Tensor) -> torch.Tensor:
    """The mean colour inside MASK: (B, 3, 4, 4) -> (B, 3)."""
    return x.float()[:, :, MASK].mean(-1)


def trapezoid(values, h=0.25) -> float:
    return h * (values[0] / 2 + sum(values[1:-1]) + values[-1] / 2)


# bank: class 0 along (1, 0, 0), class 1 along (1, 0, 2). j = 0 or 4 -> class 0, j = 8 -> 1
BANK = torch.tensor([[1.0, 0, 0], [1.0, 0, 2]])
BANK_LABELS = torch.tensor([0, 1])


def curves(maps, **kw):
    return faithfulness_curves(encode, image(), maps, labels=torch.tensor([0]), bank=BANK,
                               bank_labels=BANK_LABELS, fractions=fractions_for(4), k=1, **kw)


def test_mask_as_map_gives_the_hand_computed_curves_and_areas():
    res = curves(MASK.float()[None])
    assert res["fractions"] == [0, 0.25, 0.5, 0.75, 1]
    # k = 0, 4, 8, 12, 16 pixels; mask pixels filled j: fg first 0,4,8,8,8; bg first 0,0,0,4,8
    expect = {"delete_fg_first": [C0, C4, C8, C8, C8], "delete_bg_first": [C0, C0, C0, C4, C8],
              "insert_fg_first": [C8, C4, C0, C0, C0], "insert_bg_first": [C8, C8, C8, C4, C0]}
    for order, values in expect.items():
        assert res["curves"][order]["cosine"] == pytest.approx(values, abs=1e-6), order
        assert res["auc"][order]["cosine"] == pytest.approx(trapezoid(values), abs=1e-6)
    assert res["auc"]["delete_fg_first"]["cosine"] == pytest.approx(0.804113, abs=1e-6)
    assert res["auc"]["delete_bg_first"]["cosine"] == pytest.approx(0.950559, abs=1e-6)
    assert res["gap"]["cosine"] == pytest.approx(0.950559 - 0.804113, abs=1e-5)
    assert res["clean"] == {"cosine": pytest.approx(1.0), "knn": 1.0}
    assert res["drop"]["delete_bg_first"]["cosine"] == pytest.approx(1 - 0.950559, abs=1e-5)
    # kNN: right while j <= 4
    assert res["curves"]["delete_fg_first"]["knn"] == [1, 1, 0, 0, 0]
    assert res["curves"]["delete_bg_first"]["knn"] == [1, 1, 1, 1, 0]
    assert res["auc"]["delete_fg_first"]["knn"] == pytest.approx(0.375)
    assert res["auc"]["delete_bg_first"]["knn"] == pytest.approx(0.875)
    assert res["gap"]["knn"] == pytest.approx(0.5)


def test_a_low_resolution_map_is_upsampled_bilinearly():
    # 2x2 [[1, 0], [1, 0]] -> columns 1, .75, .25, 0: the mask's columns rank first
    res = curves(torch.tensor([[[1.0, 0], [1.0, 0]]]))
    assert res["curves"]["delete_fg_first"]["cosine"] == pytest.approx([C0, C4, C8, C8, C8])
    assert res["curves"]["delete_bg_first"]["cosine"] == pytest.approx([C0, C0, C0, C4, C8])


def test_the_inverted_map_swaps_the_curves_and_a_constant_map_deletes_in_raster_order():
    mask, inv = curves(MASK.float()[None]), curves(1 - MASK.float()[None])
    assert inv["auc"]["delete_fg_first"] == pytest.approx(mask["auc"]["delete_bg_first"])
    assert inv["gap"]["cosine"] == pytest.approx(-mask["gap"]["cosine"])
    ranks = pixel_ranks(torch.ones(1, 2, 2), (4, 4))
    assert torch.equal(ranks, torch.arange(16)[None])
    # raster order: rows of 2 mask + 2 background pixels, so 4 pixels hold 2 of the mask
    const = curves(torch.ones(1, 4, 4))
    c2 = (200 - 25) / math.hypot(200 - 25, 25)
    assert const["curves"]["delete_fg_first"]["cosine"][1] == pytest.approx(c2)


def test_reference_and_fills():
    ref = torch.tensor([[0.0, 0, 1]])
    res = faithfulness_curves(encode, image(), MASK.float()[None], reference=ref,
                              fractions=[0, 1])
    assert "knn" not in res["auc"]
    assert res["curves"]["delete_fg_first"]["cosine"] == pytest.approx([0, C8])
    assert torch.equal(baseline_fill(image())[0, :, 0, 0], torch.tensor([100, 0, 100],
                                                                        dtype=torch.uint8))
    blur = baseline_fill(image(), "blur")
    assert blur.shape == image().shape and blur.dtype == torch.uint8
    with pytest.raises(ValueError):
        baseline_fill(image(), "zero")
    with pytest.raises(ValueError):
        fractions_for(0)


def test_same_result_twice():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 8, 8), generator=g, dtype=torch.uint8)
    maps = torch.rand(6, 3, 3, generator=g).round()  # many ties
    w = torch.randn(3 * 64, 5, generator=g)

    def enc(x):
        return x.float().flatten(1) @ w

    bank, labels = torch.randn(10, 5, generator=g), torch.arange(10) % 3
    runs = [faithfulness_curves(enc, images, maps, labels=torch.arange(6) % 3, bank=bank,
                                bank_labels=labels, baseline=b) for b in ("mean", "mean", "blur")]
    assert runs[0] == runs[1]
    assert runs[2]["fractions"] == fractions_for(10)


# ------------------------------------------------------------------------------------------
# the protocol and `scd-lab eval faithfulness` on a tiny trained run

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from helpers import tiny_config, tiny_data  # noqa: E402


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from scd_lab.runs import build_run
    mp = pytest.MonkeyPatch()
    mp.setenv("SCD_LAB_CACHE", str(tmp_path_factory.mktemp("cache")))
    torch.manual_seed(0)
    cfg = tiny_config("scd-byol", ["data.num_train=64", "data.num_test=32",
                                   "data.num_classes=4", "train.epochs=1"])
    out = tmp_path_factory.mktemp("runs") / "scd"
    build_run(cfg, out, data=tiny_data()).fit()
    yield out
    mp.undo()


def test_protocol_on_a_run_writes_the_areas_of_every_map(tiny_run):
    from scd_lab.runs import faithfulness_eval
    res = faithfulness_eval(tiny_run, steps=4, num_images=8)
    assert list(res["areas"]) == ["scd_fg", "channel_sum", "centre_prior"]
    for name, areas in res["areas"].items():
        assert set(areas) == {"delete_fg_first", "delete_bg_first", "insert_fg_first",
                              "insert_bg_first"}
        assert all(0 <= a["knn"] <= 1 and -1 <= a["cosine"] <= 1 for a in areas.values())
        # keeping the top n pixels is one image: insertion of fg mirrors deletion of bg
        c = res["curves"][name]["curves"]
        assert c["insert_fg_first"]["cosine"] == c["delete_bg_first"]["cosine"][::-1]
        assert res["gap"][name]["knn"] == pytest.approx(
            areas["delete_bg_first"]["knn"] - areas["delete_fg_first"]["knn"])
    assert res["num_images"] == 8 and res["reference"].startswith("view 2")
    stored = json.loads((tiny_run / "eval" / "faithfulness.json").read_text())
    assert stored["areas"] == json.loads(json.dumps(res["areas"]))
    again = faithfulness_eval(tiny_run, steps=4, num_images=8, save=False)
    assert again["areas"] == res["areas"]


def test_cli_json_table_and_bad_input(tiny_run, capsys):
    from scd_lab.cli import eval as cli
    from scd_lab.cli import main
    from scd_lab.runs import EvalError
    assert cli.dispatch(["faithfulness", str(tiny_run), "--steps", "2", "--images", "4",
                         "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["steps"] == 2 and "curves" not in out and "scd_fg" in out["gap"]
    assert cli.dispatch(["faithfulness", str(tiny_run), "--steps", "2", "--images", "4"]) == 0
    assert "| scd_fg" in capsys.readouterr().out
    with pytest.raises(EvalError, match="at least 1"):
        cli.dispatch(["faithfulness", str(tiny_run), "--steps", "0"])
    assert main(["eval", "faithfulness", str(tiny_run / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no run directory" in err
