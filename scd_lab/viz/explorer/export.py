"""The explorer as one self-contained HTML file: no kernel, no network, no server.

    ExplorerModel(reference_runs("demo"), display=128)  # then:
    export_html(model, "explorer.html")                   # or Explorer.export_html(path)
    scd-lab explore --html explorer.html runs/demo/byol runs/demo/scd-byol ...

Every pixel comes from the explorer's own model and renderer (``model.py``, ``render.py``);
the page only lays out what they drew:

* the probe images (PNG at their own size, scaled by the browser without smoothing, as
  ``render.display_images`` does) and their mask outlines (``render.outline_rgba``);
* per run, map, snapshot and polarity, one strip of colour-mapped maps of every offered image
  (``ExplorerModel.heat``: min-max normalised, upsampled bilinearly), WebP-encoded; the page
  shows one tile of it over the image with CSS opacity, which is ``render.blend``'s
  ``image * (1 - opacity) + heat * opacity``;
* the captions (``Panel.caption``) for every epoch of the slider, map and polarity; the
  AUROC / best-IoU curve of each run and map (``render.curve_svg``), whose red marker follows
  the slider;
* the feature space (``ExplorerModel.space``): per run and snapshot, the t-SNE layout of the
  probe set coloured by class (``render.scatter_svg``) and each image's nearest neighbours.

The data sits in one JSON block; a small inline script (``page.py``) swaps data URIs and
attributes when a control moves. For the shipped demo runs (3 runs, 32 images, 7 epochs) the
file is a few MB.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from ...errors import UserError
from .model import INVERTED_MARK, ExplorerModel, ExplorerState
from .page import PAGE
from .render import (curve_svg, data_uri, display_images, image_bytes, outline_rgba,
                     scatter_svg)

HEAT_FORMAT = ("WEBP", {"quality": 82, "method": 4})


def _images(model: ExplorerModel, images: list[int]) -> dict:
    """The probe images (PNG data URIs at their own size), their mask outlines at display
    size (transparent PNG), their captions and class indices."""
    probe = model.probe
    rgb = probe["images"].permute(0, 2, 3, 1).numpy()  # (P, H, W, 3) uint8
    outlines = None  # (P, D, D) bool
    if model.masks is not None:
        _, outlines = display_images(probe["images"], model.masks, model.display)
    labels = probe.get("labels")
    options = dict((i, text) for text, i in model.image_options())
    return {"index": images,
            "names": [options.get(i, f"#{i}") for i in images],
            "classes": [int(labels[i]) if labels is not None else 0 for i in images],
            "src": [data_uri(image_bytes(np.ascontiguousarray(rgb[i])), "image/png") for i in images],
            "outline": [data_uri(image_bytes(outline_rgba(outlines[i])), "image/png")
                        if outlines is not None else None for i in images]}


def _run(model: ExplorerModel, label: str, images: list[int]) -> dict:
    """Everything the page shows of one run (see the module docstring)."""
    run, fmt = model.view(label), HEAT_FORMAT
    space = model.space
    strips, captions, curves = {}, {}, {}
    for name in run.map_names or []:
        curves[name] = curve_svg(run.saliency_curve(name, "auroc"),
                                 run.saliency_curve(name, "best_iou"), run.epochs)
        for s, snap in enumerate(run.snapshots):
            if name not in snap["maps"]:
                continue
            for flip in (0, 1):
                tiles = [model.heat(label, name, s, i, bool(flip)) for i in images]
                strip = np.concatenate(tiles, axis=1).round().astype(np.uint8)  # (D, n D, 3)
                strips[f"{name}|{s}|{flip}"] = data_uri(image_bytes(strip, fmt[0], **fmt[1]),
                                                    f"image/{fmt[0].lower()}")
        for t, epoch in enumerate(model.timeline):
            for flip in (0, 1):
                p = model.panel(ExplorerState(epoch=epoch, image=images[0], maps={label: name},
                                              flip={label: bool(flip)}), label)
                captions[f"{name}|{t}|{flip}"] = [p.caption() or p.message,
                                                  bool(p.inverted and not p.flipped),
                                                  p.snapshot]
    pos = {i: k for k, i in enumerate(images)}
    labels = model.probe.get("labels")
    scatter, near = [], []
    for s in range(len(run.snapshots)):
        xy, nn = space.layout(label, s), space.neighbours(label, s)
        scatter.append(None if xy is None else scatter_svg(
            xy, labels, model.class_names))
        near.append(None if nn is None else  # per offered image: its neighbours' positions
                    [[pos[j] for j in nn[i].tolist() if j in pos] for i in images])
    return {"label": label, "method": run.method_name or "", "maps": run.map_names,
            "default": run.default_map, "epochs": run.epochs,
            "at": [run.snapshot_index_at(e) for e in model.timeline],
            "strips": strips, "captions": captions, "curves": curves,
            "scatter": scatter, "near": near, "notes": run.notes(),
            "space_note": space.note(label)}


def export_data(model: ExplorerModel, images=None) -> dict:
    """The JSON the page reads: the timeline, the images, one entry per run."""
    images = list(model.images if images is None else images)
    if not model.timeline:
        raise UserError("none of the runs has snapshots yet: nothing to export; wait for "
                        "the first measurement of a run (step 0) and export again")
    return {"display": model.display, "timeline": model.timeline,
            "images": _images(model, images),
            "runs": [_run(model, label, images) for label in model.labels],
            "classes": model.class_names, "inverted_mark": INVERTED_MARK}


def export_html(model: ExplorerModel, path, images=None, title: str | None = None) -> Path:
    """Write the explorer of ``model`` as one self-contained HTML file at ``path`` (its
    folder is created); returns the path. ``images``: the probe images offered (default:
    the model's)."""
    data = export_data(model, images)
    title = title or "Saliency explorer: " + " · ".join(model.labels)
    text = (PAGE.replace("__TITLE__", html.escape(title))
            .replace("__DATA__", json.dumps(data, separators=(",", ":")).replace("</", "<\\/")))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
