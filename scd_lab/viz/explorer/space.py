"""The feature space beside the maps: each run's embedding of the probe images, per snapshot.

The saliency monitor stores the probe images' embedding in every snapshot (``"features"``,
float16 (P, C): ``method.features``, GAP of the online encoder; ``scd_lab.rundir``). From it:

* ``neighbours(features, k)``: the ``k`` nearest probe images of each probe image by cosine
  similarity (the image itself left out);
* ``tsne_path(features_per_snapshot)``: a 2-D t-SNE layout (scikit-learn) of the probe set at
  every snapshot, each one started from the previous one's layout so that points move
  smoothly from epoch to epoch; scaled to [0, 1] per snapshot;
* ``FeatureSpace``: both for a dict of runs (``{label: scd_lab.runs.Run}``), computed on first
  use and cached (the widget explorer and the HTML export share it).

Runs made before snapshots kept embeddings have none; ``FeatureSpace.note(label)`` says so.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

NO_FEATURES = ("no embeddings in this run's snapshots (made before snapshots kept them): "
               "train it again to see its feature space")


def neighbours(features: torch.Tensor, k: int = 5) -> torch.Tensor:
    """(P, k) long: for each row of ``features`` (P, C), the indices of the ``k`` most
    cosine-similar other rows, nearest first (k is capped at P - 1)."""
    z = F.normalize(features.float(), dim=1)  # (P, C)
    sim = z @ z.T  # (P, P)
    sim.fill_diagonal_(-float("inf"))
    k = max(0, min(k, z.shape[0] - 1))
    return sim.topk(k, dim=1).indices


def _unit_box(xy: np.ndarray) -> np.ndarray:
    lo, hi = xy.min(0), xy.max(0)
    return (xy - lo) / np.where(hi - lo > 1e-9, hi - lo, 1.0)


def tsne_path(features: list, seed: int = 0) -> list:
    """A t-SNE layout (P, 2) in [0, 1] per snapshot (``None`` where ``features[i]`` is None).

    Each layout starts from the previous one's (the first from PCA), so that a point moves
    only as far as its neighbourhood changed; perplexity is ``min(30, (P - 1) / 3)``.

    Raises:
        ImportError: scikit-learn is missing (in the ``notebooks`` and ``dev`` extras).
    """
    try:
        from sklearn.manifold import TSNE
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the feature-space view needs scikit-learn: pip install "
                          "scikit-learn (or the notebooks / dev extras of scd-lab)") from e
    out, init = [], "pca"
    for f in features:
        if f is None or f.shape[0] < 4:
            out.append(None)
            continue
        x = F.normalize(f.float(), dim=1).numpy().astype(np.float64)  # (P, C)
        p = x.shape[0]
        xy = TSNE(n_components=2, perplexity=min(30.0, (p - 1) / 3), init=init,
                  random_state=seed, max_iter=500).fit_transform(x)  # (P, 2)
        xy = _unit_box(xy)
        out.append(xy)
        init = (xy - 0.5) * 1e-2  # the next snapshot starts here (small scale, as PCA init)
    return out


class FeatureSpace:
    """Neighbours and t-SNE layouts of the probe set for ``runs`` ({label: Run}), per
    snapshot index of each run; computed on first use, cached until ``forget(label)``."""

    def __init__(self, runs: dict, k: int = 5, seed: int = 0):
        self.runs, self.k, self.seed = runs, k, seed
        self._layouts: dict = {}
        self._neighbours: dict = {}

    def features(self, label: str, snapshot: int) -> torch.Tensor | None:
        """(P, C) float16 embedding of the probe images at a snapshot, or None."""
        snaps = self.runs[label].snapshots
        return snaps[snapshot].get("features") if 0 <= snapshot < len(snaps) else None

    def has_features(self, label: str) -> bool:
        return any("features" in s for s in self.runs[label].snapshots)

    def note(self, label: str) -> str:
        """Why run ``label`` shows no feature space ('' when it has one)."""
        return "" if self.has_features(label) else NO_FEATURES

    def layouts(self, label: str) -> list:
        """One (P, 2) layout in [0, 1] (or None) per snapshot of run ``label``."""
        if label not in self._layouts:
            feats = [s.get("features") for s in self.runs[label].snapshots]
            self._layouts[label] = tsne_path(feats, self.seed) if any(
                f is not None for f in feats) else [None] * len(feats)
        return self._layouts[label]

    def layout(self, label: str, snapshot: int | None) -> np.ndarray | None:
        lay = self.layouts(label)
        return lay[snapshot] if snapshot is not None and 0 <= snapshot < len(lay) else None

    def neighbours(self, label: str, snapshot: int | None) -> torch.Tensor | None:
        """(P, k) nearest probe images of every probe image at a snapshot, or None."""
        if snapshot is None:
            return None
        key = (label, snapshot)
        if key not in self._neighbours:
            f = self.features(label, snapshot)
            self._neighbours[key] = None if f is None else neighbours(f, self.k)
        return self._neighbours[key]

    def forget(self, label: str) -> None:
        """Drop what was computed for run ``label`` (its snapshots changed)."""
        self._layouts.pop(label, None)
        self._neighbours = {k: v for k, v in self._neighbours.items() if k[0] != label}
