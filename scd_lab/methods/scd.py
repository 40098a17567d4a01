"""SCD: Semantic-guided Consistency and Discrimination, as a plug-in over a base method.

SCD = base method (L_c) + saliency network M + semantic projector H^s + triplet loss L_d:

    M_fg = sigmoid(M(F)),  M_bg = 1 - M_fg
    h_fg = WAP(F, M_fg), h_bg = WAP(F, M_bg)                      (eq. 4)
    z_fg = H^s(h_fg),    z_bg = H^s(h_bg)
    L_d  = 0.5 (max(cos(z1_fg, z2_bg) - cos(z1_fg, z2_fg) + alpha, 0)
              + max(cos(z1_bg, z2_fg) - cos(z1_bg, z2_bg), 0))     (eq. 5)
    L    = L_c + lam L_d

View 1 goes through the online network (E, M, H^s), view 2 through the target network (EMA
copies of E, M, H^s) under stop-gradient.
"""
from __future__ import annotations

import torch
from torch import nn

from ..losses import semantic_discrimination_loss
from ..models import MLP, SaliencyNet, weighted_avg_pool
from .base import Method, SiameseMethod, StepOutput, frozen_copy


class SCD(Method):
    """Wrap ``base`` (BYOL or MoCo, anything exposing ``encode`` / ``consistency``) with SCD.

    Args:
        base: the base method; its loss is L_c and its encoders give F for both views.
        cfg: resolved ``MethodConfig`` (alpha, lam, fg_term, bg_term, semantic_predictor,
            saliency_width, semantic_bn, eps, proj_hidden, proj_dim, pred_hidden, symmetric).

    Example:
        >>> from scd_lab.config import get_preset
        >>> from scd_lab.methods import build_method
        >>> scd = build_method("scd-byol", get_preset("cpu"))
        >>> out = scd(torch.randn(4, 3, 48, 48), torch.randn(4, 3, 48, 48))
        >>> sorted(out.terms)
        ['loss', 'loss_c', 'loss_d']
    """

    def __init__(self, base: SiameseMethod, cfg):
        super().__init__(cfg)
        self.base = base
        self.name = f"scd-{base.name}"
        self.family = base.family
        c = base.out_channels
        self.saliency = SaliencyNet(c, max(1, round(c * cfg.saliency_width)))
        # H^s: same shape as the base's global projector, its own weights, shared by fg and bg
        gp = base.projector
        self.sem_projector = MLP(c, gp.hidden_dim, gp.out_dim, batch_norm=gp.batch_norm)
        self.sem_predictor = (MLP(gp.out_dim, cfg.pred_hidden, gp.out_dim)
                              if cfg.semantic_predictor else None)
        self.target_saliency = frozen_copy(self.saliency)
        self.target_sem_projector = frozen_copy(self.sem_projector)

    @property
    def encoder(self) -> nn.Module:
        return self.base.encoder

    def momentum_pairs(self):
        return self.base.momentum_pairs() + [(self.saliency, self.target_saliency),
                                             (self.sem_projector, self.target_sem_projector)]

    def semantic_embeddings(self, feature_map, saliency, projector, predictor=None):
        """(z_fg, z_bg, M_fg) for one view: (B, C, H, W) -> (B, d), (B, d), (B, H, W)."""
        m_fg = saliency(feature_map)  # (B, H, W)
        h_fg = weighted_avg_pool(feature_map, m_fg, self.cfg.eps)  # (B, C)
        h_bg = weighted_avg_pool(feature_map, 1.0 - m_fg, self.cfg.eps)  # (B, C)
        if self.cfg.semantic_bn == "joint":
            z_fg, z_bg = projector(torch.cat([h_fg, h_bg])).chunk(2)  # one BN batch of 2B
        else:
            z_fg, z_bg = projector(h_fg), projector(h_bg)  # (B, d) each
        if predictor is not None:
            z_fg, z_bg = predictor(z_fg), predictor(z_bg)
        return z_fg, z_bg, m_fg

    def _discrimination(self, f_online, f_target):
        z1_fg, z1_bg, m1 = self.semantic_embeddings(f_online, self.saliency, self.sem_projector,
                                                    self.sem_predictor)
        with torch.no_grad():
            z2_fg, z2_bg, _ = self.semantic_embeddings(f_target, self.target_saliency,
                                                       self.target_sem_projector)
        cfg = self.cfg
        loss = semantic_discrimination_loss(z1_fg, z1_bg, z2_fg, z2_bg, cfg.alpha,
                                            cfg.fg_term, cfg.bg_term)
        return loss, m1

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> StepOutput:
        enc = self.base.encode(x1, x2)
        loss_c, keys = self.base.consistency(enc)
        loss_d, m1 = self._discrimination(enc.f1, enc.f2_t)
        if self.cfg.symmetric:
            loss_d = loss_d + self._discrimination(enc.f2, enc.f1_t)[0]  # summed like L_c
        loss = loss_c + self.cfg.lam * loss_d
        terms = {"loss": loss.detach(), "loss_c": loss_c.detach(), "loss_d": loss_d.detach()}
        return StepOutput(loss=loss, terms=terms, maps={"scd_fg": m1.detach()}, keys=keys)

    def enqueue(self, out: StepOutput) -> None:
        self.base.enqueue(out)

    @torch.no_grad()
    def fg_features(self, x: torch.Tensor) -> torch.Tensor:
        """h_fg of the online network (paper Table 8): (B, 3, S, S) -> (B, C)."""
        f = self.encoder(x)
        return weighted_avg_pool(f, self.saliency(f), self.cfg.eps)

    def maps_from_features(self, feature_map: torch.Tensor) -> dict[str, torch.Tensor]:
        """``channel_sum`` and ``scd_fg`` (the raw sigmoid M_fg of the online network)."""
        maps = self.base.maps_from_features(feature_map)
        maps["scd_fg"] = self.saliency(feature_map)  # (B, h, w)
        return maps
