"""Typed configuration: dataclasses, named presets, YAML round trip and validation.

Every default of METHOD.md is written once, here: in the field defaults below, in
``METHOD_DEFAULTS`` (the choices that differ between methods) and in ``PRESETS`` (whole recipes).
A method field left at ``None`` means "the method's default"; ``resolve`` fills it in, and the
resolved config is what a run writes next to its checkpoints.

Example:
    >>> cfg = get_preset("cpu")
    >>> cfg = apply_overrides(cfg, ["method.alpha=0.5", "train.epochs=3"])
    >>> cfg.method.alpha
    0.5
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
    """The self-supervised method and every switch METHOD.md names.

    ``None`` means "this method's default" (see ``METHOD_DEFAULTS``).

    name: one of ``byol``, ``moco``, ``scd-byol``, ``scd-moco``, ``lewel-byol``, ``lewel-moco``.
    proj_hidden, proj_dim: projector Linear(C, proj_hidden) -> ... -> Linear(., proj_dim).
    pred_hidden: BYOL predictor hidden width (proj_dim -> pred_hidden -> proj_dim).
    symmetric: "2x" loss: both directions, **summed** (METHOD.md section 1).
    base_momentum, momentum_schedule: EMA m0 and ``cosine`` (m -> 1 at the last step) or
        ``constant``.
    tau, queue_size: MoCo InfoNCE temperature and number of queued negative keys K.
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


@dataclass
class OptimConfig:
    """Optimizer and learning-rate schedule.

    lr: base learning rate at batch 256 when ``lr_scaling == "linear"`` (lr * batch / 256),
        else the learning rate itself.
    exclude_bias_norm: no weight decay (and no LARS adaptation) for biases and norm weights.
    """

    optimizer: str = "sgd"
    lr: float = 0.05
    lr_scaling: str = "linear"
    weight_decay: float = 1e-4
    momentum: float = 0.9
    warmup_epochs: float = 0.0
    exclude_bias_norm: bool = True
    lars_eta: float = 0.001


@dataclass
class TrainConfig:
    """The loop: length, precision, monitors and snapshots.

    precision: ``auto`` (bf16 autocast on CUDA, fp32 on CPU), ``fp32`` or ``bf16``.
    channels_last: ``auto`` = on for CUDA. compile: ``torch.compile`` the method.
    max_steps: stop after this many steps (None: epochs * steps per epoch).
    knn_every, snapshot_every: in epochs (0 = never); both also run at step 0.
    probe_size: held-out images whose saliency maps are snapshotted.
    deterministic: deterministic algorithms (needed for bit-exact resume).
    """

    epochs: int = 10
    batch_size: int = 128
    max_steps: int | None = None
    precision: str = "auto"
    channels_last: str = "auto"
    compile: bool = False
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
# Method defaults: the values METHOD.md gives that differ between methods (written once).

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
}
AUGMENT_FOR = {"byol": "byol", "scd-byol": "byol", "lewel-byol": "byol",
               "moco": "moco", "scd-moco": "moco", "lewel-moco": "moco"}

# Allowed values of the choice fields (also the messages of validation errors).
CHOICES: dict[str, tuple[Any, ...]] = {
    "backbone.arch": ("resnet18", "resnet50", "resnet_tiny"),
    "backbone.padding_mode": ("zeros", "reflect", "replicate", "circular"),
    "method.name": tuple(METHOD_DEFAULTS),
    "method.momentum_schedule": ("cosine", "constant", None),
    "method.semantic_bn": ("separate", "joint"),
    "data.dataset": ("synthetic", "synthetic-camouflage", "synthetic-easy", "synthetic-hard",
                     "imagenet100", "folder"),
    "data.augment": ("byol", "moco", None),
    "optim.optimizer": ("sgd", "lars"),
    "optim.lr_scaling": ("linear", "none"),
    "train.precision": ("auto", "fp32", "bf16"),
    "train.channels_last": ("auto", "on", "off"),
}


class ConfigError(ValueError):
    """A config value or key is not allowed; the message names it and what is allowed."""


# --------------------------------------------------------------------------------------------
# Presets


def _cpu() -> Config:
    return Config(
        preset="cpu",
        backbone=BackboneConfig(arch="resnet_tiny", small_stem=True, widths=(16, 32, 64, 128),
                                blocks=(1, 1, 1, 1), strides=(1, 2, 2, 1)),
        method=MethodConfig(name="scd-byol", proj_hidden=1024, pred_hidden=1024, proj_dim=256),
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


def _paper_scd_moco() -> Config:
    return Config(
        preset="paper-scd-moco-r50",
        backbone=BackboneConfig(arch="resnet50"),
        method=MethodConfig(name="scd-moco"),
        data=DataConfig(dataset="folder", root="data/imagenet", image_size=256, crop_size=224),
        optim=OptimConfig(optimizer="sgd", lr=0.06, lr_scaling="none", weight_decay=1e-4),
        train=TrainConfig(epochs=200, batch_size=256, knn_every=10, snapshot_every=10),
    )


def _paper_scd_byol() -> Config:
    return Config(
        preset="paper-scd-byol-r50",
        backbone=BackboneConfig(arch="resnet50"),
        method=MethodConfig(name="scd-byol"),
        data=DataConfig(dataset="folder", root="data/imagenet", image_size=256, crop_size=224),
        optim=OptimConfig(optimizer="sgd", lr=0.05, lr_scaling="none", weight_decay=1e-4),
        train=TrainConfig(epochs=200, batch_size=512, knn_every=10, snapshot_every=10),
    )


def _lewel_paper() -> Config:
    return Config(
        preset="paper-lewel-byol-r50",
        backbone=BackboneConfig(arch="resnet50"),
        method=MethodConfig(name="lewel-byol", base_momentum=0.98),
        data=DataConfig(dataset="folder", root="data/imagenet", image_size=256, crop_size=224,
                        crop_scale_min=0.2),
        optim=OptimConfig(optimizer="lars", lr=3.6, lr_scaling="none", weight_decay=1.5e-6,
                          warmup_epochs=10),
        train=TrainConfig(epochs=200, batch_size=1024, knn_every=10, snapshot_every=10),
    )


PRESETS = {
    "cpu": _cpu,
    "in100-r18": _in100_r18,
    "paper-scd-moco-r50": _paper_scd_moco,
    "paper-scd-byol-r50": _paper_scd_byol,
    "paper-lewel-byol-r50": _lewel_paper,
}


def get_preset(name: str) -> Config:
    """A fresh copy of the named preset (see ``PRESETS``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; available presets: {', '.join(PRESETS)}"
                          + _did_you_mean(name, PRESETS))
    return validate(PRESETS[name]())


# --------------------------------------------------------------------------------------------
# Resolution, validation, (de)serialisation


def resolve(cfg: Config) -> Config:
    """A copy with every ``None`` method/data default filled in from ``METHOD_DEFAULTS``."""
    cfg = copy.deepcopy(cfg)
    validate(cfg)
    for key, value in METHOD_DEFAULTS[cfg.method.name].items():
        if getattr(cfg.method, key) is None:
            setattr(cfg.method, key, value)
    if cfg.data.augment is None:
        cfg.data.augment = AUGMENT_FOR[cfg.method.name]
    return validate(cfg)  # again: checks that depend on the filled-in defaults (lewel proj_dim)


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _positive(path: str, value, allow_zero: bool = False):
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{path} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def validate(cfg: Config) -> Config:
    """Check every field's type, choice and range; raise ``ConfigError`` naming the key."""
    for section in dataclasses.fields(cfg):
        if section.name == "preset":
            continue
        sub = getattr(cfg, section.name)
        for f in dataclasses.fields(sub):
            path = f"{section.name}.{f.name}"
            value = getattr(sub, f.name)
            _check_type(path, value, _field_types(type(sub))[f.name])
            if path in CHOICES and value not in CHOICES[path]:
                allowed = ", ".join(repr(c) for c in CHOICES[path])
                raise ConfigError(f"{path}={value!r} is not allowed; choose one of: {allowed}"
                                  + _did_you_mean(value, CHOICES[path]))
    b, m, d, o, t = cfg.backbone, cfg.method, cfg.data, cfg.optim, cfg.train
    if not (len(b.widths) == len(b.blocks) == len(b.strides) == 4):
        raise ConfigError("backbone.widths, backbone.blocks and backbone.strides need 4 entries "
                          f"(one per stage); got {b.widths}, {b.blocks}, {b.strides}")
    if any(s not in (1, 2) for s in b.strides):
        raise ConfigError(f"backbone.strides entries must be 1 or 2, got {b.strides}")
    for p in ("proj_hidden", "proj_dim", "pred_hidden", "queue_size", "lewel_heads"):
        _positive(f"method.{p}", getattr(m, p))
    for p in ("tau", "lewel_scale", "eps", "saliency_width"):
        _positive(f"method.{p}", getattr(m, p))
    _positive("method.alpha", m.alpha, allow_zero=True)
    _positive("method.lam", m.lam, allow_zero=True)
    if m.base_momentum is not None and not 0.0 <= m.base_momentum <= 1.0:
        raise ConfigError(f"method.base_momentum must be in [0, 1], got {m.base_momentum}")
    if not 0.0 <= m.lewel_global_weight <= 1.0:
        raise ConfigError("method.lewel_global_weight must be in [0, 1], "
                          f"got {m.lewel_global_weight}")
    if m.proj_dim is not None and m.name.startswith("lewel") and m.proj_dim % m.lewel_heads:
        raise ConfigError(f"method.proj_dim={m.proj_dim} must be divisible by "
                          f"method.lewel_heads={m.lewel_heads} (d/h alignment maps per head)")
    if m.name.startswith("scd") and not (m.fg_term or m.bg_term) and m.lam > 0:
        raise ConfigError("method.fg_term and method.bg_term are both off while method.lam > 0: "
                          "L_d would be zero; set method.lam=0 or switch a term on")
    for p in ("image_size", "crop_size"):
        _positive(f"data.{p}", getattr(d, p))
    if d.crop_size > d.image_size:
        raise ConfigError(f"data.crop_size={d.crop_size} exceeds data.image_size={d.image_size}; "
                          "a view cannot be larger than the stored image")
    if d.crop_scale_min is not None and not 0.0 < d.crop_scale_min <= 1.0:
        raise ConfigError(f"data.crop_scale_min must be in (0, 1], got {d.crop_scale_min}")
    if d.dataset in ("imagenet100", "folder") and not d.root:
        hint = ("build it with `scd-lab data in100`" if d.dataset == "imagenet100"
                else "an ImageFolder-style directory of class subfolders")
        raise ConfigError(f"data.dataset={d.dataset!r} needs data.root (a directory); {hint}")
    for p in ("num_train", "num_test", "num_classes"):
        _positive(f"data.{p}", getattr(d, p))
    _positive("optim.lr", o.lr)
    _positive("optim.weight_decay", o.weight_decay, allow_zero=True)
    _positive("optim.warmup_epochs", o.warmup_epochs, allow_zero=True)
    if not 0.0 <= o.momentum < 1.0:
        raise ConfigError(f"optim.momentum must be in [0, 1), got {o.momentum}")
    for p in ("epochs", "batch_size", "probe_size", "knn_k", "log_every"):
        _positive(f"train.{p}", getattr(t, p))
    for p in ("knn_every", "snapshot_every", "ckpt_every", "num_workers"):
        _positive(f"train.{p}", getattr(t, p), allow_zero=True)
    _positive("train.max_steps", t.max_steps)
    _positive("train.knn_tau", t.knn_tau)
    return cfg


_TYPE_CACHE: dict[type, dict[str, Any]] = {}


def _field_types(cls) -> dict[str, Any]:
    if cls not in _TYPE_CACHE:
        _TYPE_CACHE[cls] = typing.get_type_hints(cls)
    return _TYPE_CACHE[cls]


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _check_type(path: str, value, tp) -> None:
    ok = _matches(value, tp)
    if not ok:
        raise ConfigError(f"{path}={value!r} has type {type(value).__name__}; expected "
                          f"{_describe(tp)}")


def _describe(tp) -> str:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if typing.get_origin(tp) is tuple:
        return f"a list of {_describe(args[0])}"
    return "None" if tp is type(None) else _type_name(tp)


def _matches(value, tp) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if origin is tuple:
        return isinstance(value, tuple) and all(_matches(v, typing.get_args(tp)[0]) for v in value)
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def to_dict(cfg: Config) -> dict:
    """Plain nested dict (tuples become lists) for YAML/JSON."""
    def plain(v):
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        return v
    out = {}
    for section in dataclasses.fields(cfg):
        sub = getattr(cfg, section.name)
        out[section.name] = sub if section.name == "preset" else {
            f.name: plain(getattr(sub, f.name)) for f in dataclasses.fields(sub)}
    return out


def from_dict(data: dict, base: Config | None = None) -> Config:
    """Build a config from a (partial) nested dict on top of ``base`` (default: ``Config()``).

    Unknown sections or keys raise ``ConfigError`` naming the key and the allowed ones.
    """
    cfg = copy.deepcopy(base) if base is not None else Config()
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping of sections, got {type(data).__name__}")
    sections = {f.name for f in dataclasses.fields(Config)}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"unknown config section {name!r}; allowed: "
                              f"{', '.join(sorted(sections))}" + _did_you_mean(name, sections))
        if name == "preset":
            cfg.preset = str(values)
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"config section {name!r} must be a mapping, got {values!r}")
        for key, value in values.items():
            _set(cfg, f"{name}.{key}", value)
    return validate(cfg)


def _set(cfg: Config, path: str, value) -> None:
    parts = path.split(".")
    sections = [f.name for f in dataclasses.fields(Config) if f.name != "preset"]
    if len(parts) != 2 or parts[0] not in sections:
        raise ConfigError(f"unknown config key {path!r}; keys look like 'section.field' with "
                          f"section one of: {', '.join(sections)}"
                          + _did_you_mean(parts[0], sections))
    sub = getattr(cfg, parts[0])
    names = [f.name for f in dataclasses.fields(sub)]
    if parts[1] not in names:
        raise ConfigError(f"unknown config key {path!r}; allowed keys in {parts[0]!r}: "
                          f"{', '.join(names)}" + _did_you_mean(parts[1], names))
    tp = _field_types(type(sub))[parts[1]]
    if isinstance(value, list):
        value = tuple(value)
    options = (typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType)
               else (tp,))
    if isinstance(value, int) and not isinstance(value, bool) and float in options \
            and int not in options:
        value = float(value)  # YAML reads "1" as int; a float field stores 1.0
    _check_type(path, value, tp)
    setattr(sub, parts[1], value)


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply ``section.key=value`` strings (values parsed as YAML: 0.5, true, [1, 2], null)."""
    cfg = copy.deepcopy(cfg)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value, "
                              "e.g. method.alpha=0.5")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: cannot parse value {raw!r} ({exc})") from None
        _set(cfg, key.strip(), value)
    return validate(cfg)


def save_yaml(cfg: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))


def load_yaml(path: str | Path, base: Config | None = None) -> Config:
    """Load a YAML config (full, or partial on top of ``base``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from None
    data = data or {}
    if base is None and isinstance(data, dict) and data.get("preset") in PRESETS:
        base = get_preset(data["preset"])
    return from_dict(data, base)
