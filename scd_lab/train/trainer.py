"""The method-agnostic training loop: one code path for a laptop CPU, one GPU and torchrun.

The trainer knows nothing about the method. Each step it calls

    out = method(x1, x2)              # StepOutput: loss, terms, maps, keys (no side effects)
    out.loss.backward(); optimizer.step()
    method.momentum_update(m)         # EMA of the target network
    method.enqueue(out)               # MoCo's queue (no-op elsewhere)

and the callbacks (kNN monitor, saliency monitor, your own). Randomness is derived from
(seed, epoch) for the data order and (seed, step, rank) for the augmentation, so a run resumed
from a checkpoint replays exactly the steps it would have run.

Example:
    >>> from scd_lab.config import get_preset, apply_overrides
    >>> cfg = apply_overrides(get_preset("cpu"), ["train.epochs=1"])
    >>> summary = Trainer(cfg, "runs/try").fit()   # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import sys
import time

import torch
import torch.distributed as torch_dist
from torch import nn

from .. import __version__, dist
from ..config import Config, resolve, to_dict
from ..data.augment import TwoViewAugment, eval_transform
from ..methods import build_method
from .callbacks import Callback, KNNMonitor, SaliencyMonitor
from .checkpoint import load_checkpoint, save_checkpoint
from .optim import build_optimizer, cosine_lr
from .rundir import RunDir


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped before applying that step."""


def setup_distributed() -> tuple[int, int, torch.device]:
    """Initialise torch.distributed from torchrun's environment, if present.

    Returns (rank, world_size, device). Backend: nccl on CUDA, gloo on the CPU.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if world > 1 and not torch_dist.is_initialized():
        torch_dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    return dist.rank(), dist.world_size(), device


def _seed_for(*parts: int) -> int:
    s = 0
    for p in parts:
        s = (s * 1_000_003 + int(p) + 12345) % (2**63 - 1)
    return s


def build_data(d) -> tuple:
    """(train, test) ``ImageArray`` pair for a ``DataConfig`` (synthetic knobs applied)."""
    from ..data import build_datasets
    if not d.dataset.startswith("synthetic"):
        return build_datasets(d.dataset, d.image_size, d.root)
    knobs = ("num_train", "num_test", "num_classes", "scale_range", "clutter", "patches",
             "camouflage", "max_objects", "saturation", "distinct_textures")
    extra = {k: getattr(d, k) for k in knobs if getattr(d, k) is not None}
    return build_datasets(d.dataset, d.image_size, seed=d.seed, **extra)


class Trainer:
    """Train ``cfg``'s method and write a run directory.

    Args:
        cfg: a ``Config`` (resolved here).
        out_dir: the run directory (see ``scd_lab.train.rundir``).
        resume: continue from ``out_dir/checkpoints/last.pt`` (its config wins).
        callbacks: extra ``Callback`` objects (the kNN and saliency monitors are built in).
        data: optional (train, test) ``ImageArray`` pair instead of building ``cfg.data``.
        device: override the automatic choice (``cuda`` when available, else ``cpu``).
    """

    def __init__(self, cfg: Config, out_dir: str | os.PathLike, resume: bool = False,
                 callbacks: list[Callback] | None = None, data=None, device: str | None = None):
        self.rundir = RunDir(out_dir)
        self.ckpt = None
        if resume:
            self.ckpt = load_checkpoint(self.rundir.last_checkpoint)
            cfg = self.rundir.config()
        elif self.rundir.last_checkpoint.exists():
            raise FileExistsError(f"{str(out_dir)!r} already holds a run; continue it with "
                                  f"`scd-lab train --resume {out_dir}` or choose another --out")
        self.cfg = cfg = resolve(cfg)
        t = cfg.train
        self.rank, self.world, auto_device = setup_distributed()
        wanted = device or (t.device if t.device != "auto" else None)
        self.device = torch.device(wanted) if wanted else auto_device
        self.is_main = self.rank == 0
        if t.batch_size % self.world:
            raise ValueError(f"train.batch_size={t.batch_size} must be divisible by the number "
                             f"of processes ({self.world})")
        self.local_batch = t.batch_size // self.world
        if t.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        elif self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

        # data -------------------------------------------------------------------------
        d = cfg.data
        if data is None:
            data = build_data(d)
        self.train_data, self.test = data
        n = len(self.train_data)
        if n < t.batch_size:
            raise ValueError(f"the training set has {n} images, fewer than "
                             f"train.batch_size={t.batch_size}; lower the batch size")
        self.steps_per_epoch = n // t.batch_size
        self._perm: tuple[int, torch.Tensor | None] = (-1, None)  # (epoch, its permutation)
        self.total_steps = t.max_steps or t.epochs * self.steps_per_epoch
        if cfg.method.name.endswith("moco") and cfg.method.queue_size > n:
            raise ValueError(f"method.queue_size={cfg.method.queue_size} exceeds the {n} "
                             "training images (the queue must not hold one image twice); set "
                             f"method.queue_size to at most {n}")
        self.augment = TwoViewAugment(d.augment, d.crop_size, d.crop_scale_min)
        self.mean, self.std = self.augment.specs[0].mean, self.augment.specs[0].std
        g = torch.Generator().manual_seed(_seed_for(t.seed, 777))
        bank_idx = torch.randperm(n, generator=g)[: t.knn_bank_size or n]
        self.knn_bank = self.train_data.subset(bank_idx)
        self.num_queries = min(len(self.test), 2000)
        self.probe = self.test.subset(torch.arange(min(t.probe_size, len(self.test))))
        self.saliency_eval = (self.test.subset(torch.arange(min(500, len(self.test))))
                              if self.test.masks is not None else None)
        self._place_data()

        # model ------------------------------------------------------------------------
        torch.manual_seed(t.seed)
        method = build_method(None, cfg)
        if self.world > 1 and t.sync_bn:
            method = nn.SyncBatchNorm.convert_sync_batchnorm(method)
        method.to(self.device)
        self.channels_last = (t.channels_last == "on"
                              or (t.channels_last == "auto" and self.device.type == "cuda"))
        if self.channels_last:
            method.to(memory_format=torch.channels_last)
        self.method = method
        self.optimizer, self.peak_lr = build_optimizer(method, cfg.optim, t.batch_size)
        self.warmup_steps = int(round(cfg.optim.warmup_epochs * self.steps_per_epoch))
        self.start_step = 0
        if self.ckpt is not None:
            method.load_state_dict(self.ckpt["model"])
            self.optimizer.load_state_dict(self.ckpt["optimizer"])
            self.start_step = int(self.ckpt["step"])
        self.model = method
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(method, device_ids=ids)
        if t.compile:
            self.model = torch.compile(self.model)
        self.callbacks = [KNNMonitor(t.knn_every), SaliencyMonitor(t.snapshot_every)]
        self.callbacks += list(callbacks or [])
        self.last: dict = {}

    # ---------------------------------------------------------------------------------
    def _place_data(self) -> None:
        """Hold the training images on the GPU when they fit in a third of free memory."""
        self.data_device = torch.device("cpu")
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            if self.train_data.images.numel() < free / 3:
                self.data_device = self.device
                self.train_data = self.train_data.to(self.device)
            else:
                self.train_data.images = self.train_data.images.pin_memory()

    def autocast(self):
        bf16 = (self.cfg.train.precision == "bf16"
                or (self.cfg.train.precision == "auto" and self.device.type == "cuda"))
        if bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def eval_input(self, images: torch.Tensor) -> torch.Tensor:
        """Test-time transform of uint8 images onto the device (resize to crop size)."""
        x = eval_transform(images.to(self.device, non_blocking=True), self.cfg.data.crop_size,
                           self.mean, self.std)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def batch_indices(self, step: int) -> torch.Tensor:
        """This process's sample indices for global ``step`` (a per-epoch permutation, the
        global batch split into equal contiguous shards, one per process)."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if self._perm[0] != epoch:  # one permutation per epoch, drawn at its first step
            g = torch.Generator().manual_seed(_seed_for(self.cfg.train.seed, epoch))
            self._perm = (epoch, torch.randperm(len(self.train_data), generator=g))
        perm = self._perm[1]
        start = i * self.cfg.train.batch_size + self.rank * self.local_batch
        return perm[start:start + self.local_batch]

    def views(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The two augmented views for ``step`` on this process."""
        idx = self.batch_indices(step)
        images = self.train_data.images[idx.to(self.data_device)].to(self.device,
                                                                       non_blocking=True)
        g = torch.Generator().manual_seed(_seed_for(self.cfg.train.seed, step, self.rank, 1))
        x1, x2, _, _ = self.augment(images, g)
        if self.channels_last:
            x1 = x1.contiguous(memory_format=torch.channels_last)
            x2 = x2.contiguous(memory_format=torch.channels_last)
        return x1, x2

    def train_step(self, x1: torch.Tensor, x2: torch.Tensor, step: int):
        """One optimisation step on given views; returns the ``StepOutput``."""
        lr = cosine_lr(step, self.total_steps, self.peak_lr, self.warmup_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with self.autocast():
            out = self.model(x1, x2)
        if not torch.isfinite(out.loss.detach()).item():
            raise TrainingDiverged(
                f"the loss became {float(out.loss.detach())} at step {step} (epoch "
                f"{step // self.steps_per_epoch}); the step was not applied and the last good "
                f"checkpoint is {self.rundir.last_checkpoint} (if any). Lower optim.lr, add "
                "warm-up (optim.warmup_epochs) or use train.precision=fp32, then resume or "
                "restart.")
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()
        self.method.momentum_update(self.method.momentum(step, self.total_steps))
        self.method.enqueue(out)
        self.lr = lr
        return out

    def save(self, step: int) -> None:
        if self.is_main:
            save_checkpoint(self.rundir.last_checkpoint, model=self.method.state_dict(),
                            optimizer=self.optimizer.state_dict(), step=step,
                            epoch=step // self.steps_per_epoch, config=to_dict(self.cfg))

    def _meta(self) -> dict:
        return {"scd_lab": __version__, "torch": torch.__version__,
                "python": platform.python_version(), "device": str(self.device),
                "device_name": (torch.cuda.get_device_name(self.device)
                                if self.device.type == "cuda" else platform.processor() or "cpu"),
                "world_size": self.world, "method": self.cfg.method.name,
                "preset": self.cfg.preset, "steps_per_epoch": self.steps_per_epoch,
                "total_steps": self.total_steps, "num_train": len(self.train_data),
                "num_test": len(self.test),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S")}

    # ---------------------------------------------------------------------------------
    def fit(self) -> dict:
        """Run (or continue) training to ``total_steps``; returns the summary dict."""
        t = self.cfg.train
        if self.is_main:
            if self.ckpt is None:
                self.rundir.create(self.cfg, self._meta())
                self.rundir.save_probe(self.probe.images, self.probe.labels, self.probe.masks)
            else:
                self.rundir.truncate_metrics(self.start_step)
            for cb in self.callbacks:
                cb.on_fit_start(self)
        self.method.train()
        bar = None
        if self.is_main and t.progress:
            from tqdm.auto import tqdm
            quiet = not sys.stderr.isatty() and "ipykernel" not in sys.modules  # a log file
            bar = tqdm(total=self.total_steps, initial=self.start_step,
                       desc=self.cfg.method.name, unit="step", dynamic_ncols=True,
                       mininterval=30 if quiet else 0.1)
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
            if step % t.log_every == 0 or step == self.total_steps:
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                now = time.perf_counter()
                record = {"kind": "train", "step": step,
                          "epoch": (step - 1) // self.steps_per_epoch, "lr": self.lr,
                          "momentum": self.method.momentum(step - 1, self.total_steps),
                          "images_per_s": window_n / max(now - window_t, 1e-9)}
                record.update({k: float(v) for k, v in out.terms.items()})
                for name, m in out.maps.items():
                    record[f"{name}_mean"] = float(m.float().mean())
                    record[f"{name}_spatial_std"] = float(m.float().flatten(1).std(1).mean())
                if self.device.type == "cuda":
                    record["max_mem_gb"] = torch.cuda.max_memory_allocated(self.device) / 2**30
                window_t, window_n = now, 0
                if self.is_main:
                    self.rundir.log(record)
                    if bar is not None:
                        bar.set_postfix(refresh=False, loss=f"{record['loss']:.3f}",
                                        img_s=f"{record['images_per_s']:.0f}")
            for cb in self.callbacks:
                cb.on_step_end(self, step, out, record)
            step_time += time.perf_counter() - s0
            if bar is not None:
                bar.update(1)
            if step % self.steps_per_epoch == 0 or step == self.total_steps:
                epoch = (step - 1) // self.steps_per_epoch
                if (epoch + 1) % max(t.ckpt_every, 1) == 0 or step == self.total_steps:
                    self.save(step)
                if self.is_main:
                    for cb in self.callbacks:
                        cb.on_epoch_end(self, epoch, step)
                    if bar is not None and "knn" in self.last:
                        bar.set_postfix(refresh=False, loss=f"{float(out.terms['loss']):.3f}",
                                        knn=f"{self.last['knn']['knn_top1']:.3f}")
        if bar is not None:
            bar.close()
        summary = self.summarize(time.perf_counter() - fit_t0, step_time)
        if self.is_main:
            self.rundir.log({"kind": "summary", "step": step, **summary})
            self.rundir.write_summary(summary)
            for cb in self.callbacks:
                cb.on_fit_end(self, summary)
        return summary

    def summarize(self, wall_s: float, step_s: float) -> dict:
        knn = self.rundir.metrics("knn") if self.is_main else []
        sal = self.rundir.metrics("saliency") if self.is_main else []
        done = self.total_steps - self.start_step
        s = {"method": self.cfg.method.name, "steps": self.total_steps,
             "epochs": self.total_steps / self.steps_per_epoch, "wall_s": round(wall_s, 1),
             "train_images_per_s": round(done * self.cfg.train.batch_size / max(step_s, 1e-9), 1)}
        if knn:
            s["knn_top1_init"] = knn[0]["knn_top1"]
            s["knn_top1"] = knn[-1]["knn_top1"]
        if sal:
            last = sal[-1]
            for key, v in last.items():
                if "/" in key and key.split("/")[1] in ("auroc", "best_iou", "polarity", "mean",
                                                         "spatial_std", "mean_map_std",
                                                         "collapsed", "shortcut_ratio"):
                    s[key] = v
            for key, v in sal[0].items():
                if key.endswith("/auroc"):
                    s[key + "_init"] = v
        return s


def format_summary(summary: dict) -> str:
    """A short human-readable summary of ``Trainer.fit``'s result."""
    lines = [f"{summary['method']}: {summary['steps']} steps in {summary['wall_s']} s "
             f"({summary['train_images_per_s']} img/s)"]
    if "knn_top1" in summary:
        lines.append(f"  kNN top-1: {summary['knn_top1_init']:.3f} at step 0 -> "
                     f"{summary['knn_top1']:.3f}")
    for key in sorted(k for k in summary if k.endswith("/collapsed") and summary[k]):
        lines.append(f"  WARNING: {key.split('/')[0]} collapsed to a constant map")
    for key in sorted(k for k in summary if k.endswith("/auroc")):
        name = key.split("/")[0]
        lines.append(f"  {name}: AUROC {summary[key]:.3f} (step 0: "
                     f"{summary.get(key + '_init', math.nan):.3f}), best IoU "
                     f"{summary.get(name + '/best_iou', math.nan):.3f}, polarity "
                     f"{summary.get(name + '/polarity', 0):+d}, mean "
                     f"{summary.get(name + '/mean', math.nan):.2f}")
    return "\n".join(lines)
