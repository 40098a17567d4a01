"""glibc malloc thresholds and CPU training speed, side by side.

The allocator's settings are per process, so each variant runs in its own subprocess, and the
variants are interleaved (A B C, B C A, ...) so that load from other jobs hits them alike:

  default   glibc's defaults (``SCD_LAB_MALLOC=0``, no ``MALLOC_*`` variables);
  env       ``MALLOC_*_`` variables of ``scd_lab._malloc.SETTINGS`` set before the start;
  tune      ``scd_lab._malloc.tune_malloc()`` called first thing in the process (what the kit's
            commands do).

Each child trains ``--steps`` steps of ``--method`` (the cpu preset, 32 px views, batch 64,
after 2 warm-up steps) and reports its median step time.

    python benchmarks/malloc_ab.py [--reps 3] [--steps 8] [--method scd-byol]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, statistics, sys, time
if sys.argv[1] == "tune":
    from scd_lab._malloc import tune_malloc
    tune_malloc()
from scd_lab.studies.bench import build_trainer
tr = build_trainer(sys.argv[2], size=32, batch=64)
times, faults = [], 0
for s in range(2 + int(sys.argv[3])):
    if s == 2:
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    tr.train_step(*tr.views(s), s)
    times.append(time.perf_counter() - t0)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / int(sys.argv[3])
print("RESULT", json.dumps({"median_s": statistics.median(times[2:]), "faults": faults}))
"""


def child_env(variant: str) -> dict:
    from scd_lab._malloc import SETTINGS
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["SCD_LAB_MALLOC"] = "0" if variant == "default" else "1"
    if variant == "env":
        env.update({k: str(v) for k, (_, v) in SETTINGS.items()})
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--method", default="scd-byol")
    ap.add_argument("--variants", default="default,env,tune")
    args = ap.parse_args()
    variants = args.variants.split(",")
    res = {v: [] for v in variants}
    faults = {v: [] for v in variants}
    for r in range(args.reps):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for v in order:
            out = subprocess.run([sys.executable, "-c", CHILD, v, args.method, str(args.steps)],
                                 env=child_env(v), capture_output=True, text=True, check=True)
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
            got = json.loads(line[7:])
            res[v].append(got["median_s"])
            faults[v].append(got["faults"])
            print(f"rep {r + 1} {v}: {1e3 * res[v][-1]:.0f} ms/step, "
                  f"{faults[v][-1]:.0f} minor page faults/step", flush=True)
    base = res[variants[0]]
    print("\n| variant | median ms/step over reps | per-rep ms | speed-up vs "
          f"{variants[0]} (paired, median) | minor page faults/step |\n|---|---|---|---|---|")
    for v in variants:
        sp = statistics.median(b / x for b, x in zip(base, res[v]))
        print(f"| {v} | {1e3 * statistics.median(res[v]):.0f} | "
              f"{', '.join(f'{1e3 * x:.0f}' for x in res[v])} | {sp:.2f}x | "
              f"{statistics.median(faults[v]):.0f} |")


if __name__ == "__main__":
    main()
