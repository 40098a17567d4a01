"""Methods, built from modules, and the registry that turns a config into their arguments.

By hand, as a reader expects::

    trunk = build_backbone("resnet_tiny", small_stem=True)
    scd = SCD(BYOL(trunk, proj_dim=256), alpha=1.0, lam=0.5)

From a config (what ``scd-lab train`` does): ``build_method(cfg)``. A method name is
``[plug-in-]base``: ``byol``, ``moco``, ``scd-byol``, ``scd-moco``, ``lewel-byol``,
``lewel-moco`` (the names and their defaults live in ``scd_lab.config.METHOD_DEFAULTS``).
"""
from __future__ import annotations

import copy

from ..config import Config, ConfigError, METHOD_DEFAULTS, base_method, plugin, resolve
from ..models import backbone_from_config
from .base import BaseMethod, Encoded, Method, PlugIn, SiameseMethod, StepOutput, frozen_copy, gap
from .byol import BYOL
from .lewel import LEWEL
from .moco import MoCo, split_batchnorm
from .scd import SCD
from .supervised import Supervised

BASES = {"byol": BYOL, "moco": MoCo, "supervised": Supervised}
PLUGINS = {"scd": SCD, "lewel": LEWEL}


# saliency maps in the order that every table and picker lists them: the methods' own maps
# (``default_map`` of SCD, LEWEL and a bare method), then the maps evaluation adds (Grad-CAM of
# a linear probe, the centre-prior baseline); any other map follows in name order
MAP_ORDER = ("scd_fg", "lewel_maxvar", "channel_sum", "gradcam", "centre_prior")


def order_maps(names) -> list[str]:
    """Map names in ``MAP_ORDER`` first, in that order, then any other map (slot maps, ...) in
    name order: the order of every table, picker and figure."""
    names = set(names)
    return [n for n in MAP_ORDER if n in names] + sorted(names - set(MAP_ORDER))


def available_methods() -> list[str]:
    """Names accepted by ``build_method`` (``method.name``)."""
    return list(METHOD_DEFAULTS)


def default_map_name(method_name: str) -> str:
    """The map that shows a method in comparisons: ``scd_fg``, ``lewel_maxvar`` or
    ``channel_sum`` (the class attribute ``default_map`` of its plug-in)."""
    return PLUGINS[plugin(method_name)].default_map if plugin(method_name) else \
        Method.default_map


def method_kwargs(m) -> tuple[dict, dict]:
    """The constructor arguments of the base and of the plug-in for a resolved ``MethodConfig``."""
    base = base_method(m.name)
    common = dict(proj_hidden=m.proj_hidden, proj_dim=m.proj_dim, symmetric=m.symmetric,
                  base_momentum=m.base_momentum, momentum_schedule=m.momentum_schedule,
                  head_bias=m.head_bias, eman=m.eman)
    if base == "supervised":
        return {}, {}
    base_kw = (dict(common, pred_hidden=m.pred_hidden) if base == "byol" else
               dict(common, tau=m.tau, queue_size=m.queue_size, bn_splits=m.bn_splits))
    plug = plugin(m.name)
    if plug == "scd":
        plug_kw = dict(alpha=m.alpha, lam=m.lam, fg_term=m.fg_term, bg_term=m.bg_term,
                       semantic_predictor=m.semantic_predictor, pred_hidden=m.pred_hidden,
                       saliency_width=m.saliency_width, semantic_bn=m.semantic_bn, eps=m.eps)
    elif plug == "lewel":
        plug_kw = dict(heads=m.lewel_heads, scale=m.lewel_scale,
                       global_weight=m.lewel_global_weight, pred_hidden=m.pred_hidden,
                       slot_hidden=m.lewel_slot_hidden)
    else:
        plug_kw = {}
    return base_kw, plug_kw


def build_method(cfg: Config, name: str | None = None, num_classes: int | None = None) -> Method:
    """Build the method of a ``Config`` (``name`` overrides ``cfg.method.name``): the trunk of
    ``cfg.backbone``, the base method, and the plug-in if the name has one. ``num_classes``
    (the supervised reference only) defaults to ``cfg.data.num_classes``.

    Example:
        >>> from scd_lab.config import get_preset
        >>> build_method(get_preset("cpu"), "scd-moco").name
        'scd-moco'
    """
    cfg = copy.deepcopy(cfg)
    if name is not None:
        if name not in METHOD_DEFAULTS:
            raise ConfigError(f"unknown method {name!r}; available: "
                              f"{', '.join(METHOD_DEFAULTS)}")
        cfg.method.name = name
    cfg = resolve(cfg)
    base_kw, plug_kw = method_kwargs(cfg.method)
    if cfg.method.name == "supervised":
        num_classes = num_classes or cfg.data.num_classes
        if not num_classes:
            raise ConfigError("the supervised method needs the number of classes: build it "
                              "with build_run (which reads it off the data) or set "
                              "data.num_classes")
        return Supervised(backbone_from_config(cfg.backbone), num_classes)
    method = BASES[base_method(cfg.method.name)](backbone_from_config(cfg.backbone), **base_kw)
    plug = plugin(cfg.method.name)
    return PLUGINS[plug](method, **plug_kw) if plug else method


__all__ = ["Method", "BaseMethod", "PlugIn", "SiameseMethod", "StepOutput", "Encoded", "BYOL",
           "MoCo", "SCD", "LEWEL", "Supervised", "build_method", "available_methods", "default_map_name",
           "method_kwargs", "frozen_copy", "gap", "split_batchnorm", "BASES",
           "PLUGINS", "MAP_ORDER", "order_maps"]
