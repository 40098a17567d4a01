"""Typed configuration: the dataclasses and method defaults (``schema``), the named presets
(``presets``), and the generic resolution, validation and YAML code (``validate``).

Example:
    >>> cfg = get_preset("cpu")
    >>> cfg = apply_overrides(cfg, ["method.alpha=0.5", "train.epochs=3"])
    >>> cfg.method.alpha
    0.5
"""
from ..errors import ConfigError
from .presets import PRESETS
from .schema import (AUGMENT_FOR, CHOICES, DATASETS, METHOD_DEFAULTS, RUN_FOLDER_LEGACY,
                     SYNTHETIC_KNOBS,
                     BackboneConfig, Config, DataConfig, MethodConfig, OptimConfig, TrainConfig,
                     base_method, plugin)
from .validate import (apply_overrides, from_dict, get_preset, load_yaml, resolve, save_yaml,
                       to_dict, validate)

__all__ = ["Config", "BackboneConfig", "MethodConfig", "DataConfig", "OptimConfig",
           "TrainConfig", "PRESETS", "METHOD_DEFAULTS", "AUGMENT_FOR", "CHOICES", "DATASETS",
           "SYNTHETIC_KNOBS", "RUN_FOLDER_LEGACY", "ConfigError", "base_method", "plugin",
           "get_preset", "resolve",
           "validate", "apply_overrides", "from_dict", "to_dict", "save_yaml", "load_yaml"]
