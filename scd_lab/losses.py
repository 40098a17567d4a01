"""Loss functions: pure functions of tensors, batch means, equation numbers of the SCD paper.

    >>> import torch
    >>> p, z = torch.randn(8, 16), torch.randn(8, 16)
    >>> float(byol_loss(p, p)) < 1e-6
    True
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """BYOL consistency, SCD eq. 3: 2 - 2 cos(p, z), batch mean.

    Equal to ``normalized_mse_loss`` (eq. 2). ``z`` is the target and should be detached
    by the caller (the methods do).

    Shape:
        p, z: (B, D) -> scalar
    """
    return (2 - 2 * F.cosine_similarity(p, z, dim=-1)).mean()


def normalized_mse_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """SCD eq. 2: ||p/||p|| - z/||z|| ||^2, batch mean (identical to ``byol_loss``).

    Shape:
        p, z: (B, D) -> scalar
    """
    return (F.normalize(p, dim=-1) - F.normalize(z, dim=-1)).pow(2).sum(-1).mean()


def info_nce_loss(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor,
                  tau: float = 0.2) -> torch.Tensor:
    """MoCo InfoNCE, SCD eq. 1: -log exp(q.k/tau) / (exp(q.k/tau) + sum_n exp(q.n/tau)).

    Args:
        q: queries (B, D), normalized inside.
        k: positive keys (B, D), normalized inside; detached by the caller.
        queue: negative keys (K, D), already L2-normalized.
        tau: temperature.

    Returns:
        Scalar, batch mean. The positive sits at index 0 of each row of logits (B, 1 + K).
    """
    q = F.normalize(q, dim=-1)
    k = F.normalize(k, dim=-1)
    l_pos = (q * k).sum(-1, keepdim=True)  # (B, 1)
    l_neg = q @ queue.to(q.dtype).t()  # (B, K)
    logits = torch.cat([l_pos, l_neg], dim=1) / tau  # (B, 1 + K)
    labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, labels)


def semantic_discrimination_loss(z1_fg: torch.Tensor, z1_bg: torch.Tensor,
                                 z2_fg: torch.Tensor, z2_bg: torch.Tensor,
                                 alpha: float = 1.0, fg_term: bool = True,
                                 bg_term: bool = True) -> torch.Tensor:
    """SCD semantic discrimination (triplet) loss, eq. 5, batch mean.

    L_d = 0.5 * ( max(cos(z1_fg, z2_bg) - cos(z1_fg, z2_fg) + alpha, 0)
                + max(cos(z1_bg, z2_fg) - cos(z1_bg, z2_bg), 0) )

    The margin is on the foreground term only. ``fg_term`` / ``bg_term`` switch a term off
    (paper Table 3); the factor 0.5 stays, so one term alone is half its hinge.

    Args:
        z1_fg, z1_bg: online fg/bg embeddings of view 1, (B, D).
        z2_fg, z2_bg: target fg/bg embeddings of view 2, (B, D) (detached by the caller).
        alpha: margin of the foreground term.

    Returns:
        Scalar, batch mean.
    """
    loss = z1_fg.new_zeros(z1_fg.shape[0])  # (B,)
    if fg_term:
        loss = loss + F.relu(F.cosine_similarity(z1_fg, z2_bg, dim=-1)
                             - F.cosine_similarity(z1_fg, z2_fg, dim=-1) + alpha)
    if bg_term:
        loss = loss + F.relu(F.cosine_similarity(z1_bg, z2_fg, dim=-1)
                             - F.cosine_similarity(z1_bg, z2_bg, dim=-1))
    return 0.5 * loss.mean()
