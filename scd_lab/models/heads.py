"""Projection and prediction heads (BYOL and MoCo-v2 shapes)."""
from __future__ import annotations

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
