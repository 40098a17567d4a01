"""The papers' map protocols (``scd_lab.eval.map_protocols``) computed by hand on 8x8 maps.

The object O of the main mask is the 4x4 square rows 2..5, cols 2..5: 16 of 64 pixels, its
ground-truth box [2, 2, 5, 5] (x0 y0 x1 y1, both ends inside), 4x4 = 16 pixels."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from scd_lab.eval.map_protocols import (PROTOCOLS, best_box_iou_by_threshold,
                                        box_iou_inclusive, components, corloc, dino_jaccard,
                                        map_protocols, mass_masks, max_box_acc_v2, pxap)

ALL = PROTOCOLS + ("boxacc@30", "boxacc@50", "boxacc@70")


def square(y0, y1, x0, x1, size=8) -> torch.Tensor:
    m = torch.zeros(1, size, size)
    m[0, y0:y1 + 1, x0:x1 + 1] = 1
    return m


MASK = square(2, 5, 2, 5).to(torch.uint8)


def test_perfect_map():
    r = map_protocols(MASK.float(), MASK, ALL)
    # PxAP: the 16 object pixels sit in the bin [1, 2), the rest in [0, bw): at t = 1,
    # precision 16/16 and recall 16/16 -> AP = 1 x 1 = 1
    assert r["pxap"] == pytest.approx(1.0)
    # MaxBoxAccV2: at every threshold the foreground is O; its contour box, as
    # cv2.boundingRect + wsolevaluation give it, is [2, 2, 2+4, 2+4] = 5x5 pixels counted
    # inclusively: IoU 16/25 = 0.64 -> hit at d = 30 and 50, miss at 70 -> (1+1+0)/3
    assert (r["boxacc@30"], r["boxacc@50"], r["boxacc@70"]) == (1.0, 1.0, 0.0)
    assert r["maxboxacc_v2"] == pytest.approx(2 / 3)
    # DINO: 16 equal values, 1/16 of the mass each; sorted upward, the running sum exceeds
    # 1 - 0.6 = 0.4 from the 7th (7/16 = 0.4375) -> 10 pixels kept, all in O -> J = 10/16
    assert r["dino_jaccard"] == pytest.approx(10 / 16)
    # CorLoc: the stable sort drops the first 6 object pixels in row-major order; kept: row 3
    # cols 4-5, rows 4-5 cols 2-5, one 4-connected piece holding the peak (the last maximum,
    # (5, 5)); box on pixel edges [2, 3, 6, 6] (4x3 = 12) vs [2, 2, 6, 6] (16): IoU 0.75
    assert r["corloc"] == 1.0


def test_inverted_map():
    r = map_protocols(1 - MASK.float(), MASK, ALL)
    # PxAP: at t = 1 the 48 background pixels: precision 0, recall 0; at t = 0 all 64:
    # precision 16/64, recall gain 1 -> AP = 0.25
    assert r["pxap"] == pytest.approx(0.25)
    # MaxBoxAccV2: the foreground is the ring around O at every threshold. Its outer contour
    # box [0, 0, min(8, 7), min(8, 7)] = 64 pixels: IoU 16/64 = 0.25. RETR_TREE also gives the
    # hole O, whose contour runs on pixels 1..6: box [1, 1, min(7, 7), min(7, 7)] = 7x7 = 49
    # pixels around O: IoU 16/49 = 0.33 -> hit at d = 30 only -> 1/3
    assert (r["boxacc@30"], r["boxacc@50"], r["boxacc@70"]) == (1.0, 0.0, 0.0)
    assert r["maxboxacc_v2"] == pytest.approx(1 / 3)
    # DINO: everything kept is background -> J = 0
    assert r["dino_jaccard"] == 0.0
    # CorLoc: 48 equal values; kept from the 20th (20/48 > 0.4): the last 29 background pixels
    # in row-major order: (2, 7), cols 0-1 and 6-7 of rows 3-5, rows 6-7; one 4-connected
    # piece with the peak (7, 7), box [0, 2, 8, 8] = 48 pixels: IoU 16/48 < 0.5
    assert r["corloc"] == 0.0


def test_constant_map():
    r = map_protocols(torch.full((1, 8, 8), 0.5), MASK, ALL)
    # normalised to all zeros (wsolevaluation's normalize_scoremap of a constant map)
    # PxAP: every pixel in [0, bw): only t = 0 keeps any, precision 16/64, recall 1 -> 0.25
    assert r["pxap"] == pytest.approx(0.25)
    # MaxBoxAccV2: uint8 map all 0, its max 0, so every threshold is 0 and no pixel is above
    # it: no contour, box [0, 0, 0, 0] -> IoU 0 with [2, 2, 5, 5]
    assert r["maxboxacc_v2"] == 0.0
    # DINO and CorLoc: a map of no mass keeps nothing -> J = 0, no box
    assert r["dino_jaccard"] == 0.0 and r["corloc"] == 0.0


def test_map_on_the_wrong_object():
    mask = square(1, 3, 1, 3).to(torch.uint8)  # 9 pixels
    r = map_protocols(square(4, 6, 4, 6), mask, ALL)  # another 3x3 square, no overlap
    # PxAP: at t = 1, 9 pixels kept, none true: precision 0, no recall; at t = 0 all 64:
    # precision 9/64, recall gain 1 -> 9/64
    assert r["pxap"] == pytest.approx(9 / 64)
    # boxes [4, 4, 7, 7] and [1, 1, 3, 3] do not meet; kept pixels are off the mask
    assert r["maxboxacc_v2"] == 0.0 and r["dino_jaccard"] == 0.0 and r["corloc"] == 0.0


def test_pooled_over_images():
    maps = torch.cat([MASK.float(), torch.zeros(1, 8, 8)])
    masks = torch.cat([MASK, MASK])
    # PxAP pools pixels: at t = 1, 16 kept, all true: precision 1, recall 16/32 -> 0.5;
    # at t = 0, 128 kept, 32 true: precision 0.25, gain 0.5 -> 0.125; AP = 0.625
    assert pxap(maps, masks) == pytest.approx(0.625)
    # MaxBoxAccV2: the perfect image hits at d = 30, 50; the constant one never -> 0.5, 0.5, 0
    r = max_box_acc_v2(maps, masks)
    assert (r["boxacc@30"], r["boxacc@50"], r["boxacc@70"]) == (0.5, 0.5, 0.0)
    # DINO: mean of 10/16 and 0; CorLoc: 1 of 2
    assert dino_jaccard(maps, masks) == pytest.approx(5 / 16)
    assert corloc(maps, masks) == 0.5


def test_empty_masks_are_left_out_of_box_figures():
    maps = torch.cat([MASK.float(), MASK.float()])
    masks = torch.cat([MASK, torch.zeros_like(MASK)])
    assert corloc(maps, masks) == 1.0 and dino_jaccard(maps, masks) == pytest.approx(10 / 16)
    assert max_box_acc_v2(maps, masks)["boxacc@50"] == 1.0


def test_maps_of_any_size_are_upsampled_to_the_mask():
    small = MASK.float()[:, ::2, ::2]  # (1, 4, 4): rows/cols 2, 4 of O
    big = torch.nn.functional.interpolate(small[:, None], size=(8, 8), mode="bilinear",
                                          align_corners=False)[:, 0]
    assert map_protocols(small, MASK) == map_protocols(big, MASK)


def test_mass_mask_keeps_the_share_of_the_mass():
    m = torch.tensor([[[4.0, 3.0], [2.0, 1.0]]])  # total 10; upward 0.1, 0.3, 0.6, 1.0
    # running sums above 0.4: the values 3 and 4 (0.7 of the mass)
    assert mass_masks(m).tolist() == [[[True, True], [False, False]]]


def test_components_and_inclusive_iou():
    b = np.zeros((5, 5), bool)
    b[0, 0] = b[1, 1] = True  # diagonal neighbours
    b[3:5, 3:5] = True
    assert len(components(b, eight=True)[1]) == 2
    assert len(components(b, eight=False)[1]) == 3
    assert components(b, eight=True)[1][1] == [3, 3, 4, 4]
    assert box_iou_inclusive([[2, 2, 5, 5]], [[2, 2, 6, 6]])[0, 0] == pytest.approx(16 / 25)


def _direct(u8: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """best_box_iou_by_threshold from its definition, one threshold at a time."""
    h, w = u8.shape
    out = np.zeros(256)
    for t in range(256):
        fg = u8 > t
        if not fg.any():
            out[t] = box_iou_inclusive([[0, 0, 0, 0]], gt).max()
            continue
        boxes = list(components(fg, eight=True)[1])
        bg_labels, bg_boxes = components(~fg, eight=False)
        for x0, y0, x1, y1 in bg_boxes:
            if x0 > 0 and y0 > 0 and x1 < w - 1 and y1 < h - 1:  # a hole
                boxes.append([x0 - 1, y0 - 1, x1 + 1, y1 + 1])
        ref = [[x0, y0, min(x1 + 1, w - 1), min(y1 + 1, h - 1)] for x0, y0, x1, y1 in boxes]
        out[t] = box_iou_inclusive(ref, gt).max()
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_level_union_find_matches_thresholding_each_level(seed):
    rng = np.random.default_rng(seed)
    u8 = rng.integers(0, 256, size=(7, 9)).astype(np.uint8)
    u8[rng.random((7, 9)) < 0.3] = 0
    gt = np.array([[1, 1, 4, 3], [5, 2, 8, 6]])
    np.testing.assert_allclose(best_box_iou_by_threshold(u8, gt), _direct(u8, gt))


def test_unknown_protocol():
    with pytest.raises(ValueError, match="unknown map protocol"):
        map_protocols(MASK.float(), MASK, ("pxap", "nope"))
