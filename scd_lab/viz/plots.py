"""Figures read from run directories: saliency maps across epochs, training curves."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..methods import default_map_name
from ..models import minmax_normalize
from ..rundir import RunDir


def pick_snapshots(snaps: list[dict], count: int) -> list[dict]:
    """``count`` snapshots spread evenly from the first to the last (both included)."""
    if len(snaps) <= count:
        return snaps
    idx = torch.linspace(0, len(snaps) - 1, count).round().long().tolist()
    return [snaps[i] for i in idx]


def _upsampled(maps: torch.Tensor, size) -> torch.Tensor:
    m = minmax_normalize(maps.float())  # (N, h, w) in [0, 1]
    return F.interpolate(m[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def _auroc_at(rd: RunDir, name: str, step: int) -> float | None:
    for rec in rd.metrics("saliency"):
        if rec["step"] == step and f"{name}/auroc" in rec:
            return rec[f"{name}/auroc"]
    return None


def _row_label(label: str, name: str, epoch: float, auc: float | None) -> tuple[str, str]:
    """The row's text and colour: AUROC on held-out masks, and a mark when the map is
    inverted (AUROC < 0.5: 1 - map marks the object better)."""
    text = f"{label}\n{name}\nepoch {epoch:g}"
    if auc is None:
        return text, "black"
    if auc < 0.5:
        return text + f"\nAUROC {auc:.2f}\n(inverted)", "tab:red"
    return text + f"\nAUROC {auc:.2f}", "black"


def plot_saliency_evolution(runs: dict[str, str], n_images: int = 6, n_snapshots: int = 4,
                            map_names: dict[str, str] | None = None, show_channel_sum: bool = True):
    """Probe images, their ground-truth masks, and each run's map at several epochs.

    Args:
        runs: label -> run directory (all runs must share the probe images, as runs of one
            dataset and seed do).
        n_images: probe images (columns). n_snapshots: epochs per run (rows).
        map_names: label -> map to show (default: ``default_map_name`` of the run's method).
        show_channel_sum: add, for each run whose own map is not the channel sum, a row with
            the channel-sum map of its last snapshot.

    Every map is min-max normalised per image and upsampled (bilinear) to the image size; each
    row names the run, the map, the epoch (epochs completed) and the map's AUROC on the
    held-out masks at that step, in red with "(inverted)" when below 0.5. Returns a Figure.
    """
    import matplotlib.pyplot as plt

    map_names = map_names or {}
    dirs = {label: RunDir(p) for label, p in runs.items()}
    first = next(iter(dirs.values()))
    probe = first.probe()
    images = probe["images"][:n_images]
    masks = probe["masks"][:n_images] if probe["masks"] is not None else None
    size = images.shape[-2:]
    rows: list[tuple[str, str, torch.Tensor, str]] = [
        ("image", "black", images.permute(0, 2, 3, 1), "img")]
    if masks is not None:
        rows.append(("mask", "black", masks.float(), "map"))
    for label, rd in dirs.items():
        name = map_names.get(label) or default_map_name(rd.config().method.name)
        snaps = rd.snapshots()
        for snap in pick_snapshots(snaps, n_snapshots):
            if name in snap["maps"]:
                text, colour = _row_label(label, name, snap["epoch"],
                                          _auroc_at(rd, name, snap["step"]))
                rows.append((text, colour, _upsampled(snap["maps"][name][:n_images], size),
                             "map"))
        if show_channel_sum and name != "channel_sum" and snaps:
            last = snaps[-1]
            text, colour = _row_label(label, "channel_sum", last["epoch"],
                                      _auroc_at(rd, "channel_sum", last["step"]))
            rows.append((text, colour, _upsampled(last["maps"]["channel_sum"][:n_images], size),
                         "map"))
    fig, axes = plt.subplots(len(rows), n_images, figsize=(1.4 * n_images + 1.2, 1.4 * len(rows)),
                             squeeze=False)
    im = None
    for r, (label, colour, data, kind) in enumerate(rows):
        for c in range(n_images):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            if c >= data.shape[0]:
                ax.axis("off")
                continue
            if kind == "img":
                ax.imshow(data[c].numpy())
            else:
                im = ax.imshow(data[c].numpy(), cmap="magma", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(label, fontsize=6.5, rotation=0, ha="right", va="center",
                              color=colour)
    fig.suptitle("Saliency maps across training (min-max normalised per image; AUROC on "
                 "held-out masks)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.93, 1 - 0.25 / len(rows)))  # room for title and colour bar
    if im is not None:
        cax = fig.add_axes((0.945, 0.2, 0.015, 0.6))
        fig.colorbar(im, cax=cax).ax.tick_params(labelsize=7)
    return fig


def plot_metrics(runs: dict[str, str], keys=("knn_top1",), kind: str = "knn"):
    """Curves of metric ``keys`` (records of ``kind``) against epoch for several runs."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    for label, path in runs.items():
        recs = RunDir(path).metrics(kind)
        for ax, key in zip(axes[0], keys):
            pts = [(r["epoch"], r[key]) for r in recs if key in r]
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=3, label=label)
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("epoch")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_learning_curves(runs: dict[str, str], panels, styles: dict[str, dict] | None = None):
    """Several metrics of several runs against epoch, one panel each, in one figure.

    Args:
        runs: label -> run directory.
        panels: one ``(title, kind, key)`` or ``(title, kind, key, labels)`` per panel: the
            ``key`` of the records of ``kind`` (``knn``, ``train``, ``saliency``) of every run,
            or only of the runs in ``labels`` (losses of different methods live on different
            scales: InfoNCE near log K, BYOL's in [0, 4]).
        styles: label -> keyword arguments of ``Axes.plot`` (colour, line style).

    Returns a Figure; a run without records of a panel's key draws no line there.
    """
    import matplotlib.pyplot as plt

    styles = styles or {}
    records = {label: RunDir(path).metrics() for label, path in runs.items()}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.1), squeeze=False)
    for ax, (title, kind, key, *only) in zip(axes[0], panels):
        for label in (only[0] if only else runs):
            pts = [(r["epoch"], r[key]) for r in records[label]
                   if r.get("kind") == kind and key in r]
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=2.5, label=label, **styles.get(label, {}))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_sweep(summaries: dict[str, list[dict]], metrics=("knn", "auroc")):
    """One column per grid of ``scd-lab sweep`` (its ``summarise`` rows), one row per metric:
    the mean over seeds with ± one standard error as error bars. Numeric grids (α, λ) are
    drawn against their value, the term ablation as points per cell."""
    import matplotlib.pyplot as plt

    names = {"knn": "kNN top-1", "auroc": "map AUROC (signed)",
             "per_image": "per-image AUROC (unsigned)", "map_mean": "map mean"}
    fig, axes = plt.subplots(len(metrics), len(summaries), squeeze=False,
                             figsize=(3.4 * len(summaries), 2.6 * len(metrics)))
    for col, (grid, rows) in enumerate(summaries.items()):
        labels = [r["cell"] for r in rows]
        try:
            xs = [float(label.split("=")[1]) for label in labels]
            ticks = None
        except (IndexError, ValueError):
            xs, ticks = list(range(len(labels))), labels
        for row, metric in enumerate(metrics):
            ax = axes[row][col]
            ys = [r[metric] for r in rows]
            es = [0.0 if r[metric + "_se"] != r[metric + "_se"] else r[metric + "_se"]
                  for r in rows]
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3,
                        linestyle="-" if ticks is None else "none")
            if metric == "auroc":
                ax.axhline(0.5, color="grey", lw=0.8, ls=":")
            if ticks is not None:
                ax.set_xticks(xs, ticks)
                ax.set_xlim(-0.5, len(xs) - 0.5)
            ax.set_xlabel({"alpha": "margin α", "lambda": "weight λ"}.get(grid, grid))
            if col == 0:
                ax.set_ylabel(names.get(metric, metric))
            n = max(r["n"] for r in rows)
            ax.set_title(f"{grid} ({n} seeds, ±1 se)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_oracle_losses(cells: dict[str, list[dict]]):
    """L_d reached by the learned map beside the map fixed to the mask and to its inverse
    (``scd-lab study objective --oracle``), all three on the same seed (the first with the
    oracle: same views, same λ), one group of bars per study cell that has the oracle. The
    title names that seed (each tick does when the cells' seeds differ): one seed, no error
    bar."""
    import matplotlib.pyplot as plt

    named = [(c, next(x for x in r if "oracle_mask" in x)) for c, r in cells.items()
             if any("oracle_mask" in x for x in r)]
    seeds = [oracle.get("seed") for _, oracle in named]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(named)), 3.0))
    colours = ("tab:blue", "tab:green", "tab:red")
    for i, (_, oracle) in enumerate(named):
        ax.bar([i - 0.27, i, i + 0.27], [oracle["final_loss"], oracle["oracle_mask"],
                                         oracle["oracle_inverse"]], width=0.27, color=colours)
    one = len(set(seeds)) == 1
    ax.set_xticks(range(len(named)), [c.replace("-scd-", "\n") + ("" if one else f"\nseed {s}")
                                      for (c, _), s in zip(named, seeds)], fontsize=7)
    ax.set_title(f"L_d reached on seed {seeds[0]} only (the seed with the oracle)" if one and named
                 else "L_d reached, one seed per cell (the seed with the oracle)", fontsize=8)
    ax.set_ylabel("L_d reached")
    ax.legend([plt.Rectangle((0, 0), 1, 1, color=c) for c in colours],
              ["learned map", "map = mask", "map = inverse"], fontsize=7)
    fig.tight_layout()
    return fig


def plot_study_maps(cells: dict[str, list[dict]], examples: dict[str, tuple], n: int = 4):
    """Per study cell, two rows: ``n`` held-out images with their mask outline, and the map
    the heads learned on them (seed 0's ``example_maps``, min-max normalised per image).

    examples: {cell: (images uint8 (N, 3, H, W), masks (N, H, W))}, the cell's held-out set.
    """
    import matplotlib.pyplot as plt

    named = [c for c in cells if c in examples and "example_maps" in cells[c][0]]
    fig, axes = plt.subplots(2 * len(named), n, figsize=(1.5 * n, 3.1 * len(named)),
                             squeeze=False)
    for k, cell in enumerate(named):
        images, masks = examples[cell]
        maps = minmax_normalize(torch.tensor(cells[cell][0]["example_maps"]))
        for j in range(n):
            top, bottom = axes[2 * k][j], axes[2 * k + 1][j]
            top.imshow(images[j].permute(1, 2, 0).numpy())
            top.contour(masks[j].float().numpy(), levels=[0.5], colors="w", linewidths=0.8)
            bottom.imshow(_upsampled(maps[j:j + 1], masks.shape[-2:])[0].numpy(), cmap="magma",
                          vmin=0, vmax=1)
            for ax in (top, bottom):
                ax.axis("off")
        last = cells[cell][0]["history"][-1]
        axes[2 * k][0].set_title(f"{cell}: AUROC {last['auroc']:.2f} (seed 0)", fontsize=7,
                                 loc="left")
    fig.tight_layout()
    return fig
