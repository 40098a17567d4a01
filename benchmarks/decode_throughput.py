"""JPEG decode throughput per CPU core for the streaming folder path (scd_lab.data.stream).

Writes ``--num`` ImageNet-like JPEGs (``--width`` x ``--height``, quality 90, smooth content
with texture, ~100 KB like ImageNet's), then times in ONE process with one torch thread (so
images/s = images/s per core):

  pil        ``folder.load_image`` (PIL decode, shorter side -> SIZE bilinear antialiased,
             centre crop): what ``StreamingFolder`` and the in-memory path do;
  pil-draft  the same after ``Image.draft`` (libjpeg decodes at 1/2, 1/4 or 1/8 scale in the
             DCT domain when the target is small enough; pixels differ slightly);
  tv-cpu     ``torchvision.io.decode_jpeg`` on the CPU + antialiased ``interpolate``;

and then ``StreamingFolder`` end to end with ``--workers`` processes (batches of 64).

    python benchmarks/decode_throughput.py [--sizes 112,256] [--num 96] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from scd_lab.data.folder import load_image
from scd_lab.data.stream import StreamingFolder
from scd_lab.studies.decode_bench import write_jpegs


def pil_draft(path, size: int) -> torch.Tensor:
    return load_image(path, size, draft=True)  # libjpeg DCT scaling, never below size


def tv_cpu(path, size: int) -> torch.Tensor:
    from torchvision.io import ImageReadMode, decode_jpeg, read_file
    im = decode_jpeg(read_file(str(path)), mode=ImageReadMode.RGB)  # (3, H, W) uint8
    h, w = im.shape[-2:]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    x = F.interpolate(im[None].float(), size=(nh, nw), mode="bilinear", align_corners=False,
                      antialias=True)
    top, left = (nh - size) // 2, (nw - size) // 2
    return x[0, :, top:top + size, left:left + size].round().clamp(0, 255).to(torch.uint8)


def rate(fn, paths, size: int, seconds: float) -> float:
    fn(paths[0], size)  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(paths[n % len(paths)], size)
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="112,256", help="stored sides to test")
    ap.add_argument("--num", type=int, default=96, help="JPEGs to write")
    ap.add_argument("--width", type=int, default=500)
    ap.add_argument("--height", type=int, default=375)
    ap.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    try:
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "n/a"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load}; Pillow {Image.__version__}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        kb = write_jpegs(Path(tmp), args.num, args.width, args.height)
        paths = sorted((Path(tmp) / "c0").iterdir())
        print(f"{args.num} JPEGs of {args.width}x{args.height}, mean {kb:.0f} KB\n")
        print("| stored side | decoder | images/s per core |")
        print("|---|---|---|")
        for size in (int(s) for s in args.sizes.split(",")):
            for name, fn in (("pil (folder.load_image)", load_image),
                             ("pil-draft", pil_draft), ("tv-cpu", tv_cpu)):
                print(f"| {size} | {name} | {rate(fn, paths, size, args.seconds):.0f} |",
                      flush=True)
        print()
        for size in (int(s) for s in args.sizes.split(",")):
            stream = StreamingFolder(tmp, size, batch_size=64, seed=0,
                                     num_workers=args.workers)
            steps = 6
            it = stream.iterate(0, steps + 1)
            next(it)  # workers started
            t0 = time.perf_counter()
            for _ in it:
                pass
            r = steps * 64 / (time.perf_counter() - t0)
            print(f"StreamingFolder, stored side {size}, {args.workers} workers: {r:.0f} "
                  f"images/s ({r / max(args.workers, 1):.0f} per worker)", flush=True)


if __name__ == "__main__":
    main()
