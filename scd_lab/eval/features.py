"""Features and maps of uint8 images through a method: the pure functions that the monitors,
the evaluation and the notebooks share."""
from __future__ import annotations

import contextlib
from typing import Callable

import torch
from torch import Tensor, nn


@contextlib.contextmanager
def eval_mode(module: nn.Module):
    """Put ``module`` in eval mode for the block, then restore its previous mode."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@torch.no_grad()
def embed(fn: Callable[[Tensor], Tensor], images: Tensor, transform: Callable[[Tensor], Tensor],
          autocast=contextlib.nullcontext, batch: int = 256) -> Tensor:
    """``fn(transform(chunk))`` over uint8 images (N, 3, H, W) in chunks: (N, ...) float32.

    Args:
        fn: e.g. ``method.features`` (GAP of the online encoder) or ``method.fg_features``.
        transform: uint8 batch -> network input on the right device (``augment.eval_input``).
        autocast: a context-manager factory (e.g. ``trainer.autocast``).
    """
    out = []
    for chunk in images.split(batch):
        with autocast():
            out.append(fn(transform(chunk)).float())
    return torch.cat(out)


@torch.no_grad()
def method_maps(method: nn.Module, images: Tensor, transform: Callable[[Tensor], Tensor],
                autocast=contextlib.nullcontext, batch: int = 256) -> dict[str, Tensor]:
    """Every named map of ``method.saliency_maps`` for uint8 images, in eval mode:
    ``{name: (N, h, w) float32}``."""
    parts: dict[str, list[Tensor]] = {}
    with eval_mode(method):
        for chunk in images.split(batch):
            with autocast():
                maps = method.saliency_maps(transform(chunk))
            for k, v in maps.items():
                parts.setdefault(k, []).append(v.float())
    return {k: torch.cat(v) for k, v in parts.items()}
