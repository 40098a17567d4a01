"""Schedules of the training loop, one of each: the learning rate's warm-up and cosine decay
(``cosine_lr``) and the EMA momentum of a target network (``momentum_at``)."""
from __future__ import annotations

import math


def cosine_lr(step: int, total_steps: int, peak: float, warmup_steps: int = 0,
              every: int = 1) -> float:
    """Linear warm-up to ``peak`` over ``warmup_steps`` (step k gets peak (k + 1) / warm-up,
    LEWEL ``main.py:331-334``), then cosine decay towards 0 at ``total_steps``.

    ``every`` > 1 holds the cosine for blocks of ``every`` steps, each at its value on the
    block's first step: ``every`` = steps per epoch is LEWEL's and MoCo's schedule, set once
    per epoch (LEWEL ``main.py:264-265`` with ``utils/lr_schedule.py:17-22``: progress
    (epoch - warm-up epochs) / (epochs - warm-up epochs)); ``every`` = 1 moves it every step.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    if every > 1:
        step = max(step // every * every, warmup_steps)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def momentum_at(step: int, total_steps: int, base: float, schedule: str) -> float:
    """EMA momentum at ``step``: constant, or BYOL's cosine schedule
    m_k = 1 - (1 - m0) (cos(pi k / K) + 1) / 2, which reaches 1.0 at k = K."""
    if schedule == "constant":
        return base
    k = min(max(step, 0), total_steps)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * k / max(total_steps, 1)) + 1.0) / 2.0
