"""Trunks: output shape, channels and stride for each arch and stem; padding mode."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from scd_lab.config import BackboneConfig
from scd_lab.models import backbone_from_config, build_backbone

# (arch, small_stem, input side, expected C, expected stride)
CASES = [
    ("resnet_tiny", True, 32, 256, 4),
    ("resnet_tiny", False, 64, 256, 16),
    ("resnet18", True, 32, 512, 8),
    ("resnet18", False, 64, 512, 32),
    ("resnet50", True, 32, 2048, 8),
    ("resnet50", False, 64, 2048, 32),
]


@pytest.mark.parametrize("arch,small_stem,side,channels,stride", CASES)
def test_trunk_shape_and_stride(arch, small_stem, side, channels, stride):
    trunk = build_backbone(arch, small_stem=small_stem)
    assert trunk.out_channels == channels
    assert trunk.stride == stride
    f = trunk(torch.randn(2, 3, side, side))
    assert f.shape == (2, channels, side // stride, side // stride)


def test_small_stem_keeps_resolution():
    for arch in ("resnet18", "resnet50", "resnet_tiny"):
        stem = build_backbone(arch, small_stem=True).stem
        assert stem(torch.randn(1, 3, 16, 16)).shape[-2:] == (16, 16), arch
        assert not any(isinstance(m, nn.MaxPool2d) for m in stem.modules()), arch
        conv = stem[0]
        assert conv.kernel_size == (3, 3) and conv.stride == (1, 1), arch


def test_tiny_trunk_layout_from_config():
    cfg = BackboneConfig(arch="resnet_tiny", small_stem=True, widths=(8, 16, 24, 40),
                         blocks=(2, 1, 1, 1), strides=(2, 2, 1, 1))
    trunk = backbone_from_config(cfg)
    assert trunk.out_channels == 40 and trunk.stride == 4
    assert len(trunk.stages[0]) == 2 and len(trunk.stages[3]) == 1
    assert trunk(torch.randn(2, 3, 32, 32)).shape == (2, 40, 8, 8)


def test_unknown_arch_raises():
    with pytest.raises(ValueError, match="resnet34.*resnet18, resnet50 or resnet_tiny"):
        build_backbone("resnet34")


def test_no_pretrained_weights_and_different_seeds_differ():
    torch.manual_seed(0)
    a = build_backbone("resnet_tiny")
    torch.manual_seed(1)
    b = build_backbone("resnet_tiny")
    assert not torch.equal(a.stem[0].weight, b.stem[0].weight)


@pytest.mark.parametrize("arch", ["resnet_tiny", "resnet18"])
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_mode_is_applied(arch, mode):
    trunk = build_backbone(arch, small_stem=True, padding_mode=mode)
    spatial = [m for m in trunk.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1]
    assert spatial and all(m.padding_mode == mode for m in spatial)
    pointwise = [m for m in trunk.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] == 1]
    assert all(m.padding_mode == "zeros" for m in pointwise)  # nothing to pad there


def test_default_padding_is_zeros():
    trunk = build_backbone("resnet_tiny", small_stem=True)
    assert all(m.padding_mode == "zeros" for m in trunk.modules() if isinstance(m, nn.Conv2d))


def test_reflect_padding_changes_the_output():
    # Same weights, different padding mode: the border of F must change, and a conv must
    # behave like an explicitly reflect-padded conv.
    torch.manual_seed(0)
    zeros = build_backbone("resnet_tiny", small_stem=True).eval()
    torch.manual_seed(0)
    reflect = build_backbone("resnet_tiny", small_stem=True, padding_mode="reflect").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(zeros(x), reflect(x))
        conv = reflect.stem[0]
        expected = nn.functional.conv2d(nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"),
                                        conv.weight)
        torch.testing.assert_close(conv(x), expected)


def test_reflect_padding_removes_position_signal_on_constant_input():
    # A constant image has no position information; zero padding adds it at the borders
    # (F varies over space), reflect padding does not (F is spatially constant).
    x = torch.ones(1, 3, 32, 32)
    torch.manual_seed(0)
    reflect = build_backbone("resnet_tiny", small_stem=True, padding_mode="reflect").eval()
    torch.manual_seed(0)
    zeros = build_backbone("resnet_tiny", small_stem=True).eval()
    with torch.no_grad():
        fr, fz = reflect(x), zeros(x)
    spread = lambda f: (f.amax(dim=(2, 3)) - f.amin(dim=(2, 3))).max().item()
    assert spread(fr) < 1e-4
    assert spread(fz) > 1e-2
