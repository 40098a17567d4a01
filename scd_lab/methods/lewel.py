"""LEWEL (Huang et al., CVPR 2022): learning where to learn, with the projector's pixel columns
as alignment maps. docs/method.md (facts read from the authors' code, "LEWEL_B").

One view, online or target network (F: (B, C, H, W), d = proj_dim, h = heads, K = d / h):

    [z_g, Z] = H([GAP(F), F])                 one 1x1-conv pass over 1 + HW columns, so the
                                              projector's BN statistics are shared by the
                                              pooled column and the pixels
    A        = softmax_space(normalize_channels(Z) / s)        (B, d, HW), each map sums to 1
    v_j      = concat_g ( F_g A_{g,j}^T ),  g = 1..h           (B, K, C): slot j of the image
    L        = w (2 - 2 cos(G(z_g1), z_g2')) + (1 - w) (2 - 2 cos(G_s(H_s(v_1)), H_s'(v_2')))

Primes mark the target (EMA of the whole online network: encoder, projector H, slot projector
H_s; the predictors G, G_s are online only). Slot j of view 1 is matched with slot j of view 2
by index. w = 0.5; both directions are computed and **summed** (the authors' symmetric loss).

``LEWEL`` is a plug-in over a base method, like SCD: the base gives the encoders, the global
projector H and the loss of the global embeddings (``embedding_loss``). ``LEWEL(BYOL(...))``
(``lewel-byol``) is the authors' method. ``LEWEL(MoCo(...))`` (``lewel-moco``) is **the kit's
own extension, not the authors'** (they have no MoCo variant): the global term is MoCo-v2's
InfoNCE of z_g1 against the target key z_g2' and a FIFO queue of keys (MoCo's projector, no BN,
no global predictor, MoCo's queue, shuffled BN and ``enqueue``); the slot branch is kept exactly as
in LEWEL_B (BN slot projector + online slot predictor, 2 - 2 cos), because without BN or a
predictor nothing would stop the slot embeddings from collapsing to a constant.

Maps for the viewer and the metrics (``maps_from_features`` / ``saliency_maps``), at feature-map
resolution: ``lewel_maxvar`` is the alignment map with the highest spatial variance (the most
peaked of the d maps, the rule the SCD paper uses to show LEWEL), min-max normalised per image
to [0, 1] like SCD's M_fg before any comparison. ``alignment_maps`` (all d maps) and
``slot_maps`` (the maps averaged over heads) keep the softmax normalisation: each sums to 1.

Example:
    >>> from scd_lab.models import build_backbone
    >>> from scd_lab.methods import BYOL
    >>> trunk = build_backbone("resnet_tiny", small_stem=True)
    >>> lewel = LEWEL(BYOL(trunk, proj_hidden=64, proj_dim=32, pred_hidden=64, symmetric=True))
    >>> out = lewel(torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32))
    >>> sorted(out.terms)
    ['loss', 'loss_c', 'loss_global', 'loss_slots']
    >>> lewel.eval().slot_maps(torch.randn(2, 3, 32, 32)).shape  # K = 32 / 4
    torch.Size([2, 8, 8, 8])
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import byol_loss
from ..models import minmax_normalize
from .base import BaseMethod, Encoded, PlugIn, StepOutput, gap, head_mlp

# --------------------------------------------------------------------------------------------
# Pure functions (tensors in, tensors out)


def project_columns(feature_map: torch.Tensor, projector: nn.Module
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The projector as a 1x1 convolution over [GAP(F), F], in one pass.

    A 1x1 Conv1d + BatchNorm1d over (B, C, 1 + HW) is the same as a Linear + BatchNorm1d over
    the B (1 + HW) columns as rows, so ``projector`` is a plain ``MLP`` and its BN statistics
    are shared by the pooled column and the pixels (as in the authors' code). In eval mode
    column 0 equals ``projector(GAP(F))``.

    Args:
        feature_map: F, (B, C, H, W).
        projector: ``MLP`` (C -> hidden -> d).

    Returns:
        z_g (B, d): the global embedding (column 0); Z (B, d, H, W): the pixel columns.

    Shape:
        (B, C, H, W) -> (B, d), (B, d, H, W)
    """
    b, c, h, w = feature_map.shape
    cols = torch.cat([gap(feature_map).unsqueeze(2), feature_map.flatten(2)], 2)  # (B, C, 1+HW)
    rows = cols.transpose(1, 2).reshape(b * (1 + h * w), c)  # (B(1+HW), C)
    z = projector(rows).view(b, 1 + h * w, -1)  # (B, 1+HW, d)
    z_global = z[:, 0]  # (B, d)
    z_pix = z[:, 1:].transpose(1, 2).reshape(b, -1, h, w)  # (B, d, H, W)
    return z_global, z_pix


def alignment_maps_from_z(z_pix: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """LEWEL's alignment maps: A = softmax over space of (L2-normalize over channels (Z) / s).

    Args:
        z_pix: the projector's pixel columns Z, (B, d, H, W).
        scale: s (the authors use 1.0); smaller s gives more peaked maps.

    Returns:
        A, (B, d, H, W); each of the d maps is non-negative and sums to 1 over space.
    """
    b, d, h, w = z_pix.shape
    logits = F.normalize(z_pix, dim=1) / scale  # (B, d, H, W), unit norm over d per pixel
    return logits.flatten(2).softmax(dim=-1).view(b, d, h, w)  # (B, d, H, W)


def slot_pool(feature_map: torch.Tensor, maps: torch.Tensor, heads: int) -> torch.Tensor:
    """Grouped weighted pooling: slot j = concat over heads g of F_g A_{g,j}^T.

    F is split into ``heads`` contiguous channel groups (C/h each) and A into ``heads``
    contiguous groups of K = d/h maps; head g's maps pool only head g's channels. With
    ``heads = 1`` slot j is the full-channel pool sum_ij A_j[i, j] F[:, i, j] (a weighted
    average, since A_j sums to 1).

    Args:
        feature_map: F, (B, C, H, W); C divisible by ``heads``.
        maps: A, (B, d, H, W); d divisible by ``heads``.
        heads: h.

    Returns:
        Slots v, (B, K, C), K = d / h, channels in F's order.
    """
    b, c, h, w = feature_map.shape
    f = feature_map.flatten(2).view(b, heads, c // heads, h * w)  # (B, h, C/h, HW)
    a = maps.flatten(2).view(b, heads, maps.shape[1] // heads, h * w)  # (B, h, K, HW)
    v = torch.einsum("bgcn,bgkn->bkgc", f, a.to(f.dtype))  # (B, K, h, C/h)
    return v.reshape(b, v.shape[1], c)  # (B, K, C)


def slot_maps_from_alignment(maps: torch.Tensor, heads: int) -> torch.Tensor:
    """The spatial support of each slot: the alignment maps averaged over the ``heads`` heads.

    Slot j pools head g's channels with map A_{g,j}; its map here is mean_g A_{g,j}, which is
    still a distribution (sums to 1 over space).

    Shape:
        (B, d, H, W) -> (B, K, H, W), K = d / h
    """
    b, d, h, w = maps.shape
    return maps.view(b, heads, d // heads, h, w).mean(1)  # (B, K, H, W)


def max_variance_map(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each image, the map with the highest spatial variance (the most peaked one).

    The rule the SCD paper uses to show LEWEL. Variance is the population variance over the
    H W positions; ties go to the lowest index.

    Args:
        maps: (B, N, H, W), e.g. the d alignment maps.

    Returns:
        The selected maps (B, H, W), unnormalised, and their indices (B,).
    """
    var = maps.float().flatten(2).var(dim=-1, unbiased=False)  # (B, N)
    index = var.argmax(dim=1)  # (B,)
    selected = maps[torch.arange(maps.shape[0], device=maps.device), index]  # (B, H, W)
    return selected, index


# --------------------------------------------------------------------------------------------
# The method


@dataclass
class LEWELView:
    """One view through one network. ``z_global`` (B, d), ``maps`` A (B, d, H, W), ``slots``
    v (B, K, C)."""

    z_global: torch.Tensor
    maps: torch.Tensor
    slots: torch.Tensor


@dataclass
class LEWELTerms:
    """One direction (online view -> target view). ``loss`` = w global + (1 - w) slots;
    ``keys``: the normalised target keys (LEWEL-MoCo) or ``None``; ``maps``: online A."""

    loss: torch.Tensor
    loss_global: torch.Tensor
    loss_slots: torch.Tensor
    keys: torch.Tensor | None
    maps: torch.Tensor


class LEWEL(PlugIn):
    """LEWEL's slot branch and maps on top of a base method's global head.

    The base (``BYOL`` for LEWEL_B, ``MoCo`` for the kit's extension) provides the encoders,
    the global projector H (run here as a 1x1 conv over [GAP(F), F]) and the global term
    (``base.embedding_loss``). This plug-in adds the slot projector H_s (C -> hidden -> d, BN
    over batch x slots), the online slot predictor G_s (d -> hidden -> d), their target twin,
    and the LEWEL loss. The authors sum both directions: build the base with
    ``symmetric=True`` (the registry does).

    Args:
        base: the base method; its projector's widths are reused by the slot heads.
        heads: h, channel groups (C and d must be divisible by h).
        scale: s, the softmax scale of the alignment maps (1.0).
        global_weight: w, the weight of the global term (the slot term gets 1 - w).
        pred_hidden: hidden width of G_s (default: the base predictor's, or 4096).
        slot_hidden: hidden width of both H_s and G_s, overriding the two above (the authors'
            code ties them to the global heads' 4096, 2 C for ResNet-50; docs/cost.md).
    """

    default_map = "lewel_maxvar"

    def __init__(self, base: BaseMethod, heads: int = 4, scale: float = 1.0,
                 global_weight: float = 0.5, pred_hidden: int | None = None,
                 slot_hidden: int | None = None):
        super().__init__(base, "lewel")
        c, d = base.out_channels, base.projector.out_dim
        if c % heads or d % heads:
            raise ValueError(f"LEWEL needs C={c} and proj_dim={d} divisible by heads={heads}")
        self.heads, self.num_slots = heads, d // heads  # h, K
        self.scale, self.global_weight = scale, global_weight
        pred_hidden = self.default_pred_hidden() if pred_hidden is None else pred_hidden
        proj_hidden = base.projector.hidden_dim
        if slot_hidden is not None:
            proj_hidden = pred_hidden = slot_hidden
        hb = self.head_bias
        self.slot_projector = head_mlp(c, proj_hidden, d, hb)  # H_s: C -> 4096 -> d
        self.slot_predictor = head_mlp(d, pred_hidden, d, hb)  # G_s: d -> 4096 -> d, online only
        self.target_slot_projector = base.make_target(self.slot_projector)

    def plugin_pairs(self):
        return [(self.slot_projector, self.target_slot_projector)]

    def embed(self, feature_map: torch.Tensor, projector: nn.Module) -> LEWELView:
        """z_g, A and slots of one view through ``projector`` (online or target H)."""
        z_global, z_pix = project_columns(feature_map, projector)  # (B, d), (B, d, H, W)
        maps = alignment_maps_from_z(z_pix, self.scale)  # (B, d, H, W)
        slots = slot_pool(feature_map, maps, self.heads)  # (B, K, C)
        return LEWELView(z_global, maps, slots)

    def direction(self, f_online: torch.Tensor, f_target: torch.Tensor) -> LEWELTerms:
        """One direction of the loss: online feature map (B, C, H, W) against the target's."""
        on = self.embed(f_online, self.base.projector)
        p_slots = self.slot_predictor(self.slot_projector(on.slots.flatten(0, 1)))  # (BK, d)
        with torch.no_grad():  # stop-gradient: the target network
            tg = self.embed(f_target, self.base.target_projector)
            z_slots = self.target_slot_projector(tg.slots.flatten(0, 1))  # (BK, d)
        loss_global, keys = self.base.embedding_loss(on.z_global, tg.z_global)  # scalar, keys
        loss_slots = byol_loss(p_slots, z_slots)  # scalar; slot j <-> slot j, mean over B K
        w = self.global_weight
        loss = w * loss_global + (1.0 - w) * loss_slots  # scalar
        return LEWELTerms(loss, loss_global, loss_slots, keys, on.maps)

    def loss_terms(self, enc: Encoded) -> LEWELTerms:
        """Both directions (summed) when the base is symmetric, else view 1 -> view 2."""
        t = self.direction(enc.f1, enc.f2_t)
        if not self.base.symmetric:
            return t
        t2 = self.direction(enc.f2, enc.f1_t)  # summed, not averaged
        keys = None if t.keys is None else torch.cat([t.keys, t2.keys])  # (2B, d)
        return LEWELTerms(t.loss + t2.loss, t.loss_global + t2.loss_global,
                          t.loss_slots + t2.loss_slots, keys, t.maps)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> StepOutput:
        """Loss terms (``loss_global`` / ``loss_slots`` unweighted, summed over directions) and
        the online view-1 ``lewel_maxvar`` map (B, H, W) in [0, 1]."""
        t = self.loss_terms(self.base.encode(x1, x2))
        terms = {"loss": t.loss.detach(), "loss_c": t.loss.detach(),
                 "loss_global": t.loss_global.detach(), "loss_slots": t.loss_slots.detach()}
        maxvar = minmax_normalize(max_variance_map(t.maps.detach())[0].float())  # (B, H, W)
        return StepOutput(loss=t.loss, terms=terms, maps={"lewel_maxvar": maxvar}, keys=t.keys)

    # ---- maps for the viewer and the metrics (call in eval mode: BN running statistics)

    def maps_from_features(self, feature_map: torch.Tensor) -> dict[str, torch.Tensor]:
        """``channel_sum`` and ``lewel_maxvar`` (highest-variance alignment map, min-max
        normalised per image to [0, 1], like SCD's M_fg before a comparison), each (B, h, w).

        The alignment maps come from the online projector; in train mode its BN uses the
        batch statistics, so call it in eval mode (``saliency_maps`` documents this)."""
        maps = self.base.maps_from_features(feature_map)
        a = self.embed(feature_map, self.base.projector).maps  # (B, d, h, w)
        maps["lewel_maxvar"] = minmax_normalize(max_variance_map(a)[0].float())  # (B, h, w)
        return maps

    @torch.no_grad()
    def alignment_maps(self, x: torch.Tensor) -> torch.Tensor:
        """All d alignment maps of the online network: (B, 3, S, S) -> (B, d, h, w), softmax
        maps (each sums to 1 over space)."""
        return self.embed(self.encoder(x), self.base.projector).maps

    @torch.no_grad()
    def slot_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Slot maps (alignment maps averaged over heads): (B, 3, S, S) -> (B, K, h, w), each
        sums to 1 over space."""
        return slot_maps_from_alignment(self.alignment_maps(x), self.heads)
