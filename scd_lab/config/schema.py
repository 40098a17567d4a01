"""The config's dataclasses, the method defaults and the names every other module looks up.

Each name is written once, here: the method names (``METHOD_DEFAULTS``), the dataset names
(``DATASETS``), the synthetic generator's knobs (``SYNTHETIC_KNOBS``) and the allowed values of
every choice field (``CHOICES``). A method field left at ``None`` means "the method's default";
``scd_lab.config.resolve`` fills it in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


# --------------------------------------------------------------------------------------------
# Sections


@dataclass
class BackboneConfig:
    """The ResNet trunk that produces the feature map F (B, C, H, W).

    arch: ``resnet18`` / ``resnet50`` (torchvision, random init, nothing downloaded) or
        ``resnet_tiny`` (a narrow BasicBlock ResNet for the CPU tier).
    small_stem: 3x3 stride-1 first conv and no max-pool (for 32-96 px inputs).
    widths, blocks, strides: stage widths, blocks per stage and stage strides (``resnet_tiny``).
    padding_mode: padding of every 3x3 conv (``zeros`` as in torchvision; ``reflect`` removes
        the positional signal that zero padding leaks into the feature map).
    """

    arch: str = "resnet18"
    small_stem: bool = False
    widths: tuple[int, ...] = (32, 64, 128, 256)
    blocks: tuple[int, ...] = (1, 1, 1, 1)
    strides: tuple[int, ...] = (1, 2, 2, 1)
    padding_mode: str = "zeros"


@dataclass
class MethodConfig:
    """The self-supervised method and every switch docs/method.md names.

    ``None`` means "this method's default" (see ``METHOD_DEFAULTS``).

    name: one of ``byol``, ``moco``, ``scd-byol``, ``scd-moco``, ``lewel-byol``, ``lewel-moco``,
        ``supervised`` (cross-entropy on the labels: the reference for semantic features).
    proj_hidden, proj_dim: projector Linear(C, proj_hidden) -> ... -> Linear(., proj_dim).
    pred_hidden: BYOL predictor hidden width (proj_dim -> pred_hidden -> proj_dim).
    symmetric: "2x" loss: both directions, **summed** (docs/method.md).
    base_momentum, momentum_schedule: EMA m0 and ``cosine`` (m -> 1 at the last step) or
        ``constant``.
    tau, queue_size: MoCo InfoNCE temperature and number of queued negative keys K.
    bn_splits: MoCo's shuffled BN on one process: the key encoder's batch is shuffled and its
        BN normalises it in this many groups (split BN, as MoCo's one-GPU demo); 1 = off.
    alpha: SCD triplet margin (eq. 5, foreground term only). lam: weight of L_d (L = L_c + lam L_d).
    fg_term, bg_term: switch each term of eq. 5 off (paper Table 3).
    semantic_predictor: a predictor on the online z_fg / z_bg (the paper names none).
    saliency_width: hidden channels of the saliency net as a fraction of C (paper: C/1).
    semantic_bn: the semantic projector H^s is shared by fg and bg; ``separate`` applies it to
        h_fg and h_bg in two calls (z_fg = H^s(h_fg), z_bg = H^s(h_bg), each its own BN batch),
        ``joint`` in one call on [h_fg; h_bg] (one BN batch). The paper does not say.
    eps: guard of the weighted-pooling denominator (eq. 4).
    lewel_heads, lewel_scale: LEWEL's h (channel groups) and s (softmax scale).
    lewel_global_weight: weight of the global term (the slot term gets 1 - weight).
    lewel_slot_hidden: hidden width of LEWEL's slot projector H_s and slot predictor G_s
        (``None``: ``proj_hidden`` and ``pred_hidden``, as the authors' code ties them; their
        4096 is 2 C for ResNet-50's C = 2048, and the ``cpu`` preset scales it the same way).
    head_bias: a bias on the last Linear of the BN heads (projectors, predictors). Off as in
        the official BYOL and LEWEL code; on is the kit before issue 22, kept so that its run
        folders load (a run's config.yaml without this key means on). MoCo's BN-free
        projector always has its biases, as MoCo's.
    eman: the target network runs in eval mode and its BN statistics follow the online ones
        by the same EMA as the weights (EMAN, Cai et al. 2021; LEWEL's ``LEWELB_EMAN``). Off:
        the target runs in train mode (batch statistics) and only parameters are averaged
        (BYOL's, LEWEL's ``LEWELB``).
    """

    name: str = "scd-byol"
    proj_hidden: int | None = None
    proj_dim: int | None = None
    pred_hidden: int | None = None
    symmetric: bool | None = None
    base_momentum: float | None = None
    momentum_schedule: str | None = None
    tau: float = 0.2
    queue_size: int = 65536
    bn_splits: int = 8
    alpha: float = 1.0
    lam: float = 0.5
    fg_term: bool = True
    bg_term: bool = True
    semantic_predictor: bool = False
    saliency_width: float = 1.0
    semantic_bn: str = "separate"
    eps: float = 1e-6
    lewel_heads: int = 4
    lewel_scale: float = 1.0
    lewel_global_weight: float = 0.5
    lewel_slot_hidden: int | None = None
    head_bias: bool = False
    eman: bool = False


@dataclass
class DataConfig:
    """Where images come from and how the two views are made.

    dataset: ``synthetic`` (embedded default), ``synthetic-camouflage``, ``synthetic-easy``,
        ``imagenet100`` (compact copy made by ``scd-lab data in100 --resize``) or ``folder``.
    root: directory for ``imagenet100`` / ``folder``.
    image_size: stored image side; crop_size: side of each augmented view.
    augment: ``byol`` (asymmetric) or ``moco`` (aug+); ``None`` = the method family's preset.
    crop_scale_min: lower bound of RandomResizedCrop's scale (``None`` = the preset's).
    num_train, num_test, num_classes, scale_range, clutter, patches, camouflage, max_objects,
    saturation, distinct_textures:
        knobs of the synthetic generator (``None`` = the split's default; see
        ``scd_lab.data.synthetic.SyntheticSpec``).
    seed: seed of the synthetic generator.
    stream: ``folder`` only: stream the training split from its JPEG files, each step's batch
        decoded by ``train.num_workers`` DataLoader processes (``scd_lab.data.stream``), instead
        of decoding the whole split into memory first; same batches, same augmentation. For
        full-size images (the ``paper-*`` presets); the held-out split stays in memory.
    decode: with ``stream``: ``cpu`` (PIL in the worker processes) or ``device``
        (``torchvision.io.decode_jpeg`` of the whole batch on the training device, nvJPEG on a
        GPU; the workers only read the bytes).
    """

    dataset: str = "synthetic"
    root: str | None = None
    image_size: int = 64
    crop_size: int = 64
    augment: str | None = None
    crop_scale_min: float | None = None
    num_train: int | None = None
    num_test: int | None = None
    num_classes: int | None = None
    scale_range: tuple[float, ...] | None = None
    clutter: int | None = None
    patches: int | None = None
    camouflage: float | None = None
    max_objects: int | None = None
    saturation: float | None = None
    distinct_textures: bool | None = None
    seed: int = 0
    stream: bool = False
    decode: str = "cpu"


@dataclass
class OptimConfig:
    """Optimizer and learning-rate schedule.

    lr: base learning rate at batch 256 when ``lr_scaling == "linear"`` (lr * batch / 256),
        else the learning rate itself.
    exclude_bias_norm: no weight decay (and no LARS adaptation) for biases and norm weights.
    head_bn_decay: with ``exclude_bias_norm``, the heads' BN scales (BatchNorm1d weights) still
        get weight decay and LARS adaptation (their biases do not), as LEWEL's BN recipe does
        (its ``main.py:381`` excludes the heads' BN, ``mlp.1``, only for the EMAN model).
    lars_form: ``lewel``: trust ratio eta ||w|| / (||g|| + wd ||w||) and the learning rate
        inside the momentum buffer (LEWEL ``utils/LARS.py:96-116``); ``joint``: eta ||w|| /
        ||g + wd w||, the learning rate outside the buffer (the kit before issue 22).
    lr_per: ``step``: the cosine decays every step (BYOL's code; the CPU tier's few epochs
        need it); ``epoch``: it moves once per epoch, as LEWEL's and MoCo's code
        (``adjust_learning_rate`` called at each epoch's start). The warm-up is per step in both.
    """

    optimizer: str = "sgd"
    lr: float = 0.05
    lr_scaling: str = "linear"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    warmup_epochs: float = 0.0
    exclude_bias_norm: bool = True
    lars_eta: float = 0.001
    head_bn_decay: bool = False
    lars_form: str = "lewel"
    lr_per: str = "step"


@dataclass
class TrainConfig:
    """The loop: length, precision, monitors and snapshots.

    precision: ``auto`` (bf16 autocast on CUDA, fp32 on CPU), ``fp32`` or ``bf16``.
    channels_last: ``auto`` = on for CUDA. compile: ``torch.compile`` the method (off by
        default: docs/cost.md has the measurements; a failure falls back to eager with one
        line); compile_mode: its ``mode`` (``reduce-overhead`` adds CUDA graphs).
    max_steps: stop after this many steps (None: epochs * steps per epoch).
    knn_every, snapshot_every, ckpt_every: in epochs, 0 = never. The monitors also run at
        step 0; a checkpoint is also written at the last step (unless ckpt_every = 0).
    num_workers: processes that decode an image folder (``data.dataset=folder``): once, into
        memory, or every step with ``data.stream``.
    probe_size: held-out images whose saliency maps are snapshotted.
    deterministic: deterministic algorithms (needed for bit-exact resume).
    """

    epochs: int = 10
    batch_size: int = 128
    max_steps: int | None = None
    precision: str = "auto"
    channels_last: str = "auto"
    compile: bool = False
    compile_mode: str = "default"
    seed: int = 0
    deterministic: bool = False
    device: str = "auto"
    sync_bn: bool = False
    num_workers: int = 2
    knn_every: int = 1
    knn_k: int = 20
    knn_tau: float = 0.07
    knn_bank_size: int | None = 5000
    snapshot_every: int = 1
    probe_size: int = 32
    log_every: int = 10
    ckpt_every: int = 1
    progress: bool = True


@dataclass
class Config:
    """A whole run. ``preset`` names the preset it started from (informational)."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "custom"


# --------------------------------------------------------------------------------------------
# Method defaults: the values docs/method.md gives that differ between methods (written once).

_BYOL = dict(proj_hidden=4096, proj_dim=256, pred_hidden=4096, symmetric=False,
             base_momentum=0.99, momentum_schedule="cosine")
_MOCO = dict(proj_hidden=2048, proj_dim=128, pred_hidden=4096, symmetric=False,
             base_momentum=0.999, momentum_schedule="constant")
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "byol": dict(_BYOL),
    "scd-byol": dict(_BYOL, proj_dim=512),  # the SCD paper follows MSF: d = 512
    "moco": dict(_MOCO),
    "scd-moco": dict(_MOCO),
    # LEWEL_B: d = 256, authors sum both directions; m0 0.98 in their IN-1K recipe is set by
    # the preset, the kit keeps BYOL's m0 so that short runs compare like with like.
    "lewel-byol": dict(_BYOL, symmetric=True),
    "lewel-moco": dict(_MOCO, symmetric=True),  # the kit's own extension
    # cross-entropy on the labels, same trunk and augmentation: the "semantic features"
    # reference (no projector, no target network)
    "supervised": {},
}


def base_method(name: str) -> str:
    """The base method of a method name: ``scd-moco`` -> ``moco`` (names are [plug-in-]base)."""
    return name.rsplit("-", 1)[-1]


def plugin(name: str) -> str | None:
    """The plug-in of a method name: ``scd-moco`` -> ``scd``, ``byol`` -> ``None``."""
    return name.rsplit("-", 1)[0] if "-" in name else None


# The augmentation preset of each method: MoCo's aug+ for the MoCo family, BYOL's asymmetric
# views for the others (the supervised reference uses the same views as BYOL).
AUGMENT_FOR = {name: "moco" if base_method(name) == "moco" else "byol"
               for name in METHOD_DEFAULTS}

# The datasets ``data.dataset`` accepts.
DATASETS = ("synthetic", "synthetic-camouflage", "synthetic-easy", "synthetic-hard",
            "imagenet100", "folder")

# The synthetic generator's knobs that ``DataConfig`` exposes (fields of ``SyntheticSpec``).
SYNTHETIC_KNOBS = ("num_train", "num_test", "num_classes", "scale_range", "clutter", "patches",
                   "camouflage", "max_objects", "saturation", "distinct_textures")

# What a run folder's config.yaml meant by a key it lacks: run configs are written whole, so a
# missing key means the run predates the field, and its old behaviour is the one to rebuild
# (``RunDir.config``): heads with a last bias (their checkpoints hold one) and the joint LARS.
RUN_FOLDER_LEGACY: dict[str, Any] = {"method.head_bias": True, "optim.lars_form": "joint"}

# Allowed values of the choice fields (also the messages of validation errors).
CHOICES: dict[str, tuple[Any, ...]] = {
    "backbone.arch": ("resnet18", "resnet50", "resnet_tiny"),
    "backbone.padding_mode": ("zeros", "reflect", "replicate", "circular"),
    "method.name": tuple(METHOD_DEFAULTS),
    "method.momentum_schedule": ("cosine", "constant", None),
    "method.semantic_bn": ("separate", "joint"),
    "data.dataset": DATASETS,
    "data.augment": ("byol", "moco", None),
    "data.decode": ("cpu", "device"),
    "optim.optimizer": ("sgd", "lars"),
    "optim.lr_scaling": ("linear", "none"),
    "optim.lars_form": ("lewel", "joint"),
    "optim.lr_per": ("step", "epoch"),
    "train.precision": ("auto", "fp32", "bf16"),
    "train.channels_last": ("auto", "on", "off"),
    "train.compile_mode": ("default", "reduce-overhead", "max-autotune"),
}
