"""What a notebook's first cell calls once the kit is importable (``scd_lab.lab.setup``): say
where the kit was found and on what device the notebook runs, and pick the tier to match.

The cell itself (written by ``scripts/launch.py``) installs the kit from the repository
(``scd_lab.paths.REPO_URL``) only when ``import scd_lab`` fails, as on Colab or Binder; inside
a checkout or an environment with the kit it installs nothing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .._version import __version__
from ..paths import checkout_root

#: tier -> the preset its notebooks use
TIER_PRESET = {"cpu": "cpu", "gpu": "in100-r18"}


@dataclass(frozen=True)
class Setup:
    """Where the notebook runs: ``tier`` ("cpu" or "gpu"), its ``preset``, the ``device``
    ("cpu" or "cuda") and a line naming the hardware, and where the kit was found."""

    tier: str
    preset: str
    device: str
    hardware: str
    kit: str

    def line(self) -> str:
        return (f"scd_lab {__version__} from {self.kit}; found {self.hardware}: the "
                f"{self.tier.upper()} tier (preset {self.preset!r}, train.device="
                f"{self.device})")


def setup(verbose: bool = True) -> Setup:
    """Detect a CUDA GPU, pick the tier (GPU: ``in100-r18``; CPU: ``cpu``), print one line
    saying so, and return it. ``SCD_LAB_TIER=cpu`` keeps a GPU machine on the CPU tier."""
    gpu = torch.cuda.is_available() and os.environ.get("SCD_LAB_TIER", "") != "cpu"
    hardware = (f"a GPU ({torch.cuda.get_device_name(0)})" if gpu
                else f"no GPU, a CPU with {os.cpu_count()} cores")
    root = checkout_root()
    kit = f"the checkout {root}" if root else "an installed package"
    tier = "gpu" if gpu else "cpu"
    s = Setup(tier=tier, preset=TIER_PRESET[tier], device="cuda" if gpu else "cpu",
              hardware=hardware, kit=kit)
    if verbose:
        print(s.line())
    return s
