"""Semi-supervised evaluation: fine-tune the whole trunk with a linear head on a few labels.

The protocol of BYOL / SimCLR's 1% and 10% ImageNet figures: draw a class-balanced fraction of
the training labels (``label_subset``), fine-tune a copy of the pretrained trunk plus a new
linear head on those images only (``finetune``), and report top-1 accuracy on held-out images.

    idx = label_subset(run.train.labels, 0.01, seed=0)
    sub = run.train.subset(idx)
    res = finetune(run.method.encoder, sub.images, sub.labels, run.test.images,
                   run.test.labels, transform=run.eval_input)
    res["test_acc"]
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..methods.base import gap
from .linear import num_classes_of, sgd_epochs


def label_subset(labels: Tensor, fraction: float, seed: int = 0) -> Tensor:
    """Indices of a class-balanced random fraction of a labelled set.

    Each class c with n_c images keeps ``max(1, round(fraction * n_c))`` of them, drawn
    without replacement, so every class present in ``labels`` has at least one image. The draw
    depends only on ``labels``, ``fraction`` and ``seed`` (not on the global random state).

    Args:
        labels: (N,) integer class labels.
        fraction: the share of each class to keep, in (0, 1].
        seed: seed of the draw; the same seed gives the same indices.

    Returns:
        (K,) int64 indices into ``labels``, sorted ascending, without repeats.

    Raises:
        ValueError: ``fraction`` outside (0, 1], or ``labels`` not 1-D.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    labels = torch.as_tensor(labels).cpu()
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(labels.shape)}")
    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in torch.unique(labels):  # ascending class order: the draw is reproducible
        members = torch.nonzero(labels == c, as_tuple=False)[:, 0]  # (n_c,)
        k = max(1, int(round(fraction * len(members))))
        picked.append(members[torch.randperm(len(members), generator=g)[:k]])
    if not picked:
        return torch.zeros(0, dtype=torch.long)
    return torch.sort(torch.cat(picked)).values.long()


class TrunkClassifier(nn.Module):
    """trunk + GAP + linear head: (B, 3, S, S) -> logits (B, K)."""

    def __init__(self, trunk: nn.Module, head: nn.Linear):
        super().__init__()
        self.trunk = trunk
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(gap(self.trunk(x)))


def _out_channels(trunk: nn.Module, probe: Tensor) -> int:
    c = getattr(trunk, "out_channels", None)
    if c is not None:
        return int(c)
    with torch.no_grad():
        was = trunk.training
        trunk.eval()
        c = trunk(probe[:1]).shape[1]
        trunk.train(was)
    return int(c)


@torch.no_grad()
def _evaluate(model: nn.Module, images: Tensor, labels: Tensor, transform, device,
              batch: int) -> float:
    if len(images) == 0:
        return float("nan")
    was = model.training
    model.eval()
    correct = 0
    for xb, yb in zip(images.split(batch), labels.split(batch)):
        pred = model(transform(xb.to(device))).argmax(1)
        correct += int((pred == yb.to(device)).sum())
    model.train(was)
    return correct / len(images)


@torch.no_grad()
def _recompute_bn(model: nn.Module, images: Tensor, transform, device, batch: int) -> None:
    """Exact BN running statistics over one pass of ``images`` (cumulative average)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
           and m.track_running_stats]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    for xb in images.split(batch):
        model(transform(xb.to(device)))
    for m, mom in zip(bns, saved):
        m.momentum = mom


def finetune(trunk: nn.Module, train_images: Tensor, train_labels: Tensor, test_images: Tensor,
             test_labels: Tensor, num_classes: int | None = None, epochs: int = 5,
             lr: float = 0.05, head_lr: float | None = None, batch: int = 64,
             momentum: float = 0.9, weight_decay: float = 0.0, seed: int = 0,
             transform: Callable[[Tensor], Tensor] | None = None,
             train_transform: Callable[[Tensor], Tensor] | None = None,
             device: str | torch.device | None = None, precise_bn: bool = False,
             progress: bool = False) -> dict:
    """Fine-tune a copy of ``trunk`` plus a new linear head on (few) labelled images.

    The trunk is deep-copied (the original is left untouched, also its BN statistics); the
    head ``Linear(C, K)`` starts at zero. Both train with SGD (momentum, ``weight_decay``) on
    shuffled mini-batches in train mode (BN batch statistics), under a cosine learning-rate
    decay to 0 over all ``epochs * ceil(N / batch)`` steps; accuracy is measured in eval mode.
    Deterministic for a ``seed`` on one device; the global random state is left untouched.

    Args:
        trunk: x (B, 3, S, S) -> F (B, C, h, w), e.g. ``run.method.encoder``.
        train_images: (N, 3, H, W) labelled images (uint8, or anything ``transform`` takes),
            e.g. ``run.train.subset(label_subset(...)).images``.
        train_labels: (N,) integer labels.
        test_images: (M, 3, H, W) held-out images.
        test_labels: (M,) integer labels.
        num_classes: K (default: 1 + the largest label seen).
        epochs: passes over the labelled images.
        lr: learning rate of the trunk.
        head_lr: learning rate of the head (default ``lr``).
        batch: mini-batch size (training and evaluation).
        momentum, weight_decay: SGD settings.
        seed: seed of the shuffling and of any randomness in ``train_transform``.
        transform: batch of images -> network input, for evaluation (``run.eval_input``);
            default: ``images.float()``.
        train_transform: the same for training batches (e.g. a random crop); default
            ``transform``.
        device: where to train (default: the trunk's device).
        precise_bn: after training, re-estimate every BN layer's running statistics as the
            exact average over one pass of the labelled images (``transform``, no gradient).
            After few steps BN's exponential running averages still lag the trained weights
            and the eval-mode accuracy suffers; off by default (the usual protocol).
        progress: show a tqdm bar over the epochs (on a terminal only).

    Returns:
        dict with ``test_acc`` (held-out top-1), ``train_acc`` (top-1 on the labelled images,
        eval mode), ``final_loss`` (mean cross-entropy of the last epoch) and ``model`` (the
        fine-tuned ``TrunkClassifier``, in eval mode).

    Raises:
        ValueError: empty training set, or a label per image missing.
    """
    if len(train_images) == 0:
        raise ValueError("the labelled training set is empty")
    if len(train_images) != len(train_labels) or len(test_images) != len(test_labels):
        raise ValueError("need one label per image")
    transform = transform or (lambda x: x.float())
    train_transform = train_transform or transform
    if device is None:
        p = next(trunk.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
    device = torch.device(device)
    y_train = torch.as_tensor(train_labels).long()
    y_test = torch.as_tensor(test_labels).long()
    if num_classes is None:
        num_classes = num_classes_of(y_train, y_test)

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        net = copy.deepcopy(trunk).to(device)
        for p in net.parameters():
            p.requires_grad_(True)
        c = _out_channels(net, transform(train_images[:1].to(device)))
        head = nn.Linear(c, num_classes).to(device)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        model = TrunkClassifier(net, head).train()
        opt = torch.optim.SGD([{"params": net.parameters(), "lr": lr},
                               {"params": head.parameters(), "lr": head_lr or lr}],
                              lr=lr, momentum=momentum, weight_decay=weight_decay)

        def batch_loss(idx: Tensor) -> Tensor:
            x = train_transform(train_images[idx].to(device))
            return F.cross_entropy(model(x), y_train[idx].to(device))

        final_loss = sgd_epochs(opt, batch_loss, len(train_images), batch, epochs, seed, device,
                                "fine-tuning", progress)
    if precise_bn:
        _recompute_bn(model, train_images, transform, device, batch)
    model.eval()
    return {"test_acc": _evaluate(model, test_images, y_test, transform, device, batch),
            "train_acc": _evaluate(model, train_images, y_train, transform, device, batch),
            "final_loss": final_loss, "model": model}
