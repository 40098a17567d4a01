"""Tiny runs to look at: a narrow net on 128 images of 32 px for 3 epochs, trained into the
runs root unless already there (notebook 05's ``SMOKE = True``; the challenge's smoke mode
uses the same overrides). ``docs/explorer.md`` says how long they take."""
from __future__ import annotations

from pathlib import Path

from ..config import apply_overrides, get_preset
from ..paths import runs_root
from ..runs.build import ensure_run

SMOKE_OVERRIDES = [
    "backbone.widths=[8, 16, 16, 32]", "method.proj_hidden=64", "method.pred_hidden=64",
    "method.proj_dim=32", "method.queue_size=64", "data.image_size=32", "data.crop_size=32",
    "data.num_train=128", "data.num_test=64", "train.batch_size=32", "train.epochs=3",
    "train.probe_size=8", "train.knn_bank_size=null", "train.progress=false",
    "train.num_workers=0",
]


def smoke_runs(methods=("scd-byol", "lewel-byol"), root=None, prefix: str = "nb05-smoke-",
               extra=()) -> dict[str, Path]:
    """Tiny runs (a narrow net on 128 images of 32 px, 3 epochs) trained into ``root``
    (default ``runs_root()``) unless already there; method -> path."""
    root = Path(root) if root is not None else runs_root()
    out = {}
    for method in methods:
        cfg = apply_overrides(get_preset("cpu"),
                              SMOKE_OVERRIDES + [f"method.name={method}", *extra])
        path = root / f"{prefix}{method}"
        ensure_run(cfg, path)
        out[method] = path
    return out
