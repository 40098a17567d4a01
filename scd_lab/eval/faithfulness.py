"""Faithfulness curves: does the embedding use the pixels a map marks? Deletion and insertion
in the manner of RISE (Petsiuk et al., BMVC 2018), without retraining.

Pixels are ranked by the map (upsampled bilinearly to the image, ties broken by raster order).
At each fraction f of the pixels the chosen pixels are replaced by a baseline fill (deletion)
or are the only ones shown on it (insertion), and two figures are measured on the perturbed
images: the cosine between each image's embedding and a reference embedding of the same image
(the other view), and the kNN top-1 accuracy of the perturbed images against a fixed bank.

Four orders, each a curve over ``fractions`` (0 ... 1):

* ``delete_fg_first``: the top f of the ranking filled (RISE's deletion, "MoRF");
* ``delete_bg_first``: the bottom f filled (the least salient first, "LeRF");
* ``insert_fg_first``: only the top f shown on the fill (RISE's insertion);
* ``insert_bg_first``: only the bottom f shown.

Keeping the top ``n`` pixels is the same image whichever order asks for it, so
``insert_fg_first(f) == delete_bg_first(1 - f)`` and each kept set is embedded once. A
faithful map has a low ``delete_fg_first`` and a high ``delete_bg_first`` curve; ``gap`` is
the difference of their areas. Everything is a pure function of its tensors.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.augment import gaussian_blur
from .knn import knn_correct
from .saliency_metrics import upsample_maps

ORDERS = ("delete_fg_first", "delete_bg_first", "insert_fg_first", "insert_bg_first")
BASELINES = ("mean", "blur")


def fractions_for(steps: int) -> list[float]:
    """``steps + 1`` evenly spaced fractions from 0 to 1 (``steps=10``: 0, 0.1, ..., 1)."""
    if int(steps) < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    return [i / int(steps) for i in range(int(steps) + 1)]


def pixel_ranks(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """Rank of each pixel by its map value, 0 = most salient: (N, H*W) int64.

    Maps (N, h, w) are upsampled bilinearly to ``size`` (``upsample_maps``); equal values are
    ranked in raster order (row by row, the earlier pixel first), so the result is the same on
    every run and device.
    """
    scores = upsample_maps(maps, size).flatten(1).cpu()  # (N, P)
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices  # (N, P)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order))  # (N, P)
    return ranks


def baseline_fill(images: Tensor, kind: str = "mean") -> Tensor:
    """What a deleted pixel becomes, uint8 like ``images`` (N, 3, H, W).

    ``mean``: the image's mean colour everywhere (default); ``blur``: a Gaussian blur of the
    image with sigma = side / 10 (RISE's insertion canvas, at the scale of small images).
    uint8 fills are rounded; float images keep float fills.
    """
    x = images.float()  # (N, 3, H, W)
    if kind == "mean":
        fill = x.mean(dim=(2, 3), keepdim=True).expand_as(x)  # (N, 3, H, W)
    elif kind == "blur":
        side = min(x.shape[-2:])
        sigma = torch.full((x.shape[0],), side / 10.0)  # (N,)
        fill = gaussian_blur(x, sigma, 2 * math.ceil(3 * side / 10) + 1)  # (N, 3, H, W)
    else:
        raise ValueError(f"baseline must be one of {BASELINES}, got {kind!r}")
    if images.is_floating_point():
        return fill.to(images.dtype)
    return fill.round().clamp(0, 255).to(images.dtype)


def kept_count(fraction: float, pixels: int) -> int:
    """Pixels a fraction stands for: ``floor(fraction * pixels + 0.5)``."""
    return int(math.floor(fraction * pixels + 0.5))


def _auc(values: list[float], fractions: list[float]) -> float:
    return float(torch.trapezoid(torch.tensor(values, dtype=torch.float64),
                                 torch.tensor(fractions, dtype=torch.float64)))


@torch.no_grad()
def faithfulness_curves(encode: Callable[[Tensor], Tensor], images: Tensor, maps: Tensor, *,
                        reference: Tensor | None = None, labels: Tensor | None = None,
                        bank: Tensor | None = None, bank_labels: Tensor | None = None,
                        fractions=None, baseline: str = "mean", k: int = 20, tau: float = 0.07,
                        batch: int = 256) -> dict:
    """Deletion and insertion curves of one map per image, and their areas.

    Args:
        encode: images (B, 3, H, W), of ``images``' dtype -> embeddings (B, D).
        images: (N, 3, H, W), uint8 (or float); maps: (N, h, w), higher = more salient.
        reference: (N, D) embeddings the cosine is taken against (the other view); default:
            ``encode(images)``, the clean images.
        labels, bank, bank_labels: (N,), (M, D) and (M,) for the kNN curve (weighted kNN of
            ``knn_predict``, ``k`` neighbours, temperature ``tau``); no kNN curve without them.
        fractions: increasing, from 0 to 1 (default ``fractions_for(10)``).
        baseline: ``"mean"`` or ``"blur"`` (``baseline_fill``).

    Returns:
        {"fractions": [...], "clean": {measure: value}, "curves": {order: {measure: [...]}},
        "auc": {order: {measure: area}}, "drop": {order: {measure: clean - area}},
        "gap": {measure: auc[delete_bg_first] - auc[delete_fg_first]}}; measures are
        ``cosine`` (mean over images) and ``knn`` (top-1 accuracy) when a bank is given.
        Areas by the trapezoid rule over the fraction axis.
    """
    fractions = fractions_for(10) if fractions is None else [float(f) for f in fractions]
    if fractions[0] != 0.0 or fractions[-1] != 1.0 or sorted(fractions) != fractions:
        raise ValueError("fractions must increase from 0 to 1")
    n, _, hgt, wid = images.shape
    if len(maps) != n:
        raise ValueError(f"need one map per image: {len(maps)} maps, {n} images")
    pixels = hgt * wid
    ranks = pixel_ranks(maps, (hgt, wid)).to(images.device)  # (N, P)
    fill = baseline_fill(images, baseline)  # (N, 3, H, W)
    with_knn = bank is not None
    if with_knn:
        bank = bank.to(images.device)
        bank_labels = bank_labels.to(images.device)
        labels = labels.to(images.device)
        num_classes = int(max(int(bank_labels.max()), int(labels.max()))) + 1

    def embed(x: Tensor) -> Tensor:
        return torch.cat([encode(chunk).float().to(images.device)
                          for chunk in x.split(batch)])  # (N, D)

    if reference is None:
        reference = embed(images)  # (N, D)
    reference = reference.to(images.device).float()
    cache: dict[tuple[str, int], dict[str, float]] = {}

    def measure(end: str, kept: int) -> dict[str, float]:
        """The figures with only the ``kept`` top (``end="top"``) or bottom pixels shown."""
        key = ("top", kept) if kept in (0, pixels) else (end, kept)  # none or all: one image
        if key not in cache:
            keep = ranks < kept if end == "top" else ranks >= pixels - kept  # (N, P)
            x = torch.where(keep.view(n, 1, hgt, wid), images, fill)  # (N, 3, H, W)
            z = embed(x)  # (N, D)
            out = {"cosine": float(F.cosine_similarity(z, reference, dim=1).mean())}
            if with_knn:
                right = knn_correct(z, labels, bank, bank_labels, num_classes, k, tau)  # (N,)
                out["knn"] = float(right.float().mean())
            cache[key] = out
        return cache[key]

    def kept(order: str, f: float) -> tuple[str, int]:
        c = kept_count(f, pixels)
        return {"delete_fg_first": ("bottom", pixels - c), "delete_bg_first": ("top", pixels - c),
                "insert_fg_first": ("top", c), "insert_bg_first": ("bottom", c)}[order]

    measures = ["cosine", "knn"] if with_knn else ["cosine"]
    clean = measure("top", pixels)
    curves = {o: {m: [measure(*kept(o, f))[m] for f in fractions] for m in measures}
              for o in ORDERS}
    auc = {o: {m: _auc(c[m], fractions) for m in measures} for o, c in curves.items()}
    return {"fractions": fractions, "clean": dict(clean), "curves": curves, "auc": auc,
            "drop": {o: {m: clean[m] - a[m] for m in measures} for o, a in auc.items()},
            "gap": {m: auc["delete_bg_first"][m] - auc["delete_fg_first"][m]
                    for m in measures}}


__all__ = ["ORDERS", "BASELINES", "fractions_for", "pixel_ranks", "baseline_fill",
           "kept_count", "faithfulness_curves"]
