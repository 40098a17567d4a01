"""Projection and prediction heads (BYOL and MoCo-v2 shapes)."""
from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Sequential):
    """Linear(in, hidden) -> [BN] -> ReLU -> Linear(hidden, out).

    BYOL / LEWEL projector and predictor: ``batch_norm=True``; as in the authors' code
    (LEWEL ``models/lewel.py:16-31``, ``MLP1D``, the convolutions ``bias=False``) neither
    Linear has a bias, and both start from ``kaiming_normal_(fan_out, relu)`` (LEWEL
    ``utils/init.py:31``, called from ``models/lewel.py:103,127,129``).
    MoCo-v2 projector: ``batch_norm=False``: Linear(C, 2048) -> ReLU -> Linear(2048, 128), both
    with biases and torch's default initialisation (MoCo ``moco/builder.py:34-41``: plain
    ``nn.Linear``).

    Args:
        in_dim, hidden_dim, out_dim: the widths.
        batch_norm: BN after the first Linear (which then has no bias).
        last_bias: a bias on the last Linear (default: only without BN). ``True`` with BN is
            the kit's heads before issue 22 (``method.head_bias``), kept to load old runs.
        init: ``kaiming_out`` (the BYOL / LEWEL heads: every Linear kaiming-normal fan-out,
            biases 0) or ``torch`` (``nn.Linear``'s default); default by ``batch_norm``.

    Shape:
        (B, in_dim) -> (B, out_dim); BN runs over the leading dimension, so LEWEL's slot
        projector applies it over batch x slots after flattening them to (B*K, in_dim).
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, batch_norm: bool = True,
                 last_bias: bool | None = None, init: str | None = None):
        last_bias = (not batch_norm) if last_bias is None else last_bias
        init = init or ("kaiming_out" if batch_norm else "torch")
        if init not in ("kaiming_out", "torch"):
            raise ValueError(f"init must be 'kaiming_out' or 'torch', got {init!r}")
        layers = [nn.Linear(in_dim, hidden_dim, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden_dim))
        layers += [nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim, bias=last_bias)]
        super().__init__(*layers)
        self.in_dim, self.hidden_dim, self.out_dim = in_dim, hidden_dim, out_dim
        self.batch_norm, self.last_bias, self.init = batch_norm, last_bias, init
        if init == "kaiming_out":
            for layer in self:
                if isinstance(layer, nn.Linear):
                    nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                    if layer.bias is not None:
                        nn.init.zeros_(layer.bias)


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
