"""Saliency explorer: several runs side by side, scrubbed through epochs in a notebook.

    from scd_lab.viz import Explorer
    Explorer({"SCD-BYOL": "runs/demo/scd-byol", "LEWEL-BYOL": "runs/demo/lewel-byol"})

Two layers:

* ``RunView`` / ``ExplorerModel`` / ``ExplorerState`` / ``Panel``: plain Python, no widgets. A
  ``RunView`` reads one run directory once (probe images, masks, snapshots, saliency metrics)
  and re-reads only new snapshot files on ``refresh()``. ``ExplorerModel.panels(state)`` says
  which arrays each run shows for a state (epoch, image, map per run, polarity flip, opacity);
  ``ExplorerModel.overlay_png`` turns a panel into PNG bytes, with caches so that a slider move
  recomputes nothing already seen. Tests drive this layer without a browser.
* ``Explorer``: the ipywidgets front end. Every control's observer calls ``update()``, which
  swaps PNG bytes into existing ``ipywidgets.Image`` widgets (no matplotlib redraw); the time
  of the last update is kept in ``Explorer.last_update_s``.

Conventions (as in ``plot_saliency_evolution``): each map is min-max normalised per image and
upsampled bilinearly; AUROC and best IoU are the ones the saliency monitor measured on
held-out masks at the snapshot's step (``metrics.jsonl``, kind "saliency"); a map whose AUROC
is below 0.5 is marked "▼ inverted" (1 - map marks the object better).
"""
from __future__ import annotations

import io
import json
import math
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import RunError
from ..rundir import RunDir
from ..config import apply_overrides, get_preset
from ..paths import reference_runs_dir
from ..runs.build import ensure_run
from ..paths import runs_root
from ..methods import default_map_name

# maps shown first in the map picker, in this order; any other snapshot map (slot maps,
# Grad-CAM, ...) follows in name order
MAP_ORDER = ("scd_fg", "lewel_maxvar", "channel_sum")
INVERTED_MARK = "▼ inverted"
MASK_RGB = (0, 255, 255)  # outline of the ground-truth mask


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


def order_maps(names) -> list[str]:
    names = set(names)
    return [n for n in MAP_ORDER if n in names] + sorted(names - set(MAP_ORDER))


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
                return json.loads((self.path / "meta.json").read_text()).get("method")
            except Exception:
                return None

    def refresh(self) -> bool:
        """Read new snapshot files and the metrics again. Returns whether anything changed."""
        before = (len(self._loaded), len(self.saliency), self.probe is None)
        if self.probe is None and (self.path / "probe.pt").is_file():
            try:
                self.probe = self.rundir.probe()
            except Exception:  # being written
                self.probe = None
        self.skipped = []
        files = sorted(self.rundir.snapshot_dir.glob("step_*.pt")) \
            if self.rundir.snapshot_dir.is_dir() else []
        for f in files:
            if f.name in self._loaded:
                continue
            try:
                snap = torch.load(f, weights_only=True)
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


def _colormap_lut(name: str = "magma") -> np.ndarray:
    from matplotlib import colormaps
    return (colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 array (fast settings: the browser decodes any)."""
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _outline(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a boolean (H, W) mask (the mask minus its 3x3 erosion)."""
    m = np.pad(mask, 1, mode="edge")
    eroded = mask.copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            eroded &= m[dy:dy + mask.shape[0], dx:dx + mask.shape[1]]
    return mask & ~eroded


def colorbar_png(height: int = 192, width: int = 14, cmap: str = "magma") -> bytes:
    """A vertical colour bar (1 at the top) as PNG bytes."""
    lut = _colormap_lut(cmap)
    col = lut[np.linspace(255, 0, height).round().astype(int)]
    return png_bytes(np.repeat(col[:, None, :], width, axis=1))


class _LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class ExplorerModel:
    """Runs sharing one probe set, and what to show for an ``ExplorerState``.

    Args:
        run_dirs: ``{label: path}`` or a list of run directories (labels: folder names).
        images: probe images offered by the picker: a count (the first ``n``), a list of
            indices, or ``None`` (all).
        display: side of the rendered overlays in pixels.

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
        self.display = int(display)
        self.lut = _colormap_lut(cmap)
        self._base = None  # display-size probe images (P, D, D, 3) float32
        self._outlines = None  # (P, D, D) bool
        self._heat = _LRU(512)  # (label, map, snapshot, image, flip) -> (D, D, 3) float32
        self._png = _LRU(1024)  # full key -> PNG bytes
        self._curves: dict = {}  # (label, map) -> (rgb, x_of_epoch, (y0, y1))
        self._curve_png = _LRU(512)

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
                self._curves = {k: c for k, c in self._curves.items() if k[0] != v.label}
                for cache in (self._curve_png,):
                    for k in [k for k in cache if k[0] == v.label]:
                        del cache[k]
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

    # arrays -> pixels
    def _display_base(self):
        if self._base is None:
            from PIL import Image
            D = self.display
            imgs = self.probe["images"].permute(0, 2, 3, 1).numpy()  # (P, H, W, 3) uint8
            self._base = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(x)).resize(
                (D, D), Image.NEAREST)) for x in imgs]).astype(np.float32)
            masks = self.masks
            if masks is not None:
                m = [np.asarray(Image.fromarray((mk.numpy() > 0).astype(np.uint8) * 255)
                                .resize((D, D), Image.NEAREST)) > 127 for mk in masks]
                self._outlines = np.stack([_outline(x) for x in m])
        return self._base

    def heat(self, label: str, map_name: str, snapshot: int, image: int,
             flip: bool) -> np.ndarray:
        """Colour-mapped (D, D, 3) map of one probe image at one snapshot: min-max normalised,
        upsampled bilinearly (half-pixel centres, as ``F.interpolate(align_corners=False)``);
        computed on first use, then cached. NumPy and PIL only: small torch ops cost tens of
        milliseconds each on a busy CPU."""
        def make():
            from PIL import Image
            m = self.view(label).snapshots[snapshot]["maps"][map_name][image]
            m = m.float().numpy().astype(np.float32)
            lo, hi = float(m.min()), float(m.max())
            m = (m - lo) / (hi - lo) if hi - lo > 1e-8 else np.zeros_like(m)
            D = self.display
            m = np.asarray(Image.fromarray(m, mode="F").resize((D, D), Image.BILINEAR))
            m = np.clip(m, 0, 1)
            if flip:
                m = 1 - m
            return self.lut[(m * 255).round().astype(np.uint8)].astype(np.float32)
        return self._heat.get_or((label, map_name, snapshot, image, bool(flip)), make)

    def overlay(self, panel: Panel, opacity: float) -> np.ndarray:
        """(D, D, 3) uint8: the image, the map blended at ``opacity``, the mask outline."""
        base = self._display_base()[panel.image]
        if panel.map is None:
            rgb = base
        else:
            heat = self.heat(panel.label, panel.map_name, panel.snapshot, panel.image,
                             panel.flipped)
            rgb = base * (1 - opacity) + heat * opacity
        rgb = rgb.round().astype(np.uint8)
        if panel.mask is not None and self._outlines is not None:
            rgb[self._outlines[panel.image]] = MASK_RGB
        return rgb

    def overlay_png(self, panel: Panel, opacity: float) -> bytes:
        key = (panel.label, panel.map_name, panel.snapshot, panel.image, panel.flipped,
               round(float(opacity), 3), panel.mask is not None)
        return self._png.get_or(key, lambda: png_bytes(self.overlay(panel, opacity)))

    def curve_png(self, label: str, map_name: str | None, epoch: float | None,
                  size=(260, 120)) -> bytes:
        """AUROC and best IoU over epochs (rendered once per run and map) with a vertical
        marker at ``epoch`` (drawn into a copy of the pixels)."""
        key = (label, map_name, epoch, size)
        return self._curve_png.get_or(key, lambda: self._curve_marked(label, map_name, epoch,
                                                                     size))

    def _curve_marked(self, label, map_name, epoch, size) -> bytes:
        ck = (label, map_name, size)
        if ck not in self._curves:
            self._curves[ck] = _render_curve(self.view(label), map_name, size)
        rgb, x_of, (y0, y1) = self._curves[ck]
        out = rgb.copy()
        if epoch is not None and x_of is not None:
            x = int(round(x_of(epoch)))
            if 0 <= x < out.shape[1]:
                out[y0:y1, max(x - 1, 0):x + 1] = (214, 39, 40)
        return png_bytes(out)


def _render_curve(view: RunView, map_name: str | None, size):
    """Pixels of a small AUROC / best-IoU plot (drawn with PIL: about a millisecond, so a new
    map costs no matplotlib figure) and the epoch -> pixel column mapping."""
    from PIL import Image, ImageDraw

    w, h = size
    im = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(im)
    left, right, top, bottom = 26, w - 6, 14, h - 16
    auc = view.curve(map_name, "auroc") if map_name else []
    iou = view.curve(map_name, "best_iou") if map_name else []
    epochs = view.epochs or [e for e, _ in auc] or [0.0, 1.0]
    lo, hi = min(epochs), max(epochs)
    if hi <= lo:
        hi = lo + 1
    pad = 0.04 * (hi - lo)

    def x_of(epoch: float) -> float:
        return left + (epoch - (lo - pad)) / (hi - lo + 2 * pad) * (right - left)

    def y_of(v: float) -> float:
        return bottom - v * (bottom - top)

    d.rectangle((left, top, right, bottom), outline=(120, 120, 120))
    for v in (0.0, 0.5, 1.0):
        y = y_of(v)
        if 0 < v < 1:
            for x in range(left + 1, right, 4):  # dashed chance line
                d.line((x, y, min(x + 1, right), y), fill=(170, 170, 170))
        d.text((2, y - 5), f"{v:.1f}", fill=(60, 60, 60))
    for e in sorted(set(epochs)):
        x = x_of(e)
        d.line((x, bottom, x, bottom + 2), fill=(120, 120, 120))
    d.text((left, bottom + 3), f"{lo:g}", fill=(60, 60, 60))
    d.text((right - 6 * len(f"{hi:g}"), bottom + 3), f"{hi:g}", fill=(60, 60, 60))
    d.text(((left + right) // 2 - 15, bottom + 3), "epoch", fill=(60, 60, 60))
    for pts, colour, name, tx in ((auc, (31, 119, 180), "AUROC", left + 2),
                                  (iou, (44, 160, 44), "best IoU", left + 50)):
        if not pts:
            continue
        xy = [(x_of(e), y_of(max(0.0, min(1.0, v)))) for e, v in pts]
        if len(xy) > 1:
            d.line(xy, fill=colour, width=2)
        for x, y in xy:
            d.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
        d.text((tx, 1), name, fill=colour)
    if not auc and not iou:
        d.text((left + 8, (top + bottom) // 2 - 5), "no saliency metrics", fill=(110, 110, 110))
    return np.asarray(im).copy(), x_of, (top + 1, bottom)


class Explorer:
    """The notebook widget: runs side by side, scrubbed through epochs.

    Controls: an epoch slider with a Play button, an image picker, an opacity slider, a mask
    checkbox, a Refresh button; per run a map picker and a polarity-flip checkbox. Per run it
    shows the overlay, a caption (epoch, step, AUROC, best IoU, "▼ inverted" when AUROC < 0.5),
    a small AUROC / best-IoU plot with a marker at the current epoch, and notes on what the
    run lacks. Display it as the last expression of a cell (or ``display(explorer.widget)``).

    Args: see ``ExplorerModel`` (``run_dirs``, ``images``, ``display``); ``play_interval_ms``:
    the Play button's speed.
    """

    def __init__(self, run_dirs, images=None, display: int = 192, play_interval_ms: int = 700):
        import ipywidgets as W

        self.model = ExplorerModel(run_dirs, images=images, display=display)
        m = self.model
        self.state = m.default_state()
        self.last_update_s = 0.0
        self.update_times: list[float] = []
        self._muted = False
        tl = m.timeline
        self.epoch_slider = W.IntSlider(value=max(len(tl) - 1, 0), min=0,
                                        max=max(len(tl) - 1, 0), description="epoch",
                                        readout=False, continuous_update=True)
        self.epoch_label = W.HTML()
        self.play = W.Play(value=self.epoch_slider.value, min=0, max=self.epoch_slider.max,
                           interval=play_interval_ms, description="play")
        W.jslink((self.play, "value"), (self.epoch_slider, "value"))
        self.image_picker = W.Dropdown(options=m.image_options(), value=self.state.image,
                                       description="image")
        self.opacity = W.FloatSlider(value=self.state.opacity, min=0, max=1, step=0.05,
                                     description="opacity", readout_format=".2f")
        self.mask_box = W.Checkbox(value=self.state.show_mask, description="mask outline",
                                   indent=False)
        self.refresh_button = W.Button(description="Refresh", icon="refresh",
                                       tooltip="re-read the snapshots of runs still running")
        self.status = W.HTML()
        for w, cls in ((self.epoch_slider, "scd-epoch"), (self.play, "scd-play"),
                       (self.image_picker, "scd-image-picker"), (self.opacity, "scd-opacity"),
                       (self.refresh_button, "scd-refresh")):
            w.add_class(cls)

        self.map_pickers, self.flip_boxes, self.images_w, self.curves_w = {}, {}, {}, {}
        self.captions, self.notes_w = {}, {}
        columns = []
        for v in m.views:
            lab = v.label
            opts = v.map_names or ["(none)"]
            picker = W.Dropdown(options=opts, value=self.state.maps.get(lab) or opts[0],
                                description="map", layout=W.Layout(width=f"{display + 40}px"))
            picker.add_class("scd-map-picker")
            flip = W.Checkbox(value=False, description="flip polarity (1 − map)", indent=False)
            img = W.Image(format="png", width=display, height=display)
            img.add_class("scd-overlay")
            curve = W.Image(format="png")
            curve.add_class("scd-curve")
            self.map_pickers[lab], self.flip_boxes[lab] = picker, flip
            self.images_w[lab], self.curves_w[lab] = img, curve
            self.captions[lab], self.notes_w[lab] = W.HTML(), W.HTML()
            title = W.HTML(f"<b>{_esc(lab)}</b> <span style='color:#666'>"
                           f"{_esc(v.method or '')}</span>")
            columns.append(W.VBox([title, picker, flip, img, self.captions[lab], curve,
                                   self.notes_w[lab]],
                                  layout=W.Layout(width=f"{display + 70}px",
                                                  margin="0 8px 0 0")))
            picker.observe(self._on_change, "value")
            flip.observe(self._on_change, "value")
        self.colorbar = W.Image(value=colorbar_png(display), format="png", width=14,
                                height=display, layout=W.Layout(width="14px", height=f"{display}px",
                                                                object_fit="fill"))
        cbar = W.VBox([W.HTML("<small>1</small>"), self.colorbar,
                       W.HTML("<small>0</small>"),
                       W.HTML("<small>map<br>(min-max<br>per image)</small>")],
                      layout=W.Layout(margin="62px 0 0 0", width="80px"))
        cbar.add_class("scd-colorbar")
        for w in (self.epoch_slider, self.image_picker, self.opacity, self.mask_box):
            w.observe(self._on_change, "value")
        self.refresh_button.on_click(lambda _: self.refresh())
        legend = W.HTML("<small>cyan outline: ground-truth mask · "
                        f"{INVERTED_MARK}: AUROC &lt; 0.5 on held-out masks (1 − map marks "
                        "the object better) · curves: AUROC (blue), best IoU (green), red "
                        "line = shown epoch</small>")
        self.widget = W.VBox([
            W.HBox([self.play, self.epoch_slider, self.epoch_label]),
            W.HBox([self.image_picker, self.opacity, self.mask_box, self.refresh_button]),
            W.HBox(columns + [cbar]), legend, self.status])
        self.widget.add_class("scd-explorer")
        self.update()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)

    # state from the controls
    def read_state(self) -> ExplorerState:
        tl = self.model.timeline
        epoch = tl[min(self.epoch_slider.value, len(tl) - 1)] if tl else 0.0
        return ExplorerState(
            epoch=epoch, image=self.image_picker.value,
            maps={lab: (p.value if p.value != "(none)" else None)
                  for lab, p in self.map_pickers.items()},
            flip={lab: b.value for lab, b in self.flip_boxes.items()},
            opacity=float(self.opacity.value), show_mask=bool(self.mask_box.value))

    def _on_change(self, _change=None):
        if not self._muted:
            self.update()

    def update(self) -> float:
        """Show the controls' state: swap PNG bytes into the Image widgets. Returns (and keeps
        in ``last_update_s``) the seconds it took."""
        t0 = time.perf_counter()
        m = self.model
        self.state = s = self.read_state()
        tl = m.timeline
        self.epoch_label.value = (f"epoch {s.epoch:g} &nbsp;<small>({self.epoch_slider.value + 1}"
                                  f"/{len(tl)})</small>" if tl else "no snapshots yet")
        for p in m.panels(s):
            img = m.overlay_png(p, s.opacity)
            if self.images_w[p.label].value != img:
                self.images_w[p.label].value = img
            cap = _esc(p.caption())
            if p.inverted and not p.flipped:
                cap = cap.replace(INVERTED_MARK, f"<b style='color:#c0392b'>{INVERTED_MARK}"
                                                 "</b>")
            cap = f"<small>{cap}</small>"
            if self.captions[p.label].value != cap:
                self.captions[p.label].value = cap
            curve = m.curve_png(p.label, p.map_name, p.epoch)
            if self.curves_w[p.label].value != curve:
                self.curves_w[p.label].value = curve
            notes = m.view(p.label).notes()
            html = "".join(f"<div style='color:#a04000'><small>⚠ {_esc(n)}</small></div>"
                           for n in notes)
            if self.notes_w[p.label].value != html:
                self.notes_w[p.label].value = html
        self.last_update_s = time.perf_counter() - t0
        self.update_times.append(self.last_update_s)
        return self.last_update_s

    def refresh(self) -> list[str]:
        """Re-read the runs (new snapshots of a run being written); keeps the shown epoch
        unless it was the last one, then follows the newest."""
        at_end = self.epoch_slider.value >= self.epoch_slider.max
        old_epoch = self.state.epoch
        try:
            changed = self.model.refresh()
        except RunError as exc:
            self.status.value = f"<b style='color:#c0392b'>{_esc(str(exc))}</b>"
            return []
        tl = self.model.timeline
        self._muted = True
        try:
            for lab, picker in self.map_pickers.items():
                names = self.model.view(lab).map_names
                if names and list(picker.options) != names:
                    cur = picker.value
                    picker.options = names
                    picker.value = cur if cur in names else self.model.view(lab).default_map
            n = max(len(tl) - 1, 0)
            self.epoch_slider.max = self.play.max = n
            idx = n if at_end or old_epoch not in tl else tl.index(old_epoch)
            self.epoch_slider.value = idx
        finally:
            self._muted = False
        self.update()
        self.status.value = (f"<small>refreshed: {', '.join(map(_esc, changed))} changed"
                             if changed else "<small>refreshed: nothing new") + "</small>"
        return changed

    # programmatic control (tests, benchmarks, notebooks)
    def set_epoch_index(self, i: int) -> float:
        self.epoch_slider.value = i
        return self.last_update_s

    def set_image(self, i: int) -> float:
        self.image_picker.value = i
        return self.last_update_s

    def set_map(self, label: str, name: str) -> float:
        self.map_pickers[label].value = name
        return self.last_update_s


def _esc(text: str) -> str:
    import html
    return html.escape(str(text), quote=True)


def reference_runs(group: str | None = None, root=None) -> dict[str, Path]:
    """The reference runs shipped under ``data/reference_runs/<name>/`` (name -> path); empty
    if none. ``group`` keeps the names that start with ``group + "-"`` or contain
    ``"-" + group`` (``"demo"``: the demo's runs; ``"distinct"``: the distinct-texture runs
    and their supervised ceiling), which share their probe images and can be shown together.
    ``root`` defaults to the repository's ``data/reference_runs``."""
    root = Path(root) if root is not None else reference_runs_dir()
    if not root.is_dir():
        return {}
    runs = {p.name: p for p in sorted(root.iterdir())
            if p.is_dir() and ((p / "snapshots").is_dir() or (p / "probe.pt").is_file())}
    if group is not None:
        runs = {k: v for k, v in runs.items()
                if k.startswith(group + "-") or f"-{group}" in k}
    return runs


SMOKE_OVERRIDES = [
    "backbone.widths=[8, 16, 16, 32]", "method.proj_hidden=64", "method.pred_hidden=64",
    "method.proj_dim=32", "method.queue_size=64", "data.image_size=32", "data.crop_size=32",
    "data.num_train=128", "data.num_test=64", "train.batch_size=32", "train.epochs=3",
    "train.probe_size=8", "train.knn_bank_size=null", "train.progress=false",
    "train.num_workers=0",
]


def smoke_runs(methods=("scd-byol", "lewel-byol"), root=None, prefix: str = "nb05-smoke-",
               extra=()) -> dict[str, Path]:
    """Tiny runs (a narrow net on 128 images of 32 px, 3 epochs: under a minute each on a
    CPU) trained into ``root`` (default ``runs_root()``) unless already there; method -> path."""

    root = Path(root) if root is not None else runs_root()
    out = {}
    for method in methods:
        cfg = apply_overrides(get_preset("cpu"),
                              SMOKE_OVERRIDES + [f"method.name={method}", *extra])
        path = root / f"{prefix}{method}"
        ensure_run(cfg, path)
        out[method] = path
    return out
