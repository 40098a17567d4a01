"""The objective's landscape as a figure and a widget: λ·L_d along the paths from the learned
map to the mask, its inverse and the centre prior (the values: ``scd_lab.studies.landscape``).

    land = probe_landscape("random", steps=500)
    landscape_widget(land.curves)          # α and λ sliders; one evaluation per α
"""
from __future__ import annotations

from typing import Callable

import numpy as np

#: path -> (label, colour), in the plot's order
PATH_STYLE = {"mask": ("towards the mask", "tab:green"),
              "inverse": ("towards the inverse mask", "tab:red"),
              "centre": ("towards the centre prior", "tab:blue")}


def plot_landscape(curves: dict[str, np.ndarray], lam: float = 0.5, alpha: float | None = None,
                   ax=None):
    """λ·L_d against t for each path of ``curves`` (``{"t": (T,), path: (T,)}``, L_d values).

    The learned map (t = 0, shared by every path) is a black dot with a dotted level line, each
    path's end (t = 1) a dot of its colour with its value: a path whose end is below the line
    reaches a lower objective than the learned map. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.6, 3.6))
    else:
        fig = ax.figure
    t = np.asarray(curves["t"], dtype=float)
    start = None
    for name, (label, colour) in PATH_STYLE.items():
        if name not in curves:
            continue
        y = lam * np.asarray(curves[name], dtype=float)  # (T,)
        ax.plot(t, y, color=colour, label=label)
        ax.plot(t[-1], y[-1], "o", color=colour)
        ax.annotate(f"{y[-1]:.3f}", (t[-1], y[-1]), textcoords="offset points", xytext=(5, 0),
                    va="center", fontsize=8, color=colour)
        start = y[0] if start is None else start
    if start is not None:
        ax.axhline(start, color="grey", ls=":", lw=1)
        ax.plot(t[0], start, "ko", label=f"learned map: {start:.3f}")
    title = "λ·L_d along each path" + (f", α = {alpha:.2f}" if alpha is not None else "")
    ax.set(xlabel="t  (0: learned map, 1: the path's end)", ylabel=f"λ·L_d  (λ = {lam:.2f})",
           title=title, xlim=(-0.03, 1.12))
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def landscape_widget(curves_at: Callable[[float], dict], alpha: float = 1.0, lam: float = 0.5,
                     alpha_range: tuple[float, float, float] = (0.0, 2.0, 0.1),
                     lam_range: tuple[float, float, float] = (0.0, 2.0, 0.1)):
    """``ipywidgets.interact`` over α and λ: ``plot_landscape(curves_at(α), λ)``.

    ``curves_at(alpha)`` gives L_d along the paths at margin α (``Landscape.curves``); it runs
    once per α (cached), and moving λ only rescales. Returns the interactive function
    (``interact``'s result), whose ``cache`` holds the curves per α. Needs ``ipywidgets``.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    cache: dict[float, dict] = {}

    def show(alpha: float = alpha, lam: float = lam):
        key = round(float(alpha), 6)
        if key not in cache:
            cache[key] = curves_at(key)
        plot_landscape(cache[key], lam, key)
        plt.show()

    lo, hi, step = alpha_range
    a = widgets.FloatSlider(value=alpha, min=lo, max=hi, step=step, description="α")
    lo, hi, step = lam_range
    lm = widgets.FloatSlider(value=lam, min=lo, max=hi, step=step, description="λ")
    shown = widgets.interact(show, alpha=a, lam=lm)
    shown.cache = cache
    return shown
