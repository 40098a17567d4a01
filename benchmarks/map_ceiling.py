"""Could any saliency map of SCD's form find the object on a run's features? The supervised ceiling.

For each run: SCD's saliency-net architecture is trained on the run's final feature maps *with*
the ground-truth masks (``scd_lab.eval.map_ceiling``), then measured on the run's 500 held-out
images; the same for an untrained network of the same architecture. Printed beside the run's
own map (self-supervised) on the same images:

    python benchmarks/map_ceiling.py runs/conditions/scd runs/conditions/scd-reflect [--n 3000]

With ``--reference DIR`` it also writes, for each run, a reference-run folder
``DIR/ceiling-<run name>`` that the saliency explorer reads: the run's probe images, one
snapshot with the supervised map (``ceiling``, labelled as what it is: trained *with* the
masks) beside the run's own map, and the saliency figures of both on the held-out images.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from scd_lab.eval.map_ceiling import feature_maps, supervised_map_ceiling
from scd_lab.methods import default_map_name
from scd_lab.models.backbone import backbone_from_config
from scd_lab.runs import load_run
from scd_lab.rundir import RunDir


@torch.no_grad()
def write_reference(run, net, held, own: str, root: Path) -> Path:
    """A run folder with one snapshot: the supervised ceiling map and the run's own map."""
    from scd_lab.eval.saliency_metrics import map_reports

    out = root / f"ceiling-{run.path.name}"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(run.path / "probe.pt", out / "probe.pt")
    probe = RunDir(out).probe()
    f_probe = feature_maps(run.method.encoder, probe["images"], run.eval_input)
    f_held = feature_maps(run.method.encoder, held.images, run.eval_input)
    own_probe = run.maps(probe["images"])[own]
    own_held = run.maps(held.images)[own]
    maps_probe = {"ceiling": torch.sigmoid(net.logits(f_probe)), own: own_probe}
    maps_held = {"ceiling": torch.sigmoid(net.logits(f_held)), own: own_held}
    rd = RunDir(out)
    rd.snapshot_dir.mkdir(exist_ok=True)
    rd.save_snapshot(run.step, run.epoch, maps_probe)
    rec = {"kind": "saliency", "step": run.step, "epoch": run.epoch,
           **map_reports(maps_held, held.masks)}
    (out / "metrics.jsonl").write_text(json.dumps(rec) + "\n")
    (out / "README.md").write_text(
        f"Supervised ceiling of {run.path.name}: SCD's saliency-net architecture trained *with* "
        "the ground-truth masks on this run's frozen features (benchmarks/map_ceiling.py). "
        "Not a self-supervised map: the best any map of SCD's form can do on these features, "
        f"shown beside the run's own map `{own}`.\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--n", type=int, default=3000, help="training images for the probe")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--reference", default=None, help="write ceiling reference runs here")
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
                                              steps=args.steps, return_net=True))
        last = RunDir(run).metrics("saliency")[-1]
        name = default_map_name(loaded.cfg.method.name)
        if args.reference:
            write_reference(loaded, res[0]["net"], held, name, Path(args.reference))
        print(f"| {run} | {name} | {last[f'{name}/auroc']:.3f} | "
              f"{res[0]['train_auroc']:.3f} / {res[0]['test_auroc']:.3f} | "
              f"{res[1]['train_auroc']:.3f} / {res[1]['test_auroc']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
