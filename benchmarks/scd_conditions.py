"""When does SCD's saliency map find the object? A sweep over conditions, with the kit's trainer.

Each variant is the ``cpu`` preset (or ``--preset``) plus overrides; every run writes a normal
run directory under ``--out`` and the script prints one Markdown table: kNN top-1 (step 0 ->
end), the AUROC of SCD's M_fg on held-out images (step 0 -> best epoch -> end, with
polarity), the per-image AUROC with the polarity chosen per image (a map that segments objects
but flips between images shows here, not in the pooled AUROC), its mean and spatial spread
(collapse), the positional-shortcut ratio, and the channel-sum AUROC of the same network at the end and of the untrained one at step 0.

    python benchmarks/scd_conditions.py --out runs/conditions \
        --variant "base:" --variant "reflect:backbone.padding_mode=reflect" ...
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from scd_lab.config import apply_overrides, get_preset
from scd_lab.methods import default_map_name
from scd_lab.runs import build_data, ensure_run
from scd_lab.rundir import RunDir

DEFAULT_VARIANTS = [
    "base:",
    "reflect:backbone.padding_mode=reflect",
]


def row(label: str, run: str) -> str:
    rd = RunDir(run)
    sal = rd.metrics("saliency")
    knn = rd.metrics("knn")
    name = default_map_name(rd.config().method.name)
    au = [r[f"{name}/auroc"] for r in sal]
    best = max(range(len(au)), key=lambda i: abs(au[i] - 0.5))
    last = sal[-1]
    shortcut = last[f"{name}/mean_map_std"] / max(last[f"{name}/spatial_std"], 1e-9)
    key = f"{name}/auroc_per_image_unsigned"  # logged by runs made after it was added
    unsigned = (f"{sal[0][key]:.3f} -> {last[key]:.3f}" if key in last and key in sal[0]
                else "-")
    return (f"| {label} | {name} | {knn[0]['knn_top1']:.3f} -> {knn[-1]['knn_top1']:.3f} | "
            f"{au[0]:.3f} -> {au[best]:.3f} (ep {sal[best]['epoch']}) -> {au[-1]:.3f} | "
            f"{unsigned} | {last[f'{name}/best_iou']:.3f} | {last[f'{name}/mean']:.2f} | "
            f"{last[f'{name}/spatial_std']:.3f} | {shortcut:.2f} | "
            f"{last['channel_sum/auroc']:.3f} | {sal[0]['channel_sum/auroc']:.3f} | "
            f"{rd.summary()['wall_s']:.0f} |")


HEADER = ("| variant | map | kNN top-1 | map AUROC: step 0 -> most decided -> end | "
          "per-image AUROC, polarity per image: step 0 -> end | best IoU end | map mean | "
          "map spatial std | shortcut ratio | channel-sum AUROC end | "
          "channel-sum AUROC untrained | wall s |\n|" + "---|" * 12)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="runs/conditions")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--common", action="append", default=[],
                    help="override applied to every variant")
    ap.add_argument("--variant", action="append", help="LABEL:key=value,key=value")
    args = ap.parse_args()
    out = Path(args.out)
    rows, cache = [], {}
    for spec in args.variant or DEFAULT_VARIANTS:
        label, _, sets = spec.partition(":")
        cfg = apply_overrides(get_preset(args.preset),
                              args.common + [s for s in sets.split(",") if s])
        d = cfg.data
        key = repr(d)  # runs with the same data settings share one generated dataset
        if key not in cache:
            cache[key] = build_data(d)
        run = out / label
        if not (run / "summary.json").is_file():
            t0 = time.time()
            try:
                ensure_run(apply_overrides(cfg, ["train.progress=false"]), run,
                           data=cache[key])
            except Exception as exc:  # report and go on with the next variant
                print(f"[{label}] failed: {type(exc).__name__}: {exc}", flush=True)
                continue
            print(f"[{label}] {time.time() - t0:.0f} s", flush=True)
        rows.append(row(label, str(run)))
        print(rows[-1], flush=True)
    table = HEADER + "\n" + "\n".join(rows)
    (out / "results.md").write_text(table + "\n")
    print("\n" + table)
    print(json.dumps({"variants": args.variant, "common": args.common}))


if __name__ == "__main__":
    main()
