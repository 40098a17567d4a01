"""Hand-made run directories (no training): probe, snapshots, saliency metrics."""
from __future__ import annotations

import pytest
import torch

from scd_lab.config import apply_overrides, get_preset
from scd_lab.train.rundir import RunDir


def write_run(path, method="scd-byol", maps=("scd_fg", "channel_sum"), epochs=3, n=4,
              size=16, masks=True, seed=0, aurocs=None, finished=True, config=True):
    """A run dir with ``epochs + 1`` snapshots (epoch 0..epochs, 2 steps per epoch) whose
    maps are ``(epoch + 1) * 10 + image`` + a ramp, and saliency records with AUROC
    ``aurocs[map][k]`` (default 0.6)."""
    rd = RunDir(path)
    rd.path.mkdir(parents=True, exist_ok=True)
    if config:
        rd.write_config(apply_overrides(get_preset("cpu"), [f"method.name={method}"]))
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    m = torch.zeros(n, size, size, dtype=torch.uint8)
    m[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
    rd.save_probe(images, torch.arange(n) % 2, m if masks else None, ["cat", "dog"])
    rd.snapshot_dir.mkdir(exist_ok=True)
    ramp = torch.linspace(0, 1, 4)[None, :, None].expand(n, 4, 4)
    for e in range(epochs + 1):
        step = 2 * e
        rd.save_snapshot(step, e, {name: (e + 1) * 10 + k * 100 + torch.arange(n)[:, None, None]
                                   + ramp for k, name in enumerate(maps)})
        rec = {"kind": "saliency", "step": step, "epoch": float(e)}
        if masks:
            for name in maps:
                auc = (aurocs or {}).get(name, [0.6] * (epochs + 1))[e]
                rec.update({f"{name}/auroc": auc, f"{name}/best_iou": 0.3 + 0.01 * e,
                            f"{name}/polarity": 1 if auc >= 0.5 else -1})
            rd.log(rec)
        rd.log({"kind": "train", "step": step, "epoch": float(e), "loss": 1.0 / (e + 1),
                "lr": 0.1, "collapsed": False})
    if finished:
        rd.write_summary({"ok": True})
    return rd.path


@pytest.fixture
def make_run(tmp_path):
    def make(name, **kw):
        return write_run(tmp_path / name, **kw)
    return make
