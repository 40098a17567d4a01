"""two_batches: an MLP on two BN batches with its Linear layers run once on both."""
from __future__ import annotations

import copy

import pytest
import torch

from scd_lab.models import MLP, two_batches


@pytest.mark.parametrize("batch_norm", [True, False])
def test_two_batches_equals_two_calls(batch_norm):
    ref = MLP(16, 32, 8, batch_norm=batch_norm)
    mlp = copy.deepcopy(ref)
    a, b = torch.randn(6, 16), torch.randn(6, 16)
    a_ref, b_ref = a.clone().requires_grad_(), b.clone().requires_grad_()
    a.requires_grad_(), b.requires_grad_()
    want = (ref(a_ref), ref(b_ref))  # (6, 8) each
    got = two_batches(mlp, a, b)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-6)
    (want[0].square().sum() + want[1].sum()).backward()
    (got[0].square().sum() + got[1].sum()).backward()
    for (name, p), q in zip(mlp.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=1e-5, msg=name)
    torch.testing.assert_close(a.grad, a_ref.grad, rtol=0, atol=1e-6)
    torch.testing.assert_close(b.grad, b_ref.grad, rtol=0, atol=1e-6)
    for (name, x), y in zip(mlp.named_buffers(), ref.buffers()):  # running stats: a, then b
        torch.testing.assert_close(x, y, rtol=0, atol=1e-7, msg=name)
    mlp.eval(), ref.eval()  # eval mode: the running statistics
    for g, w in zip(two_batches(mlp, a, b), (ref(a), ref(b))):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-6)
