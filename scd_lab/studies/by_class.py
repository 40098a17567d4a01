"""Which images does a run's map get right? Per-image AUROC on held-out images, by class.

A map that found "the object" would be right for every class. A map that learned a texture
preference is right for the classes whose texture it prefers and inverted for the others; the
pooled AUROC then sits near 0.5 although most single maps split object from background.
``scd-lab study by-class RUN`` prints, for each class: images, mean per-image AUROC, the share
of images whose map marks the object (AUROC > 0.5), and the same with the polarity chosen per
image.
"""
from __future__ import annotations

from ..errors import UserError
from ..eval.saliency_metrics import by_class, minmax_normalize, per_image_aurocs
from ..methods import default_map_name
from ..runs.load import load_run
from ..tables import table_markdown


def map_by_class(run_dir, map_name: str | None = None) -> str:
    """The report as text: a heading line and a Markdown table, one row per class.

    Raises:
        UserError: the run's data has no masks, or it has no map ``map_name``.
    """
    run = load_run(run_dir)
    held = run.monitor_sets()["held"]
    if held is None or held.masks is None:
        raise UserError(f"{run_dir}: its dataset has no masks; nothing to measure")
    maps = run.maps(held.images)
    name = map_name or default_map_name(run.cfg.method.name)
    if name not in maps:
        raise UserError(f"no map {name!r} in this run; it has {sorted(maps)}")
    auc = per_image_aurocs(minmax_normalize(maps[name]), held.masks)  # (N,), NaN: empty mask
    rows = [{"class": r["class"], "images": r["images"], "mean AUROC": f"{r['mean_auroc']:.3f}",
             "marks the object": f"{r['marks_object']:.2f}",
             "polarity per image": f"{r['polarity_per_image']:.3f}"}
            for r in by_class(auc, held.labels, held.class_names)]
    return (f"{run_dir}: map {name}, step {run.step}, {int((~auc.isnan()).sum())} held-out "
            f"images, mean per-image AUROC {auc[~auc.isnan()].mean():.3f}\n\n"
            + table_markdown(rows))
