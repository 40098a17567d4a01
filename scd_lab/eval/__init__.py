"""Measurements: tensors in, numbers out. Features and maps of a method, kNN, the linear probe
(GAP or foreground-pooled features), semi-supervised fine-tuning, saliency metrics against
masks and the papers' map protocols (``map_protocols``: PxAP, MaxBoxAccV2, DINO's Jaccard,
CorLoc), Grad-CAM (``attribution``), the supervised ceiling of a map, faithfulness curves and
the paired bootstrap.

Nothing here knows about runs, the trainer or the command line: the protocols that apply these
to a saved run (``scd-lab eval``) live in ``scd_lab.runs``; see docs/architecture.md."""
from .faithfulness import faithfulness_curves
from .features import embed, eval_mode, method_maps
from .knn import knn_accuracy, knn_predict
from .linear import features_for, linear_probe
from .map_protocols import corloc, dino_jaccard, max_box_acc_v2, pxap
from .paired import paired_bootstrap
from .saliency_metrics import (auroc, best_threshold_iou, centre_prior, iou_at, map_reports,
                               per_image_aurocs, pointing_game, saliency_report, upsample_maps)
from .semi import finetune, label_subset

__all__ = ["embed", "eval_mode", "method_maps", "knn_accuracy", "knn_predict", "auroc",
           "best_threshold_iou", "iou_at", "map_reports", "per_image_aurocs",
           "saliency_report", "upsample_maps", "pointing_game", "centre_prior",
           "features_for", "linear_probe", "label_subset", "finetune", "faithfulness_curves",
           "pxap", "max_box_acc_v2", "dino_jaccard", "corloc",
           "paired_bootstrap"]
