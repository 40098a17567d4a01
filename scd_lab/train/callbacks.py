"""Trainer callbacks: the kNN monitor and the saliency monitor (snapshots, metrics, collapse,
shortcut and polarity). Both run at step 0 and at the end of every ``*_every`` epochs.

A callback subclasses ``Callback`` and overrides any of the hooks; ``trainer`` gives access to
the method (``trainer.method``), the data, the device and the run directory.
"""
from __future__ import annotations

import torch

from ..eval.knn import knn_accuracy
from ..eval.saliency_metrics import saliency_report, upsample_maps


COLLAPSE_STD = 0.01  # a raw map whose per-image spatial std is below this is called collapsed


class Callback:
    """Hooks called by ``Trainer.fit`` on process 0 (``on_step_end`` on every process)."""

    def on_fit_start(self, trainer) -> None: ...

    def on_step_end(self, trainer, step: int, out, record: dict | None) -> None: ...

    def on_epoch_end(self, trainer, epoch: int, step: int) -> None: ...

    def on_fit_end(self, trainer, summary: dict) -> None: ...


class PeriodicMonitor(Callback):
    """Calls ``measure(trainer, step, epoch)`` at step 0 and after every ``every`` epochs."""

    def __init__(self, every: int = 1):
        self.every = every

    def measure(self, trainer, step: int, epoch: int) -> dict:  # pragma: no cover
        raise NotImplementedError

    def on_fit_start(self, trainer) -> None:
        if trainer.start_step == 0 and self.every:
            self.measure(trainer, 0, 0)

    def on_epoch_end(self, trainer, epoch: int, step: int) -> None:
        if self.every and (epoch + 1) % self.every == 0:
            self.measure(trainer, step, epoch + 1)


@torch.no_grad()
def embed(trainer, images: torch.Tensor, fn=None, batch: int = 256) -> torch.Tensor:
    """Features of uint8 images (N, 3, H, W) with the test-time transform: (N, C) on device."""
    fn = fn or trainer.method.features
    out = []
    for chunk in images.split(batch):
        x = trainer.eval_input(chunk)
        with trainer.autocast():
            out.append(fn(x).float())
    return torch.cat(out)


class KNNMonitor(PeriodicMonitor):
    """Weighted kNN top-1 (cosine, tau = train.knn_tau) with k = train.knn_k and k = 200.

    Bank: a fixed subset of the training images (test-time transform); queries: the held-out
    split. The two never share an image (they come from different splits).
    """

    def measure(self, trainer, step: int, epoch: int) -> dict:
        t = trainer.cfg.train
        was_training = trainer.method.training
        trainer.method.eval()
        bank = embed(trainer, trainer.knn_bank.images)
        queries = embed(trainer, trainer.test.images[: trainer.num_queries])
        trainer.method.train(was_training)
        dev = bank.device
        bank_labels = trainer.knn_bank.labels.to(dev)
        query_labels = trainer.test.labels[: trainer.num_queries].to(dev)
        nc = int(max(bank_labels.max(), query_labels.max())) + 1
        rec = {"kind": "knn", "step": step, "epoch": epoch,
               "knn_top1": knn_accuracy(queries, query_labels, bank, bank_labels, nc, t.knn_k,
                                        t.knn_tau),
               "knn_top1_k200": knn_accuracy(queries, query_labels, bank, bank_labels, nc, 200,
                                             t.knn_tau)}
        trainer.rundir.log(rec)
        trainer.last["knn"] = rec
        return rec


class SaliencyMonitor(PeriodicMonitor):
    """Snapshots the probe images' maps and measures every map against held-out masks.

    For each map of ``method.saliency_maps`` (``channel_sum``, ``scd_fg``, ``lewel_maxvar``):
    AUROC, best-threshold IoU, IoU at 0.5 and polarity (which of M / 1 - M matches the object)
    on ``trainer.saliency_eval`` (held-out images with masks), plus the collapse and shortcut
    statistics of the raw map: mean, spatial_std (per image; ~0 = constant map, flagged as
    ``collapsed`` below ``COLLAPSE_STD``) and mean_map_std (of the image-averaged map);
    ``shortcut_ratio`` = mean_map_std / spatial_std, near 1 when every image gets the same
    positional map.
    """

    @torch.no_grad()
    def maps_of(self, trainer, images: torch.Tensor, batch: int = 256) -> dict:
        was_training = trainer.method.training
        trainer.method.eval()
        parts: dict[str, list] = {}
        for chunk in images.split(batch):
            with trainer.autocast():
                maps = trainer.method.saliency_maps(trainer.eval_input(chunk))
            for k, v in maps.items():
                parts.setdefault(k, []).append(v.float())
        trainer.method.train(was_training)
        return {k: torch.cat(v) for k, v in parts.items()}

    def measure(self, trainer, step: int, epoch: int) -> dict:
        probe = trainer.probe
        trainer.rundir.save_snapshot(step, epoch, self.maps_of(trainer, probe.images))
        rec = {"kind": "saliency", "step": step, "epoch": epoch}
        held = trainer.saliency_eval
        if held is not None and held.masks is not None:
            maps = self.maps_of(trainer, held.images)
            masks = held.masks.to(next(iter(maps.values())).device)
            for name, m in maps.items():
                rep = saliency_report(upsample_maps(m, masks.shape[-2:]), masks)
                # collapse: a (near) constant map; shortcut: every image gets the same map
                rep["collapsed"] = rep["spatial_std"] < COLLAPSE_STD
                rep["shortcut_ratio"] = rep["mean_map_std"] / max(rep["spatial_std"], 1e-12)
                rec.update({f"{name}/{k}": v for k, v in rep.items()})
        trainer.rundir.log(rec)
        trainer.last["saliency"] = rec
        return rec
