"""What the trainer adds over a bare loop (the cost issue's "at most 5%").

The bare loop is the trainer's step and nothing around it: its phases called in order
(``studies.bench.run_phases``: views, forward, backward, optimizer step, EMA + MoCo's enqueue,
the calls ``Trainer.train_step`` makes, with the schedule, in-step seeding and device-side
finiteness record inside them), no logging, no check. The trainer's side is ``Trainer.fit``
itself (those phases, a log record every ``train.log_every`` steps with its finiteness check,
callbacks; monitors and checkpoints off). Blocks of ``--steps`` steps alternate (ABAB..., the
first of each pair rotating), on two trainers built from the same config, and the ratio is
taken per pair: the median and its range over ``--pairs`` pairs.

    python benchmarks/trainer_overhead.py [--method scd-byol] [--steps 40] [--pairs 5]
        [--preset cpu] [--size 32] [--batch 64] [--device cpu]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from scd_lab.studies.bench import build_trainer, machine_description, run_phases


def bare_loop(tr, steps: int) -> float:
    """``steps`` steps of the trainer's phases, without ``fit``; seconds (synchronised at the
    end)."""
    tr.method.train()
    t0 = time.perf_counter()
    for s in range(steps):
        run_phases(tr, s)
    if tr.device.type == "cuda":
        torch.cuda.synchronize(tr.device)
    return time.perf_counter() - t0


def fit_block(tr, steps: int) -> float:
    """``Trainer.fit`` over ``steps`` steps (from step 0 each time); seconds."""
    t0 = time.perf_counter()
    tr.fit()
    if tr.device.type == "cuda":
        torch.cuda.synchronize(tr.device)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="scd-byol")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--device", default=None)
    a = ap.parse_args(argv)
    kw = dict(preset=a.preset, size=a.size, batch=a.batch,
              overrides=(f"train.max_steps={a.steps}", "train.log_every=10"))
    bare, fit = (build_trainer(a.method, device=a.device, **kw) for _ in range(2))
    bare_loop(bare, 2)  # warm-up of both
    fit_block(fit, a.steps)
    ratios, times = [], {"bare": [], "fit": []}
    for p in range(a.pairs):
        order = ("bare", "fit") if p % 2 == 0 else ("fit", "bare")
        got = {}
        for which in order:
            got[which] = (bare_loop(bare, a.steps) if which == "bare"
                          else fit_block(fit, a.steps))
            times[which].append(got[which])
        ratios.append(got["fit"] / got["bare"])
        print(f"pair {p}: bare {got['bare']:.2f} s, fit {got['fit']:.2f} s, "
              f"ratio {ratios[-1]:.3f}", flush=True)
    print(f"Machine: {machine_description(bare.device)}")
    print(f"{a.method}, preset {a.preset}, {a.size} px, batch {a.batch}, {a.steps} steps a block,"
          f" {a.pairs} pairs: fit / bare loop = {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}); per step: bare "
          f"{1e3 * statistics.median(times['bare']) / a.steps:.1f} ms, fit "
          f"{1e3 * statistics.median(times['fit']) / a.steps:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
