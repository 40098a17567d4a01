"""scd_lab: SCD (Semantic-guided Consistency and Discrimination) for Siamese self-supervised
learning, with BYOL, MoCo-v2 and LEWEL to compare against.

The names a notebook needs are importable from here (loaded on first use)::

    from scd_lab import BYOL, SCD, TrainConfig, Trainer, TwoViewAugment, build_backbone
    from scd_lab import build_run, ensure_run, load_run, get_preset, apply_overrides
"""
from __future__ import annotations

import importlib

from ._version import __version__

_EXPORTS = {
    "BYOL": "methods", "MoCo": "methods", "SCD": "methods", "LEWEL": "methods",
    "build_method": "methods", "available_methods": "methods",
    "build_backbone": "models",
    "TwoViewAugment": "data", "load_synthetic": "data", "build_datasets": "data",
    "Trainer": "train", "RunDir": "rundir", "format_summary": "train",
    "Config": "config", "TrainConfig": "config", "OptimConfig": "config",
    "get_preset": "config", "apply_overrides": "config",
    "build_run": "runs", "ensure_run": "runs", "load_run": "runs", "runs_root": "paths",
}
__all__ = list(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'scd_lab' has no attribute {name!r}")
