"""The evaluation protocols of ``scd-lab eval``, as functions for notebooks: kNN, the linear
probe and semi-supervised fine-tuning here; the maps against masks in ``runs.saliency``, the
export in ``runs.export``, the table of several runs in ``runs.report``.

Each function takes a ``Run`` (``load_run``, ``Run.of_method``), a run directory, or a method
held in memory together with its data (each normalised by ``as_run``), and returns plain dicts:

    run = load_run("runs/cpu-scd-byol")
    knn_eval(run)                               # {"knn_top1_k20": ..., "knn_top1_k200": ...}
    linear_eval(run, features="fg")             # also writes RUN/eval/linear_fg.json (+ .pt)
    semi_eval(run, labels="10%")                # RUN/eval/semi_10pct.json, _indices.pt
    sal = evaluate_saliency(run)                # every map, centre prior, Grad-CAM vs masks
    export_run(run, "torchvision")              # RUN/export/...pth

    # a method in memory (no run directory; nothing is written unless ``out_dir`` is given)
    knn_eval(method, train=train, test=test)
    evaluate_saliency(method, images, masks, train=train)

Files a run directory gets (``RUN/eval/``): ``knn.json``, ``linear_{gap,fg}.json`` with the
probe's weights in ``linear_{gap,fg}.pt`` (Grad-CAM reuses ``linear_gap.pt``),
``semi_{P}pct.json`` and ``semi_{P}pct_indices.pt``, ``saliency.json``.
"""
from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..eval.features import eval_mode
from ..eval.knn import knn_top1_per_query
from ..eval.linear import linear_probe
from ..eval.semi import finetune, label_subset
from .build import build_monitors
from .load import EvalError, Run, as_run, load_run

KNN_KS = (20, 200)


def progress_bar(iterable, progress: bool, **kw):
    """A tqdm bar that shows only when asked and only on a terminal (never in logs/pipes)."""
    return tqdm(iterable, leave=False, disable=True if not progress else None, **kw)


def _need(data, which: str, purpose: str):
    if data is None:
        raise EvalError(f"{purpose} needs the {which} images; with a method in memory pass "
                        f"{'train' if which == 'training' else 'test'}=ImageArray")
    return data


def result_head(s: Run) -> dict:
    """The first keys of every protocol's result: the method, and for a run its folder, step
    and epoch."""
    out = {"method": s.name}
    if s.rundir is not None:
        out.update(run_dir=str(s.path), step=s.step, epoch=s.epoch)
    return out


@torch.no_grad()
def _features(s: Run, images: Tensor, kind: str = "gap", progress: bool = False,
              batch: int = 256, desc: str = "features") -> Tensor:
    """GAP (``kind="gap"``) or SCD foreground (``"fg"``) features of uint8 images: (N, C)."""
    fn = s.method.features if kind == "gap" else _fg_fn(s)
    with eval_mode(s.method):
        out = [fn(s.transform(chunk)).float() for chunk in
               progress_bar(images.split(batch), progress, desc=desc, unit="batch")]
    return torch.cat(out) if out else torch.zeros(0)


def _fg_fn(s: Run):
    fn = getattr(s.method, "fg_features", None)
    if not callable(fn):
        raise EvalError(f"--features fg needs an SCD run (scd-byol, scd-moco): the foreground "
                        f"feature pools F with SCD's saliency map, and {s.name!r} has none; "
                        f"use --features gap")
    return fn


# ------------------------------------------------------------------------------------------
# kNN


def knn_eval(run_or_method, train=None, test=None, transform=None, ks=KNN_KS,
             tau: float | None = None, progress: bool = False, save: bool = False,
             per_query: bool = False) -> dict:
    """Weighted kNN top-1 (cosine, temperature ``tau``; Wu et al., 2018) for each k in ``ks``.

    The bank is the training images (the run's kNN bank: ``train.knn_bank_size`` of them, drawn
    from the seed), the queries are held-out images (the run's first 2000 test images): two
    different splits, so no query is its own neighbour. Both go through the test-time
    transform. ``tau`` defaults to the run's ``train.knn_tau`` (0.07).

    Returns:
        {"knn_top1_k20": ..., "knn_top1_k200": ..., "k": [...], "tau", "bank", "queries", ...};
        with ``save`` (a run only) also written to ``RUN/eval/knn.json``; with ``per_query``
        also ``"per_query_correct"``: {k: (Q,) bool}, each query's own result (the paired
        comparison's values; not written to the file).
    """
    s = as_run(run_or_method, train, test, transform)
    sets = s.monitor_sets()
    bank = _need(sets["bank"], "training", "kNN")
    queries = _need(sets["queries"], "held-out", "kNN")
    if tau is None:
        tau = s.cfg.train.knn_tau if s.cfg is not None else 0.07
    fb = _features(s, bank.images, progress=progress, desc="kNN bank")
    fq = _features(s, queries.images, progress=progress, desc="kNN queries")
    out = {**result_head(s), "tau": tau, "k": list(ks), "bank": len(bank), "queries": len(queries)}
    correct = knn_top1_per_query(fq, queries.labels, fb, bank.labels, ks, tau)
    for k, c in correct.items():
        out[f"knn_top1_k{k}"] = c.float().mean().item()
    if save and s.rundir is not None:
        s.rundir.write_eval("knn", out)
    if per_query:
        out["per_query_correct"] = {k: c.cpu() for k, c in correct.items()}
    return out


# ------------------------------------------------------------------------------------------
# linear probe


def linear_eval(run_or_method, features: str = "gap", epochs: int = 100, lr: float = 0.1,
                weight_decay: float = 0.0, seed: int = 0, train=None, test=None, transform=None,
                progress: bool = False, save: bool = True) -> dict:
    """Linear probe on cached frozen features (``scd_lab.eval.linear``): GAP features or SCD's
    foreground feature h_fg, all training images, accuracy on all held-out images.

    With ``save`` and a run, writes ``RUN/eval/linear_{features}.json`` (the figures) and
    ``RUN/eval/linear_{features}.pt`` (weight, bias, mean, std: the probe, reused by Grad-CAM).

    Raises:
        EvalError: ``features`` not gap/fg, or ``fg`` for a method without SCD's map.
    """
    if features not in ("gap", "fg"):
        raise EvalError(f"--features must be gap or fg, got {features!r}")
    if epochs < 1:
        raise EvalError(f"--epochs must be at least 1, got {epochs}")
    s = as_run(run_or_method, train, test, transform)
    if features == "fg":
        _fg_fn(s)
    tr = _need(s.train, "training", "the linear probe")
    te = s.test if s.test is not None else tr.subset(torch.arange(0))  # no test: NaN accuracy
    x_tr = _features(s, tr.images, features, progress, desc=f"{features} features (train)")
    x_te = _features(s, te.images, features, progress, desc=f"{features} features (test)")
    if len(te) == 0:
        x_te = x_tr[:0]
    nc = int(max(int(tr.labels.max()), int(te.labels.max()) if len(te) else 0)) + 1
    res = linear_probe(x_tr, tr.labels, x_te, te.labels, epochs=epochs, lr=lr,
                       weight_decay=weight_decay, seed=seed, num_classes=nc, progress=progress)
    out = {**result_head(s), "features": features, "train_acc": res["train_acc"],
           "test_acc": res["test_acc"], "final_loss": res["final_loss"], "epochs": epochs,
           "lr": lr, "weight_decay": weight_decay, "seed": seed, "num_train": len(tr),
           "num_test": len(te), "num_classes": nc}
    probe = {k: res[k].detach().cpu() for k in ("weight", "bias", "mean", "std")}
    if save and s.rundir is not None:
        out["weights"] = f"linear_{features}.pt"
        s.rundir.save_eval_tensors(f"linear_{features}", probe)
        s.rundir.write_eval(f"linear_{features}", out)
    out["probe"] = probe
    return out


def probe_as_linear(probe: dict) -> nn.Linear:
    """The probe (``weight`` (K, D), ``bias``, ``mean``, ``std`` on standardised features) as
    one ``nn.Linear`` on raw features: W' = W / std, b' = b - W' mean (same logits)."""
    w = probe["weight"].float() / probe["std"].float()[None, :]  # (K, D)
    b = probe["bias"].float() - w @ probe["mean"].float()  # (K,)
    layer = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(b)
    return layer


def gap_probe(run_or_method, progress: bool = False, epochs: int = 100, **kw) -> nn.Linear:
    """The linear probe on GAP features as an ``nn.Linear`` on raw features: loaded from
    ``RUN/eval/linear_gap.pt`` when there, else fitted (``linear_eval``) and stored."""
    s = as_run(run_or_method, **kw)
    probe = s.rundir.load_eval_tensors("linear_gap") if s.rundir is not None else None
    if probe is None:
        probe = linear_eval(s, "gap", epochs=epochs, progress=progress)["probe"]
    return probe_as_linear(probe)


# ------------------------------------------------------------------------------------------
# semi-supervised fine-tuning


def parse_fraction(labels: str | float) -> tuple[float, str]:
    """``"1%"`` -> (0.01, "1pct"); ``"10%"`` -> (0.1, "10pct"); a float in (0, 1] is a fraction.

    Raises:
        EvalError: not a percentage in (0, 100].
    """
    text = str(labels).strip()
    try:
        frac = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        frac = float("nan")
    if not 0 < frac <= 1:
        raise EvalError(f"--labels takes a percentage such as 1% or 10% (in (0, 100]), got "
                        f"{labels!r}")
    pct = frac * 100
    return frac, (f"{pct:g}" if pct == round(pct, 6) else f"{pct:.3g}").replace(".", "_") + "pct"


def semi_eval(run_or_method, labels: str | float = "10%", epochs: int = 5, lr: float = 0.05,
              batch: int = 64, seed: int = 0, train=None, test=None, transform=None,
              progress: bool = False, save: bool = True) -> dict:
    """Semi-supervised fine-tuning (``scd_lab.eval.semi``): a class-balanced ``labels`` share
    of the training images, drawn from ``seed``; a copy of the trunk and a new linear head are
    fine-tuned on them, top-1 on all held-out images.

    With ``save`` and a run, the drawn indices go to ``RUN/eval/semi_{P}pct_indices.pt`` and
    the figures to ``RUN/eval/semi_{P}pct.json``.
    """
    frac, tag = parse_fraction(labels)
    if epochs < 1:
        raise EvalError(f"--epochs must be at least 1, got {epochs}")
    s = as_run(run_or_method, train, test, transform)
    tr = _need(s.train, "training", "fine-tuning")
    te = _need(s.test, "held-out", "fine-tuning")
    idx = label_subset(tr.labels, frac, seed=seed)
    sub = tr.subset(idx)
    nc = int(max(int(tr.labels.max()), int(te.labels.max()))) + 1
    res = finetune(s.method.encoder, sub.images, sub.labels, te.images, te.labels,
                   num_classes=nc, epochs=epochs, lr=lr, batch=batch, seed=seed,
                   transform=s.transform, device=s.device, progress=progress)
    out = {**result_head(s), "labels": f"{frac * 100:g}%", "fraction": frac,
           "num_labelled": len(idx), "num_train": len(tr), "num_test": len(te),
           "test_acc": res["test_acc"], "train_acc": res["train_acc"],
           "final_loss": res["final_loss"], "epochs": epochs, "lr": lr, "seed": seed}
    if save and s.rundir is not None:
        s.rundir.save_eval_tensors(f"semi_{tag}_indices", idx)
        out["indices"] = f"semi_{tag}_indices.pt"
        s.rundir.write_eval(f"semi_{tag}", out)
    return out


def input_size(run_or_method, default: int = 64) -> int:
    """The stored image side of a run (``data.image_size``), else ``default``."""
    s = as_run(run_or_method)
    return int(s.cfg.data.image_size) if s.cfg is not None else default


def evaluate_run(run_dir: str) -> dict:
    """Load the run (``load_run``) and measure kNN and saliency on its held-out images, with
    the same monitors and images as during training. Nothing is written to the run."""
    run = load_run(run_dir)
    out = {"run_dir": str(run_dir), "step": run.step, "epoch": run.epoch}
    for monitor in build_monitors(run.cfg, run.train, run.test):
        out.update(monitor.compute(run.method, run.eval_input, contextlib.nullcontext))
    return out


__all__ = ["EvalError", "progress_bar", "result_head", "knn_eval", "linear_eval",
           "probe_as_linear", "gap_probe", "parse_fraction", "semi_eval", "input_size",
           "evaluate_run"]
