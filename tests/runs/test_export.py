"""Export of trunks to torchvision ResNet weights and to a detectron2 pickle."""
import pickle

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from scd_lab.runs.export import (detectron2_key, detectron2_pickle, torchvision_model, torchvision_state_dict, trunk_layout)
from scd_lab.models import build_backbone


def randomise_bn(module, seed=0):
    """Non-trivial BN statistics and affine parameters, so that a swapped BN shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
                m.num_batches_tracked.fill_(7)


@pytest.fixture(scope="module")
def r18_small():
    torch.manual_seed(0)
    trunk = build_backbone("resnet18", small_stem=True)
    randomise_bn(trunk)
    return trunk


def test_small_stem_resnet18_in_a_method_gives_the_same_pooled_features(make_method):
    method = make_method("scd-byol", backbone={"arch": "resnet18", "small_stem": True})
    randomise_bn(method.encoder)
    method.eval()
    assert trunk_layout(method) == ("resnet18", True)
    sd = torchvision_state_dict(method)  # a method exports its online encoder
    model = torchvision_model("resnet18", small_stem=True)
    model.load_state_dict(sd, strict=True)
    assert isinstance(model.maxpool, nn.Identity) and model.conv1.kernel_size == (3, 3)
    model.fc = nn.Identity()
    model.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = method.features(x)  # (2, 512)
        out = model(x)
    assert out.shape == ref.shape == (2, 512)
    assert torch.allclose(out, ref, atol=1e-5)


def test_full_key_set_with_zero_fc(r18_small):
    sd = torchvision_state_dict(r18_small, num_classes=10)
    ref = torchvision.models.resnet18(num_classes=10).state_dict()
    assert list(sd) == list(ref)  # every key, torchvision's order
    assert torch.equal(sd["fc.weight"], torch.zeros(10, 512))
    assert torch.equal(sd["fc.bias"], torch.zeros(10))
    assert torch.equal(sd["layer2.0.downsample.1.running_var"],
                       r18_small.stages[1][0].downsample[1].running_var)
    assert torch.equal(sd["bn1.weight"], r18_small.stem[1].weight)
    assert int(sd["layer1.0.bn1.num_batches_tracked"]) == 7
    # a copy: changing the export leaves the trunk alone
    sd["conv1.weight"].zero_()
    assert r18_small.stem[0].weight.abs().sum() > 0


def test_small_stem_needs_the_small_stem_model(r18_small):
    with pytest.raises(RuntimeError, match="conv1.weight"):
        torchvision.models.resnet18().load_state_dict(torchvision_state_dict(r18_small),
                                                      strict=True)


def test_standard_stem_loads_into_plain_torchvision_resnet18():
    trunk = build_backbone("resnet18")
    randomise_bn(trunk)
    assert trunk_layout(trunk) == ("resnet18", False)
    model = torchvision.models.resnet18()
    model.load_state_dict(torchvision_state_dict(trunk), strict=True)
    model.fc = nn.Identity()
    trunk.eval(), model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), trunk(x).mean((2, 3)), atol=1e-5)


def test_tiny_trunk_is_refused():
    with pytest.raises(ValueError, match="torchvision"):
        torchvision_state_dict(build_backbone("resnet_tiny", small_stem=True))


def test_detectron2_key_rules():
    cases = {
        "conv1.weight": "stem.conv1.weight",
        "bn1.running_mean": "stem.conv1.norm.running_mean",
        "layer1.0.conv1.weight": "res2.0.conv1.weight",
        "layer1.1.bn2.bias": "res2.1.conv2.norm.bias",
        "layer3.0.bn3.weight": "res4.0.conv3.norm.weight",  # Bottleneck
        "layer2.0.downsample.0.weight": "res3.0.shortcut.weight",
        "layer4.0.downsample.1.running_var": "res5.0.shortcut.norm.running_var",
    }
    for old, new in cases.items():
        assert detectron2_key(old) == new


def test_detectron2_pickle_layout(r18_small, tmp_path):
    path = tmp_path / "sub" / "r18.pkl"
    detectron2_pickle(r18_small, path)
    with open(path, "rb") as f:
        obj = pickle.load(f)
    assert obj["__author__"] == "scd_lab" and obj["matching_heuristics"] is True
    model = obj["model"]
    for key in ("stem.conv1.weight", "stem.conv1.norm.running_mean", "res2.0.conv1.weight",
                "res2.1.conv2.norm.bias", "res3.0.shortcut.weight",
                "res5.0.shortcut.norm.running_var", "res5.1.conv2.weight"):
        assert key in model, key
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in model.values())
    assert not any(k.startswith("fc") or "layer" in k or ".bn" in k or "downsample" in k or
                   "num_batches_tracked" in k for k in model)
    # one entry per trunk tensor (BN counters dropped)
    n = sum(1 for k in r18_small.state_dict() if not k.endswith("num_batches_tracked"))
    assert len(model) == n
    np.testing.assert_array_equal(model["res3.0.shortcut.weight"],
                                  r18_small.stages[1][0].downsample[0].weight.detach().numpy())
    np.testing.assert_array_equal(model["res4.1.conv1.norm.running_mean"],
                                  r18_small.stages[2][1].bn1.running_mean.numpy())
    assert model["stem.conv1.weight"].shape == (64, 3, 3, 3)  # the small stem's 3x3 conv


def test_resnet50_loads_strictly_into_torchvision_resnet50():
    trunk = build_backbone("resnet50")
    assert trunk_layout(trunk) == ("resnet50", False)
    sd = torchvision_state_dict(trunk)
    assert sd["fc.weight"].shape == (1000, 2048)
    model = torchvision.models.resnet50()
    model.load_state_dict(sd, strict=True)
    assert torch.equal(model.layer3[5].bn3.weight, trunk.stages[2][5].bn3.weight)
    assert torch.equal(model.layer1[0].downsample[0].weight,
                       trunk.stages[0][0].downsample[0].weight)
