"""scd_lab.studies.bench: the hot path makes no host synchronisation (counted, run on the meta device
and, on CUDA, under the sync debug mode; not timed), and the benchmark runs end to end on a
tiny config."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scd_lab.cli import main as cli_main
from scd_lab.studies import bench
from scd_lab._malloc import tune_malloc

TINY = ["backbone.widths=[8, 16, 16, 32]", "method.proj_hidden=64", "method.pred_hidden=64",
        "method.proj_dim=32", "method.queue_size=64"]

# Python-level conversions that copy a tensor's value to the host (a sync on CUDA).
CONVERSIONS = ("item", "tolist", "__bool__", "__int__", "__float__", "__index__", "numpy",
               "__array__")


@contextlib.contextmanager
def counted_conversions(counts: dict):
    saved = {name: getattr(torch.Tensor, name) for name in CONVERSIONS}

    def wrap(name, fn):
        def counted(self, *a, **k):
            counts[name] = counts.get(name, 0) + 1
            return fn(self, *a, **k)
        return counted

    try:
        for name, fn in saved.items():
            setattr(torch.Tensor, name, wrap(name, fn))
        yield counts
    finally:
        for name, fn in saved.items():
            setattr(torch.Tensor, name, fn)


def _trainer(method):
    return bench.build_trainer(method, size=16, batch=16, overrides=TINY + ["train.log_every=5"])


@pytest.mark.parametrize("method", ["scd-moco", "scd-byol"])
def test_hot_path_makes_no_host_sync(method):
    tr = _trainer(method)
    tr.train_step(*tr.views(0), 0)  # first step: lazy state (NaN record, optimizer buffers)
    counts: dict = {}
    with counted_conversions(counts):
        for step in (1, 2):  # non-logging steps, views included
            x1, x2 = tr.views(step)
            tr.train_step(x1, x2, step)
    assert counts == {}, f"host conversions on the hot path of {method}: {counts}"
    tr.check_finite()  # the deferred NaN check: one conversion, here, not per step


@pytest.mark.parametrize("method", ["byol", "scd-byol", "scd-moco", "lewel-byol", "supervised"])
def test_hot_path_runs_on_the_meta_device(method):
    # The meta device holds shapes, no values: an op whose result needs a value on the host
    # (item, nonzero, a boolean-mask index, a blocking copy back) raises there. So a step
    # (augmentation included) that runs on it cannot make the GPU wait for the host.
    tr = bench.build_trainer(method, size=16, batch=16, overrides=TINY, device="meta")
    for step in (0, 1):
        x1, x2 = tr.views(step)
        assert x1.device.type == "meta"
        tr.train_step(x1, x2, step)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA only")
@pytest.mark.parametrize("method", ["scd-moco", "scd-byol"])
def test_hot_path_no_cuda_sync(method):
    tr = bench.build_trainer(method, size=16, batch=16, overrides=TINY, device="cuda")
    tr.train_step(*tr.views(0), 0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        x1, x2 = tr.views(1)  # the augmentation too
        tr.train_step(x1, x2, 1)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_nan_is_caught_at_the_check():
    tr = _trainer("byol")
    real = tr.model.forward

    def poisoned(x1, x2):
        out = real(x1, x2)
        out.loss = out.loss * float("nan")
        return out

    tr.model.forward = poisoned
    tr.train_step(*tr.views(0), 0)  # recorded, not raised
    from scd_lab.train import TrainingDiverged
    with pytest.raises(TrainingDiverged, match="at step 0"):
        tr.check_finite(3)


def test_bench_end_to_end(tmp_path):
    res = bench.run_bench(["byol", "scd-moco", "supervised"], size=16, batch=16, rounds=2,
                          warmup=1, overrides=TINY, memory="process", lightly=False)
    assert set(res["methods"]) == {"byol", "scd-moco", "supervised"}
    assert res["methods"]["supervised"]["flops_per_image"] > 0  # counted with its labels
    r = res["methods"]["scd-moco"]
    assert r["images_per_s"] > 0 and r["flops_per_image"] > 0
    assert set(r["phases_s"]) == set(bench.PHASES)
    assert r["step_s"]["n"] == 2
    json.dumps(res)  # JSON-able
    md = bench.format_markdown(res)
    assert "| scd-moco |" in md and "n/a" in md  # no peak fraction on the CPU


def test_bench_ratios_and_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCD_LAB_MALLOC", "0")  # main() would tune this test process
    out = tmp_path / "b.json"
    assert cli_main(["bench", "--methods", "byol,scd-byol", "--size", "16", "--batch", "16",
                       "--rounds", "2", "--warmup", "0", "--memory", "off", "--quiet",
                       "--json", str(out), *sum((["--set", s] for s in TINY), [])]) == 0
    res = json.loads(out.read_text())
    (ratio,) = [r for r in res["ratios"] if r["method"] != "lightly-byol"]  # lightly: optional
    assert (ratio["method"], ratio["base"]) == ("scd-byol", "byol")
    assert ratio["step"]["median"] > 0
    assert "scd-byol / byol" in capsys.readouterr().out


def test_malloc_opt_out_and_respect():
    assert tune_malloc({"SCD_LAB_MALLOC": "0"}) == {}
    env = {"MALLOC_ARENA_MAX": "2"}
    assert tune_malloc(env) == {} and env == {"MALLOC_ARENA_MAX": "2"}
    env = {}
    applied = tune_malloc(env)
    if applied:  # glibc
        assert env["MALLOC_MMAP_THRESHOLD_"] == str(applied["MALLOC_MMAP_THRESHOLD_"])
        assert tune_malloc(env) == {}  # once


def test_bench_against_lightly_or_says_why_not(monkeypatch):
    import importlib.util

    kw = dict(size=16, batch=16, rounds=2, warmup=0, overrides=TINY, memory="off", flops=False)
    if importlib.util.find_spec("lightly") is not None:  # the optional extra `bench`
        res = bench.run_bench(["byol"], **kw)
        assert "lightly-byol" in res["methods"]
        assert [r for r in res["ratios"] if r["method"] == "lightly-byol"]
    monkeypatch.setitem(__import__("sys").modules, "lightly", None)  # not installed
    res = bench.run_bench(["byol"], **kw)
    assert "lightly-byol" not in res["methods"]
    assert any("lightly is not installed" in n and "[bench]" in n for n in res["notes"])


@pytest.mark.slow
def test_trainer_overhead_benchmark_runs(tmp_path):
    """benchmarks/trainer_overhead.py (the trainer against a bare loop) runs end to end."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "trainer_overhead.py"),
                           "--size", "16", "--batch", "16", "--steps", "2", "--pairs", "1"],
                          cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fit / bare loop = " in proc.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the answer on a machine without CUDA")
def test_a_gpu_that_is_not_there_is_one_line(capsys, tmp_path):
    from scd_lab.cli import main
    assert main(["bench", "--device", "cuda", "--methods", "byol"]) == 2
    assert capsys.readouterr().err.strip().endswith("--device cuda: torch sees no CUDA device "
                                                    "here; use cpu")
    assert main(["train", "--preset", "cpu", "--set", "train.device=cuda", "--out",
                 str(tmp_path / "run")]) == 2
    assert "train.device cuda: torch sees no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing written


def test_bench_summary_decode_and_compile_pair(monkeypatch):
    """The summary names the device and every ratio; NAME+compile is timed against NAME (here
    with a compiler that fails, so the fallback runs); the decode headroom is measured."""
    from scd_lab.train import compile as compile_mod

    def broken(model, mode):
        def fail(*args, **kwargs):
            raise RuntimeError("no compiler in this test")
        return fail

    monkeypatch.setattr(compile_mod, "_torch_compile", broken)
    res = bench.run_bench(["byol", "byol+compile"], size=16, batch=16, rounds=1, warmup=1,
                          overrides=TINY, memory="off", flops=False, lightly=False, decode=True)
    pairs = {(q["method"], q["base"]) for q in res["ratios"]}
    assert ("byol+compile", "byol") in pairs
    quantities = [row["quantity"] for row in res["summary"]]
    assert "byol+compile / byol (whole step, median)" in quantities
    assert any("decode headroom" in q for q in quantities)
    assert all(row["device"] == res["device_name"] for row in res["summary"])
    assert res["decode"]["device_images_per_s"] > 0 and res["decode"]["device_headroom"] > 0
    assert res["device_name"] in bench.format_markdown(res)
