"""Runs: a config made into a trainer (``build_run``), trained or reused (``ensure_run``),
loaded back (``load_run``, ``Run``), evaluated by the protocols of ``scd-lab eval`` (kNN,
linear, semi in ``protocols``; maps against masks in ``saliency``, scored by ``scoring``;
``export``) and reported (``report``)."""
from .build import (build_augment, build_data, build_monitors, build_run, config_differences,
                    ensure_run, is_finished_run_of, monitor_sets)
from .export import export_run
from .faithfulness import faithfulness_eval
from .load import EvalError, Run, as_run, load_run
from .protocols import gap_probe, knn_eval, linear_eval, semi_eval
from .report import plot_curves, report_table, saliency_figures, write_table
from .saliency import evaluate_saliency, read_image_mask_folder, saliency_maps
from .scoring import score_maps

__all__ = ["build_augment", "build_data", "build_monitors", "build_run", "config_differences",
           "ensure_run", "is_finished_run_of", "faithfulness_eval",
           "monitor_sets", "Run", "as_run", "load_run", "EvalError", "evaluate_saliency",
           "export_run", "gap_probe", "knn_eval", "linear_eval", "read_image_mask_folder",
           "saliency_maps", "score_maps", "semi_eval", "plot_curves", "report_table",
           "saliency_figures", "write_table"]
