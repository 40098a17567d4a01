"""How well a saliency map picks out the object: AUROC, IoU, polarity, collapse statistics.

All functions are pure torch, run on any device, and never return NaN: a constant map scores
AUROC 0.5 and IoU of an empty prediction. Conventions:

* ``maps``: float (B, h, w), higher = more "foreground" (e.g. SCD's M_fg, a channel-sum map).
* ``masks``: (B, H, W) with values in {0, 1} (any dtype), 1 on the object.
* Metrics pool all pixels of all images unless the name says ``per_image``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.saliency import minmax_normalize  # noqa: F401  (re-exported: part of this API)

_EPS = 1e-12


def upsample_maps(maps: Tensor, size: int | tuple[int, int]) -> Tensor:
    """Bilinear upsampling (align_corners=False) of (B, h, w) maps to (B, *size)."""
    if isinstance(size, int):
        size = (size, size)
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps.float()
    return F.interpolate(maps.float()[:, None], size=size, mode="bilinear",
                         align_corners=False)[:, 0]  # (B, H, W)


def _ranks(x: Tensor) -> Tensor:
    """1-based ranks of a 1-D tensor, ties given their average rank."""
    sorted_x, order = torch.sort(x)
    _, counts = torch.unique_consecutive(sorted_x, return_counts=True)
    ends = torch.cumsum(counts, 0).double()  # last rank of each tie group
    avg = ends - (counts.double() - 1) / 2  # average rank of the group
    ranks_sorted = torch.repeat_interleave(avg, counts)
    ranks = torch.empty_like(ranks_sorted)
    ranks[order] = ranks_sorted
    return ranks


def _auroc_flat(scores: Tensor, labels: Tensor) -> float:
    """Mann-Whitney AUROC of 1-D scores against 1-D {0,1} labels (0.5 when undefined)."""
    pos = labels.bool()
    n_pos = int(pos.sum())
    n_neg = labels.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    r = _ranks(scores.double())
    u = r[pos].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def _prepare(maps: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    if masks.ndim == 4:
        masks = masks[:, 0]
    maps = upsample_maps(maps, tuple(masks.shape[-2:]))  # (B, H, W)
    masks = masks.to(maps.device)
    masks = masks > 0.5 if masks.is_floating_point() else masks > 0  # (B, H, W) bool
    return maps, masks


def auroc(maps: Tensor, masks: Tensor) -> float:
    """Area under the ROC curve of map values as a pixel classifier of the mask, pooled.

    Invariant to any increasing transform of the whole set of maps (not to per-image
    normalization: normalize first if the maps' scales differ between images).

    Args:
        maps: (B, h, w); upsampled bilinearly to the mask size when smaller.
        masks: (B, H, W) in {0, 1}.

    Returns:
        AUROC in [0, 1]; 0.5 for a constant map or when the masks are all 0 or all 1.
    """
    maps, masks = _prepare(maps, masks)
    return _auroc_flat(maps.flatten(), masks.flatten())


def per_image_aurocs(maps: Tensor, masks: Tensor) -> Tensor:
    """Each image's own AUROC: (B,) float64, NaN for an image whose mask is empty or full."""
    maps, masks = _prepare(maps, masks)
    return torch.tensor([_auroc_flat(m.flatten(), k.flatten()) if 0 < int(k.sum()) < k.numel()
                         else float("nan") for m, k in zip(maps, masks)], dtype=torch.float64)


def _mean_defined(vals: Tensor) -> float:
    """Mean of the non-NaN entries; 0.5 (chance) when there are none."""
    vals = vals[~vals.isnan()]
    return float(vals.mean()) if len(vals) else 0.5


def auroc_per_image(maps: Tensor, masks: Tensor) -> float:
    """Mean over images of each image's own AUROC (images with an empty or full mask skipped)."""
    return _mean_defined(per_image_aurocs(maps, masks))


def auroc_per_image_unsigned(maps: Tensor, masks: Tensor) -> float:
    """Mean over images of max(AUROC, 1 - AUROC): how well each map splits object from
    background when the polarity may differ from image to image.

    A map that segments every object but marks it as foreground in some images and as
    background in others scores high here and near 0.5 on :func:`auroc`. Not 0.5 at chance:
    compare with the same figure for an untrained network.
    """
    vals = per_image_aurocs(maps, masks)
    return _mean_defined(torch.maximum(vals, 1 - vals))  # NaN stays NaN


def iou_at(maps: Tensor, masks: Tensor, thr: float = 0.5, per_image: bool = False) -> float:
    """IoU of the prediction ``map >= thr`` with the mask.

    Args:
        maps: (B, h, w), usually min-max normalized to [0, 1] first.
        masks: (B, H, W) in {0, 1}.
        thr: threshold on map values.
        per_image: if True, mean of per-image IoUs; else total intersection / total union.

    Returns:
        IoU in [0, 1]; an empty union counts as IoU 1 (nothing to find, nothing predicted).
    """
    maps, masks = _prepare(maps, masks)
    pred = maps >= thr  # (B, H, W)
    inter = (pred & masks).flatten(1).sum(1).double()  # (B,)
    union = (pred | masks).flatten(1).sum(1).double()  # (B,)
    if per_image:
        return float(torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union)).mean())
    return float(inter.sum() / union.sum()) if union.sum() > 0 else 1.0


def best_threshold_iou(maps: Tensor, masks: Tensor) -> tuple[float, float]:
    """The highest pooled IoU over all thresholds, and the threshold that reaches it.

    Exact: every distinct map value is tried as a threshold (``map >= thr``), by sorting.

    Args:
        maps: (B, h, w).
        masks: (B, H, W) in {0, 1}.

    Returns:
        (iou, thr). With no positive pixel the IoU is 0 and thr is +inf.
    """
    maps, masks = _prepare(maps, masks)
    scores, order = torch.sort(maps.flatten().double(), descending=True)
    pos = masks.flatten()[order].double()
    n_pos = pos.sum()
    if n_pos == 0:
        return 0.0, float("inf")
    tp = torch.cumsum(pos, 0)
    fp = torch.cumsum(1 - pos, 0)
    # Only cut after the last element of a tie group: ">= thr" takes ties together.
    last = torch.ones_like(scores, dtype=torch.bool)
    last[:-1] = scores[1:] != scores[:-1]
    iou = torch.where(last, tp / (n_pos + fp), torch.zeros_like(tp))
    k = int(torch.argmax(iou))
    return float(iou[k]), float(scores[k])


def polarity(maps: Tensor, masks: Tensor) -> int:
    """+1 if the map marks the object (AUROC >= 0.5), -1 if ``1 - map`` does."""
    return 1 if auroc(maps, masks) >= 0.5 else -1


def saliency_report(maps: Tensor, masks: Tensor) -> dict[str, float]:
    """Every saliency figure the kit reports, for a batch of maps against masks.

    The accuracy figures use per-image min-max normalized maps (docs/method.md); the
    collapse figures use the raw maps, since normalizing would hide a constant map.

    Args:
        maps: (B, h, w) raw maps (e.g. the sigmoid output M_fg).
        masks: (B, H, W) in {0, 1}.

    Returns:
        dict with ``auroc`` (pooled), ``auroc_flipped`` (of 1 - map), ``auroc_per_image``,
        ``auroc_per_image_unsigned`` (polarity chosen per image), ``iou@0.5``, ``best_iou``,
        ``best_thr``, ``polarity`` (+1/-1), ``mean`` (mean raw value),
        ``spatial_std`` (mean over images of each raw map's std over space; near 0 = collapse
        to a constant), ``mean_map_std`` (std over space of the image-averaged raw map; large
        compared with ``spatial_std`` = the map depends on position, not on the image).
    """
    raw = maps.float()  # (B, h, w)
    norm = minmax_normalize(raw)  # (B, h, w)
    a = auroc(norm, masks)
    per_image = per_image_aurocs(norm, masks)  # (B,), computed once for both per-image figures
    best_iou, best_thr = best_threshold_iou(norm, masks)
    return {
        "auroc": a,
        "auroc_flipped": 1.0 - a,
        "auroc_per_image": _mean_defined(per_image),
        "auroc_per_image_unsigned": _mean_defined(torch.maximum(per_image, 1 - per_image)),
        "iou@0.5": iou_at(norm, masks, 0.5),
        "best_iou": best_iou,
        "best_thr": best_thr,
        "polarity": 1 if a >= 0.5 else -1,
        "mean": float(raw.mean()),
        "spatial_std": float(raw.flatten(1).std(1, unbiased=False).mean()),
        "mean_map_std": float(raw.mean(0).flatten().std(unbiased=False)),
    }


COLLAPSE_STD = 0.01  # a raw map whose per-image spatial std is below this is called collapsed


def map_reports(maps: dict[str, Tensor], masks: Tensor) -> dict[str, float]:
    """``saliency_report`` of every named map (B, h, w) against masks (B, H, W), each map
    upsampled to the masks' size, plus ``collapsed`` (spatial_std below ``COLLAPSE_STD``) and
    ``shortcut_ratio`` (mean_map_std / spatial_std: near 1 when every image gets the same
    positional map). Keys are ``"{name}/{figure}"``."""
    out: dict[str, float] = {}
    for name, m in maps.items():
        rep = saliency_report(upsample_maps(m, masks.shape[-2:]), masks.to(m.device))
        rep["collapsed"] = rep["spatial_std"] < COLLAPSE_STD
        rep["shortcut_ratio"] = rep["mean_map_std"] / max(rep["spatial_std"], 1e-12)
        out.update({f"{name}/{k}": v for k, v in rep.items()})
    return out


def pointing_game(maps: Tensor, masks: Tensor) -> float:
    """Fraction of images whose map peaks on the object (Zhang et al.'s pointing game).

    Each map is upsampled bilinearly to its mask's size (as in :func:`auroc`); its argmax
    pixel is a hit when the mask is 1 there. Ties go to the first maximum in row-major order
    (``torch.argmax``), so a constant map points at the top-left pixel. Images whose mask is
    empty are skipped (there is nothing to point at); a full mask is always a hit.

    Args:
        maps: (B, h, w), higher = more "foreground".
        masks: (B, H, W) in {0, 1}.

    Returns:
        hits / images with a non-empty mask, in [0, 1]; 0.0 when every mask is empty.
    """
    maps, masks = _prepare(maps, masks)  # (B, H, W) float, (B, H, W) bool
    keep = masks.flatten(1).any(1)  # (B,)
    if not bool(keep.any()):
        return 0.0
    flat_maps, flat_masks = maps.flatten(1)[keep], masks.flatten(1)[keep]  # (B', H*W)
    peak = flat_maps.argmax(1, keepdim=True)  # (B', 1)
    hits = flat_masks.gather(1, peak)[:, 0]  # (B',) bool
    return float(hits.double().mean())


def centre_prior(n: int, h: int, w: int, sigma: float = 0.25, device=None,
                 dtype: torch.dtype = torch.float32) -> Tensor:
    """A Gaussian centred on the image: the "object is in the middle" baseline map.

    Value at pixel (i, j), with coordinates of pixel centres as fractions of the side,
    y = (i + 0.5) / h - 0.5 and x = (j + 0.5) / w - 0.5:
    ``exp(-(x^2 + y^2) / (2 sigma^2))``. Its maximum (1 for odd sides) is at the centre; it is
    symmetric under flips. Scoring it with :func:`saliency_report` or :func:`pointing_game`
    gives the figure a map must beat to show it uses the image rather than a centre bias.

    Args:
        n: number of copies (the batch size B).
        h, w: map height and width.
        sigma: standard deviation as a fraction of the side (0.25: a quarter of the image).
        device, dtype: of the result.

    Returns:
        (n, h, w) map in (0, 1], identical for every image.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    y = (torch.arange(h, device=device, dtype=torch.float64) + 0.5) / h - 0.5  # (h,)
    x = (torch.arange(w, device=device, dtype=torch.float64) + 0.5) / w - 0.5  # (w,)
    g = torch.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma ** 2))  # (h, w)
    return g.to(dtype).expand(n, h, w).clone()


def by_class(aurocs: Tensor, labels: Tensor, class_names=None) -> list[dict]:
    """Per-image AUROCs (``per_image_aurocs``) summarised per class: images, mean AUROC, the
    share whose map marks the object (AUROC > 0.5), and the mean with the polarity chosen per
    image, max(a, 1 - a). Images with an undefined AUROC (NaN) are left out."""
    keep = ~aurocs.isnan()
    aurocs, labels = aurocs[keep], labels[keep]
    rows = []
    for c in labels.unique().tolist():
        a = aurocs[labels == c]
        rows.append({"class": class_names[c] if class_names else str(c), "images": len(a),
                     "mean_auroc": float(a.mean()), "marks_object": float((a > 0.5).float().mean()),
                     "polarity_per_image": float(torch.maximum(a, 1 - a).mean())})
    return rows
