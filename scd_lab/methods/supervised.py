"""The supervised reference: cross-entropy on the labels, with the same trunk, augmentation
and trainer as the self-supervised methods. Its features are the kit's reference for
"semantic features"; its run is a baseline row in every comparison."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import Method, StepOutput, gap


class Supervised(Method):
    """A linear classifier on GAP(F), trained on both augmented views (one BN batch of 2B).

    Args:
        backbone: the trunk (B, 3, S, S) -> F (B, C, H, W), with ``out_channels``.
        num_classes: the number of classes of the training set.

    ``uses_labels`` tells the trainer to pass ``labels`` (B,) to ``forward``. There is no
    target network: ``momentum_pairs`` is empty.

    Example:
        >>> from scd_lab.models import build_backbone
        >>> sup = Supervised(build_backbone("resnet_tiny", small_stem=True), num_classes=3)
        >>> out = sup(torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32),
        ...           labels=torch.tensor([0, 1, 2, 0]))
        >>> sorted(out.terms)
        ['accuracy', 'loss', 'loss_c']
    """

    name = "supervised"
    uses_labels = True

    def __init__(self, backbone: nn.Module, num_classes: int):
        super().__init__()
        self.online_encoder = backbone
        self.out_channels = backbone.out_channels
        self.head = nn.Linear(self.out_channels, num_classes)

    @property
    def encoder(self) -> nn.Module:
        return self.online_encoder

    def momentum_pairs(self):
        return []

    def momentum(self, step: int, total_steps: int) -> float:
        return 1.0

    def forward(self, x1: torch.Tensor, x2: torch.Tensor,
                labels: torch.Tensor | None = None) -> StepOutput:
        if labels is None:
            raise ValueError("the supervised method needs the labels: forward(x1, x2, labels=...)")
        logits = self.head(gap(self.online_encoder(torch.cat([x1, x2]))))  # (2B, K)
        target = labels.repeat(2)  # (2B,)
        loss = F.cross_entropy(logits, target)
        acc = (logits.detach().argmax(1) == target).float().mean()
        return StepOutput(loss=loss, terms={"loss": loss.detach(), "loss_c": loss.detach(),
                                            "accuracy": acc})
