"""The map scores papers quote: PxAP, MaxBoxAccV2, DINO's mass-threshold Jaccard and CorLoc.

    map_protocols(maps, masks)      # {"pxap", "maxboxacc_v2", "dino_jaccard", "corloc"}

Tensors in, numbers out, all in [0, 1] (the papers print them x100). Each protocol follows
its reference code; docs/evaluation.md gives the definitions with file and line.

* ``maps``: (B, h, w), any size; upsampled bilinearly to the masks' size, then min-max
  normalised per image (a constant map becomes all zeros), as wsolevaluation's
  ``normalize_scoremap`` does after resizing.
* ``masks``: (B, H, W) in {0, 1}. Ground-truth boxes are one per 8-connected component of a
  mask: wsolevaluation counts a box prediction right when it matches any one of the image's
  boxes (one per object instance).
* Box protocols and the Jaccard skip images whose mask is empty (nothing to localise).

Connected components are our own union-find (no scipy / OpenCV); the box of a threshold's
contours follows ``cv2.findContours(RETR_TREE)`` + ``cv2.boundingRect``: one box per
8-connected foreground component and one per hole (a 4-connected background component not
touching the border), the hole's contour running on the foreground pixels around it.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .saliency_metrics import minmax_normalize, upsample_maps

PROTOCOLS = ("pxap", "maxboxacc_v2", "dino_jaccard", "corloc")
CAM_CURVE_INTERVAL = 0.001  # wsolevaluation config.py: --cam_curve_interval .001
IOU_THRESHOLDS = (30, 50, 70)  # wsolevaluation config.py: --iou_threshold_list 30 50 70
MASS = 0.6  # DINO's t: the share of the map's mass kept
_N8 = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
_N4 = ((-1, 0), (0, -1), (0, 1), (1, 0))


def prepare(maps: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    """Maps (B, h, w) upsampled bilinearly to the masks (B, H, W) and min-max normalised per
    image, as float64 on the CPU; masks as bool (B, H, W)."""
    masks = masks.cpu()
    maps = minmax_normalize(upsample_maps(maps.cpu(), tuple(masks.shape[-2:])))
    masks = masks > 0.5 if masks.is_floating_point() else masks > 0
    return maps.double(), masks


# ------------------------------------------------------------------------------------------
# PxAP


def pxap(maps: Tensor, masks: Tensor, interval: float = CAM_CURVE_INTERVAL) -> float:
    """Pixel average precision (Choe et al. 2020): the area under the pixel precision-recall
    curve of the thresholds 0, interval, ..., 1 - interval, pooled over all images.

    Map values are binned into [0, bw), ..., [1 - bw, 1), [1, 2), [2, 3]; a threshold keeps
    the pixels of its bin and above. AP = sum over thresholds, from high to low, of
    precision x (gain in recall); thresholds that keep no pixel add nothing. 0.0 when no mask
    has a pixel.
    """
    maps, masks = prepare(maps, masks)
    edges = np.append(np.arange(0, 1, interval), [1.0, 2.0, 3.0])
    scores = maps.numpy()
    truth = masks.numpy()
    pos_hist = np.histogram(scores[truth], bins=edges)[0].astype(np.float64)
    neg_hist = np.histogram(scores[~truth], bins=edges)[0].astype(np.float64)
    tp = np.cumsum(pos_hist[::-1])  # kept positives, from the highest bin down
    fp = np.cumsum(neg_hist[::-1])
    if tp[-1] == 0:
        return 0.0
    kept = tp + fp
    precision = np.divide(tp, kept, out=np.zeros_like(tp), where=kept > 0)
    recall = tp / tp[-1]
    gain = np.diff(recall, prepend=0.0)
    return float((precision * gain)[kept > 0].sum())


# ------------------------------------------------------------------------------------------
# union-find over a map's levels


def _find(parent: list, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        parent[i], i = root, parent[i]
    return root


_NEIGHBOURS: dict = {}


def _neighbour_lists(h: int, w: int, eight: bool) -> list:
    """For each pixel of an (h, w) image, the flat indices of its 8 (or 4) neighbours."""
    key = (h, w, eight)
    if key not in _NEIGHBOURS:
        steps = _N8 if eight else _N4
        _NEIGHBOURS[key] = [[(y + dy) * w + x + dx for dy, dx in steps
                             if 0 <= y + dy < h and 0 <= x + dx < w]
                            for y in range(h) for x in range(w)]
    return _NEIGHBOURS[key]


class _Components:
    """Connected components of pixels added one at a time: each root's box (inclusive
    x0, y0, x1, y1) and whether it touches the image border."""

    def __init__(self, h: int, w: int, eight: bool):
        self.h, self.w, self.nb = h, w, _neighbour_lists(h, w, eight)
        self.parent = [-1] * (h * w)  # -1: not added yet
        self.box: dict[int, list] = {}
        self.border: dict[int, bool] = {}

    def add(self, p: int) -> list:
        """Adds pixel ``p`` (it stays its component's root); returns the roots it merged
        away (no longer components)."""
        parent, box = self.parent, self.box
        y, x = divmod(p, self.w)
        parent[p] = p
        mine = box[p] = [x, y, x, y]
        edge = y == 0 or x == 0 or y == self.h - 1 or x == self.w - 1
        gone = []
        for q in self.nb[p]:
            if parent[q] < 0:
                continue
            b = _find(parent, q)
            if b != p:
                parent[b] = p
                other = box.pop(b)
                mine[0], mine[1] = min(mine[0], other[0]), min(mine[1], other[1])
                mine[2], mine[3] = max(mine[2], other[2]), max(mine[3], other[3])
                edge = self.border.pop(b) or edge
                gone.append(b)
        self.border[p] = edge
        return gone


def components(binary: np.ndarray, eight: bool = True) -> tuple[np.ndarray, list]:
    """Connected components of a bool (H, W) image: (labels (H, W) int, -1 off; boxes
    [x0, y0, x1, y1] inclusive, one per label)."""
    h, w = binary.shape
    cc = _Components(h, w, eight)
    for p in np.flatnonzero(binary.ravel()).tolist():
        cc.add(p)
    roots = sorted(cc.box)
    index = {r: i for i, r in enumerate(roots)}
    labels = np.full(h * w, -1, dtype=np.int64)
    for p in np.flatnonzero(binary.ravel()).tolist():
        labels[p] = index[_find(cc.parent, p)]
    return labels.reshape(h, w), [cc.box[r] for r in roots]


def box_iou_inclusive(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (n, 4) x (m, 4), x0 y0 x1 y1 with both ends inside the box (areas count
    pixels: (x1 - x0 + 1)(y1 - y0 + 1)), as wsolevaluation's ``calculate_multiple_iou``;
    a degenerate pair scores 0."""
    a, b = np.asarray(a, np.float64)[:, None], np.asarray(b, np.float64)[None]
    iw = np.maximum(0, np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1)
    ih = np.maximum(0, np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1)
    inter = iw * ih
    area = lambda z: (z[..., 2] - z[..., 0] + 1) * (z[..., 3] - z[..., 1] + 1)  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _reference_box(box, h: int, w: int) -> list:
    """wsolevaluation's box of a contour whose pixels span ``box`` (inclusive): x0, y0 and
    x + width, y + height (one past the last pixel, as ``cv2.boundingRect`` gives the width),
    clipped to the last row and column (evaluation.py:153-157)."""
    return [box[0], box[1], min(box[2] + 1, w - 1), min(box[3] + 1, h - 1)]


def _sweep(h: int, w: int, eight: bool, levels, groups, score):
    """Adds pixel groups level by level to one ``_Components``; after each level yields
    (level, the best ``score(cc, root)`` over the live components, -1 if none); a score of
    None leaves a component out."""
    cc, alive = _Components(h, w, eight), {}
    for v, group in zip(np.asarray(levels).tolist(), groups):
        for p in group.tolist():
            for g in cc.add(p):
                alive.pop(g, None)
        for r in {_find(cc.parent, p) for p in group.tolist()}:
            alive.pop(r, None)
            s = score(cc, r)
            if s is not None:
                alive[r] = s
        yield v, max(alive.values(), default=-1.0)


def best_box_iou_by_threshold(u8: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """For each integer threshold T = 0..255, the best IoU with any ground-truth box (m, 4) of
    any contour box of ``u8 > T`` (u8: (H, W) uint8 map), as wsolevaluation's multi-contour
    evaluation; no foreground gives the box [0, 0, 0, 0]."""
    h, w = u8.shape
    flat = u8.ravel().astype(np.int64)
    order = np.argsort(flat, kind="stable")
    levels, starts = np.unique(flat[order], return_index=True)
    groups = np.split(order, starts[1:])
    gt_boxes = [tuple(g) for g in np.asarray(gt).tolist()]

    def score(b) -> float:  # box_iou_inclusive of one box, in plain Python (called often)
        x0, y0, x1, y1 = _reference_box(b, h, w)
        area, best = (x1 - x0 + 1) * (y1 - y0 + 1), 0.0
        for g0, h0, g1, h1 in gt_boxes:
            inter = max(0, min(x1, g1) - max(x0, g0) + 1) * max(0, min(y1, h1) - max(y0, h0) + 1)
            union = area + (g1 - g0 + 1) * (h1 - h0 + 1) - inter
            best = max(best, inter / union if union > 0 else 0.0)
        return best

    # objects: 8-connected components of u8 >= v, adding levels from the top
    outer = np.full(257, -1.0)  # outer[v]: best over components of u8 >= v
    for v, best in _sweep(h, w, True, levels[::-1], groups[::-1],
                          lambda cc, r: score(cc.box[r])):
        outer[v] = best
    # holes: 4-connected components of u8 <= v off the border, adding levels from the bottom;
    # a hole's contour runs one pixel outside it
    holes = np.full(256, -1.0)  # holes[v]: best over holes of u8 <= v

    def hole(cc, r):
        x0, y0, x1, y1 = cc.box[r]
        return None if cc.border[r] else score([x0 - 1, y0 - 1, x1 + 1, y1 + 1])

    for v, best in _sweep(h, w, False, levels, groups, hole):
        holes[v] = best

    empty = float(box_iou_inclusive([[0, 0, 0, 0]], gt).max())
    best = np.empty(256)
    top, hole = -1.0, -1.0
    for t in range(255, -1, -1):  # u8 > t is u8 >= t + 1
        top = outer[t + 1] if outer[t + 1] >= 0 else top
        best[t] = top
    present = set(levels.tolist())
    for t in range(256):
        hole = holes[t] if t in present else hole
        best[t] = max(best[t], hole) if best[t] >= 0 else empty
    return best


def max_box_acc_v2(maps: Tensor, masks: Tensor, interval: float = CAM_CURVE_INTERVAL,
                   iou_thresholds=IOU_THRESHOLDS) -> dict[str, float]:
    """MaxBoxAccV2 (Choe et al. 2020): for each IoU threshold d, the share of images whose
    best contour box at a map threshold reaches IoU >= d/100 with a ground-truth box, at the
    best map threshold; then the mean over d.

    Thresholds t in 0, interval, ..., 1 - interval; at t the foreground is the pixels of
    uint8(255 map) above int(t x max of that), as ``cv2.threshold(THRESH_BINARY)``.

    Returns:
        {"maxboxacc_v2": mean, "boxacc@30": ..., "boxacc@50": ..., "boxacc@70": ...}.
    """
    maps, masks = prepare(maps, masks)
    thresholds = np.arange(0, 1, interval)
    correct = {d: np.zeros(len(thresholds)) for d in iou_thresholds}
    n = 0
    for m, k in zip(maps.numpy(), masks.numpy()):
        if not k.any():
            continue
        _, gt = components(k, eight=True)
        u8 = (m * 255).astype(np.uint8)
        cut = (thresholds * u8.max()).astype(np.int64)  # int(t * max), per threshold
        best = best_box_iou_by_threshold(u8, np.asarray(gt))[cut]
        for d in iou_thresholds:
            correct[d] += best >= d / 100
        n += 1
    accs = {d: float(correct[d].max() / n) if n else 0.0 for d in iou_thresholds}
    return {"maxboxacc_v2": float(np.mean(list(accs.values()))),
            **{f"boxacc@{d}": a for d, a in accs.items()}}


# ------------------------------------------------------------------------------------------
# DINO's mass threshold, its Jaccard and CorLoc


def mass_masks(maps: Tensor, mass: float = MASS) -> Tensor:
    """DINO's mask of each map (B, H, W), non-negative: sort a map's values upward (stable),
    divide by their sum, and keep the pixels whose running sum exceeds 1 - mass, i.e. the
    largest values holding a share ``mass`` of the whole. A map summing to 0 keeps nothing."""
    flat = maps.double().flatten(1)  # (B, HW)
    vals, idx = torch.sort(flat, dim=1, stable=True)
    total = vals.sum(1, keepdim=True)
    cum = torch.cumsum(vals / total.clamp_min(1e-300), dim=1)
    keep_sorted = (cum > 1 - mass) & (total > 0)
    keep = torch.zeros_like(keep_sorted)
    keep.scatter_(1, idx, keep_sorted)
    return keep.view_as(maps)


def dino_jaccard(maps: Tensor, masks: Tensor, mass: float = MASS) -> float:
    """Mean over images (non-empty masks) of the Jaccard index |P & M| / |P | M| of DINO's
    mass mask P (``mass_masks`` of the normalised map) with the mask M."""
    maps, masks = prepare(maps, masks)
    keep = mass_masks(maps, mass)
    inter = (keep & masks).flatten(1).sum(1).double()
    union = (keep | masks).flatten(1).sum(1).double()
    has = masks.flatten(1).any(1)
    return float((inter[has] / union[has]).mean()) if bool(has.any()) else 0.0


def box_iou_edges(a, b: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with boxes (m, 4), x0 y0 x1 y1 on pixel edges (x1 one past the last
    pixel), as LOST's ``bbox_iou``."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    iw = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return inter / union


def corloc_boxes(maps: Tensor, mass: float = MASS) -> list:
    """One box per map (normalised, at the masks' size), on pixel edges: the 4-connected
    component of DINO's mass mask that holds the map's peak (the last maximum in row-major
    order: the last pixel of the mask's stable upward sort, so always kept), boxed; None for
    a map that keeps nothing."""
    keep = mass_masks(maps, mass).numpy()
    flat = maps.flatten(1)
    peaks = (flat.shape[1] - 1 - flat.flip(1).argmax(1)).tolist()
    out = []
    for k, peak in zip(keep, peaks):
        if not k.ravel()[peak]:
            out.append(None)
            continue
        labels, boxes = components(k, eight=False)
        x0, y0, x1, y1 = boxes[labels.ravel()[peak]]
        out.append([x0, y0, x1 + 1, y1 + 1])
    return out


def corloc(maps: Tensor, masks: Tensor, mass: float = MASS) -> float:
    """Share of images (non-empty masks) whose predicted box (``corloc_boxes``) has IoU >= 0.5
    with one of the mask's boxes (one per 8-connected component), as LOST's CorLoc."""
    maps, masks = prepare(maps, masks)
    hits, n = 0, 0
    for box, k in zip(corloc_boxes(maps, mass), masks.numpy()):
        if not k.any():
            continue
        n += 1
        gt = np.asarray(components(k, eight=True)[1]) + np.array([0, 0, 1, 1])
        hits += box is not None and bool((box_iou_edges(box, gt) >= 0.5).any())
    return hits / n if n else 0.0


def map_protocols(maps: Tensor, masks: Tensor, protocols=PROTOCOLS) -> dict[str, float]:
    """The ``protocols`` (default all of ``PROTOCOLS``) of maps (B, h, w) against masks
    (B, H, W): ``{name: value}``; ``maxboxacc_v2`` also gives ``boxacc@30|50|70`` when asked
    for them by name."""
    unknown = [p for p in protocols if p not in PROTOCOLS + ("boxacc@30", "boxacc@50",
                                                            "boxacc@70")]
    if unknown:
        raise ValueError(f"unknown map protocol(s) {unknown}; choose from {PROTOCOLS}")
    out: dict[str, float] = {}
    if "pxap" in protocols:
        out["pxap"] = pxap(maps, masks)
    if any(p.startswith(("maxboxacc", "boxacc")) for p in protocols):
        out.update(max_box_acc_v2(maps, masks))
    if "dino_jaccard" in protocols:
        out["dino_jaccard"] = dino_jaccard(maps, masks)
    if "corloc" in protocols:
        out["corloc"] = corloc(maps, masks)
    return {p: out[p] for p in protocols}


__all__ = ["PROTOCOLS", "CAM_CURVE_INTERVAL", "IOU_THRESHOLDS", "MASS", "prepare", "pxap",
           "components", "box_iou_inclusive", "best_box_iou_by_threshold", "max_box_acc_v2",
           "mass_masks", "dino_jaccard", "box_iou_edges", "corloc_boxes", "corloc",
           "map_protocols"]
