"""``scd-lab eval RUN_DIR``: kNN accuracy and saliency metrics of a run's last checkpoint."""
from __future__ import annotations

from ..train.callbacks import KNNMonitor, SaliencyMonitor


def evaluate_run(run_dir: str) -> dict:
    """Load ``RUN_DIR/checkpoints/last.pt`` and measure kNN and saliency on held-out images.

    The results are returned, not appended to the run's metrics.
    """
    from ..train.trainer import Trainer

    trainer = Trainer(None, run_dir, resume=True)  # loads config and checkpoint
    ckpt = trainer.ckpt

    class _NoLog:  # measure without touching the run's files
        def log(self, rec):
            pass

        def save_snapshot(self, *a, **k):
            pass

    trainer.rundir = _NoLog()
    step = int(ckpt["step"])
    out = {"run_dir": run_dir, "step": step}
    out.update(KNNMonitor().measure(trainer, step, int(ckpt["epoch"])))
    out.update(SaliencyMonitor().measure(trainer, step, int(ckpt["epoch"])))
    out.pop("kind", None)
    return out
