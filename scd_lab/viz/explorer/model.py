"""The explorer's state model: plain Python, no widgets.

* Each run is a ``scd_lab.runs.Run`` opened with ``Run.open`` (``open_runs``): it reads the
  probe images, masks, snapshots and saliency metrics through ``RunDir`` without loading the
  method, and re-reads only new snapshot files on ``refresh()``. Labels live here, in
  ``ExplorerModel.runs`` (``{label: Run}``).
* ``ExplorerState`` is what the controls say; ``Panel`` is what one run shows for a state.
* ``ExplorerModel.panels(state)`` says which arrays each run shows for a state (epoch, image,
  map per run, polarity flip, opacity); ``ExplorerModel.overlay_png`` turns a panel into PNG
  bytes (drawn by ``render``), with caches so that a slider move recomputes nothing already
  seen. Tests drive this layer without a browser.
* ``reference_runs`` lists the runs the kit ships (``scd_lab.paths.reference_runs_dir``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from ...errors import RunError
from ...methods import order_maps
from ...paths import reference_runs_dir
from ...rundir import RunDir
from ...runs import Run
from .render import PanelPixels
from .space import FeatureSpace

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


def open_runs(run_dirs) -> dict[str, Run]:
    """``{label: Run}`` of ``as_run_dict(run_dirs)``, each opened with ``Run.open`` (the
    method is never loaded: the explorer reads the probe, snapshots and metrics).

    Raises:
        RunError: a path is not a folder (the message names its label).
    """
    runs = {}
    for label, path in as_run_dict(run_dirs).items():
        try:
            runs[label] = Run.open(path)
        except RunError as exc:
            raise RunError(f"run {label!r}: {exc}") from None
    return runs


def check_same_probe(runs: dict[str, Run]) -> None:
    """Raise ``ProbeMismatchError`` naming the first two runs (``{label: Run}``) whose probe
    images differ."""
    with_probe = [(label, r) for label, r in runs.items() if r.probe]
    for lb, b in with_probe[1:]:
        la, a = with_probe[0]
        ia, ib = a.probe["images"], b.probe["images"]
        if ia.shape != ib.shape or not torch.equal(ia, ib):
            what = (f"{tuple(ia.shape)} vs {tuple(ib.shape)} images" if ia.shape != ib.shape
                    else "the same number of images but different pixels")
            raise ProbeMismatchError(
                f"runs {la!r} ({a.path}) and {lb!r} ({b.path}) have different probe "
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

    Pixels (``overlay_png``, ``curve_png``, ``heat``, ``overlay``) come from ``PanelPixels``;
    ``space`` (a ``FeatureSpace``) gives each run's nearest neighbours and t-SNE layout of the
    probe set per snapshot.

    Raises:
        ProbeMismatchError: two runs have different probe images (the message names both).
        RunError: a path is not a folder, or no run has probe images yet.
    """

    def __init__(self, run_dirs, images=None, display: int = 192, cmap: str = "magma"):
        self.runs: dict[str, Run] = open_runs(run_dirs)
        check_same_probe(self.runs)
        if not any(r.probe for r in self.runs.values()):
            raise RunError("none of the runs has probe images yet (probe.pt): "
                           + ", ".join(f"{label!r} ({r.path})" for label, r in self.runs.items())
                           + "; start training, or wait for its first measurement")
        n = self.probe["images"].shape[0]
        if images is None:
            images = list(range(n))
        elif isinstance(images, int):
            images = list(range(min(images, n)))
        self.images = [int(i) for i in images if 0 <= int(i) < n]
        self.space = FeatureSpace(self.runs)  # neighbours and t-SNE layouts, per snapshot
        self._init_pixels(display, cmap)

    # shared probe
    @property
    def probe(self) -> dict:
        return next(r.probe for r in self.runs.values() if r.probe)

    @property
    def masks(self):
        return next((r.masks for r in self.runs.values() if r.masks is not None), None)

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

    def view(self, label: str) -> Run:
        """The run labelled ``label``."""
        try:
            return self.runs[label]
        except KeyError:
            raise KeyError(f"no run labelled {label!r}; runs: {self.labels}") from None

    @property
    def labels(self) -> list[str]:
        return list(self.runs)

    @property
    def timeline(self) -> list[float]:
        """Every epoch at which some run has a snapshot, sorted."""
        return sorted({e for r in self.runs.values() for e in r.epochs})

    def default_state(self) -> ExplorerState:
        """The last epoch, each run's ``default_map`` and the offered image whose object is
        largest (``clearest_image``)."""
        tl = self.timeline
        return ExplorerState(epoch=tl[-1] if tl else 0.0,
                             image=clearest_image(self.masks, self.images),
                             maps={label: r.default_map for label, r in self.runs.items()})

    def refresh(self) -> list[str]:
        """Re-read every run; returns the labels of runs that changed (their caches go).

        Raises:
            ProbeMismatchError: a probe that appeared differs from the others.
        """
        changed = []
        for label, r in self.runs.items():
            if r.refresh():
                changed.append(label)
                self._forget_curves(label)
                self.space.forget(label)
        check_same_probe(self.runs)  # a run reads a probe that appeared on first use
        return changed

    # state -> arrays
    def panel(self, state: ExplorerState, label: str) -> Panel:
        v = self.view(label)
        name = state.maps.get(label) or v.default_map
        p = Panel(label=label, image=state.image, map_name=name,
                  flipped=bool(state.flip.get(label, False)))
        if not v.probe or not v.snapshots:
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
        p.auroc = v.saliency_metric(p.step, name, "auroc")
        p.best_iou = v.saliency_metric(p.step, name, "best_iou")
        p.polarity = v.saliency_metric(p.step, name, "polarity")
        return p

    def panels(self, state: ExplorerState) -> list[Panel]:
        return [self.panel(state, label) for label in self.labels]


def clearest_image(masks, images: list[int]) -> int:
    """Of the probe indices ``images``, the one whose mask (N, H, W) covers the most pixels:
    an image whose object is plainly visible (the first on a tie; the first without masks,
    0 without images)."""
    if not images:
        return 0
    if masks is None:
        return images[0]
    area = masks[images].flatten(1).float().mean(1)  # (len(images),) foreground share
    return images[int(torch.argmax(area))]  # argmax: the first of equal maxima


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
            if p.is_dir() and (RunDir(p).snapshot_dir.is_dir() or RunDir(p).has_probe())}
    if group is not None:
        runs = {k: v for k, v in runs.items()
                if k.startswith(group + "-") or f"-{group}" in k}
    return runs
