"""Figures read from run directories: saliency maps across epochs, training curves."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models import minmax_normalize
from ..train.rundir import RunDir

# which map shows a method in comparisons (METHOD.md section 3: both min-max normalised)
DEFAULT_MAP = {"scd": "scd_fg", "lewel": "lewel_maxvar"}


def default_map_name(method: str) -> str:
    """``scd_fg`` for SCD runs, ``lewel_maxvar`` for LEWEL runs, ``channel_sum`` otherwise."""
    return DEFAULT_MAP.get(method.split("-")[0], "channel_sum")


def pick_snapshots(snaps: list[dict], count: int) -> list[dict]:
    """``count`` snapshots spread evenly from the first to the last (both included)."""
    if len(snaps) <= count:
        return snaps
    idx = torch.linspace(0, len(snaps) - 1, count).round().long().tolist()
    return [snaps[i] for i in idx]


def plot_saliency_evolution(runs: dict[str, str], n_images: int = 6, n_snapshots: int = 4,
                            map_names: dict[str, str] | None = None, show_channel_sum: bool = True):
    """Probe images, their ground-truth masks, and each run's map at several epochs.

    Args:
        runs: label -> run directory (all runs must share the probe images, as runs of one
            dataset and seed do).
        n_images: probe images (columns). n_snapshots: epochs per run (rows).
        map_names: label -> map to show (default: ``default_map_name`` of the run's method).
        show_channel_sum: add a row with the channel-sum map of the first run's last snapshot.

    Every map is min-max normalised per image and upsampled (bilinear) to the image size.
    Returns a matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    map_names = map_names or {}
    dirs = {label: RunDir(p) for label, p in runs.items()}
    first = next(iter(dirs.values()))
    probe = first.probe()
    images = probe["images"][:n_images]
    masks = probe["masks"][:n_images] if probe["masks"] is not None else None
    size = images.shape[-2:]
    rows: list[tuple[str, torch.Tensor, str]] = [("image", images.permute(0, 2, 3, 1), "img")]
    if masks is not None:
        rows.append(("mask", masks.float(), "map"))
    for label, rd in dirs.items():
        name = map_names.get(label) or default_map_name(rd.meta()["method"])
        for snap in pick_snapshots(rd.snapshots(), n_snapshots):
            if name not in snap["maps"]:
                continue
            m = minmax_normalize(snap["maps"][name][:n_images].float())
            m = F.interpolate(m[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]
            rows.append((f"{label}\n{name}\nepoch {snap['epoch']}", m, "map"))
    if show_channel_sum:
        snap = first.snapshots()[-1]
        m = F.interpolate(snap["maps"]["channel_sum"][:n_images].float()[:, None], size=size,
                          mode="bilinear", align_corners=False)[:, 0]
        rows.append((f"channel sum\nepoch {snap['epoch']}", m, "map"))
    fig, axes = plt.subplots(len(rows), n_images, figsize=(1.4 * n_images, 1.4 * len(rows)),
                             squeeze=False)
    for r, (label, data, kind) in enumerate(rows):
        for c in range(n_images):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            if c >= data.shape[0]:
                ax.axis("off")
                continue
            if kind == "img":
                ax.imshow(data[c].numpy())
            else:
                ax.imshow(data[c].numpy(), cmap="magma", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle("Saliency maps across training (min-max normalised per image)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.25 / len(rows)))  # leave room for the title
    return fig


def plot_metrics(runs: dict[str, str], keys=("knn_top1",), kind: str = "knn"):
    """Curves of metric ``keys`` (records of ``kind``) against step for several runs."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    for label, path in runs.items():
        recs = RunDir(path).metrics(kind)
        for ax, key in zip(axes[0], keys):
            pts = [(r["step"], r[key]) for r in recs if key in r]
            if pts:
                ax.plot(*zip(*pts), marker="o", ms=3, label=label)
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("step")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
