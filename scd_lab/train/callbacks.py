"""Trainer callbacks: the kNN monitor and the saliency monitor (snapshots, metrics, collapse,
shortcut and polarity). Both run at step 0 and at the end of every ``every`` epochs.

Each monitor owns its data (the images it measures on) and calls pure functions of
``scd_lab.eval``; ``compute`` measures without writing anything (``scd-lab eval`` uses it).
A callback subclasses ``Callback`` and overrides any of the hooks; ``trainer`` gives access
to the method, the device, ``log`` and the run directory.
"""
from __future__ import annotations

from ..eval.features import embed, eval_mode, method_maps
from ..eval.knn import knn_top1
from ..eval.saliency_metrics import map_reports


class Callback:
    """Hooks called by ``Trainer.fit`` (``on_step_end`` on every process, the others too:
    a callback that writes files checks ``trainer.is_main``)."""

    def on_fit_start(self, trainer) -> None: ...

    def on_step_end(self, trainer, step: int, out, record: dict | None) -> None: ...

    def on_epoch_end(self, trainer, epoch: int, step: int) -> None: ...

    def on_fit_end(self, trainer, summary: dict) -> None: ...


class PeriodicMonitor(Callback):
    """Calls ``measure(trainer, step)`` at step 0 and after every ``every`` epochs (0: never)."""

    def __init__(self, every: int = 1):
        self.every = every

    def measure(self, trainer, step: int) -> dict:  # pragma: no cover
        raise NotImplementedError

    def on_fit_start(self, trainer) -> None:
        if trainer.start_step == 0 and self.every and trainer.is_main:
            self.measure(trainer, 0)

    def on_epoch_end(self, trainer, epoch: int, step: int) -> None:
        if self.every and trainer.is_main and (epoch % self.every == 0
                                               or step == trainer.total_steps):
            self.measure(trainer, step)


class KNNMonitor(PeriodicMonitor):
    """Weighted kNN top-1 (cosine, temperature ``tau``) with k = ``k`` and k = 200.

    Args:
        bank: training images (``ImageArray``) whose features vote.
        queries: held-out images to classify; never the bank's images (another split).
        k, tau: neighbours and temperature. every: epochs between measurements (0 = never).
    """

    def __init__(self, bank, queries, k: int = 20, tau: float = 0.07, every: int = 1):
        super().__init__(every)
        self.bank, self.queries, self.k, self.tau = bank, queries, k, tau

    def compute(self, method, transform, autocast) -> dict:
        with eval_mode(method):
            bank = embed(method.features, self.bank.images, transform, autocast)  # (N, C)
            queries = embed(method.features, self.queries.images, transform, autocast)  # (Q, C)
        acc = knn_top1(queries, self.queries.labels, bank, self.bank.labels, (self.k, 200),
                       self.tau)
        return {"knn_top1": acc[self.k], "knn_top1_k200": acc[200]}

    def measure(self, trainer, step: int) -> dict:
        rec = {"kind": "knn", "step": step, "epoch": trainer.epoch_at(step),
               **self.compute(trainer.method, trainer.eval_input, trainer.autocast)}
        trainer.log(rec)
        return rec


class SaliencyMonitor(PeriodicMonitor):
    """Snapshots the probe images' maps and embeddings and measures every map against held-out masks.

    For each map of ``method.saliency_maps`` (``channel_sum``, ``scd_fg``, ``lewel_maxvar``):
    the figures of ``scd_lab.eval.saliency_metrics.map_reports`` (AUROC pooled and per image,
    IoU, polarity, collapse and positional-shortcut statistics).

    Args:
        probe: the few images (``ImageArray``) whose maps are saved at every measurement.
        held: held-out images with masks to measure on (``None``: snapshots only).
        every: epochs between measurements (0 = never).
    """

    def __init__(self, probe, held=None, every: int = 1):
        super().__init__(every)
        self.probe = probe
        self.held = held if held is not None and held.masks is not None else None

    def on_fit_start(self, trainer) -> None:
        if trainer.rundir is not None and trainer.is_main and trainer.start_step == 0:
            trainer.rundir.save_probe(self.probe.images, self.probe.labels, self.probe.masks,
                                      self.probe.class_names)
        super().on_fit_start(trainer)

    def compute(self, method, transform, autocast) -> dict:
        if self.held is None:
            return {}
        maps = method_maps(method, self.held.images, transform, autocast)
        return map_reports(maps, self.held.masks)

    def measure(self, trainer, step: int) -> dict:
        epoch = trainer.epoch_at(step)
        if trainer.rundir is not None:
            maps = method_maps(trainer.method, self.probe.images, trainer.eval_input,
                               trainer.autocast)
            with eval_mode(trainer.method):  # (P, C): the feature-space views' embedding
                feats = embed(trainer.method.features, self.probe.images, trainer.eval_input,
                              trainer.autocast)
            trainer.rundir.save_snapshot(step, epoch, maps, features=feats)
        rec = {"kind": "saliency", "step": step, "epoch": epoch,
               **self.compute(trainer.method, trainer.eval_input, trainer.autocast)}
        trainer.log(rec)
        return rec
