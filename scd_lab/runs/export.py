"""Export a trained trunk for use outside the kit: torchvision ResNet weights and a detectron2
pickle (the layout of MoCo's ``convert-pretrain-to-detectron2.py``).

Key layout of a kit trunk built from torchvision (``build_backbone("resnet18" | "resnet50")``):
``stem.0`` (conv1), ``stem.1`` (bn1), then ``stages.{0..3}`` (torchvision's ``layer1..layer4``,
the very same block modules). ``torchvision_state_dict`` renames them to torchvision's names and
adds a classifier so that the result has *every* key of a torchvision ResNet:

* ``fc.weight`` (num_classes, C) and ``fc.bias`` (num_classes,) are **zeros** (the trunk has
  no classifier; a zero layer makes every logit 0). Replace or train ``fc`` before using the
  logits; for features set ``model.fc = torch.nn.Identity()`` (pooled features then equal the
  kit's ``method.features``).
* With the standard stem the dict loads with ``strict=True`` into ``torchvision.models.resnet18()``
  / ``resnet50()`` as they come.
* With the small stem (``small_stem=True``: conv1 3x3 stride 1, no max-pool, for 32-96 px
  inputs) ``conv1.weight`` is (64, 3, 3, 3): it loads with ``strict=True`` into
  ``torchvision_model(arch, small_stem=True)``, a torchvision ResNet whose ``conv1`` is
  replaced by ``Conv2d(3, 64, 3, 1, 1, bias=False)`` and whose ``maxpool`` is ``Identity``
  (neither change adds or removes a key).

``resnet_tiny`` trunks have no torchvision counterpart and raise ``ValueError``.

    sd = torchvision_state_dict(run.method.encoder)
    model = torchvision_model("resnet18", small_stem=run.cfg.backbone.small_stem)
    model.load_state_dict(sd, strict=True)
    detectron2_pickle(run.method.encoder, "r18_scd.pkl")
    export_run(run, "torchvision")              # RUN/export/resnet18_<method>.pth
"""
from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from .load import EvalError, as_run
from .protocols import result_head

EXPORT_FORMATS = ("torchvision", "detectron2")

# (block type, blocks per stage) of each torchvision ResNet
_LAYOUTS = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
    "resnet152": (Bottleneck, (3, 8, 36, 3)),
}


def torchvision_model(arch: str = "resnet18", small_stem: bool = False,
                      num_classes: int = 1000) -> nn.Module:
    """A randomly initialised torchvision ResNet that ``torchvision_state_dict`` loads into.

    Args:
        arch: ``resnet18``, ``resnet34``, ``resnet50``, ``resnet101`` or ``resnet152``.
        small_stem: replace ``conv1`` by ``Conv2d(3, 64, 3, stride 1, padding 1, bias=False)``
            and ``maxpool`` by ``Identity`` (the kit's small stem: output stride 8).
        num_classes: rows of ``fc``.

    Returns:
        ``torchvision.models.<arch>(weights=None, num_classes=num_classes)``, stem adapted.
    """
    if arch not in _LAYOUTS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(_LAYOUTS)}")
    model = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)
    if small_stem:
        model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    return model


def _trunk_of(obj: nn.Module) -> nn.Module:
    """The trunk of a method (its online ``encoder``), or ``obj`` itself."""
    if hasattr(obj, "stem") and hasattr(obj, "stages"):
        return obj
    enc = getattr(obj, "encoder", None)
    if isinstance(enc, nn.Module) and hasattr(enc, "stem") and hasattr(enc, "stages"):
        return enc
    raise ValueError(f"expected a kit trunk (with .stem and .stages) or a method with one as "
                     f".encoder, got {type(obj).__name__}")


def trunk_layout(trunk: nn.Module) -> tuple[str, bool]:
    """(arch, small_stem) of a trunk built from torchvision.

    Raises:
        ValueError: the trunk's stages match no torchvision ResNet (e.g. ``resnet_tiny``).
    """
    trunk = _trunk_of(trunk)
    stages = list(trunk.stages)
    counts = tuple(len(s) for s in stages)
    kinds = {type(b) for s in stages for b in s}
    arch = next((a for a, (blk, n) in _LAYOUTS.items() if n == counts and kinds == {blk}), None)
    first = trunk.stem[0]
    if arch is None or not isinstance(first, nn.Conv2d) or first.out_channels != 64:
        raise ValueError(f"this trunk (blocks per stage {counts}, "
                         f"{', '.join(sorted(k.__name__ for k in kinds))}) is no torchvision "
                         "ResNet; only trunks of build_backbone('resnet18' | 'resnet50') export")
    small = tuple(first.kernel_size) == (3, 3) and tuple(first.stride) == (1, 1) and \
        not any(isinstance(m, nn.MaxPool2d) for m in trunk.stem)
    return arch, small


def _rename_trunk_key(key: str) -> str:
    """Kit trunk key -> torchvision key: stem.0 -> conv1, stem.1 -> bn1, stages.i -> layer{i+1}."""
    if key.startswith("stem.0."):
        return "conv1." + key[len("stem.0."):]
    if key.startswith("stem.1."):
        return "bn1." + key[len("stem.1."):]
    m = re.match(r"stages\.(\d+)\.(.*)", key)
    if m:
        return f"layer{int(m.group(1)) + 1}.{m.group(2)}"
    raise ValueError(f"unexpected trunk key {key!r}")


def torchvision_state_dict(trunk: nn.Module,
                           num_classes: int = 1000) -> "OrderedDict[str, torch.Tensor]":
    """The trunk's weights under torchvision ResNet key names, the full key set.

    Args:
        trunk: a kit trunk from ``build_backbone("resnet18" | "resnet50", small_stem=...)``, or a
            method (its online ``encoder`` is exported).
        num_classes: rows of the added zero ``fc``.

    Returns:
        OrderedDict in torchvision's key order: every conv / BN tensor (BN running statistics
        and ``num_batches_tracked`` included) detached, cloned, on the CPU, plus ``fc.weight``
        zeros (num_classes, C) and ``fc.bias`` zeros (num_classes,). Loads with
        ``strict=True`` into ``torchvision_model(arch, small_stem)`` (for the standard stem that
        is the plain ``torchvision.models.<arch>()``).

    Raises:
        ValueError: the trunk is not a torchvision ResNet layout (e.g. ``resnet_tiny``), or a
            tensor's shape differs from the torchvision model's.
    """
    trunk = _trunk_of(trunk)
    arch, small = trunk_layout(trunk)
    renamed = {_rename_trunk_key(k): v.detach().cpu().clone() for k, v in
               trunk.state_dict().items()}
    with torch.device("meta"):
        ref = torchvision_model(arch, small, num_classes).state_dict()
    c = ref["fc.weight"].shape[1]
    renamed["fc.weight"] = torch.zeros(num_classes, c)
    renamed["fc.bias"] = torch.zeros(num_classes)
    missing, extra = set(ref) - set(renamed), set(renamed) - set(ref)
    if missing or extra:
        raise ValueError(f"key mismatch with torchvision {arch}: missing {sorted(missing)[:5]}, "
                         f"unexpected {sorted(extra)[:5]}")
    out = OrderedDict()
    for k, v in ref.items():
        if tuple(renamed[k].shape) != tuple(v.shape):
            raise ValueError(f"{k}: shape {tuple(renamed[k].shape)} in the trunk, "
                             f"{tuple(v.shape)} in torchvision {arch}")
        out[k] = renamed[k]
    return out


def detectron2_key(key: str) -> str:
    """torchvision ResNet key -> detectron2 key, MoCo's ``convert-pretrain-to-detectron2.py``
    rules in its order: a key without ``layer`` gets ``stem.``; ``layerN`` -> ``res{N+1}``;
    ``bnK`` -> ``convK.norm``; ``downsample.0`` -> ``shortcut``; ``downsample.1`` ->
    ``shortcut.norm``.

    Example:
        >>> detectron2_key("bn1.running_mean")
        'stem.conv1.norm.running_mean'
        >>> detectron2_key("layer2.0.downsample.1.weight")
        'res3.0.shortcut.norm.weight'
    """
    if "layer" not in key:
        key = "stem." + key
    for t in (1, 2, 3, 4):
        key = key.replace(f"layer{t}", f"res{t + 1}")
    for t in (1, 2, 3):
        key = key.replace(f"bn{t}", f"conv{t}.norm")
    key = key.replace("downsample.0", "shortcut")
    key = key.replace("downsample.1", "shortcut.norm")
    return key


def detectron2_state_dict(trunk: nn.Module) -> dict[str, np.ndarray]:
    """The trunk's weights under detectron2 ResNet names, as numpy arrays.

    ``torchvision_state_dict`` without ``fc.*`` (the trunk has no classifier) and without
    ``num_batches_tracked`` (detectron2's ``FrozenBatchNorm2d`` has no such buffer), each key
    renamed by :func:`detectron2_key`; float32 arrays.
    """
    sd = torchvision_state_dict(trunk)
    return {detectron2_key(k): v.numpy() for k, v in sd.items()
            if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}


def detectron2_pickle(trunk: nn.Module, path) -> dict:
    """Write the trunk as a detectron2 checkpoint (``MODEL.WEIGHTS path``).

    The file is a pickle of ``{"model": detectron2_state_dict(trunk), "__author__": "scd_lab",
    "matching_heuristics": True}``, the layout MoCo's converter writes; detectron2's
    ``DetectionCheckpointer`` loads ``.pkl`` files of this form (numpy arrays, names matched
    heuristically). As for MoCo's weights, set ``MODEL.PIXEL_MEAN [123.675, 116.28, 103.53]``,
    ``MODEL.PIXEL_STD [58.395, 57.12, 57.375]``, ``INPUT.FORMAT RGB`` and
    ``MODEL.RESNETS.STRIDE_IN_1X1 False``; for a ResNet-18 also ``MODEL.RESNETS.DEPTH 18`` and
    ``MODEL.RESNETS.RES2_OUT_CHANNELS 64``. A small-stem trunk writes its 3x3 ``conv1`` under
    ``stem.conv1.weight``: detectron2's ``BasicStem`` (7x7, stride 2, max-pool) cannot take it
    (the checkpointer skips it with a shape warning), so use a matching stem.

    Args:
        trunk: a kit trunk (torchvision ResNet layout) or a method.
        path: where to write the pickle (parent folders are created).

    Returns:
        the dict that was pickled.
    """
    obj = {"model": detectron2_state_dict(trunk), "__author__": "scd_lab",
           "matching_heuristics": True}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f)
    return obj


def export_run(run_or_method, format: str = "torchvision", out=None) -> dict:
    """Write the online trunk for torchvision (a state dict, zero ``fc``) or Detectron2 (the
    pickle layout of MoCo's converter), see the functions above.

    ``out`` defaults to ``RUN/export/{arch}_{method}.pth`` (torchvision) or ``.pkl``.

    Raises:
        EvalError: unknown format, no ``out`` for a method in memory, or a trunk that is no
            torchvision ResNet (``resnet_tiny``).
    """
    if format not in EXPORT_FORMATS:
        raise EvalError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    s = as_run(run_or_method)
    arch = s.cfg.backbone.arch if s.cfg is not None else None
    try:
        arch, small = trunk_layout(s.method.encoder)
    except ValueError:
        raise EvalError(f"only resnet18 / resnet50 trunks export; this "
                        f"{'run' if s.cfg is not None else 'method'}'s trunk is "
                        f"{arch or 'no torchvision ResNet'}") from None
    if out is None:
        if s.rundir is None:
            raise EvalError("say where to write the export (out=...)")
        suffix = "pth" if format == "torchvision" else "pkl"
        out = s.rundir.export_dir / f"{arch}_{s.name}.{suffix}"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "torchvision":
        sd = torchvision_state_dict(s.method.encoder)
        torch.save(sd, out)
        keys = len(sd)
    else:
        keys = len(detectron2_pickle(s.method.encoder, out)["model"])
    return {**result_head(s), "format": format, "arch": arch, "small_stem": small,
            "out": str(out), "keys": keys}
