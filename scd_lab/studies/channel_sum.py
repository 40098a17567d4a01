"""How well does an untrained network's channel-sum map already find the object?

The ContrastiveCrop heuristic takes the sum over channels of the last feature map as a saliency
map. If an *untrained* ResNet-18 already segments the objects of a dataset with it, the objects
are findable by low-level contrast and the dataset cannot show what SCD learns. This measures
that baseline on the synthetic test splits, with two references: the map minus its mean over
the split ("cs - mean": what responds to content rather than position) and a fixed centred
Gaussian ("centre prior": position only, no image content). ``scd-lab study channel-sum``.
"""
from __future__ import annotations

import time

import torch
import torch.nn as nn
import torchvision

from ..data.augment import eval_transform
from ..data.synthetic import generate, resolve_spec
from ..eval.saliency_metrics import minmax_normalize, saliency_report


def untrained_resnet18_trunk(small_stem: bool = True, seed: int = 0) -> nn.Module:
    """torchvision ResNet-18 with random weights, without avgpool and fc: (B,3,H,W) -> (B,512,h,w).

    ``small_stem``: conv1 becomes 3x3 stride 1 and the max-pool is removed (for 32-96 px inputs),
    so a 64 px image gives an 8x8 map.
    """
    torch.manual_seed(seed)
    net = torchvision.models.resnet18(weights=None)
    if small_stem:
        net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    return nn.Sequential(*list(net.children())[:-2]).eval()


def channel_sum_maps(trunk: nn.Module, images: torch.Tensor, batch: int = 250,
                     device: str = "cpu") -> torch.Tensor:
    """Channel-sum maps F.sum(1) of uint8 images (N, 3, S, S): (N, h, w) on the CPU, raw."""
    out = []
    trunk = trunk.to(device)
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = eval_transform(images[i:i + batch].to(device), images.shape[-1])  # (b, 3, S, S)
            out.append(trunk(x).sum(1).cpu())  # (b, h, w)
    return torch.cat(out)


def centre_prior(n: int, size: int, sigma: float = 0.25) -> torch.Tensor:
    """A centred Gaussian map for every image, (n, size, size): position only, no content."""
    t = (torch.arange(size) + 0.5) / size - 0.5
    g = torch.exp(-(t[None] ** 2 + t[:, None] ** 2) / (2 * sigma ** 2))
    return g.expand(n, size, size)


def channel_sum_baseline(splits=("default", "camouflage"), n: int = 400, device: str = "cpu",
                         seed: int = 0):
    """Yield the report's lines: a heading, then per split one line per map and a summary."""
    trunk = untrained_resnet18_trunk(seed=seed)
    yield (f"untrained ResNet-18 (small stem, seed {seed}), channel-sum map, {n} test "
           f"images per split; maps min-max normalized per image, upsampled bilinearly")
    yield (f"{'split':<12}{'map':<13}{'AUROC':>7}{'AUROC/img':>10}{'best IoU':>9}{'thr':>6}"
           f"{'IoU@0.5':>9}{'fg frac':>8}")
    for name in splits:
        spec = resolve_spec(name)
        t0 = time.time()
        test = generate(spec, n, 2 * spec.seed + 1)  # the test split of load_synthetic
        cs = minmax_normalize(channel_sum_maps(trunk, test.images, device=device))
        maps = {"channel-sum": cs,
                # The split's mean map removed: what is left responds to content, not position.
                "cs - mean": cs - cs.mean(0, keepdim=True),
                "centre prior": centre_prior(n, spec.image_size)}
        for label, m in maps.items():
            r = saliency_report(m, test.masks)
            yield (f"{name:<12}{label:<13}{r['auroc']:>7.3f}{r['auroc_per_image']:>10.3f}"
                   f"{r['best_iou']:>9.3f}{r['best_thr']:>6.2f}{r['iou@0.5']:>9.3f}"
                   f"{test.masks.float().mean():>8.3f}")
        r = saliency_report(cs, test.masks)
        yield (f"{'':<12}normalized channel-sum: spatial_std {r['spatial_std']:.3f}, "
               f"mean_map_std {r['mean_map_std']:.3f} ({time.time() - t0:.0f} s)")
