"""Runs: a config made into a trainer (``build_run``), trained or reused (``ensure_run``),
loaded back (``load_run``), evaluated by the protocols of ``scd-lab eval`` and reported."""
from .build import (build_augment, build_data, build_monitors, build_run, ensure_run,
                    is_finished_run_of, monitor_sets)
from .load import Run, load_run
from .protocols import (EvalError, evaluate_saliency, export_run, gap_probe, knn_eval, linear_eval,
                        read_image_mask_folder, saliency_maps, score_maps, semi_eval, subject)
from .report import plot_curves, report_table, saliency_figures, write_table

__all__ = ["build_augment", "build_data", "build_monitors", "build_run", "ensure_run",
           "is_finished_run_of",
           "monitor_sets", "Run", "load_run", "EvalError", "evaluate_saliency", "export_run",
           "gap_probe", "knn_eval", "linear_eval", "read_image_mask_folder", "saliency_maps",
           "score_maps", "semi_eval", "subject", "plot_curves", "report_table",
           "saliency_figures", "write_table"]
