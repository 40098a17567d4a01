"""Runs from configs: ``build_run`` assembles a trainer, ``ensure_run`` trains, resumes or
reuses (``load_run``, in ``runs.load``, loads a finished or stopped run in one call).

    trainer = build_run(cfg, "runs/try")        # method, data, augmentation, monitors
    summary = trainer.fit()
    run = load_run("runs/try")                  # config, trained method (eval), data, probe
    maps = run.maps(run.test.images[:8])

``scd-lab train``, the demo, the evaluation, the benchmarks and the notebooks use these; no
code builds a ``Trainer`` to load a run.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from ..config import SYNTHETIC_KNOBS, Config, resolve, to_dict
from ..errors import RunError
from ..train.callbacks import KNNMonitor, SaliencyMonitor
from ..train.checkpoint import load_checkpoint
from ..rundir import RunDir
from ..train.device import setup_distributed
from ..train.trainer import Trainer
from ..data.sampling import seed_for
from ..data import build_datasets, TwoViewAugment
from ..methods import build_method

NUM_QUERIES = 2000  # held-out images the kNN monitor classifies
NUM_SALIENCY = 500  # held-out images with masks the saliency monitor measures


def build_data(d, num_workers: int = 0, stream: dict | None = None) -> tuple:
    """(train, test) ``ImageArray`` pair for a ``DataConfig`` (synthetic knobs applied).

    With ``d.stream`` and ``stream`` (the ``StreamingFolder`` arguments ``batch_size``,
    ``seed``, ``rank``, ``world`` of the trainer that will read it), train is a
    ``StreamingFolder``; without ``stream`` (``load_run``, the evaluation) it is decoded into
    memory as usual."""
    if not d.dataset.startswith("synthetic"):
        return build_datasets(d.dataset, d.image_size, d.root, num_workers=num_workers,
                              stream=stream if d.stream else None)
    extra = {k: getattr(d, k) for k in SYNTHETIC_KNOBS if getattr(d, k) is not None}
    return build_datasets(d.dataset, d.image_size, seed=d.seed, **extra)


def build_augment(d):
    """The ``TwoViewAugment`` of a resolved ``DataConfig``."""
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
                          world=world, decode=cfg.data.decode,
                          device=None if cfg.train.device == "auto" else cfg.train.device)
        data = build_data(cfg.data, cfg.train.num_workers, stream)
    train, test = data
    torch.manual_seed(cfg.train.seed)
    method = build_method(cfg, num_classes=train.num_classes)
    trainer = Trainer(method, train, build_augment(cfg.data), cfg.train, cfg.optim,
                      callbacks=build_monitors(cfg, train, test) + list(callbacks),
                      run_dir=rundir, run_config=cfg, device=device)
    if rundir is not None and not resume:  # after every check: a refused run leaves nothing
        rundir.write_config(cfg)
    if ckpt is not None:
        trainer.restore(ckpt)
    return trainer


def config_differences(a: Config, b: Config, ignore=()) -> dict[str, tuple]:
    """``{"section.key": (value in a, value in b)}`` of every key of ``a``'s sections where
    ``b`` differs, in ``a``'s order; the keys in ``ignore`` left out. Compare resolved configs
    (``resolve``) to see what a run would do differently.

    ``ensure_run`` names these when a folder holds a run of another config; the challenge
    lists a submission's changes from its starting point with them."""
    da, db = to_dict(a), to_dict(b)
    out = {}
    for section, values in da.items():
        if not isinstance(values, dict):
            continue
        for key, v in values.items():
            name = f"{section}.{key}"
            if name not in ignore and db[section].get(key) != v:
                out[name] = (v, db[section].get(key))
    return out


def _differences(asked: Config, there: Config) -> dict[str, tuple]:
    """The differences that stop ``ensure_run`` from reusing a run: ``{key: (asked, there)}``."""
    return config_differences(asked, there, ignore=("train.progress",))


def _slug(diff: dict[str, tuple]) -> str:
    """A folder-name suffix for the first two differences: ``alpha0.0``."""
    text = "-".join(f"{key.split('.')[-1]}{asked}" for key, (asked, _) in list(diff.items())[:2])
    return re.sub(r"[^A-Za-z0-9._=-]+", "", text)


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
            fresh = Path(out).with_name(f"{Path(out).name}-{_slug(diff)}")
            said = [f"{key}: {b!r} there, {a!r} asked" for key, (a, b) in diff.items()]
            raise RunError(f"{str(out)!r} holds a run of another config ({'; '.join(said[:3])}"
                           f"{'; ...' if len(said) > 3 else ''}); give this config a folder "
                           f"of its own: in a notebook set RUN to a new name (e.g. RUN = "
                           f"runs_root() / {fresh.name!r}), on the command line pass "
                           f"--out {fresh}; or delete {str(out)!r} to train it there")
        if rundir.is_finished():
            return rundir.summary()
        return build_run(None, out, resume=True, data=data, callbacks=callbacks).fit()
    return build_run(cfg, out, data=data, callbacks=callbacks).fit()
