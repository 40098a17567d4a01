"""Throughput of the batched two-view augmentation against torchvision per-sample transforms.

Both sides make the two BYOL views of uint8 images held in memory: the batched pipeline
(``TwoViewAugment``) on ``--device``, torchvision's per-sample transforms in a DataLoader with
``--workers`` worker processes. Prints images/s (one image = both views) and the ratio.

    python benchmarks/augment_throughput.py [--device cuda] [--size 64] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torch.utils.data import DataLoader, Dataset

from scd_lab.data.augment import TwoViewAugment, torchvision_pipeline, view_recipe


class TwoViewTorchvision(Dataset):
    def __init__(self, images: torch.Tensor, preset: str, size: int) -> None:
        self.images = images
        self.t1, self.t2 = (torchvision_pipeline(s, size) for s in view_recipe(preset))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        x = self.images[i]
        return self.t1(x), self.t2(x)


def bench_batched(images, preset, size, batch, device, seconds):
    aug = TwoViewAugment(preset, size)
    data = images.to(device)
    g = torch.Generator().manual_seed(0)
    aug(data[:batch], g)  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        i = (n // batch * batch) % (len(data) - batch)
        x1, x2, _, _ = aug(data[i:i + batch], g)
        n += batch
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def bench_torchvision(images, preset, size, batch, workers, seconds):
    loader = DataLoader(TwoViewTorchvision(images, preset, size), batch_size=batch,
                        shuffle=True, num_workers=workers, persistent_workers=workers > 0,
                        drop_last=True)
    it = iter(loader)
    next(it)  # warm-up, workers started
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        try:
            x1, x2 = next(it)
        except StopIteration:
            it = iter(loader)
            continue
        n += x1.shape[0]
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--preset", default="byol")
    ap.add_argument("--size", type=int, default=64, help="input and output side")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring time per side")
    args = ap.parse_args()
    images = torch.randint(0, 256, (4096, 3, args.size, args.size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    dev = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"torch threads {torch.get_num_threads()}, device {args.device} ({dev})")
    print(f"preset {args.preset}, {args.size}px -> {args.size}px, batch {args.batch}; "
          f"images/s counts one image = both views")
    ours = bench_batched(images, args.preset, args.size, args.batch, args.device, args.seconds)
    print(f"batched TwoViewAugment on {args.device}: {ours:10.0f} images/s")
    ref = bench_torchvision(images, args.preset, args.size, args.batch, args.workers, args.seconds)
    print(f"torchvision per-sample, DataLoader {args.workers} workers: {ref:10.0f} images/s")
    print(f"ratio batched / torchvision: {ours / ref:.1f}x")


if __name__ == "__main__":
    main()
