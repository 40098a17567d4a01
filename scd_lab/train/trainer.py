"""The method-agnostic training loop: one code path for a laptop CPU, one GPU and torchrun.

The trainer is handed what it trains and knows nothing about the method or the dataset. Each
step is its phases, called in order (``train_step``; the bench times the same calls):

    x1, x2 = trainer.views(step)            # the two augmented views of this process's batch
    out = trainer.forward(x1, x2, step)     # method(x1, x2) -> StepOutput (the method has no
                                            # side effects; the step seeds its randomness)
    trainer.backward(out)                   # out.loss.backward()
    trainer.optimizer_step(step)            # the scheduled learning rate; optimizer.step()
    trainer.update_targets(out, step)       # EMA of the target network; MoCo's queue

then the callbacks (the kNN and saliency monitors, your own). Randomness is derived from
(seed, epoch) for the data order and (seed, step, rank) for the augmentation and the step
itself, so a run resumed from a checkpoint replays exactly the steps it would have run.

Example (five lines in a notebook; ``scd_lab.build_run`` assembles all this from a config):
    >>> from scd_lab import BYOL, SCD, TrainConfig, Trainer, TwoViewAugment, build_backbone
    >>> from scd_lab.data import load_synthetic
    >>> train, test = load_synthetic("default")                       # doctest: +SKIP
    >>> scd = SCD(BYOL(build_backbone("resnet_tiny", small_stem=True)), alpha=1.0, lam=0.5)
    >>> Trainer(scd, train, TwoViewAugment("byol", 32), TrainConfig(max_steps=20)).fit()
    ... # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import platform
import sys
import time

import torch
from torch import nn

from ..config import Config, OptimConfig, TrainConfig, to_dict
from ..data.sampling import batch_indices, seed_for
from ..errors import ConfigError, UserError
from .._version import __version__
from ..rundir import RunDir
from ..schedules import cosine_lr
from .checkpoint import save_checkpoint
from .compile import CompiledModel
from .device import resolve_device, setup_distributed
from .optim import build_optimizer
from .summary import smoke_note


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the run stopped at the next logging step, before any
    checkpoint after it was written."""


class Trainer:
    """Train ``method`` on ``data`` with two views from ``augment``.

    Args:
        method: a ``scd_lab.methods.Method`` (moved to the device in place).
        data: the training images, an ``ImageArray`` (uint8, labels unused), or a stream of
            batches in this trainer's order (``StreamingFolder``: ``batch(step, stop)`` gives
            this process's uint8 images and labels of ``step``; its ``seed``, ``batch_size``,
            ``rank`` and ``world`` must be the trainer's).
        augment: a ``TwoViewAugment`` (its ``eval_input`` is the test-time transform).
        train_cfg: a ``TrainConfig`` (length, batch, precision, seed, checkpoint period), kept
            as ``trainer.train_cfg``.
        optim: an ``OptimConfig`` (default SGD, lr 0.05 x batch / 256, cosine decay).
        callbacks: ``Callback`` objects (e.g. ``KNNMonitor``, ``SaliencyMonitor``).
        run_dir: a folder (or ``RunDir``) for metrics, snapshots and checkpoints; ``None``
            keeps the records in ``trainer.history`` only.
        run_config: the whole ``Config`` the run came from, stored in checkpoints (optional),
            kept as ``trainer.run_config``.
        device: override the automatic choice (``cuda`` when available, else ``cpu``).
    """

    def __init__(self, method: nn.Module, data, augment, train_cfg: TrainConfig | None = None,
                 optim: OptimConfig | None = None, callbacks=(), run_dir=None,
                 run_config: Config | None = None, device: str | None = None):
        self.train_cfg = t = train_cfg or TrainConfig()
        self.run_config = run_config
        self.rundir = run_dir if run_dir is None or isinstance(run_dir, RunDir) \
            else RunDir(run_dir)
        self.rank, self.world, auto_device = setup_distributed()
        wanted = device or (t.device if t.device != "auto" else None)
        self.device = (resolve_device(wanted, "train.device", types=None) if wanted
                       else auto_device)
        self.is_main = self.rank == 0
        if t.batch_size % self.world:
            raise ConfigError(f"train.batch_size={t.batch_size} must be divisible by the number "
                              f"of processes ({self.world})")
        self.local_batch = t.batch_size // self.world
        if t.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        n = len(data)
        if n < t.batch_size:
            raise ConfigError(f"the training set has {n} images, fewer than "
                              f"train.batch_size={t.batch_size}; lower the batch size")
        method.check_dataset(n)
        self.streaming = callable(getattr(data, "batch", None))
        self._streamed: tuple = (-1, None, None)  # (step, images, labels) of the last batch
        self.data, self.augment = self._place(data), augment
        self.steps_per_epoch = n // t.batch_size
        self.total_steps = t.max_steps or t.epochs * self.steps_per_epoch
        self._perm: dict = {}  # the current epoch and its permutation (data.sampling)

        if self.world > 1 and t.sync_bn:
            if self.device.type != "cuda":
                raise ConfigError("train.sync_bn=true needs CUDA devices (SyncBatchNorm works "
                                  "only on GPUs); set train.sync_bn=false on the CPU")
            method = nn.SyncBatchNorm.convert_sync_batchnorm(method)
        self.method = method.to(self.device)
        self.channels_last = (t.channels_last == "on"
                              or (t.channels_last == "auto" and self.device.type == "cuda"))
        if self.channels_last:
            self.method.to(memory_format=torch.channels_last)
        self.optimizer, self.peak_lr = build_optimizer(self.method, optim or OptimConfig(),
                                                       t.batch_size)
        self.warmup_steps = int(round((optim or OptimConfig()).warmup_epochs
                                      * self.steps_per_epoch))
        # the cosine moves every step, or once per epoch (optim.lr_per, LEWEL's and MoCo's)
        self.lr_every = self.steps_per_epoch if (optim or OptimConfig()).lr_per == "epoch" \
            else 1
        self.model = self.method
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.method, device_ids=ids)
        self._seed = 0  # the seed of the step being run (re-used if compilation fails)
        if t.compile:  # compiled at the first step; one line and eager if that fails
            self.model = CompiledModel(self.model, t.compile_mode,
                                       before_retry=lambda: torch.manual_seed(self._seed))
        self.callbacks = list(callbacks)
        self.start_step, self.lr = 0, 0.0
        self.history: list[dict] = []  # every record logged, also without a run directory
        self.last: dict = {}  # the latest record of each kind
        self._bad: tuple[torch.Tensor, torch.Tensor] | None = None  # (first bad step, loss)

    # ---------------------------------------------------------------------------------
    def _place(self, data):
        """Hold the training images on the GPU when they fit in a third of free memory."""
        self.data_device = torch.device("cpu")
        if self.streaming:
            mine = (self.train_cfg.seed, self.train_cfg.batch_size, self.rank, self.world)
            theirs = (data.seed, data.batch_size, data.rank, data.world)
            if mine != theirs:
                raise ConfigError(f"the stream's (seed, batch size, rank, processes) {theirs} "
                                  f"are not the trainer's {mine}")
            return data
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            if data.images.numel() < free / 3:
                self.data_device = self.device
                return data.to(self.device)
            data.images = data.images.pin_memory()
        return data

    def restore(self, ckpt: dict) -> None:
        """Continue from a checkpoint (``scd_lab.train.load_checkpoint``): weights, optimizer
        state and the step to run next."""
        self.method.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.start_step = int(ckpt["step"])

    def epoch_at(self, step: int) -> float:
        """Epochs completed after ``step`` steps (what every record's ``epoch`` means)."""
        return round(step / self.steps_per_epoch, 3)

    def autocast(self):
        bf16 = (self.train_cfg.precision == "bf16"
                or (self.train_cfg.precision == "auto" and self.device.type == "cuda"))
        if bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def eval_input(self, images: torch.Tensor) -> torch.Tensor:
        """Test-time transform of uint8 images onto the device (``augment.eval_input``)."""
        x = self.augment.eval_input(images.to(self.device, non_blocking=True))
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def log(self, record: dict) -> None:
        """Keep a record in ``history`` and ``last``; append it to the run's metrics."""
        self.history.append(record)
        self.last[record["kind"]] = record
        if self.is_main and self.rundir is not None:
            self.rundir.log(record)

    def batch_indices(self, step: int) -> torch.Tensor:
        """This process's sample indices for global ``step`` (a per-epoch permutation, the
        global batch split into equal contiguous shards, one per process)."""
        t = self.train_cfg
        return batch_indices(step, len(self.data), t.batch_size, t.seed, self.rank, self.world,
                             self._perm)

    def _stream_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``step``'s (images, labels) from the stream, on the device (kept for ``labels``)."""
        if self._streamed[0] != step:
            images, labels = self.data.batch(step, stop=self.total_steps)
            self._streamed = (step, images.to(self.device, non_blocking=True),
                              labels.to(self.device, non_blocking=True))
        return self._streamed[1], self._streamed[2]

    def views(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The two augmented views for ``step`` on this process."""
        if self.streaming:
            images = self._stream_batch(step)[0]
        else:
            idx = self.batch_indices(step).to(self.data_device, non_blocking=True)
            images = self.data.images[idx].to(self.device, non_blocking=True)
        g = torch.Generator().manual_seed(seed_for(self.train_cfg.seed, step, self.rank, 1))
        x1, x2, _, _ = self.augment(images, g)
        if self.channels_last:
            x1 = x1.contiguous(memory_format=torch.channels_last)
            x2 = x2.contiguous(memory_format=torch.channels_last)
        return x1, x2

    def labels(self, step: int) -> torch.Tensor:
        """The labels of ``step``'s batch on the device (for methods with ``uses_labels``)."""
        if self.streaming:
            return self._stream_batch(step)[1]
        idx = self.batch_indices(step).to(self.data_device, non_blocking=True)
        return self.data.labels[idx].to(self.device, non_blocking=True)

    # The training step, in its phases: ``train_step`` calls them in this order, and
    # ``scd_lab.studies.bench`` times the same calls one by one.
    def forward(self, x1: torch.Tensor, x2: torch.Tensor, step: int):
        """The step's forward: the in-step randomness seeded from (seed, step, rank), the
        method under ``autocast`` on the views (with the step's labels for a method that
        ``uses_labels``, the supervised reference), the loss's finiteness recorded on the
        device; returns the ``StepOutput``."""
        self._seed = seed_for(self.train_cfg.seed, step, self.rank, 2)
        torch.manual_seed(self._seed)
        with self.autocast():
            if getattr(self.method, "uses_labels", False):
                out = self.model(x1, x2, labels=self.labels(step))
            else:
                out = self.model(x1, x2)
        self._record_finite(out.loss.detach(), step)
        return out

    def backward(self, out) -> None:
        """Gradients of ``out.loss`` (the previous step's are dropped first)."""
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()

    def optimizer_step(self, step: int) -> None:
        """The optimizer's step at ``step``'s learning rate (cosine with warm-up)."""
        lr = cosine_lr(step, self.total_steps, self.peak_lr, self.warmup_steps, self.lr_every)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.lr = lr

    def update_targets(self, out, step: int) -> None:
        """The target network's EMA at ``step``'s momentum, and MoCo's queue of keys (a no-op
        for methods without them)."""
        self.method.momentum_update(self.method.momentum(step, self.total_steps))
        self.method.enqueue(out)

    def train_step(self, x1: torch.Tensor, x2: torch.Tensor, step: int, check: bool = False):
        """One optimisation step on given views (``views(step)``); returns the ``StepOutput``.

        No host synchronisation: the finiteness of the loss is recorded on the device and
        checked by ``check_finite`` (``check=True`` checks at once). ``fit`` checks on its
        logging steps, which include every epoch end, so a non-finite loss is detected at the
        next logging step and always before a checkpoint is written after it (the steps in
        between are applied to the weights in memory, never saved).
        """
        out = self.forward(x1, x2, step)
        self.backward(out)
        self.optimizer_step(step)
        self.update_targets(out, step)
        if check:
            self.check_finite(step)
        return out

    def _record_finite(self, loss: torch.Tensor, step: int) -> None:
        """Keep the first step whose loss is not finite, and that loss, on the device."""
        if self._bad is None or self._bad[0].device != loss.device:
            self._bad = (torch.full((), -1, dtype=torch.long, device=loss.device),
                         torch.zeros((), dtype=torch.float32, device=loss.device))
        first, value = self._bad
        new = ~torch.isfinite(loss) & (first < 0)
        self._bad = (torch.where(new, step, first), torch.where(new, loss.float(), value))

    def check_finite(self, step: int | None = None) -> None:
        """Raise ``TrainingDiverged`` if a loss since the start was NaN or infinite (one host
        synchronisation; ``fit`` calls it on logging steps)."""
        if self._bad is None:
            return
        bad = int(self._bad[0])
        if bad < 0:
            return
        where = "" if self.rundir is None else \
            f"; the last good checkpoint is {self.rundir.last_checkpoint} (if any)"
        seen = "" if step is None or step == bad else \
            f", detected at step {step} (the loss is checked on logging steps)"
        raise TrainingDiverged(
            f"the loss became {float(self._bad[1])} at step {bad} (epoch "
            f"{bad // self.steps_per_epoch}){seen}; no checkpoint was written after it{where}. "
            "Lower optim.lr, add warm-up (optim.warmup_epochs) or use train.precision=fp32, "
            "then resume or restart.")

    def save(self, step: int) -> None:
        if self.is_main and self.rundir is not None:
            save_checkpoint(self.rundir.last_checkpoint, model=self.method.state_dict(),
                            optimizer=self.optimizer.state_dict(), step=step,
                            epoch=self.epoch_at(step),
                            config=to_dict(self.run_config) if self.run_config else {})

    def meta(self) -> dict:
        return {"scd_lab": __version__, "torch": torch.__version__,
                "python": platform.python_version(), "device": str(self.device),
                "device_name": (torch.cuda.get_device_name(self.device)
                                if self.device.type == "cuda" else platform.processor() or "cpu"),
                "world_size": self.world, "method": getattr(self.method, "name", "method"),
                "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
                "num_train": len(self.data), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                **({"data_skipped": self.data.num_skipped} if self.streaming else {})}

    def _train_record(self, step: int, out, images: int, seconds: float) -> dict:
        record = {"kind": "train", "step": step, "epoch": self.epoch_at(step), "lr": self.lr,
                  "momentum": self.method.momentum(step - 1, self.total_steps),
                  "images_per_s": images / max(seconds, 1e-9)}
        values = dict(out.terms)  # name -> scalar tensor on the device
        for name, m in out.maps.items():
            values[f"{name}_mean"] = m.float().mean()
            values[f"{name}_spatial_std"] = m.float().flatten(1).std(1).mean()
        if values:  # one copy to the host for all of them (one sync per logging step)
            host = torch.stack([v.detach().float().reshape(()) for v in values.values()])
            record.update(zip(values, host.tolist()))
        if self.streaming:  # files that failed to decode so far (each replaced by another)
            record["data_failed"] = self.data.num_failed
        if self.device.type == "cuda":
            record["max_mem_gb"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        return record

    # ---------------------------------------------------------------------------------
    def fit(self) -> dict:
        """Run (or continue) training to ``total_steps``; returns the summary dict."""
        t = self.train_cfg
        if self.is_main and self.rundir is not None:
            self.rundir.start(self.meta(), self.start_step)
        for cb in self.callbacks:
            cb.on_fit_start(self)
        self.method.train()
        bar = None
        if self.is_main and t.progress:
            from tqdm.auto import tqdm
            quiet = not sys.stderr.isatty() and "ipykernel" not in sys.modules  # a log file
            bar = tqdm(total=self.total_steps, initial=self.start_step,
                       desc=getattr(self.method, "name", "train"), unit="step",
                       dynamic_ncols=True, mininterval=30 if quiet else 0.1)
        window_t, window_n = time.perf_counter(), 0
        fit_t0, step_time = time.perf_counter(), 0.0
        step = self.start_step
        while step < self.total_steps:
            s0 = time.perf_counter()
            x1, x2 = self.views(step)
            out = self.train_step(x1, x2, step)
            step += 1
            window_n += x1.shape[0] * self.world
            record = None
            if step % t.log_every == 0 or step == self.total_steps \
                    or step % self.steps_per_epoch == 0:
                self.check_finite(step - 1)  # before any record, callback or checkpoint
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                now = time.perf_counter()
                record = self._train_record(step, out, window_n, now - window_t)
                window_t, window_n = now, 0
                self.log(record)
                if bar is not None:
                    bar.set_postfix(refresh=False, loss=f"{record['loss']:.3f}",
                                    img_s=f"{record['images_per_s']:.0f}")
            for cb in self.callbacks:
                cb.on_step_end(self, step, out, record)
            step_time += time.perf_counter() - s0
            if bar is not None:
                bar.update(1)
            if step % self.steps_per_epoch == 0 or step == self.total_steps:
                epoch = step // self.steps_per_epoch  # epochs completed (whole)
                for cb in self.callbacks:  # the monitors first: a checkpoint at this step
                    cb.on_epoch_end(self, epoch, step)  # means its records are all written
                if t.ckpt_every and (epoch % t.ckpt_every == 0 or step == self.total_steps):
                    self.save(step)
        if bar is not None:
            bar.close()
        if self.streaming:
            self.data.close()  # its decoding processes exit
        summary = self.summarize(time.perf_counter() - fit_t0, step_time)
        self.log({"kind": "summary", "step": step, "epoch": self.epoch_at(step), **summary})
        if self.is_main and self.rundir is not None:
            self.rundir.write_summary(summary)
        for cb in self.callbacks:
            cb.on_fit_end(self, summary)
        return summary

    def summarize(self, wall_s: float, step_s: float) -> dict:
        """The run's final figures: first and last kNN and saliency records (from the run
        directory, so a resumed run reports its whole history)."""
        recs = self.rundir.metrics() if self.rundir is not None and self.is_main else self.history
        knn = [r for r in recs if r["kind"] == "knn"]
        sal = [r for r in recs if r["kind"] == "saliency"]
        done = self.total_steps - self.start_step
        s = {"method": getattr(self.method, "name", "method"), "steps": self.total_steps,
             "epochs": self.epoch_at(self.total_steps), "wall_s": round(wall_s, 1),
             "train_images_per_s": round(done * self.train_cfg.batch_size / max(step_s, 1e-9),
                                         1)}
        if knn:
            s["knn_top1_init"] = knn[0]["knn_top1"]
            s["knn_top1"] = knn[-1]["knn_top1"]
        if sal:
            for key, v in sal[-1].items():
                if "/" in key and key.split("/")[1] in ("auroc", "best_iou", "polarity", "mean",
                                                         "spatial_std", "mean_map_std",
                                                         "collapsed", "shortcut_ratio",
                                                         "auroc_per_image_unsigned"):
                    s[key] = v
            for key, v in sal[0].items():
                if key.endswith("/auroc"):
                    s[key + "_init"] = v
        return s


def format_summary(summary: dict) -> str:
    """A short human-readable summary of ``Trainer.fit``'s result (a smoke run says so)."""
    lines = [f"{summary['method']}: {summary['steps']} steps ({summary['epochs']:g} epochs) in "
             f"{summary['wall_s']} s ({summary['train_images_per_s']} img/s)"]
    if note := smoke_note(summary["steps"]):
        lines.append("  " + note)
    if "knn_top1" in summary:
        lines.append(f"  kNN top-1: {summary['knn_top1_init']:.3f} at step 0 -> "
                     f"{summary['knn_top1']:.3f}")
    for key in sorted(k for k in summary if k.endswith("/collapsed") and summary[k]):
        lines.append(f"  WARNING: {key.split('/')[0]} collapsed to a constant map")
    for key in sorted(k for k in summary if k.endswith("/auroc")):
        name = key.split("/")[0]
        lines.append(f"  {name}: AUROC {summary[key]:.3f} (step 0: "
                     f"{summary.get(key + '_init', float('nan')):.3f}), best IoU "
                     f"{summary.get(name + '/best_iou', float('nan')):.3f}, polarity "
                     f"{summary.get(name + '/polarity', 0):+d}, mean "
                     f"{summary.get(name + '/mean', float('nan')):.2f}")
    return "\n".join(lines)
