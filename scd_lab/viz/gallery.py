"""Galleries of the generated data: images with their mask outlines and class names, and one
row per knob of the generator (``scd-lab data synthetic --gallery/--knobs``, notebook 03)."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt

from ..data.synthetic import SyntheticSpec, generate, resolve_spec


def gallery(spec: SyntheticSpec | str = "default", n: int = 16, seed: int = 0, cols: int = 8):
    """A matplotlib Figure of ``n`` images with their mask outlines and class names."""
    spec = resolve_spec(spec)
    data = generate(spec, n, seed)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.75 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(data.images[i].permute(1, 2, 0).numpy())
        ax.contour(data.masks[i].numpy(), levels=[0.5], colors="w", linewidths=0.8)
        ax.set_title(data.class_names[int(data.labels[i])], fontsize=6)
    fig.tight_layout()
    return fig


def knob_gallery(base: SyntheticSpec | str = "default", n: int = 6, seed: int = 0):
    """One row per knob setting (clutter, camouflage, scale, objects), same seed: a Figure."""
    base = resolve_spec(base)
    rows = [("easy: clutter=0, patches=0", dict(clutter=0, patches=0, camouflage=0.0)),
            ("default", {}),
            ("clutter=8", dict(clutter=8)),
            ("camouflage=0.8", dict(camouflage=0.8)),
            ("scale_range=(0.2, 0.35)", dict(scale_range=(0.2, 0.35))),
            ("max_objects=3", dict(max_objects=3, scale_range=(0.25, 0.4)))]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.5 * n, 1.6 * len(rows)), squeeze=False)
    for r, (title, kw) in enumerate(rows):
        data = generate(resolve_spec(base, **kw), n, seed)
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(data.images[c].permute(1, 2, 0).numpy())
            ax.contour(data.masks[c].numpy(), levels=[0.5], colors="w", linewidths=0.6)
            ax.set_xticks([]), ax.set_yticks([])
        axes[r, 0].set_ylabel(title, fontsize=6)
    fig.tight_layout()
    return fig
