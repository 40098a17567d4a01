"""Redraw time of the saliency explorer: from a control change to new Image widget bytes.

Times the observer callback (``Explorer.update``, which the slider's observer calls) for a
3-run view of 8 probe images: every epoch of the slider twice (cold: first visit, overlays
computed and PNG-encoded; warm: cached), then the image picker and each run's map picker.
No browser: the time is Python's side (what the kernel spends before the bytes go out).

    python benchmarks/explorer_redraw.py                       # 3 hand-made runs (64 px, 7 snapshots)
    python benchmarks/explorer_redraw.py RUN RUN RUN [--images 8]   # real runs (e.g. the demo)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from scd_lab.config import apply_overrides, get_preset
from scd_lab.rundir import RunDir
from scd_lab.viz.explorer import Explorer


def make_runs(root: Path, n: int = 8, size: int = 64, epochs: int = 6) -> dict[str, Path]:
    """Three run dirs shaped like the CPU-tier demo (8x8 maps, one snapshot per epoch)."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    masks = (torch.rand(n, size, size, generator=g) > 0.6).to(torch.uint8)
    out = {}
    for method, own in (("byol", None), ("scd-byol", "scd_fg"), ("lewel-byol", "lewel_maxvar")):
        rd = RunDir(root / method)
        rd.write_config(apply_overrides(get_preset("cpu"), [f"method.name={method}"]))
        rd.save_probe(images, torch.zeros(n, dtype=torch.long), masks, ["x"])
        names = ["channel_sum"] + ([own] if own else [])
        for e in range(epochs + 1):
            rd.save_snapshot(100 * e, e, {k: torch.rand(n, 8, 8, generator=g) for k in names})
            rd.log({"kind": "saliency", "step": 100 * e, "epoch": float(e),
                    **{f"{k}/auroc": 0.4 + 0.03 * e for k in names},
                    **{f"{k}/best_iou": 0.2 + 0.02 * e for k in names}})
        out[method] = rd.path
    return out


def stats(xs: list[float]) -> str:
    ms = sorted(1000 * x for x in xs)
    return (f"median {statistics.median(ms):6.1f} ms  p90 {ms[int(0.9 * (len(ms) - 1))]:6.1f} ms"
            f"  max {ms[-1]:6.1f} ms  (n={len(ms)})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", help="run directories (default: 3 hand-made runs)")
    ap.add_argument("--images", type=int, default=8, help="probe images in the picker")
    ap.add_argument("--display", type=int, default=192, help="overlay side in pixels")
    args = ap.parse_args()

    tmp = None
    if args.runs:
        runs = [Path(r) for r in args.runs]
    else:
        tmp = tempfile.TemporaryDirectory()
        runs = make_runs(Path(tmp.name), n=args.images)
    t0 = time.perf_counter()
    ex = Explorer(runs, images=args.images, display=args.display)
    print(f"{len(ex.model.runs)} runs, {len(ex.model.images)} images, "
          f"{len(ex.model.timeline)} epochs, {args.display} px overlays, "
          f"torch threads {torch.get_num_threads()}")
    print(f"build (read runs, first draw): {1000 * (time.perf_counter() - t0):.0f} ms")
    n = len(ex.model.timeline)
    cold, warm, image, maps = [], [], [], []
    for i in reversed(range(n - 1)):  # the slider starts at the last epoch
        cold.append(ex.set_epoch_index(i))
    for _ in range(3):
        for i in range(n):
            if i != ex.epoch_slider.value:
                warm.append(ex.set_epoch_index(i))
    for i in ex.model.images[1:]:
        image.append(ex.set_image(i))
    for lab, picker in ex.map_pickers.items():
        for name in list(picker.options)[1:] + [picker.options[0]]:
            maps.append(ex.set_map(lab, name))
    print(f"epoch slider, first visit : {stats(cold)}")
    print(f"epoch slider, cached      : {stats(warm)}")
    print(f"image picker, first visit : {stats(image)}")
    print(f"map picker                : {stats(maps)}")
    worst = max(cold + warm + image + maps)
    print(f"worst redraw {1000 * worst:.1f} ms (target < 100 ms)")
    if tmp is not None:
        tmp.cleanup()
    return 0 if worst < 0.1 else 1


if __name__ == "__main__":
    sys.exit(main())
