"""Optimizers (``scd_lab.train.optim``): hand values and independent references."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from scd_lab.train.optim import LARS, build_optimizer, param_groups


# --------------------------------------------------------------------------- LARS

def reference_lars(w, grads, lr, momentum, weight_decay, eta, adapt):
    """Independent plain-Python LARS (the code's variant): d = g + wd w; if adapt and both norms
    are non-zero, d *= eta ||w|| / ||d||; buf = d (first step) or momentum * buf + d;
    w -= lr * buf. Returns the weights after each step."""
    w = list(w)
    buf = None
    history = []
    for g in grads:
        d = [gi + weight_decay * wi for gi, wi in zip(g, w)]
        if adapt:
            w_norm = math.sqrt(sum(x * x for x in w))
            d_norm = math.sqrt(sum(x * x for x in d))
            trust = eta * w_norm / d_norm if w_norm > 0 and d_norm > 0 else 1.0
            d = [trust * x for x in d]
        buf = d if buf is None else [momentum * b + x for b, x in zip(buf, d)]
        w = [wi - lr * b for wi, b in zip(w, buf)]
        history.append(w)
    return history


def run_lars(w0, grads, adapt=True, form="joint", **kw):
    p = nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = LARS([{"params": [p], "lars": adapt}], form=form, **kw)
    history = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        history.append(p.detach().clone())
    return history


def test_lars_lewel_form_hand_computed():
    # LEWEL utils/LARS.py:96-116: trust = eta ||w|| / (||g|| + wd ||w||), d = lr trust (g + wd w),
    # buf = d then m buf + d, w -= buf (the learning rate inside the buffer).
    # w = (3, 4), ||w|| = 5; g = (0.8, -0.6), ||g|| = 1; eta = 0.1, wd = 0.1, lr = 0.1:
    # trust = 0.5 / (1 + 0.5) = 1/3; g + wd w = (1.1, -0.2); d = 0.1/3 (1.1, -0.2).
    p = nn.Parameter(torch.tensor([3.0, 4.0], dtype=torch.float64))
    opt = LARS([{"params": [p], "lars": True}], lr=0.1, momentum=0.9, weight_decay=0.1,
               eta=0.1)  # the default form is LEWEL's
    p.grad = torch.tensor([0.8, -0.6], dtype=torch.float64)
    opt.step()
    d1 = (0.1 / 3 * 1.1, 0.1 / 3 * -0.2)
    w1 = (3.0 - d1[0], 4.0 - d1[1])
    assert torch.allclose(p.detach(), torch.tensor(w1, dtype=torch.float64), rtol=0, atol=1e-12)
    # Step 2 at lr 0.2 (a schedule moved it), g = (0, 2): the old buffer keeps lr 0.1 inside.
    opt.param_groups[0]["lr"] = 0.2
    p.grad = torch.tensor([0.0, 2.0], dtype=torch.float64)
    opt.step()
    n1 = math.hypot(*w1)
    t2 = 0.1 * n1 / (2.0 + 0.1 * n1)
    d2 = (0.2 * t2 * (0.1 * w1[0]), 0.2 * t2 * (2.0 + 0.1 * w1[1]))
    buf = (0.9 * d1[0] + d2[0], 0.9 * d1[1] + d2[1])
    want = torch.tensor([w1[0] - buf[0], w1[1] - buf[1]], dtype=torch.float64)
    assert torch.allclose(p.detach(), want, rtol=0, atol=1e-12)
    # An excluded group (lars False, wd 0): plain SGD momentum, lr inside: w -= lr g.
    q = nn.Parameter(torch.tensor([1.0, 1.0], dtype=torch.float64))
    plain = LARS([{"params": [q], "lars": False}], lr=0.5, momentum=0.9, eta=0.1)
    q.grad = torch.tensor([0.2, -0.4], dtype=torch.float64)
    plain.step()
    assert torch.allclose(q.detach(), torch.tensor([0.9, 1.2], dtype=torch.float64))
    # ||w|| = 0: trust 0, no step (the authors' rule); g = 0 and w = 0: no division by zero.
    z = nn.Parameter(torch.zeros(2, dtype=torch.float64))
    zz = nn.Parameter(torch.zeros(2, dtype=torch.float64))
    edge = LARS([z, zz], lr=0.1, momentum=0.9, weight_decay=0.5, eta=0.001)
    z.grad, zz.grad = torch.tensor([1.0, -1.0], dtype=torch.float64), torch.zeros(2).double()
    edge.step()
    assert torch.equal(z, torch.zeros(2).double()) and torch.equal(zz, torch.zeros(2).double())


def test_lars_hand_computed_one_step():
    # w = (3, 4): ||w|| = 5;  g = (0.8, -0.6): ||g|| = 1;  eta = 0.1, lr = 0.1, no decay.
    # trust = 0.1 * 5 / 1 = 0.5 -> update 0.5 g = (0.4, -0.3) -> w = (3 - 0.04, 4 + 0.03).
    (w1,) = run_lars([3.0, 4.0], [[0.8, -0.6]], lr=0.1, momentum=0.9, weight_decay=0.0, eta=0.1)
    assert torch.allclose(w1, torch.tensor([2.96, 4.03], dtype=torch.float64), rtol=0, atol=1e-12)
    # With weight decay 0.1: d = g + 0.1 w = (1.1, -0.2), ||d|| = sqrt(1.25);
    # trust = 0.5 / sqrt(1.25) -> w = w - 0.1 * trust * d.
    (w1,) = run_lars([3.0, 4.0], [[0.8, -0.6]], lr=0.1, momentum=0.9, weight_decay=0.1, eta=0.1)
    t = 0.5 / math.sqrt(1.25)
    want = torch.tensor([3.0 - 0.1 * t * 1.1, 4.0 + 0.1 * t * 0.2], dtype=torch.float64)
    assert torch.allclose(w1, want, rtol=0, atol=1e-12)


def test_lars_hand_computed_two_steps_momentum():
    # Step 1 as above (no decay): buf = (0.4, -0.3), w1 = (2.96, 4.03), ||w1|| = sqrt(24.9025).
    # Step 2, g = (0, 2): ||g|| = 2, trust = 0.1 * ||w1|| / 2, buf = 0.9 buf + trust * g.
    hist = run_lars([3.0, 4.0], [[0.8, -0.6], [0.0, 2.0]], lr=0.1, momentum=0.9,
                    weight_decay=0.0, eta=0.1)
    t2 = 0.1 * math.sqrt(2.96 ** 2 + 4.03 ** 2) / 2.0
    buf = (0.9 * 0.4, 0.9 * -0.3 + t2 * 2.0)
    want = torch.tensor([2.96 - 0.1 * buf[0], 4.03 - 0.1 * buf[1]], dtype=torch.float64)
    assert torch.allclose(hist[1], want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("adapt", [True, False])
def test_lars_matches_reference_random(weight_decay, adapt):
    g = torch.Generator().manual_seed(0)
    w0 = torch.randn(7, generator=g, dtype=torch.float64).tolist()
    grads = [torch.randn(7, generator=g, dtype=torch.float64).tolist() for _ in range(3)]
    kw = dict(lr=0.2, momentum=0.9, weight_decay=weight_decay, eta=0.02)
    got = run_lars(w0, grads, adapt=adapt, **kw)
    want = reference_lars(w0, grads, adapt=adapt, **kw)
    for a, b in zip(got, want):
        assert torch.allclose(a, torch.tensor(b, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    # The adapted update really is rescaled (different from plain SGD-momentum).
    if adapt:
        plain = reference_lars(w0, grads, adapt=False, **kw)
        assert not torch.allclose(got[-1], torch.tensor(plain[-1], dtype=torch.float64))


def test_lars_matrix_parameter_uses_whole_tensor_norm():
    # Trust ratio is one number per tensor (Frobenius norms), not per row.
    w0 = [[1.0, 2.0], [3.0, -1.0]]
    g = [[0.5, 0.0], [-0.5, 1.0]]
    p = nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = LARS([{"params": [p], "lars": True}], lr=0.5, momentum=0.9, eta=0.01, form="joint")
    p.grad = torch.tensor(g, dtype=torch.float64)
    opt.step()
    trust = 0.01 * math.sqrt(1 + 4 + 9 + 1) / math.sqrt(0.25 + 0.25 + 1)
    want = torch.tensor(w0, dtype=torch.float64) - 0.5 * trust * torch.tensor(g, dtype=torch.float64)
    assert torch.allclose(p.detach(), want, rtol=0, atol=1e-12)


def test_lars_excluded_groups_get_plain_sgd_momentum():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    with torch.no_grad():  # non-trivial norm parameters
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.5, 0.5)
    twin = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    twin.load_state_dict(model.state_dict())

    lars = LARS(param_groups(model, weight_decay=0.1), lr=0.3, momentum=0.9, eta=0.05,
                form="joint")
    # Reference for the excluded parameters: torch's SGD with momentum and no weight decay.
    excluded = [twin[0].bias, twin[1].weight, twin[1].bias]
    sgd = torch.optim.SGD(excluded, lr=0.3, momentum=0.9, weight_decay=0.0)
    w_ref = [twin[0].weight.detach().clone()]

    g = torch.Generator().manual_seed(1)
    grads = [{n: torch.randn(p.shape, generator=g) for n, p in model.named_parameters()}
             for _ in range(3)]
    for step_grads in grads:
        for n, p in model.named_parameters():
            p.grad = step_grads[n].clone()
        for n, p in twin.named_parameters():
            p.grad = step_grads[n].clone()
        lars.step()
        sgd.step()

    for a, b in zip([model[0].bias, model[1].weight, model[1].bias], excluded):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)
    # The linear weight follows the adapted (LARS, decayed) rule.
    want = reference_lars(w_ref[0].flatten().tolist(),
                          [s["0.weight"].flatten().tolist() for s in grads],
                          lr=0.3, momentum=0.9, weight_decay=0.1, eta=0.05, adapt=True)[-1]
    assert torch.allclose(model[0].weight.detach().flatten().double(),
                          torch.tensor(want, dtype=torch.float64), rtol=1e-5, atol=1e-6)


def test_lars_zero_weight_and_zero_grad_edge_cases():
    kw = dict(lr=0.1, momentum=0.9, weight_decay=0.5, eta=0.001)
    w_zero = nn.Parameter(torch.zeros(3))  # ||w|| = 0 -> trust falls back to 1
    g_zero = nn.Parameter(torch.tensor([1.0, -2.0, 2.0]))  # g = 0 but decay is not
    both_zero = nn.Parameter(torch.zeros(2))
    d_zero = nn.Parameter(torch.tensor([1.0, 2.0]))  # g = -wd w -> d = 0 exactly (trust 1)
    no_grad = nn.Parameter(torch.tensor([5.0]))
    opt = LARS([w_zero, g_zero, both_zero, d_zero, no_grad], form="joint", **kw)
    w_zero.grad = torch.tensor([0.5, -1.0, 0.0])
    g_zero.grad = torch.zeros(3)
    both_zero.grad = torch.zeros(2)
    d_zero.grad = torch.tensor([-0.5, -1.0])
    opt.step()
    for p in (w_zero, g_zero, both_zero, d_zero):
        assert torch.isfinite(p).all()
        assert torch.isfinite(opt.state[p]["momentum_buffer"]).all()
    assert torch.allclose(w_zero, torch.tensor([-0.05, 0.1, 0.0]))  # plain lr * g
    # g = 0: d = 0.5 w, ||d|| = 1.5, ||w|| = 3 -> trust = 0.001 * 3 / 1.5 = 0.002
    # -> w - 0.1 * 0.002 * 0.5 w = w (1 - 1e-4)
    assert torch.allclose(g_zero, torch.tensor([1.0, -2.0, 2.0]) * (1 - 1e-4), rtol=1e-7, atol=0)
    assert torch.equal(both_zero, torch.zeros(2))
    assert torch.equal(d_zero, torch.tensor([1.0, 2.0]))  # d = -0.5 w + 0.5 w = 0: no step
    assert torch.equal(no_grad, torch.tensor([5.0])) and no_grad not in opt.state


# --------------------------------------------------------------------------- param_groups

class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.gn = nn.GroupNorm(2, 4)
        self.fc = nn.Linear(4, 6)
        self.ln = nn.LayerNorm(6)
        self.head = nn.Linear(6, 2, bias=False)
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)


def _ids(params):
    return sorted(id(p) for p in params)


def test_param_groups_exclude_bias_and_norm():
    net = _Net()
    decay, no_decay = param_groups(net, weight_decay=0.05, exclude_bias_norm=True)
    assert decay["weight_decay"] == 0.05 and decay["lars"] is True
    assert no_decay["weight_decay"] == 0.0 and no_decay["lars"] is False
    assert _ids(decay["params"]) == _ids([net.conv.weight, net.fc.weight, net.head.weight])
    assert _ids(no_decay["params"]) == _ids([net.conv.bias, net.bn.weight, net.bn.bias,
                                             net.gn.weight, net.gn.bias, net.fc.bias,
                                             net.ln.weight, net.ln.bias])
    # Frozen parameters are nowhere; every trainable one is in exactly one group.
    trainable = [p for p in net.parameters() if p.requires_grad]
    assert len(decay["params"]) + len(no_decay["params"]) == len(trainable) == 11


def test_param_groups_without_exclusion():
    net = _Net()
    decay, no_decay = param_groups(net, weight_decay=0.05, exclude_bias_norm=False)
    assert _ids(decay["params"]) == _ids(p for p in net.parameters() if p.requires_grad)
    assert decay["weight_decay"] == 0.05
    assert no_decay["params"] == []


def test_head_bn_scales_decayed_in_lewels_bn_recipe():
    # LEWEL main.py:381: the heads' BN (``mlp.1``) is excluded only for the EMAN model; in the
    # BN recipe its scale (``mlp.1.weight``) is decayed and adapted, its bias (name "bias") not.
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4),  # a trunk: 2-d norm
                        nn.Linear(4, 8, bias=False), nn.BatchNorm1d(8), nn.Linear(8, 2))  # a head
    decay, no_decay = param_groups(net, weight_decay=0.1, head_bn_decay=True)
    assert _ids(decay["params"]) == _ids([net[0].weight, net[2].weight, net[3].weight,
                                          net[4].weight])
    assert _ids(no_decay["params"]) == _ids([net[0].bias, net[1].weight, net[1].bias,
                                             net[3].bias, net[4].bias])
    decay, _ = param_groups(net, weight_decay=0.1)  # the EMAN recipe: every BN excluded
    assert _ids(decay["params"]) == _ids([net[0].weight, net[2].weight, net[4].weight])


# --------------------------------------------------------------------------- build_optimizer

def _optim_config(**kw):
    from scd_lab.config import OptimConfig
    return OptimConfig(**kw)


@pytest.mark.parametrize("batch, want", [(256, 0.1), (512, 0.2), (64, 0.025), (1024, 0.4)])
def test_build_optimizer_linear_lr_scaling(batch, want):
    cfg = _optim_config(optimizer="sgd", lr=0.1, lr_scaling="linear", weight_decay=1e-4,
                        momentum=0.8)
    opt, lr = build_optimizer(_Net(), cfg, batch)
    assert lr == pytest.approx(want)
    assert isinstance(opt, torch.optim.SGD) and not isinstance(opt, LARS)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([want, want])
    assert [g["weight_decay"] for g in opt.param_groups] == [1e-4, 0.0]
    assert all(g["momentum"] == 0.8 for g in opt.param_groups)
    assert all("lars" not in g for g in opt.param_groups)


@pytest.mark.parametrize("batch", [64, 256, 1024])
def test_build_optimizer_no_lr_scaling(batch):
    cfg = _optim_config(optimizer="sgd", lr=0.1, lr_scaling="none")
    opt, lr = build_optimizer(_Net(), cfg, batch)
    assert lr == 0.1
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1]


def test_build_optimizer_lars():
    net = _Net()
    cfg = _optim_config(optimizer="lars", lr=0.3, lr_scaling="linear", weight_decay=1e-6,
                        momentum=0.9, lars_eta=0.02, exclude_bias_norm=True)
    opt, lr = build_optimizer(net, cfg, 4096)
    assert isinstance(opt, LARS)
    assert lr == pytest.approx(0.3 * 4096 / 256)  # 4.8
    decay, no_decay = opt.param_groups
    assert decay["lr"] == no_decay["lr"] == pytest.approx(4.8)
    assert decay["eta"] == no_decay["eta"] == 0.02
    assert decay["momentum"] == 0.9
    assert (decay["lars"], decay["weight_decay"]) == (True, 1e-6)
    assert (no_decay["lars"], no_decay["weight_decay"]) == (False, 0.0)
    assert _ids(no_decay["params"]) == _ids([net.conv.bias, net.bn.weight, net.bn.bias,
                                             net.gn.weight, net.gn.bias, net.fc.bias,
                                             net.ln.weight, net.ln.bias])


@torch.no_grad()
def _loop_lars_step(params, state, group):
    """The per-parameter LARS step the foreach version replaced (the reference)."""
    for p in params:
        g = p.grad
        if group["weight_decay"]:
            g = g.add(p, alpha=group["weight_decay"])
        if group["lars"]:
            w_norm, g_norm = torch.norm(p), torch.norm(g)
            trust = torch.where((w_norm > 0) & (g_norm > 0), group["eta"] * w_norm / g_norm,
                                torch.ones_like(w_norm))
            g = g.mul(trust)
        if p not in state:
            state[p] = torch.clone(g)
        else:
            state[p].mul_(group["momentum"]).add_(g)
        p.add_(state[p], alpha=-group["lr"])


def _two_groups(seed):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 8))
    return model, param_groups(model, weight_decay=0.05)


def test_foreach_lars_equals_the_loop():
    model, groups = _two_groups(0)
    ref_model, ref_groups = _two_groups(0)
    opt = LARS(groups, lr=0.3, momentum=0.9, eta=0.02, form="joint")
    ref_state: dict = {}
    for step in range(3):
        x = torch.randn(8, 16, generator=torch.Generator().manual_seed(step))
        for m in (model, ref_model):
            m.zero_grad()
            m(x).square().mean().backward()
        opt.step()
        for group, ref_group in zip(opt.param_groups, ref_groups):
            ref = dict(group, params=None)
            _loop_lars_step(ref_group["params"], ref_state, ref)
    for p, q in zip(model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-7)


def test_foreach_sgd_equals_the_loop(tiny_cfg):
    model, _ = _two_groups(0)
    ref_model, _ = _two_groups(0)
    opt, lr = build_optimizer(model, tiny_cfg.optim, 64)
    assert opt.defaults["foreach"] is True
    ref = torch.optim.SGD(param_groups(ref_model, tiny_cfg.optim.weight_decay), lr=lr,
                          momentum=tiny_cfg.optim.momentum, foreach=False)
    for step in range(3):
        x = torch.randn(8, 16, generator=torch.Generator().manual_seed(step))
        for m, o in ((model, opt), (ref_model, ref)):
            m.zero_grad()
            m(x).square().mean().backward()
            o.step()
    for p, q in zip(model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-7)
