"""The paired bootstrap (``scd_lab.eval.paired``): hand-computed cases, a loop reference that
draws the same indices one resample at a time, the seed pairs averaged, determinism."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scd_lab.eval.paired import paired_bootstrap, paired_differences


def test_constant_difference_has_a_point_interval():
    a, b = torch.tensor([0.9, 0.7, 0.6]), torch.tensor([0.7, 0.5, 0.4])
    res = paired_bootstrap((a, b), resamples=200)
    assert res["diff"] == pytest.approx(0.2)
    assert (res["low"], res["high"]) == (pytest.approx(0.2), pytest.approx(0.2))
    assert (res["mean_a"], res["mean_b"]) == (pytest.approx(2.2 / 3), pytest.approx(1.6 / 3))
    assert (res["images"], res["pairs"], res["resamples"]) == ([3], 1, 200)


def test_two_images_by_hand():
    """d = (1, 0): a resample's mean is 0, 1/2 or 1 with chances 1/4, 1/2, 1/4, so the 2.5%
    and 97.5% quantiles of 2000 resamples are 0 and 1 (no resample of mean 0 has chance
    (3/4)^2000), and about half the resamples have mean 1/2."""
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0])
    res = paired_bootstrap([(a, b)])
    assert res["diff"] == 0.5 and res["mean_a"] == 0.5 and res["mean_b"] == 0.0
    assert (res["low"], res["high"]) == (0.0, 1.0)
    g = torch.Generator().manual_seed(0)
    means = torch.tensor([1.0, 0.0])[torch.randint(2, (2000, 2), generator=g)].mean(1)
    assert abs(float((means == 0.5).double().mean()) - 0.5) < 0.05


def test_seed_pairs_are_averaged():
    """Pair 1 differs by 0.2 everywhere, pair 2 by 0.4 (on other images): 0.3 exactly."""
    p1 = (torch.full((5,), 0.7), torch.full((5,), 0.5))
    p2 = (torch.full((3,), 0.9), torch.full((3,), 0.5))
    res = paired_bootstrap([p1, p2], resamples=100)
    assert res["diff"] == pytest.approx(0.3)
    assert (res["low"], res["high"]) == (pytest.approx(0.3), pytest.approx(0.3))
    assert (res["mean_a"], res["mean_b"], res["images"]) == (pytest.approx(0.8),
                                                             pytest.approx(0.5), [5, 3])


def test_nan_images_are_dropped_from_their_pair():
    a = torch.tensor([0.8, float("nan"), 0.6, 0.9])
    b = torch.tensor([0.5, 0.5, float("nan"), 0.4])
    assert paired_differences(a, b).tolist() == pytest.approx([0.3, 0.5])
    res = paired_bootstrap((a, b), resamples=50)
    assert res["images"] == [2] and res["diff"] == pytest.approx(0.4)


def _loop_reference(pairs, resamples, seed, level=0.95):
    """Resample by resample, pair by pair, in the generator order of ``paired_bootstrap``
    (pair 1's B draws, then pair 2's), with numpy's percentile."""
    g = torch.Generator().manual_seed(seed)
    draws = []
    for a, b in pairs:
        d = [float(x) - float(y) for x, y in zip(a, b)]
        pair = []
        for _ in range(resamples):
            idx = torch.randint(len(d), (len(d),), generator=g).tolist()
            pair.append(sum(d[i] for i in idx) / len(d))
        draws.append(pair)
    stat = [sum(p[r] for p in draws) / len(draws) for r in range(resamples)]
    tail = (1 - level) / 2 * 100
    return np.percentile(stat, [tail, 100 - tail])


@pytest.mark.parametrize("sizes", [(40,), (25, 31, 12)])
def test_matches_a_loop_reference(sizes):
    g = torch.Generator().manual_seed(7)
    pairs = [((torch.rand(n, generator=g) < 0.6).double(), torch.rand(n, generator=g))
             for n in sizes]
    res = paired_bootstrap(pairs, resamples=300, seed=11)
    low, high = _loop_reference(pairs, 300, 11)
    assert (res["low"], res["high"]) == (pytest.approx(low, abs=1e-12),
                                         pytest.approx(high, abs=1e-12))
    want = sum(float((a - b).mean()) for a, b in pairs) / len(pairs)
    assert res["diff"] == pytest.approx(want) and res["low"] <= res["diff"] <= res["high"]


def test_deterministic_and_seeded():
    g = torch.Generator().manual_seed(3)
    a, b = torch.rand(50, generator=g), torch.rand(50, generator=g)
    torch.manual_seed(1)
    first = paired_bootstrap((a, b))
    torch.manual_seed(2)  # the global state plays no part
    assert paired_bootstrap((a, b)) == first
    other = paired_bootstrap((a, b), seed=1)
    assert (other["low"], other["high"]) != (first["low"], first["high"])
    assert other["diff"] == first["diff"]


def test_interval_covers_the_mean_difference_of_a_known_shift():
    """Normal differences of mean 0.1 and sd 0.2 over 400 images: the interval is about
    0.1 ± 1.96 * 0.2 / 20 wide and covers the sample mean."""
    g = torch.Generator().manual_seed(5)
    b = torch.rand(400, generator=g, dtype=torch.float64)
    a = b + 0.1 + 0.2 * torch.randn(400, generator=g, dtype=torch.float64)
    res = paired_bootstrap((a, b))
    half = 1.96 * float((a - b).std()) / math.sqrt(400)
    assert res["high"] - res["low"] == pytest.approx(2 * half, rel=0.15)
    assert res["low"] < res["diff"] < res["high"]


def test_mistakes_are_value_errors():
    with pytest.raises(ValueError, match="one value per image"):
        paired_bootstrap((torch.zeros(3), torch.zeros(4)))
    with pytest.raises(ValueError, match="at least one pair"):
        paired_bootstrap([])
    with pytest.raises(ValueError, match="no image"):
        paired_bootstrap((torch.tensor([float("nan")]), torch.tensor([1.0])))
