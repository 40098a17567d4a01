"""How far could a saliency map on these features get? A supervised ceiling for SCD's map.

SCD's saliency network is a per-location MLP on the frozen-at-that-moment feature map F. Train
the same architecture *with* the ground-truth masks (binary cross-entropy against the mask
downsampled to the feature map) on training images, and measure its AUROC on held-out images:
that is the best AUROC any map of this form can reach on these features. A self-supervised map
far below it has not used what the features offer; a ceiling below the target means the target
cannot be reached without better features (network, resolution, training), whatever SCD does.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.saliency import SaliencyNet
from .saliency_metrics import auroc


@torch.no_grad()
def feature_maps(encoder: torch.nn.Module, images: Tensor, transform, batch: int = 256) -> Tensor:
    """F of uint8 images (N, 3, H, W) through ``encoder`` in eval mode: (N, C, h, w) float32.

    ``transform`` maps a uint8 batch to the network's input (e.g. the trainer's ``eval_input``).
    """
    was_training = encoder.training
    encoder.eval()
    out = [encoder(transform(chunk)).float().cpu() for chunk in images.split(batch)]
    encoder.train(was_training)
    return torch.cat(out)


def supervised_map_ceiling(train_feats: Tensor, train_masks: Tensor, test_feats: Tensor,
                           test_masks: Tensor, steps: int = 1500, lr: float = 1e-3,
                           batch: int = 128, seed: int = 0, return_net: bool = False) -> dict:
    """Fit SCD's saliency-net architecture to the masks; AUROC on train and held-out images.

    Args:
        train_feats, test_feats: (N, C, h, w) feature maps.
        train_masks, test_masks: (N, H, W) masks in {0, 1}; the training target is the mask's
            object fraction in each feature-map cell (area pooling to h x w).
        steps, lr, batch, seed: Adam steps on random mini-batches (drawn on the CPU).

    The net is trained on the device of ``train_feats`` (``test_feats`` on the same one);
    the AUROCs are computed on the CPU.

    Returns:
        ``{"train_auroc", "test_auroc", "final_bce"}``; AUROCs pooled over pixels after
        bilinear upsampling, as in :func:`~scd_lab.eval.saliency_metrics.auroc`. With
        ``return_net`` also ``"net"``: the fitted ``SaliencyNet`` (eval mode).
    """
    if train_feats.dim() != 4 or train_feats.shape[1:] != test_feats.shape[1:]:
        raise ValueError(f"feature maps must be (N, C, h, w) alike, got {tuple(train_feats.shape)}"
                         f" and {tuple(test_feats.shape)}")
    if len(train_feats) != len(train_masks) or len(test_feats) != len(test_masks):
        raise ValueError("need one mask per feature map")
    g = torch.Generator().manual_seed(seed)
    dev = train_feats.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = SaliencyNet(train_feats.shape[1]).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr)
    h, w = train_feats.shape[-2:]
    target = F.adaptive_avg_pool2d(train_masks[:, None].float(), (h, w))[:, 0]  # (N, h, w)
    target = target.to(dev)
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        idx = torch.randint(0, len(train_feats), (min(batch, len(train_feats)),), generator=g)
        idx = idx.to(dev)
        loss = F.binary_cross_entropy_with_logits(net.logits(train_feats[idx]), target[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        n = min(len(test_feats), len(train_feats))
        out = {"train_auroc": auroc(torch.sigmoid(net.logits(train_feats[:n])).cpu(),
                                    train_masks[:n]),
               "test_auroc": auroc(torch.sigmoid(net.logits(test_feats)).cpu(), test_masks),
               "final_bce": float(loss)}
    if return_net:
        out["net"] = net
    return out
