"""What SCD's objective prefers, on features of known quality: the frozen-feature probe.

The trunk is frozen; only the heads are trained, with lam * L_d on two augmented views (for
SCD: the saliency net, the semantic projector H^s, the semantic predictor if any, and their
EMA targets; for LEWEL: its projector, predictors and slot heads with the LEWEL loss). The map
is measured against held-out masks as it trains. This separates the two suspects of the
conditions study: on features that do carry the object (a supervised trunk, distinct
textures), does the objective pick the object?

The oracle comparison fixes the map to the ground-truth mask (warped like each view), then to
its inverse, trains only H^s with L_d, and reports the loss reached: if the learned map
reaches a lower L_d than the mask, the object is not the objective's minimum on these
features.

    res = objective_probe(trunk, train, held, augment, alpha=1.0, steps=2000)
    res["history"][-1]["auroc"], res["final_loss"]
    oracle = oracle_loss(trunk, train, augment, which="mask")

Everything runs on the trunk's device (move the trunk to a GPU first to probe there): the
views are drawn and augmented on the CPU from the same seeded generators, so a probe on a GPU
trains on the same views as on the CPU; only floating-point rounding differs.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..data.augment import warp_masks
from ..eval.saliency_metrics import upsample_maps
from ..methods import BYOL, LEWEL, SCD, Encoded
from ..runs.scoring import PROBE_FIGURES, score_map
from ..schedules import cosine_lr, momentum_at

EVAL_BATCH = 256
EXAMPLES = 8  # held-out images whose final map a probe returns (``example_maps``)


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); the CPU for one with neither."""
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


@torch.no_grad()
def calibrate_bn(trunk: nn.Module, images: Tensor, augment, batches: int = 20, batch: int = 256,
                 seed: int = 0) -> nn.Module:
    """Set the BN running statistics of a (random) trunk to the cumulative statistics of
    ``batches`` batches of augmented views, then leave it in eval mode."""
    g = torch.Generator().manual_seed(seed)
    dev = module_device(trunk)
    for m in trunk.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
    trunk.train()
    for _ in range(batches):
        idx = torch.randint(0, len(images), (min(batch, len(images)),), generator=g)
        x1, x2, _, _ = augment(images[idx], g)
        trunk(torch.cat([x1, x2]).to(dev))
    return trunk.eval()


@torch.no_grad()
def frozen_maps(trunk: nn.Module, x: Tensor) -> Tensor:
    """F of a frozen trunk (eval mode, no gradient): (B, 3, S, S) -> (B, C, h, w)."""
    trunk.eval()
    return trunk(x)


def build_heads(trunk: nn.Module, method: str = "scd", alpha: float = 1.0, lam: float = 0.5,
                proj_hidden: int = 1024, proj_dim: int = 256, pred_hidden: int = 1024,
                semantic_predictor: bool = False, semantic_bn: str = "separate",
                seed: int = 0) -> nn.Module:
    """SCD's or LEWEL's heads around a frozen trunk (the trunk's parameters are frozen)."""
    for p in trunk.parameters():
        p.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if method == "scd":
            base = BYOL(trunk, proj_hidden, proj_dim, pred_hidden)
            return SCD(base, alpha=alpha, lam=lam, semantic_predictor=semantic_predictor,
                       pred_hidden=pred_hidden, semantic_bn=semantic_bn)
        if method == "lewel":
            return LEWEL(BYOL(trunk, proj_hidden, proj_dim, pred_hidden, symmetric=True))
    raise ValueError(f"method must be 'scd' or 'lewel', got {method!r}")


def _trainable(heads: nn.Module) -> list[nn.Parameter]:
    trunk = {id(p) for p in heads.encoder.parameters()}
    return [p for p in heads.parameters() if p.requires_grad and id(p) not in trunk]


def _head_pairs(heads: nn.Module):
    return [(o, t) for o, t in heads.momentum_pairs() if o is not heads.encoder]


@torch.no_grad()
def measure_map(heads: nn.Module, held_feats: Tensor, masks: Tensor) -> dict:
    """The heads' own map (``scd_fg`` or ``lewel_maxvar``) on held-out feature maps."""
    was = heads.training
    heads.eval()
    name = heads.default_map
    maps = torch.cat([heads.maps_from_features(f)[name].float().cpu()
                      for f in held_feats.split(EVAL_BATCH)])
    heads.train(was)
    return score_map(upsample_maps(maps, masks.shape[-2:]), masks, PROBE_FIGURES)


def step_seed(seed: int, step: int) -> int:
    """The seed of a probe step's views (and of its pool draw): ``seed * 1_000_003 + step``.

    Not ``scd_lab.data.sampling.seed_for(seed, step)``, which mixes in an offset
    (``(seed + 12345) * 1_000_003 + step + 12345``) and so would draw other views: the
    shipped probe results (``scd_lab/shipped/study/``) were made with this one.
    """
    return seed * 1_000_003 + step


def _views(train, augment, batch: int, step: int, seed: int):
    g = torch.Generator().manual_seed(step_seed(seed, step))
    idx = torch.randint(0, len(train), (batch,), generator=g)
    x1, x2, p1, p2 = augment(train.images[idx], g)
    return idx, x1, x2, p1, p2


POOL_SIZE = 8192


@torch.no_grad()
def view_pool(trunk: nn.Module, train, augment, batch: int, steps: int, seed: int = 0,
              size: int = POOL_SIZE) -> dict:
    """The frozen trunk's feature maps of the views a probe trains on, computed once.

    The views of step k are ``_views(..., k, seed)`` for k < K = ceil(min(size, steps * batch)
    / batch): a probe of at most ``size`` view pairs sees exactly fresh views at every step; a
    longer one goes on drawing batches from these K batches (``_pool_batch``). The trunk is
    frozen, so the probe and its oracles can share one pool: the trunk's forward pass, most of
    a probe step's time, is paid K times instead of once per step and pass.

    Returns ``{"f1", "f2": (K * batch, C, h, w), "m1", "m2": view masks at feature resolution
    (K * batch, h, w) or None without masks, "batch", "seed"}``, on the trunk's device.
    """
    dev = module_device(trunk)
    k = math.ceil(min(size, steps * batch) / batch)
    f1s, f2s, m1s, m2s = [], [], [], []
    for step in range(k):
        idx, x1, x2, p1, p2 = _views(train, augment, batch, step, seed)
        f1, f2 = frozen_maps(trunk, x1.to(dev)), frozen_maps(trunk, x2.to(dev))  # (B, C, h, w)
        f1s.append(f1)
        f2s.append(f2)
        if train.masks is not None:
            m1s.append(feature_masks(train.masks[idx], p1, augment.out_size,
                                     f1.shape[-2:]).to(dev))
            m2s.append(feature_masks(train.masks[idx], p2, augment.out_size,
                                     f2.shape[-2:]).to(dev))
    return {"f1": torch.cat(f1s), "f2": torch.cat(f2s), "m1": torch.cat(m1s) if m1s else None,
            "m2": torch.cat(m2s) if m2s else None, "batch": batch, "seed": seed}


def _pool_batch(pool: dict, step: int, seed: int) -> Tensor:
    """Row indices of step ``step``: the step's own views while they last, then a batch drawn
    with replacement from the whole pool (generator seeded by ``seed`` and ``step``), on the
    pool's device."""
    b, n = pool["batch"], len(pool["f1"])
    if (step + 1) * b <= n:
        return torch.arange(step * b, (step + 1) * b, device=pool["f1"].device)
    g = torch.Generator().manual_seed(step_seed(seed, step))
    return torch.randint(0, n, (b,), generator=g).to(pool["f1"].device)


def _pool_for(pool, trunk, train, augment, batch: int, steps: int, seed: int, size: int):
    if pool is None:
        return view_pool(trunk, train, augment, batch, steps, seed, size)
    if pool["batch"] != batch:
        raise ValueError(f"the pool was made with batch {pool['batch']}, not {batch}")
    return pool


def objective_probe(trunk: nn.Module, train, held, augment, method: str = "scd",
                    alpha: float = 1.0, lam: float = 0.5, steps: int = 2000, batch: int = 64,
                    lr: float = 0.05, base_momentum: float = 0.99, eval_every: int = 250,
                    seed: int = 0, progress: bool = False, pool: dict | None = None,
                    pool_size: int = POOL_SIZE, keep_heads: bool = False, **head_kw) -> dict:
    """Train only the heads on a frozen trunk with lam * L_d (SCD) or the LEWEL loss.

    Args:
        trunk: the frozen trunk (eval mode; see ``calibrate_bn`` for a random one); the
            probe runs on its device.
        train: ``ImageArray`` of training images (labels and masks unused).
        held: ``ImageArray`` of held-out images with masks (the map is measured on it).
        augment: ``TwoViewAugment`` (its ``eval_input`` is the held-out transform).
        method: ``scd`` or ``lewel``. alpha, lam: SCD's margin and weight.
        steps, batch, lr: SGD (momentum 0.9) with cosine decay on the heads only.
        base_momentum: EMA m0 of the target heads (cosine to 1).
        eval_every: steps between measurements of the map (also at 0 and at the end).
        pool, pool_size: the views' feature maps (``view_pool``; made here, of at most
            ``pool_size`` pairs, when not given).
        keep_heads: also return the trained heads (``"heads"``: not JSON; the objective's
            landscape, ``scd_lab.studies.landscape``, evaluates L_d with them).
        head_kw: ``proj_hidden``, ``proj_dim``, ``pred_hidden``, ``semantic_predictor``,
            ``semantic_bn`` (``build_heads``).

    Returns:
        ``{"history": [{"step", "auroc", "polarity", "auroc_per_image_unsigned", "mean",
        "best_iou", "loss"}], "final_loss": mean loss over the last 10% of steps,
        "example_maps": the final map (h x w lists) of the first EXAMPLES held-out images}``.
    """
    pool = _pool_for(pool, trunk, train, augment, batch, steps, seed, pool_size)
    dev = module_device(trunk)
    heads = build_heads(trunk, method, alpha, lam, seed=seed, **head_kw).to(dev)
    params = _trainable(heads)
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    with torch.no_grad():
        held_feats = torch.cat([frozen_maps(trunk, augment.eval_input(c.to(dev)))
                                for c in held.images.split(EVAL_BATCH)])
    # the losses stay tensors (no host synchronisation per step on a GPU) until read
    div = lam if method == "scd" and lam else 1.0
    history, losses = [], []
    heads.train()
    trunk.eval()
    bar = range(steps)
    if progress:
        bar = tqdm(bar, desc=f"{method} heads", leave=False)
    for step in bar:
        if step % eval_every == 0:
            history.append({"step": step, **measure_map(heads, held_feats, held.masks),
                            "loss": float(losses[-1]) / div if losses else None})
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, steps, lr)
        rows = _pool_batch(pool, step, seed)
        f1, f2 = pool["f1"][rows], pool["f2"][rows]  # (B, C, h, w)
        if method == "scd":
            loss = lam * heads.discrimination(f1, f2)[0]
        else:
            loss = heads.loss_terms(Encoded(f1, f2, f2, f1)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        heads.momentum_update(momentum_at(step, steps, base_momentum, "cosine"),
                              _head_pairs(heads))
        losses.append(loss.detach())
    history.append({"step": steps, **measure_map(heads, held_feats, held.masks),
                    "loss": float(losses[-1]) / div if losses else None})
    tail = [float(v) / div for v in losses[-max(1, steps // 10):]]
    with torch.no_grad():  # the learned map of the first held-out images, for figures
        heads.eval()
        examples = heads.maps_from_features(held_feats[:EXAMPLES])[heads.default_map].float()
    res = {"history": history, "final_loss": sum(tail) / len(tail), "method": method,
           "example_maps": [[[round(v, 4) for v in r] for r in m] for m in examples.tolist()],
           "alpha": alpha, "lam": lam, "steps": steps, "seed": seed,
           "pool_pairs": len(pool["f1"])}
    return {**res, "heads": heads} if keep_heads else res


def feature_masks(masks: Tensor, params: dict, out_size: int, feat_size) -> Tensor:
    """A view's mask at feature resolution: warped like the view, then area-pooled (B, h, w)."""
    warped = warp_masks(masks, params, out_size)  # (B, S, S) in [0, 1]
    return F.adaptive_avg_pool2d(warped[:, None], feat_size)[:, 0]


def oracle_loss(trunk: nn.Module, train, augment, which: str = "mask", alpha: float = 1.0,
                lam: float = 1.0, steps: int = 2000, batch: int = 64, lr: float = 0.05,
                base_momentum: float = 0.99, seed: int = 0, progress: bool = False,
                pool: dict | None = None, pool_size: int = POOL_SIZE, **head_kw) -> dict:
    """L_d reached by H^s when the map is fixed to the mask (``which="mask"``) or to its
    inverse (``"inverse"``) in both views; only H^s (and its EMA target) is trained, on
    ``lam`` * L_d (give the probe's λ for a like-for-like learning rate). The views are those
    of ``objective_probe`` with the same seed, batch and pool.

    Returns ``{"final_loss": mean L_d over the last 10% of steps, "which", "alpha", ...}``.
    """
    if which not in ("mask", "inverse"):
        raise ValueError(f"which must be 'mask' or 'inverse', got {which!r}")
    if train.masks is None:
        raise ValueError("the oracle needs training images with masks")
    pool = _pool_for(pool, trunk, train, augment, batch, steps, seed, pool_size)
    heads = build_heads(trunk, "scd", alpha, 1.0, seed=seed, **head_kw).to(module_device(trunk))
    params = list(heads.sem_projector.parameters())
    if heads.sem_predictor is not None:
        params += list(heads.sem_predictor.parameters())
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    losses = []
    bar = range(steps)
    if progress:
        bar = tqdm(bar, desc=f"oracle ({which})", leave=False)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, steps, lr)
        rows = _pool_batch(pool, step, seed)
        f1, f2, m1, m2 = (pool[k][rows] for k in ("f1", "f2", "m1", "m2"))
        if which == "inverse":
            m1, m2 = 1.0 - m1, 1.0 - m2
        loss_d = heads.discrimination(f1, f2, m1, m2)[0]
        loss = lam * loss_d
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        heads.momentum_update(momentum_at(step, steps, base_momentum, "cosine"),
                              [(heads.sem_projector, heads.target_sem_projector)])
        losses.append(loss_d.detach())  # L_d itself, whatever lam
    tail = [float(v) for v in losses[-max(1, steps // 10):]]
    return {"final_loss": sum(tail) / len(tail), "which": which, "alpha": alpha, "lam": lam,
            "steps": steps, "seed": seed}
