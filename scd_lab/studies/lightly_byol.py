"""lightly's BYOL beside the kit's, for ``scd-lab bench``: lightly's heads, loss and momentum
update on a copy of the kit's trunk, fed the kit's views, in the kit trainer's phases (so that
``studies.bench.timed_step`` times both with the same calls).

lightly is an optional extra (``pip install -e '.[bench]'``): it is imported when a
``LightlyBYOL`` is built, which raises ``ImportError`` without it.
"""
from __future__ import annotations

import copy

import torch

from ..methods.base import StepOutput


class LightlyBYOL:
    """lightly's BYOL heads and loss on the trunk and views of ``ref`` (a ``Trainer`` of the
    kit's BYOL: same trunk and head sizes), with the phases of ``Trainer.train_step``."""

    name = "lightly-byol"

    def __init__(self, ref):
        from lightly.loss import NegativeCosineSimilarity
        from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead
        from lightly.models.utils import deactivate_requires_grad, update_momentum
        m = ref.method
        c, hid, d = m.out_channels, m.projector.hidden_dim, m.projector.out_dim
        self.ref, self.device = ref, ref.device
        self.backbone = copy.deepcopy(m.online_encoder)
        self.proj = BYOLProjectionHead(c, hid, d)
        self.pred = BYOLPredictionHead(d, hid, d)
        self.backbone_t, self.proj_t = copy.deepcopy(self.backbone), copy.deepcopy(self.proj)
        deactivate_requires_grad(self.backbone_t)
        deactivate_requires_grad(self.proj_t)
        mods = torch.nn.ModuleList([self.backbone, self.proj, self.pred, self.backbone_t,
                                    self.proj_t]).to(self.device)
        self.modules = mods
        self.loss = NegativeCosineSimilarity()
        self.update_momentum = update_momentum
        self.opt = torch.optim.SGD([p for p in mods.parameters() if p.requires_grad], lr=0.01,
                                   momentum=0.9)

    # The phases, named as the trainer's.
    def views(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The kit trainer's views of ``step``."""
        return self.ref.views(step)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, step: int) -> StepOutput:
        """lightly's BYOL loss (one direction, as the kit's BYOL), under the kit's autocast."""
        with self.ref.autocast():
            p = self.pred(self.proj(self.backbone(x1).flatten(2).mean(2)))
            with torch.no_grad():
                z = self.proj_t(self.backbone_t(x2).flatten(2).mean(2))
            return StepOutput(self.loss(p, z))

    def backward(self, out: StepOutput) -> None:
        self.opt.zero_grad(set_to_none=True)
        out.loss.backward()

    def optimizer_step(self, step: int) -> None:
        self.opt.step()

    def update_targets(self, out: StepOutput, step: int) -> None:
        """lightly's ``update_momentum`` of the target trunk and projector (m = 0.99)."""
        self.update_momentum(self.backbone, self.backbone_t, m=0.99)
        self.update_momentum(self.proj, self.proj_t, m=0.99)
