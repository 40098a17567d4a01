"""A run, the one type: a run folder read through ``RunDir`` (its method loaded on first use),
or a method held in memory with its data.

    run = load_run("runs/try")                  # config, trained method (eval), data, probe
    run = Run.open("runs/try")                  # nothing loaded yet: probe, snapshots, metrics
    run = Run.of_method(method, train, test)    # a method in memory, for the protocols
"""
from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from ..config import Config
from ..data.augment import eval_transform
from ..errors import RunError, UserError
from ..eval.features import embed, method_maps
from ..methods import build_method, default_map_name, order_maps
from ..rundir import RunDir
from ..train.checkpoint import load_checkpoint
from .build import build_augment, build_data, monitor_sets


class EvalError(UserError, ValueError):
    """A request the evaluation cannot serve (bad option, wrong kind of run, no masks...)."""


class Run:
    """One run: a run folder (``Run.open``, ``load_run``) or a method in memory
    (``Run.of_method``). Every file is read through ``rundir`` (``scd_lab.rundir.RunDir``).

    What a model needs (loaded on first use, once; ``load_run`` loads it all at once):
        cfg: the resolved config (``config.yaml``; None for a method in memory); settable.
        method: the trained method, in eval mode, on ``device`` (``checkpoints/last.pt``).
        step, epoch: where its checkpoint stands (None for a method in memory).
        augment: its augmentation (``eval_input`` is the test-time transform).
        train, test: its data (``None`` when opened with ``with_data=False``).
        device: where the method runs.
        name: the method's name; path: the run folder (None in memory); eval_dir:
            ``RUN/eval`` (None in memory).
        eval_input(images) / transform: uint8 batch -> network input on ``device``.
        features(images), maps(images), monitor_sets(): see each.

    What the folder holds, without loading the method (for the explorer):
        probe: the probe images, labels and masks the monitors snapshotted ({} until
            ``probe.pt`` is readable; read on first use); masks: ``probe["masks"]`` or None.
        snapshots: the readable snapshot files in step order [{"step", "epoch", "maps"}];
            snapshot(step) one of them; skipped: names of the snapshot files that could not
            be read (being written, cut short).
        saliency: ``{step: record}`` of the saliency monitor (``metrics.jsonl``).
        metrics(kind): the metric records; method_name: the config's method name, else
            ``meta.json``'s, else None (reference runs may ship without ``config.yaml``).
        refresh(): read the snapshot files that appeared (or failed) since, the probe if it
            was missing, and the metrics again; returns whether anything changed. The first
            use of ``snapshots`` / ``saliency`` / ``skipped`` reads them.
        epochs, map_names (``MAP_ORDER`` first), default_map (the method's own map when the
            snapshots hold it, else the first), snapshot_index_at(epoch),
            saliency_metric(step, map, key), saliency_curve(map, key), notes(): what the
            saliency explorer shows of the snapshots and metrics, and what the folder lacks.
    """

    def __init__(self, rundir: RunDir | None = None, *, device: str | torch.device | None = None,
                 with_data: bool = True, method: nn.Module | None = None,
                 transform: Callable[[Tensor], Tensor] | None = None, train=None, test=None):
        self.rundir = rundir
        self.path: Path | None = None if rundir is None else rundir.path
        self._device = None if device is None else torch.device(device)
        self._with_data = with_data
        self._cfg: Config | None = None
        self._method, self._step, self._epoch = method, None, None
        self._transform = transform
        self._augment = None
        self._data = None if rundir is not None else (train, test)
        self._own_data = True
        self._probe: dict | None = None
        self._loaded_snapshots: dict[str, dict] = {}
        self._skipped: list[str] = []
        self._saliency: dict[int, dict] = {}
        self._read = False

    # -- making one
    @classmethod
    def open(cls, path, device: str | None = None, with_data: bool = True) -> "Run":
        """A run folder, nothing loaded yet (the method, its data and the files are read on
        first use).

        Raises:
            RunError: ``path`` is not a folder.
        """
        rundir = path if isinstance(path, RunDir) else RunDir(path)
        if not rundir.path.is_dir():
            raise RunError(f"{str(rundir.path)!r} is not a folder; pass a run directory "
                           "written by `scd-lab train` or `scd-lab demo`")
        return cls(rundir, device=device, with_data=with_data)

    @classmethod
    def of_method(cls, method: nn.Module, train=None, test=None,
                  transform: Callable[[Tensor], Tensor] | None = None) -> "Run":
        """A method in memory: ``train`` / ``test`` are ``ImageArray``s (or None);
        ``transform`` defaults to the kit's test-time transform at the images' own size
        (ImageNet normalisation) on the method's device.

        Raises:
            EvalError: ``method`` is no scd_lab method.
        """
        if not (isinstance(method, nn.Module) and hasattr(method, "features")):
            raise EvalError(f"expected a run directory, a Run (load_run) or a scd_lab method, "
                            f"got {type(method).__name__}")
        p = next(method.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
        if transform is None:
            transform = lambda x: eval_transform(x.to(device), x.shape[-1])  # noqa: E731
        return cls(None, device=device, method=method, transform=transform, train=train,
                   test=test)

    def with_data(self, train=None, test=None) -> "Run":
        """This run with ``train`` / ``test`` in place of its own (None: keep its own)."""
        if train is None and test is None:
            return self
        other = copy.copy(self)
        own_train, own_test = self.train, self.test
        other._data = (own_train if train is None else train, own_test if test is None else test)
        other._own_data = self._own_data and other._data[0] is own_train and \
            other._data[1] is own_test
        return other

    def load(self) -> "Run":
        """Load the method, and the data (unless ``with_data=False``), now.

        Raises:
            RunError / CheckpointError: no run there, or no checkpoint yet (the message says
                how to make one).
        """
        self._load_method()
        _ = self.train
        return self

    def _load_method(self) -> None:
        if self._method is not None:
            return
        rundir, cfg = self.rundir, self.cfg
        if not rundir.has_checkpoint():
            raise RunError(f"{str(self.path)!r} has no checkpoint yet (a run writes one at the "
                           f"end of each epoch); let it train, or resume it with "
                           f"`scd-lab train --resume {self.path}`")
        ckpt = load_checkpoint(rundir.last_checkpoint)
        head = ckpt["model"].get("head.weight")  # the supervised reference's classifier
        method = build_method(cfg, num_classes=None if head is None else head.shape[0])
        method.load_state_dict(ckpt["model"])
        self._method = method.to(self.device).eval()
        self._step, self._epoch = int(ckpt["step"]), float(ckpt["epoch"])

    # -- the model
    @property
    def cfg(self) -> Config | None:
        if self._cfg is None and self.rundir is not None:
            self._cfg = self.rundir.config()
        return self._cfg

    @cfg.setter
    def cfg(self, value: Config) -> None:
        self._cfg = value

    @property
    def device(self) -> torch.device:
        if self._device is None:
            self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return self._device

    @property
    def method(self) -> nn.Module:
        self._load_method()
        return self._method

    @property
    def step(self) -> int | None:
        if self.rundir is not None:
            self._load_method()
        return self._step

    @property
    def epoch(self) -> float | None:
        if self.rundir is not None:
            self._load_method()
        return self._epoch

    @property
    def augment(self):
        if self._augment is None and self.rundir is not None:
            self._augment = build_augment(self.cfg.data)
        return self._augment

    @property
    def train(self):
        return self._own_or_built()[0]

    @property
    def test(self):
        return self._own_or_built()[1]

    def _own_or_built(self) -> tuple:
        if self._data is None:
            self._data = build_data(self.cfg.data, self.cfg.train.num_workers) \
                if self._with_data else (None, None)
        return self._data

    @property
    def name(self) -> str:
        return getattr(self.method, "name", type(self.method).__name__)

    @property
    def eval_dir(self) -> Path | None:
        return None if self.rundir is None else self.rundir.eval_dir

    def eval_input(self, images: Tensor) -> Tensor:
        if self._transform is not None:
            return self._transform(images)
        return self.augment.eval_input(images.to(self.device))

    @property
    def transform(self) -> Callable[[Tensor], Tensor]:
        return self.eval_input

    def features(self, images: Tensor) -> Tensor:
        """GAP features of uint8 images (N, 3, H, W) -> (N, C)."""
        return embed(self.method.features, images, self.eval_input)

    def maps(self, images: Tensor) -> dict[str, Tensor]:
        """Every named map of uint8 images: {name: (N, h, w)}."""
        return method_maps(self.method, images, self.eval_input)

    def monitor_sets(self) -> dict:
        """The images the run's monitors used (``scd_lab.runs.build.monitor_sets``: bank,
        queries, probe, held); with data in memory (a method, or ``with_data(...)``): bank =
        all of train, queries = all of test, held = test when it has masks."""
        if self.rundir is not None and self._own_data:
            if self.train is None:
                raise RunError("this run was loaded with with_data=False")
            return monitor_sets(self.cfg, self.train, self.test)
        held = self.test if self.test is not None and self.test.masks is not None else None
        return {"bank": self.train, "queries": self.test, "held": held}

    # -- the folder's records, read without the method
    def _first_read(self) -> None:
        if not self._read:
            self.refresh()

    @property
    def probe(self) -> dict:
        if self._probe is None:
            self._read_probe()
        return self._probe or {}

    @property
    def masks(self):
        return self.probe.get("masks")

    @property
    def snapshots(self) -> list[dict]:
        self._first_read()
        return sorted(self._loaded_snapshots.values(), key=lambda s: s["step"])

    def snapshot(self, step: int) -> dict | None:
        """The snapshot taken at ``step`` (None if there is none)."""
        return next((s for s in self.snapshots if s["step"] == step), None)

    @property
    def skipped(self) -> list[str]:
        self._first_read()
        return list(self._skipped)

    @property
    def saliency(self) -> dict[int, dict]:
        self._first_read()
        return self._saliency

    def metrics(self, kind: str | None = None) -> list[dict]:
        return [] if self.rundir is None else self.rundir.metrics(kind)

    @property
    def method_name(self) -> str | None:
        if self._cfg is not None:
            return self._cfg.method.name
        if self.rundir is None:
            return getattr(self._method, "name", None)
        try:
            return self.cfg.method.name
        except Exception:  # reference runs may ship without config.yaml
            return self._meta().get("method")

    def _read_probe(self) -> None:
        if self._probe is None and self.rundir is not None and self.rundir.has_probe():
            try:
                self._probe = self.rundir.probe()
            except Exception:  # being written
                self._probe = None

    def refresh(self) -> bool:
        """Read new snapshot files, a missing probe, and the metrics again. Returns whether
        anything changed."""
        self._read = True
        rd = self.rundir
        if rd is None:
            return False
        before = (len(self._loaded_snapshots), len(self._saliency), self._probe is None)
        self._read_probe()
        self._skipped = []
        for f in rd.snapshot_files():
            if f.name in self._loaded_snapshots:
                continue
            try:
                self._loaded_snapshots[f.name] = rd.read_snapshot(f)
            except Exception:
                self._skipped.append(f.name)
        self._saliency = {r["step"]: r for r in rd.metrics("saliency")}
        return before != (len(self._loaded_snapshots), len(self._saliency), self._probe is None)

    # -- what the explorer shows of the snapshots and metrics
    @property
    def epochs(self) -> list[float]:
        """The epoch of each snapshot, in step order."""
        return [float(s["epoch"]) for s in self.snapshots]

    @property
    def map_names(self) -> list[str]:
        """Every map name in the snapshots, ``scd_lab.methods.MAP_ORDER`` first."""
        return order_maps({name for s in self.snapshots for name in s["maps"]})

    @property
    def default_map(self) -> str | None:
        """The map that shows this run, when the snapshots hold it: the one ``meta.json``
        names (``default_map``: e.g. the supervised ceiling's folder, scored on its map
        ``ceiling``), else the method's own (``default_map_name`` of ``method_name``), else the
        first of ``map_names`` (None without snapshots)."""
        names = self.map_names
        for name in (self._meta().get("default_map"), self._method_default()):
            if name in names:
                return name
        return names[0] if names else None

    def _meta(self) -> dict:
        try:
            return self.rundir.meta() if self.rundir is not None else {}
        except Exception:  # no meta.json (a method in memory, an older folder)
            return {}

    def _method_default(self) -> str | None:
        try:
            return default_map_name(self.method_name) if self.method_name else None
        except Exception:  # a method this version does not know
            return None

    def snapshot_index_at(self, epoch: float) -> int | None:
        """Index in ``snapshots`` of the last one at or before ``epoch`` (the first one if all
        come later; None without snapshots)."""
        epochs = self.epochs
        if not epochs:
            return None
        return max([i for i, e in enumerate(epochs) if e <= epoch + 1e-9], default=0)

    def saliency_metric(self, step: int, map_name: str, key: str):
        """The saliency monitor's ``{map_name}/{key}`` at ``step`` (None if absent or NaN)."""
        v = self.saliency.get(step, {}).get(f"{map_name}/{key}")
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    def saliency_curve(self, map_name: str, key: str) -> list[tuple[float, float]]:
        """(epoch, value) of the saliency monitor's ``{map_name}/{key}`` over the run."""
        k = f"{map_name}/{key}"
        return [(float(r["epoch"]), float(r[k])) for _, r in sorted(self.saliency.items())
                if k in r]

    def notes(self) -> list[str]:
        """Plain-language messages on what the folder lacks (no probe, no snapshots, no masks
        or metrics, unreadable snapshot files, not finished); none for a method in memory."""
        rd = self.rundir
        if rd is None:
            return []
        out, snapshots, skipped = [], self.snapshots, self.skipped
        if not self.probe:
            out.append(f"no probe images yet ({rd.probe_path} is missing): the run "
                       "has not started its first measurement; press Refresh later")
        if not snapshots:
            where = rd.snapshot_dir
            out.append(f"no snapshots in {where}" + (
                "" if where.is_dir() else " (the folder does not exist)") +
                ": nothing to show yet; the trainer writes one per epoch "
                "(train.snapshot_every); press Refresh while it runs")
        elif self.probe and self.masks is None:
            out.append("no ground-truth masks on the probe images: no mask outline, and "
                       "AUROC / IoU are not measured")
        elif not self.saliency:
            out.append("no saliency metrics in metrics.jsonl: AUROC and IoU are not shown")
        if skipped:
            out.append(f"skipped {len(skipped)} unreadable snapshot file(s) "
                       f"({', '.join(skipped)}): still being written? press Refresh")
        if snapshots and not rd.is_finished() and rd.exists():
            out.append(f"run not finished (no summary.json): {len(snapshots)} snapshot(s) "
                       "so far; Refresh reads new ones")
        return out


def load_run(run_dir, device: str | None = None, with_data: bool = True) -> Run:
    """The config, the trained method (eval mode) and the probe of a run, in one call; its
    data (``run.train`` / ``run.test``) is built on first use, so reading one run never
    decodes an image folder it does not need (``Run.load`` builds it at once).

    Raises:
        RunError / CheckpointError: no run there, or no checkpoint yet (the message says how
            to make one).
    """
    run = Run(RunDir(run_dir), device=device, with_data=with_data)
    run._load_method()
    if run.rundir.has_probe():
        run._probe = run.rundir.probe()
    return run


def as_run(run_or_method, train=None, test=None, transform=None) -> Run:
    """A ``Run`` from a ``Run``, a run directory (loaded with ``load_run``), or a method.

    ``train`` / ``test`` replace the run's data; for a method in memory ``transform`` defaults
    to the kit's test-time transform at the images' own size (ImageNet normalisation).

    Raises:
        RunError / EvalError: no run in the folder, no checkpoint, or not a method.
    """
    if isinstance(run_or_method, (str, os.PathLike)):
        path = Path(run_or_method)
        if not path.is_dir():
            raise EvalError(f"{str(path)!r} is not a folder; pass a run directory written by "
                            "`scd-lab train` (with config.yaml and checkpoints/last.pt)")
        run_or_method = load_run(path)
    if isinstance(run_or_method, Run):
        return run_or_method.with_data(train, test)
    return Run.of_method(run_or_method, train, test, transform)


__all__ = ["EvalError", "Run", "load_run", "as_run"]
