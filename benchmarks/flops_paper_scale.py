"""Model FLOPs per image of each method at the paper's scale (ResNet-50, 224 px), counted by
``torch.utils.flop_counter.FlopCounterMode`` on one forward + backward on the ``meta`` device
(no computation, so it runs anywhere in seconds). An image = one pair of views; the target
network's forward counts; matmuls and convolutions only (BN, softmax, EMA not counted).

    python benchmarks/flops_paper_scale.py
"""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from scd_lab.config import apply_overrides, get_preset
from scd_lab.methods import build_method

RUNS = (("paper-scd-byol-r50", ("byol", "byol-2x", "scd-byol", "lewel-byol")),
        ("paper-scd-moco-r50", ("moco", "scd-moco")))


def gflops(preset: str, name: str, batch: int = 4, size: int = 224) -> float:
    over = (["method.name=byol", "method.symmetric=true"] if name == "byol-2x"
            else [f"method.name={name}"])
    method = build_method(apply_overrides(get_preset(preset), over)).to("meta").train()
    x1 = torch.empty(batch, 3, size, size, device="meta")
    counter = FlopCounterMode(display=False)
    with counter:
        method(x1, torch.empty_like(x1)).loss.backward()
    return counter.get_total_flops() / batch / 1e9


def main() -> None:
    print("| preset | method | GFLOP/image (fwd+bwd) | vs base |\n|---|---|---|---|")
    for preset, names in RUNS:
        f = {n: gflops(preset, n) for n in names}
        base = f[names[0]]
        for n in names:
            extra = f" ({f[n] / f['byol-2x']:.2f}x byol-2x)" if n == "lewel-byol" else ""
            print(f"| {preset} | {n} | {f[n]:.2f} | {f[n] / base:.2f}x{extra} |")


if __name__ == "__main__":
    main()
