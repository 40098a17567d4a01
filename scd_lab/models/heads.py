"""Projection and prediction heads (BYOL and MoCo-v2 shapes)."""
from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Sequential):
    """Linear(in, hidden) -> [BN] -> ReLU -> Linear(hidden, out).

    BYOL projector/predictor: ``batch_norm=True`` (Grill et al., 2020).
    MoCo-v2 projector: ``batch_norm=False`` (Linear(C, 2048) -> ReLU -> Linear(2048, 128)).

    Shape:
        (B, in_dim) -> (B, out_dim); BN runs over the leading dimension, so LEWEL's slot
        projector applies it over batch x slots after flattening them to (B*K, in_dim).
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, batch_norm: bool = True):
        layers = [nn.Linear(in_dim, hidden_dim, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden_dim))
        layers += [nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim)]
        super().__init__(*layers)
        self.in_dim, self.hidden_dim, self.out_dim = in_dim, hidden_dim, out_dim
        self.batch_norm = batch_norm


def two_batches(mlp: nn.Sequential, a: torch.Tensor, b: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mlp(a), mlp(b))`` with every layer but BN run once on the 2B rows ``[a; b]``.

    BN still sees ``a`` and ``b`` as two batches (their own statistics; running statistics
    updated for ``a``, then ``b``, as two calls do), so the result is the two calls' up to
    float rounding, in half the matrix-multiplication calls (SCD's fg and bg through H^s).

    Shape:
        (B, in_dim), (B, in_dim) -> (B, out_dim), (B, out_dim)
    """
    x = torch.cat([a, b])  # (2B, in)
    for layer in mlp:
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            x = torch.cat([layer(half) for half in x.chunk(2)])  # (2B, hidden), BN per half
        else:
            x = layer(x)  # (2B, .)
    return x.chunk(2)  # (B, out) each
