"""Paper-style static grids of saliency maps, saved as PNG and PDF.

* ``saliency_grid``: probe images in columns; rows = the images, their masks, then one row per
  run (its map at one epoch), each row label naming the run, the map, the epoch and the map's
  AUROC on held-out masks ("▼ inverted" in red below 0.5).
* ``epoch_grid``: one image across epochs; rows = runs, columns = epochs, each cell titled
  with the AUROC at that step.
* ``save_figure(fig, "out/fig")`` writes ``out/fig.png`` and ``out/fig.pdf``.

Maps are min-max normalised per image and upsampled bilinearly (as everywhere in
``scd_lab.viz``); the colour bar is that normalised value.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .explorer import INVERTED_MARK, ExplorerModel
from .explorer.render import MASK_RGB, mask_outline
from .plots import pick_snapshots
from ..models import minmax_normalize


def _norm_up(m: torch.Tensor, size) -> np.ndarray:
    m = minmax_normalize(m.float()[None])
    return F.interpolate(m[:, None], size=tuple(size), mode="bilinear",
                         align_corners=False)[0, 0].clamp(0, 1).numpy()


def _label(run: str, name: str, epoch: float | None, auc: float | None) -> tuple[str, str]:
    text = f"{run}\n{name}" + (f"\nepoch {epoch:g}" if epoch is not None else "")
    if auc is None:
        return text + "\nAUROC n/a", "black"
    if auc < 0.5:
        return text + f"\nAUROC {auc:.2f}\n{INVERTED_MARK}", "tab:red"
    return text + f"\nAUROC {auc:.2f}", "black"


def _image_with_outline(model: ExplorerModel, i: int) -> np.ndarray:
    img = model.probe["images"][i].permute(1, 2, 0).numpy().copy()
    masks = model.masks
    if masks is not None:
        img[mask_outline(masks[i].numpy() > 0)] = MASK_RGB
    return img


def _setup(n_rows, n_cols, cell=1.35):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols + 1.6, cell * n_rows + 0.5),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    return fig, axes


def _finish(fig, im, title, n_rows):
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.92, 1 - 0.3 / max(n_rows, 1)))
    if im is not None:
        cax = fig.add_axes((0.935, 0.2, 0.015, 0.6))
        cb = fig.colorbar(im, cax=cax)
        cb.ax.tick_params(labelsize=7)
        cb.set_label("map (min-max per image)", fontsize=7)
    return fig


def saliency_grid(runs, images=8, epoch: float | None = None, map_names: dict | None = None,
                  cmap: str = "magma", title: str | None = None):
    """Images in columns, runs in rows (see module docstring). Returns a Figure.

    Args:
        runs: ``{label: run dir}`` or a list of run dirs (they must share the probe images).
        images: a count (the first ``n`` probe images) or a list of indices.
        epoch: the epoch to show (each run's last snapshot at or before it); ``None``: each
            run's last snapshot.
        map_names: label -> map (default: the run's own map, e.g. ``scd_fg``); a label may map
            to a list of maps for several rows.
    """
    model = ExplorerModel(runs, images=images)
    idx = model.images
    map_names = map_names or {}
    size = model.probe["images"].shape[-2:]
    rows = [("image", "black", [_image_with_outline(model, i) for i in idx], "img")]
    if model.masks is not None:
        rows.append(("mask", "black", [model.masks[i].float().numpy() for i in idx], "map"))
    for label, v in model.runs.items():
        names = map_names.get(label) or v.default_map
        for name in ([names] if isinstance(names, str) or names is None else names):
            if not v.snapshots or name is None:
                rows.append((f"{label}\n(no snapshots)", "tab:red", [], "map"))
                continue
            si = v.snapshot_index_at(epoch) if epoch is not None else len(v.snapshots) - 1
            snap = v.snapshots[si]
            if name not in snap["maps"]:
                rows.append((f"{label}\n{name}\n(not in snapshot)", "tab:red", [], "map"))
                continue
            text, colour = _label(label, name, float(snap["epoch"]),
                                  v.saliency_metric(int(snap["step"]), name, "auroc"))
            rows.append((text, colour, [_norm_up(snap["maps"][name][i], size) for i in idx],
                         "map"))
    fig, axes = _setup(len(rows), len(idx))
    im = None
    for r, (text, colour, data, kind) in enumerate(rows):
        for c in range(len(idx)):
            ax = axes[r, c]
            if c >= len(data):
                ax.axis("off")
                continue
            if kind == "img":
                ax.imshow(data[c])
            else:
                im = ax.imshow(data[c], cmap=cmap, vmin=0, vmax=1)
            if r == 0:
                ax.set_title(model.image_options()[c][0], fontsize=6)
        axes[r, 0].axis("on")
        axes[r, 0].set_ylabel(text, fontsize=6.5, rotation=0, ha="right", va="center",
                              color=colour)
    return _finish(fig, im, title or "Saliency maps (AUROC on held-out masks; cyan: mask)",
                   len(rows))


def epoch_grid(runs, image: int = 0, epochs: int | list = 6, map_names: dict | None = None,
               cmap: str = "magma", title: str | None = None):
    """One probe image across epochs: rows = runs, columns = the image then ``epochs``
    snapshots (a count spread evenly over the timeline, or a list of epochs); each cell's
    title gives the AUROC at that step and the row label the last one. Returns a Figure."""
    model = ExplorerModel(runs)
    tl = model.timeline
    if isinstance(epochs, int):
        chosen = [s for s in pick_snapshots([{"e": e} for e in tl], epochs)]
        chosen = [c["e"] for c in chosen]
    else:
        chosen = [float(e) for e in epochs]
    map_names = map_names or {}
    size = model.probe["images"].shape[-2:]
    fig, axes = _setup(len(model.runs), len(chosen) + 1)
    im = None
    for r, (label, v) in enumerate(model.runs.items()):
        name = map_names.get(label) or v.default_map
        axes[r, 0].imshow(_image_with_outline(model, image))
        last_auc = None
        for c, e in enumerate(chosen, start=1):
            ax = axes[r, c]
            si = v.snapshot_index_at(e) if v.snapshots else None
            if si is None or name not in v.snapshots[si]["maps"]:
                ax.axis("off")
                continue
            snap = v.snapshots[si]
            im = ax.imshow(_norm_up(snap["maps"][name][image], size), cmap=cmap, vmin=0, vmax=1)
            auc = v.saliency_metric(int(snap["step"]), name, "auroc")
            last_auc = auc
            head = f"ep {float(snap['epoch']):g}" + (f" · {auc:.2f}" if auc is not None else "")
            ax.set_title(head, fontsize=6.5, color="tab:red" if auc is not None and auc < 0.5
                         else "black")
        text, colour = _label(label, str(name), None, last_auc)
        axes[r, 0].set_ylabel(text, fontsize=6.5, rotation=0, ha="right", va="center",
                              color=colour)
    axes[0, 0].set_title(model.image_options()[model.images.index(image)][0]
                         if image in model.images else f"#{image}", fontsize=6.5)
    return _finish(fig, im, title or f"Probe image #{image} across epochs (cell title: epoch "
                   "· AUROC on held-out masks)", len(model.runs))


def save_figure(fig, path, dpi: int = 200) -> list[Path]:
    """Save ``fig`` as ``path`` with suffixes .png and .pdf (any suffix of ``path`` is
    replaced); returns both paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for suffix in (".png", ".pdf"):
        p = path.with_suffix(suffix)
        fig.savefig(p, dpi=dpi, bbox_inches="tight")
        out.append(p)
    return out
