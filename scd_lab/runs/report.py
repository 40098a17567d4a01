"""One table (Markdown and CSV) and the training curves of several runs: ``scd-lab eval report``.

    rows = report_table(["runs/byol", "runs/scd-byol"])      # list of dicts, one per run
    write_table(rows, "out/report")                          # out/report.md, out/report.csv
    plot_curves(["runs/byol", "runs/scd-byol"], "out/report_curves.png")   # seaborn
    paired_table(["runs/byol", "runs/scd-byol"])   # --paired: differences, bootstrap intervals

Each figure comes from ``RUN/eval/*.json`` when an evaluation wrote it, else it is computed
now (and stored there) unless ``compute=False``, in which case the last monitor records of
``metrics.jsonl`` are used where they exist (kNN, AUROC, best IoU) and the rest stays empty.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..config import base_method, plugin, resolve, to_dict
from ..errors import RunError
from ..eval.paired import RESAMPLES, paired_bootstrap
from ..eval.saliency_metrics import minmax_normalize, upsample_maps
from ..rundir import RunDir
from ..tables import table_csv, table_markdown
from .build import config_differences
from .load import EvalError, as_run
from .protocols import knn_eval, linear_eval, progress_bar
from .saliency import evaluate_saliency, saliency_maps
from ..methods import MAP_ORDER, default_map_name, method_kwargs, order_maps
from .scoring import REPORT_FIGURES, TITLES, last_recorded, last_value, per_image_auroc

# the map columns: (figure, its title); a map's column is "{map} {title}"
MAP_COLUMNS = tuple((k, TITLES[k]) for k in REPORT_FIGURES)


def _labels(run_dirs) -> list[str]:
    """Folder names, or longer paths where two runs share a name."""
    paths = [Path(p) for p in run_dirs]
    names = [p.name for p in paths]
    return [str(p) if names.count(p.name) > 1 else p.name for p in paths]


def _read(rd: RunDir, name: str):
    """``RUN/eval/{name}.json`` (``summary.json`` for "summary"), or None when it is missing
    or torn."""
    try:
        if name == "summary":
            return rd.summary() if rd.is_finished() else None
        return rd.read_eval(name)
    except json.JSONDecodeError:
        return None


def run_row(run_dir, label: str | None = None, compute: bool = True,
            progress: bool = False) -> dict:
    """The report's figures of one run (see module docstring); keys are column names."""
    rd = RunDir(run_dir)
    cfg = rd.config()  # RunError when there is no run
    summary = _read(rd, "summary") or {}
    records = rd.metrics()
    loaded = {}

    def run():
        if "s" not in loaded:
            loaded["s"] = as_run(rd.path)
        return loaded["s"]

    d = cfg.data
    epochs = summary.get("epochs", last_value(records, "epoch"))
    row = {"run": label or rd.path.name, "method": cfg.method.name,
           "data": f"{d.dataset} {d.image_size}px", "epochs": epochs}
    # kNN
    knn = _read(rd, "knn")
    if knn is None and compute:
        knn = knn_eval(run(), progress=progress, save=True)
    if knn is None:
        recs = [r for r in records if r.get("kind") == "knn"]
        knn = {"knn_top1_k200": last_value(recs, "knn_top1_k200")}
        if cfg.train.knn_k == 20:
            knn["knn_top1_k20"] = last_value(recs, "knn_top1")
    row["kNN k=20"] = knn.get("knn_top1_k20")
    row["kNN k=200"] = knn.get("knn_top1_k200")
    # linear probes
    for kind in ("gap", "fg"):
        lin = _read(rd, f"linear_{kind}")
        if lin is None and compute and (kind == "gap" or cfg.method.name.startswith("scd")):
            lin = linear_eval(run(), kind, progress=progress)
        row[f"linear {kind}"] = None if lin is None else lin.get("test_acc")
    # saliency
    sal = _read(rd, "saliency")
    if sal is None and compute:
        try:
            sal = evaluate_saliency(run(), progress=progress)
        except EvalError:  # no masks in this run's data
            sal = None
    if sal is not None:
        maps = sal["metrics"]
    else:  # the saliency monitor's last figures (no pointing game)
        maps = last_recorded([r for r in records if r.get("kind") == "saliency"])
    for name, figs in maps.items():
        for key, title in MAP_COLUMNS:
            row[f"{name} {title}"] = figs.get(key)
    # cost
    wall, ep = summary.get("wall_s"), summary.get("epochs")
    row["s/epoch"] = wall / ep if wall and ep else None
    mem = [r["max_mem_gb"] for r in records if isinstance(r.get("max_mem_gb"), (int, float))]
    row["peak mem GB"] = max(mem) if mem else None
    return row


def report_table(run_dirs, compute: bool = True, progress: bool = False) -> list[dict]:
    """One row per run (``run_row``), every row with the same columns in the same order."""
    if not run_dirs:
        raise EvalError("give at least one run directory")
    for p in run_dirs:
        if not RunDir(p).exists():
            raise RunError(f"{str(p)!r} holds no run (no config.yaml); pass run directories "
                           "written by `scd-lab train` or the demo")
    rows = [run_row(p, label, compute, progress) for p, label in zip(run_dirs, _labels(run_dirs))]
    return _aligned(rows)


def _aligned(rows: list[dict]) -> list[dict]:
    head = ["run", "method", "data", "epochs", "kNN k=20", "kNN k=200", "linear gap",
            "linear fg"]
    maps = {k[:-len(t) - 1] for r in rows for k in r for _, t in MAP_COLUMNS
            if k.endswith(" " + t)}
    order = order_maps(maps)
    cols = head + [f"{m} {t}" for m in order for _, t in MAP_COLUMNS] + ["s/epoch",
                                                                          "peak mem GB"]
    return [{c: r.get(c) for c in cols} for r in rows]


def write_table(rows: list[dict], stem) -> tuple[Path, Path]:
    """``stem.md`` and ``stem.csv`` of rows (dicts with the same keys)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    md, cs = stem.with_suffix(".md"), stem.with_suffix(".csv")
    md.write_text(table_markdown(rows))
    cs.write_text(table_csv(rows))
    return md, cs


def curves(run_dirs) -> tuple[list[dict], list[dict]]:
    """Long-form records of the monitors: kNN ({run, epoch, k, top1}) and map AUROC ({run,
    epoch, map, auroc}), from each run's ``metrics.jsonl``."""
    knn, sal = [], []
    for path, label in zip(run_dirs, _labels(run_dirs)):
        for r in RunDir(path).metrics():
            if r.get("kind") == "knn":
                for key, k in (("knn_top1", "k=20"), ("knn_top1_k200", "k=200")):
                    if key in r:
                        knn.append({"run": label, "epoch": r["epoch"], "k": k, "top1": r[key]})
            elif r.get("kind") == "saliency":
                for key, v in r.items():
                    if key.endswith("/auroc"):
                        sal.append({"run": label, "epoch": r["epoch"],
                                    "map": key.split("/")[0], "auroc": v})
    return knn, sal


def plot_curves(run_dirs, out) -> Path:
    """kNN top-1 and every map's AUROC against epoch, one line per run (seaborn), as PNG.

    Raises:
        ImportError: seaborn (and pandas) not installed (the dev / notebooks extras).
    """
    import pandas as pd
    import seaborn as sns
    from matplotlib.figure import Figure  # no pyplot: works headless and in notebooks
    knn, sal = curves(run_dirs)
    fig = Figure(figsize=(12, 4.2))
    axes = fig.subplots(1, 2)
    if knn:
        sns.lineplot(pd.DataFrame(knn), x="epoch", y="top1", hue="run", style="k",
                     marker="o", ax=axes[0])
    axes[0].set(title="kNN top-1 (held-out)", ylabel="top-1")
    if sal:
        sns.lineplot(pd.DataFrame(sal), x="epoch", y="auroc", hue="run", style="map",
                     marker="o", ax=axes[1])
        axes[1].axhline(0.5, color="grey", lw=0.8, ls=":")
    axes[1].set(title="map AUROC against masks (0.5 = chance)", ylabel="AUROC")
    for ax in axes:
        if ax.get_legend() is not None:
            ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def saliency_rows(result: dict) -> list[dict]:
    """One row per map of an ``evaluate_saliency`` result (map, then its figures)."""
    metrics = result["metrics"]
    return [{"map": name, "images": result["num_images"], **metrics[name]}
            for name in order_maps(metrics)]


def per_image_rows(result: dict, names: list[str] | None = None) -> list[dict]:
    """One row per image: its name (or index) and each map's own AUROC."""
    per = result["per_image_auroc"]
    n = result["num_images"]
    names = names or [str(i) for i in range(n)]
    return [{"image": names[i], **{f"{m} AUROC": float(v[i]) for m, v in per.items()}}
            for i in range(n)]


def saliency_figures(images, masks, maps: dict, out_dir, names: list[str] | None = None,
                     limit: int | None = None, per_image: dict | None = None,
                     progress: bool = False) -> list[Path]:
    """One PNG per image: the image, its mask, then each map (upsampled bilinearly to the
    image, min-max normalised), titled with the map's per-image AUROC when given."""
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n = len(images) if limit is None else min(limit, len(images))
    names = names or [f"{i:04d}" for i in range(len(images))]
    size = tuple(images.shape[-2:])
    ups = {k: minmax_normalize(upsample_maps(v[:n].cpu(), size)) for k, v in maps.items()}
    paths = []
    for i in progress_bar(range(n), progress, desc="figures", unit="image"):
        cols = 2 + len(ups)
        fig = Figure(figsize=(1.9 * cols, 2.2))
        axes = fig.subplots(1, cols)
        axes[0].imshow(images[i].permute(1, 2, 0).cpu().numpy())
        axes[0].set_title(names[i], fontsize=8)
        axes[1].imshow(masks[i].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        axes[1].set_title("mask", fontsize=8)
        for ax, (k, m) in zip(axes[2:], ups.items()):
            ax.imshow(m[i].numpy(), cmap="viridis", vmin=0, vmax=1)
            auc = None if per_image is None or k not in per_image else float(per_image[k][i])
            ax.set_title(k + ("" if auc is None or math.isnan(auc) else f"\nAUROC {auc:.2f}"),
                         fontsize=8)
        for ax in axes:
            ax.set_axis_off()
        fig.tight_layout()
        path = out_dir / f"{names[i]}.png"
        fig.savefig(path, dpi=80)
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------------------
# paired comparisons: a plug-in run and its base run (``scd-lab eval report --paired``)

# keys that may differ between the runs of a pair besides the method's: they change nothing
# a run computes
PAIR_IGNORE = ("train.progress", "train.num_workers")


def _pair_gaps(plug, base) -> dict:
    """The differences of two resolved configs outside ``method.*`` (and ``PAIR_IGNORE``)."""
    return {k: v for k, v in config_differences(plug, base, PAIR_IGNORE).items()
            if not k.startswith("method.")}


def shared_init(plug, base) -> str:
    """What the first weights of a plug-in run and its base run have in common.

    ``build_run`` seeds torch with ``train.seed`` and ``build_method`` draws the trunk, then
    the base's heads (projector, predictor; MoCo's queue), then the plug-in's heads. So the
    trunk is always the same, and the base's heads are when the base gets the same arguments
    (``proj_hidden``, ``proj_dim``, ``pred_hidden``, ...): ``"all of the base"``; else
    (e.g. the per-method defaults, byol d=256 and scd-byol d=512) ``"trunk"``."""
    same = method_kwargs(resolve(plug).method)[0] == method_kwargs(resolve(base).method)[0]
    return "all of the base" if same else "trunk"


def _gaps_text(gaps: dict) -> str:
    return "; ".join(f"{k} {a!r} vs {b!r}" for k, (a, b) in list(gaps.items())[:3]) + \
        ("; ..." if len(gaps) > 3 else "")


def pair_runs(run_dirs) -> list[tuple[str, str]]:
    """(plug-in run, base run) for every plug-in run (``scd-byol``, ``lewel-moco``, ...): the
    run of its base method (``byol``, ``moco``) whose config is the same outside ``method.*``
    (seed, data, schedule, trunk...). Several plug-in runs may share one base run.

    Raises:
        EvalError: a run has no partner (or two), or is neither a plug-in nor a base run of
            a pair; the message names it and the nearest candidate's differences.
    """
    cfgs = {str(p): resolve(RunDir(p).config()) for p in run_dirs}
    pairs, used = [], set()
    for p, cfg in cfgs.items():
        name = cfg.method.name
        if plugin(name) is None:
            continue
        cands = {q: _pair_gaps(cfg, c) for q, c in cfgs.items()
                 if c.method.name == base_method(name)}
        match = [q for q, gaps in cands.items() if not gaps]
        if len(match) != 1:
            near = min(cands, key=lambda q: len(cands[q]), default=None)
            why = (f"two match ({', '.join(match)})" if match else
                   "none given" if near is None else
                   f"the nearest, {near}, differs: {_gaps_text(cands[near])}")
            raise EvalError(f"--paired: {p} ({name}, seed {cfg.train.seed}) needs one "
                            f"{base_method(name)} run of the same config but the method; "
                            f"{why}")
        pairs.append((p, match[0]))
        used.update((p, match[0]))
    for p in cfgs:
        if p not in used:
            raise EvalError(f"--paired: {p} ({cfgs[p].method.name}) is no part of a pair; give "
                            "each plug-in run (scd-byol, ...) with its base run (byol, ...) of "
                            "the same config and seed")
    return pairs


def per_image_values(run_dir, progress: bool = False) -> dict:
    """Per-image values of a run on its held-out images: ``"kNN k=20"`` and ``"kNN k=200"``
    (each query right or wrong, ``knn_eval``), and ``"AUROC"``, the per-image AUROC of the
    method's default map (``scd_fg``, ``lewel_maxvar`` or ``channel_sum``; the saliency
    monitor's images with masks, upsampled and min-max normalised like ``score_maps``; NaN
    for an empty or full mask), with ``"map"`` its name; no ``"AUROC"`` without masks."""
    s = as_run(run_dir)
    knn = knn_eval(s, progress=progress, per_query=True)
    out = {f"kNN k={k}": c.float() for k, c in knn["per_query_correct"].items()}
    held = s.monitor_sets()["held"]
    if held is not None:
        out["map"] = default_map_name(s.cfg.method.name)
        m = saliency_maps(s, held.images, gradcam=False, progress=progress)[out["map"]]
        up = upsample_maps(m.cpu(), tuple(held.masks.shape[-2:]))
        out["AUROC"] = per_image_auroc(up, held.masks.cpu())
    return out


def _group_key(plug, base) -> str:
    """Pairs that differ only in the seeds (``train.seed``, ``data.seed``) are one
    comparison."""
    def strip(cfg):
        d = to_dict(cfg)
        d["train"].pop("seed", None)
        d["data"].pop("seed", None)
        return d
    return json.dumps([strip(plug), strip(base)], sort_keys=True, default=str)


def paired_table(run_dirs, resamples: int = RESAMPLES, seed: int = 0,
                 progress: bool = False) -> list[dict]:
    """One row per comparison and figure: the plug-in run minus its base run (``pair_runs``)
    on the same held-out images, kNN k=20 and k=200 (queries right) and the per-image AUROC of
    each run's default map; ``A - B`` with its paired bootstrap interval
    (``eval.paired.paired_bootstrap``: the images resampled ``resamples`` times within each
    pair, the pairs' differences averaged). Pairs that differ only in their seeds are one
    comparison (one row per figure, ``pairs`` = their number)."""
    pairs = pair_runs(run_dirs)
    cfgs = {p: resolve(RunDir(p).config()) for pair in pairs for p in pair}
    values: dict = {}
    groups: dict = {}
    for a, b in pairs:
        groups.setdefault(_group_key(cfgs[a], cfgs[b]), []).append((a, b))
        for p in (a, b):
            if p not in values:
                values[p] = per_image_values(p, progress)
    rows = []
    for members in groups.values():
        a0, b0 = members[0]
        head = {"A": cfgs[a0].method.name, "B": cfgs[b0].method.name,
                "seeds": ", ".join(str(cfgs[a].train.seed) for a, _ in members),
                "shared init": shared_init(cfgs[a0], cfgs[b0])}
        for fig in ("kNN k=20", "kNN k=200", "AUROC"):
            if any(fig not in values[p] for pair in members for p in pair):
                continue
            res = paired_bootstrap([(values[a][fig], values[b][fig]) for a, b in members],
                                   resamples=resamples, seed=seed)
            label = fig if fig != "AUROC" else \
                f"AUROC {values[a0]['map']} vs {values[b0]['map']}"
            rows.append({**head, "figure": label, "images": sum(res["images"]),
                         "mean A": res["mean_a"], "mean B": res["mean_b"],
                         "A - B": res["diff"], "95% low": res["low"], "95% high": res["high"]})
    return rows


__all__ = ["MAP_COLUMNS", "MAP_ORDER", "saliency_rows", "per_image_rows", "saliency_figures",
           "report_table", "run_row", "write_table", "table_markdown", "table_csv", "curves",
           "plot_curves", "PAIR_IGNORE", "shared_init", "pair_runs", "per_image_values",
           "paired_table"]
