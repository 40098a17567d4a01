"""Generic config code: resolution of method defaults, validation, overrides and YAML.

Example:
    >>> from scd_lab.config import apply_overrides, get_preset
    >>> cfg = apply_overrides(get_preset("cpu"), ["method.alpha=0.5", "train.epochs=3"])
    >>> cfg.method.alpha
    0.5
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .presets import PRESETS, RETIRED
from .schema import AUGMENT_FOR, CHOICES, METHOD_DEFAULTS, Config


def get_preset(name: str) -> Config:
    """A fresh copy of the named preset (see ``PRESETS``)."""
    if name in RETIRED:
        raise ConfigError(f"preset {name!r} is gone: {RETIRED[name]}")
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; available presets: {', '.join(PRESETS)}"
                          + _did_you_mean(name, PRESETS))
    return validate(PRESETS[name]())


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
    for p in ("proj_hidden", "proj_dim", "pred_hidden", "queue_size", "bn_splits",
              "lewel_heads", "lewel_slot_hidden"):
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
    if d.stream and d.dataset != "folder":
        raise ConfigError(f"data.stream=true streams JPEG folders (data.dataset='folder'), not "
                          f"data.dataset={d.dataset!r}; set data.stream=false")
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


def load_yaml(path: str | Path, base: Config | None = None,
              missing: dict[str, Any] | None = None) -> Config:
    """Load a YAML config (full, or partial on top of ``base``). ``missing`` maps dotted keys
    to the values that a file without them means (``RUN_FOLDER_LEGACY`` for run folders)."""
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
    if isinstance(data, dict):
        for dotted, value in (missing or {}).items():
            section, key = dotted.split(".")
            if isinstance(data.get(section), dict) and key not in data[section]:
                data[section][key] = value
    return from_dict(data, base)
