"""MoCo-v2 (Chen et al., 2020): InfoNCE against a FIFO queue of momentum-encoder keys.
SCD paper eq. 1."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import dist
from ..losses import info_nce_loss
from ..models import MLP
from .base import Encoded, SiameseMethod, StepOutput, frozen_copy, gap


class MoCo(SiameseMethod):
    """MoCo-v2 with a queue of ``queue_size`` L2-normalized keys.

    Args:
        cfg: resolved ``MethodConfig``: proj_hidden (2048), proj_dim (128), tau (0.2),
            queue_size (K: number of negative keys), base_momentum (0.999, constant).
        backbone_cfg: ``BackboneConfig``.

    The queue is pushed by ``enqueue(out)`` after the optimizer step, never inside
    ``forward``. Under several processes the keys are gathered from all of them first, and
    the key encoder's batch is shuffled across processes (shuffled BN).
    """

    name = "moco"
    family = "moco"

    def __init__(self, cfg, backbone_cfg):
        super().__init__(cfg, backbone_cfg)
        c = self.out_channels
        self.projector = MLP(c, cfg.proj_hidden, cfg.proj_dim, batch_norm=False)
        self.target_projector = frozen_copy(self.projector)
        queue = F.normalize(torch.randn(cfg.queue_size, cfg.proj_dim), dim=1)
        self.register_buffer("queue", queue)  # (K, D)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def momentum_pairs(self):
        return [(self.online_encoder, self.target_encoder), (self.projector, self.target_projector)]

    def target_features(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            x, unshuffle = dist.batch_shuffle(x)
            return dist.batch_unshuffle(self.target_encoder(x), unshuffle)

    def _direction(self, f_online, f_target):
        q = self.projector(gap(f_online))  # (B, D)
        with torch.no_grad():
            k = F.normalize(self.target_projector(gap(f_target)), dim=1)  # (B, D)
        return info_nce_loss(q, k, self.queue, self.cfg.tau), k

    def consistency(self, enc: Encoded):
        loss, k = self._direction(enc.f1, enc.f2_t)
        if self.cfg.symmetric:
            loss2, k1 = self._direction(enc.f2, enc.f1_t)
            loss, k = loss + loss2, torch.cat([k, k1])
        return loss, k

    @torch.no_grad()
    def enqueue(self, out: StepOutput) -> None:
        """Gather keys from all processes, then push them; the oldest keys leave first."""
        keys = dist.all_gather(out.keys.float())  # (W*B, D), rank order
        size = self.queue.shape[0]
        if keys.shape[0] > size:
            keys = keys[-size:]
        ptr = int(self.queue_ptr)
        idx = (ptr + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue[idx] = keys
        self.queue_ptr.fill_((ptr + keys.shape[0]) % size)
