"""BYOL (Grill et al., 2020): online encoder + projector + predictor regress the target's
projection of the other view. SCD paper eq. 2/3."""
from __future__ import annotations

import torch

from ..losses import byol_loss
from ..models import MLP
from .base import Encoded, SiameseMethod, frozen_copy, gap


class BYOL(SiameseMethod):
    """BYOL, asymmetric by default ("1x": x1 online, x2 target); ``symmetric`` adds the swapped
    direction and **sums** the two losses.

    Args:
        cfg: resolved ``MethodConfig`` (proj_hidden, proj_dim = d, pred_hidden, symmetric,
            base_momentum, momentum_schedule).
        backbone_cfg: ``BackboneConfig`` of the trunk.
    """

    name = "byol"
    family = "byol"

    def __init__(self, cfg, backbone_cfg):
        super().__init__(cfg, backbone_cfg)
        c = self.out_channels
        self.projector = MLP(c, cfg.proj_hidden, cfg.proj_dim)  # H: C -> 4096 -> d
        self.predictor = MLP(cfg.proj_dim, cfg.pred_hidden, cfg.proj_dim)  # G: d -> 4096 -> d
        self.target_projector = frozen_copy(self.projector)

    def momentum_pairs(self):
        return [(self.online_encoder, self.target_encoder), (self.projector, self.target_projector)]

    def _direction(self, f_online: torch.Tensor, f_target: torch.Tensor) -> torch.Tensor:
        p = self.predictor(self.projector(gap(f_online)))  # (B, d)
        with torch.no_grad():
            z = self.target_projector(gap(f_target))  # (B, d), stop-gradient
        return byol_loss(p, z)

    def consistency(self, enc: Encoded):
        loss = self._direction(enc.f1, enc.f2_t)
        if self.cfg.symmetric:
            loss = loss + self._direction(enc.f2, enc.f1_t)  # summed, not averaged
        return loss, None
