"""``scd-lab sweep``: SCD's margin α, its weight λ and its two hinges, as a resumable grid.

The paper sweeps α from 0 to 1.4 (Fig. 3), λ over {0, 0.1, 0.5, 1, 2} (Table 4) and switches
the foreground and background terms of eq. 5 off one at a time (Table 3). Here each *cell* of
a grid is one setting, trained end to end once per seed by ``ensure_run`` into
``ROOT/GRID/CELL/seedS``: a finished run is read back, a stopped one resumed, so the grid can
be stopped and restarted (or run in the background) without losing work. The table gives, per
cell, the mean over seeds ± its standard error of the held-out kNN top-1, the map's pooled
AUROC (signed: below 0.5 means the map is inverted) and its per-image unsigned AUROC.

    scd-lab sweep alpha lambda terms --seeds 0,1,2 --plot sweep.png   # the CPU tier (TIER)
    scd-lab sweep terms --seeds 0 --set train.epochs=1 --out runs/sweep-quick  # another tier,
                                                                   # another folder
"""
from __future__ import annotations

import math
from pathlib import Path

from ..config import Config, apply_overrides, get_preset
from ..rundir import RunDir
from ..tables import fmt_mean_se, mean_se, table_markdown
from ..runs.build import ensure_run
from ..paths import runs_root

# name -> [(cell label, config overrides)]; the paper's default (α = 1, λ = 0.5, both terms)
# is a cell of every grid, so each grid reads on its own; it has no overrides, and its runs
# are shared by the three grids (one folder, ROOT/default).
GRIDS: dict[str, list[tuple[str, list[str]]]] = {
    "alpha": [(f"alpha={a:g}", [] if a == 1.0 else [f"method.alpha={a}"])
              for a in (0.0, 0.2, 0.6, 1.0, 1.4)],
    "lambda": [(f"lambda={lam:g}", [] if lam == 0.5 else [f"method.lam={lam}"])
               for lam in (0.0, 0.1, 0.5, 1.0, 2.0)],
    "terms": [("fg+bg", []), ("fg only", ["method.bg_term=false"]),
              ("bg only", ["method.fg_term=false"])],
}

# The CPU tier of the sweep: the `cpu` preset's SCD-BYOL on 2,000 generated images for
# 6 epochs (186 steps of batch 64), kNN and the map measured on the last epoch. (At 3 epochs,
# 93 steps, L_d never left its plateau at α/2, where fg and bg embeddings are alike and both
# hinges are active for every α > 0: runs with α = 0.6, 1 and 1.4 were identical.)
TIER = ["method.name=scd-byol", "data.num_train=2000", "train.epochs=6",
        "train.knn_bank_size=2000", "train.progress=false"]

METRICS = {"knn": "knn_top1", "auroc": "scd_fg/auroc",
           "per_image": "scd_fg/auroc_per_image_unsigned", "map_mean": "scd_fg/mean"}


def base_config(extra: list[str] | None = None) -> Config:
    """The sweep's CPU tier with ``extra`` overrides on top."""
    return apply_overrides(get_preset("cpu"), TIER + list(extra or []))


def cell_dir(root, grid: str, label: str, seed: int) -> Path:
    """ROOT/GRID/CELL/seedS; the default cell (no overrides) is ROOT/default/seedS."""
    if not dict(GRIDS[grid])[label]:
        return Path(root) / "default" / f"seed{seed}"
    safe = label.replace(" ", "_").replace("+", "_and_").replace("=", "")
    return Path(root) / grid / safe / f"seed{seed}"


def run_grid(grid: str, seeds=(0, 1, 2), root=None, base: Config | None = None,
             cells: list[str] | None = None, log=print) -> list[dict]:
    """Train (or read back) every cell × seed of ``grid``; one row per run.

    cells: labels to keep (default all). Each row: grid, cell, seed, the METRICS and the
    run's folder.
    """
    if grid not in GRIDS:
        raise KeyError(f"unknown grid {grid!r}; one of {sorted(GRIDS)}")
    root = Path(root) if root is not None else runs_root() / "sweep"
    base = base if base is not None else base_config()
    rows = []
    for label, overrides in GRIDS[grid]:
        if cells is not None and label not in cells:
            continue
        for seed in seeds:
            out = cell_dir(root, grid, label, seed)
            done = RunDir(out).is_finished()
            if log:
                log(f"[sweep] {grid} {label} seed {seed}: {'read back' if done else 'training'}"
                    f" ({out})")
            summary = ensure_run(apply_overrides(base, overrides + [f"train.seed={seed}"]), out)
            rows.append({"grid": grid, "cell": label, "seed": seed, "dir": str(out),
                         **{k: summary.get(key) for k, key in METRICS.items()}})
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """One row per cell, in grid order: n seeds and mean/se of each metric."""
    out: dict[str, dict] = {}
    for r in rows:
        out.setdefault(r["cell"], {"cell": r["cell"], "rows": []})["rows"].append(r)
    table = []
    for cell in out.values():
        entry = {"cell": cell["cell"], "n": len(cell["rows"])}
        for k in METRICS:
            entry[k], entry[k + "_se"], _ = mean_se([r[k] for r in cell["rows"]])
        table.append(entry)
    return table


def summary_markdown(summary: list[dict]) -> str:
    """The Markdown table of ``summarise``'s rows: mean ± se over seeds."""
    names = {"knn": "kNN top-1", "auroc": "map AUROC (signed)",
             "per_image": "per image, unsigned", "map_mean": "map mean"}
    return table_markdown([{"cell": e["cell"], "seeds": str(e["n"]),
                            **{names[k]: fmt_mean_se(e[k], e[k + "_se"]) for k in METRICS}}
                           for e in summary], ["cell", "seeds", *names.values()])


def within_noise(summary: list[dict], metric: str = "knn", z: float = 2.0) -> list[str]:
    """Plain-language reading: which pairs of cells differ by more than z combined se."""
    says = []
    for i, a in enumerate(summary):
        for b in summary[i + 1:]:
            sa, sb = a[metric + "_se"], b[metric + "_se"]
            if any(math.isnan(x) for x in (a[metric], b[metric], sa, sb)):
                continue
            diff, se = b[metric] - a[metric], math.hypot(sa, sb)
            if se == 0:
                continue  # identical seeds: nothing to compare the difference with
            if abs(diff) > z * se:
                says.append(f"{b['cell']} vs {a['cell']}: {diff:+.3f} ({abs(diff) / se:.1f} se)")
    return says
