"""Could any saliency map of SCD's form find the object on a run's features? The supervised ceiling.

For each run: SCD's saliency-net architecture is trained on the run's final feature maps *with*
the ground-truth masks (``scd_lab.eval.map_ceiling``), then measured on the run's 500 held-out
images; the same for an untrained network of the same architecture. Printed beside the run's
own map (self-supervised) on the same images:

    python benchmarks/map_ceiling.py runs/conditions/scd runs/conditions/scd-reflect [--n 3000]
"""
from __future__ import annotations

import argparse

import torch

from scd_lab.eval.map_ceiling import feature_maps, supervised_map_ceiling
from scd_lab.methods import default_map_name
from scd_lab.models.backbone import backbone_from_config
from scd_lab.run import load_run
from scd_lab.train import RunDir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--n", type=int, default=3000, help="training images for the probe")
    ap.add_argument("--steps", type=int, default=1500)
    args = ap.parse_args()
    print("| run | own map | own map AUROC end | supervised map on its features: train / "
          "held-out | on an untrained network: train / held-out |\n|---|---|---|---|---|")
    for run in args.runs:
        loaded = load_run(run)
        train, held = loaded.train.subset(torch.arange(args.n)), loaded.monitor_sets()["held"]
        if held is None:
            raise SystemExit(f"{run}: its dataset has no masks")
        res = []
        torch.manual_seed(loaded.cfg.train.seed)
        untrained = backbone_from_config(loaded.cfg.backbone).to(loaded.device)
        for enc in (loaded.method.encoder, untrained):
            f_tr = feature_maps(enc, train.images, loaded.eval_input)
            f_te = feature_maps(enc, held.images, loaded.eval_input)
            res.append(supervised_map_ceiling(f_tr, train.masks, f_te, held.masks,
                                              steps=args.steps))
        last = RunDir(run).metrics("saliency")[-1]
        name = default_map_name(loaded.cfg.method.name)
        print(f"| {run} | {name} | {last[f'{name}/auroc']:.3f} | "
              f"{res[0]['train_auroc']:.3f} / {res[0]['test_auroc']:.3f} | "
              f"{res[1]['train_auroc']:.3f} / {res[1]['test_auroc']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
