"""``scd-lab eval RUN_DIR``: kNN accuracy and saliency metrics of a run's last checkpoint."""
from __future__ import annotations

import contextlib

from ..run import build_monitors, load_run


def evaluate_run(run_dir: str) -> dict:
    """Load the run (``load_run``) and measure kNN and saliency on its held-out images, with
    the same monitors and images as during training. Nothing is written to the run."""
    run = load_run(run_dir)
    out = {"run_dir": str(run_dir), "step": run.step, "epoch": run.epoch}
    for monitor in build_monitors(run.cfg, run.train, run.test):
        out.update(monitor.compute(run.method, run.eval_input, contextlib.nullcontext))
    return out

