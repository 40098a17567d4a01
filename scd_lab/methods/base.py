"""What every method shares: the step output, the online/target split, the EMA update, and the
interface a plug-in (SCD, LEWEL) needs from a base method (``BaseMethod``).

A method's ``forward(x1, x2)`` has no side effects: it returns a ``StepOutput`` with the total
loss, the named loss terms and the maps it computed. The trainer then makes the two explicit
calls that change state outside the optimizer: ``momentum_update(m)`` (EMA of the target) and
``enqueue(out)`` (MoCo's queue; a no-op elsewhere).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ..models import MLP, channel_sum_map
from ..schedules import momentum_at


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


def head_mlp(in_dim: int, hidden_dim: int, out_dim: int, head_bias: bool = False) -> MLP:
    """A BN head (projector or predictor) Linear -> BN -> ReLU -> Linear, the last Linear
    without bias as in BYOL's and LEWEL's code, or with one when ``head_bias`` (the kit's heads
    before issue 22, ``method.head_bias``)."""
    return MLP(in_dim, hidden_dim, out_dim, last_bias=True if head_bias else None)


def gap(feature_map: torch.Tensor) -> torch.Tensor:
    """Global average pooling h = GAP(F): (B, C, H, W) -> (B, C)."""
    return feature_map.mean(dim=(2, 3))


class Method(nn.Module):
    """Interface of every method (the trainer relies on nothing else).

    Subclasses implement ``forward``, ``momentum_pairs`` and ``encoder``; the rest has
    defaults. ``default_map`` names the map that shows the method in comparisons.
    """

    name: str = "method"
    default_map: str = "channel_sum"
    eman: bool = False  # EMAN: targets in eval mode, BN statistics averaged too (SiameseMethod)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> StepOutput:  # pragma: no cover
        raise NotImplementedError

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(online, target) module pairs updated by the EMA."""
        raise NotImplementedError  # pragma: no cover

    def momentum(self, step: int, total_steps: int) -> float:
        """The EMA momentum for ``step`` of ``total_steps``."""
        raise NotImplementedError  # pragma: no cover

    def train(self, mode: bool = True) -> "Method":
        """``nn.Module.train``; with ``eman`` every target module stays in eval mode (its BN
        normalises with its running statistics, LEWEL ``main.py:310-315``)."""
        super().train(mode)
        if self.eman:
            for _, target in self.momentum_pairs():
                target.eval()
        return self

    @torch.no_grad()
    def momentum_update(self, m: float, pairs=None) -> None:
        """xi <- m xi + (1 - m) theta for every (online, target) pair: the parameters (the
        target's BN statistics come from its own forward passes, LEWEL ``models/lewel.py:
        216-226``), and with ``eman`` also the floating-point buffers (BN running mean and
        variance), the integer ones (``num_batches_tracked``) copied (LEWEL
        ``models/lewel.py:161-178``). ``pairs`` defaults to ``momentum_pairs()``; the
        frozen-feature probe passes the heads' pairs only."""
        online, target, b_online, b_target = [], [], [], []
        for o, t in (self.momentum_pairs() if pairs is None else pairs):
            online += list(o.parameters())
            target += list(t.parameters())
            if self.eman:
                for bo, bt in zip(o.buffers(), t.buffers()):
                    if bt.is_floating_point():
                        b_online.append(bo)
                        b_target.append(bt)
                    else:
                        bt.copy_(bo)
        if target:  # a method without a target network (supervised) has nothing to update
            torch._foreach_lerp_(target, online, 1.0 - m)
        if b_target:
            torch._foreach_lerp_(b_target, b_online, 1.0 - m)

    def enqueue(self, out: StepOutput) -> None:
        """Push keys into a queue after the optimizer step (MoCo); no-op by default."""

    def check_dataset(self, num_train: int) -> None:
        """Raise ``ConfigError`` when the method cannot train on ``num_train`` images."""

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


@runtime_checkable
class BaseMethod(Protocol):
    """What a plug-in (``SCD``, ``LEWEL``) needs from the base method it wraps.

    ``BYOL`` and ``MoCo`` implement it (through ``SiameseMethod``).
    """

    name: str
    out_channels: int  # C of the feature map F
    symmetric: bool  # both directions, summed
    projector: MLP  # the global projector H (its shape is copied by SCD's H^s)
    target_projector: nn.Module

    def encode(self, x1: torch.Tensor, x2: torch.Tensor) -> Encoded: ...

    def consistency(self, enc: Encoded) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def embedding_loss(self, z_online: torch.Tensor, z_target: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def make_target(self, module: nn.Module) -> nn.Module: ...

    def target_apply(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor: ...

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]: ...

    def momentum(self, step: int, total_steps: int) -> float: ...


def is_base_method(obj) -> bool:
    """Whether ``obj`` offers every member of ``BaseMethod`` (what SCD and LEWEL check).

    Not ``isinstance(obj, BaseMethod)``: from Python 3.12 a runtime protocol looks members up
    with ``inspect.getattr_static``, which does not see an ``nn.Module``'s submodules (kept in
    ``_modules``), so a real BYOL would fail the check there.
    """
    members = [*BaseMethod.__annotations__,
               *(n for n, v in vars(BaseMethod).items() if callable(v) and not n.startswith("_"))]
    return all(hasattr(obj, m) for m in members)


class SiameseMethod(Method):
    """A base method: online encoder + target encoder; subclasses add heads and
    ``embedding_loss``. Implements ``BaseMethod`` so that SCD and LEWEL can plug in on top.

    Args:
        backbone: the trunk, (B, 3, S, S) -> F (B, C, H, W), with an ``out_channels`` attribute
            (``scd_lab.models.build_backbone``).
        symmetric: add the swapped direction and **sum** the two losses ("2x").
        base_momentum, momentum_schedule: the EMA's m0 and ``cosine`` (m -> 1) or ``constant``.
        head_bias: a bias on the BN heads' last Linear (``head_mlp``; official code: none).
        eman: targets in eval mode, their BN statistics averaged by the EMA (``Method.train``,
            ``Method.momentum_update``).
    """

    def __init__(self, backbone: nn.Module, symmetric: bool, base_momentum: float,
                 momentum_schedule: str, head_bias: bool = False, eman: bool = False):
        super().__init__()
        self.head_bias, self.eman = head_bias, eman
        self.online_encoder = backbone
        self.target_encoder = self.make_target(backbone)
        self.out_channels = backbone.out_channels
        self.symmetric = symmetric
        self.base_momentum, self.momentum_schedule = base_momentum, momentum_schedule

    @property
    def encoder(self) -> nn.Module:
        return self.online_encoder

    def momentum(self, step: int, total_steps: int) -> float:
        return momentum_at(step, total_steps, self.base_momentum, self.momentum_schedule)

    def make_target(self, module: nn.Module) -> nn.Module:
        """The target twin of an online module (a frozen copy; MoCo also splits its BN)."""
        return frozen_copy(module)

    def target_apply(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """A target module (or a function of target modules) on ``x`` without gradient; MoCo
        overrides it to shuffle BN."""
        with torch.no_grad():
            return module(x)

    def encode(self, x1: torch.Tensor, x2: torch.Tensor) -> Encoded:
        """Feature maps of both views; view 1 online, view 2 target (and the swap if symmetric)."""
        f1 = self.online_encoder(x1)  # (B, C, H, W)
        f2_t = self.target_apply(self.target_encoder, x2)  # (B, C, H, W), no grad
        if not self.symmetric:
            return Encoded(f1, f2_t)
        return Encoded(f1, f2_t, self.online_encoder(x2),
                       self.target_apply(self.target_encoder, x1))

    def embedding_loss(self, z_online: torch.Tensor, z_target: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """L_c of projected embeddings (B, d), (B, d) -> (loss, keys to enqueue or None)."""
        raise NotImplementedError  # pragma: no cover

    def direction(self, f_online: torch.Tensor, f_target: torch.Tensor):
        """One direction of L_c: online feature map against the target's."""
        z = self.projector(gap(f_online))  # (B, d)
        z_t = self.target_apply(self.target_projector, gap(f_target))  # (B, d), stop-gradient
        return self.embedding_loss(z, z_t)

    def consistency(self, enc: Encoded) -> tuple[torch.Tensor, torch.Tensor | None]:
        """L_c from the encoded views: (loss, keys to enqueue or None)."""
        loss, keys = self.direction(enc.f1, enc.f2_t)
        if self.symmetric:
            loss2, keys2 = self.direction(enc.f2, enc.f1_t)  # summed, not averaged
            loss = loss + loss2
            keys = None if keys is None else torch.cat([keys, keys2])
        return loss, keys

    def momentum_pairs(self):
        return [(self.online_encoder, self.target_encoder), (self.projector, self.target_projector)]

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> StepOutput:
        loss, keys = self.consistency(self.encode(x1, x2))
        return StepOutput(loss=loss, terms={"loss": loss.detach(), "loss_c": loss.detach()},
                          keys=keys)


class PlugIn(Method):
    """What a plug-in (SCD, LEWEL) shares: it wraps a base method (``self.base``) and
    delegates to it the encoders, the EMA momentum, the dataset check and the queue; its own
    (online, target) head pairs (``plugin_pairs``) are EMA-updated after the base's.

    Subclasses call ``super().__init__(base, prefix)`` first (``name`` becomes
    ``"{prefix}-{base.name}"``; ``base`` is registered before any head, so the state-dict keys
    start with ``base.``), build their heads and their targets with ``base.make_target``, and
    implement ``forward`` and ``plugin_pairs``.

    Raises:
        TypeError: ``base`` is not a base method (``is_base_method``).
    """

    def __init__(self, base: BaseMethod, prefix: str):
        super().__init__()
        if not is_base_method(base):
            raise TypeError(f"{type(self).__name__} plugs into a base method (BYOL, MoCo), got "
                            f"{type(base).__name__}")
        self.base = base
        self.name = f"{prefix}-{base.name}"

    def default_pred_hidden(self) -> int:
        """Hidden width of a plug-in predictor: the base predictor's, or 4096 without one."""
        pred = getattr(self.base, "predictor", None)
        return pred.hidden_dim if pred is not None else 4096

    @property
    def encoder(self) -> nn.Module:
        return self.base.encoder

    @property
    def eman(self) -> bool:
        return getattr(self.base, "eman", False)

    @property
    def head_bias(self) -> bool:
        return getattr(self.base, "head_bias", False)

    def momentum(self, step: int, total_steps: int) -> float:
        return self.base.momentum(step, total_steps)

    def plugin_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """The plug-in's own (online, target) pairs."""
        raise NotImplementedError  # pragma: no cover

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return self.base.momentum_pairs() + self.plugin_pairs()

    def check_dataset(self, num_train: int) -> None:
        self.base.check_dataset(num_train)

    def enqueue(self, out: StepOutput) -> None:
        self.base.enqueue(out)
