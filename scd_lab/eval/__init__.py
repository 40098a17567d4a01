"""Evaluation: features and maps of a method, kNN, saliency metrics against masks, the
supervised ceiling of a map, and the evaluation of a saved run."""
from .features import embed, eval_mode, method_maps
from .knn import knn_accuracy, knn_predict
from .saliency_metrics import (auroc, best_threshold_iou, iou_at, map_reports, per_image_aurocs,
                               saliency_report, upsample_maps)

__all__ = ["embed", "eval_mode", "method_maps", "knn_accuracy", "knn_predict", "auroc",
           "best_threshold_iou", "iou_at", "map_reports", "per_image_aurocs",
           "saliency_report", "upsample_maps"]
