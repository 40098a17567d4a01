"""Where randomness comes from: seeds derived from integers, the per-epoch permutation of the
samples and each step's batch indices. The trainer and the streaming folder both read their
batches from here, so a streamed run and an in-memory run see the same images at each step."""
from __future__ import annotations

import torch
from torch import Tensor


def seed_for(*parts: int) -> int:
    """A seed derived from integers (seed, step, rank, stream), the same on every machine."""
    s = 0
    for p in parts:
        s = (s * 1_000_003 + int(p) + 12345) % (2**63 - 1)
    return s


def epoch_permutation(n: int, seed: int, epoch: int) -> Tensor:
    """The trainer's permutation of ``n`` samples for ``epoch``."""
    g = torch.Generator().manual_seed(seed_for(seed, epoch))
    return torch.randperm(n, generator=g)


def batch_indices(step: int, n: int, batch_size: int, seed: int, rank: int = 0,
                  world: int = 1, _cache: dict | None = None) -> Tensor:
    """Sample indices of global ``step`` on process ``rank`` (``Trainer.batch_indices``)."""
    steps_per_epoch = n // batch_size
    epoch, i = divmod(step, steps_per_epoch)
    if _cache is not None and _cache.get("epoch") == epoch:
        perm = _cache["perm"]
    else:
        perm = epoch_permutation(n, seed, epoch)
        if _cache is not None:
            _cache.update(epoch=epoch, perm=perm)
    local = batch_size // world
    start = i * batch_size + rank * local
    return perm[start:start + local]
