"""GPU benchmark: a short SCD-BYOL training of ResNet-18 at 96 px with a GPU-resident dataset
the size of ImageNet-100 (a generated stand-in: 126,689 random uint8 images of 112 px).

Prints images/s, peak GPU memory, and the share of step time spent in augmentation (measured
by timing the augmentation alone, synchronised, over the same steps).

    python benchmarks/gpu_train.py [--steps 60] [--batch 512] [--compile]
"""
from __future__ import annotations

import argparse
import time

import torch

from scd_lab.config import apply_overrides, get_preset
from scd_lab.data.arrays import ImageArray
from scd_lab.runs import build_run
from scd_lab.studies.bench import count_flops, device_peak_tflops


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--num-images", type=int, default=126_689)
    ap.add_argument("--method", default="scd-byol")
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # CPU: smoke test only
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    n = args.num_images
    g = torch.Generator(device=dev).manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 112, 112), dtype=torch.uint8, device=dev, generator=g)
    labels = torch.randint(0, 100, (n,), device=dev, generator=g)
    test = ImageArray(images[:1000].clone(), labels[:1000].clone(), None,
                      [str(i) for i in range(100)])
    train = ImageArray(images, labels, None, [str(i) for i in range(100)])
    cfg = apply_overrides(get_preset("in100-r18"), [
        f"method.name={args.method}", "data.dataset=synthetic", "data.root=null",
        f"train.batch_size={args.batch}", f"train.max_steps={args.steps}",
        "train.knn_every=0", "train.snapshot_every=0", "train.progress=false",
        f"train.compile={str(args.compile).lower()}", "train.log_every=10"])
    tr = build_run(cfg, None, data=(train, test))
    print(f"device {torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}; data on {tr.data_device}; "
          f"{n} images of 112 px = {images.numel() / 2**30:.2f} GiB; method {args.method}, "
          f"batch {args.batch}, bf16 autocast, channels_last {tr.channels_last}, "
          f"compile {args.compile}", flush=True)
    warm = 10
    t0 = time.perf_counter()
    for s in range(warm):  # warm-up (cudnn autotune, compile)
        tr.train_step(*tr.views(s), s)
    sync()
    warm_s = time.perf_counter() - t0
    torch.cuda.reset_peak_memory_stats() if dev.type == "cuda" else None
    t0 = time.perf_counter()
    for s in range(warm, args.steps):
        tr.train_step(*tr.views(s), s)
    sync()
    step_s = (time.perf_counter() - t0) / (args.steps - warm)
    t0 = time.perf_counter()
    for s in range(warm, args.steps):
        tr.views(s)
    sync()
    aug_s = (time.perf_counter() - t0) / (args.steps - warm)
    mem = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else float("nan")
    ips = args.batch / step_s
    flops = "" if args.compile else _flops(tr, dev, ips)  # FlopCounterMode needs eager code
    print(f"RESULT method={args.method} batch={args.batch} compile={args.compile}: "
          f"{ips:.0f} images/s ({step_s * 1e3:.1f} ms/step; one ImageNet-100 epoch of "
          f"126,689 images {126_689 / ips:.1f} s), "
          f"augmentation {aug_s * 1e3:.1f} ms/step = {100 * aug_s / step_s:.1f}% of the step, "
          f"peak GPU memory {mem:.1f} GiB, {warm} warm-up steps (autotune"
          f"{', compile' if args.compile else ''}) {warm_s:.1f} s{flops}", flush=True)


def _flops(tr, dev, ips: float) -> str:
    """Model FLOPs per image (pair of views, fwd + bwd, FlopCounterMode) and the achieved
    fraction of the device's dense bf16 peak at ``ips`` images/s."""
    per_image = count_flops(tr) / tr.train_cfg.batch_size
    peak = device_peak_tflops(dev)
    frac = f", {100 * per_image * ips / (peak * 1e12):.1f}% of its {peak:.0f} TFLOP/s" if peak else ""
    return f", {per_image / 1e9:.2f} GFLOP/image = {per_image * ips / 1e12:.1f} TFLOP/s{frac}"


if __name__ == "__main__":
    main()
