"""Small configs and data shared by the trainer tests (and the torchrun worker)."""
from __future__ import annotations

from scd_lab.config import apply_overrides, get_preset
from scd_lab.data.synthetic import SyntheticSpec, generate

TINY = [
    "backbone.widths=[8, 16, 16, 32]", "backbone.strides=[1, 2, 2, 1]",
    "method.proj_hidden=64", "method.pred_hidden=64", "method.proj_dim=32",
    "method.queue_size=64", "data.image_size=32", "data.crop_size=32",
    "train.batch_size=16", "train.probe_size=8", "train.knn_bank_size=null",
    "train.progress=false", "train.log_every=1", "train.num_workers=0",
]


def tiny_config(method: str = "scd-byol", extra=()):
    return apply_overrides(get_preset("cpu"), TINY + [f"method.name={method}", *extra])


def tiny_data(n_train: int = 64, n_test: int = 32, seed: int = 0):
    spec = SyntheticSpec(image_size=32, num_classes=4, num_train=n_train, num_test=n_test)
    return generate(spec, n_train, 2 * seed), generate(spec, n_test, 2 * seed + 1)
