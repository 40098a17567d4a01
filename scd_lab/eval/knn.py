"""Weighted kNN classifier on frozen features (the monitor of Wu et al., 2018)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def knn_predict(queries: torch.Tensor, bank: torch.Tensor, bank_labels: torch.Tensor,
                num_classes: int, k: int = 20, tau: float = 0.07,
                chunk: int = 1024) -> torch.Tensor:
    """Class scores by temperature-weighted votes of the k nearest bank features (cosine).

    score[c] = sum over the k neighbours n with label c of exp((cos(q, n) - cos_max) / tau)

    with cos_max the query's largest cosine: Wu et al.'s votes exp(cos / tau) divided by
    exp(cos_max / tau), a positive factor per query that leaves the ranking of the classes
    unchanged and keeps every weight in (0, 1], so the scores stay finite in fp32 for any
    ``tau`` (undivided, exp(1 / tau) overflows fp32 below tau = 1 / 88.7 = 0.0113).

    Shape:
        queries (Q, D), bank (N, D), bank_labels (N,) -> scores (Q, num_classes)
    """
    bank = F.normalize(bank.float(), dim=1)
    k = min(k, bank.shape[0])
    out = []
    for q in F.normalize(queries.float(), dim=1).split(chunk):
        sim = q @ bank.t()  # (q, N)
        top, idx = sim.topk(k, dim=1)  # (q, k)
        weights = ((top - top[:, :1]) / tau).exp()  # (q, k), in (0, 1]: no overflow
        votes = torch.zeros(q.shape[0], num_classes, device=q.device)
        votes.scatter_add_(1, bank_labels[idx], weights)  # (q, C)
        out.append(votes)
    return torch.cat(out)


def knn_correct(queries, query_labels, bank, bank_labels, num_classes: int, k: int = 20,
                tau: float = 0.07) -> torch.Tensor:
    """Whether ``knn_predict``'s top class is each query's label: (Q,) bool."""
    scores = knn_predict(queries, bank, bank_labels, num_classes, k, tau)
    return scores.argmax(1) == query_labels.to(scores.device)


def knn_accuracy(queries, query_labels, bank, bank_labels, num_classes: int, k: int = 20,
                 tau: float = 0.07) -> float:
    """Top-1 accuracy of ``knn_predict``. Bank and queries must be different images."""
    return knn_correct(queries, query_labels, bank, bank_labels, num_classes, k,
                       tau).float().mean().item()


def knn_top1_per_query(queries, query_labels, bank, bank_labels, ks=(20, 200),
                       tau: float = 0.07) -> dict[int, torch.Tensor]:
    """``knn_correct`` for each k in ``ks`` (classes counted from both label sets): {k: (Q,)
    bool}; their means are ``knn_top1``'s figures (the paired comparison's per-image values)."""
    bank_labels = bank_labels.to(bank.device)
    query_labels = query_labels.to(bank.device)
    nc = int(max(int(bank_labels.max()), int(query_labels.max()))) + 1
    return {k: knn_correct(queries, query_labels, bank, bank_labels, nc, k, tau) for k in ks}


def knn_top1(queries, query_labels, bank, bank_labels, ks=(20, 200), tau: float = 0.07
             ) -> dict[int, float]:
    """Top-1 accuracy for each k in ``ks`` (classes counted from both label sets): the
    figures of the kNN monitor and of ``scd-lab eval knn``."""
    per = knn_top1_per_query(queries, query_labels, bank, bank_labels, ks, tau)
    return {k: c.float().mean().item() for k, c in per.items()}
