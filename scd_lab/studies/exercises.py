"""Self-checks for the exercises of notebook 02: each compares a student's function with the
library on random inputs and on an edge case, and fails with a hint that says what to look at.

    check_weighted_avg_pool(my_wap)      # eq. 4
    check_semantic_discrimination(my_ld)  # eq. 5
    check_ema_update(my_ema)
    check_info_nce_with_queue(my_nce)     # eq. 1 and the FIFO queue
    check_alignment_maps(my_maps)         # LEWEL

Each returns ``True`` when every case passes (and prints one line); a failing case raises
``AssertionError`` naming the case and the hint. A stub that raises ``NotImplementedError``
fails with "not implemented yet".
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..losses import info_nce_loss, semantic_discrimination_loss
from ..methods.lewel import alignment_maps_from_z
from ..models import weighted_avg_pool


def _run(name: str, fn, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        raise AssertionError(f"{name}: not implemented yet (replace the "
                             "`raise NotImplementedError` line)") from None


def _close(name: str, case: str, got, want, hint: str, atol: float = 1e-5) -> None:
    got = torch.as_tensor(got)
    if got.shape != want.shape:
        raise AssertionError(f"{name}, {case}: shape {tuple(got.shape)}, expected "
                             f"{tuple(want.shape)}. Hint: {hint}")
    if not torch.allclose(got.float(), want.float(), atol=atol, rtol=1e-4):
        raise AssertionError(f"{name}, {case}: values differ from the library's (max error "
                             f"{(got.float() - want.float()).abs().max():.3g}). Hint: {hint}")


def _passed(name: str, n: int) -> bool:
    print(f"{name}: all {n} cases pass")
    return True


def check_weighted_avg_pool(fn) -> bool:
    """``fn(feature_map (B, C, H, W), weights (B, H, W), eps) -> (B, C)``, eq. 4."""
    g = torch.Generator().manual_seed(0)
    f, w = torch.randn(3, 5, 4, 4, generator=g), torch.rand(3, 4, 4, generator=g)
    hint = "h = sum_ij w_ij F[:, i, j] / (sum_ij w_ij + eps), per image"
    _close("weighted_avg_pool", "random map", _run("weighted_avg_pool", fn, f, w, 1e-6),
           weighted_avg_pool(f, w, 1e-6), hint)
    zero = torch.zeros(3, 4, 4)  # the edge case: eps keeps the result finite (all zeros)
    _close("weighted_avg_pool", "all-zero map", _run("weighted_avg_pool", fn, f, zero, 1e-6),
           weighted_avg_pool(f, zero, 1e-6), "add eps to the denominator, not the numerator")
    return _passed("weighted_avg_pool", 2)


def check_semantic_discrimination(fn) -> bool:
    """``fn(z1_fg, z1_bg, z2_fg, z2_bg, alpha) -> scalar``, eq. 5."""
    g = torch.Generator().manual_seed(1)
    z = [torch.randn(6, 8, generator=g) for _ in range(4)]
    hint = ("0.5 * mean over the batch of relu(cos(z1_fg, z2_bg) - cos(z1_fg, z2_fg) + alpha) "
            "+ relu(cos(z1_bg, z2_fg) - cos(z1_bg, z2_bg)): the margin is on the fg term only")
    for alpha in (0.0, 1.0):
        _close("semantic_discrimination", f"random, alpha={alpha}",
               _run("semantic_discrimination", fn, *z, alpha),
               semantic_discrimination_loss(*z, alpha), hint)
    # the hinge boundary: fg embeddings equal, bg orthogonal -> the fg hinge is exactly 0 at
    # alpha = 1 (cos(fg, bg) - cos(fg, fg) + 1 = 0 - 1 + 1), the bg hinge inactive
    e = torch.eye(2)
    args = (e[:1], e[1:], e[:1], e[1:])
    _close("semantic_discrimination", "hinge boundary", _run("semantic_discrimination", fn,
                                                             *args, 1.0),
           semantic_discrimination_loss(*args, 1.0), "relu, not abs: a hinge at 0 is 0")
    return _passed("semantic_discrimination", 3)


def check_ema_update(fn) -> bool:
    """``fn(target: list of tensors, online: list of tensors, m)`` updates target in place:
    xi <- m xi + (1 - m) theta."""
    g = torch.Generator().manual_seed(2)
    online = [torch.randn(3, 4, generator=g), torch.randn(5, generator=g)]
    for m in (0.99, 1.0, 0.0):
        target = [torch.randn_like(p) for p in online]
        want = [m * t + (1 - m) * p for t, p in zip(target, online)]
        _run("ema_update", fn, target, online, m)
        for i, (t, w) in enumerate(zip(target, want)):
            _close("ema_update", f"m={m}, tensor {i}", t, w,
                   "update the target tensors in place (t.mul_(m).add_(p, alpha=1 - m)); "
                   "m = 1 leaves the target unchanged, m = 0 copies the online weights")
    return _passed("ema_update", 3)


def _reference_queue(q, k, queue, ptr, tau):
    loss = info_nce_loss(q, k, queue, tau)
    keys = F.normalize(k, dim=1)
    idx = (ptr + torch.arange(keys.shape[0])) % queue.shape[0]
    new = queue.clone()
    new[idx] = keys
    return loss, new, (ptr + keys.shape[0]) % queue.shape[0]


def check_info_nce_with_queue(fn) -> bool:
    """``fn(q (B, D), k (B, D), queue (K, D), ptr, tau) -> (loss, new_queue, new_ptr)``:
    InfoNCE (eq. 1) against the queue, then the normalised keys pushed at ``ptr`` (FIFO)."""
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    queue = F.normalize(torch.randn(10, 8, generator=g), dim=1)
    hint = ("logits = [q.k, q.queue^T] / tau with q, k L2-normalised, cross-entropy with the "
            "positive at index 0; then write the normalised keys at rows ptr, ptr+1, ... "
            "(wrapping around) and advance ptr modulo K")
    for ptr, case in ((0, "empty pointer"), (8, "full queue: the push wraps around")):
        got = _run("info_nce_with_queue", fn, q, k, queue.clone(), ptr, 0.2)
        want = _reference_queue(q, k, queue, ptr, 0.2)
        _close("info_nce_with_queue", f"{case}, loss", got[0], want[0], hint)
        _close("info_nce_with_queue", f"{case}, queue", got[1], want[1], hint)
        if int(got[2]) != want[2]:
            raise AssertionError(f"info_nce_with_queue, {case}: pointer {int(got[2])}, "
                                 f"expected {want[2]}. Hint: {hint}")
    return _passed("info_nce_with_queue", 2)


def check_alignment_maps(fn) -> bool:
    """``fn(z_pix (B, d, H, W), scale) -> (B, d, H, W)``: LEWEL's softmax over space of the
    channel-normalised projector columns divided by ``scale``."""
    g = torch.Generator().manual_seed(4)
    z = torch.randn(2, 6, 3, 4, generator=g)
    hint = ("normalise each pixel's d-vector (F.normalize(z, dim=1)), divide by the scale, "
            "then softmax over the H*W positions of each of the d maps")
    for s in (1.0, 0.1):
        _close("alignment_maps", f"scale {s}", _run("alignment_maps", fn, z, s),
               alignment_maps_from_z(z, s), hint)
    flat = torch.zeros(1, 2, 2, 2)  # a constant map: uniform attention 1/(H W)
    _close("alignment_maps", "constant input", _run("alignment_maps", fn, flat, 1.0),
           alignment_maps_from_z(flat, 1.0), "each map must sum to 1 over space")
    return _passed("alignment_maps", 3)
