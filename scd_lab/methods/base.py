"""What every method shares: the step output, the online/target split and the EMA update.

A method's ``forward(x1, x2)`` has no side effects: it returns a ``StepOutput`` with the total
loss, the named loss terms and the maps it computed. The trainer then makes the two explicit
calls that change state outside the optimizer: ``momentum_update(m)`` (EMA of the target) and
``enqueue(out)`` (MoCo's queue; a no-op elsewhere).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..models import backbone_from_config, channel_sum_map


@dataclass
class StepOutput:
    """What ``forward`` returns.

    loss: the scalar to backpropagate.
    terms: named scalar loss terms (``loss``, ``loss_c``, ``loss_d``, ...), detached.
    maps: named spatial maps of view 1 from this step, (B, H, W), detached (e.g. ``scd_fg``).
    keys: keys to enqueue (MoCo), detached; ``None`` for other methods.
    """

    loss: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    maps: dict[str, torch.Tensor] = field(default_factory=dict)
    keys: torch.Tensor | None = None


@dataclass
class Encoded:
    """Feature maps of the two views. ``f1`` online(x1), ``f2_t`` target(x2) (no gradient);
    with a symmetric loss also ``f2`` online(x2) and ``f1_t`` target(x1)."""

    f1: torch.Tensor
    f2_t: torch.Tensor
    f2: torch.Tensor | None = None
    f1_t: torch.Tensor | None = None


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy with ``requires_grad=False``: the start of a target (EMA) network."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


def gap(feature_map: torch.Tensor) -> torch.Tensor:
    """Global average pooling h = GAP(F): (B, C, H, W) -> (B, C)."""
    return feature_map.mean(dim=(2, 3))


def momentum_at(step: int, total_steps: int, base: float, schedule: str) -> float:
    """EMA momentum at ``step``: constant, or BYOL's cosine schedule
    m_k = 1 - (1 - m0) (cos(pi k / K) + 1) / 2, which reaches 1.0 at k = K."""
    if schedule == "constant":
        return base
    k = min(max(step, 0), total_steps)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * k / max(total_steps, 1)) + 1.0) / 2.0


class Method(nn.Module):
    """Interface of every method (the trainer relies on nothing else).

    Subclasses implement ``forward`` and ``momentum_pairs``; the rest has defaults.
    """

    name: str = "method"

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg  # resolved MethodConfig

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> StepOutput:  # pragma: no cover
        raise NotImplementedError

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(online, target) module pairs updated by the EMA."""
        raise NotImplementedError  # pragma: no cover

    def momentum(self, step: int, total_steps: int) -> float:
        """The EMA momentum for ``step`` of ``total_steps`` (config: base + schedule)."""
        return momentum_at(step, total_steps, self.cfg.base_momentum, self.cfg.momentum_schedule)

    @torch.no_grad()
    def momentum_update(self, m: float) -> None:
        """xi <- m xi + (1 - m) theta for every (online, target) pair (parameters only; the
        target's BN statistics come from its own forward passes)."""
        online, target = [], []
        for o, t in self.momentum_pairs():
            online += list(o.parameters())
            target += list(t.parameters())
        torch._foreach_lerp_(target, online, 1.0 - m)

    def enqueue(self, out: StepOutput) -> None:
        """Push keys into a queue after the optimizer step (MoCo); no-op by default."""

    @property
    def encoder(self) -> nn.Module:  # pragma: no cover
        raise NotImplementedError

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Frozen-evaluation feature: GAP of the online encoder, (B, 3, S, S) -> (B, C)."""
        return gap(self.encoder(x))

    @torch.no_grad()
    def saliency_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named maps (B, h, w) in [0, 1] at feature-map resolution, for the viewer and metrics.

        Every method gives ``channel_sum`` (sum of F over channels, min-max normalised per
        image). SCD adds ``scd_fg`` (raw sigmoid M_fg, not normalised); LEWEL adds its maps.
        Call it with the method in eval mode (BN running statistics).
        """
        return self.maps_from_features(self.encoder(x))

    def maps_from_features(self, feature_map: torch.Tensor) -> dict[str, torch.Tensor]:
        """``saliency_maps`` from an already computed online feature map (B, C, h, w)."""
        return {"channel_sum": channel_sum_map(feature_map)}


class SiameseMethod(Method):
    """A base method: online encoder + target encoder; subclasses add heads and ``consistency``.

    Exposes the feature maps of both views (``encode``) so that SCD can plug in on top.
    """

    family = "byol"

    def __init__(self, cfg, backbone_cfg):
        super().__init__(cfg)
        self.online_encoder = backbone_from_config(backbone_cfg)
        self.target_encoder = frozen_copy(self.online_encoder)
        self.out_channels = self.online_encoder.out_channels

    @property
    def encoder(self) -> nn.Module:
        return self.online_encoder

    def target_features(self, x: torch.Tensor) -> torch.Tensor:
        """Target encoder on ``x`` (no gradient); MoCo overrides it to shuffle BN."""
        with torch.no_grad():
            return self.target_encoder(x)

    def encode(self, x1: torch.Tensor, x2: torch.Tensor) -> Encoded:
        """Feature maps of both views; view 1 online, view 2 target (and the swap if symmetric)."""
        f1 = self.online_encoder(x1)  # (B, C, H, W)
        f2_t = self.target_features(x2)  # (B, C, H, W), no grad
        if not self.cfg.symmetric:
            return Encoded(f1, f2_t)
        return Encoded(f1, f2_t, self.online_encoder(x2), self.target_features(x1))

    def consistency(self, enc: Encoded) -> tuple[torch.Tensor, torch.Tensor | None]:
        """L_c from the encoded views: (loss, keys to enqueue or None)."""
        raise NotImplementedError  # pragma: no cover

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> StepOutput:
        loss, keys = self.consistency(self.encode(x1, x2))
        return StepOutput(loss=loss, terms={"loss": loss.detach(), "loss_c": loss.detach()},
                          keys=keys)
