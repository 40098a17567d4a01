"""Grad-CAM of a linear classifier on a trunk: a supervised attribution map to set beside
SCD's self-supervised saliency map; and Grad-CAM of the self-supervised objective itself
(``objective_gradcam``), for a model that has no class logit.

The classifier is trunk + GAP + linear head (what ``linear_probe`` or ``finetune`` fits).
Grad-CAM (Selvaraju et al., 2017) weights each channel of the last block's output F by the
spatial mean of the gradient of the class logit, sums over channels and keeps the positive
part. For trunk + GAP + linear head the gradient of logit k with respect to F[c, i, j] is
``W[k, c] / (h w)`` everywhere, so the map is ``ReLU(sum_c W[k, c] F[c]) / (h w)``: the class
activation map (CAM) of Zhou et al. The computation goes through captum's ``LayerGradCam``
(needs ``captum``, in the ``dev`` and ``notebooks`` extras).

    maps = gradcam_maps(run.method.encoder, head, run.eval_input(images))   # (B, h, w)
    saliency_report(maps, masks)

**The objective.** ``objective_gradcam(method, x1, x2, term)`` explains, per view pair, what
in view 1 raises the method's own agreement with view 2: the scalar is minus one loss term of
one direction (view 1 online, view 2 target), computed by the method's own code, never a copy:

* ``"consistency"``: minus L_c of the base (``base.direction``; for BYOL ``2 cos(q(z1), z2) -
  2``, the cosine of the predicted online embedding and the target one; for MoCo minus
  InfoNCE against its queue);
* ``"discrimination"``: minus SCD's L_d (``SCD.discrimination``: fg/bg pooling by the
  saliency net, the semantic projector, the triplet of eq. 5).

The losses are batch means, and in eval mode (BN running statistics) image i's feature map
reaches only image i's term, so the gradient of the batch mean at image i is that of its own
term divided by B; captum's ``LayerGradCam`` gets the mean repeated B times as its per-image
outputs, whose summed gradient is then exactly each image's own term's.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .features import eval_mode
from .semi import TrunkClassifier


def last_block(trunk: nn.Module) -> nn.Module:
    """The module whose output Grad-CAM explains: the last residual block of a ``Trunk``
    (``trunk.stages[-1][-1]``, whose output is the feature map F), else the trunk itself."""
    stages = getattr(trunk, "stages", None)
    if isinstance(stages, nn.Sequential) and len(stages):
        last = stages[-1]
        return last[-1] if isinstance(last, nn.Sequential) and len(last) else last
    return trunk


def gradcam_maps(trunk: nn.Module, head: nn.Module, x: Tensor, target: Tensor | int | None = None,
                 layer: nn.Module | None = None) -> Tensor:
    """Grad-CAM maps of the classifier ``head(GAP(trunk(x)))`` at feature-map resolution.

    Both modules run in eval mode (BN running statistics) and get their modes back after; no
    parameter gradient is left behind (captum computes gradients of the layer output only).

    Args:
        trunk: x (B, 3, S, S) -> F (B, C, h, w) (e.g. ``run.method.encoder``).
        head: (B, C) -> logits (B, K), e.g. a ``torch.nn.Linear``.
        x: (B, 3, S, S) network input (already transformed, on the modules' device).
        target: the class to explain: an int for all images, a (B,) tensor, or ``None`` for
            each image's predicted class (argmax of its logits).
        layer: the layer to explain (default :func:`last_block` of ``trunk``).

    Returns:
        (B, h, w) float maps, >= 0 (ReLU'd), not normalised: pass them through
        ``minmax_normalize`` to compare images; a map is all 0 where no location has positive
        evidence for the class.

    Raises:
        ImportError: captum is not installed.
    """
    try:
        from captum.attr import LayerGradCam
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("gradcam_maps needs captum: pip install 'captum>=0.7' "
                          "(or the dev / notebooks extras of scd-lab)") from e

    model = TrunkClassifier(trunk, head)
    layer = layer if layer is not None else last_block(trunk)
    with eval_mode(trunk), eval_mode(head), torch.enable_grad():
        if target is None:
            with torch.no_grad():
                target = model(x).argmax(1)  # (B,)
        elif isinstance(target, Tensor):
            target = target.to(x.device).long()
        cam = LayerGradCam(model, layer)
        maps = cam.attribute(x, target=target, relu_attributions=True)  # (B, 1, h, w)
    return maps[:, 0].detach()


class _Objective(nn.Module):
    """x1 (B, 3, S, S) -> (B,): minus one loss term of ``method`` for the view pair (x1, x2),
    repeated per image (see the module docstring); x2's target features are fixed."""

    def __init__(self, method: nn.Module, x2: Tensor, term: str):
        super().__init__()
        self.method, self.term = method, term
        self.base = getattr(method, "base", method)  # SCD / LEWEL wrap a base
        self.f2_t = self.base.target_apply(self.base.target_encoder, x2)  # (B, C, h, w)

    def forward(self, x1: Tensor) -> Tensor:
        f1 = self.base.encoder(x1)  # (B, C, h, w)
        if self.term == "consistency":
            loss = self.base.direction(f1, self.f2_t)[0]
        else:
            loss = self.method.discrimination(f1, self.f2_t)[0]
        return (-loss).expand(x1.shape[0])  # (B,)


OBJECTIVE_TERMS = ("consistency", "discrimination")


def objective_gradcam(method: nn.Module, x1: Tensor, x2: Tensor, term: str = "consistency",
                      layer: nn.Module | None = None) -> Tensor:
    """Grad-CAM of the self-supervised objective: what in view 1 raises ``-term`` (module
    docstring), at feature-map resolution.

    Args:
        method: a trained method (BYOL, MoCo, SCD(...), LEWEL(...)); runs in eval mode and
            gets its mode back; no parameter gradient is left behind.
        x1, x2: (B, 3, S, S) two views of the same images (network input, on the method's
            device); x1 goes through the online network, x2 through the target.
        term: ``"consistency"`` (minus L_c of one direction) or ``"discrimination"`` (minus
            SCD's L_d; needs an SCD method).
        layer: the layer to explain (default :func:`last_block` of the online encoder).

    Returns:
        (B, h, w) maps >= 0 (ReLU'd), not normalised.

    Raises:
        ValueError: an unknown term, or ``"discrimination"`` for a method without L_d.
        ImportError: captum is not installed.
    """
    if term not in OBJECTIVE_TERMS:
        raise ValueError(f"term {term!r}: use one of {', '.join(OBJECTIVE_TERMS)}")
    if term == "discrimination" and not hasattr(method, "discrimination"):
        raise ValueError(f"{type(method).__name__} has no discrimination term L_d (only SCD "
                         "does); use term='consistency'")
    try:
        from captum.attr import LayerGradCam
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("objective_gradcam needs captum: pip install 'captum>=0.7'") from e
    base = getattr(method, "base", method)
    layer = layer if layer is not None else last_block(base.encoder)
    with eval_mode(method), torch.enable_grad():
        objective = _Objective(method, x2, term)
        maps = LayerGradCam(objective, layer).attribute(x1, relu_attributions=True)
    return maps[:, 0].detach()  # (B, h, w)
