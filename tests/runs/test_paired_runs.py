"""An SCD run and its base run from the same config and seed are paired: the same batches,
the same augmentation draws, the same first weights for every module they share (trunk,
projector, predictor, MoCo's queue) and so the same first L_c; only the plug-in's heads are
new. With the per-method default widths (byol d=256, scd-byol d=512) only the trunk is shared.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))

from helpers import tiny_config, tiny_data  # noqa: E402

from scd_lab.runs import build_run  # noqa: E402
from scd_lab.runs.report import shared_init  # noqa: E402


def _trainers(base: str, extra=()):
    data = tiny_data()
    torch.manual_seed(123)  # the global state before build_run must not matter
    plug = build_run(tiny_config(f"scd-{base}", ["train.seed=3", *extra]), data=data)
    torch.manual_seed(456)
    alone = build_run(tiny_config(base, ["train.seed=3", *extra]), data=data)
    return plug, alone


def _base_state(method) -> dict:
    """The base method's tensors under its own names (a plug-in's ``base.`` prefix off)."""
    state = method.state_dict()
    if any(k.startswith("base.") for k in state):
        state = {k[len("base."):]: v for k, v in state.items() if k.startswith("base.")}
    return state


@pytest.mark.parametrize("base", ["byol", "moco"])
def test_scd_and_its_base_share_data_views_and_initial_weights(base):
    plug, alone = _trainers(base)
    a, b = _base_state(plug.method), _base_state(alone.method)
    assert a.keys() == b.keys()  # trunk, target trunk, projector(s), predictor or queue
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert any(k.startswith("sem_projector") for k in plug.method.state_dict())
    for step in (0, 1, 3, 5):  # across an epoch boundary (4 steps per epoch)
        assert torch.equal(plug.batch_indices(step), alone.batch_indices(step))
        for x, y in zip(plug.views(step), alone.views(step)):
            assert torch.equal(x, y)
    # the first step's consistency term: same weights, views and in-step draws (MoCo's shuffle)
    x1, x2 = plug.views(0)
    out_plug, out_alone = plug.forward(x1, x2, 0), alone.forward(x1, x2, 0)
    assert torch.allclose(out_plug.terms["loss_c"], out_alone.terms["loss_c"], atol=1e-6)
    assert shared_init(plug.run_config, alone.run_config) == "all of the base"


def test_another_seed_draws_another_trunk():
    """The equalities above are not trivial: a base run of another seed starts elsewhere."""
    plug, _ = _trainers("byol")
    other = build_run(tiny_config("byol", ["train.seed=4"]), data=tiny_data())
    a, b = _base_state(plug.method), _base_state(other.method)
    assert not torch.equal(a["online_encoder.stem.0.weight"], b["online_encoder.stem.0.weight"])
    assert not torch.equal(plug.views(0)[0], other.views(0)[0])


def test_default_widths_share_the_trunk_only():
    """proj_dim left to the per-method defaults: byol 256, scd-byol 512 (docs/method.md)."""
    plug, alone = _trainers("byol", ["method.proj_dim=null"])
    a, b = _base_state(plug.method), _base_state(alone.method)
    trunk = [k for k in a if k.startswith(("online_encoder.", "target_encoder."))]
    assert trunk and all(torch.equal(a[k], b[k]) for k in trunk)
    assert a["projector.3.weight"].shape != b["projector.3.weight"].shape
    assert shared_init(plug.run_config, alone.run_config) == "trunk"
