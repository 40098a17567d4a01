"""Where the trainer runs: torchrun's process group and the device, and a device name checked
before any work (``train.device``, ``--device``)."""
from __future__ import annotations

import os

import torch
import torch.distributed as torch_dist

from .. import dist
from ..errors import UserError


def setup_distributed() -> tuple[int, int, torch.device]:
    """Initialise torch.distributed from torchrun's environment, if present.

    Returns (rank, world_size, device). Backend: nccl on CUDA, gloo on the CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if world > 1 and not torch_dist.is_initialized():
        torch_dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    return dist.rank(), dist.world_size(), device


def resolve_device(device: str, flag: str = "--device", types=("cpu", "cuda")) -> torch.device:
    """``device`` as a ``torch.device``; a name torch does not know, a type outside ``types``
    (``None``: any) or a GPU that torch cannot see is one ``UserError`` line naming ``flag``."""
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UserError(f"{flag} {device!r}: give cpu, cuda or cuda:N") from None
    if types and dev.type not in types:
        raise UserError(f"{flag} {device!r}: give cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"{flag} {device}: torch sees no CUDA device here; use cpu")
    return dev
