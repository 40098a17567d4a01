"""ResNet trunks that return the last feature map F (B, C, H, W), before global pooling.

Nothing is downloaded: every trunk starts from random weights.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18, resnet50
from torchvision.models.resnet import BasicBlock


class Trunk(nn.Module):
    """Stem + four residual stages. ``forward(x) -> F``; ``out_channels`` = C."""

    def __init__(self, stem: nn.Module, stages: nn.Sequential, out_channels: int, stride: int):
        super().__init__()
        self.stem = stem
        self.stages = stages
        self.out_channels = out_channels
        self.stride = stride  # input side / feature-map side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))  # (B, 3, S, S) -> (B, C, S/stride, S/stride)


def _small_stem(width: int) -> nn.Sequential:
    # 3x3 stride-1 conv, no max-pool: keeps resolution for 32-96 px inputs
    return nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                         nn.ReLU(inplace=True))


def _torchvision_trunk(arch: str, small_stem: bool) -> Trunk:
    net = {"resnet18": resnet18, "resnet50": resnet50}[arch](weights=None)
    if small_stem:
        stem = _small_stem(64)
    else:
        stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    stages = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
    out = net.fc.in_features
    return Trunk(stem, stages, out, stride=8 if small_stem else 32)


def _tiny_trunk(widths, blocks, strides, small_stem: bool) -> Trunk:
    """A narrow BasicBlock ResNet (e.g. widths 32-64-128-256, one block per stage)."""
    if small_stem:
        stem, total = _small_stem(widths[0]), 1
    else:
        stem = nn.Sequential(nn.Conv2d(3, widths[0], 7, 2, 3, bias=False),
                             nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
                             nn.MaxPool2d(3, 2, 1))
        total = 4
    layers, in_ch = [], widths[0]
    for width, n, stride in zip(widths, blocks, strides):
        stage = []
        for i in range(n):
            s = stride if i == 0 else 1
            down = None
            if s != 1 or in_ch != width:
                down = nn.Sequential(nn.Conv2d(in_ch, width, 1, s, bias=False),
                                     nn.BatchNorm2d(width))
            stage.append(BasicBlock(in_ch, width, stride=s, downsample=down))
            in_ch = width
        layers.append(nn.Sequential(*stage))
        total *= stride
    return Trunk(stem, nn.Sequential(*layers), widths[-1], stride=total)


def init_trunk(trunk: nn.Module) -> nn.Module:
    """The ResNet initialisation of the authors' code, on every layer of ``trunk``: each
    Conv2d ``kaiming_normal_(fan_out, relu)``, each BN weight 1 and bias 0 (LEWEL
    ``backbone/resnet.py:152-157``, torchvision's ResNet and MoCo's trunk alike). torchvision's
    trunks already start so; the small stem and ``resnet_tiny`` (plain ``Conv2d`` layers
    outside a torchvision ``ResNet``) would otherwise keep torch's default init."""
    for m in trunk.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return trunk


def build_backbone(arch: str = "resnet18", small_stem: bool = False,
                   widths=(32, 64, 128, 256), blocks=(1, 1, 1, 1), strides=(1, 2, 2, 1),
                   padding_mode: str = "zeros") -> Trunk:
    """Build a trunk ``x (B, 3, S, S) -> F (B, C, S/stride, S/stride)``.

    Args:
        arch: ``resnet18`` (C=512), ``resnet50`` (C=2048) or ``resnet_tiny`` (C=widths[-1]).
        small_stem: 3x3 stride-1 stem without max-pool (stride 8 for torchvision trunks).
        widths, blocks, strides: stage layout of ``resnet_tiny``.
        padding_mode: padding of every conv with spatial extent (``zeros`` default).

    Example:
        >>> trunk = build_backbone("resnet18", small_stem=True)
        >>> trunk(torch.randn(2, 3, 64, 64)).shape
        torch.Size([2, 512, 8, 8])
    """
    if arch in ("resnet18", "resnet50"):
        trunk = _torchvision_trunk(arch, small_stem)
    elif arch == "resnet_tiny":
        trunk = _tiny_trunk(widths, blocks, strides, small_stem)
    else:
        raise ValueError(f"unknown backbone arch {arch!r}; choose resnet18, resnet50 or "
                         "resnet_tiny")
    init_trunk(trunk)
    if padding_mode != "zeros":
        for m in trunk.modules():
            if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1:
                m.padding_mode = padding_mode
    return trunk


def backbone_from_config(cfg) -> Trunk:
    """``build_backbone`` from a ``BackboneConfig``."""
    return build_backbone(cfg.arch, cfg.small_stem, cfg.widths, cfg.blocks, cfg.strides,
                          cfg.padding_mode)
