"""Maps that come from anywhere, scored by the papers' protocols (``scd-lab eval maps``).

    res = evaluate_map_folder("imgs/", "masks/", "maps/")        # every protocol
    res["protocols"]["pxap"], res["num_images"]

One map per image, a grey PNG or a 2-D ``.npy`` named like the image (``maps/cat.npy`` for
``imgs/cat.jpg``); masks are PNGs named like the image (read by ``read_image_mask_folder``).
Masks are resized nearest-neighbour to ``size`` x ``size`` (224, wsolevaluation's
``_RESIZE_LENGTH``); each map is upsampled bilinearly to that size, then
``eval.map_protocols`` normalises and scores it. Any missing, unreadable or mis-shaped file
raises ``EvalError`` naming the file and the fix.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..eval.map_protocols import PROTOCOLS, map_protocols
from ..eval.saliency_metrics import upsample_maps
from ..methods import order_maps
from .load import EvalError, Run
from .saliency import read_image_mask_folder

MASK_SIZE = 224  # wsolevaluation evaluation.py:41 (_RESIZE_LENGTH): masks at 224 x 224
PROTOCOL_NAMES = PROTOCOLS + ("boxacc@30", "boxacc@50", "boxacc@70")


def parse_protocols(text: str | None) -> tuple[str, ...]:
    """``"pxap,corloc"`` -> ("pxap", "corloc"); None -> every protocol of ``PROTOCOLS``."""
    if text is None:
        return PROTOCOLS
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in names if p not in PROTOCOL_NAMES]
    if bad or not names:
        raise EvalError(f"--protocol {text!r}: unknown {', '.join(bad) or 'empty list'}; "
                        f"choose from {', '.join(PROTOCOL_NAMES)} (comma-separated)")
    return names


def _fail(path: Path, problem: str) -> EvalError:
    return EvalError(f"{path}: {problem}; write one 2-D map per image as a grey PNG or a "
                     f".npy of shape (H, W), named like its image")


def read_map(maps_dir: Path, name: str) -> torch.Tensor:
    """The map of image ``name``: ``maps_dir/name.npy`` (2-D, finite) or ``name.png`` (grey,
    values / 255), as float (h, w)."""
    npy, png = maps_dir / f"{name}.npy", maps_dir / f"{name}.png"
    if npy.is_file():
        try:
            arr = np.load(npy, allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - numpy raises many kinds for a bad file
            raise _fail(npy, f"unreadable map ({type(e).__name__})") from None
        arr = arr[0] if arr.ndim == 3 and arr.shape[0] == 1 else arr
        if arr.ndim != 2 or 0 in arr.shape or not np.issubdtype(arr.dtype, np.number):
            raise _fail(npy, f"map of shape {arr.shape} and type {arr.dtype}")
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise _fail(npy, "map holds NaN or infinite values")
        return torch.from_numpy(arr)
    if png.is_file():
        try:
            with Image.open(png) as im:
                im.load()
                arr = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
        except Exception as e:  # noqa: BLE001 - PIL raises many kinds for a bad file
            raise _fail(png, f"unreadable map ({type(e).__name__})") from None
        return torch.from_numpy(arr)
    raise EvalError(f"no map for image {name!r}: expected {npy} or {png}; write one map per "
                    f"image named like it")


def evaluate_map_folder(images_dir, masks_dir, maps_dir, protocols=PROTOCOLS,
                        size: int = MASK_SIZE) -> dict:
    """The ``protocols`` of a folder of maps against the masks of a folder of images.

    Returns:
        {"protocols": {name: value}, "num_images": N, "size": size, "names": [stem]}.

    Raises:
        EvalError: a folder is missing; an image, mask or map is missing, unreadable or of the
            wrong shape (the message names the file).
    """
    maps_dir = Path(maps_dir)
    if not maps_dir.is_dir():
        raise EvalError(f"--maps {str(maps_dir)!r} is not a folder")
    folder = read_image_mask_folder(images_dir, masks_dir, size, strict=True)
    maps = torch.stack([upsample_maps(read_map(maps_dir, n)[None], size)[0]
                        for n in folder["names"]])  # (N, size, size)
    values = map_protocols(maps, folder["masks"], protocols)
    return {"protocols": values, "num_images": len(folder["names"]), "size": size,
            "names": folder["names"]}


def evaluate_snapshot_maps(run_dir, protocols=PROTOCOLS, size: int | None = None) -> dict:
    """The ``protocols`` of every map of a run's last snapshot against its probe masks: no
    checkpoint needed, so the shipped reference runs are scored too.

    Returns:
        {"maps": {map name: {protocol: value}}, "step": int, "num_images": N, "size": side}.

    Raises:
        EvalError: the run has no probe masks or no readable snapshot.
    """
    run = Run.open(run_dir)
    masks = run.masks
    if masks is None or not run.snapshots:
        raise EvalError(f"{str(run_dir)!r} has no probe masks or no snapshot; score a run "
                        "trained on data with masks (the synthetic datasets)")
    snap, side = run.snapshots[-1], size or masks.shape[-1]
    masks = masks[:, None].float()
    masks = torch.nn.functional.interpolate(masks, size=(side, side), mode="nearest")[:, 0] > 0.5
    scores = {name: map_protocols(upsample_maps(m.float(), side), masks, protocols)
              for name, m in snap["maps"].items()}
    return {"maps": {n: scores[n] for n in order_maps(scores)}, "step": snap["step"],
            "num_images": len(masks), "size": side}


__all__ = ["MASK_SIZE", "PROTOCOL_NAMES", "parse_protocols", "read_map", "evaluate_map_folder",
           "evaluate_snapshot_maps"]
