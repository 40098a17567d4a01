"""Saliency network M, weighted average pooling (eq. 4) and the channel-sum map."""
from __future__ import annotations

import pytest
import torch

from scd_lab.models import SaliencyNet, channel_sum_map, minmax_normalize, weighted_avg_pool


def _wap_loop(f, w, eps):
    b, c, h, wd = f.shape
    out = torch.zeros(b, c, dtype=torch.float64)
    for n in range(b):
        den = sum(float(w[n, i, j]) for i in range(h) for j in range(wd)) + eps
        for ch in range(c):
            num = sum(float(w[n, i, j]) * float(f[n, ch, i, j]) for i in range(h)
                      for j in range(wd))
            out[n, ch] = num / den
    return out


@pytest.mark.parametrize("four_d", [False, True])
def test_weighted_avg_pool_loop_reference(four_d):
    f = torch.randn(3, 5, 4, 6)
    w = torch.rand(3, 4, 6)
    got = weighted_avg_pool(f, w[:, None] if four_d else w, eps=1e-6)
    assert got.shape == (3, 5)
    torch.testing.assert_close(got.double(), _wap_loop(f, w, 1e-6), rtol=1e-5, atol=1e-6)


def test_weighted_avg_pool_special_weights():
    f = torch.randn(2, 4, 3, 3)
    # uniform weights = global average pooling (up to eps)
    torch.testing.assert_close(weighted_avg_pool(f, torch.ones(2, 3, 3), eps=0.0),
                               f.mean(dim=(2, 3)))
    # a one-hot weight picks that pixel; the weight's scale does not matter
    w = torch.zeros(2, 3, 3)
    w[:, 1, 2] = 7.0
    torch.testing.assert_close(weighted_avg_pool(f, w, eps=0.0), f[:, :, 1, 2])


def test_weighted_avg_pool_eps_guard():
    f = torch.randn(2, 4, 3, 3)
    out = weighted_avg_pool(f, torch.zeros(2, 3, 3), eps=1e-6)
    assert torch.isfinite(out).all()
    assert torch.equal(out, torch.zeros(2, 4))
    # the eps is in the denominator: sum(w) = 1 -> divided by 1 + eps
    w = torch.zeros(2, 3, 3)
    w[:, 0, 0] = 1.0
    torch.testing.assert_close(weighted_avg_pool(f, w, eps=0.5), f[:, :, 0, 0] / 1.5)


def test_weighted_avg_pool_gradient_reaches_weights():
    f = torch.randn(2, 4, 3, 3)
    w = torch.rand(2, 3, 3, requires_grad=True)
    weighted_avg_pool(f, w).sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 2, 3, 3), (3, 3, 3), (2, 3, 3, 1), (2, 9)])
def test_weighted_avg_pool_wrong_shapes_raise(shape):
    f = torch.randn(2, 4, 3, 3)
    with pytest.raises(ValueError, match="weights"):
        weighted_avg_pool(f, torch.rand(*shape))


def test_saliency_net_shape_and_range():
    net = SaliencyNet(16)
    f = torch.randn(4, 16, 5, 7) * 10  # large inputs: the sigmoid must still stay inside (0, 1)
    m = net(f)
    assert m.shape == (4, 5, 7)
    assert (m > 0).all() and (m < 1).all()
    torch.testing.assert_close(m, torch.sigmoid(net.logits(f)))


def test_saliency_net_architecture():
    net = SaliencyNet(16)  # paper: hidden = C
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (16, 16, (1, 1)), (16, 1, (1, 1))]
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    narrow = SaliencyNet(16, hidden=4)
    assert [m.out_channels for m in narrow.modules() if isinstance(m, torch.nn.Conv2d)] == [4, 1]


def test_saliency_net_is_pointwise():
    # 1x1 convs only: in eval mode, changing one pixel of F changes only that pixel of M
    net = SaliencyNet(8).eval()
    f = torch.randn(1, 8, 4, 4)
    g = f.clone()
    g[0, :, 2, 1] += 5.0
    with torch.no_grad():
        diff = (net(f) - net(g)).abs()
    assert diff[0, 2, 1] > 0
    diff[0, 2, 1] = 0
    assert diff.max() == 0


def test_minmax_normalize():
    maps = torch.tensor([[[1.0, 3.0], [2.0, 5.0]], [[4.0, 4.0], [4.0, 4.0]]])
    out = minmax_normalize(maps)
    torch.testing.assert_close(out[0], torch.tensor([[0.0, 0.5], [0.25, 1.0]]))
    assert torch.equal(out[1], torch.zeros(2, 2))  # a constant map becomes zeros


def test_channel_sum_map():
    f = torch.rand(2, 3, 4, 4)
    m = channel_sum_map(f)
    assert m.shape == (2, 4, 4)
    torch.testing.assert_close(m, minmax_normalize(f.sum(1)))
    assert m.amin(dim=(1, 2)).eq(0).all() and m.amax(dim=(1, 2)).eq(1).all()
