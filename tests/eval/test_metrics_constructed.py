"""Saliency metrics on constructed maps and masks whose answers are known exactly: AUROC, IoU,
the pointing game and the centre prior, with inverted polarity and empty / full masks."""
import math

import pytest
import torch

from scd_lab.eval.saliency_metrics import (auroc, auroc_per_image, auroc_per_image_unsigned,
                                           best_threshold_iou, centre_prior, iou_at,
                                           per_image_aurocs, pointing_game, polarity,
                                           saliency_report)


@pytest.fixture
def square():
    """One 4x4 mask with the object in the top-left 2x2 block, and the map equal to it."""
    mask = torch.zeros(1, 4, 4, dtype=torch.long)
    mask[:, :2, :2] = 1
    return mask.float(), mask


def test_perfect_map_and_its_inverse(square):
    m, k = square
    assert auroc(m, k) == 1.0
    assert auroc(1 - m, k) == 0.0
    assert polarity(m, k) == 1 and polarity(1 - m, k) == -1
    assert iou_at(m, k, 0.5) == 1.0
    assert iou_at(1 - m, k, 0.5) == 0.0  # predicts the 12 background pixels
    assert best_threshold_iou(m, k) == (1.0, 1.0)
    assert best_threshold_iou(1 - m, k) == (0.25, 0.0)  # only "everything": 4 / 16
    assert auroc_per_image_unsigned(1 - m, k) == 1.0  # polarity chosen per image
    assert pointing_game(m, k) == 1.0
    assert pointing_game(1 - m, k) == 0.0


def test_inverted_polarity_in_the_report(square):
    m, k = square
    rep = saliency_report(1 - m, k)
    assert rep["polarity"] == -1
    assert rep["auroc"] == 0.0 and rep["auroc_flipped"] == 1.0
    assert rep["auroc_per_image_unsigned"] == 1.0
    assert rep["iou@0.5"] == 0.0


def test_partial_map_hand_computed():
    maps = torch.tensor([[[0.9, 0.1], [0.4, 0.3]]])
    masks = torch.tensor([[[1, 0], [0, 1]]])
    # positives {0.9, 0.3}, negatives {0.1, 0.4}: 3 of 4 pairs ordered right
    assert auroc(maps, masks) == 0.75
    assert iou_at(maps, masks, 0.5) == 0.5  # {0.9} against {0.9, 0.3}
    # thresholds 0.9, 0.4, 0.3, 0.1 -> IoU 1/2, 1/3, 2/3, 2/4
    iou, thr = best_threshold_iou(maps, masks)
    assert iou == pytest.approx(2 / 3) and thr == pytest.approx(0.3)
    assert pointing_game(maps, masks) == 1.0
    assert pointing_game(torch.tensor([[[0.1, 0.2], [0.9, 0.3]]]), masks) == 0.0


def test_ties_count_half():
    maps = torch.tensor([[[0.4, 0.4], [0.1, 0.9]]])
    masks = torch.tensor([[[1, 0], [0, 0]]])
    assert auroc(maps, masks) == 0.5  # vs 0.4 tie (1/2), vs 0.1 win, vs 0.9 loss: 1.5 / 3


def test_empty_mask():
    empty = torch.zeros(1, 4, 4, dtype=torch.long)
    low, some = torch.full((1, 4, 4), 0.2), torch.full((1, 4, 4), 0.2)
    some[0, 1, 1] = 0.8
    assert auroc(some, empty) == 0.5
    assert math.isnan(float(per_image_aurocs(some, empty)[0]))
    assert auroc_per_image(some, empty) == 0.5
    assert iou_at(low, empty, 0.5) == 1.0  # nothing to find, nothing predicted
    assert iou_at(some, empty, 0.5) == 0.0
    assert iou_at(low, empty, 0.5, per_image=True) == 1.0
    assert best_threshold_iou(some, empty) == (0.0, math.inf)
    assert pointing_game(some, empty) == 0.0  # every mask empty


def test_full_mask():
    full = torch.ones(1, 4, 4, dtype=torch.long)
    maps = torch.arange(16.0).reshape(1, 4, 4) / 15
    assert auroc(maps, full) == 0.5
    assert math.isnan(float(per_image_aurocs(maps, full)[0]))
    assert iou_at(maps, full, 0.0) == 1.0
    assert iou_at(maps, full, 2.0) == 0.0  # predicts nothing of a full object
    assert best_threshold_iou(maps, full) == (1.0, 0.0)
    assert pointing_game(maps, full) == 1.0
    assert pointing_game(1 - maps, full) == 1.0


def test_pointing_game_skips_empty_masks():
    masks = torch.zeros(3, 4, 4, dtype=torch.long)
    masks[0, 0, 0] = 1  # hit below
    masks[1, 3, 3] = 1  # miss below
    maps = torch.zeros(3, 4, 4)
    maps[:, 0, 0] = 1.0  # every map peaks at the top-left pixel
    assert pointing_game(maps, masks) == 0.5  # image 2 (empty) does not count
    assert pointing_game(maps[[0, 2]], masks[[0, 2]]) == 1.0
    assert pointing_game(maps[[1, 2]], masks[[1, 2]]) == 0.0


def test_pointing_game_constant_map_points_top_left():
    masks = torch.zeros(2, 4, 4, dtype=torch.long)
    masks[0, 0, 0] = 1
    masks[1, 2:, 2:] = 1
    const = torch.full((2, 4, 4), 0.3)
    assert pointing_game(const[:1], masks[:1]) == 1.0
    assert pointing_game(const[1:], masks[1:]) == 0.0


def test_low_resolution_map_is_upsampled_to_the_mask():
    small = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])  # (1, 2, 2): peak in the top-left cell
    tl = torch.zeros(1, 8, 8, dtype=torch.long)
    tl[:, :4, :4] = 1
    br = torch.zeros(1, 8, 8, dtype=torch.long)
    br[:, 4:, 4:] = 1
    assert pointing_game(small, tl) == 1.0
    assert pointing_game(small, br) == 0.0
    # bilinear (align_corners=False): every top-left pixel >= 0.625^2, every other <= 0.375
    assert auroc(small, tl) == 1.0
    assert auroc(small, br) < 0.5


def test_centre_prior_shape_peak_and_values():
    p = centre_prior(3, 5, 7)
    assert p.shape == (3, 5, 7) and p.dtype == torch.float32
    assert torch.equal(p[0], p[2])
    assert float(p[0, 2, 3]) == 1.0 and int(p[0].argmax()) == 2 * 7 + 3
    assert torch.allclose(p, p.flip(-1)) and torch.allclose(p, p.flip(-2))
    q = centre_prior(1, 4, 4, sigma=0.25)  # pixel (0, 0): y = x = -0.375
    assert float(q[0, 0, 0]) == pytest.approx(math.exp(-2 * 0.375 ** 2 / (2 * 0.25 ** 2)))
    assert float(centre_prior(1, 4, 4, sigma=0.1)[0, 0, 0]) < float(q[0, 0, 0])
    with pytest.raises(ValueError):
        centre_prior(1, 4, 4, sigma=0.0)


def test_centre_prior_as_a_baseline_map():
    centre = torch.zeros(2, 9, 9, dtype=torch.long)
    centre[:, 3:6, 3:6] = 1
    corner = torch.zeros(2, 9, 9, dtype=torch.long)
    corner[:, :3, :3] = 1
    prior = centre_prior(2, 9, 9)
    assert pointing_game(prior, centre) == 1.0
    assert pointing_game(prior, corner) == 0.0
    assert auroc(prior, centre) == 1.0  # the 3x3 centre holds the 9 highest values
    assert auroc(prior, corner) < 0.5  # the other three corners score as low
