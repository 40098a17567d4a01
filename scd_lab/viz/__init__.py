"""Figures and widgets over run directories. Nothing here trains: tiny runs to look at come
from ``scd_lab.studies.smoke.smoke_runs``."""
from .explorer import (Explorer, ExplorerModel, ExplorerState, Panel, ProbeMismatchError,
                       reference_runs)
from .grids import epoch_grid, saliency_grid, save_figure
from .plots import (default_map_name, pick_snapshots, plot_learning_curves, plot_metrics,
                    plot_saliency_evolution)
from .tensorboard import export_tensorboard

__all__ = ["plot_saliency_evolution", "plot_metrics", "plot_learning_curves",
           "default_map_name", "pick_snapshots", "Explorer", "ExplorerModel", "ExplorerState",
           "Panel", "ProbeMismatchError", "reference_runs",
           "saliency_grid", "epoch_grid", "save_figure", "export_tensorboard"]
