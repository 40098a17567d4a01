"""Maps against masks, for ``scd-lab eval saliency`` and notebooks: every map of a method, the
centre prior and Grad-CAM of the GAP linear probe (``saliency_maps``), scored by the one scorer
(``runs.scoring.score_maps``) in ``evaluate_saliency``; and folders of images with PNG masks
(``read_image_mask_folder``).

    sal = evaluate_saliency(run)                # the run's held-out images with masks
    sal = evaluate_saliency(method, images, masks, train=train)   # a method in memory

With the run's own images the figures go to ``RUN/eval/saliency.json``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from ..eval.attribution import gradcam_maps, objective_gradcam
from ..eval.features import eval_mode
from ..eval.saliency_metrics import centre_prior
from ..methods import default_map_name
from .load import EvalError, as_run
from .protocols import gap_probe, progress_bar, result_head
from .scoring import score_maps

def saliency_maps(run_or_method, images: Tensor, gradcam: bool | nn.Linear = True,
                  progress: bool = False, batch: int = 128, objective: bool = False,
                  seed: int = 0, **kw) -> dict[str, Tensor]:
    """Every map of the method (``scd_fg`` / ``lewel_maxvar`` / ``channel_sum``), the centre
    prior and Grad-CAM of the GAP linear probe's predicted class, all at feature resolution:
    ``{name: (N, h, w)}`` on the CPU.

    ``gradcam``: True (the stored or a newly fitted GAP probe, see ``gap_probe``), an
    ``nn.Linear`` on raw GAP features, or False (no Grad-CAM).
    ``objective``: add Grad-CAM of the self-supervised objective for the view pair (the
    image as evaluated, one view of the run's augmentation drawn with ``seed``):
    ``objective_consistency`` (minus L_c) and, for SCD, ``objective_discrimination`` (minus
    L_d) (``scd_lab.eval.attribution.objective_gradcam``; needs a ``Run`` with its
    augmentation).
    """
    s = as_run(run_or_method, **kw)
    gen = torch.Generator().manual_seed(seed)
    parts: dict[str, list[Tensor]] = {}
    head = None
    if gradcam is True:
        head = gap_probe(s, progress=progress)
    elif isinstance(gradcam, nn.Module):
        head = gradcam
    if head is not None:
        head = head.to(s.device)
    for chunk in progress_bar(images.split(batch), progress, desc="saliency maps", unit="batch"):
        x = s.transform(chunk)
        with eval_mode(s.method), torch.no_grad():
            maps = s.method.saliency_maps(x)
        for k, v in maps.items():
            parts.setdefault(k, []).append(v.float().cpu())
        if head is not None:
            parts.setdefault("gradcam", []).append(
                gradcam_maps(s.method.encoder, head, x).float().cpu())
        if objective:
            x2 = s.augment(chunk, gen)[1].to(s.device)  # (B, 3, S, S): the other view
            terms = ("consistency",) + (("discrimination",)
                                        if hasattr(s.method, "discrimination") else ())
            for term in terms:
                parts.setdefault(f"objective_{term}", []).append(
                    objective_gradcam(s.method, x, x2, term).float().cpu())
    out = {k: torch.cat(v) for k, v in parts.items()}
    n, h, w = next(iter(out.values())).shape
    out["centre_prior"] = centre_prior(n, h, w)
    return out


def evaluate_saliency(run_or_method, images: Tensor | None = None, masks: Tensor | None = None,
                      gradcam: bool | nn.Linear = True, progress: bool = False,
                      save: bool | None = None, **kw) -> dict:
    """Every map, the centre prior and Grad-CAM against ground-truth masks.

    Args:
        run_or_method: a ``Run``, a run directory, or a method (then ``train=`` for Grad-CAM's
            probe, ``transform=`` optional).
        images, masks: uint8 (N, 3, H, W) and (N, H, W) in {0, 1}; default: the run's held-out
            images with masks (the saliency monitor's 500).
        gradcam: see :func:`saliency_maps`.
        save: write ``RUN/eval/saliency.json`` (default: when the run's own images are used).

    Returns:
        {"metrics": {map: {auroc, auroc_per_image, polarity, iou@0.5, best_iou, pointing_game,
        auroc_per_image_unsigned, pxap, maxboxacc_v2, dino_jaccard, corloc}}, "per_image_auroc": {map: (N,)}, "maps": {map: (N, h, w)},
        "num_images", ...}; ``json_ready(result)`` drops the tensors.

    Raises:
        EvalError: no masks given and the run's data has none; images and masks disagree.
    """
    s = as_run(run_or_method, **kw)
    own = images is None
    if own:
        held = s.monitor_sets()["held"]
        if held is None:
            raise EvalError("this run's held-out images have no masks; pass images and masks "
                            "(`scd-lab eval saliency RUN --images DIR --masks DIR`)")
        images, masks = held.images, held.masks
    if masks is None or len(images) != len(masks) or tuple(images.shape[-2:]) != \
            tuple(masks.shape[-2:]):
        raise EvalError("need one mask (N, H, W) per image (N, 3, H, W), of the same size")
    if len(images) == 0:
        raise EvalError("no images to evaluate")
    maps = saliency_maps(s, images, gradcam=gradcam, progress=progress)
    metrics, per_image = score_maps(maps, masks)  # every figure of scoring.FIGURES
    default = None
    if s.cfg is not None:
        default = default_map_name(s.cfg.method.name)
    out = {**result_head(s), "num_images": len(images), "default_map": default, "metrics": metrics,
           "per_image_auroc": per_image, "maps": maps}
    if (own if save is None else save) and s.rundir is not None:
        s.rundir.write_eval("saliency", json_ready(out))
    return out


def json_ready(result: dict) -> dict:
    """``result`` without its tensors (maps, per-image values, probe weights)."""
    return {k: v for k, v in result.items() if k not in ("maps", "per_image_auroc", "probe")}


# ------------------------------------------------------------------------------------------
# image + mask folders


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def _warn_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _open(path, mode: str):
    """(the image converted to ``mode``, None), or (None, the error's type) for a bad file."""
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert(mode), None
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for a bad file
        return None, type(e).__name__


def read_image_mask_folder(images_dir, masks_dir, size: int, warn=_warn_stderr,
                           progress: bool = False, strict: bool = False) -> dict:
    """Images of a folder with binary PNG masks of the same stem, resized to ``size``.

    Images are resized bilinearly (RGB), masks nearest-neighbour; a mask pixel is object when
    above 127 (0/255 masks) or above 0 (0/1 masks). A corrupt image or mask, a missing mask,
    and a mask whose size differs from its image's are skipped, each with one ``warn`` line
    naming the file; with ``strict`` the first of them raises ``EvalError`` instead.

    Returns:
        {"images": uint8 (N, 3, size, size), "masks": uint8 (N, size, size), "names": [stem],
        "skipped": [(file, reason)]}.

    Raises:
        EvalError: a folder is missing, or no image pair is usable.
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    for d, what in ((images_dir, "--images"), (masks_dir, "--masks")):
        if not d.is_dir():
            raise EvalError(f"{what} {str(d)!r} is not a folder")
    files = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    imgs, msks, names, skipped = [], [], [], []

    def skip(path, reason):
        if strict:
            raise EvalError(f"{path}: {reason}; fix or remove the file (every image needs a "
                            f"readable PNG mask of its own size, named like it)")
        skipped.append((str(path), reason))
        warn(f"warning: skipped {path}: {reason}")

    for path in progress_bar(files, progress, desc="reading images", unit="image"):
        mpath = masks_dir / f"{path.stem}.png"
        if not mpath.is_file():
            skip(path, f"no mask {mpath.name} in {masks_dir}")
            continue
        img, err = _open(path, "RGB")
        if img is None:
            skip(path, f"unreadable image ({err})")
            continue
        mask, err = _open(mpath, "L")
        if mask is None:
            skip(mpath, f"unreadable mask ({err})")
            continue
        if mask.size != img.size:
            skip(mpath, f"mask is {mask.size[0]}x{mask.size[1]}, its image "
                        f"{img.size[0]}x{img.size[1]}")
            continue
        img = np.asarray(img.resize((size, size), Image.BILINEAR))  # (S, S, 3)
        m = np.asarray(mask.resize((size, size), Image.NEAREST))  # (S, S)
        m = m > (127 if m.max() > 1 else 0)
        imgs.append(torch.from_numpy(img.copy()).permute(2, 0, 1))
        msks.append(torch.from_numpy(m.astype(np.uint8)))
        names.append(path.stem)
    if not imgs:
        raise EvalError(f"no usable image with a mask in {str(images_dir)!r} "
                        f"({len(skipped)} skipped); masks are PNGs named like their image")
    return {"images": torch.stack(imgs), "masks": torch.stack(msks), "names": names,
            "skipped": skipped}


__all__ = ["saliency_maps", "evaluate_saliency", "json_ready", "IMAGE_SUFFIXES",
           "read_image_mask_folder"]
