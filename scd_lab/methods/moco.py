"""MoCo-v2 (Chen et al., 2020): InfoNCE against a FIFO queue of momentum-encoder keys.
SCD paper eq. 1."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import dist
from ..errors import ConfigError
from ..losses import info_nce_loss
from ..models import MLP
from .base import SiameseMethod, StepOutput, frozen_copy


class SplitBatchNormMixin:
    """Batch norm over ``splits`` groups of the batch instead of the whole batch (train mode).

    Sample n goes to group n mod g, where g is the largest divisor of the batch not above
    ``splits`` that leaves every group ``MIN_GROUP`` samples or more; the running statistics
    are averaged over the groups. Under several processes it is plain BN (the real shuffled BN
    runs across processes). State-dict keys are BN's.
    """

    splits: int = 1
    MIN_GROUP = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        g = min(self.splits, n // self.MIN_GROUP) if dist.world_size() == 1 else 1
        g = max(g, 1)
        while n % g:
            g -= 1
        if not self.training or g == 1:
            return super().forward(x)
        c = x.shape[1]
        xs = x.reshape(n // g, g * c, *x.shape[2:])  # channel block j = samples j, j+g, ...
        mean, var = self.running_mean.repeat(g), self.running_var.repeat(g)
        w = None if self.weight is None else self.weight.repeat(g)
        b = None if self.bias is None else self.bias.repeat(g)
        out = F.batch_norm(xs, mean, var, w, b, True, self.momentum or 0.1, self.eps)
        with torch.no_grad():
            self.running_mean.copy_(mean.view(g, c).mean(0))
            self.running_var.copy_(var.view(g, c).mean(0))
        return out.view(x.shape)


class SplitBatchNorm1d(SplitBatchNormMixin, nn.BatchNorm1d):
    pass


class SplitBatchNorm2d(SplitBatchNormMixin, nn.BatchNorm2d):
    pass


def split_batchnorm(module: nn.Module, splits: int) -> nn.Module:
    """Turn every BatchNorm1d/2d of ``module`` (in place) into its split version."""
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)) \
                and not isinstance(child, SplitBatchNormMixin):
            cls = SplitBatchNorm2d if isinstance(child, nn.BatchNorm2d) else SplitBatchNorm1d
            new = cls(child.num_features, child.eps, child.momentum, child.affine,
                      child.track_running_stats)
            new.load_state_dict(child.state_dict())
            new.splits = splits
            for p in new.parameters():
                p.requires_grad_(any(q.requires_grad for q in child.parameters()))
            setattr(module, name, new)
        else:
            split_batchnorm(child, splits)
    return module


class MoCo(SiameseMethod):
    """MoCo-v2 with a queue of ``queue_size`` L2-normalised keys.

    Args:
        backbone: the trunk (B, 3, S, S) -> F (B, C, H, W), with ``out_channels``.
        proj_hidden, proj_dim: projector Linear(C, 2048) -> ReLU -> Linear(2048, 128), no BN.
        tau: InfoNCE temperature (0.2).
        queue_size: K, the number of negative keys.
        symmetric: add the swapped direction and sum the losses (both keys are enqueued).
        base_momentum, momentum_schedule: EMA m0 (0.999), constant.
        bn_splits: shuffled BN on one process: the key batch is shuffled and every target
            module's BN normalises it in this many groups (split BN); 1 turns it off.
        head_bias, eman: see ``SiameseMethod`` (``head_bias`` concerns the BN heads a plug-in
            adds; this projector has no BN and keeps its biases, as MoCo's).

    The queue is pushed by ``enqueue(out)`` after the optimizer step, never inside ``forward``.
    Under several processes the keys are gathered from all of them first, and the key
    encoder's batch is shuffled across processes (shuffled BN).
    """

    name = "moco"

    def __init__(self, backbone: nn.Module, proj_hidden: int = 2048, proj_dim: int = 128,
                 tau: float = 0.2, queue_size: int = 65536, symmetric: bool = False,
                 base_momentum: float = 0.999, momentum_schedule: str = "constant",
                 bn_splits: int = 8, head_bias: bool = False, eman: bool = False):
        self.bn_splits = bn_splits
        super().__init__(backbone, symmetric, base_momentum, momentum_schedule, head_bias, eman)
        self.tau = tau
        self.projector = MLP(self.out_channels, proj_hidden, proj_dim, batch_norm=False)
        self.target_projector = self.make_target(self.projector)
        queue = F.normalize(torch.randn(queue_size, proj_dim), dim=1)
        self.register_buffer("queue", queue)  # (K, D)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def make_target(self, module: nn.Module) -> nn.Module:
        return split_batchnorm(frozen_copy(module), self.bn_splits)

    def target_apply(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Shuffled BN: across processes, or on one process a shuffle + split BN."""
        with torch.no_grad():
            if dist.world_size() > 1:
                x, unshuffle = dist.batch_shuffle(x)
                return dist.batch_unshuffle(module(x), unshuffle)
            perm = torch.randperm(x.shape[0], device=x.device)
            out = module(x[perm])
            return out[torch.argsort(perm)]

    def check_dataset(self, num_train: int) -> None:
        if self.queue.shape[0] > num_train:
            raise ConfigError(f"method.queue_size={self.queue.shape[0]} exceeds the {num_train} "
                              "training images (the queue must not hold one image twice); set "
                              f"method.queue_size to at most {num_train}")

    def embedding_loss(self, z_online: torch.Tensor, z_target: torch.Tensor):
        k = F.normalize(z_target, dim=1)  # (B, D), already no grad
        return info_nce_loss(z_online, k, self.queue, self.tau), k

    @torch.no_grad()
    def enqueue(self, out: StepOutput) -> None:
        """Gather keys from all processes, then push them; the oldest keys leave first."""
        keys = dist.all_gather(out.keys.float())  # (W*B, D), rank order
        size = self.queue.shape[0]
        if keys.shape[0] > size:
            keys = keys[-size:]
        n = keys.shape[0]  # the pointer stays on the device: no host synchronisation
        idx = (self.queue_ptr + torch.arange(n, device=keys.device)) % size
        self.queue.index_copy_(0, idx, keys.to(self.queue.dtype))
        self.queue_ptr.copy_((self.queue_ptr + n) % size)
