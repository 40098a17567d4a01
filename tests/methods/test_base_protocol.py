"""SCD and LEWEL accept any base method that offers ``BaseMethod``'s members, on every Python.

From Python 3.12 ``isinstance(x, BaseMethod)`` (a runtime-checkable Protocol) looks members up
with ``inspect.getattr_static``, which misses an ``nn.Module``'s submodules: the check that SCD
and LEWEL used then refused a real BYOL. ``is_base_method`` must not depend on that lookup.
"""
from __future__ import annotations

import inspect

import pytest
import torch

from scd_lab.methods import BYOL, LEWEL, SCD, MoCo
from scd_lab.methods.base import is_base_method
from scd_lab.models import build_backbone


def _byol():
    return BYOL(build_backbone("resnet_tiny", small_stem=True), proj_hidden=16, proj_dim=8,
                pred_hidden=16)


def test_submodule_members_are_invisible_to_getattr_static():
    # the reason for is_base_method: what Python 3.12's protocol check would see
    with pytest.raises(AttributeError):
        inspect.getattr_static(_byol(), "projector")


def test_real_base_methods_pass_and_other_modules_do_not():
    moco = MoCo(build_backbone("resnet_tiny", small_stem=True), proj_hidden=16, proj_dim=8,
                queue_size=16)
    assert is_base_method(_byol()) and is_base_method(moco)
    assert not is_base_method(torch.nn.Linear(2, 2))
    assert not is_base_method(build_backbone("resnet_tiny", small_stem=True))


@pytest.mark.parametrize("plugin", [SCD, LEWEL])
def test_plugins_wrap_byol_and_refuse_a_trunk(plugin):
    assert plugin(_byol()).base is not None
    with pytest.raises(TypeError, match="plugs into a base method"):
        plugin(build_backbone("resnet_tiny", small_stem=True))
