"""Which images does a run's map get right? Per-image AUROC on held-out images, by class.

A map that found "the object" would be right for every class. A map that learned a texture
preference is right for the classes whose texture it prefers and inverted for the others; the
pooled AUROC then sits near 0.5 although most single maps split object from background.

    python benchmarks/map_by_class.py runs/conditions/scd [--map scd_fg]

Prints, for each class: images, mean per-image AUROC, the share of images whose map marks the
object (AUROC > 0.5), and the same with the polarity chosen per image.
"""
from __future__ import annotations

import argparse

from scd_lab.eval.saliency_metrics import by_class, minmax_normalize, per_image_aurocs
from scd_lab.methods import default_map_name
from scd_lab.runs import load_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--map", default=None, help="map name (default: the method's own map)")
    args = ap.parse_args()
    run = load_run(args.run_dir)
    held = run.monitor_sets()["held"]
    if held is None or held.masks is None:
        raise SystemExit(f"{args.run_dir}: its dataset has no masks; nothing to measure")
    maps = run.maps(held.images)
    name = args.map or default_map_name(run.cfg.method.name)
    if name not in maps:
        raise SystemExit(f"no map {name!r} in this run; it has {sorted(maps)}")
    auc = per_image_aurocs(minmax_normalize(maps[name]), held.masks)  # (N,), NaN: empty mask
    print(f"{args.run_dir}: map {name}, step {run.step}, {int((~auc.isnan()).sum())} held-out "
          f"images, mean per-image AUROC {auc[~auc.isnan()].mean():.3f}\n")
    print("| class | images | mean AUROC | marks the object | polarity per image |")
    print("|---|---|---|---|---|")
    for r in by_class(auc, held.labels, held.class_names):
        print(f"| {r['class']} | {r['images']} | {r['mean_auroc']:.3f} | "
              f"{r['marks_object']:.2f} | {r['polarity_per_image']:.3f} |")


if __name__ == "__main__":
    main()
