"""``scd-lab demo``: the main job on the embedded dataset.

Trains BYOL, SCD-BYOL and LEWEL-BYOL with the CPU-tier preset for a fixed plan (the preset's
6 epochs each, the same on every machine, so the same seed gives the same figures), then
writes a figure of the saliency maps across epochs beside the ground-truth masks and a results
table (kNN accuracy at step 0 and at the end, saliency AUROC / best IoU / polarity of each
method's map and of the channel-sum map of the same network, on held-out images).

A finished run in the output folder is reused; a stopped one (Ctrl-C, a closed laptop) is
resumed from its last checkpoint.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from ..config import apply_overrides, get_preset
from ..errors import UserError
from ..methods import default_map_name
from ..runs.build import build_data, build_run, ensure_run
from ..paths import runs_root
from ..rundir import RunDir
from ..tables import table_markdown
from ..train import format_summary
from ..viz.plots import plot_saliency_evolution

MONITOR_SHARE = 0.2  # about a fifth of a run goes to the monitors and start-up (measured)


def seconds_per_step(cfg, data, steps: int = 3) -> float:
    """Seconds per training step of ``cfg`` on this machine (after one warm-up step), for the
    time estimate only: the plan itself never depends on it."""
    tr = build_run(apply_overrides(cfg, ["train.progress=false"]), None, data=data)
    tr.method.train()
    tr.train_step(*tr.views(0), 0)
    t0 = time.perf_counter()
    for s in range(1, steps + 1):
        tr.train_step(*tr.views(s), s)
    return (time.perf_counter() - t0) / steps


def results_table(runs: dict[str, str]) -> str:
    """A Markdown table of the final figures of each run."""
    nan = float("nan")
    rows = []
    for label, path in runs.items():
        s = RunDir(path).summary()
        name = default_map_name(s["method"])
        rows.append({"method": label, "map": name,
                     "kNN top-1 step 0": f"{s.get('knn_top1_init', nan):.3f}",
                     "kNN top-1 end": f"{s.get('knn_top1', nan):.3f}",
                     "map AUROC step 0": f"{s.get(name + '/auroc_init', nan):.3f}",
                     "map AUROC end": f"{s.get(name + '/auroc', nan):.3f}",
                     "best IoU end": f"{s.get(name + '/best_iou', nan):.3f}",
                     "polarity": f"{s.get(name + '/polarity', 0):+d}",
                     "channel-sum AUROC end": f"{s.get('channel_sum/auroc', nan):.3f}"})
    return table_markdown(rows)


def run_demo(out: str | None = None, epochs: int | None = None, budget_min: float | None = None,
             methods=("byol", "scd-byol", "lewel-byol"), overrides=()) -> dict:
    """Train ``methods`` for ``epochs`` each (default: the ``cpu`` preset's), write the figure
    and the table. ``budget_min`` lowers the epochs so that the estimate fits in it.

    Raises:
        UserError: ``budget_min`` is not a positive number of minutes (nothing is trained).
    """
    if budget_min is not None and not budget_min > 0:  # also NaN
        raise UserError(f"--budget-min {budget_min:g}: give a positive number of minutes (the "
                        "demo lowers its epochs to fit them), or leave it out")
    out = Path(out) if out else runs_root() / "demo"
    base = apply_overrides(get_preset("cpu"), list(overrides))
    if epochs is not None:
        base = apply_overrides(base, [f"train.epochs={epochs}"])
    d = base.data
    print(f"[demo] generating / loading the embedded dataset ({d.dataset}, {d.image_size} px)",
          flush=True)
    data = build_data(d)
    spe = len(data[0]) // base.train.batch_size
    todo = [m for m in methods if not RunDir(out / m).is_finished()]
    plan = {m: apply_overrides(base, [f"method.name={m}"]) for m in methods}
    epochs = base.train.epochs
    if todo:
        sec = {m: seconds_per_step(plan[m], data) for m in todo}
        per_epoch_min = spe * sum(sec.values()) / (1 - MONITOR_SHARE) / 60
        if budget_min is not None and epochs * per_epoch_min > budget_min:
            epochs = max(1, math.floor(budget_min / per_epoch_min))
            plan = {m: apply_overrides(c, [f"train.epochs={epochs}"]) for m, c in plan.items()}
        print(f"[demo] plan: {epochs} epochs of {spe} steps for each of {', '.join(methods)}; "
              f"on this machine about {epochs * per_epoch_min:.1f} min for "
              f"{', '.join(todo)} (measured " + ", ".join(f"{m} {s:.2f} s/step" for m, s in
                                                           sec.items())
              + "). Shorten with --epochs N or --budget-min M.", flush=True)
    for m in methods:
        path = out / m
        if RunDir(path).is_finished():
            print(f"[demo] reusing the finished run {path}")
        elif RunDir(path).exists():
            print(f"[demo] resuming the stopped run {path}", flush=True)
        print(format_summary(ensure_run(plan[m], path, data=data)), flush=True)
    runs = {m: str(out / m) for m in methods}
    fig = plot_saliency_evolution(runs)
    fig.savefig(out / "saliency_evolution.png", dpi=110)
    table = results_table(runs)
    (out / "results.md").write_text(table)
    print("\n" + table, end="")
    print(f"\n[demo] figure: {out / 'saliency_evolution.png'}; runs: {out}/<method>; "
          "AUROC 0.5 = chance; polarity -1 = the map marks the background.")
    return {m: RunDir(out / m).summary() for m in methods}
