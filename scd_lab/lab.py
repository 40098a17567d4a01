"""One face for the notebooks: every name they use, importable from one place.

    from scd_lab.lab import Explorer, ensure_run, load_run, objective_table, reference_runs

A notebook imports from ``scd_lab`` or from here, and from nowhere else in the package: not a
command's module, not a module's private names, not a path of the repository (the shipped
files and the default folders come from ``scd_lab.paths``, here as ``runs_root``,
``study_dir``, ``reference_runs_dir`` and ``imagenet100_dir``). So the modules behind these
names can move without breaking a notebook, and a name a notebook needs is public.

This module sits above every layer (docs/architecture.md): it imports, nothing imports it.
"""
from __future__ import annotations

from . import losses
from .config import Config, OptimConfig, TrainConfig, apply_overrides, get_preset
from .data import TwoViewAugment, build_datasets, load_synthetic, warp_masks
from .data.synthetic import resolve_spec
from .eval.saliency_metrics import (auroc, by_class, centre_prior, minmax_normalize,
                                    per_image_aurocs)
from .methods import BYOL, LEWEL, SCD, MoCo, available_methods, build_method
from .methods.lewel import alignment_maps_from_z
from .models import build_backbone, weighted_avg_pool
from .paths import imagenet100_dir, reference_runs_dir, runs_root, study_dir
from .rundir import RunDir
from .runs import build_run, ensure_run, is_finished_run_of, load_run, saliency_maps
from .runs.protocols import knn_eval, linear_eval
from .studies import challenge, sweep
from .studies.bench import format_markdown, run_bench
from .studies.course.feedback import check, hint
from .studies.landscape import Landscape, ld_along_paths, probe_landscape
from .studies.launch import setup
from .studies.objective import objective_table, read_cells, run_cell, trunks_markdown
from .studies.smoke import smoke_runs
from .tables import fmt_mean_se, mean_se, table_markdown
from .train import Trainer, format_summary, smoke_note
from .viz import (Explorer, epoch_grid, plot_learning_curves, plot_metrics,
                  plot_saliency_evolution, reference_runs, saliency_grid)
from .viz.gallery import gallery, knob_gallery
from .viz.landscape import landscape_widget, plot_landscape
from .viz.plots import plot_oracle_losses, plot_sweep

__all__ = [
    # methods, models and losses
    "BYOL", "SCD", "MoCo", "LEWEL", "build_method", "available_methods", "build_backbone",
    "weighted_avg_pool", "alignment_maps_from_z", "losses",
    # data
    "TwoViewAugment", "load_synthetic", "build_datasets", "gallery", "knob_gallery",
    "warp_masks", "resolve_spec",
    # configs, training and runs
    "Config", "TrainConfig", "OptimConfig", "get_preset", "apply_overrides", "Trainer",
    "format_summary", "smoke_note", "build_run", "ensure_run", "load_run", "is_finished_run_of", "RunDir",
    # where things are
    "runs_root", "study_dir", "reference_runs_dir", "imagenet100_dir",
    # measurements and protocols
    "saliency_maps", "auroc", "by_class", "centre_prior", "minmax_normalize", "per_image_aurocs",
    "knn_eval",
    "linear_eval",
    # tables
    "table_markdown", "mean_se", "fmt_mean_se",
    # figures and the explorer
    "Explorer", "epoch_grid", "saliency_grid", "reference_runs", "smoke_runs", "plot_metrics",
    "plot_saliency_evolution", "plot_learning_curves", "plot_oracle_losses", "plot_sweep",
    "plot_landscape", "landscape_widget",
    # the notebooks' first cell
    "setup",
    # studies
    "objective_table", "read_cells", "run_cell", "trunks_markdown", "run_bench",
    "format_markdown", "sweep", "challenge", "probe_landscape", "Landscape",
    "ld_along_paths",
    # the course: a graded exercise's check and its hints
    "check", "hint",
]
