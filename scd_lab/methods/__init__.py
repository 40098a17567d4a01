"""Methods and their registry: ``build_method(name, config)``, ``available_methods()``."""
from __future__ import annotations

from typing import Callable

from ..config import Config, resolve
from .base import Encoded, Method, SiameseMethod, StepOutput, momentum_at
from .byol import BYOL
from .lewel import LEWEL, LEWELBYOL, LEWELMoCo
from .moco import MoCo
from .scd import SCD

_REGISTRY: dict[str, Callable] = {}


def register(name: str, builder: Callable) -> None:
    """Register ``builder(method_cfg, backbone_cfg) -> Method`` under ``name``."""
    _REGISTRY[name] = builder


def available_methods() -> list[str]:
    """Names accepted by ``build_method``."""
    return list(_REGISTRY)


def build_method(name: str | None, config: Config) -> Method:
    """Build a method from a full ``Config`` (``name`` overrides ``config.method.name``).

    Example:
        >>> from scd_lab.config import get_preset
        >>> m = build_method("scd-moco", get_preset("cpu"))
        >>> m.name
        'scd-moco'
    """
    import copy
    cfg = copy.deepcopy(config)
    if name is not None:
        if name not in _REGISTRY:
            raise ValueError(f"unknown method {name!r}; available: {', '.join(_REGISTRY)}")
        cfg.method.name = name
    cfg = resolve(cfg)
    return _REGISTRY[cfg.method.name](cfg.method, cfg.backbone)


register("byol", BYOL)
register("moco", MoCo)
register("scd-byol", lambda m, b: SCD(BYOL(m, b), m))
register("scd-moco", lambda m, b: SCD(MoCo(m, b), m))
register("lewel-byol", LEWELBYOL)
register("lewel-moco", LEWELMoCo)

__all__ = ["Method", "SiameseMethod", "StepOutput", "Encoded", "BYOL", "MoCo", "SCD",
           "LEWEL", "LEWELBYOL", "LEWELMoCo",
           "build_method", "available_methods", "register", "momentum_at"]
