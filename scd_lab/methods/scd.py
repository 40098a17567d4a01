"""SCD: Semantic-guided Consistency and Discrimination, as a plug-in over a base method.

SCD = base method (L_c) + saliency network M + semantic projector H^s + triplet loss L_d:

    M_fg = sigmoid(M(F)),  M_bg = 1 - M_fg
    h_fg = WAP(F, M_fg), h_bg = WAP(F, M_bg)                      (eq. 4)
    z_fg = H^s(h_fg),    z_bg = H^s(h_bg)
    L_d  = 0.5 (max(cos(z1_fg, z2_bg) - cos(z1_fg, z2_fg) + alpha, 0)
              + max(cos(z1_bg, z2_fg) - cos(z1_bg, z2_bg), 0))     (eq. 5)
    L    = L_c + lam L_d

View 1 goes through the online network (E, M, H^s), view 2 through the target network (EMA
copies of E, M, H^s) under stop-gradient. L_d is written once, in ``SCD.discrimination``: the
training step and the frozen-feature probe (``scd_lab.studies.probe``) both call it.
"""
from __future__ import annotations

import torch

from ..losses import semantic_discrimination_loss
from ..models import MLP, SaliencyNet, two_batches, weighted_avg_pool
from .base import BaseMethod, PlugIn, StepOutput, head_mlp


class SCD(PlugIn):
    """SCD around ``base`` (``BYOL`` or ``MoCo``: anything implementing ``BaseMethod``).

    Args:
        base: the base method; its loss is L_c and its encoders give F for both views.
        alpha: the margin of eq. 5 (foreground term only).
        lam: the weight of L_d (L = L_c + lam L_d).
        fg_term, bg_term: switch each term of eq. 5 off (paper Table 3).
        semantic_predictor: a predictor on the online z_fg / z_bg (the paper names none).
        pred_hidden: its hidden width (default: that of the base's predictor, or 4096).
        saliency_width: hidden channels of the saliency net as a fraction of C (paper: 1).
        semantic_bn: ``separate``: H^s (and the predictor) see h_fg and h_bg as two BN batches;
            ``joint``: one BN batch of 2B rows. The paper does not say.
        eps: guard of the weighted-pooling denominator (eq. 4).

    Example:
        >>> from scd_lab.models import build_backbone
        >>> from scd_lab.methods import BYOL
        >>> scd = SCD(BYOL(build_backbone("resnet_tiny", small_stem=True), proj_hidden=64,
        ...                proj_dim=32, pred_hidden=64), alpha=1.0, lam=0.5)
        >>> out = scd(torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32))
        >>> sorted(out.terms)
        ['loss', 'loss_c', 'loss_d']
    """

    default_map = "scd_fg"

    def __init__(self, base: BaseMethod, alpha: float = 1.0, lam: float = 0.5,
                 fg_term: bool = True, bg_term: bool = True, semantic_predictor: bool = False,
                 pred_hidden: int | None = None, saliency_width: float = 1.0,
                 semantic_bn: str = "separate", eps: float = 1e-6):
        super().__init__(base, "scd")
        if semantic_bn not in ("separate", "joint"):
            raise ValueError(f"semantic_bn must be 'separate' or 'joint', got {semantic_bn!r}")
        self.alpha, self.lam, self.fg_term, self.bg_term = alpha, lam, fg_term, bg_term
        self.semantic_bn, self.eps = semantic_bn, eps
        c = base.out_channels
        self.saliency = SaliencyNet(c, max(1, round(c * saliency_width)))
        # H^s: same shape as the base's global projector, its own weights, shared by fg and bg
        gp = base.projector
        self.sem_projector = MLP(c, gp.hidden_dim, gp.out_dim, batch_norm=gp.batch_norm,
                                 last_bias=gp.last_bias, init=gp.init)
        pred_hidden = self.default_pred_hidden() if pred_hidden is None else pred_hidden
        self.sem_predictor = (head_mlp(gp.out_dim, pred_hidden, gp.out_dim, self.head_bias)
                              if semantic_predictor else None)
        self.target_saliency = base.make_target(self.saliency)
        self.target_sem_projector = base.make_target(self.sem_projector)

    def plugin_pairs(self):
        return [(self.saliency, self.target_saliency),
                (self.sem_projector, self.target_sem_projector)]

    def _online_heads(self, h_fg: torch.Tensor, h_bg: torch.Tensor):
        """H^s (then the predictor, if any) on h_fg and h_bg: (B, C), (B, C) -> (B, d), (B, d)."""
        projector, predictor = self.sem_projector, self.sem_predictor
        if self.semantic_bn == "joint":  # one BN batch of 2B rows, through every head
            z = projector(torch.cat([h_fg, h_bg]))  # (2B, d)
            if predictor is not None:
                z = predictor(z)
            return z.chunk(2)
        # two BN batches of B rows; each Linear runs once on the 2B rows (= two calls)
        z_fg, z_bg = two_batches(projector, h_fg, h_bg)  # (B, d) each
        if predictor is not None:
            z_fg, z_bg = two_batches(predictor, z_fg, z_bg)
        return z_fg, z_bg

    def _target_heads(self, h_fg: torch.Tensor, h_bg: torch.Tensor):
        """The target H^s on h_fg and h_bg through the base's ``target_apply`` (no gradient;
        MoCo shuffles BN), in one call: (B, C), (B, C) -> (B, d), (B, d). With ``separate``
        the pairs (h_fg[n], h_bg[n]) travel as rows of (B, 2, C), so a shuffle moves both, and
        ``two_batches`` runs every Linear once on 2B rows, BN on each half."""
        apply, projector = self.base.target_apply, self.target_sem_projector
        if self.semantic_bn == "joint":
            return apply(projector, torch.cat([h_fg, h_bg])).chunk(2)  # (B, d) each
        both = lambda x: torch.stack(two_batches(projector, x[:, 0], x[:, 1]), 1)  # noqa: E731
        z = apply(both, torch.stack([h_fg, h_bg], 1))  # (B, 2, C) -> (B, 2, d)
        return z[:, 0], z[:, 1]

    def embed(self, feature_map: torch.Tensor, m_fg: torch.Tensor, target: bool = False
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_fg, z_bg) of one view pooled with the map ``m_fg`` (eq. 4), then through the
        online H^s (and the semantic predictor, if any) or, with ``target``, the target H^s.

        Shape:
            (B, C, H, W), (B, H, W) -> (B, d), (B, d)
        """
        h_fg = weighted_avg_pool(feature_map, m_fg, self.eps)  # (B, C)
        h_bg = weighted_avg_pool(feature_map, 1.0 - m_fg, self.eps)  # (B, C)
        if target:
            return self._target_heads(h_fg, h_bg)
        return self._online_heads(h_fg, h_bg)

    def discrimination(self, f_online: torch.Tensor, f_target: torch.Tensor,
                       m_online: torch.Tensor | None = None, m_target: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """SCD's discrimination term L_d for one direction (docs/method.md, §2.3).

        The online view goes through M (unless ``m_online`` is given), the weighted pooling of
        eq. 4 (h_fg with M_fg, h_bg with M_bg = 1 - M_fg), H^s and the semantic predictor if
        any; the target view through the target M (unless ``m_target`` is given) and the target
        H^s under stop-gradient. The two are compared by the triplet loss of eq. 5
        (``scd_lab.losses.semantic_discrimination_loss``, with ``alpha``, ``fg_term``,
        ``bg_term``). ``forward`` calls it once per direction; the frozen-feature probe
        (``scd_lab.studies.probe``) calls it on a frozen trunk's maps, and with the maps fixed
        to a mask for its oracle.

        Args:
            f_online: F of the online view, (B, C, H, W) (gradients flow into M and H^s).
            f_target: F of the target view, (B, C, H, W) (no gradient).
            m_online, m_target: maps M_fg (B, H, W) that replace the saliency nets' outputs.

        Returns:
            L_d, a scalar, and the online M_fg (B, H, W) (``m_online`` when given).

        Shape:
            (B, C, H, W), (B, C, H, W)[, (B, H, W), (B, H, W)] -> (), (B, H, W); inside,
            h_fg, h_bg (B, C) (eq. 4) and z_fg, z_bg (B, d), d = the base projector's out_dim.
        """
        if m_online is None:
            m_online = self.saliency(f_online)  # (B, H, W)
        z1_fg, z1_bg = self.embed(f_online, m_online)  # (B, d) each
        with torch.no_grad():  # stop-gradient: the target network
            if m_target is None:
                m_target = self.base.target_apply(self.target_saliency, f_target)  # (B, H, W)
            z2_fg, z2_bg = self.embed(f_target, m_target, target=True)  # (B, d) each
        loss = semantic_discrimination_loss(z1_fg, z1_bg, z2_fg, z2_bg, self.alpha,
                                            self.fg_term, self.bg_term)
        return loss, m_online

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> StepOutput:
        """L = L_c + lam L_d, L_d summed over both directions when the base is symmetric."""
        enc = self.base.encode(x1, x2)
        loss_c, keys = self.base.consistency(enc)
        loss_d, m1 = self.discrimination(enc.f1, enc.f2_t)
        if self.base.symmetric:
            loss_d = loss_d + self.discrimination(enc.f2, enc.f1_t)[0]  # summed like L_c
        loss = loss_c + self.lam * loss_d
        terms = {"loss": loss.detach(), "loss_c": loss_c.detach(), "loss_d": loss_d.detach()}
        return StepOutput(loss=loss, terms=terms, maps={"scd_fg": m1.detach()}, keys=keys)

    @torch.no_grad()
    def fg_features(self, x: torch.Tensor) -> torch.Tensor:
        """h_fg of the online network (paper Table 8): (B, 3, S, S) -> (B, C)."""
        f = self.encoder(x)
        return weighted_avg_pool(f, self.saliency(f), self.eps)

    def maps_from_features(self, feature_map: torch.Tensor) -> dict[str, torch.Tensor]:
        """``channel_sum`` and ``scd_fg`` (the raw sigmoid M_fg of the online network)."""
        maps = self.base.maps_from_features(feature_map)
        maps["scd_fg"] = self.saliency(feature_map)  # (B, h, w)
        return maps
