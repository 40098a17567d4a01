"""Named presets: whole recipes, one function each (``scd-lab presets`` lists them).

``cpu`` is the CPU tier (every method runs on it); ``in100-r18`` the one-GPU ImageNet-100
recipe; ``paper-*`` the papers' ImageNet recipes (ResNet-50, 224 px): SCD's two, and LEWEL's
two official ones, ``-eman`` and ``-syncbn`` (docs/fidelity.md).
"""
from __future__ import annotations

from .schema import BackboneConfig, Config, DataConfig, MethodConfig, OptimConfig, TrainConfig


def _cpu() -> Config:
    return Config(
        preset="cpu",
        backbone=BackboneConfig(arch="resnet_tiny", small_stem=True, widths=(16, 32, 64, 128),
                                blocks=(1, 1, 1, 1), strides=(1, 2, 2, 1)),
        method=MethodConfig(name="scd-byol", proj_hidden=1024, pred_hidden=1024, proj_dim=256,
                            queue_size=4096,  # the queue must fit in 5,000 images
                            # LEWEL's slot heads at 2 C, as 4096 is to ResNet-50's C = 2048
                            lewel_slot_hidden=256),
        data=DataConfig(dataset="synthetic", image_size=64, crop_size=32, crop_scale_min=0.2),
        optim=OptimConfig(optimizer="sgd", lr=0.4, weight_decay=1e-4, warmup_epochs=1.0),
        train=TrainConfig(epochs=6, batch_size=64, probe_size=32, knn_bank_size=5000),
    )


def _in100_r18() -> Config:
    # ImageNet-100, ResNet-18 at 96 px from a compact 112 px copy; the paper doubles the
    # IN-1K learning rate on IN-100.
    return Config(
        preset="in100-r18",
        backbone=BackboneConfig(arch="resnet18", small_stem=True),
        method=MethodConfig(name="scd-byol"),
        data=DataConfig(dataset="imagenet100", root="data/imagenet100", image_size=112,
                        crop_size=96),
        optim=OptimConfig(optimizer="sgd", lr=0.1 * 256 / 512, weight_decay=1e-4,
                          warmup_epochs=5),
        train=TrainConfig(epochs=200, batch_size=512, knn_every=5, snapshot_every=5),
    )


def _paper_r50(preset: str, method: MethodConfig, optim: OptimConfig, batch_size: int,
               crop_scale_min: float | None = None) -> Config:
    """The papers' ImageNet setting: ResNet-50, 224 px crops of 256 px images, 200 epochs."""
    data = DataConfig(dataset="folder", root="data/imagenet", image_size=256, crop_size=224)
    if crop_scale_min is not None:
        data.crop_scale_min = crop_scale_min
    return Config(preset=preset, backbone=BackboneConfig(arch="resnet50"), method=method,
                  data=data, optim=optim,
                  train=TrainConfig(epochs=200, batch_size=batch_size, knn_every=10,
                                    snapshot_every=10))


def _paper_scd_moco() -> Config:
    # MoCo's code sets the cosine once per epoch (main_moco.py:372, 488-497) and decays every
    # parameter, biases and BN included (main_moco.py:291-296)
    return _paper_r50("paper-scd-moco-r50", MethodConfig(name="scd-moco"),
                      OptimConfig(optimizer="sgd", lr=0.06, lr_scaling="none",
                                  weight_decay=1e-4, lr_per="epoch", exclude_bias_norm=False),
                      batch_size=256)


def _paper_scd_byol() -> Config:
    return _paper_r50("paper-scd-byol-r50", MethodConfig(name="scd-byol"),
                      OptimConfig(optimizer="sgd", lr=0.05, lr_scaling="none",
                                  weight_decay=1e-4), batch_size=512)


def _lewel(preset: str, eman: bool, m0: float, lr: float, wd: float, batch: int,
           epochs: int) -> Config:
    """A LEWEL_B recipe of the authors' code (LayneH/LEWEL 4ee47eb): h = 4 heads, s = 1,
    w = 0.5 (``--lewel-num-heads 4 --lewel-scale 1.0 --lewel-loss-weight 0.5``), LARS of
    ``utils/LARS.py`` at the lr given (no scaling, ``main.py:188``), 10 warm-up epochs, the
    cosine set once per epoch (``main.py:264-265``), crop scale (0.2, 1)."""
    cfg = _paper_r50(preset, MethodConfig(name="lewel-byol", base_momentum=m0, lewel_heads=4,
                                          lewel_scale=1.0, lewel_global_weight=0.5, eman=eman),
                     OptimConfig(optimizer="lars", lr=lr, lr_scaling="none", weight_decay=wd,
                                 warmup_epochs=10, lars_form="lewel", lr_per="epoch",
                                 head_bn_decay=not eman),
                     batch_size=batch, crop_scale_min=0.2)
    cfg.train.epochs = epochs
    cfg.train.sync_bn = not eman  # SyncBN on several GPUs (plain BN on one)
    return cfg


def _lewel_eman() -> Config:
    # scripts/srun_lewelb_eman.sh:3-8 (and run_lewelb_eman.sh:4-9), --arch LEWELB_EMAN: the
    # target in eval mode (main.py:310-315), its BN statistics averaged (models/lewel.py:161-178)
    return _lewel("paper-lewel-byol-r50-eman", eman=True, m0=0.98, lr=3.6, wd=1.5e-6,
                  batch=1024, epochs=200)


def _lewel_syncbn() -> Config:
    # scripts/srun_lewelb.sh:5-10,48, --arch LEWELB --norm SyncBN: the target in train mode,
    # parameters-only EMA (models/lewel.py:215-226); the heads' BN scales decayed (main.py:381)
    return _lewel("paper-lewel-byol-r50-syncbn", eman=False, m0=0.996, lr=7.2, wd=1e-6,
                  batch=4096, epochs=400)


PRESETS = {
    "cpu": _cpu,
    "in100-r18": _in100_r18,
    "paper-scd-moco-r50": _paper_scd_moco,
    "paper-scd-byol-r50": _paper_scd_byol,
    "paper-lewel-byol-r50-eman": _lewel_eman,
    "paper-lewel-byol-r50-syncbn": _lewel_syncbn,
}

# Presets that were split or renamed: asking for one names its successors (one line).
RETIRED = {
    "paper-lewel-byol-r50": "it mixed LEWEL's two official recipes and was split in two: "
                            "paper-lewel-byol-r50-eman (EMAN: LARS 3.6, batch 1024, m0 0.98, "
                            "target in eval mode) and paper-lewel-byol-r50-syncbn (SyncBN: "
                            "LARS 7.2, batch 4096, m0 0.996, target in train mode)",
}
