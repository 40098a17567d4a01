"""LEWEL (docs/method.md): maps, slots, projector columns, the loss by hand, the plug-in.

Gradients to the targets, the EMA, the queue and a few training steps are checked for every
method (LEWEL included) in test_methods.py."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from scd_lab.config import Config, MethodConfig, apply_overrides, get_preset, resolve
from scd_lab.losses import byol_loss
from scd_lab.methods import BYOL, LEWEL, MoCo, build_method
from scd_lab.methods.base import gap
from scd_lab.methods.lewel import (alignment_maps_from_z, max_variance_map, project_columns,
                                   slot_maps_from_alignment, slot_pool)
from scd_lab.models import minmax_normalize

METHODS = ["lewel-byol", "lewel-moco"]


def make(name: str = "lewel-byol", *overrides: str, seed: int = 0):
    """A small LEWEL on a tiny trunk of widths 32-64-128-256 (C = 256, d = 256, h = 4, K = 64)."""
    cfg = apply_overrides(get_preset("cpu"), ["backbone.widths=[32, 64, 128, 256]",
                                              f"method.name={name}", "method.proj_hidden=128",
                                              "method.pred_hidden=128", "method.queue_size=64",
                                              *overrides])
    torch.manual_seed(seed)
    return build_method(cfg)


def views(b: int = 4, side: int = 16, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 3, side, side, generator=g), torch.randn(b, 3, side, side, generator=g)


def test_registry_and_defaults():
    byol, moco = make("lewel-byol"), make("lewel-moco")
    assert isinstance(byol, LEWEL) and isinstance(byol.base, BYOL) and byol.base.symmetric
    assert isinstance(moco, LEWEL) and isinstance(moco.base, MoCo)
    assert (byol.name, moco.name) == ("lewel-byol", "lewel-moco")
    m = resolve(Config(method=MethodConfig(name="lewel-byol"))).method  # no preset overrides
    assert (m.proj_dim, m.lewel_heads, m.lewel_scale, m.lewel_global_weight, m.symmetric) == \
        (256, 4, 1.0, 0.5, True)
    assert byol.num_slots == 64 and make("lewel-byol", "method.lewel_heads=8").num_slots == 32


def test_every_alignment_map_sums_to_one():
    m = make().eval()
    x, _ = views()
    a = m.alignment_maps(x)  # (B, d, h, w)
    assert a.shape == (4, 256, 4, 4) and (a >= 0).all()
    torch.testing.assert_close(a.sum((2, 3)), torch.ones(4, 256))
    s = m.slot_maps(x)  # (B, K, h, w)
    assert s.shape == (4, 64, 4, 4)
    torch.testing.assert_close(s.sum((2, 3)), torch.ones(4, 64))
    # the pure function: maps from Z are a softmax over space of the channel-normalised Z / s
    z = torch.randn(2, 8, 3, 5)
    a = alignment_maps_from_z(z, scale=0.5)
    ref = (torch.nn.functional.normalize(z, dim=1) / 0.5).flatten(2).softmax(-1).view(2, 8, 3, 5)
    torch.testing.assert_close(a, ref)
    assert alignment_maps_from_z(z, 0.1).amax() > alignment_maps_from_z(z, 1.0).amax()


@pytest.mark.parametrize("arch,channels", [("resnet18", 512)])
def test_slot_shapes_for_resnet_trunks(arch, channels):
    m = make("lewel-byol", f"backbone.arch={arch}", "backbone.small_stem=true")
    x, _ = views(b=2, side=32)
    f = m.encoder(x)  # (2, C, 4, 4)
    v = m.embed(f, m.base.projector)
    assert f.shape == (2, channels, 4, 4)
    assert v.z_global.shape == (2, 256) and v.maps.shape == (2, 256, 4, 4)
    assert v.slots.shape == (2, 64, channels)  # K = d / h = 64 slots of C channels
    assert m.slot_projector(v.slots.flatten(0, 1)).shape == (2 * 64, 256)


def slow_slots(feature_map, maps, heads):
    """Loop reference: slot j = concat over heads g of sum_p A_{g,j}[p] F_g[:, p]."""
    b, c, d = feature_map.shape[0], feature_map.shape[1], maps.shape[1]
    k, cg = d // heads, c // heads
    out = torch.zeros(b, k, c, dtype=torch.float64)
    for i in range(b):
        for j in range(k):
            for g in range(heads):
                a = maps[i, g * k + j].double()  # (H, W)
                f = feature_map[i, g * cg:(g + 1) * cg].double()  # (C/h, H, W)
                for y in range(a.shape[0]):
                    for x in range(a.shape[1]):
                        out[i, j, g * cg:(g + 1) * cg] += a[y, x] * f[:, y, x]
    return out.float()


@pytest.mark.parametrize("heads", [1, 4])
def test_slot_pool_matches_loop_reference(heads):
    torch.manual_seed(0)
    f = torch.randn(2, 8, 3, 4)
    a = alignment_maps_from_z(torch.randn(2, 8, 3, 4))
    torch.testing.assert_close(slot_pool(f, a, heads), slow_slots(f, a, heads))
    if heads == 1:  # the full-channel weighted average pool of every map
        ref = torch.einsum("bchw,bdhw->bdc", f, a) / a.sum((2, 3)).unsqueeze(-1)
        torch.testing.assert_close(slot_pool(f, a, 1), ref)


def test_method_slots_with_one_head_are_full_channel_pools():
    m = make("lewel-byol", "method.lewel_heads=1")
    x, _ = views(b=2, side=16)
    f = m.encoder(x)  # (2, 256, 4, 4)
    v = m.embed(f, m.base.projector)
    assert v.slots.shape == (2, 256, 256)
    torch.testing.assert_close(v.slots, slow_slots(f.detach(), v.maps.detach(), 1),
                               rtol=1e-4, atol=1e-5)


def test_slot_maps_average_heads():
    a = alignment_maps_from_z(torch.randn(2, 8, 3, 3))
    s = slot_maps_from_alignment(a, heads=4)  # (2, 2, 3, 3)
    torch.testing.assert_close(s[:, 1], (a[:, 1] + a[:, 3] + a[:, 5] + a[:, 7]) / 4)


def test_global_column_is_plain_projector_in_eval_mode():
    m = make().eval()
    f = torch.randn(3, 256, 5, 5)
    z_g, z_pix = project_columns(f, m.base.projector)
    torch.testing.assert_close(z_g, m.base.projector(gap(f)))
    torch.testing.assert_close(z_pix[:, :, 2, 3], m.base.projector(f[:, :, 2, 3]))
    m.train()  # in training the BN batch is all B (1 + HW) columns, so column 0 differs
    f.requires_grad_(True)
    z_g = project_columns(f, m.base.projector)[0]
    assert not torch.allclose(z_g, m.base.projector(gap(f)), atol=1e-3)
    z_g.square().sum().backward()  # the global column backpropagates into F
    assert f.grad is not None and f.grad.abs().sum() > 0


def test_projector_is_the_authors_1x1_conv_with_shared_bn():
    """Train mode: equal to Conv1d(1x1) -> BatchNorm1d -> ReLU -> Conv1d over (B, C, 1 + HW),
    both convolutions without bias (LEWEL models/lewel.py:23, 27)."""
    m = make()
    lin1, bn, _, lin2 = m.base.projector
    conv = nn.Sequential(nn.Conv1d(256, 128, 1, bias=False), nn.BatchNorm1d(128), nn.ReLU(),
                         nn.Conv1d(128, 256, 1, bias=False))
    conv[0].weight.data = lin1.weight.data[..., None].clone()
    conv[1].load_state_dict(bn.state_dict())
    assert lin1.bias is None and lin2.bias is None
    conv[3].weight.data = lin2.weight.data[..., None].clone()
    f = torch.randn(3, 256, 4, 4)
    z = conv(torch.cat([gap(f)[..., None], f.flatten(2)], 2))  # (B, d, 1 + HW)
    z_g, z_pix = project_columns(f, m.base.projector)
    torch.testing.assert_close(z_g, z[:, :, 0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(z_pix.flatten(2), z[:, :, 1:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", METHODS)
def test_symmetric_loss_is_sum_of_directions(name):
    m = make(name)
    x1, x2 = views()
    enc = m.base.encode(x1, x2)
    t = m.loss_terms(enc)
    loss, keys = t.loss, t.keys
    d1, d2 = m.direction(enc.f1, enc.f2_t), m.direction(enc.f2, enc.f1_t)
    torch.testing.assert_close(loss, d1.loss + d2.loss)
    assert not torch.allclose(d1.loss, d2.loss)
    torch.testing.assert_close(d1.loss, 0.5 * d1.loss_global + 0.5 * d1.loss_slots)
    if name == "lewel-moco":
        torch.testing.assert_close(keys, torch.cat([d1.keys, d2.keys]))
    else:
        assert keys is None
    a = make(name, "method.symmetric=false", "method.lewel_global_weight=0.8")
    enc = a.base.encode(x1, x2)
    assert enc.f2 is None
    d1 = a.direction(enc.f1, enc.f2_t)
    torch.testing.assert_close(a.loss_terms(enc).loss, 0.8 * d1.loss_global + 0.2 * d1.loss_slots)


def test_byol_terms_by_hand():
    """Global: 2 - 2 cos(G(z_g1), z_g2'); slots: 2 - 2 cos(G_s(H_s(v1)), H_s'(v2')), by index."""
    m = make("lewel-byol")
    with torch.no_grad():  # make the target differ from the online network
        for _, target in m.momentum_pairs():
            for p in target.parameters():
                p.add_(0.1 * torch.randn_like(p))
    f1, f2 = torch.randn(2, 256, 4, 4), torch.randn(2, 256, 4, 4)
    t = m.direction(f1, f2)
    on, tg = m.embed(f1, m.base.projector), m.embed(f2, m.base.target_projector)
    torch.testing.assert_close(t.loss_global, byol_loss(m.base.predictor(on.z_global), tg.z_global))
    p = m.slot_predictor(m.slot_projector(on.slots.reshape(-1, 256)))
    z = m.target_slot_projector(tg.slots.reshape(-1, 256))
    torch.testing.assert_close(t.loss_slots, byol_loss(p, z))


def test_max_variance_rule_on_a_constructed_case():
    maps = torch.full((2, 5, 4, 4), 1 / 16)  # uniform: variance 0
    maps[0, 1] = torch.linspace(0, 1, 16).view(4, 4) / 8  # a smooth ramp: some variance
    maps[0, 3] = 0.0
    maps[0, 3, 2, 1] = 1.0  # a delta: the most peaked
    maps[1, 0] = 0.0
    maps[1, 0, :2] = 1 / 8  # half the image
    maps[1, 4] = 0.0
    maps[1, 4, 0, :2] = 0.5  # two pixels: more peaked than half the image
    selected, index = max_variance_map(maps)
    assert index.tolist() == [3, 4]
    torch.testing.assert_close(selected, maps[[0, 1], [3, 4]])


def test_maps_for_the_viewer():
    m = make().eval()
    x, _ = views()
    maps = m.saliency_maps(x)
    assert set(maps) == {"channel_sum", "lewel_maxvar"}
    mv = maps["lewel_maxvar"]
    assert mv.shape == (4, 4, 4)
    torch.testing.assert_close(mv.flatten(1).amin(1), torch.zeros(4))
    torch.testing.assert_close(mv.flatten(1).amax(1), torch.ones(4))
    a = m.alignment_maps(x)
    torch.testing.assert_close(mv, minmax_normalize(max_variance_map(a)[0]))
    out = m.train()(*views())
    maxvar = out.maps["lewel_maxvar"]
    assert maxvar.shape == (4, 4, 4) and not maxvar.requires_grad
    assert set(out.terms) == {"loss", "loss_c", "loss_global", "loss_slots"}
    assert all(not t.requires_grad for t in out.terms.values())
