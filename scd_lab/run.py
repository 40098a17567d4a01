"""Runs from configs: ``build_run`` assembles a trainer, ``load_run`` loads a finished (or
stopped) run in one call, ``ensure_run`` trains, resumes or reuses.

    trainer = build_run(cfg, "runs/try")        # method, data, augmentation, monitors
    summary = trainer.fit()
    run = load_run("runs/try")                  # config, trained method (eval), data, probe
    maps = run.maps(run.test.images[:8])

``scd-lab train``, the demo, the evaluation, the benchmarks and the notebooks use these; no
code builds a ``Trainer`` to load a run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import SYNTHETIC_KNOBS, Config, resolve, to_dict
from .errors import RunError
from .train.callbacks import KNNMonitor, SaliencyMonitor
from .train.checkpoint import load_checkpoint
from .train.rundir import RunDir
from .train.trainer import Trainer, seed_for, setup_distributed

NUM_QUERIES = 2000  # held-out images the kNN monitor classifies
NUM_SALIENCY = 500  # held-out images with masks the saliency monitor measures


def runs_root() -> Path:
    """Where runs go by default, whatever the working directory: ``$SCD_LAB_RUNS``, else
    ``runs/`` at the root of the repository this package was installed from (git-ignored),
    else ``./runs``."""
    if os.environ.get("SCD_LAB_RUNS"):
        return Path(os.environ["SCD_LAB_RUNS"])
    repo = Path(__file__).resolve().parents[1]
    if (repo / "pyproject.toml").is_file() and (repo / "scd_lab").is_dir():
        return repo / "runs"
    return Path.cwd() / "runs"


def build_data(d, num_workers: int = 0, stream: dict | None = None) -> tuple:
    """(train, test) ``ImageArray`` pair for a ``DataConfig`` (synthetic knobs applied).

    With ``d.stream`` and ``stream`` (the ``StreamingFolder`` arguments ``batch_size``,
    ``seed``, ``rank``, ``world`` of the trainer that will read it), train is a
    ``StreamingFolder``; without ``stream`` (``load_run``, the evaluation) it is decoded into
    memory as usual."""
    from .data import build_datasets
    if not d.dataset.startswith("synthetic"):
        return build_datasets(d.dataset, d.image_size, d.root, num_workers=num_workers,
                              stream=stream if d.stream else None)
    extra = {k: getattr(d, k) for k in SYNTHETIC_KNOBS if getattr(d, k) is not None}
    return build_datasets(d.dataset, d.image_size, seed=d.seed, **extra)


def build_augment(d):
    """The ``TwoViewAugment`` of a resolved ``DataConfig``."""
    from .data import TwoViewAugment
    return TwoViewAugment(d.augment, d.crop_size, d.crop_scale_min)


def monitor_sets(cfg: Config, train, test) -> dict:
    """The images each monitor owns, drawn from the seed: ``bank`` (training images for kNN),
    ``queries`` (held-out), ``probe`` (held-out images whose maps are snapshotted) and
    ``held`` (held-out images with masks for the saliency figures, or ``None``)."""
    t = cfg.train
    g = torch.Generator().manual_seed(seed_for(t.seed, 777))
    bank_idx = torch.randperm(len(train), generator=g)[: t.knn_bank_size or len(train)]
    first = lambda n: test.subset(torch.arange(min(n, len(test))))  # noqa: E731
    return {"bank": train.subset(bank_idx), "queries": first(NUM_QUERIES),
            "probe": first(t.probe_size),
            "held": first(NUM_SALIENCY) if test.masks is not None else None}


def build_monitors(cfg: Config, train, test) -> list:
    """The kNN and saliency monitors of a config."""
    s, t = monitor_sets(cfg, train, test), cfg.train
    return [KNNMonitor(s["bank"], s["queries"], t.knn_k, t.knn_tau, t.knn_every),
            SaliencyMonitor(s["probe"], s["held"], t.snapshot_every)]


def build_run(cfg: Config | None, out=None, *, resume: bool = False, data=None, callbacks=(),
              device: str | None = None) -> Trainer:
    """A ``Trainer`` for ``cfg``: method, data, augmentation and monitors built from it.

    Args:
        cfg: the config (resolved here); ``None`` with ``resume=True`` (the run's own config).
        out: the run directory (``None``: nothing written, records in ``trainer.history``).
        resume: continue the run in ``out`` from its last checkpoint (from step 0 if it was
            stopped before its first checkpoint).
        data: optional (train, test) pair instead of building ``cfg.data`` (train: an
            ``ImageArray`` or a ``StreamingFolder``; ``data.stream=true`` builds the latter).
        callbacks: extra ``Callback`` objects after the monitors.
        device: override the automatic device.

    Raises:
        RunError: ``out`` already holds a run (and ``resume`` is off), or holds none to resume.
    """
    rundir = RunDir(out) if out is not None else None
    ckpt = None
    if resume:
        if rundir is None:
            raise RunError("resume needs the run directory")
        cfg = rundir.config()
        if rundir.last_checkpoint.exists():
            ckpt = load_checkpoint(rundir.last_checkpoint)
    elif rundir is not None and rundir.exists():
        state = "a finished run" if rundir.is_finished() else "a stopped run"
        raise RunError(f"{str(out)!r} already holds {state}; "
                       + (f"continue it with `scd-lab train --resume {out}`, " if
                          not rundir.is_finished() else "")
                       + "choose another --out, or delete the folder")
    if cfg is None:
        raise RunError("build_run needs a config (or resume=True and a run directory)")
    cfg = resolve(cfg)
    if data is None:
        stream = None
        if cfg.data.stream:  # this process's shard of the trainer's batches
            rank, world, _ = setup_distributed()
            stream = dict(batch_size=cfg.train.batch_size, seed=cfg.train.seed, rank=rank,
                          world=world)
        data = build_data(cfg.data, cfg.train.num_workers, stream)
    train, test = data
    torch.manual_seed(cfg.train.seed)
    from .methods import build_method
    method = build_method(cfg, num_classes=train.num_classes)
    trainer = Trainer(method, train, build_augment(cfg.data), cfg.train, cfg.optim,
                      callbacks=build_monitors(cfg, train, test) + list(callbacks),
                      run_dir=rundir, config=cfg, device=device)
    if rundir is not None and not resume:  # after every check: a refused run leaves nothing
        rundir.write_config(cfg)
    if ckpt is not None:
        trainer.restore(ckpt)
    return trainer


def _differences(a: Config, b: Config, ignore=("train.progress",)) -> list[str]:
    da, db = to_dict(a), to_dict(b)
    out = []
    for section, values in da.items():
        if not isinstance(values, dict):
            continue
        for key, v in values.items():
            if f"{section}.{key}" not in ignore and db[section].get(key) != v:
                out.append(f"{section}.{key}: {db[section].get(key)!r} there, {v!r} asked")
    return out


def is_finished_run_of(cfg: Config, out) -> bool:
    """True when ``out`` holds a finished run of ``cfg`` (``train.progress`` aside): one that
    ``ensure_run(cfg, out)`` would reuse as it is, e.g. a run of ``scd-lab demo``."""
    rundir = RunDir(out)
    return rundir.is_finished() and not _differences(resolve(cfg), rundir.config())


def ensure_run(cfg: Config, out, data=None, callbacks=()) -> dict:
    """Train ``cfg`` into ``out`` unless it is already there: a finished run is reused, a
    stopped one resumed. Returns the run's summary. Rerunning a notebook cell is safe.

    Raises:
        RunError: ``out`` holds a run of another config (the message names the differences).
    """
    rundir = RunDir(out)
    if rundir.exists():
        diff = _differences(resolve(cfg), rundir.config())
        if diff:
            raise RunError(f"{str(out)!r} holds a run of another config ({'; '.join(diff[:3])}"
                           f"{'; ...' if len(diff) > 3 else ''}); choose another folder or "
                           "delete it")
        if rundir.is_finished():
            return rundir.summary()
        return build_run(None, out, resume=True, data=data, callbacks=callbacks).fit()
    return build_run(cfg, out, data=data, callbacks=callbacks).fit()


@dataclass
class Run:
    """A loaded run: what ``load_run`` returns.

    cfg: the resolved config. method: the trained method, in eval mode, on ``device``.
    step, epoch: where its checkpoint stands. augment: its augmentation (``eval_input`` is
    the test-time transform). train, test: its data (``None`` with ``with_data=False``).
    probe: the probe images, labels and masks the monitors snapshotted. rundir: its files.
    """

    path: Path
    cfg: Config
    method: torch.nn.Module
    step: int
    epoch: float
    augment: object
    device: torch.device
    train: object
    test: object
    probe: dict
    rundir: RunDir

    def eval_input(self, images: torch.Tensor) -> torch.Tensor:
        return self.augment.eval_input(images.to(self.device))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """GAP features of uint8 images (N, 3, H, W) -> (N, C)."""
        from .eval.features import embed
        return embed(self.method.features, images, self.eval_input)

    def maps(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every named map of uint8 images: {name: (N, h, w)}."""
        from .eval.features import method_maps
        return method_maps(self.method, images, self.eval_input)

    def monitor_sets(self) -> dict:
        """The images the run's monitors used (``scd_lab.run.monitor_sets``)."""
        if self.train is None:
            raise RunError("this run was loaded with with_data=False")
        return monitor_sets(self.cfg, self.train, self.test)


def load_run(run_dir, device: str | None = None, with_data: bool = True) -> Run:
    """The config, the trained method (eval mode), the data and the probe of a run, in one call.

    Raises:
        RunError / CheckpointError: no run there, or no checkpoint yet (the message says how
            to make one).
    """
    rundir = RunDir(run_dir)
    cfg = rundir.config()
    if not rundir.last_checkpoint.exists():
        raise RunError(f"{str(run_dir)!r} has no checkpoint yet (a run writes one at the end of "
                       f"each epoch); let it train, or resume it with "
                       f"`scd-lab train --resume {run_dir}`")
    ckpt = load_checkpoint(rundir.last_checkpoint)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    from .methods import build_method
    head = ckpt["model"].get("head.weight")  # the supervised reference's classifier
    method = build_method(cfg, num_classes=None if head is None else head.shape[0])
    method.load_state_dict(ckpt["model"])
    method.to(dev).eval()
    train = test = None
    if with_data:
        train, test = build_data(cfg.data, cfg.train.num_workers)
    probe = rundir.probe() if (rundir.path / "probe.pt").is_file() else {}
    return Run(rundir.path, cfg, method, int(ckpt["step"]), float(ckpt["epoch"]),
               build_augment(cfg.data), dev, train, test, probe, rundir)
