import math

import pytest
import torch

from scd_lab.eval.saliency_metrics import (auroc, auroc_per_image, auroc_per_image_unsigned,
                                           best_threshold_iou, iou_at, minmax_normalize, polarity,
                                           saliency_report, upsample_maps)


def slow_auroc(scores, labels):
    """P(score_pos > score_neg) + 0.5 P(tie), by looping over all pairs."""
    pos = [s for s, l in zip(scores, labels) if l]
    neg = [s for s, l in zip(scores, labels) if not l]
    total = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return total / (len(pos) * len(neg))


def slow_best_iou(maps, masks):
    best = (0.0, math.inf)
    for t in sorted(set(maps.flatten().tolist())):
        pred = maps >= t
        inter = (pred & masks.bool()).sum().item()
        union = (pred | masks.bool()).sum().item()
        if inter / union > best[0]:
            best = (inter / union, t)
    return best


def test_minmax_normalize_values_and_constant():
    m = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[7.0, 7.0], [7.0, 7.0]]])
    out = minmax_normalize(m)
    assert torch.allclose(out[0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    assert torch.equal(out[1], torch.zeros(2, 2))


def test_auroc_hand_computed():
    maps = torch.tensor([[[0.1, 0.4], [0.35, 0.8]]])
    masks = torch.tensor([[[0, 0], [1, 1]]])
    assert auroc(maps, masks) == pytest.approx(0.75)
    assert auroc(1 - maps, masks) == pytest.approx(0.25)


def test_auroc_matches_slow_reference_with_ties():
    g = torch.Generator().manual_seed(0)
    maps = torch.randint(0, 6, (3, 5, 5), generator=g).float()  # many ties
    masks = (torch.rand(3, 5, 5, generator=g) < 0.4).long()
    ref = slow_auroc(maps.flatten().tolist(), masks.flatten().tolist())
    assert auroc(maps, masks) == pytest.approx(ref, abs=1e-12)
    per = [slow_auroc(m.flatten().tolist(), k.flatten().tolist()) for m, k in zip(maps, masks)]
    assert auroc_per_image(maps, masks) == pytest.approx(sum(per) / 3, abs=1e-12)


def test_constant_map_and_degenerate_mask_give_no_nan():
    masks = torch.zeros(2, 8, 8, dtype=torch.uint8)
    masks[:, 2:5, 2:5] = 1
    const = torch.full((2, 4, 4), 0.3)
    assert auroc(const, masks) == 0.5
    rep = saliency_report(const, masks)
    assert all(not math.isnan(v) for v in rep.values())
    assert rep["spatial_std"] == 0 and rep["mean"] == pytest.approx(0.3)
    assert auroc(torch.rand(2, 8, 8), torch.zeros(2, 8, 8)) == 0.5


def test_iou_at_hand_computed():
    maps = torch.tensor([[[0.9, 0.6], [0.2, 0.1]]])
    masks = torch.tensor([[[1, 0], [1, 0]]])
    # pred {0,0},{0,1}; mask {0,0},{1,0}: intersection 1, union 3
    assert iou_at(maps, masks, 0.5) == pytest.approx(1 / 3)
    assert iou_at(maps, masks, 0.15) == pytest.approx(2 / 3)
    assert iou_at(maps, masks, 0.5, per_image=True) == pytest.approx(1 / 3)


def test_best_threshold_matches_brute_force():
    g = torch.Generator().manual_seed(1)
    masks = (torch.rand(4, 6, 6, generator=g) < 0.3).long()
    maps = masks.float() * 0.5 + torch.rand(4, 6, 6, generator=g)
    maps = torch.round(maps * 10) / 10  # ties
    iou, thr = best_threshold_iou(maps, masks)
    ref_iou, ref_thr = slow_best_iou(maps, masks)
    assert iou == pytest.approx(ref_iou) and thr == pytest.approx(ref_thr)
    assert iou == pytest.approx(iou_at(maps, masks, thr))


def test_polarity_and_perfect_map():
    masks = torch.zeros(3, 16, 16)
    masks[:, 4:10, 5:12] = 1
    assert polarity(masks, masks) == 1 and polarity(1 - masks, masks) == -1
    rep = saliency_report(masks, masks)
    assert rep["auroc"] == 1.0 and rep["best_iou"] == 1.0 and rep["iou@0.5"] == 1.0
    assert saliency_report(1 - masks, masks)["auroc_flipped"] == 1.0


def test_upsample_and_low_resolution_maps():
    masks = torch.zeros(2, 32, 32)
    masks[:, :16] = 1  # top half
    maps = torch.zeros(2, 4, 4)
    maps[:, :2] = 1
    assert upsample_maps(maps, 32).shape == (2, 32, 32)
    assert auroc(maps, masks) == pytest.approx(1.0)


def test_positional_map_is_exposed_by_mean_map_std():
    g = torch.Generator().manual_seed(2)
    fixed = torch.rand(1, 8, 8, generator=g).expand(20, 8, 8)  # same map for every image
    varied = torch.rand(20, 8, 8, generator=g)  # independent maps
    masks = torch.zeros(20, 8, 8)
    r_fixed, r_varied = saliency_report(fixed, masks), saliency_report(varied, masks)
    assert r_fixed["mean_map_std"] == pytest.approx(r_fixed["spatial_std"], rel=1e-5)
    assert r_varied["mean_map_std"] < 0.4 * r_varied["spatial_std"]


def test_unsigned_per_image_auroc_sees_maps_whose_polarity_flips_between_images():
    masks = torch.zeros(2, 8, 8, dtype=torch.uint8)
    masks[:, 2:6, 2:6] = 1
    maps = masks.float().clone()
    maps[1] = 1 - maps[1]  # image 1 marks the background
    assert auroc(maps, masks) == pytest.approx(0.5)
    assert auroc_per_image(maps, masks) == pytest.approx(0.5)
    assert auroc_per_image_unsigned(maps, masks) == pytest.approx(1.0)
    g = torch.Generator().manual_seed(1)
    noisy = torch.rand(2, 8, 8, generator=g)
    per = [slow_auroc(m.flatten().tolist(), k.flatten().tolist()) for m, k in zip(noisy, masks)]
    assert auroc_per_image_unsigned(noisy, masks) == pytest.approx(
        sum(max(a, 1 - a) for a in per) / 2, abs=1e-12)
    rep = saliency_report(noisy, masks)  # the report derives both from one pass
    assert rep["auroc_per_image"] == auroc_per_image(minmax_normalize(noisy), masks)
    assert rep["auroc_per_image_unsigned"] == auroc_per_image_unsigned(minmax_normalize(noisy),
                                                                        masks)


def test_by_class_by_hand():
    from scd_lab.eval.saliency_metrics import by_class
    auc = torch.tensor([0.9, 0.2, float("nan"), 0.6, 0.4], dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1])
    rows = by_class(auc, labels, ["a", "b"])
    assert [r["class"] for r in rows] == ["a", "b"] and [r["images"] for r in rows] == [2, 2]
    assert rows[0]["mean_auroc"] == pytest.approx(0.55)
    assert rows[0]["marks_object"] == 0.5 and rows[0]["polarity_per_image"] == pytest.approx(0.85)
    assert rows[1]["polarity_per_image"] == pytest.approx(0.6)
