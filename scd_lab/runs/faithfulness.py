"""Faithfulness curves of a run's maps (``scd-lab eval faithfulness``): does the embedding use
what each map marks? ``scd_lab.eval.faithfulness`` measures; this applies it to a run.

    res = faithfulness_eval(run)                # also writes RUN/eval/faithfulness.json
    res["areas"]["scd_fg"]["delete_fg_first"]["cosine"], res["gap"]["scd_fg"]

The images are the run's first ``num_images`` kNN queries (held-out images); the embedding is
the GAP feature of the trunk (``method.features``) through the test-time transform; the kNN bank
is the run's own (``monitor_sets()["bank"]``, clean images, ``train.knn_k`` neighbours,
temperature ``train.knn_tau``). The cosine is taken against the embedding of a second view of
each clean image: view 2 of the run's augmentation, drawn with a CPU generator seeded with
``seed`` (for a method in memory, without an augmentation: the clean image itself).
"""
from __future__ import annotations

import torch

from ..eval.faithfulness import faithfulness_curves, fractions_for
from ..eval.features import eval_mode
from ..eval.saliency_metrics import centre_prior
from ..methods import order_maps
from .load import EvalError, Run, as_run
from .protocols import _need, progress_bar, result_head


def _reference(s: Run, images: torch.Tensor, seed: int, batch: int) -> tuple[torch.Tensor, str]:
    """Embeddings of the other view (N, D) and what it is."""
    if s.augment is None:
        return s.features(images), "clean image"
    g = torch.Generator().manual_seed(seed)
    parts = []
    for chunk in images.split(batch):
        x2, _ = s.augment.view2(chunk.to(s.device), g)  # (B, 3, crop, crop)
        parts.append(s.method.features(x2).float().cpu())  # (B, D)
    return torch.cat(parts), f"view 2 of the run's augmentation, generator seed {seed}"


@torch.no_grad()
def faithfulness_eval(run_or_method, *, steps: int = 10, num_images: int = 64,
                      baseline: str = "mean", seed: int = 0, train=None, test=None,
                      transform=None, progress: bool = False, save: bool = True,
                      batch: int = 256) -> dict:
    """Deletion and insertion curves of every map of the run and of the centre prior.

    Args:
        steps: fractions 0, 1/steps, ..., 1 of the pixels.
        num_images: the first this many held-out query images.
        baseline: the fill of deleted pixels (``"mean"`` colour of the image, or ``"blur"``).
        seed: the generator of the second view.
        save: write ``RUN/eval/faithfulness.json`` (a run only).

    Returns:
        {..., "areas": {map: {order: {"cosine", "knn"}}}, "gap": {map: {"cosine", "knn"}},
        "curves": {map: faithfulness_curves(...)}}: the areas under each curve (trapezoid
        over the fraction axis), and per map the area of deleting the background first minus
        that of deleting the foreground first (positive: the map marks what the embedding uses).

    Raises:
        EvalError: ``steps`` or ``num_images`` below 1, or no held-out images.
    """
    if steps < 1 or num_images < 1:
        raise EvalError(f"--steps and --images must be at least 1, got {steps} and {num_images}")
    s = as_run(run_or_method, train, test, transform)
    sets = s.monitor_sets()
    queries = _need(sets["queries"], "held-out", "faithfulness")
    bank = _need(sets["bank"], "training", "faithfulness (the kNN bank)")
    n = min(num_images, len(queries))
    images, labels = queries.images[:n], queries.labels[:n]  # (N, 3, H, W), (N,)
    k, tau = (s.cfg.train.knn_k, s.cfg.train.knn_tau) if s.cfg is not None else (20, 0.07)
    with eval_mode(s.method):
        bank_features = s.features(bank.images).cpu()  # (M, D)
        reference, reference_kind = _reference(s, images, seed, batch)  # (N, D)
        raw = s.maps(images)
        maps = {name: raw[name].cpu() for name in order_maps(raw)}  # {name: (N, h, w)}
        h, w = next(iter(maps.values())).shape[-2:]
        maps["centre_prior"] = centre_prior(n, h, w)  # (N, h, w)

        def encode(x: torch.Tensor) -> torch.Tensor:
            return s.method.features(s.eval_input(x)).float().cpu()  # (B, D)

        kw = dict(reference=reference, labels=labels, bank=bank_features,
                  bank_labels=bank.labels, fractions=fractions_for(steps), baseline=baseline,
                  k=k, tau=tau, batch=batch)
        curves = {name: faithfulness_curves(encode, images, m, **kw) for name, m in
                  progress_bar(maps.items(), progress, desc="faithfulness", unit="map")}
    out = {**result_head(s), "num_images": n, "steps": steps, "baseline": baseline,
           "embedding": "GAP of the trunk (method.features)", "reference": reference_kind,
           "knn": {"k": k, "tau": tau, "bank": len(bank)},
           "areas": {name: c["auc"] for name, c in curves.items()},
           "gap": {name: c["gap"] for name, c in curves.items()}, "curves": curves}
    if save and s.rundir is not None:
        s.rundir.write_eval("faithfulness", out)
    return out


__all__ = ["faithfulness_eval"]
