"""Measurements: tensors in, numbers out. Features and maps of a method, kNN, the linear probe
(GAP or foreground-pooled features), semi-supervised fine-tuning, saliency metrics against
masks, Grad-CAM (``attribution``) and the supervised ceiling of a map.

Nothing here knows about runs, the trainer or the command line: the protocols that apply these
to a saved run (``scd-lab eval``) live in ``scd_lab.runs``; see docs/architecture.md."""
from .features import embed, eval_mode, method_maps
from .knn import knn_accuracy, knn_predict
from .linear import features_for, linear_probe
from .saliency_metrics import (auroc, best_threshold_iou, centre_prior, iou_at, map_reports,
                               per_image_aurocs, pointing_game, saliency_report, upsample_maps)
from .semi import finetune, label_subset

__all__ = ["embed", "eval_mode", "method_maps", "knn_accuracy", "knn_predict", "auroc",
           "best_threshold_iou", "iou_at", "map_reports", "per_image_aurocs",
           "saliency_report", "upsample_maps", "pointing_game", "centre_prior",
           "features_for", "linear_probe", "label_subset", "finetune"]
