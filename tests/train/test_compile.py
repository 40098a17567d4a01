"""train.compile: a compiler failure at the first step falls back to the eager model with one
line, and the step is the eager step (same seed, same loss)."""
from __future__ import annotations

import pytest
import torch

from scd_lab.config import apply_overrides, get_preset
from scd_lab.errors import ConfigError
from scd_lab.config import resolve
from scd_lab.studies import bench
from scd_lab.train import compile as compile_mod

TINY = ["backbone.widths=[8, 16, 16, 32]", "method.proj_hidden=64", "method.pred_hidden=64",
        "method.proj_dim=32", "method.queue_size=64"]


def test_compile_failure_falls_back_with_one_line(monkeypatch, capsys):
    def broken(model, mode):
        def fail(*args, **kwargs):
            torch.rand(3)  # a failed attempt may have used the step's random numbers
            raise RuntimeError("InductorError: no working C++ compiler\n(a long traceback)")
        return fail

    monkeypatch.setattr(compile_mod, "_torch_compile", broken)
    eager = bench.build_trainer("moco", size=16, batch=16, overrides=TINY)  # shuffled BN
    tried = bench.build_trainer("moco", size=16, batch=16, overrides=TINY + ["train.compile=true"])
    assert isinstance(tried.model, compile_mod.CompiledModel) and tried.model.active
    for step in (0, 1):
        want = eager.train_step(*eager.views(step), step).loss
        got = tried.train_step(*tried.views(step), step).loss
        assert torch.equal(want, got)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("train.compile: torch.compile failed")
    assert "RuntimeError: InductorError: no working C++ compiler" in err[0]
    assert not tried.model.active and tried.model.error.startswith("RuntimeError")


def test_compile_mode_is_checked():
    cfg = apply_overrides(get_preset("cpu"), ["train.compile_mode=reduce-overhead"])
    assert resolve(cfg).train.compile_mode == "reduce-overhead"
    with pytest.raises(ConfigError, match="compile_mode"):
        resolve(apply_overrides(get_preset("cpu"), ["train.compile_mode=fast"]))
