"""The note that marks a smoke run's numbers as meaningless (``smoke_note``): printed under a
run's summary (``format_summary``) and the challenge's leaderboard."""
from __future__ import annotations

SMOKE_STEPS = 100  # fewer optimizer steps than this: a smoke run (notebooks' SMOKE = True: 4-16)


def smoke_note(steps: int | None) -> str | None:
    """The line printed beside a run's numbers when it trained fewer than ``SMOKE_STEPS`` steps
    (None otherwise): such a run tests that the code runs, its numbers measure nothing."""
    if steps is None or steps >= SMOKE_STEPS:
        return None
    return (f"NOTE: a smoke run ({steps} steps, fewer than {SMOKE_STEPS}): it checks that the code "
            "runs; its numbers mean nothing (too few steps to learn: kNN and AUROC move by noise "
            "and may fall)")
