"""Grad-CAM of trunk + GAP + linear head through captum."""
import pytest
import torch
from torch import nn

pytest.importorskip("captum")

from scd_lab.eval.attribution import gradcam_maps, last_block  # noqa: E402
from scd_lab.models import Trunk, build_backbone  # noqa: E402


def square_trunk():
    """A hand-set trunk: channel 0 fires on bright pixels (object), channel 1 on dark ones."""
    conv = nn.Conv2d(3, 2, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0] = 1 / 3  # mean brightness - 0.5
        conv.weight[1] = -1 / 3  # 0.5 - mean brightness
        conv.bias.copy_(torch.tensor([-0.5, 0.5]))
    stages = nn.Sequential(nn.Sequential(conv, nn.ReLU()))
    return Trunk(nn.Sequential(nn.Identity()), stages, out_channels=2, stride=1)


def head_for(object_class=0):
    head = nn.Linear(2, 2)
    with torch.no_grad():
        head.weight.copy_(torch.eye(2) if object_class == 0 else torch.eye(2).flip(0))
        head.bias.zero_()
    return head


@pytest.fixture
def images():
    """Two dark 8x8 images with a bright 3x3 square at different places."""
    x = torch.zeros(2, 3, 8, 8)
    x[0, :, 1:4, 4:7] = 1.0
    x[1, :, 5:8, 0:3] = 1.0
    region = x[:, 0] > 0.5  # (2, 8, 8)
    return x, region


def argmax_in(maps, region):
    idx = maps.flatten(1).argmax(1)
    return region.flatten(1).gather(1, idx[:, None])[:, 0]


def test_gradcam_peaks_on_the_evidence(images):
    x, region = images
    trunk, head = square_trunk(), head_for(object_class=0)
    maps = gradcam_maps(trunk, head, x, target=0)
    assert maps.shape == (2, 8, 8)
    assert bool(argmax_in(maps, region).all())
    assert float(maps[~region].max()) == 0.0  # ReLU'd: no evidence for class 0 off the square
    # the class weighting the background channel points off the square
    maps_bg = gradcam_maps(trunk, head, x, target=torch.tensor([1, 1]))
    assert not bool(argmax_in(maps_bg, region).any())
    # negative evidence (background channel weighted -1) is cut by the ReLU, not kept
    signed = head_for(object_class=0)
    with torch.no_grad():
        signed.weight[0, 1] = -1.0
    maps_signed = gradcam_maps(trunk, signed, x, target=0)
    assert float(maps_signed.min()) == 0.0 and float(maps_signed[~region].max()) == 0.0
    assert torch.allclose(maps_signed, maps)
    # the head decides which channel is the evidence
    maps_swapped = gradcam_maps(trunk, head_for(object_class=1), x, target=1)
    assert bool(argmax_in(maps_swapped, region).all())


def test_default_target_is_the_predicted_class(images):
    x, region = images
    trunk, head = square_trunk(), head_for(object_class=0)
    # 9 bright vs 55 dark pixels: class 1 (background) wins, so its map is the default
    assert (head(trunk(x).mean((2, 3))).argmax(1) == 1).all()
    assert torch.allclose(gradcam_maps(trunk, head, x), gradcam_maps(trunk, head, x, target=1))
    assert last_block(trunk) is trunk.stages[0][1]


def test_matches_cam_closed_form_on_a_resnet_and_restores_modes():
    """For GAP + linear, Grad-CAM = ReLU(sum_c W[k, c] F[c]) / (h w) (CAM)."""
    trunk = build_backbone("resnet_tiny", small_stem=True, widths=(8, 8, 16, 16))
    head = nn.Linear(16, 3)
    x = torch.randn(2, 3, 16, 16)
    trunk.train()
    maps = gradcam_maps(trunk, head, x, target=torch.tensor([0, 2]))
    assert trunk.training and head.training  # modes restored
    assert all(p.grad is None for p in list(trunk.parameters()) + list(head.parameters()))
    assert last_block(trunk) is trunk.stages[-1][-1]
    trunk.eval()
    with torch.no_grad():
        f = trunk(x)  # (2, 16, h, w)
    h, w = f.shape[-2:]
    w_k = head.weight[[0, 2]].detach()  # (2, 16)
    cam = torch.relu(torch.einsum("bc,bchw->bhw", w_k, f)) / (h * w)
    assert maps.shape == (2, h, w)
    assert torch.allclose(maps, cam, atol=1e-6)
    assert float(maps.max()) > 0


# --- Grad-CAM of the self-supervised objective -------------------------------------------------

def _scd(seed=0):
    from scd_lab.methods import BYOL, SCD
    torch.manual_seed(seed)
    trunk = build_backbone("resnet_tiny", small_stem=True, widths=(4, 8, 8, 16))
    return SCD(BYOL(trunk, proj_hidden=16, proj_dim=8, pred_hidden=16), alpha=1.0, lam=0.5)


def test_objective_gradcam_per_view_pair_and_image_by_image():
    from scd_lab.eval.attribution import objective_gradcam
    scd = _scd().train()
    g = torch.Generator().manual_seed(1)
    x1, x2 = torch.randn(3, 3, 16, 16, generator=g), torch.randn(3, 3, 16, 16, generator=g)
    for term in ("consistency", "discrimination"):
        maps = objective_gradcam(scd, x1, x2, term)
        assert maps.shape == (3, 4, 4) and (maps >= 0).all()  # F is 4 x 4 here
        # each image's map is its own term's: the same in a batch of 3 as alone
        alone = objective_gradcam(scd, x1[1:2], x2[1:2], term)
        assert torch.allclose(maps[1:2], alone, atol=1e-6, rtol=1e-4)
    assert scd.training  # mode given back, no parameter gradient left
    assert all(p.grad is None for p in scd.parameters())


def test_objective_gradcam_calls_the_methods_own_losses(monkeypatch):
    from scd_lab.eval.attribution import objective_gradcam
    from scd_lab.methods import SCD
    from scd_lab.methods.base import SiameseMethod
    calls = []
    for cls, name in ((SCD, "discrimination"), (SiameseMethod, "direction")):
        real = getattr(cls, name)
        monkeypatch.setattr(cls, name, lambda self, *a, _r=real, _n=name, **k:
                            calls.append(_n) or _r(self, *a, **k))
    scd = _scd()
    x = torch.randn(2, 3, 16, 16)
    objective_gradcam(scd, x, x.flip(-1), "discrimination")
    objective_gradcam(scd, x, x.flip(-1), "consistency")
    assert calls[0] == "discrimination" and "direction" in calls
    with pytest.raises(ValueError, match="only SCD"):
        objective_gradcam(scd.base, x, x, "discrimination")
    with pytest.raises(ValueError, match="use one of"):
        objective_gradcam(scd, x, x, "cosine")
