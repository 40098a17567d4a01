"""Losses against hand-computed values and slow loop references (SCD paper eqs. 1-3, 5)."""
from __future__ import annotations

import math

import pytest
import torch

from scd_lab.losses import (byol_loss, info_nce_loss, normalized_mse_loss,
                            semantic_discrimination_loss)


def _cos(u, v):
    """Plain-Python cosine of two 1-D tensors."""
    dot = sum(float(a) * float(b) for a, b in zip(u, v))
    nu = math.sqrt(sum(float(a) ** 2 for a in u))
    nv = math.sqrt(sum(float(b) ** 2 for b in v))
    return dot / (nu * nv)


# ------------------------------------------------------------------------------------------
# BYOL: eq. 3 (2 - 2 cos) and eq. 2 (normalized MSE)


def test_byol_loss_hand_computed():
    # row 0: identical directions -> 0; row 1: orthogonal -> 2; row 2: opposite -> 4
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    z = torch.tensor([[5.0, 0.0], [0.0, 2.0], [0.0, -1.0]])
    assert byol_loss(p, z).item() == pytest.approx((0.0 + 2.0 + 4.0) / 3)
    # 45 degrees: 2 - 2 / sqrt(2)
    p45, z45 = torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, 0.0]])
    assert byol_loss(p45, z45).item() == pytest.approx(2 - math.sqrt(2))


def test_byol_loss_loop_reference():
    p, z = torch.randn(7, 16), torch.randn(7, 16)
    ref = sum(2 - 2 * _cos(p[i], z[i]) for i in range(7)) / 7
    assert byol_loss(p, z).item() == pytest.approx(ref, rel=1e-5)


def test_normalized_mse_hand_computed():
    p = torch.tensor([[3.0, 4.0]])  # -> (0.6, 0.8)
    z = torch.tensor([[0.0, 2.0]])  # -> (0, 1)
    assert normalized_mse_loss(p, z).item() == pytest.approx(0.6 ** 2 + 0.2 ** 2)


def test_normalized_mse_loop_reference():
    p, z = torch.randn(5, 8), torch.randn(5, 8)
    ref = 0.0
    for i in range(5):
        pn = [float(a) / math.sqrt(sum(float(b) ** 2 for b in p[i])) for a in p[i]]
        zn = [float(a) / math.sqrt(sum(float(b) ** 2 for b in z[i])) for a in z[i]]
        ref += sum((a - b) ** 2 for a, b in zip(pn, zn))
    assert normalized_mse_loss(p, z).item() == pytest.approx(ref / 5, rel=1e-5)


def test_eq2_equals_eq3():
    p, z = torch.randn(32, 64) * 3, torch.randn(32, 64) * 0.1
    torch.testing.assert_close(normalized_mse_loss(p, z), byol_loss(p, z), rtol=1e-5, atol=1e-6)
    # and their gradients agree too
    p1 = p.clone().requires_grad_()
    p2 = p.clone().requires_grad_()
    normalized_mse_loss(p1, z).backward()
    byol_loss(p2, z).backward()
    torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-4, atol=1e-6)


def test_byol_loss_is_a_batch_mean_not_a_sum():
    p, z = torch.randn(4, 8), torch.randn(4, 8)
    stacked = byol_loss(torch.cat([p, p]), torch.cat([z, z]))
    torch.testing.assert_close(stacked, byol_loss(p, z))


# ------------------------------------------------------------------------------------------
# InfoNCE: eq. 1


def _info_nce_loop(q, k, queue, tau):
    """Slow reference: per sample, -(l_pos - logsumexp([l_pos, l_neg...])) with explicit
    normalization and an explicit (max-shifted) logsumexp."""
    total = 0.0
    for i in range(q.shape[0]):
        qi = [float(a) for a in q[i]]
        nq = math.sqrt(sum(a * a for a in qi))
        qi = [a / nq for a in qi]
        ki = [float(a) for a in k[i]]
        nk = math.sqrt(sum(a * a for a in ki))
        ki = [a / nk for a in ki]
        logits = [sum(a * b for a, b in zip(qi, ki)) / tau]
        for n in range(queue.shape[0]):
            logits.append(sum(a * float(b) for a, b in zip(qi, queue[n])) / tau)
        mx = max(logits)
        lse = mx + math.log(sum(math.exp(x - mx) for x in logits))
        total += -(logits[0] - lse)
    return total / q.shape[0]


@pytest.mark.parametrize("tau", [0.2, 0.07, 1.0])
def test_info_nce_loop_reference(tau):
    q, k = torch.randn(5, 8), torch.randn(5, 8)
    queue = torch.nn.functional.normalize(torch.randn(11, 8), dim=1)
    assert info_nce_loss(q, k, queue, tau).item() == pytest.approx(
        _info_nce_loop(q, k, queue, tau), rel=1e-5)


def test_info_nce_hand_computed():
    # q = k = e1, queue = {e2, -e1}: logits (1/tau, 0, -1/tau)
    tau = 0.5
    q = torch.tensor([[2.0, 0.0]])
    k = torch.tensor([[1.0, 0.0]])
    queue = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    expected = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-2)))
    assert info_nce_loss(q, k, queue, tau).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_positive_is_index_zero():
    # If the positive is the most similar key the loss is small; if a negative is, large.
    q = torch.tensor([[1.0, 0.0]])
    good = info_nce_loss(q, torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]), 0.1)
    bad = info_nce_loss(q, torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]]), 0.1)
    assert good.item() < 1e-3 and bad.item() > 9.0


# ------------------------------------------------------------------------------------------
# Semantic discrimination: eq. 5


def _sd_loop(z1_fg, z1_bg, z2_fg, z2_bg, alpha, fg_term=True, bg_term=True):
    total = 0.0
    for i in range(z1_fg.shape[0]):
        t = 0.0
        if fg_term:
            t += max(_cos(z1_fg[i], z2_bg[i]) - _cos(z1_fg[i], z2_fg[i]) + alpha, 0.0)
        if bg_term:
            t += max(_cos(z1_bg[i], z2_fg[i]) - _cos(z1_bg[i], z2_bg[i]), 0.0)
        total += 0.5 * t
    return total / z1_fg.shape[0]


E1, E2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])


def test_semantic_discrimination_hand_computed():
    # z1_fg = e1, z2_fg = e1, z2_bg = e2: fg term = max(0 - 1 + alpha, 0) = 0.5 at alpha 1.5
    # z1_bg = e2: bg term = max(cos(e2, e1) - cos(e2, e2), 0) = max(0 - 1, 0) = 0
    args = [E1[None], E2[None], E1[None], E2[None]]
    assert semantic_discrimination_loss(*args, alpha=1.5).item() == pytest.approx(0.5 * 0.5)
    # swapped target (fg <-> bg): fg term = 1 - 0 + 1 = 2, bg term = 1 - 0 = 1
    swapped = [E1[None], E2[None], E2[None], E1[None]]
    assert semantic_discrimination_loss(*swapped, alpha=1.0).item() == pytest.approx(1.5)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0, 1.4])
def test_semantic_discrimination_loop_reference(alpha):
    z = [torch.randn(6, 8) for _ in range(4)]
    got = semantic_discrimination_loss(*z, alpha=alpha).item()
    assert got == pytest.approx(_sd_loop(*z, alpha), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("fg_term,bg_term", [(True, False), (False, True), (False, False)])
def test_semantic_discrimination_single_term(fg_term, bg_term):
    z = [torch.randn(6, 8) for _ in range(4)]
    got = semantic_discrimination_loss(*z, alpha=0.7, fg_term=fg_term, bg_term=bg_term).item()
    assert got == pytest.approx(_sd_loop(*z, 0.7, fg_term, bg_term), rel=1e-5, abs=1e-7)
    # one term alone is half its hinge: the two halves add up to the full loss
    if fg_term != bg_term:
        other = semantic_discrimination_loss(*z, alpha=0.7, fg_term=bg_term,
                                             bg_term=fg_term).item()
        full = semantic_discrimination_loss(*z, alpha=0.7).item()
        assert got + other == pytest.approx(full, rel=1e-5)


def test_semantic_discrimination_margin_only_on_fg_term():
    # bg term alone does not depend on alpha; fg term alone grows with alpha (well inside hinge)
    z1_fg, z1_bg, z2_fg, z2_bg = E1[None], E1[None], E1[None], E1[None]  # every cos = 1
    bg = [semantic_discrimination_loss(z1_fg, z1_bg, z2_fg, z2_bg, alpha=a, fg_term=False)
          for a in (0.0, 1.0)]
    fg = [semantic_discrimination_loss(z1_fg, z1_bg, z2_fg, z2_bg, alpha=a, bg_term=False)
          for a in (0.0, 1.0)]
    assert bg[0].item() == 0.0 and bg[1].item() == 0.0  # max(1 - 1, 0)
    assert fg[0].item() == 0.0 and fg[1].item() == pytest.approx(0.5)  # 0.5 * max(0 + a, 0)


def test_semantic_discrimination_alpha_zero():
    # alpha = 0 and a perfect separation (fg matches fg, bg matches bg) gives exactly zero
    z1_fg, z1_bg, z2_fg, z2_bg = E1[None], E2[None], E1[None], E2[None]
    assert semantic_discrimination_loss(z1_fg, z1_bg, z2_fg, z2_bg, alpha=0.0).item() == 0.0
    # with alpha = 0 the loss is the loop reference on random data too, and <= the alpha=1 loss
    z = [torch.randn(8, 4) for _ in range(4)]
    l0 = semantic_discrimination_loss(*z, alpha=0.0).item()
    assert l0 == pytest.approx(_sd_loop(*z, 0.0), rel=1e-5, abs=1e-7)
    assert l0 < semantic_discrimination_loss(*z, alpha=1.0).item()


def test_semantic_discrimination_hinge_boundary():
    # fg term: cos(z1_fg, z2_bg) - cos(z1_fg, z2_fg) + alpha. Take z1_fg = z2_fg = e1 and
    # z2_bg at angle theta from e1: the inside is cos(theta) - 1 + alpha.
    theta = math.pi / 3  # cos = 0.5; the boundary is alpha = 0.5
    z2_bg = torch.tensor([[math.cos(theta), math.sin(theta)]], dtype=torch.float64)
    e1 = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    e2 = torch.tensor([[0.0, 1.0]], dtype=torch.float64)

    def fg_only(alpha, z1=e1):
        return semantic_discrimination_loss(z1, e2, e1, z2_bg, alpha=alpha, bg_term=False)

    assert fg_only(0.5).item() == pytest.approx(0.0, abs=1e-12)  # exactly on the hinge
    assert fg_only(0.5 - 1e-3).item() == 0.0  # inactive just below
    assert fg_only(0.5 + 1e-3).item() == pytest.approx(0.5e-3, rel=1e-6)  # linear above
    # the gradient is zero when inactive and nonzero when active
    for alpha, active in [(0.4, False), (0.6, True)]:
        z1 = e1.clone().requires_grad_()
        fg_only(alpha, z1).backward()
        assert (z1.grad.abs().sum().item() > 0) is active


def test_semantic_discrimination_gradient_flows_only_to_inputs_with_grad():
    z1_fg, z1_bg = torch.randn(4, 8, requires_grad=True), torch.randn(4, 8, requires_grad=True)
    z2_fg, z2_bg = torch.randn(4, 8), torch.randn(4, 8)
    semantic_discrimination_loss(z1_fg, z1_bg, z2_fg, z2_bg, alpha=2.0).backward()  # all active
    assert z1_fg.grad.abs().sum() > 0 and z1_bg.grad.abs().sum() > 0
