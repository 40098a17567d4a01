"""Notebook 02's function items: the EMA update, InfoNCE with a FIFO queue, weighted average
pooling (eq. 4), the semantic discrimination loss (eq. 5) and LEWEL's alignment maps. Each is
checked against the library on visible cases and on hidden ones the student copy never shows."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...losses import info_nce_loss, semantic_discrimination_loss
from ...methods.lewel import alignment_maps_from_z
from ...models import weighted_avg_pool
from .items import Case, Item, Mistake


def _randn(seed: int, *shapes):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(*s, generator=g) for s in shapes)


# --- the EMA update -------------------------------------------------------------------------

def _ema(target, online, m):
    for t, p in zip(target, online):
        t.mul_(m).add_(p, alpha=1.0 - m)


def _ema_case(label: str, seed: int, m: float) -> Case:
    def args():
        o1, o2, t1, t2 = _randn(seed, (3, 4), (5,), (3, 4), (5,))
        return [t1, t2], [o1, o2], m
    return Case(label, args, output=lambda fn, a: (fn(*a), a[0])[1])  # the updated target


def _ema_swapped(target, online, m):
    for t, p in zip(target, online):
        t.mul_(1.0 - m).add_(p, alpha=m)


def _ema_not_in_place(target, online, m):
    for t, p in zip(target, online):
        t = m * t + (1 - m) * p  # noqa: F841 - the mistake: a new tensor, the target unchanged


EMA = Item(
    "02-ema", "02", "function", 3, "the EMA update of the target network", name="ema_update",
    hints=("The target network is a slow average of the online one: at each step it keeps most "
           "of its own weights and takes a small share of the online weights. It is changed in "
           "place, so that the tensors the target network holds are the ones updated.",
           "xi <- m * xi + (1 - m) * theta, for each pair of tensors, written into xi itself "
           "(an in-place multiply and add); m = 1 keeps the target, m = 0 copies the online."),
    reference=_ema,
    visible=(_ema_case("m = 0.99", 2, 0.99), _ema_case("m = 1 (the target stays)", 2, 1.0)),
    hidden=(_ema_case("hidden: m = 0 (the target becomes the online)", 12, 0.0),
            _ema_case("hidden: m = 0.9, other tensors", 13, 0.9)),
    mistakes=(Mistake("m and 1 - m are swapped: m weighs the target, 1 - m the online", _ema_swapped),
              Mistake("the target is unchanged: the update made a new tensor instead of writing "
                      "into the target (update it in place)", _ema_not_in_place)))


# --- InfoNCE with a FIFO queue ---------------------------------------------------------------

def _nce_queue(q, k, queue, ptr, tau):
    loss = info_nce_loss(q, k, queue, tau)
    keys = F.normalize(k, dim=1)
    idx = (ptr + torch.arange(keys.shape[0])) % queue.shape[0]
    new = queue.clone()
    new[idx] = keys
    return loss, new, (ptr + keys.shape[0]) % queue.shape[0]


def _nce_unnormalised_keys(q, k, queue, ptr, tau):
    loss, new, p = _nce_queue(q, k, queue, ptr, tau)
    idx = (ptr + torch.arange(k.shape[0])) % queue.shape[0]
    new[idx] = k
    return loss, new, p


def _nce_tau_times(q, k, queue, ptr, tau):
    return (info_nce_loss(q, k, queue, 1.0 / tau), *_nce_queue(q, k, queue, ptr, tau)[1:])


def _nce_case(label: str, seed: int, b: int, n: int, ptr: int, tau: float = 0.2) -> Case:
    def args():
        q, k, queue = _randn(seed, (b, 8), (b, 8), (n, 8))
        return q, k, F.normalize(queue, dim=1), ptr, tau
    return Case(label, args)


NCE = Item(
    "02-nce-queue", "02", "function", 3, "InfoNCE with a FIFO queue", name="info_nce_with_queue",
    hints=("The positive key competes with the queue's keys in a classification over 1 + K "
           "candidates; similarities are cosines scaled by a temperature. After the loss, the "
           "batch's keys replace the oldest entries of the queue.",
           "logits = [q.k, q.n_1 ... q.n_K] / tau with q and k unit vectors, cross-entropy with "
           "the positive as class 0; the normalised keys go to rows ptr, ptr + 1, ... modulo K, "
           "and the pointer moves on by the batch size, modulo K."),
    reference=_nce_queue, forbidden=("info_nce_loss",),
    visible=(_nce_case("empty pointer", 3, 4, 10, 0),
             _nce_case("full queue: the push wraps around", 3, 4, 10, 8)),
    hidden=(_nce_case("hidden: a pointer that lands on the end", 14, 5, 10, 5, 0.07),
            _nce_case("hidden: batch of one", 15, 1, 6, 3, 0.5)),
    mistakes=(Mistake("the keys pushed into the queue are not normalised", _nce_unnormalised_keys),
              Mistake("the logits are multiplied by tau instead of divided", _nce_tau_times)))


# --- weighted average pooling (eq. 4) ----------------------------------------------------------

def _wap_case(label: str, seed: int, b: int, c: int, h: int, w: int, eps: float = 1e-6,
              zero: bool = False) -> Case:
    def args():
        f, wt = _randn(seed, (b, c, h, w), (b, h, w))
        return f, torch.zeros(b, h, w) if zero else wt.sigmoid(), eps
    return Case(label, args)


def _wap_no_norm(f, w, eps=1e-6):
    return (f * w[:, None]).sum(dim=(2, 3))


def _wap_eps_on_top(f, w, eps=1e-6):
    return ((f * w[:, None]).sum(dim=(2, 3)) + eps) / w.sum(dim=(1, 2))[:, None]


WAP = Item(
    "02-wap", "02", "function", 3, "weighted average pooling (eq. 4)", name="my_weighted_avg_pool",
    hints=("A weighted average of the feature vectors over the map's positions: each position "
           "counts as much as its weight, and the weights are divided out so that the result is "
           "an average, not a sum. A small eps keeps an all-zero map finite.",
           "h = sum_ij w_ij F[:, i, j] / (sum_ij w_ij + eps), for each image separately."),
    reference=weighted_avg_pool, forbidden=("weighted_avg_pool",),
    visible=(_wap_case("random map", 0, 3, 5, 4, 4),
             _wap_case("all-zero map", 0, 3, 5, 4, 4, zero=True)),
    hidden=(_wap_case("hidden: a non-square map, eps = 0.1", 16, 2, 3, 3, 5, 0.1),
            _wap_case("hidden: one image, zero map, eps = 1", 17, 1, 4, 2, 2, 1.0, zero=True)),
    mistakes=(Mistake("no normalisation: the weighted sum is not divided by the sum of the "
                      "weights", _wap_no_norm),
              Mistake("eps is added to the numerator, not the denominator (an all-zero map then "
                      "divides by zero)", _wap_eps_on_top)))


# --- the semantic discrimination loss (eq. 5) ------------------------------------------------

def _ld_case(label: str, seed: int, b: int, alpha: float) -> Case:
    return Case(label, lambda: (*_randn(seed, *[(b, 8)] * 4), alpha))


def _ld_boundary(label: str, alpha: float) -> Case:
    # fg embeddings equal, bg orthogonal: at alpha = 1 the fg hinge sits exactly at 0
    e = torch.eye(2)
    return Case(label, lambda: (e[:1], e[1:], e[:1], e[1:], alpha))


def _cos(a, b):
    return F.cosine_similarity(a, b)


def _ld_margin_on_bg(z1f, z1b, z2f, z2b, alpha):
    fg = F.relu(_cos(z1f, z2b) - _cos(z1f, z2f))
    return 0.5 * (fg + F.relu(_cos(z1b, z2f) - _cos(z1b, z2b) + alpha)).mean()


def _ld_no_half(*z):
    return 2 * semantic_discrimination_loss(*z)


def _ld_flipped(z1f, z1b, z2f, z2b, alpha):
    fg = F.relu(_cos(z1f, z2f) - _cos(z1f, z2b) + alpha)
    return 0.5 * (fg + F.relu(_cos(z1b, z2b) - _cos(z1b, z2f))).mean()


def _ld_abs(z1f, z1b, z2f, z2b, alpha):
    fg = (_cos(z1f, z2b) - _cos(z1f, z2f) + alpha).abs()
    return 0.5 * (fg + (_cos(z1b, z2f) - _cos(z1b, z2b)).abs()).mean()


LD = Item(
    "02-ld", "02", "function", 3, "the semantic discrimination loss (eq. 5)",
    name="semantic_discrimination",
    hints=("A triplet loss twice: the online foreground must agree more with the target "
           "foreground than with the target background (by a margin), and the online background "
           "more with the target background than with the target foreground (no margin). Each "
           "side is a hinge: zero once it holds.",
           "L_d = 1/2 * mean over the batch of [max(cos(z1_fg, z2_bg) - cos(z1_fg, z2_fg) + alpha, "
           "0) + max(cos(z1_bg, z2_fg) - cos(z1_bg, z2_bg), 0)]."),
    reference=semantic_discrimination_loss, forbidden=("semantic_discrimination_loss",),
    visible=(_ld_case("random, alpha = 0", 1, 6, 0.0), _ld_case("random, alpha = 1", 1, 6, 1.0),
             _ld_boundary("hinge boundary", 1.0)),
    hidden=(_ld_case("hidden: alpha = 0.3, batch of 9", 18, 9, 0.3),
            _ld_boundary("hidden: past the boundary, alpha = 0.5", 0.5)),
    mistakes=(Mistake("the margin alpha is on the background term; it belongs to the foreground "
                      "term", _ld_margin_on_bg),
              Mistake("the 1/2 in front of the two hinges is missing", _ld_no_half),
              Mistake("the sign is flipped: each hinge rewards agreeing with the wrong side",
                      _ld_flipped),
              Mistake("abs instead of a hinge: a satisfied side must give 0, not its distance",
                      _ld_abs)))


# --- LEWEL's alignment maps ------------------------------------------------------------------

def _am_case(label: str, seed: int, shape: tuple, scale: float, flat: bool = False) -> Case:
    return Case(label, lambda: (torch.zeros(*shape) if flat else _randn(seed, shape)[0], scale))


def _am_no_norm(z, scale=1.0):
    b, d, h, w = z.shape
    return (z / scale).flatten(2).softmax(-1).view(b, d, h, w)


def _am_channel_softmax(z, scale=1.0):
    return (F.normalize(z, dim=1) / scale).softmax(1)


ALIGN = Item(
    "02-align", "02", "function", 3, "LEWEL's alignment maps", name="alignment_maps",
    hints=("Each of the d projector channels, read at every pixel, is a map; the pixel's "
           "d-vector is made unit length first, and each map is turned into a distribution over "
           "the image's positions.",
           "A = softmax over the H*W positions of (z / ||z||_channels) / s, for each of the d maps "
           "(each map sums to 1 over space)."),
    reference=alignment_maps_from_z, forbidden=("alignment_maps_from_z",),
    visible=(_am_case("scale 1", 4, (2, 6, 3, 4), 1.0), _am_case("scale 0.1", 4, (2, 6, 3, 4), 0.1),
             _am_case("constant input", 4, (1, 2, 2, 2), 1.0, flat=True)),
    hidden=(_am_case("hidden: one pixel row, scale 0.5", 19, (1, 3, 1, 5), 0.5),
            _am_case("hidden: large values, scale 0.05", 20, (2, 4, 2, 2), 0.05)),
    mistakes=(Mistake("no normalisation over the channels before the softmax", _am_no_norm),
              Mistake("the softmax runs over the channels; it belongs over space (H*W)",
                      _am_channel_softmax)))

ITEMS = (EMA, NCE, WAP, LD, ALIGN)
