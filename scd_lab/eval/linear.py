"""Linear evaluation on frozen features: a softmax classifier fitted on cached features.

The protocol of the SCD paper (and of BYOL / MoCo): freeze the trunk, compute one feature per
image (GAP of the online encoder, or SCD's foreground feature h_fg for Table 8), then fit a
linear layer with SGD. Here the features are computed once (``features_for``) and the probe
trains on the cached tensors (``linear_probe``), so an epoch costs a matrix product, not a pass
through the network; no augmentation is applied (the "cached features" variant).

    train_x = features_for(run.method, run.train.images, run.eval_input)          # (N, C)
    test_x = features_for(run.method, run.test.images, run.eval_input)
    res = linear_probe(train_x, run.train.labels, test_x, run.test.labels)
    res["test_acc"]
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .features import embed, eval_mode
from ..schedules import cosine_lr

FEATURE_KINDS = ("gap", "fg")


def cosine_schedule(opt: torch.optim.Optimizer, total: int):
    """Cosine decay of every group's learning rate to 0 over ``total`` steps (no warm-up),
    the schedule of the training loop (``scd_lab.schedules.cosine_lr``) as a scheduler."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda k: cosine_lr(min(k, total), total, 1.0))


def num_classes_of(y_train: Tensor, y_test: Tensor) -> int:
    """K when not given: 1 + the largest label of either set."""
    return int(max(int(y_train.max()), int(y_test.max()) if len(y_test) else 0)) + 1


def sgd_epochs(opt: torch.optim.Optimizer, batch_loss: Callable[[Tensor], Tensor], n: int,
               batch: int, epochs: int, seed: int, device: torch.device, desc: str,
               progress: bool = False, index_device: torch.device | None = None) -> float:
    """``epochs`` passes of ``opt`` over ``n`` samples in shuffled mini-batches, under a cosine
    decay of every group's learning rate to 0 over all ``epochs * ceil(n / batch)`` steps
    (``cosine_schedule``); the loop of ``linear_probe`` and of ``semi.finetune``.

    Args:
        opt: the optimizer (its learning rates are the peaks).
        batch_loss: sample indices (b,) -> the batch's mean loss (a scalar with a graph).
        n, batch, epochs: samples, mini-batch size, passes.
        seed: seed of the shuffles (a generator of their own; the global state is not read).
        device: where the running loss is summed.
        desc, progress: the tqdm bar over the epochs (shown on a terminal only).
        index_device: where the indices are moved before they are split (default: the CPU).

    Returns:
        The mean loss of the last epoch (NaN without epochs).
    """
    sched = cosine_schedule(opt, max(epochs * math.ceil(n / batch), 1))
    g = torch.Generator().manual_seed(seed)
    final_loss = float("nan")
    with torch.enable_grad():
        for _ in tqdm(range(epochs), desc=desc, unit="epoch", leave=False,
                      disable=True if not progress else None):
            perm = torch.randperm(n, generator=g)
            if index_device is not None:
                perm = perm.to(index_device)
            running = torch.zeros((), device=device)
            for idx in perm.split(batch):
                loss = batch_loss(idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                running += loss.detach() * len(idx)
            final_loss = float(running) / n
    return final_loss


def features_for(method: nn.Module, images: Tensor, transform: Callable[[Tensor], Tensor],
                 kind: str = "gap", autocast=contextlib.nullcontext,
                 batch: int = 256) -> Tensor:
    """Frozen features of uint8 images through a method, in eval mode: (N, C) float32.

    Args:
        method: a ``scd_lab`` method (e.g. ``run.method``).
        images: uint8 (N, 3, H, W).
        transform: uint8 batch -> network input on the method's device (``run.eval_input``).
        kind: ``"gap"``: ``method.features`` (GAP of the online encoder, h);
            ``"fg"``: ``method.fg_features`` (SCD's saliency-weighted h_fg, paper Table 8).
        autocast: a context-manager factory (e.g. ``trainer.autocast``).
        batch: images per forward pass.

    Returns:
        (N, C) float32 on the method's device; the method's train/eval mode is restored.

    Raises:
        ValueError: unknown ``kind``, or ``kind="fg"`` for a method without a saliency map
            (anything but ``scd-byol`` / ``scd-moco``).
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f"kind must be one of {FEATURE_KINDS}, got {kind!r}")
    if kind == "fg":
        fn = getattr(method, "fg_features", None)
        if not callable(fn):
            name = getattr(method, "name", type(method).__name__)
            raise ValueError(f"kind='fg' needs an SCD method (scd-byol, scd-moco): the "
                             f"foreground feature h_fg pools F with SCD's saliency map, and "
                             f"{name!r} has none; use kind='gap'")
    else:
        fn = method.features
    with eval_mode(method):
        return embed(fn, images, transform, autocast=autocast, batch=batch)


def _standardise(train: Tensor, test: Tensor, eps: float = 1e-6):
    mean = train.mean(0)  # (D,)
    std = train.std(0, unbiased=False).clamp_min(eps)  # (D,)
    return (train - mean) / std, (test - mean) / std, mean, std


@torch.no_grad()
def _accuracy(layer: nn.Linear, x: Tensor, y: Tensor, batch: int = 4096) -> float:
    if len(x) == 0:
        return float("nan")
    correct = sum(int((layer(xb).argmax(1) == yb).sum()) for xb, yb in
                  zip(x.split(batch), y.split(batch)))
    return correct / len(x)


def linear_probe(train_feats: Tensor, train_labels: Tensor, test_feats: Tensor,
                 test_labels: Tensor, epochs: int = 100, lr: float = 0.1, batch: int = 256,
                 weight_decay: float = 0.0, seed: int = 0, momentum: float = 0.9,
                 num_classes: int | None = None, progress: bool = False) -> dict:
    """Fit a linear softmax classifier on cached features; top-1 accuracy on train and test.

    The features are standardised with the training set's per-dimension mean and std (the
    test set uses the same statistics). The layer starts at zero weights and trains with
    SGD (momentum 0.9, ``weight_decay``) on shuffled mini-batches under a cosine learning-rate
    decay from ``lr`` to 0 over all ``epochs * ceil(N / batch)`` steps. The run is deterministic
    for a given ``seed`` (on one device) and leaves the global random state untouched.

    Args:
        train_feats: (N, D) features of the training images.
        train_labels: (N,) integer class labels.
        test_feats: (M, D) features of held-out images.
        test_labels: (M,) integer class labels.
        epochs: passes over the training features.
        lr: the peak learning rate (on standardised features).
        batch: mini-batch size.
        weight_decay: L2 penalty of SGD (on the weight and the bias).
        seed: seed of the shuffling.
        momentum: SGD momentum.
        num_classes: number of classes (default: 1 + the largest label seen).
        progress: show a tqdm bar over the epochs (on a terminal only).

    Returns:
        dict with ``train_acc`` and ``test_acc`` (floats in [0, 1]; NaN for an empty set),
        ``weight`` (K, D) and ``bias`` (K,) of the fitted layer on standardised features,
        ``mean`` (D,) and ``std`` (D,) of the standardisation (logits of raw features x are
        ``((x - mean) / std) @ weight.T + bias``), and ``final_loss`` (mean cross-entropy of the
        last epoch). Tensors are detached, on the features' device.

    Raises:
        ValueError: mismatched shapes, or fewer than one training sample.
    """
    if train_feats.ndim != 2 or test_feats.ndim != 2 or \
            train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError(f"features must be (N, D) and (M, D) with the same D, got "
                         f"{tuple(train_feats.shape)} and {tuple(test_feats.shape)}")
    if len(train_feats) != len(train_labels) or len(test_feats) != len(test_labels):
        raise ValueError("need one label per feature row")
    if len(train_feats) == 0:
        raise ValueError("the training set is empty")
    device = train_feats.device
    y_train = train_labels.to(device).long()
    y_test = test_labels.to(device).long()
    if num_classes is None:
        num_classes = num_classes_of(y_train, y_test)
    x_train, x_test, mean, std = _standardise(train_feats.float(), test_feats.to(device).float())

    layer = nn.Linear(x_train.shape[1], num_classes).to(device)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(layer.parameters(), lr=lr, momentum=momentum,
                          weight_decay=weight_decay)
    final_loss = sgd_epochs(opt, lambda idx: F.cross_entropy(layer(x_train[idx]), y_train[idx]),
                            len(x_train), batch, epochs, seed, device, "linear probe", progress,
                            index_device=device)
    return {"train_acc": _accuracy(layer, x_train, y_train),
            "test_acc": _accuracy(layer, x_test, y_test),
            "weight": layer.weight.detach().clone(), "bias": layer.bias.detach().clone(),
            "mean": mean, "std": std, "final_loss": final_loss}
