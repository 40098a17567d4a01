"""Could any saliency map of SCD's form find the object on a run's features? The supervised
ceiling.

For each run, SCD's saliency-net architecture is trained on the run's final feature maps *with*
the ground-truth masks (``scd_lab.eval.map_ceiling``), then measured on the run's held-out
images; the same for an untrained network of the same architecture. ``scd-lab study ceiling
RUN...`` prints both beside the run's own (self-supervised) map on the same images. With a
reference folder it also writes, for each run, a reference run ``ceiling-<run name>`` that the
saliency explorer reads: the run's probe images and one snapshot with the supervised map
(``ceiling``, labelled as what it is) beside the run's own map.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UserError
from ..eval.map_ceiling import feature_maps, supervised_map_ceiling
from ..eval.saliency_metrics import map_reports
from ..methods import default_map_name
from ..models.backbone import backbone_from_config
from ..rundir import RunDir
from ..runs.load import load_run


@torch.no_grad()
def write_reference(run, net, held, own: str, root) -> Path:
    """A run folder ``root/ceiling-<run>`` with one snapshot: the supervised ceiling map and
    the run's own map, and their saliency record on the held-out images."""
    rd = RunDir(Path(root) / f"ceiling-{run.path.name}")
    rd.path.mkdir(parents=True, exist_ok=True)
    probe = run.rundir.probe()
    rd.save_probe(probe["images"], probe["labels"], probe["masks"], probe.get("class_names"))
    rd.write_meta({"default_map": "ceiling", "ceiling_of": run.path.name, "own_map": own})
    f_probe = feature_maps(run.method.encoder, probe["images"], run.eval_input)
    f_held = feature_maps(run.method.encoder, held.images, run.eval_input)
    maps_probe = {"ceiling": torch.sigmoid(net.logits(f_probe)),
                  own: run.maps(probe["images"])[own]}
    maps_held = {"ceiling": torch.sigmoid(net.logits(f_held)), own: run.maps(held.images)[own]}
    rd.snapshot_dir.mkdir(exist_ok=True)
    rd.save_snapshot(run.step, run.epoch, maps_probe)
    rd.metrics_path.unlink(missing_ok=True)
    rd.log({"kind": "saliency", "step": run.step, "epoch": run.epoch,
            **map_reports(maps_held, held.masks)})
    (rd.path / "README.md").write_text(
        f"Supervised ceiling of {run.path.name}: SCD's saliency-net architecture trained *with* "
        "the ground-truth masks on this run's frozen features (`scd-lab study ceiling`). "
        "Not a self-supervised map: the best any map of SCD's form can do on these features, "
        f"shown beside the run's own map `{own}`.\n")
    return rd.path


COLUMNS = ("run", "own map", "own map AUROC end",
           "supervised map on its features: train / held-out",
           "on an untrained network: train / held-out")


def ceiling_row(run_dir, n: int = 3000, steps: int = 1500, reference=None) -> dict:
    """One table row: the run's own map AUROC, and the supervised ceiling on its features and
    on an untrained trunk of the same architecture (train / held-out AUROC)."""
    run = load_run(run_dir)
    train, held = run.train.subset(torch.arange(n)), run.monitor_sets()["held"]
    if held is None:
        raise UserError(f"{run_dir}: its dataset has no masks")
    torch.manual_seed(run.cfg.train.seed)
    untrained = backbone_from_config(run.cfg.backbone).to(run.device)
    res = []
    for enc in (run.method.encoder, untrained):
        f_tr = feature_maps(enc, train.images, run.eval_input)
        f_te = feature_maps(enc, held.images, run.eval_input)
        res.append(supervised_map_ceiling(f_tr, train.masks, f_te, held.masks, steps=steps,
                                          return_net=True))
    last = run.rundir.metrics("saliency")[-1]
    name = default_map_name(run.cfg.method.name)
    if reference:
        write_reference(run, res[0]["net"], held, name, reference)
    return {"run": str(run_dir), "own map": name,
            "own map AUROC end": f"{last[f'{name}/auroc']:.3f}",
            "supervised map on its features: train / held-out":
                f"{res[0]['train_auroc']:.3f} / {res[0]['test_auroc']:.3f}",
            "on an untrained network: train / held-out":
                f"{res[1]['train_auroc']:.3f} / {res[1]['test_auroc']:.3f}"}
