"""``scd-lab demo``: the main job on the embedded dataset.

Trains BYOL, SCD-BYOL and LEWEL-BYOL (CPU tier preset) for a fixed time budget, then writes
a figure of the saliency maps across epochs beside the ground-truth masks and a results
table (kNN accuracy at step 0 and at the end, saliency AUROC / best IoU / polarity of each
method's map and of the channel-sum baseline, on held-out images).

A run that already finished in the output folder is reused, not retrained.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from .config import apply_overrides, get_preset
from .train import RunDir, Trainer, format_summary
from .viz.plots import default_map_name, plot_saliency_evolution


def _measure_speed(cfg, data, steps: int = 3) -> float:
    """Seconds per training step of ``cfg`` on this machine (after one warm-up step)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(apply_overrides(cfg, ["train.progress=false"]), Path(tmp) / "probe",
                     data=data)
        tr.method.train()
        tr.train_step(*tr.views(0), 0)
        t0 = time.perf_counter()
        for s in range(1, steps + 1):
            tr.train_step(*tr.views(s), s)
        return (time.perf_counter() - t0) / steps


def results_table(runs: dict[str, str]) -> str:
    """A Markdown table of the final figures of each run."""
    head = ("| method | map | kNN top-1 step 0 | kNN top-1 end | map AUROC step 0 | "
            "map AUROC end | best IoU end | polarity | channel-sum AUROC end |")
    lines = [head, "|" + "---|" * 9]
    for label, path in runs.items():
        s = RunDir(path).summary()
        name = default_map_name(s["method"])
        lines.append(
            f"| {label} | {name} | {s.get('knn_top1_init', float('nan')):.3f} | "
            f"{s.get('knn_top1', float('nan')):.3f} | "
            f"{s.get(name + '/auroc_init', float('nan')):.3f} | "
            f"{s.get(name + '/auroc', float('nan')):.3f} | "
            f"{s.get(name + '/best_iou', float('nan')):.3f} | {s.get(name + '/polarity', 0):+d} | "
            f"{s.get('channel_sum/auroc', float('nan')):.3f} |")
    return "\n".join(lines)


def run_demo(out: str = "runs/demo", budget_min: float = 10.0,
             methods=("byol", "scd-byol", "lewel-byol"), overrides=()) -> dict:
    """Train ``methods`` within ``budget_min`` minutes in total; write figure and table."""
    from .train.trainer import build_data

    out = Path(out)
    base = apply_overrides(get_preset("cpu"), list(overrides))
    d = base.data
    print(f"[demo] generating / loading the embedded dataset ({d.dataset}, {d.image_size} px)",
          flush=True)
    data = build_data(d)
    n_train = len(data[0])
    steps_per_epoch = n_train // base.train.batch_size
    todo = [m for m in methods if not (out / m / "summary.json").is_file()]
    plan = {m: apply_overrides(base, [f"method.name={m}"]) for m in todo}
    if plan:
        # every method gets the same number of epochs (a fair comparison); about 20% of the
        # budget goes to the monitors (kNN, saliency) and start-up
        sec = {m: _measure_speed(cfg, data) for m, cfg in plan.items()}
        steps = max(10, int(0.8 * budget_min * 60 / sum(sec.values())))
        if steps >= steps_per_epoch:  # whole epochs, so that every epoch is monitored
            steps -= steps % steps_per_epoch
        epochs = math.ceil(steps / steps_per_epoch)
        total = steps * sum(sec.values()) / 0.8 / 60
        print(f"[demo] budget {budget_min:.1f} min: {steps} steps ({steps / steps_per_epoch:.1f} "
              f"epochs of {steps_per_epoch} steps) for each of "
              + ", ".join(f"{m} ({s:.2f} s/step)" for m, s in sec.items())
              + f"; about {total:.1f} min in all. Shorten with --budget-min.", flush=True)
    for m in methods:
        if m in plan:
            cfg = apply_overrides(plan[m], [f"train.epochs={epochs}", f"train.max_steps={steps}"])
            print(format_summary(Trainer(cfg, out / m, data=data).fit()), flush=True)
        else:
            print(f"[demo] reusing the finished run {out / m}")
    runs = {m: str(out / m) for m in methods}
    fig = plot_saliency_evolution(runs)
    fig.savefig(out / "saliency_evolution.png", dpi=110)
    table = results_table(runs)
    (out / "results.md").write_text(table + "\n")
    print("\n" + table)
    print(f"\n[demo] figure: {out / 'saliency_evolution.png'}; runs: {out}/<method>; "
          "AUROC 0.5 = chance; polarity -1 = the map marks the background.")
    return {m: json.loads((out / m / "summary.json").read_text()) for m in methods}
