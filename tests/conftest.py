"""Shared fixtures: a tiny CPU config with shrunk heads, a fixed seed, and a method factory."""
from __future__ import annotations

import copy
import os

import pytest
import torch

from scd_lab.config import get_preset

# One intra-op thread by default: on a shared 2-core machine two spinning OpenMP threads per
# process made the model tests ~10x slower (measured), while one thread costs little on these
# tiny shapes. Override with SCD_TEST_THREADS=2 (or more) on a dedicated machine.
torch.set_num_threads(int(os.environ.get("SCD_TEST_THREADS", "1")))


def shrink_heads(cfg):
    """Heads small enough for fast CPU tests (the trunk is left as configured)."""
    cfg.method.proj_hidden = 64
    cfg.method.pred_hidden = 64
    cfg.method.proj_dim = 32
    cfg.method.queue_size = 64
    return cfg


@pytest.fixture(autouse=True)
def seed():
    """Every test starts from the same random state (returns the seed)."""
    torch.manual_seed(0)
    return 0


@pytest.fixture
def tiny_cfg():
    """``get_preset("cpu")`` (resnet_tiny, small stem) with heads shrunk to 64/64/32 and K = 64."""
    return shrink_heads(get_preset("cpu"))


@pytest.fixture
def make_method(tiny_cfg):
    """Factory: ``make_method(name, seed=0, **method_overrides)`` built from ``tiny_cfg``.

    Seeds torch right before building, so two calls with the same seed give identical weights.
    Backbone fields can be overridden with a ``backbone`` dict.
    """
    from scd_lab.methods import build_method

    def make(name, seed=0, backbone=None, **method):
        cfg = copy.deepcopy(tiny_cfg)
        for key, value in method.items():
            setattr(cfg.method, key, value)
        for key, value in (backbone or {}).items():
            setattr(cfg.backbone, key, value)
        torch.manual_seed(seed)
        return build_method(cfg, name)

    return make


@pytest.fixture
def views():
    """Two fixed batches of views (4, 3, 32, 32), independent of the test's random state."""
    g = torch.Generator().manual_seed(123)
    return torch.randn(4, 3, 32, 32, generator=g), torch.randn(4, 3, 32, 32, generator=g)
