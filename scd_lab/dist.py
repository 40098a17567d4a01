"""Small helpers for torch.distributed that are no-ops on one process."""
from __future__ import annotations

import torch
import torch.distributed as dist


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_dist() else 1


def rank() -> int:
    return dist.get_rank() if is_dist() else 0


def is_main() -> bool:
    return rank() == 0


@torch.no_grad()
def all_gather(t: torch.Tensor) -> torch.Tensor:
    """Concatenate ``t`` (B, ...) from every process along dim 0, in rank order (no gradient)."""
    if world_size() == 1:
        return t
    out = [torch.empty_like(t) for _ in range(world_size())]
    dist.all_gather(out, t.contiguous())
    return torch.cat(out, 0)


@torch.no_grad()
def batch_shuffle(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle a batch across processes (MoCo's shuffled BN). Returns (local slice, unshuffle idx).

    Every process must hold the same batch size.
    """
    if world_size() == 1:
        return x, torch.arange(x.shape[0], device=x.device)
    x_all = all_gather(x)  # (W*B, ...)
    n = x_all.shape[0]
    perm = torch.randperm(n, device=x.device)
    dist.broadcast(perm, src=0)
    unshuffle = torch.argsort(perm)
    b = x.shape[0]
    mine = perm.view(world_size(), b)[rank()]
    return x_all[mine], unshuffle


@torch.no_grad()
def batch_unshuffle(x: torch.Tensor, unshuffle: torch.Tensor) -> torch.Tensor:
    """Undo ``batch_shuffle`` for outputs ``x`` (B, ...) of the shuffled slice."""
    if world_size() == 1:
        return x
    x_all = all_gather(x)
    b = x.shape[0]
    return x_all[unshuffle.view(world_size(), b)[rank()]]
