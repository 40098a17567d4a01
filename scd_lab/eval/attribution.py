"""Grad-CAM of a linear classifier on a trunk: a supervised attribution map to set beside
SCD's self-supervised saliency map.

The classifier is trunk + GAP + linear head (what ``linear_probe`` or ``finetune`` fits).
Grad-CAM (Selvaraju et al., 2017) weights each channel of the last block's output F by the
spatial mean of the gradient of the class logit, sums over channels and keeps the positive
part. For trunk + GAP + linear head the gradient of logit k with respect to F[c, i, j] is
``W[k, c] / (h w)`` everywhere, so the map is ``ReLU(sum_c W[k, c] F[c]) / (h w)``: the class
activation map (CAM) of Zhou et al. The computation goes through captum's ``LayerGradCam``
(needs ``captum``, in the ``dev`` and ``notebooks`` extras).

    maps = gradcam_maps(run.method.encoder, head, run.eval_input(images))   # (B, h, w)
    saliency_report(maps, masks)
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
