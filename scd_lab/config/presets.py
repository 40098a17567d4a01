"""Named presets: whole recipes, one function each (``scd-lab presets`` lists them).

``cpu`` is the CPU tier (every method runs on it); ``in100-r18`` the one-GPU ImageNet-100
recipe; ``paper-*`` the paper's ImageNet recipes (ResNet-50, 224 px).
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
    return _paper_r50("paper-scd-moco-r50", MethodConfig(name="scd-moco"),
                      OptimConfig(optimizer="sgd", lr=0.06, lr_scaling="none",
                                  weight_decay=1e-4), batch_size=256)


def _paper_scd_byol() -> Config:
    return _paper_r50("paper-scd-byol-r50", MethodConfig(name="scd-byol"),
                      OptimConfig(optimizer="sgd", lr=0.05, lr_scaling="none",
                                  weight_decay=1e-4), batch_size=512)


def _lewel_paper() -> Config:
    return _paper_r50("paper-lewel-byol-r50", MethodConfig(name="lewel-byol", base_momentum=0.98),
                      OptimConfig(optimizer="lars", lr=3.6, lr_scaling="none",
                                  weight_decay=1.5e-6, warmup_epochs=10),
                      batch_size=1024, crop_scale_min=0.2)


PRESETS = {
    "cpu": _cpu,
    "in100-r18": _in100_r18,
    "paper-scd-moco-r50": _paper_scd_moco,
    "paper-scd-byol-r50": _paper_scd_byol,
    "paper-lewel-byol-r50": _lewel_paper,
}
