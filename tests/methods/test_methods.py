"""Every registered method: shapes, gradients, EMA, queue, SCD plug-in, a few training steps."""
from __future__ import annotations

import collections
import os
import socket

import pytest
import torch

from scd_lab.config import get_preset

from scd_lab.losses import byol_loss, semantic_discrimination_loss
from scd_lab.methods import PlugIn, SCD, StepOutput, available_methods
from scd_lab.methods.base import gap

METHODS = [n for n in available_methods() if n != "supervised"]  # the Siamese methods
SCD_METHODS = [n for n in METHODS if n.startswith("scd-")]
MOCO_FAMILY = [n for n in METHODS if n.endswith("moco")]


def _grads(module):
    return {n: (None if p.grad is None else p.grad.clone()) for n, p in module.named_parameters()}


def _target_params(method):
    return [p for _, t in method.momentum_pairs() for p in t.parameters()]


def _online_params(method):
    return [p for o, _ in method.momentum_pairs() for p in o.parameters()]


# ------------------------------------------------------------------------------------------
# Registry x backbone x input size: forward/backward and the StepOutput contract

# (name, arch, small_stem, side): every method on the tiny trunk at 32 and 64 px, and one
# ResNet-50 case (torchvision stem, C = 2048); the trunks themselves are tested in models/.
GRID = ([(name, "resnet_tiny", True, side) for name in METHODS for side in (32, 64)]
        + [("scd-moco", "resnet50", False, 64)])


@pytest.mark.parametrize("name,arch,small_stem,side", GRID)
def test_forward_backward_shapes(make_method, name, arch, small_stem, side):
    # resnet50 has C = 2048: a narrower saliency net keeps the test fast (shape is unchanged)
    width = 0.125 if arch == "resnet50" else 1.0
    method = make_method(name, backbone={"arch": arch, "small_stem": small_stem},
                         saliency_width=width)
    b = 2
    x1, x2 = torch.randn(b, 3, side, side), torch.randn(b, 3, side, side)
    out = method(x1, x2)
    assert isinstance(out, StepOutput)

    stride = method.encoder.stride
    c = method.encoder.out_channels
    hw = (side // stride, side // stride)
    tiny = get_preset("cpu").backbone.widths[-1]
    assert c == {"resnet_tiny": tiny, "resnet18": 512, "resnet50": 2048}[arch]

    # loss: scalar, finite, with a graph; terms: detached scalars including "loss"
    assert out.loss.shape == () and torch.isfinite(out.loss) and out.loss.requires_grad
    assert "loss" in out.terms
    assert out.terms["loss"].item() == pytest.approx(out.loss.item())
    for key, value in out.terms.items():
        assert value.shape == () and torch.isfinite(value) and not value.requires_grad, key
    # maps: (B, h, w) at feature-map resolution, detached
    for key, value in out.maps.items():
        assert value.shape == (b, *hw), key
        assert not value.requires_grad, key
    if name.startswith("scd-"):
        assert set(out.terms) >= {"loss", "loss_c", "loss_d"}
        assert ((out.maps["scd_fg"] > 0) & (out.maps["scd_fg"] < 1)).all()
    # keys: MoCo family gives L2-normalized (n*B, d) keys, the others none
    if name in MOCO_FAMILY:
        d = getattr(method, "base", method).projector.out_dim
        assert out.keys is not None and out.keys.shape[1] == d and out.keys.shape[0] % b == 0
        assert not out.keys.requires_grad
        torch.testing.assert_close(out.keys.norm(dim=1), torch.ones(out.keys.shape[0]))
    else:
        assert out.keys is None

    out.loss.backward()
    enc_grads = [p.grad for p in method.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in enc_grads)
    assert sum(g.abs().sum() for g in enc_grads) > 0
    assert all(p.grad is None for p in _target_params(method))

    method.eval()
    assert method.features(x1).shape == (b, c)
    maps = method.saliency_maps(x1)
    assert "channel_sum" in maps
    for key, value in maps.items():
        assert value.shape == (b, *hw), key
        assert value.min() >= 0 and value.max() <= 1, key


def test_registry_contains_the_baselines_and_scd():
    assert {"byol", "moco", "scd-byol", "scd-moco"} <= set(METHODS)


def test_build_method_unknown_name(tiny_cfg):
    from scd_lab.methods import build_method
    with pytest.raises(ValueError, match="unknown method 'simclr'; available: byol"):
        build_method(tiny_cfg, "simclr")


# ------------------------------------------------------------------------------------------
# Gradients: target networks, saliency network


@pytest.mark.parametrize("name", METHODS)
def test_target_never_receives_gradient(make_method, views, name):
    method = make_method(name)
    targets = _target_params(method)
    assert targets and all(not p.requires_grad for p in targets)
    # every frozen parameter of the method is a target parameter, and vice versa
    frozen = {id(p) for p in method.parameters() if not p.requires_grad}
    assert frozen == {id(p) for p in targets}
    out = method(*views)
    out.loss.backward()
    assert all(p.grad is None for p in targets)
    # and the online side did receive gradient
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in _online_params(method))


@pytest.mark.parametrize("name", METHODS)
def test_target_starts_as_a_copy_of_online(make_method, name):
    method = make_method(name)
    for online, target in method.momentum_pairs():
        o, t = list(online.parameters()), list(target.parameters())
        assert len(o) == len(t) and o
        assert all(torch.equal(a, b) and a is not b for a, b in zip(o, t))


@pytest.mark.parametrize("name", SCD_METHODS)
def test_saliency_receives_gradient_only_through_ld(make_method, views, name):
    method = make_method(name)
    sal = list(method.saliency.parameters())
    x1, x2 = views
    enc = method.base.encode(x1, x2)
    loss_c, _ = method.base.consistency(enc)
    loss_d, _ = method.discrimination(enc.f1, enc.f2_t)
    g_c = torch.autograd.grad(loss_c, sal, allow_unused=True, retain_graph=True)
    assert all(g is None for g in g_c)  # L_c does not touch M
    g_d = torch.autograd.grad(loss_d, sal, allow_unused=True)
    assert all(g is not None for g in g_d)
    assert sum(g.abs().sum() for g in g_d) > 0


@pytest.mark.parametrize("name", SCD_METHODS)
def test_saliency_gradient_vanishes_with_lam_zero(make_method, views, name):
    for lam, expect_nonzero in [(0.0, False), (0.5, True)]:
        method = make_method(name, lam=lam)
        method(*views).loss.backward()
        total = sum(p.grad.abs().sum() for p in method.saliency.parameters())
        assert bool(total > 0) is expect_nonzero, lam
        assert all(p.grad is None for p in method.target_saliency.parameters())


@pytest.mark.parametrize("name", SCD_METHODS)
def test_view2_goes_through_the_target_saliency_and_projector(make_method, views, name):
    # Make the target's M and H^s differ from the online ones: L_d must change, L_c must not.
    ref = make_method(name)(*views).terms
    for module in ("target_saliency", "target_sem_projector"):
        method = make_method(name)
        with torch.no_grad():
            for p in getattr(method, module).parameters():
                p.add_(0.5 * torch.randn_like(p))
        terms = method(*views).terms
        assert torch.equal(terms["loss_c"], ref["loss_c"]), module
        assert not torch.allclose(terms["loss_d"], ref["loss_d"]), module


# ------------------------------------------------------------------------------------------
# SCD plug-in: L = L_c + lam L_d, and lam = 0 is exactly the base method


@pytest.mark.parametrize("base", ["byol", "moco"])
def test_scd_lam_zero_equals_base_loss_and_gradients(make_method, views, base):
    plain = make_method(base, seed=3)
    scd = make_method(f"scd-{base}", seed=3, lam=0.0)
    assert isinstance(scd, SCD)
    # same seed, the base is built first inside SCD: identical base weights and buffers
    for (n, a), (_, b) in zip(plain.state_dict().items(), scd.base.state_dict().items()):
        assert torch.equal(a, b), n
    out_plain, out_scd = plain(*views), scd(*views)
    assert torch.equal(out_plain.loss, out_scd.loss)
    assert out_scd.terms["loss_d"] > 0  # L_d is computed, just weighted by zero
    out_plain.loss.backward()
    out_scd.loss.backward()
    g_plain, g_scd = _grads(plain), _grads(scd.base)
    assert g_plain.keys() == g_scd.keys()
    for n in g_plain:
        if g_plain[n] is None:
            assert g_scd[n] is None, n
        else:
            assert torch.equal(g_plain[n], g_scd[n]), n
    if out_plain.keys is not None:
        assert torch.equal(out_plain.keys, out_scd.keys)


@pytest.mark.parametrize("name", SCD_METHODS)
def test_scd_total_is_lc_plus_lam_ld(make_method, views, name):
    out = make_method(name, lam=0.7)(*views)
    t = out.terms
    torch.testing.assert_close(t["loss"], t["loss_c"] + 0.7 * t["loss_d"])
    plain = make_method(name.removeprefix("scd-"))(*views)  # same seed: L_c is the base loss
    torch.testing.assert_close(t["loss_c"], plain.terms["loss"])


def test_scd_symmetric_sums_ld(make_method, views):
    sym = make_method("scd-byol", symmetric=True, lam=1.0)
    x1, x2 = views
    out = sym(x1, x2)
    enc = sym.base.encode(x1, x2)
    d1, _ = sym.discrimination(enc.f1, enc.f2_t)
    d2, _ = sym.discrimination(enc.f2, enc.f1_t)
    torch.testing.assert_close(out.terms["loss_d"], (d1 + d2).detach())


@pytest.mark.parametrize("semantic_bn", ["separate", "joint"])
def test_discrimination_with_the_nets_own_maps_is_the_learned_one(make_method, views,
                                                                 semantic_bn):
    """Given maps stand in for the saliency nets' outputs (the probe's oracle); given the nets'
    own maps, L_d is the one ``forward`` computes, and the online map comes back."""
    method = make_method("scd-byol", semantic_bn=semantic_bn)
    enc = method.base.encode(*views)
    loss, m1 = method.discrimination(enc.f1, enc.f2_t)
    with torch.no_grad():
        m1_given, m2_given = method.saliency(enc.f1), method.target_saliency(enc.f2_t)
    given, m1_back = method.discrimination(enc.f1, enc.f2_t, m1_given, m2_given)
    assert torch.equal(given, loss) and torch.equal(m1, m1_given) and m1_back is m1_given
    z1, z2 = method.embed(enc.f1, m1_given), method.embed(enc.f2_t, m2_given, target=True)
    assert z1[0].shape == z2[1].shape == (4, 32)
    torch.testing.assert_close(given, semantic_discrimination_loss(*z1, *z2, method.alpha))
    other = method.discrimination(enc.f1, enc.f2_t, 1.0 - m1_given, 1.0 - m2_given)[0]
    assert not torch.equal(other, loss)


@pytest.mark.parametrize("name", ["scd-byol", "scd-moco", "lewel-byol", "lewel-moco"])
def test_plugins_share_the_plugin_base(make_method, name):
    """SCD and LEWEL wrap their base the same way: the base's encoder, momentum, pairs first,
    state-dict keys under ``base.``."""
    method = make_method(name)
    assert isinstance(method, PlugIn) and method.name == name
    assert method.encoder is method.base.encoder
    assert method.momentum(3, 10) == method.base.momentum(3, 10)
    base_pairs = method.base.momentum_pairs()
    assert method.momentum_pairs() == base_pairs + method.plugin_pairs()
    assert len(method.plugin_pairs()) == (2 if name.startswith("scd") else 1)
    keys = list(method.state_dict())
    assert keys[:len(method.base.state_dict())] == [f"base.{k}" for k in method.base.state_dict()]


# ------------------------------------------------------------------------------------------
# BYOL: symmetric = sum of the two directions, built by hand


def test_byol_symmetric_is_sum_of_directions(make_method, views):
    method = make_method("byol", symmetric=True)
    x1, x2 = views
    loss = method(x1, x2).loss
    f1, f2 = method.online_encoder(x1), method.online_encoder(x2)
    with torch.no_grad():
        z1 = method.target_projector(gap(method.target_encoder(x1)))
        z2 = method.target_projector(gap(method.target_encoder(x2)))
    p1 = method.predictor(method.projector(gap(f1)))
    p2 = method.predictor(method.projector(gap(f2)))
    d12, d21 = byol_loss(p1, z2), byol_loss(p2, z1)
    torch.testing.assert_close(loss, d12 + d21)
    assert not torch.allclose(loss, (d12 + d21) / 2)  # summed, not averaged
    # the asymmetric method is the first direction alone
    asym = make_method("byol", symmetric=False)
    torch.testing.assert_close(asym(x1, x2).loss, d12)


# ------------------------------------------------------------------------------------------
# EMA update and momentum schedule


@pytest.mark.parametrize("name", METHODS)
def test_momentum_update_moves_target_only(make_method, name):
    method = make_method(name)
    with torch.no_grad():  # make online and target differ
        for p in _online_params(method):
            p.add_(torch.randn_like(p))
    online_before = [p.clone() for p in _online_params(method)]
    target_before = [p.clone() for p in _target_params(method)]
    m = 0.9
    method.momentum_update(m)
    for o_now, o_old in zip(_online_params(method), online_before):
        assert torch.equal(o_now, o_old)
    for t_now, t_old, o in zip(_target_params(method), target_before, online_before):
        torch.testing.assert_close(t_now, m * t_old + (1 - m) * o)
    assert any(not torch.equal(a, b) for a, b in zip(_target_params(method), target_before))


@pytest.mark.parametrize("name", ["scd-byol", "lewel-byol"])
def test_momentum_update_equals_the_loop(make_method, name):
    """The one ``_foreach_lerp_`` over every pair equals a loop over the parameters, bit for
    bit, and the textbook m xi + (1 - m) theta to float32 rounding."""
    method = make_method(name)
    with torch.no_grad():
        for p in _online_params(method):
            p.mul_(0.5).add_(0.1 * torch.randn_like(p))
    online = [p.clone() for p in _online_params(method)]
    target = [p.clone() for p in _target_params(method)]
    m = 0.996
    method.momentum_update(m)
    for t_now, t_old, o in zip(_target_params(method), target, online):
        assert torch.equal(t_now, t_old.clone().lerp_(o, 1 - m))
        torch.testing.assert_close(t_now, m * t_old + (1 - m) * o, rtol=1e-6, atol=1e-7)


def test_momentum_update_extremes(make_method):
    method = make_method("scd-byol")
    with torch.no_grad():
        for p in _online_params(method):
            p.add_(1.0)
    before = [p.clone() for p in _target_params(method)]
    method.momentum_update(1.0)  # m = 1: the target stays
    assert all(torch.equal(a, b) for a, b in zip(_target_params(method), before))
    method.momentum_update(0.0)  # m = 0: the target becomes the online network
    assert all(torch.equal(t, o) for t, o in zip(_target_params(method), _online_params(method)))


def test_forward_has_no_side_effect_on_weights(make_method, views):
    method = make_method("scd-moco")
    before = {k: v.clone() for k, v in method.state_dict().items()
              if "running" not in k and "num_batches" not in k}
    method(*views)
    after = method.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k


def test_method_momentum_uses_config(make_method):
    byol = make_method("byol")  # resolved: 0.99, cosine
    assert byol.momentum(0, 10) == pytest.approx(0.99) and byol.momentum(10, 10) == 1.0
    moco = make_method("moco")  # resolved: 0.999, constant
    assert moco.momentum(10, 10) == pytest.approx(0.999)


# ------------------------------------------------------------------------------------------
# MoCo queue: FIFO, at most K


def _moco(make_method, k=8, name="moco"):
    method = make_method(name, queue_size=k)
    queue = method.base.queue if isinstance(method, SCD) else method.queue
    with torch.no_grad():
        queue.copy_(torch.full_like(queue, -1.0))  # recognisable "empty" rows
    return method


def _keys(start, n, d=32):
    """n distinguishable keys: key i is filled with the value start + i."""
    return torch.arange(start, start + n, dtype=torch.float32)[:, None].repeat(1, d)


def _ids(queue):
    return [int(v) for v in queue[:, 0]]


def test_enqueue_at_pointer(make_method):
    moco = _moco(make_method)
    moco.enqueue(StepOutput(loss=torch.tensor(0.0), keys=_keys(0, 3)))
    assert _ids(moco.queue) == [0, 1, 2, -1, -1, -1, -1, -1]
    assert int(moco.queue_ptr) == 3
    moco.enqueue(StepOutput(loss=torch.tensor(0.0), keys=_keys(3, 2)))
    assert _ids(moco.queue) == [0, 1, 2, 3, 4, -1, -1, -1]
    assert int(moco.queue_ptr) == 5


def test_enqueue_wraps_around(make_method):
    moco = _moco(make_method)
    moco.enqueue(StepOutput(loss=torch.tensor(0.0), keys=_keys(0, 6)))
    moco.enqueue(StepOutput(loss=torch.tensor(0.0), keys=_keys(6, 4)))  # 2 at the end, 2 wrap
    assert _ids(moco.queue) == [8, 9, 2, 3, 4, 5, 6, 7]
    assert int(moco.queue_ptr) == 2
    assert moco.queue.shape == (8, 32)


def test_enqueue_batch_larger_than_queue(make_method):
    moco = _moco(make_method)
    moco.enqueue(StepOutput(loss=torch.tensor(0.0), keys=_keys(0, 3)))
    moco.enqueue(StepOutput(loss=torch.tensor(0.0), keys=_keys(100, 11)))  # 11 > K = 8
    assert moco.queue.shape == (8, 32)
    ptr = int(moco.queue_ptr)
    ordered = _ids(moco.queue)[ptr:] + _ids(moco.queue)[:ptr]  # oldest first
    assert ordered == list(range(103, 111))  # the newest K keys, in order


def test_enqueue_is_fifo_against_a_deque(make_method):
    k = 8
    moco = _moco(make_method, k)
    ref = collections.deque(_ids(moco.queue), maxlen=k)  # oldest first, starting at ptr 0
    start = 0
    for n in [3, 5, 1, 7, 8, 2, 13, 4, 6]:
        keys = _keys(start, n)
        moco.enqueue(StepOutput(loss=torch.tensor(0.0), keys=keys))
        ref.extend(range(start, start + n))
        start += n
        ptr = int(moco.queue_ptr)
        assert moco.queue.shape[0] == k
        assert _ids(moco.queue)[ptr:] + _ids(moco.queue)[:ptr] == list(ref)


def test_scd_moco_enqueue_reaches_base_queue(make_method, views):
    scd = _moco(make_method, 8, "scd-moco")
    out = scd(*views)
    before = scd.base.queue.clone()
    scd.enqueue(out)
    torch.testing.assert_close(scd.base.queue[:4], out.keys)
    assert torch.equal(scd.base.queue[4:], before[4:])
    assert int(scd.base.queue_ptr) == 4


@pytest.mark.parametrize("name", MOCO_FAMILY)
def test_forward_does_not_touch_queue_and_enqueue_changes_loss(make_method, views, name):
    method = make_method(name)
    base = getattr(method, "base", method)
    queue, ptr = base.queue.clone(), int(base.queue_ptr)
    out = method(*views)
    assert torch.equal(base.queue, queue) and int(base.queue_ptr) == ptr
    method.enqueue(out)
    assert not torch.equal(base.queue, queue)
    assert base.queue.shape == queue.shape


def test_symmetric_moco_enqueues_both_directions(make_method, views):
    moco = make_method("moco", symmetric=True)
    out = moco(*views)
    assert out.keys.shape == (8, 32)  # 2 x B
    moco.enqueue(out)
    assert int(moco.queue_ptr) == 8


# ------------------------------------------------------------------------------------------
# A few optimizer steps on a small fixed batch lower every method's loss


@pytest.mark.parametrize("name", METHODS)
def test_few_steps_lower_the_loss(make_method, name):
    method = make_method(name, backbone={"widths": (16, 16, 32, 32)})
    g = torch.Generator().manual_seed(7)
    x1, x2 = torch.randn(8, 3, 16, 16, generator=g), torch.randn(8, 3, 16, 16, generator=g)
    opt = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.05,
                          momentum=0.9)
    steps = 8
    losses = []
    for step in range(steps):
        out = method(x1, x2)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        method.momentum_update(method.momentum(step, steps))
        # no enqueue: on a fixed batch the queued keys would be this batch's own positives
        losses.append(out.loss.item())
    with torch.no_grad():
        final = method(x1, x2).loss.item()
    assert final < losses[0] * 0.9, losses + [final]


# ------------------------------------------------------------------------------------------
# The queue under two processes (gloo): keys gathered in rank order, identical queues


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dist_worker(rank, world, port, tmpdir):
    import torch.distributed as dist

    from scd_lab.config import get_preset
    from scd_lab.methods import build_method

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        cfg = get_preset("cpu")
        cfg.method.proj_hidden, cfg.method.proj_dim, cfg.method.queue_size = 16, 4, 10
        cfg.backbone.widths = (8, 8, 8, 8)
        torch.manual_seed(0)
        moco = build_method(cfg, "moco")
        with torch.no_grad():
            moco.queue.fill_(-1.0)
        for step in range(3):  # 3 steps x 2 ranks x 2 keys = 12 > K = 10: wraps around
            keys = torch.full((2, 4), float(100 * step + 10 * rank)) + torch.arange(2.0)[:, None]
            moco.enqueue(StepOutput(loss=torch.tensor(0.0), keys=keys))
        # shuffled BN: shuffle + unshuffle is the identity on each rank's batch
        x = torch.arange(3.0)[:, None] + 10 * rank
        shuffled, idx = __import__("scd_lab.dist", fromlist=["x"]).batch_shuffle(x)
        back = __import__("scd_lab.dist", fromlist=["x"]).batch_unshuffle(shuffled, idx)
        torch.save({"queue": moco.queue.clone(), "ptr": int(moco.queue_ptr),
                    "back": back, "x": x}, os.path.join(tmpdir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_queue_with_two_processes(tmp_path):
    import torch.multiprocessing as mp
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    mp.spawn(_dist_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert torch.equal(r0["queue"], r1["queue"]) and r0["ptr"] == r1["ptr"] == 2
    # per step: rank 0's two keys then rank 1's; the oldest two (step 0, rank 0) were dropped
    pushed = [100 * s + 10 * r + i for s in range(3) for r in range(2) for i in range(2)]
    ptr = r0["ptr"]
    ordered = [int(v) for v in torch.cat([r0["queue"][ptr:], r0["queue"][:ptr]])[:, 0]]
    assert ordered == pushed[-10:]
    for r in (r0, r1):
        assert torch.equal(r["back"], r["x"])


@pytest.mark.slow
def test_supervised_reference_learns_the_labels(tmp_path):
    """Cross-entropy on the labels with the kit's trainer: the loss falls and the features
    separate the classes (kNN far above chance)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
    from helpers import tiny_config, tiny_data

    from scd_lab.runs import build_run, load_run

    cfg = tiny_config("supervised", ["train.epochs=10", "optim.lr=1.0"])
    trainer = build_run(cfg, tmp_path / "run", data=tiny_data(n_train=128, n_test=64))
    summary = trainer.fit()
    losses = [r["loss"] for r in trainer.history if r["kind"] == "train"]
    assert sum(losses[-4:]) / 4 < 0.85 * sum(losses[:4]) / 4, losses  # 1.37 -> 1.02
    assert summary["knn_top1"] > summary["knn_top1_init"] + 0.15, summary
    run = load_run(tmp_path / "run", with_data=False)
    assert run.method.head.out_features == 4 and run.cfg.data.augment == "byol"


@pytest.mark.parametrize("semantic_predictor", [False, True])
def test_scd_separate_bn_equals_two_calls(make_method, views, monkeypatch, semantic_predictor):
    """SCD's fg and bg share H^s's matrix multiplications (``two_batches``) and keep their
    own BN batches: the loss and every gradient are those of two separate calls."""
    import scd_lab.methods.scd as scd_module

    results = []
    for batched in (True, False):
        if not batched:
            monkeypatch.setattr(scd_module, "two_batches", lambda mlp, a, b: (mlp(a), mlp(b)))
        method = make_method("scd-byol", semantic_predictor=semantic_predictor)
        torch.manual_seed(1)
        out = method(*views)
        out.loss.backward()
        results.append((out.loss.detach(), {n: p.grad.clone() for n, p in
                                            method.named_parameters() if p.grad is not None}))
    (loss, grads), (loss_ref, grads_ref) = results
    torch.testing.assert_close(loss, loss_ref, rtol=0, atol=1e-6)
    assert grads.keys() == grads_ref.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], grads_ref[name], rtol=1e-5, atol=1e-5, msg=name)
