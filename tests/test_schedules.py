"""The training loop's schedules (``scd_lab.schedules``): the learning rate's warm-up and
cosine decay, and the EMA momentum, against hand-computed values."""
from __future__ import annotations

import math

import pytest

from scd_lab.schedules import cosine_lr, momentum_at


# --------------------------------------------------------------------------- cosine_lr
# Implemented rule (read from the code):
#   step < W:  peak * (step + 1) / W
#   else:      peak * 0.5 * (1 + cos(pi * min(1, (step - W) / max(1, T - W))))

def test_warmup_is_linear_and_reaches_peak():
    T, W, peak = 100, 10, 0.8
    assert cosine_lr(0, T, peak, W) == pytest.approx(0.08)  # 0.8 * 1 / 10
    assert cosine_lr(4, T, peak, W) == pytest.approx(0.40)  # 0.8 * 5 / 10 (mid warm-up)
    assert cosine_lr(7, T, peak, W) == pytest.approx(0.64)  # 0.8 * 8 / 10
    assert cosine_lr(9, T, peak, W) == pytest.approx(0.80)  # last warm-up step = peak
    assert cosine_lr(10, T, peak, W) == pytest.approx(0.80)  # cosine starts at progress 0
    warm = [cosine_lr(s, T, peak, W) for s in range(W)]
    assert all(b > a for a, b in zip(warm, warm[1:]))
    assert all(v <= peak + 1e-12 for v in warm)


def test_cosine_midpoint_and_end():
    T, W, peak = 100, 10, 0.8
    # Midpoint of the decay: progress (55 - 10) / 90 = 0.5 -> 0.8 * 0.5 * (1 + cos(pi/2)) = 0.4.
    assert cosine_lr(55, T, peak, W) == pytest.approx(0.4)
    # Quarter (T = 110): progress (35 - 10) / 100 = 0.25 -> 0.8 * 0.5 * (1 + sqrt(2)/2) = 0.68284
    assert cosine_lr(35, 110, peak, W) == pytest.approx(0.4 * (1 + math.sqrt(2) / 2))
    assert cosine_lr(35, 110, peak, W) == pytest.approx(0.682843, rel=1e-5)
    # Last step of training (T - 1 = 99): progress 89/90
    # -> 0.8 * 0.5 * (1 - cos(pi / 90)) = 0.8 * sin^2(pi / 180) = 2.4367e-4.
    assert cosine_lr(99, T, peak, W) == pytest.approx(0.8 * math.sin(math.pi / 180) ** 2)
    assert cosine_lr(99, T, peak, W) == pytest.approx(2.43669e-4, rel=1e-4)
    # At T and beyond: exactly 0 (progress is clamped to 1).
    assert cosine_lr(100, T, peak, W) == pytest.approx(0.0, abs=1e-15)
    assert cosine_lr(150, T, peak, W) == pytest.approx(0.0, abs=1e-15)


def test_no_warmup():
    T, peak = 10, 0.4
    assert cosine_lr(0, T, peak) == pytest.approx(0.4)
    assert cosine_lr(0, T, peak, 0) == pytest.approx(0.4)
    assert cosine_lr(5, T, peak) == pytest.approx(0.2)  # 0.4 * 0.5 * (1 + cos(pi/2))
    # step 9: progress 0.9 -> 0.4 * 0.5 * (1 + cos(0.9 pi)) = 0.4 * sin^2(0.05 pi) = 0.0097887
    assert cosine_lr(9, T, peak) == pytest.approx(0.4 * math.sin(0.05 * math.pi) ** 2)
    assert cosine_lr(9, T, peak) == pytest.approx(0.0097887, rel=1e-4)
    assert cosine_lr(10, T, peak) == pytest.approx(0.0, abs=1e-15)


def test_monotonic_decay_after_warmup_and_linear_in_peak():
    T, W = 50, 7
    values = [cosine_lr(s, T, 1.0, W) for s in range(W, T + 1)]
    assert all(b < a for a, b in zip(values, values[1:]))
    for s in (0, 3, 6, 7, 20, 49):
        assert cosine_lr(s, T, 3.0, W) == pytest.approx(3.0 * cosine_lr(s, T, 1.0, W))


# --------------------------------------------------------------------------- momentum_at
@pytest.mark.parametrize("m0", [0.99, 0.996])
def test_cosine_momentum_schedule(m0):
    total = 100
    values = [momentum_at(k, total, m0, "cosine") for k in range(total + 1)]
    assert values[0] == pytest.approx(m0)
    assert values[-1] == pytest.approx(1.0)
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert values[50] == pytest.approx(1 - (1 - m0) / 2)  # halfway: cos(pi/2) = 0
    assert momentum_at(total + 10, total, m0, "cosine") == pytest.approx(1.0)  # clamped


def test_constant_momentum_schedule():
    assert momentum_at(0, 10, 0.999, "constant") == 0.999
    assert momentum_at(10, 10, 0.999, "constant") == 0.999


def test_cosine_once_per_epoch_as_lewel_and_moco():
    # LEWEL main.py:264-265 + utils/lr_schedule.py:17-22: after the warm-up the lr is set at each
    # epoch's start to peak * 0.5 (1 + cos(pi (e - w) / (E - w))). E = 4 epochs of 10 steps,
    # w = 1 warm-up epoch, peak 2: epochs 1, 2, 3 get 2, 1 + cos(pi/3) = 1.5, 1 + cos(2pi/3) = 0.5.
    lrs = [cosine_lr(k, 40, 2.0, warmup_steps=10, every=10) for k in range(40)]
    assert lrs[:10] == pytest.approx([2.0 * (k + 1) / 10 for k in range(10)])  # per step
    assert lrs[10:20] == pytest.approx([2.0] * 10)
    assert lrs[20:30] == pytest.approx([1.5] * 10)
    assert lrs[30:40] == pytest.approx([0.5] * 10)
    assert cosine_lr(25, 40, 2.0, 10, every=1) != pytest.approx(1.5)  # per step: it moves
