"""Two-view augmentation of whole batches on the device (docs/method.md).

One call augments a uint8 batch (B, 3, H, W) on the GPU or the CPU, with independent random
parameters per sample, in the order of the torchvision pipelines the papers use:

    random resized crop -> horizontal flip -> colour jitter (p) -> grayscale (p)
    -> Gaussian blur (p) -> solarize (p) -> normalize

Every random parameter is drawn on the CPU from the given ``torch.Generator`` (so a seed gives the
same views on any device) and returned, so a mask can be warped exactly like its image with
:func:`warp_masks`. The sampling follows torchvision's rules (``RandomResizedCrop.get_params``
with 10 attempts and its fallback, ``ColorJitter`` with a random order of the four operations
per sample); ``tests/data/test_augment.py`` checks the distributions against torchvision.

Differences from torchvision, on purpose: the crop is resized by bilinear ``grid_sample``
without antialiasing (torchvision antialiases when it shrinks a crop), and images are converted
to float once, at the start, rather than rounded back to uint8 after each operation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_GRAY = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma, as torchvision


@dataclass(frozen=True)
class AugmentSpec:
    """The settings of one view's augmentation pipeline.

    Attributes:
        crop_scale: range of the crop's area as a fraction of the image area.
        crop_ratio: range of the crop's aspect ratio (width / height), sampled log-uniformly.
        flip_p: probability of a horizontal flip.
        jitter: ColorJitter strengths (brightness, contrast, saturation, hue); factors are drawn
            from [1 - s, 1 + s] (hue: [-h, h]).
        jitter_p: probability that colour jitter is applied at all.
        gray_p: probability of conversion to grayscale.
        blur_p: probability of a Gaussian blur.
        blur_sigma: range of the blur's standard deviation, in output pixels.
        blur_kernel_frac: blur kernel side as a fraction of the output side (BYOL: 23 px of 224).
        solarize_p: probability of solarization (values >= ``solarize_threshold`` become 1 - v).
        solarize_threshold: in [0, 1]; 128/255 matches ``RandomSolarize(128)`` on uint8.
        mean, std: per-channel normalization applied last (ImageNet statistics by default).
    """

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.2, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_p: float = 1.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel_frac: float = 0.1
    solarize_p: float = 0.0
    solarize_threshold: float = 128 / 255
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def kernel_size(self, out_size: int) -> int:
        """Odd blur kernel side for an output of ``out_size`` pixels (23 for 224, 7 for 64)."""
        return max(3, int(self.blur_kernel_frac * out_size) // 2 * 2 + 1)


_BYOL_1 = AugmentSpec(blur_p=1.0, solarize_p=0.0)
_BYOL_2 = AugmentSpec(blur_p=0.1, solarize_p=0.2)
_MOCO = AugmentSpec(crop_scale=(0.2, 1.0), jitter=(0.4, 0.4, 0.4, 0.1), blur_p=0.5, solarize_p=0.0)

#: Named two-view recipes: (view 1 spec, view 2 spec). BYOL is asymmetric, MoCo-v2 "aug+" is not.
VIEW_RECIPES: dict[str, tuple[AugmentSpec, AugmentSpec]] = {
    "byol": (_BYOL_1, _BYOL_2),
    "moco": (_MOCO, _MOCO),
}


def view_recipe(name: str, crop_min: float | None = None) -> tuple[AugmentSpec, AugmentSpec]:
    """A named recipe, optionally with the crop scale's lower bound replaced (LEWEL: 0.2).

    Raises:
        KeyError: with the known names, if ``name`` is not one.
    """
    if name not in VIEW_RECIPES:
        raise KeyError(f"unknown augmentation recipe {name!r}; choose one of "
                       f"{sorted(VIEW_RECIPES)}")
    v1, v2 = VIEW_RECIPES[name]
    if crop_min is not None:
        v1 = replace(v1, crop_scale=(crop_min, v1.crop_scale[1]))
        v2 = replace(v2, crop_scale=(crop_min, v2.crop_scale[1]))
    return v1, v2


# ----------------------------------------------------------------------------- parameters
def sample_crop_boxes(n: int, height: int, width: int, scale: tuple[float, float],
                      ratio: tuple[float, float], generator: torch.Generator | None = None,
                      attempts: int = 10) -> Tensor:
    """Crop boxes drawn like ``torchvision.transforms.RandomResizedCrop.get_params``, batched.

    Up to ``attempts`` (area, log-ratio) draws per sample; the first that fits is kept, else the
    central crop with the ratio clamped to ``ratio`` (torchvision's fallback).

    Returns:
        (n, 4) float boxes (x0, y0, x1, y1) in input-pixel coordinates, integer-valued.
    """
    area = height * width
    target = torch.empty(n, attempts).uniform_(scale[0], scale[1], generator=generator) * area
    log_r = torch.empty(n, attempts).uniform_(math.log(ratio[0]), math.log(ratio[1]),
                                              generator=generator)
    aspect = torch.exp(log_r)  # (n, attempts)
    w = torch.round(torch.sqrt(target * aspect))  # (n, attempts)
    h = torch.round(torch.sqrt(target / aspect))
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = ok.int().argmax(1, keepdim=True)  # (n, 1): first fitting attempt
    w = w.gather(1, first)[:, 0]  # (n,)
    h = h.gather(1, first)[:, 0]
    u = torch.rand(n, 2, generator=generator)
    y0 = torch.floor(u[:, 0] * (height - h + 1))  # like torch.randint(0, H - h + 1)
    x0 = torch.floor(u[:, 1] * (width - w + 1))
    # Fallback: central crop, ratio clamped.
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        fw, fh = int(round(height * max(ratio))), height
    else:
        fw, fh = width, height
    bad = ~ok.any(1)
    w = torch.where(bad, torch.full_like(w, fw), w)
    h = torch.where(bad, torch.full_like(h, fh), h)
    x0 = torch.where(bad, torch.full_like(x0, (width - fw) // 2), x0)
    y0 = torch.where(bad, torch.full_like(y0, (height - fh) // 2), y0)
    return torch.stack([x0, y0, x0 + w, y0 + h], 1)  # (n, 4)


def sample_params(spec: AugmentSpec, n: int, height: int, width: int,
                  generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Draws every random parameter of one view for ``n`` samples, on the CPU.

    Returns:
        dict of CPU tensors: ``boxes`` (n, 4) float (x0, y0, x1, y1) input pixels; ``flip`` (n,)
        bool; ``jitter`` (n,) bool (applied); ``jitter_factors`` (n, 4) (brightness, contrast,
        saturation, hue shift); ``jitter_order`` (n, 4) long, a permutation of 0..3 per sample;
        ``gray`` (n,) bool; ``blur`` (n,) bool; ``blur_sigma`` (n,); ``solarize`` (n,) bool;
        ``input_size`` (2,) long (H, W).
    """
    g = generator
    boxes = sample_crop_boxes(n, height, width, spec.crop_scale, spec.crop_ratio, g)
    flip = torch.rand(n, generator=g) < spec.flip_p
    jitter = torch.rand(n, generator=g) < spec.jitter_p
    b, c, s, h = spec.jitter
    lo = torch.tensor([max(0.0, 1 - b), max(0.0, 1 - c), max(0.0, 1 - s), -h])
    hi = torch.tensor([1 + b, 1 + c, 1 + s, h])
    factors = lo + (hi - lo) * torch.rand(n, 4, generator=g)  # (n, 4)
    order = torch.argsort(torch.rand(n, 4, generator=g), dim=1)  # (n, 4) random permutations
    gray = torch.rand(n, generator=g) < spec.gray_p
    blur = torch.rand(n, generator=g) < spec.blur_p
    sigma = torch.empty(n).uniform_(spec.blur_sigma[0], spec.blur_sigma[1], generator=g)
    solarize = torch.rand(n, generator=g) < spec.solarize_p
    return {"boxes": boxes, "flip": flip, "jitter": jitter, "jitter_factors": factors,
            "jitter_order": order, "gray": gray, "blur": blur, "blur_sigma": sigma,
            "solarize": solarize, "input_size": torch.tensor([height, width])}


# ----------------------------------------------------------------------------- geometry
def crop_grid(boxes: Tensor, flip: Tensor, height: int, width: int, out_size: int) -> Tensor:
    """Sampling grid for ``grid_sample`` (align_corners=False) that crops, resizes and flips.

    Output pixel u (centre u + 0.5) reads input x = x0 + (u + 0.5) (x1 - x0) / out_size.

    Args:
        boxes: (B, 4) (x0, y0, x1, y1) in input pixels of an image of ``height`` x ``width``.
        flip: (B,) bool, horizontal flip after the crop.

    Returns:
        (B, out_size, out_size, 2) grid of normalized (x, y) coordinates.
    """
    boxes = boxes.float()
    t = (torch.arange(out_size, device=boxes.device, dtype=torch.float32) + 0.5) / out_size
    tx = torch.where(flip.to(boxes.device)[:, None], 1 - t[None], t[None])  # (B, out)
    xs = boxes[:, 0:1] + tx * (boxes[:, 2:3] - boxes[:, 0:1])  # (B, out) input pixels
    ys = boxes[:, 1:2] + t[None] * (boxes[:, 3:4] - boxes[:, 1:2])  # (B, out)
    gx = (2 * xs / width - 1)[:, None, :].expand(-1, out_size, -1)  # (B, out, out)
    gy = (2 * ys / height - 1)[:, :, None].expand(-1, -1, out_size)  # (B, out, out)
    return torch.stack([gx, gy], -1)  # (B, out, out, 2)


def warp_masks(masks: Tensor, params: dict[str, Tensor], out_size: int) -> Tensor:
    """Applies a view's crop and flip (its geometric part only) to masks.

    Args:
        masks: (B, H, W) or (B, 1, H, W), any dtype; may have another resolution than the
            images the params were drawn for (the boxes are rescaled).
        params: the view's params from :class:`BatchAugment` (``boxes``, ``flip``,
            ``input_size``).

    Returns:
        (B, out_size, out_size) float, bilinearly interpolated (threshold at 0.5 for a binary mask).
    """
    if masks.ndim == 3:
        masks = masks[:, None]
    m = masks.float()  # (B, 1, H, W)
    height, width = m.shape[-2:]
    ih, iw = (int(v) for v in params["input_size"])
    scale = torch.tensor([width / iw, height / ih, width / iw, height / ih], device=m.device)
    grid = crop_grid(params["boxes"].to(m.device) * scale, params["flip"], height, width, out_size)
    return F.grid_sample(m, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)[:, 0]  # (B, out, out)


# ----------------------------------------------------------------------------- colour
def _gray(x: Tensor) -> Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma."""
    return (_GRAY[0] * x[:, 0] + _GRAY[1] * x[:, 1] + _GRAY[2] * x[:, 2])[:, None]


def _blend(x: Tensor, y: Tensor, f: Tensor) -> Tensor:
    """f x + (1 - f) y, clamped to [0, 1]; f: (B,)."""
    f = f[:, None, None, None]
    return (f * x + (1 - f) * y).clamp(0, 1)


def _rgb_to_hsv(x: Tensor) -> Tensor:
    r, g, b = x.unbind(1)  # each (B, H, W)
    maxc, minc = x.max(1).values, x.min(1).values
    span = maxc - minc
    s = span / torch.where(maxc == 0, torch.ones_like(maxc), maxc)
    span_ = torch.where(span == 0, torch.ones_like(span), span)
    rc, gc, bc = (maxc - r) / span_, (maxc - g) / span_, (maxc - b) / span_
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.remainder(h / 6.0, 1.0)
    return torch.stack([h, s, maxc], 1)  # (B, 3, H, W)


def _hsv_to_rgb(x: Tensor) -> Tensor:
    """HSV -> RGB by the closed form c = v - v s clamp(min(k, 4 - k), 0, 1), k = (n + 6 h) mod
    6 with n = 5, 3, 1 for R, G, B: the same values as torchvision's six-sector table (up to
    float rounding), in a few elementwise ops on all three channels at once."""
    h, s, v = x[:, 0:1], x[:, 1:2], x[:, 2:3]  # each (B, 1, H, W)
    n = torch.arange(5.0, 0.0, -2.0, device=x.device, dtype=x.dtype)[None, :, None, None]
    k = torch.remainder(n + 6.0 * h, 6.0)  # (B, 3, H, W)
    return v - v * s * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)  # (B, 3, H, W)


def adjust_brightness(x: Tensor, f: Tensor) -> Tensor:
    return _blend(x, torch.zeros_like(x), f)


def adjust_contrast(x: Tensor, f: Tensor) -> Tensor:
    mean = _gray(x).mean((1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return _blend(x, mean, f)


def adjust_saturation(x: Tensor, f: Tensor) -> Tensor:
    return _blend(x, _gray(x), f)


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    hsv = _rgb_to_hsv(x)
    h = torch.remainder(hsv[:, 0] + shift[:, None, None], 1.0)
    return _hsv_to_rgb(torch.stack([h, hsv[:, 1], hsv[:, 2]], 1))


_JITTER_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def gaussian_blur(x: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Separable Gaussian blur with one sigma per sample, reflect padding (as torchvision).

    Args:
        x: (B, C, H, W) float.
        sigma: (B,) standard deviations in pixels.
    """
    bsz, ch, hgt, wid = x.shape
    r = kernel_size // 2
    t = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)  # (k,)
    k = torch.exp(-0.5 * (t[None] / sigma.to(x)[:, None]) ** 2)  # (B, k)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(ch, 0)  # (B*C, k)
    y = F.pad(x.reshape(1, bsz * ch, hgt, wid), (r, r, r, r), mode="reflect")
    y = F.conv2d(y, k[:, None, None, :], groups=bsz * ch)  # horizontal
    y = F.conv2d(y, k[:, None, :, None], groups=bsz * ch)  # vertical
    return y.reshape(bsz, ch, hgt, wid)


def _where(sel: Tensor, fn, x: Tensor, *args: Tensor) -> Tensor:
    """``fn(x, *args)`` for the samples ``sel`` (B,) bool selects, ``x`` for the others.

    ``fn`` runs on the whole batch and ``torch.where`` picks rows: no index list (``nonzero``),
    no shape that depends on the draw (CUDA graphs and ``torch.compile`` need fixed shapes).
    """
    return torch.where(sel[:, None, None, None], fn(x, *args), x)


def _blend_step(x: Tensor, op: Tensor, run: Tensor, factors: Tensor) -> Tensor:
    """One jitter position's blend f x + (1 - f) y, clamped, where ``run``: brightness (op 0,
    y = 0), contrast (1, the mean grey), saturation (2, the grey image); elsewhere f = 1 (x)."""
    f = factors.gather(1, op.clamp(max=2)[:, None])[:, 0]  # (B,)
    f = torch.where(run & (op < 3), f, torch.ones_like(f))  # (B,)
    gray = _gray(x)  # (B, 1, H, W)
    sat = (op == 2).to(x.dtype)[:, None, None, None]  # (B, 1, 1, 1)
    con = (op == 1).to(x.dtype)[:, None, None, None]
    target = sat * gray + con * gray.mean((1, 2, 3), keepdim=True)  # (B, 1, H, W)
    return _blend(x, target, f)


def color_jitter(x: Tensor, active: Tensor, factors: Tensor, order: Tensor) -> Tensor:
    """ColorJitter, its four operations in a random order per sample, with fixed shapes.

    Each ``active`` sample runs brightness (0), contrast (1), saturation (2) and hue (3) in its
    ``order`` with its ``factors``. Hue (the costly one) runs once on the whole batch, between
    the blends each order puts before it (positions 0-2) and those after it (1-3).

    Shape:
        x (B, 3, H, W) in [0, 1]; active (B,) bool; factors (B, 4); order (B, 4) long
    """
    hue_at = (order == 3).int().argmax(1)  # (B,) the position of hue in each order
    for pos in range(3):
        x = _blend_step(x, order[:, pos], active & (pos < hue_at), factors)
    x = _where(active, adjust_hue, x, factors[:, 3])
    for pos in range(1, 4):
        x = _blend_step(x, order[:, pos], active & (pos > hue_at), factors)
    return x


# ----------------------------------------------------------------------------- pipelines
class BatchAugment:
    """One view's augmentation, applied to a whole batch with per-sample parameters.

    Example:
        >>> aug = BatchAugment(VIEW_RECIPES["byol"][0], out_size=64)
        >>> x, params = aug(images_uint8)          # (B, 3, 64, 64) float, dict
        >>> m = warp_masks(masks, params, 64)      # (B, 64, 64), aligned with x
    """

    def __init__(self, spec: AugmentSpec, out_size: int) -> None:
        self.spec = spec
        self.out_size = out_size

    def __call__(self, images: Tensor, generator: torch.Generator | None = None,
                 params: dict[str, Tensor] | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """Augments a batch.

        Args:
            images: uint8 (B, 3, H, W) (or float in [0, 1]) on any device.
            generator: CPU generator for the random parameters (global RNG if None).
            params: reuse these parameters instead of drawing new ones.

        Returns:
            (views, params): views float32 (B, 3, out, out) normalized, on the images' device;
            params as in :func:`sample_params`, on the CPU.
        """
        spec, dev = self.spec, images.device
        bsz, _, hgt, wid = images.shape
        if params is None:
            params = sample_params(spec, bsz, hgt, wid, generator)
        p = {k: v.to(dev, non_blocking=True) for k, v in params.items()}
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        grid = crop_grid(p["boxes"], p["flip"], hgt, wid, self.out_size)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                          align_corners=False).clamp(0, 1)  # (B, 3, out, out)
        # each op runs where its probability is not 0 (the spec, not the draw, decides)
        if spec.jitter_p > 0:
            x = color_jitter(x, p["jitter"], p["jitter_factors"], p["jitter_order"])
        if spec.gray_p > 0:
            x = _where(p["gray"], lambda y: _gray(y).expand(-1, 3, -1, -1), x)
        if spec.blur_p > 0:
            x = _where(p["blur"], gaussian_blur, x, p["blur_sigma"],
                       spec.kernel_size(self.out_size))
        if spec.solarize_p > 0:
            x = _where(p["solarize"], lambda y: torch.where(
                y >= spec.solarize_threshold, 1.0 - y, y), x)
        mean = torch.tensor(spec.mean).to(dev, non_blocking=True)[None, :, None, None]
        std = torch.tensor(spec.std).to(dev, non_blocking=True)[None, :, None, None]
        return (x - mean) / std, params  # (B, 3, out, out)


class TwoViewAugment:
    """The two views of a Siamese method: ``x1, x2, p1, p2 = aug(images)``.

    Args:
        preset: a name in :data:`VIEW_RECIPES` or a (view 1, view 2) pair of specs.
        out_size: side of the square output views.
        crop_min: optional override of the crop scale's lower bound for both views.
    """

    def __init__(self, preset: str | tuple[AugmentSpec, AugmentSpec], out_size: int,
                 crop_min: float | None = None) -> None:
        if isinstance(preset, str):
            specs = view_recipe(preset, crop_min)
        else:
            specs = tuple(preset)
            if crop_min is not None:
                specs = tuple(replace(s, crop_scale=(crop_min, s.crop_scale[1])) for s in specs)
        self.specs = specs
        self.view1 = BatchAugment(specs[0], out_size)
        self.view2 = BatchAugment(specs[1], out_size)
        self.out_size = out_size

    def __call__(self, images: Tensor, generator: torch.Generator | None = None
                 ) -> tuple[Tensor, Tensor, dict[str, Tensor], dict[str, Tensor]]:
        x1, p1 = self.view1(images, generator)  # (B, 3, out, out)
        x2, p2 = self.view2(images, generator)  # (B, 3, out, out)
        return x1, x2, p1, p2

    def eval_input(self, images: Tensor) -> Tensor:
        """The test-time input for these views: uint8 (B, 3, H, W) -> (B, 3, out, out) float,
        resized to ``out_size`` and normalised like view 1 (``eval_transform``)."""
        return eval_transform(images, self.out_size, self.specs[0].mean, self.specs[0].std)


def eval_transform(images: Tensor, out_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> Tensor:
    """Test-time transform of a uint8 batch: bilinear resize to ``out_size`` and normalize.

    Returns:
        (B, 3, out_size, out_size) float32 on the images' device.
    """
    x = images.float() / 255.0  # (B, 3, H, W)
    if x.shape[-1] != out_size or x.shape[-2] != out_size:
        x = F.interpolate(x, size=(out_size, out_size), mode="bilinear", align_corners=False,
                          antialias=True)
    m = torch.tensor(mean, device=x.device)[None, :, None, None]
    s = torch.tensor(std, device=x.device)[None, :, None, None]
    return (x - m) / s


def torchvision_pipeline(spec: AugmentSpec, out_size: int):
    """The per-sample torchvision pipeline with the same settings (for the benchmark and tests).

    Expects a uint8 (3, H, W) tensor and returns a normalized float32 (3, out, out) tensor.
    """
    from torchvision import transforms as T

    ops = [T.RandomResizedCrop(out_size, scale=spec.crop_scale, ratio=spec.crop_ratio,
                               antialias=True),
           T.RandomHorizontalFlip(spec.flip_p),
           T.RandomApply([T.ColorJitter(*spec.jitter)], p=spec.jitter_p),
           T.RandomGrayscale(spec.gray_p)]
    if spec.blur_p > 0:
        ops.append(T.RandomApply([T.GaussianBlur(spec.kernel_size(out_size), spec.blur_sigma)],
                                 p=spec.blur_p))
    if spec.solarize_p > 0:
        ops.append(T.RandomSolarize(round(spec.solarize_threshold * 255), p=spec.solarize_p))
    ops += [T.ConvertImageDtype(torch.float32), T.Normalize(spec.mean, spec.std)]
    return T.Compose(ops)
