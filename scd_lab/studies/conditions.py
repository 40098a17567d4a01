"""When does SCD's saliency map find the object? A sweep over conditions, with the kit's trainer.

Each variant is a preset plus overrides; every run writes a normal run directory under ``out``
and the sweep gives one Markdown table: kNN top-1 (step 0 -> end), the AUROC of the method's
map on held-out images (step 0 -> most decided epoch -> end, with polarity), the per-image
AUROC with the polarity chosen per image (a map that segments objects but flips between images
shows here, not in the pooled AUROC), its mean and spatial spread (collapse), the
positional-shortcut ratio, and the channel-sum AUROC of the same network at the end and of the
untrained one at step 0. ``scd-lab study conditions`` runs it.
"""
from __future__ import annotations

import time
from pathlib import Path

from ..config import apply_overrides, get_preset
from ..methods import default_map_name
from ..rundir import RunDir
from ..runs.build import build_data, ensure_run
from ..tables import table_markdown

DEFAULT_VARIANTS = ["base:", "reflect:backbone.padding_mode=reflect"]
COLUMNS = ("variant", "map", "kNN top-1", "map AUROC: step 0 -> most decided -> end",
           "per-image AUROC, polarity per image: step 0 -> end", "best IoU end", "map mean",
           "map spatial std", "shortcut ratio", "channel-sum AUROC end",
           "channel-sum AUROC untrained", "wall s")


def condition_row(label: str, run) -> dict:
    """The table's row (column -> text) for the finished run in ``run``."""
    rd = RunDir(run)
    sal, knn = rd.metrics("saliency"), rd.metrics("knn")
    name = default_map_name(rd.config().method.name)
    au = [r[f"{name}/auroc"] for r in sal]
    best = max(range(len(au)), key=lambda i: abs(au[i] - 0.5))
    last = sal[-1]
    key = f"{name}/auroc_per_image_unsigned"  # logged by runs made after it was added
    return {
        "variant": label, "map": name,
        "kNN top-1": f"{knn[0]['knn_top1']:.3f} -> {knn[-1]['knn_top1']:.3f}",
        "map AUROC: step 0 -> most decided -> end":
            f"{au[0]:.3f} -> {au[best]:.3f} (ep {sal[best]['epoch']}) -> {au[-1]:.3f}",
        "per-image AUROC, polarity per image: step 0 -> end":
            f"{sal[0][key]:.3f} -> {last[key]:.3f}" if key in last and key in sal[0] else "-",
        "best IoU end": f"{last[f'{name}/best_iou']:.3f}",
        "map mean": f"{last[f'{name}/mean']:.2f}",
        "map spatial std": f"{last[f'{name}/spatial_std']:.3f}",
        "shortcut ratio":
            f"{last[f'{name}/mean_map_std'] / max(last[f'{name}/spatial_std'], 1e-9):.2f}",
        "channel-sum AUROC end": f"{last['channel_sum/auroc']:.3f}",
        "channel-sum AUROC untrained": f"{sal[0]['channel_sum/auroc']:.3f}",
        "wall s": f"{rd.summary()['wall_s']:.0f}",
    }


def run_conditions(out, preset: str = "cpu", common=(), variants=None, say=print) -> str:
    """Train each variant (``LABEL:key=value,key=value``) under ``out`` unless it is finished,
    write ``out/results.md`` and return the table. Every variant's config is checked before any
    training (a bad key or value raises ``ConfigError``, one line); a variant that fails while
    training is reported through ``say`` and left out, and the others go on."""
    out = Path(out)
    plans = []  # every variant's config first: a bad override is one line before any training
    for spec in variants or DEFAULT_VARIANTS:
        label, _, sets = spec.partition(":")
        plans.append((label, apply_overrides(get_preset(preset),
                                             list(common) + [s for s in sets.split(",") if s])))
    rows, cache = [], {}
    for label, cfg in plans:
        key = repr(cfg.data)  # runs with the same data settings share one generated dataset
        if key not in cache:
            cache[key] = build_data(cfg.data)
        run = out / label
        if not RunDir(run).is_finished():
            t0 = time.time()
            try:
                ensure_run(apply_overrides(cfg, ["train.progress=false"]), run, data=cache[key])
            except Exception as exc:  # report and go on with the next variant
                say(f"[{label}] failed: {type(exc).__name__}: {exc}")
                continue
            say(f"[{label}] {time.time() - t0:.0f} s")
        rows.append(condition_row(label, run))
        say(table_markdown(rows[-1:]).splitlines()[-1])
    table = table_markdown(rows, COLUMNS)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(table)
    return table
