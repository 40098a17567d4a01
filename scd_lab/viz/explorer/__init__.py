"""Saliency explorer: several runs side by side, scrubbed through epochs in a notebook.

    from scd_lab.viz import Explorer
    Explorer({"SCD-BYOL": "runs/demo/scd-byol", "LEWEL-BYOL": "runs/demo/lewel-byol"})

Three modules, one job each:

* ``model``: ``ExplorerModel`` / ``ExplorerState`` / ``Panel``, plain Python, no widgets. Each
  run is a ``scd_lab.runs.Run`` opened with ``Run.open`` (its method never loaded): it reads
  the run directory once (probe images, masks, snapshots, saliency metrics) and re-reads only
  new snapshot files on ``refresh()``; ``ExplorerModel.runs`` maps labels to them.
  ``ExplorerModel.panels(state)`` says which arrays each run shows for a state (epoch, image,
  map per run, polarity flip, opacity); ``ExplorerModel.overlay_png`` turns a panel into PNG
  bytes, with caches so that a slider move recomputes nothing already seen. Tests drive this
  layer without a browser.
* ``render``: the pixels, drawn with NumPy and PIL (overlays, colour bar, the small AUROC /
  best-IoU plot), and ``PanelPixels``, the caches that ``ExplorerModel`` draws through.
* ``widget``: ``Explorer``, the ipywidgets front end. Every control's observer calls
  ``update()``, which swaps PNG bytes into existing ``ipywidgets.Image`` widgets (no matplotlib
  redraw); the time of the last update is kept in ``Explorer.last_update_s``.

Conventions (as in ``plot_saliency_evolution``): each map is min-max normalised per image and
upsampled bilinearly; AUROC and best IoU are the ones the saliency monitor measured on
held-out masks at the snapshot's step (``metrics.jsonl``, kind "saliency"); a map whose AUROC
is below 0.5 is marked "▼ inverted" (1 - map marks the object better).
"""
from .model import (INVERTED_MARK, ExplorerModel, ExplorerState, Panel, ProbeMismatchError,
                    as_run_dict, check_same_probe, open_runs, reference_runs)
from .widget import Explorer

__all__ = ["Explorer", "ExplorerModel", "ExplorerState", "Panel", "ProbeMismatchError",
           "reference_runs", "as_run_dict", "open_runs", "check_same_probe", "INVERTED_MARK"]
