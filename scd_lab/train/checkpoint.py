"""Checkpoints: atomic writes, and loads that refuse anything that is not one of ours.

A checkpoint is a plain dict saved with ``torch.save`` and loaded with
``torch.load(..., weights_only=True)``, so loading never runs pickled code:

    format: "scd_lab-checkpoint", version: 1
    step, epoch: the steps done (the next step to run) / the epochs completed (a float)
    model, optimizer: state dicts
    config: the resolved config as a nested dict
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UserError
from ..io import atomic_torch_save

FORMAT = "scd_lab-checkpoint"
VERSION = 1


class CheckpointError(UserError, RuntimeError):
    """A checkpoint file is missing, truncated, or not an scd_lab checkpoint."""


def save_checkpoint(path: str | Path, *, model: dict, optimizer: dict, step: int, epoch: float,
                    config: dict, extra: dict | None = None) -> None:
    """Save a training checkpoint atomically (see module docstring for the format)."""
    atomic_torch_save({"format": FORMAT, "version": VERSION, "step": int(step),
                       "epoch": float(epoch), "model": model, "optimizer": optimizer,
                       "config": config, "extra": extra or {}}, path)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load and check a checkpoint; raise ``CheckpointError`` with the reason and the fix."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {str(path)!r}; a run writes "
                              "RUN_DIR/checkpoints/last.pt at the end of each epoch; resume "
                              "or restart the run")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated zip, random bytes, pickled code...
        raise CheckpointError(
            f"{str(path)!r} is not a readable scd_lab checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}). It may be truncated or from another tool; "
            "resume from another checkpoint or start a new run.") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is a torch file but not an scd_lab checkpoint "
                              f"(expected format {FORMAT!r}); nothing was loaded")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(f"{str(path)!r} has checkpoint version {ckpt.get('version')!r}; "
                              f"this scd_lab reads version {VERSION}")
    for key in ("model", "optimizer", "step", "epoch", "config"):
        if key not in ckpt:
            raise CheckpointError(f"{str(path)!r} lacks the field {key!r}; it is incomplete")
    return ckpt
