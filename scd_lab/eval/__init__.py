"""Evaluation: features and maps of a method, kNN, the linear probe (GAP or foreground-pooled
features), semi-supervised fine-tuning, saliency metrics against masks, Grad-CAM
(``attribution``), weights for torchvision and Detectron2 (``export``), the supervised ceiling
of a map, and the evaluation of a saved run.

The protocols of ``scd-lab eval`` (``protocols``, ``report``) work on a ``Run`` from
``load_run``, a run directory, or a method and its data in memory:
``knn_eval``, ``linear_eval``, ``semi_eval``, ``evaluate_saliency``, ``export_run``,
``report_table``; see docs/evaluation.md."""
from .features import embed, eval_mode, method_maps
from .knn import knn_accuracy, knn_predict
from .linear import features_for, linear_probe
from .saliency_metrics import (auroc, best_threshold_iou, centre_prior, iou_at, map_reports,
                               per_image_aurocs, pointing_game, saliency_report, upsample_maps)
from .semi import finetune, label_subset
from .protocols import (EvalError, evaluate_saliency, export_run, gap_probe, knn_eval,
                        linear_eval, read_image_mask_folder, saliency_maps, score_maps,
                        semi_eval, subject)
from .report import plot_curves, report_table, saliency_figures, table_markdown, write_table

__all__ = ["embed", "eval_mode", "method_maps", "knn_accuracy", "knn_predict", "auroc",
           "best_threshold_iou", "iou_at", "map_reports", "per_image_aurocs",
           "saliency_report", "upsample_maps", "pointing_game", "centre_prior",
           "features_for", "linear_probe", "label_subset", "finetune", "EvalError",
           "evaluate_saliency", "export_run", "gap_probe", "knn_eval", "linear_eval",
           "read_image_mask_folder", "saliency_maps", "score_maps", "semi_eval", "subject",
           "plot_curves", "report_table", "saliency_figures", "table_markdown", "write_table"]
