"""The objective's landscape: SCD's L_d along straight paths from the learned map.

Is the object the minimum of SCD's objective? The oracle of the frozen-feature study
(``scd_lab.studies.probe.oracle_loss``) retrains H^s with the map fixed to the mask; this
module asks the local question with the trained heads as they are: start from the learned
maps of a batch of view pairs and move each image's map in a straight line towards

- ``mask``: the true mask of the view (at feature resolution),
- ``inverse``: one minus that mask,
- ``centre``: the centre prior (``eval.saliency_metrics.centre_prior``),

    m_v(t) = (1 - t) * learned_v + t * target_v,   t in [0, 1],  v = 1 (online), 2 (target)

and evaluate L_d = ``SCD.discrimination(f1, f2, m_1(t), m_2(t))`` at each t, both maps
replaced, the heads (H^s, its EMA target, the predictor if any) untouched. If the object
were the minimum, the curve towards the mask would go down.

    land = probe_landscape("random", steps=500)     # train the heads, keep one batch
    curves = land.curves(alpha=0.5)                 # {"t", "mask", "inverse", "centre"}

α and λ. L_d reads the margin from ``SCD.alpha`` at every call, so a landscape at another α is
the same heads evaluated with another margin (no retraining; the heads were trained at their
own α). λ does not enter L_d: the objective's term is λ·L_d, a scale the plot applies
(``scd_lab.viz.landscape``). One direction (view 1 online, view 2 target), as the probe trains.

Batch norm. H^s and the saliency net see their batch as in training (train-mode BN, batch
statistics), so the values are the objective the heads were trained on; their running
statistics and every module's train/eval mode are restored afterwards.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..eval.saliency_metrics import centre_prior
from ..methods import SCD
from ..runs.build import build_augment
from .objective import HELD, LAM, _trunk_and_data
from .probe import objective_probe, view_pool

PATHS = ("mask", "inverse", "centre")  # the targets of the paths, in the plot's order
TS = tuple(float(t) for t in np.linspace(0.0, 1.0, 21))  # the default points of each path


@contextmanager
def training_statistics(module: nn.Module):
    """Run ``module`` in train mode (BN on batch statistics) and give back its buffers (BN
    running statistics) and each submodule's mode as they were."""
    modes = [(m, m.training) for m in module.modules()]
    saved = [(b, b.detach().clone()) for b in module.buffers()]
    module.train()
    try:
        yield module
    finally:
        for b, value in saved:
            b.copy_(value)
        for m, mode in modes:
            m.training = mode


@contextmanager
def margin(heads: SCD, alpha: float | None):
    """``heads.alpha`` set to ``alpha`` (None: left as it is), then restored."""
    old = heads.alpha
    heads.alpha = old if alpha is None else float(alpha)
    try:
        yield heads
    finally:
        heads.alpha = old


def interpolate(start: Tensor, end: Tensor, t: float) -> Tensor:
    """The map at ``t`` on the straight path: (1 - t) * start + t * end, (B, h, w)."""
    return (1.0 - t) * start + t * end


@torch.no_grad()
def learned_maps(heads: SCD, f1: Tensor, f2: Tensor) -> tuple[Tensor, Tensor]:
    """The maps ``SCD.discrimination`` uses when given none: the online M of view 1 and the
    target M of view 2, BN on batch statistics. (B, C, h, w), (B, C, h, w) -> (B, h, w) x 2."""
    with training_statistics(heads):
        m1 = heads.saliency(f1)  # (B, h, w)
        m2 = heads.base.target_apply(heads.target_saliency, f2)  # (B, h, w)
    return m1, m2


@torch.no_grad()
def ld_along_paths(heads: SCD, f1: Tensor, f2: Tensor, learned: tuple[Tensor, Tensor],
                   masks: tuple[Tensor, Tensor], prior: Tensor, ts=TS,
                   alpha: float | None = None) -> dict[str, np.ndarray]:
    """L_d along the three paths from the learned maps (module docstring).

    Args:
        heads: SCD (or SCD's heads over a frozen trunk, ``studies.probe.build_heads``).
        f1, f2: feature maps of the two views, (B, C, h, w) each.
        learned: the learned maps of view 1 and view 2, (B, h, w) each (``learned_maps``).
        masks: the true masks of the two views at feature resolution, (B, h, w) each, in [0, 1].
        prior: the centre prior, (h, w) or (B, h, w) (the same for both views).
        ts: the points t in [0, 1] of each path (T of them).
        alpha: the margin of eq. 5 for these values (None: the heads' own ``alpha``); set on
            ``heads.alpha`` for the call and restored.

    Returns:
        ``{"t": (T,), "mask": (T,), "inverse": (T,), "centre": (T,)}``: L_d (not λ·L_d) at
        each t, float64 arrays; every path starts at the same value (t = 0, the learned maps).
    """
    prior = prior.to(f1).expand_as(learned[0])  # (B, h, w)
    targets = {"mask": masks, "inverse": (1.0 - masks[0], 1.0 - masks[1]),
               "centre": (prior, prior)}
    ts = [float(t) for t in ts]
    out = {"t": np.asarray(ts, dtype=np.float64)}
    with training_statistics(heads), margin(heads, alpha):
        for name in PATHS:
            end1, end2 = targets[name]
            out[name] = np.asarray([float(heads.discrimination(
                f1, f2, interpolate(learned[0], end1, t), interpolate(learned[1], end2, t))[0])
                for t in ts], dtype=np.float64)  # (T,)
    return out


@dataclass
class Landscape:
    """One batch of view pairs and the heads to evaluate L_d with (``probe_landscape``).

    ``f1``, ``f2``: (B, C, h, w); ``learned``, ``masks``: pairs of (B, h, w); ``prior``:
    (B, h, w); ``probe``: the probe's result (history, final loss) when it was trained here.
    """

    heads: SCD
    f1: Tensor
    f2: Tensor
    learned: tuple[Tensor, Tensor]
    masks: tuple[Tensor, Tensor]
    prior: Tensor
    probe: dict | None = None

    @classmethod
    def of(cls, heads: SCD, f1: Tensor, f2: Tensor, masks: tuple[Tensor, Tensor],
           probe: dict | None = None) -> "Landscape":
        """The batch with its learned maps and the centre prior at the feature size."""
        b, _, h, w = f1.shape
        return cls(heads, f1, f2, learned_maps(heads, f1, f2), masks,
                   centre_prior(b, h, w, device=f1.device, dtype=f1.dtype), probe)

    def curves(self, alpha: float | None = None, ts=TS) -> dict[str, np.ndarray]:
        """``ld_along_paths`` on this batch at margin ``alpha``."""
        return ld_along_paths(self.heads, self.f1, self.f2, self.learned, self.masks,
                              self.prior, ts, alpha)


def probe_landscape(trunk: str = "random", data: str | None = "default", alpha: float = 1.0,
                    steps: int = 500, batch: int = 64, seed: int = 0, device="cpu",
                    progress: bool = False) -> Landscape:
    """Train SCD's heads on a frozen trunk as a cell of the objective study does
    (``studies.objective.run_cell``: the same trunk, data, views, λ and head sizes), and keep
    them with the first batch of the views they trained on (the pool's first ``batch`` pairs,
    with their view masks) for ``Landscape.curves``."""
    net, cfg, (train, test) = _trunk_and_data(trunk, data, seed, device)
    held = test.subset(torch.arange(min(HELD, len(test))))
    augment = build_augment(cfg.data)
    if train.masks is None or held.masks is None:
        raise ValueError(f"the data of {trunk!r} has no masks; the landscape needs them")
    pool = view_pool(net, train, augment, batch, steps, seed)
    sizes = {k: getattr(cfg.method, k) or d for k, d in
             (("proj_hidden", 1024), ("proj_dim", 256), ("pred_hidden", 1024))}
    res = objective_probe(net, train, held, augment, "scd", alpha, LAM, steps, batch,
                          seed=seed, progress=progress, pool=pool, keep_heads=True, **sizes)
    heads = res.pop("heads")
    f1, f2, m1, m2 = (pool[k][:batch] for k in ("f1", "f2", "m1", "m2"))
    return Landscape.of(heads, f1, f2, (m1, m2), res)
