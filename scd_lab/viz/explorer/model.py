"""The explorer's state model: plain Python, no widgets.

* ``RunView`` reads one run directory once (probe images, masks, snapshots, saliency
  metrics) and re-reads only new snapshot files on ``refresh()``.
* ``ExplorerState`` is what the controls say; ``Panel`` is what one run shows for a state.
* ``ExplorerModel.panels(state)`` says which arrays each run shows for a state (epoch, image,
  map per run, polarity flip, opacity); ``ExplorerModel.overlay_png`` turns a panel into PNG
  bytes (drawn by ``render``), with caches so that a slider move recomputes nothing already
  seen. Tests drive this layer without a browser.
* ``reference_runs`` lists the runs the kit ships (``scd_lab.paths.reference_runs_dir``).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from ...errors import RunError
from ...methods import default_map_name, order_maps
from ...paths import reference_runs_dir
from ...rundir import RunDir
from .render import PanelPixels

INVERTED_MARK = "▼ inverted"


class ProbeMismatchError(RunError):
    """Two runs were made on different probe images: their maps cannot be compared."""


def _natural_label(paths: list[Path]) -> list[str]:
    labels = [p.name or str(p) for p in paths]
    if len(set(labels)) < len(labels):  # same folder names: add the parent
        labels = [f"{p.parent.name}/{p.name}" for p in paths]
    if len(set(labels)) < len(labels):
        labels = [str(p) for p in paths]
    return labels


def as_run_dict(run_dirs) -> dict[str, Path]:
    """``{label: path}`` from a dict, a list of paths / ``RunDir``s, or one path."""
    if isinstance(run_dirs, (str, os.PathLike, RunDir)):
        run_dirs = [run_dirs]
    if isinstance(run_dirs, dict):
        items = {str(k): (v.path if isinstance(v, RunDir) else Path(v))
                 for k, v in run_dirs.items()}
    else:
        paths = [r.path if isinstance(r, RunDir) else Path(r) for r in run_dirs]
        items = dict(zip(_natural_label(paths), paths))
    if not items:
        raise RunError("no run directories given")
    return items


# Run files that RunDir does not name yet. RunDir.snapshots() loads every snapshot at once;
# the explorer reads them one file at a time (a torn file is skipped, a refresh reads only new
# files) and lists the reference runs without loading them. These three go to RunDir.
def _snapshot_files(rd: RunDir) -> list[Path]:
    return sorted(rd.snapshot_dir.glob("step_*.pt")) if rd.snapshot_dir.is_dir() else []


def _load_snapshot(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def _has_probe(rd: RunDir) -> bool:
    return (rd.path / "probe.pt").is_file()


class RunView:
    """One run directory, read once: probe, snapshots (by step), saliency metrics (by step).

    A snapshot file that cannot be read (a run still being written, a copy cut short) is
    skipped and named in ``notes``; ``refresh()`` reads the files that appeared (or failed)
    since, and the metrics again.
    """

    def __init__(self, label: str, path):
        self.label = label
        self.rundir = path if isinstance(path, RunDir) else RunDir(path)
        self.path = self.rundir.path
        if not self.path.is_dir():
            raise RunError(f"run {label!r}: {str(self.path)!r} is not a folder; pass a run "
                           "directory written by `scd-lab train` or `scd-lab demo`")
        self.probe: dict | None = None
        self.snapshots: list[dict] = []
        self.skipped: list[str] = []
        self.saliency: dict[int, dict] = {}
        self._loaded: dict[str, dict] = {}  # file name -> snapshot
        self.method = self._method()
        self.refresh()

    def _method(self) -> str | None:
        try:
            return self.rundir.config().method.name
        except Exception:  # reference runs may ship without config.yaml
            try:
                return self.rundir.meta().get("method")
            except Exception:
                return None

    def refresh(self) -> bool:
        """Read new snapshot files and the metrics again. Returns whether anything changed."""
        before = (len(self._loaded), len(self.saliency), self.probe is None)
        if self.probe is None:
            try:
                self.probe = self.rundir.probe()
            except Exception:  # not there yet, or being written
                self.probe = None
        self.skipped = []
        for f in _snapshot_files(self.rundir):
            if f.name in self._loaded:
                continue
            try:
                snap = _load_snapshot(f)
                if not isinstance(snap, dict) or "maps" not in snap:
                    raise ValueError("not a snapshot")
            except Exception:
                self.skipped.append(f.name)
                continue
            self._loaded[f.name] = snap
        self.snapshots = sorted(self._loaded.values(), key=lambda s: s["step"])
        self.saliency = {r["step"]: r for r in self.rundir.metrics("saliency")}
        return before != (len(self._loaded), len(self.saliency), self.probe is None)

    # what the run holds
    @property
    def masks(self):
        return None if self.probe is None else self.probe.get("masks")

    @property
    def epochs(self) -> list[float]:
        return [float(s["epoch"]) for s in self.snapshots]

    @property
    def map_names(self) -> list[str]:
        names: set[str] = set()
        for s in self.snapshots:
            names.update(s["maps"])
        return order_maps(names)

    @property
    def default_map(self) -> str | None:
        names = self.map_names
        if self.method:
            try:
                name = default_map_name(self.method)
                if name in names:
                    return name
            except Exception:
                pass
        return names[0] if names else None

    def snapshot_index_at(self, epoch: float) -> int | None:
        """The last snapshot at or before ``epoch`` (the first one if all come later)."""
        if not self.snapshots:
            return None
        idx = 0
        for i, e in enumerate(self.epochs):
            if e <= epoch + 1e-9:
                idx = i
        return idx

    def metric(self, step: int, map_name: str, key: str):
        v = self.saliency.get(step, {}).get(f"{map_name}/{key}")
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v

    def curve(self, map_name: str, key: str) -> list[tuple[float, float]]:
        """(epoch, value) of a saliency metric over the run."""
        return [(float(r["epoch"]), float(r[f"{map_name}/{key}"]))
                for _, r in sorted(self.saliency.items()) if f"{map_name}/{key}" in r]

    def notes(self) -> list[str]:
        """Plain-language messages on what this run lacks."""
        out = []
        if self.probe is None:
            out.append(f"no probe images yet ({self.path / 'probe.pt'} is missing): the run "
                       "has not started its first measurement; press Refresh later")
        if not self.snapshots:
            where = self.rundir.snapshot_dir
            out.append(f"no snapshots in {where}" + (
                "" if where.is_dir() else " (the folder does not exist)") +
                ": nothing to show yet; the trainer writes one per epoch "
                "(train.snapshot_every); press Refresh while it runs")
        elif self.probe is not None and self.masks is None:
            out.append("no ground-truth masks on the probe images: no mask outline, and "
                       "AUROC / IoU are not measured")
        elif not self.saliency:
            out.append("no saliency metrics in metrics.jsonl: AUROC and IoU are not shown")
        if self.skipped:
            out.append(f"skipped {len(self.skipped)} unreadable snapshot file(s) "
                       f"({', '.join(self.skipped)}): still being written? press Refresh")
        if self.snapshots and not self.rundir.is_finished() and self.rundir.exists():
            out.append(f"run not finished (no summary.json): {len(self.snapshots)} snapshot(s) "
                       "so far; Refresh reads new ones")
        return out


def check_same_probe(views: list[RunView]) -> None:
    """Raise ``ProbeMismatchError`` naming the first two runs whose probe images differ."""
    with_probe = [v for v in views if v.probe is not None]
    for v in with_probe[1:]:
        a, b = with_probe[0], v
        ia, ib = a.probe["images"], b.probe["images"]
        if ia.shape != ib.shape or not torch.equal(ia, ib):
            what = (f"{tuple(ia.shape)} vs {tuple(ib.shape)} images" if ia.shape != ib.shape
                    else "the same number of images but different pixels")
            raise ProbeMismatchError(
                f"runs {a.label!r} ({a.path}) and {b.label!r} ({b.path}) have different probe "
                f"sets ({what}); the explorer compares maps of the same images: use runs of "
                "one dataset, data.seed and train.probe_size, or open them in separate "
                "explorers")


@dataclass(frozen=True)
class ExplorerState:
    """What the controls say. ``epoch``: a value of ``ExplorerModel.timeline``; ``maps`` and
    ``flip``: per run label (missing: the run's default map, not flipped)."""

    epoch: float = 0.0
    image: int = 0
    maps: dict = field(default_factory=dict)
    flip: dict = field(default_factory=dict)
    opacity: float = 0.6
    show_mask: bool = True

    def with_(self, **kw) -> "ExplorerState":
        return replace(self, **kw)


@dataclass
class Panel:
    """What one run shows for a state: ``map`` is the raw (h, w) map of the chosen image (or
    ``None`` with a ``message``), ``inverted`` is ``auroc < 0.5`` (``None`` when unmeasured)."""

    label: str
    image: int
    map_name: str | None
    snapshot: int | None = None
    step: int | None = None
    epoch: float | None = None
    map: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    auroc: float | None = None
    best_iou: float | None = None
    polarity: int | None = None
    flipped: bool = False
    message: str = ""

    @property
    def inverted(self) -> bool | None:
        return None if self.auroc is None else self.auroc < 0.5

    def caption(self) -> str:
        """One line: map, epoch, step, AUROC and IoU, and the inverted mark."""
        if self.snapshot is None:
            return self.message
        parts = [f"{self.map_name}", f"epoch {self.epoch:g} (step {self.step})"]
        if self.auroc is not None:
            shown = 1 - self.auroc if self.flipped else self.auroc
            parts.append(f"AUROC {shown:.3f}" + (" (1 − map)" if self.flipped else ""))
        else:
            parts.append("AUROC n/a")
        if self.best_iou is not None:
            parts.append(f"best IoU {self.best_iou:.3f}")
        if self.inverted:
            parts.append(f"{INVERTED_MARK} (AUROC {self.auroc:.2f} < 0.5)")
        return " · ".join(parts)


class ExplorerModel(PanelPixels):
    """Runs sharing one probe set, and what to show for an ``ExplorerState``.

    Args:
        run_dirs: ``{label: path}`` or a list of run directories (labels: folder names).
        images: probe images offered by the picker: a count (the first ``n``), a list of
            indices, or ``None`` (all).
        display: side of the rendered overlays in pixels.

    Pixels (``overlay_png``, ``curve_png``, ``heat``, ``overlay``) come from ``PanelPixels``.

    Raises:
        ProbeMismatchError: two runs have different probe images (the message names both).
        RunError: a path is not a folder, or no run has probe images yet.
    """

    def __init__(self, run_dirs, images=None, display: int = 192, cmap: str = "magma"):
        self.views = [RunView(label, path) for label, path in as_run_dict(run_dirs).items()]
        check_same_probe(self.views)
        if all(v.probe is None for v in self.views):
            raise RunError("none of the runs has probe images yet (probe.pt): "
                           + ", ".join(f"{v.label!r} ({v.path})" for v in self.views)
                           + "; start training, or wait for its first measurement")
        n = self.probe["images"].shape[0]
        if images is None:
            images = list(range(n))
        elif isinstance(images, int):
            images = list(range(min(images, n)))
        self.images = [int(i) for i in images if 0 <= int(i) < n]
        self._init_pixels(display, cmap)

    # shared probe
    @property
    def probe(self) -> dict:
        return next(v.probe for v in self.views if v.probe is not None)

    @property
    def masks(self):
        return next((v.masks for v in self.views if v.masks is not None), None)

    @property
    def class_names(self) -> list[str]:
        return list(self.probe.get("class_names") or [])

    def image_options(self) -> list[tuple[str, int]]:
        labels = self.probe.get("labels")
        names = self.class_names
        out = []
        for i in self.images:
            text = f"#{i}"
            if labels is not None:
                c = int(labels[i])
                text += f" · {names[c] if c < len(names) else f'class {c}'}"
            out.append((text, i))
        return out

    def view(self, label: str) -> RunView:
        for v in self.views:
            if v.label == label:
                return v
        raise KeyError(f"no run labelled {label!r}; runs: {[v.label for v in self.views]}")

    @property
    def labels(self) -> list[str]:
        return [v.label for v in self.views]

    @property
    def timeline(self) -> list[float]:
        """Every epoch at which some run has a snapshot, sorted."""
        return sorted({e for v in self.views for e in v.epochs})

    def default_state(self) -> ExplorerState:
        tl = self.timeline
        return ExplorerState(epoch=tl[-1] if tl else 0.0,
                             image=self.images[0] if self.images else 0,
                             maps={v.label: v.default_map for v in self.views})

    def refresh(self) -> list[str]:
        """Re-read every run; returns the labels of runs that changed (their caches go)."""
        changed = []
        for v in self.views:
            had_probe = v.probe is not None
            if v.refresh():
                changed.append(v.label)
                self._forget_curves(v.label)
            if not had_probe and v.probe is not None:
                check_same_probe(self.views)
        return changed

    # state -> arrays
    def panel(self, state: ExplorerState, label: str) -> Panel:
        v = self.view(label)
        name = state.maps.get(label) or v.default_map
        p = Panel(label=label, image=state.image, map_name=name,
                  flipped=bool(state.flip.get(label, False)))
        if v.probe is None or not v.snapshots:
            p.message = " ".join(v.notes()[:1]) or "nothing to show"
            return p
        idx = v.snapshot_index_at(state.epoch)
        snap = v.snapshots[idx]
        p.snapshot, p.step, p.epoch = idx, int(snap["step"]), float(snap["epoch"])
        if name not in snap["maps"]:
            p.message = (f"map {name!r} is not in the snapshot at step {p.step} (it has "
                         f"{', '.join(order_maps(snap['maps']))})")
            p.snapshot = None
            return p
        p.map = snap["maps"][name][state.image]
        if state.show_mask and v.masks is not None:
            p.mask = v.masks[state.image]
        p.auroc = v.metric(p.step, name, "auroc")
        p.best_iou = v.metric(p.step, name, "best_iou")
        p.polarity = v.metric(p.step, name, "polarity")
        return p

    def panels(self, state: ExplorerState) -> list[Panel]:
        return [self.panel(state, label) for label in self.labels]

def reference_runs(group: str | None = None, root=None) -> dict[str, Path]:
    """The reference runs shipped under ``scd_lab/shipped/reference_runs/<name>/`` (name -> path); empty
    if none. ``group`` keeps the names that start with ``group + "-"`` or contain
    ``"-" + group`` (``"demo"``: the demo's runs; ``"distinct"``: the distinct-texture runs
    and their supervised ceiling), which share their probe images and can be shown together.
    ``root`` defaults to ``scd_lab.paths.reference_runs_dir()``."""
    root = Path(root) if root is not None else reference_runs_dir()
    if not root.is_dir():
        return {}
    runs = {p.name: p for p in sorted(root.iterdir())
            if p.is_dir() and (RunDir(p).snapshot_dir.is_dir() or _has_probe(RunDir(p)))}
    if group is not None:
        runs = {k: v for k, v in runs.items()
                if k.startswith(group + "-") or f"-{group}" in k}
    return runs
