"""Paired bootstrap intervals: two runs measured on the same images, the difference of means.

    a, b = correct_scd.float(), correct_byol.float()        # one value per held-out image
    paired_bootstrap([(a, b)])     # {"diff": mean(a - b), "low": ..., "high": ..., ...}
    paired_bootstrap([(a0, b0), (a1, b1)])                   # two seeds, each its own pair

The images are resampled with replacement (``resamples`` times, from a generator seeded with
``seed``, so the interval is the same on every call); a resample's statistic is the mean of
a - b over the drawn images, averaged over the pairs when there are several (each pair's
images drawn on their own). The interval is the percentile interval of those statistics
(``level`` 0.95: the 2.5% and 97.5% quantiles, linear interpolation as ``numpy.quantile``).
An image whose value is NaN in either run (the AUROC of an empty or full mask) is left out
of its pair. Tensors in, numbers out; nothing here knows about runs.
"""
from __future__ import annotations

import torch
from torch import Tensor

RESAMPLES = 2000
LEVEL = 0.95


def paired_values(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """The two runs' values, float64, images where either is NaN dropped: (N,), (N,) ->
    (n,), (n,).

    Raises:
        ValueError: ``a`` and ``b`` are not one value per image each, for the same images.
    """
    a, b = torch.as_tensor(a).double().flatten(), torch.as_tensor(b).double().flatten()
    if a.shape != b.shape:
        raise ValueError(f"paired values need one value per image in each run, got {len(a)} "
                         f"and {len(b)}")
    keep = ~(a.isnan() | b.isnan())
    return a[keep], b[keep]


def paired_differences(a: Tensor, b: Tensor) -> Tensor:
    """a - b per image, NaN in either dropped (``paired_values``): (N,), (N,) -> (n,)."""
    a, b = paired_values(a, b)
    return a - b


def bootstrap_means(d: Tensor, resamples: int, generator: torch.Generator) -> Tensor:
    """Means of ``resamples`` draws with replacement of ``len(d)`` values: (n,) -> (B,).

    Draws (B, n) indices at once; the same numbers, row by row, as B draws of n."""
    idx = torch.randint(len(d), (resamples, len(d)), generator=generator)  # (B, n)
    return d[idx].mean(dim=1)


def paired_bootstrap(pairs, resamples: int = RESAMPLES, seed: int = 0,
                     level: float = LEVEL) -> dict:
    """The mean difference a - b over images (averaged over the pairs) and its percentile
    bootstrap interval.

    Args:
        pairs: ``[(a, b), ...]``, one (a, b) per seed pair: values per image of run A and of
            run B on the same images (kNN correctness 0/1, per-image AUROC, ...); a single
            ``(a, b)`` tuple of tensors is one pair.
        resamples: B, the bootstrap resamples (default 2000).
        seed: the seed of the generator (pair by pair, in order, B x n indices each).
        level: the interval's coverage (default 0.95).

    Returns:
        {"diff", "low", "high", "mean_a", "mean_b", "images" (per pair), "pairs",
        "resamples", "level"}; the means are averaged over the pairs like ``diff``.

    Raises:
        ValueError: no pairs, a pair with no image left, ``resamples`` < 1 or ``level``
            outside (0, 1).
    """
    if isinstance(pairs, tuple) and len(pairs) == 2 and isinstance(pairs[0], Tensor):
        pairs = [pairs]
    pairs = list(pairs)
    if not pairs:
        raise ValueError("paired_bootstrap needs at least one pair of runs")
    if resamples < 1 or not 0 < level < 1:
        raise ValueError(f"need resamples >= 1 and 0 < level < 1, got {resamples}, {level}")
    kept = [paired_values(a, b) for a, b in pairs]
    if any(len(a) == 0 for a, _ in kept):
        raise ValueError("a pair has no image with a value in both runs")
    g = torch.Generator().manual_seed(seed)
    stat = torch.stack([bootstrap_means(a - b, resamples, g) for a, b in kept]).mean(dim=0)
    tail = (1 - level) / 2
    low, high = torch.quantile(stat, torch.tensor([tail, 1 - tail], dtype=stat.dtype)).tolist()
    mean = lambda values: sum(float(v.mean()) for v in values) / len(kept)  # noqa: E731
    return {"diff": mean(a - b for a, b in kept), "low": low, "high": high,
            "mean_a": mean(a for a, _ in kept), "mean_b": mean(b for _, b in kept),
            "images": [len(a) for a, _ in kept], "pairs": len(kept), "resamples": resamples,
            "level": level}


__all__ = ["RESAMPLES", "LEVEL", "paired_values", "paired_differences", "bootstrap_means",
           "paired_bootstrap"]
