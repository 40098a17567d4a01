"""Export run directories to TensorBoard: metrics as scalars, map grids as images.

    scd-lab export-tb runs/demo/byol runs/demo/scd-byol --out runs/tb
    tensorboard --logdir runs/tb --samples_per_plugin images=1000

Each run becomes one TensorBoard run (a sub-folder of ``out`` named by its label). Every
numeric field of every ``metrics.jsonl`` record is a scalar ``{kind}/{field}`` at the record's
``step`` (booleans as 0/1); every snapshot gives one image per map, ``maps/{name}``: the probe
images in a row over the same images with the map blended on (min-max per image, magma,
cyan mask outline), at the snapshot's training step, so the step slider of the Images tab
scrubs through training. TensorBoard keeps only 10 images per tag unless started with
``--samples_per_plugin images=N``.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from ..errors import RunError
from .explorer import ExplorerModel, ExplorerState, as_run_dict


def _numeric(v) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and math.isfinite(float(v)):
        return float(v)
    return None


def map_grid(model: ExplorerModel, label: str, map_name: str, snapshot: int,
             opacity: float = 0.7, max_images: int = 16) -> np.ndarray:
    """(2D, n D, 3) uint8: the probe images (top) over their overlays (bottom)."""
    v = model.view(label)
    snap = v.snapshots[snapshot]
    state = ExplorerState(epoch=float(snap["epoch"]), maps={label: map_name})
    base = model._display_base()
    tops, bottoms = [], []
    for i in model.images[:max_images]:
        p = model.panel(state.with_(image=i), label)
        tops.append(base[i].round().astype(np.uint8))
        bottoms.append(model.overlay(p, opacity))
    return np.concatenate([np.concatenate(tops, 1), np.concatenate(bottoms, 1)], 0)


def export_tensorboard(run_dirs, out, display: int = 96, max_images: int = 16,
                       overwrite: bool = True) -> dict[str, Path]:
    """Write TensorBoard event files for ``run_dirs`` (``{label: path}`` or a list) into
    ``out/<label>``. Returns label -> log dir. ``overwrite``: remove an existing
    ``out/<label>`` first (so exporting twice does not double the points)."""
    from torch.utils.tensorboard import SummaryWriter

    runs = as_run_dict(run_dirs)
    out = Path(out)
    written = {}
    for label, path in runs.items():
        if not Path(path).is_dir():
            raise RunError(f"{str(path)!r} is not a run directory")
        model = ExplorerModel({label: path}, display=display)
        v = model.view(label)
        logdir = out / label.replace("/", "_")
        if overwrite and logdir.exists():
            shutil.rmtree(logdir)
        w = SummaryWriter(log_dir=str(logdir))
        try:
            for rec in v.metrics():
                step = int(rec.get("step", 0))
                kind = rec.get("kind", "metrics")
                for k, val in rec.items():
                    if k in ("kind", "step"):
                        continue
                    x = _numeric(val)
                    if x is not None:
                        w.add_scalar(f"{kind}/{k}", x, step)
            for si, snap in enumerate(v.snapshots):
                for name in snap["maps"]:
                    grid = map_grid(model, label, name, si, max_images=max_images)
                    w.add_image(f"maps/{name}", grid, int(snap["step"]), dataformats="HWC")
            w.add_text("run", f"{path} · method {v.method_name or '?'} · "
                              f"{len(v.snapshots)} snapshots", 0)
        finally:
            w.close()
        written[label] = logdir
    return written
