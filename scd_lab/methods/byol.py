"""BYOL (Grill et al., 2020): online encoder + projector + predictor regress the target's
projection of the other view. SCD paper eq. 2/3."""
from __future__ import annotations

import torch
from torch import nn

from ..losses import byol_loss
from .base import SiameseMethod, head_mlp


class BYOL(SiameseMethod):
    """BYOL, asymmetric by default ("1x": x1 online, x2 target).

    Args:
        backbone: the trunk (B, 3, S, S) -> F (B, C, H, W), with ``out_channels``.
        proj_hidden, proj_dim: projector H: C -> proj_hidden -> d (BN, as in BYOL).
        pred_hidden: predictor G: d -> pred_hidden -> d.
        symmetric: add the swapped direction and **sum** the two losses.
        base_momentum, momentum_schedule: EMA m0 (0.99) rising to 1 on a cosine.
        head_bias, eman: see ``SiameseMethod`` (official BYOL / LEWEL: no last bias; EMAN off).

    Example:
        >>> from scd_lab.models import build_backbone
        >>> byol = BYOL(build_backbone("resnet_tiny", small_stem=True), proj_hidden=64,
        ...             proj_dim=32, pred_hidden=64)
        >>> float(byol(torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)).loss) > 0
        True
    """

    name = "byol"

    def __init__(self, backbone: nn.Module, proj_hidden: int = 4096, proj_dim: int = 256,
                 pred_hidden: int = 4096, symmetric: bool = False, base_momentum: float = 0.99,
                 momentum_schedule: str = "cosine", head_bias: bool = False, eman: bool = False):
        super().__init__(backbone, symmetric, base_momentum, momentum_schedule, head_bias, eman)
        c = self.out_channels
        self.projector = head_mlp(c, proj_hidden, proj_dim, head_bias)  # H: C -> 4096 -> d
        self.predictor = head_mlp(proj_dim, pred_hidden, proj_dim, head_bias)  # G: d -> 4096 -> d
        self.target_projector = self.make_target(self.projector)

    def embedding_loss(self, z_online: torch.Tensor, z_target: torch.Tensor):
        return byol_loss(self.predictor(z_online), z_target), None  # (B, d) -> scalar
