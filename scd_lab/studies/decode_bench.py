"""How fast the streaming path decodes JPEGs, against how fast a step trains (the headroom).

``write_jpegs`` writes ImageNet-like JPEGs (500 x 375, smooth content with texture, about
100 KB at quality 90) so that a machine with no data set can measure decoding;
``decode_rates`` times the two decoders of ``scd_lab.data.stream`` on them:

* ``device``: ``decode_batch`` (``torchvision.io.decode_jpeg`` of a whole batch, shorter side
  resized, centre crop) on the training device: nvJPEG on a GPU, one process;
* ``pil``: ``folder.load_image`` (PIL) in this process, one thread: the rate of one
  ``train.num_workers`` worker; the workers' rate is about this times their number, up to the
  number of free cores.

The decode headroom is the decoded images/s over the training images/s: above 1 the decoder
keeps up with the step (``scd-lab bench --decode`` reports it).

    from scd_lab.studies.decode_bench import write_jpegs, decode_rates
    write_jpegs("/tmp/jpegs", 64); decode_rates("/tmp/jpegs", 256, "cuda")
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..data.folder import load_image
from ..data.stream import _read_bytes, decode_batch


def write_jpegs(folder, n: int, width: int = 500, height: int = 375, seed: int = 0) -> float:
    """``n`` JPEGs in ``folder/c0`` (one class); returns their mean size in KB."""
    rng = np.random.default_rng(seed)
    d = Path(folder) / "c0"
    d.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(n):
        small = rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)
        im = Image.fromarray(small).resize((width, height), Image.BICUBIC)
        arr = np.asarray(im).astype(np.int16) + rng.integers(-12, 13, (height, width, 3))
        p = d / f"img_{i:04d}.JPEG"
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(p, quality=90)
        total += p.stat().st_size
    return total / n / 1024


def _timed(fn, rounds: int) -> float:
    """Seconds per call of ``fn`` (one warm-up call, then the median of ``rounds``)."""
    fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def decode_rates(folder, size: int, device: str | torch.device = "cpu", batch: int = 64,
                 rounds: int = 3) -> dict:
    """Images/s of the ``device`` decoder (batches of ``batch``) and of PIL in one thread, on
    the JPEGs under ``folder`` (read from memory: the disk is not timed)."""
    paths = sorted(str(p) for p in Path(folder).rglob("*.JPEG"))
    datas = [_read_bytes(p) for p in paths]
    datas = (datas * (batch // len(datas) + 1))[:batch]
    device = torch.device(device)

    def on_device():
        decode_batch(datas, size, device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pil = _timed(lambda: [load_image(p, size) for p in paths[:16]], rounds) / len(paths[:16])
    finally:
        torch.set_num_threads(threads)
    return {"size": size, "device": str(device), "batch": batch,
            "device_images_per_s": batch / _timed(on_device, rounds),
            "pil_images_per_s_per_worker": 1.0 / pil}


def decode_headroom(size: int, device: torch.device, train_images_per_s: float, batch: int,
                    num: int = 32) -> dict:
    """``decode_rates`` on ``num`` written JPEGs at the stored side ``size``, and each decoder's
    images/s over the training images/s (PIL: one worker per core of this machine)."""
    with tempfile.TemporaryDirectory() as tmp:
        write_jpegs(tmp, num)
        r = decode_rates(tmp, size, device, batch)
    r["train_images_per_s"] = train_images_per_s
    r["device_headroom"] = r["device_images_per_s"] / train_images_per_s
    r["pil_headroom_all_cores"] = (r["pil_images_per_s_per_worker"] * (os.cpu_count() or 1)
                                   / train_images_per_s)
    return r
