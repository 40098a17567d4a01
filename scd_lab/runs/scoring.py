"""The one scorer of maps against masks, and the one list of the figures it reports.

    metrics, per_image = score_maps({"scd_fg": m}, masks)       # every figure of FIGURES
    score_maps(maps, masks, CHALLENGE_FIGURES)[0]               # the challenge's figures

Each map (N, h, w) at feature resolution is upsampled bilinearly to the masks' size (N, H, W),
then ``saliency_report`` (per-image min-max normalisation), the pointing game and the papers'
protocols (``eval.map_protocols``: PxAP, MaxBoxAccV2, DINO's Jaccard, CorLoc) measure it.
Every caller that reports map figures (``evaluate_saliency``, the report's columns, the
challenge) names its figures from ``FIGURES`` here, in the order of its table.
"""
from __future__ import annotations

from torch import Tensor

from ..eval.map_protocols import PROTOCOLS, map_protocols
from ..eval.saliency_metrics import (minmax_normalize, per_image_aurocs, pointing_game,
                                     saliency_report, upsample_maps)

# every figure of one map, in the order ``evaluate_saliency`` reports them (saliency.json,
# the rows of ``scd-lab eval saliency``); ``pointing_game`` is the only one not of
# ``saliency_report``, the protocols of ``eval.map_protocols`` follow (docs/evaluation.md)
FIGURES = ("auroc", "auroc_per_image", "polarity", "iou@0.5", "best_iou", "pointing_game",
           "auroc_per_image_unsigned") + PROTOCOLS
# the column title of a figure in the report of several runs (``scd-lab eval report``)
TITLES = {"auroc": "AUROC", "best_iou": "best IoU", "pointing_game": "pointing",
          "pxap": "PxAP", "maxboxacc_v2": "MaxBoxAccV2", "dino_jaccard": "DINO J",
          "corloc": "CorLoc"}
# the report's map columns, and the challenge's figures (notebook 09), in their table order
REPORT_FIGURES = ("auroc", "best_iou", "pointing_game")
CHALLENGE_FIGURES = ("auroc", "polarity", "auroc_per_image_unsigned", "pointing_game",
                     "best_iou")
# the probe study's figures of a head's map (``mean``: the raw map's mean value); any key of
# ``saliency_report`` may be asked of ``score_map``, and ``pointing_game``
PROBE_FIGURES = ("auroc", "polarity", "auroc_per_image_unsigned", "mean", "best_iou")


def per_image_auroc(up: Tensor, masks: Tensor) -> Tensor:
    """The per-image AUROC (B,) of a map already at the masks' size, min-max normalised per
    image (NaN for an empty or full mask)."""
    return per_image_aurocs(minmax_normalize(up), masks)


def score_map(up: Tensor, masks: Tensor, figures=FIGURES) -> dict:
    """``figures`` of one map (B, H, W), already at the masks' size, against masks (B, H, W)."""
    rep = saliency_report(up, masks)
    if "pointing_game" in figures:
        rep["pointing_game"] = pointing_game(up, masks)
    asked = tuple(f for f in figures if f in PROTOCOLS)
    if asked:
        rep.update(map_protocols(up, masks, asked))
    return {k: rep[k] for k in figures}


def score_maps(maps: dict[str, Tensor], masks: Tensor, figures=FIGURES) -> tuple[dict, dict]:
    """``figures`` (default: all of ``FIGURES``) of every map against masks (B, H, W).

    Returns:
        ({name: {figure: value}}, {name: per-image AUROC (B,)}).
    """
    metrics, per_image = {}, {}
    masks = masks.cpu()
    for name, m in maps.items():
        up = upsample_maps(m.cpu(), tuple(masks.shape[-2:]))  # (B, H, W)
        metrics[name] = score_map(up, masks, figures)
        per_image[name] = per_image_auroc(up, masks)
    return metrics, per_image


def last_value(records: list[dict], key: str):
    """The last number under ``key`` in metric records (None if there is none)."""
    vals = [r[key] for r in records if isinstance(r.get(key), (int, float))]
    return vals[-1] if vals else None


def last_recorded(records: list[dict], figures=REPORT_FIGURES) -> dict:
    """``{map: {figure: last value}}`` of the saliency monitor's records (``metrics.jsonl``,
    keys ``"{map}/{figure}"``); a figure the monitor does not record is None."""
    names = {k.split("/")[0] for r in records for k in r if "/" in k}
    return {n: {f: last_value(records, f"{n}/{f}") for f in figures} for n in names}


__all__ = ["FIGURES", "TITLES", "REPORT_FIGURES", "CHALLENGE_FIGURES", "PROBE_FIGURES",
           "per_image_auroc", "score_map", "score_maps", "last_value", "last_recorded"]
