"""The run directory: the one format that the trainer writes and notebooks, widgets and
evaluation read.

    RUN_DIR/
      config.yaml              the resolved config (``scd_lab.config.load_yaml`` reads it);
                               written by ``build_run``, absent for a hand-built method
      meta.json                versions, device, world size, method, start time
      metrics.jsonl            one JSON object per line, each with "kind", "step" (steps done)
                               and "epoch" (epochs completed: step / steps per epoch):
                                 kind "train":    loss terms, lr, momentum, images_per_s,
                                                  max_mem_gb, map statistics (e.g. scd_fg_mean)
                                 kind "knn":      knn_top1 (k = train.knn_k), knn_top1_k200
                                 kind "saliency": per map name, metrics against the masks of
                                                  held-out images (auroc, best_iou, ...) and the
                                                  collapse / shortcut / polarity statistics
                                 kind "summary":  the final results (also in summary.json)
      probe.pt                 probe images uint8 (P, 3, H, W), labels (P,), masks (P, H, W)
      snapshots/step_XXXXXXX.pt  maps of the probe images at one step:
                                 {"step", "epoch", "maps": {name: float16 (P, h, w)},
                                  "features": float16 (P, C)}: the probe images' embedding
                                 (``method.features``, GAP of the online encoder), for the
                                 feature-space views; absent in runs made before it was kept
      checkpoints/last.pt      the latest checkpoint (written atomically)
      summary.json             the final results of the run
      eval/                    what ``scd-lab eval`` and the studies measured afterwards:
                               ``NAME.json`` figures (``read_eval`` / ``write_eval``) and
                               ``NAME.pt`` tensors (``load_eval_tensors`` / ``save_eval_tensors``)
      export/                  the trunk exported for torchvision / detectron2

Every file is written by process 0 only. ``.pt`` files load with ``weights_only=True``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .config import RUN_FOLDER_LEGACY, Config, load_yaml, save_yaml
from .errors import RunError
from .io import atomic_torch_save

EVAL_DIR = "eval"


class _InRun:
    """A path inside the run folder, read as an attribute: ``rundir.probe_path``."""

    def __init__(self, *parts: str):
        self.parts = parts

    def __get__(self, rundir, owner=None):
        return self if rundir is None else rundir.path.joinpath(*self.parts)


class RunDir:
    """Read and write one run directory (see module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # paths
    config_path = _InRun("config.yaml")
    metrics_path = _InRun("metrics.jsonl")
    last_checkpoint = _InRun("checkpoints", "last.pt")
    snapshot_dir = _InRun("snapshots")
    summary_path = _InRun("summary.json")
    meta_path = _InRun("meta.json")
    probe_path = _InRun("probe.pt")
    eval_dir = _InRun(EVAL_DIR)
    export_dir = _InRun("export")

    def eval_path(self, name: str) -> Path:
        """``RUN/eval/name`` (a file, or a folder of tables and figures)."""
        return self.eval_dir / name

    def exists(self) -> bool:
        return self.config_path.is_file()

    def is_finished(self) -> bool:
        return self.summary_path.is_file()

    def has_checkpoint(self) -> bool:
        return self.last_checkpoint.is_file()

    def has_probe(self) -> bool:
        return self.probe_path.is_file()

    # writing
    def write_config(self, cfg: Config) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        save_yaml(cfg, self.config_path)

    def start(self, meta: dict, start_step: int) -> None:
        """Called by ``Trainer.fit``: a new run writes ``meta.json``; a resumed one drops the
        records and snapshots past ``start_step`` (those steps will be run again)."""
        (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)
        self.snapshot_dir.mkdir(exist_ok=True)
        if start_step == 0:
            for stale in (self.metrics_path, self.summary_path):
                stale.unlink(missing_ok=True)
            for snap in self.snapshot_dir.glob("step_*.pt"):
                snap.unlink()
            self.write_meta(meta)
        else:
            self.truncate_metrics(start_step)

    def write_meta(self, meta: dict) -> None:
        """``meta.json``: what made the run (``Trainer.fit`` via ``start``; a folder another
        command writes, e.g. the supervised ceiling's, names its ``default_map`` there)."""
        _write_json(self.meta_path, meta)

    def log(self, record: dict) -> None:
        """Append one JSON line (floats from tensors are converted)."""
        clean = {k: (v.item() if isinstance(v, torch.Tensor) else v) for k, v in record.items()}
        with open(self.metrics_path, "a") as fh:
            fh.write(json.dumps(clean) + "\n")

    def truncate_metrics(self, step: int) -> None:
        """Drop records past ``step`` (used on resume: those steps will be run again)."""
        if not self.metrics_path.is_file():
            return
        keep = [r for r in self.metrics() if r.get("step", 0) <= step
                and r.get("kind") != "summary"]
        tmp = self.metrics_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in keep))
        os.replace(tmp, self.metrics_path)
        for snap in self.snapshot_dir.glob("step_*.pt"):
            if int(snap.stem.split("_")[1]) > step:
                snap.unlink()

    def save_probe(self, images, labels, masks, class_names=None) -> None:
        atomic_torch_save({"images": images.cpu(), "labels": labels.cpu(),
                           "masks": None if masks is None else masks.cpu(),
                           "class_names": list(class_names or [])},
                          self.probe_path)

    def save_snapshot(self, step: int, epoch: int, maps: dict, features=None) -> None:
        """Write one snapshot: ``maps`` {name: (P, h, w)} and, when given, the probe
        images' ``features`` (P, C), both as float16."""
        snap = {"step": step, "epoch": epoch,
                "maps": {k: v.detach().cpu().to(torch.float16) for k, v in maps.items()}}
        if features is not None:
            snap["features"] = features.detach().cpu().to(torch.float16)
        atomic_torch_save(snap, self.snapshot_dir / f"step_{step:07d}.pt")

    def write_summary(self, summary: dict) -> None:
        _write_json(self.summary_path, summary)

    def write_eval(self, name: str, obj: dict) -> Path:
        """Write ``RUN/eval/{name}.json`` atomically (the folder is created)."""
        path = self.eval_path(f"{name}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_json(path, obj)
        return path

    def save_eval_tensors(self, name: str, obj) -> Path:
        """``torch.save`` of ``obj`` to ``RUN/eval/{name}.pt`` (the folder is created)."""
        path = self.eval_path(f"{name}.pt")
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(obj, path)
        return path

    # reading
    def config(self) -> Config:
        if not self.config_path.is_file():
            raise RunError(f"{str(self.path)!r} holds no run (no config.yaml); start one with "
                           f"`scd-lab train --out {self.path}`")
        return load_yaml(self.config_path, missing=RUN_FOLDER_LEGACY)

    def meta(self) -> dict:
        return json.loads(self.meta_path.read_text())

    def metrics(self, kind: str | None = None) -> list[dict]:
        """All metric records (optionally of one ``kind``), in order. A torn last line from a
        killed process is skipped."""
        if not self.metrics_path.is_file():
            return []
        out = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if kind is None or rec.get("kind") == kind:
                out.append(rec)
        return out

    def probe(self) -> dict:
        return torch.load(self.probe_path, weights_only=True)

    def snapshot_files(self) -> list[Path]:
        """The snapshot files, in step order (none when the folder does not exist)."""
        if not self.snapshot_dir.is_dir():
            return []
        return sorted(self.snapshot_dir.glob("step_*.pt"))

    @staticmethod
    def read_snapshot(path) -> dict:
        """One snapshot file: {"step", "epoch", "maps"}.

        Raises:
            ValueError: the file holds no snapshot; torch's errors for a file cut short.
        """
        snap = torch.load(path, weights_only=True)
        if not isinstance(snap, dict) or "maps" not in snap:
            raise ValueError("not a snapshot")
        return snap

    def snapshots(self) -> list[dict]:
        """Every saliency snapshot, sorted by step: [{"step", "epoch", "maps"}, ...]."""
        return [torch.load(p, weights_only=True) for p in self.snapshot_files()]

    def summary(self) -> dict:
        return json.loads(self.summary_path.read_text())

    def read_eval(self, name: str) -> dict | None:
        """``RUN/eval/{name}.json``, or None when there is none (a torn file raises
        ``json.JSONDecodeError``)."""
        path = self.eval_path(f"{name}.json")
        return json.loads(path.read_text()) if path.is_file() else None

    def load_eval_tensors(self, name: str):
        """``RUN/eval/{name}.pt`` (``weights_only``), or None when there is none."""
        path = self.eval_path(f"{name}.pt")
        return torch.load(path, weights_only=True) if path.is_file() else None


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)
