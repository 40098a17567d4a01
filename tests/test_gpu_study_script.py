"""``scripts/gpu_study.sh``: its SMOKE=1 mode (the same pipeline on the CPU, tiny settings)
trains, probes, tabulates and collects the small results, as the GPU slot will."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_smoke_run_of_the_gpu_study(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, SMOKE="1", OUT=str(out), SCD_LAB_RUNS=str(tmp_path / "runs"),
               SCD_LAB_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1",
               # one split keeps the test short on 2 cores: the default split runs the same
               # commands (its lane only lacks the distinct-texture --set overrides)
               SPLITS="distinct")
    t0 = time.perf_counter()
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_study.sh")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    print(f"SMOKE=1 gpu_study.sh: {time.perf_counter() - t0:.0f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    methods = ("supervised", "byol", "scd-byol")
    table = (out / "study-table.md").read_text()
    for m in methods:
        assert f"| distinct-{m}-own-scd-a1 | 3 |" in table  # three seeds per trunk
    res = out / "results"
    for m in methods:
        run = res / "runs" / f"distinct-{m}"
        assert (run / "summary.json").is_file() and (run / "config.yaml").is_file()
        # the supervised run has its own lr, under its linear head's stability limit
        lr = re.search(r"\n  lr: (\S+)", (run / "config.yaml").read_text()).group(1)
        assert float(lr) == (0.05 if m == "supervised" else 0.2)
        kinds = [json.loads(line)["kind"] for line in (run / "metrics.jsonl").open()]
        assert kinds.count("saliency") >= 3  # step 0, each epoch, the end
        assert not (run / "checkpoints").exists()  # the checkpoints stay in $OUT/runs
        assert (out / "runs" / f"distinct-{m}" / "checkpoints" / "last.pt").is_file()
        seed0 = json.loads((res / "study" / f"distinct-{m}-own-scd-a1" / "seed0.json")
                           .read_text())
        assert seed0["device"] == "cpu" and "oracle_mask" in seed0
    assert (res / "study-table.md").read_text() == table
    rows = json.loads((res / "trunks-distinct.json").read_text())
    assert [Path(r["trunk"]).name for r in rows] == [f"distinct-{m}" for m in methods]
    curves = (res / "curves.md").read_text()
    assert all(f"| distinct-{m} |" in curves for m in methods)
    assert "SMOKE=1 DEVICE=cpu" in (res / "settings.txt").read_text()


@pytest.mark.slow
def test_smoke_run_of_the_gpu_session_bench_part(tmp_path):
    """``scripts/gpu_session.sh`` (the one device call): its benchmark part runs on the CPU and
    leaves the tables; with no time left for the study it says so and still ends cleanly."""
    out = tmp_path / "out"
    env = dict(os.environ, SMOKE="1", TOTAL_S_SMOKE="1", OUT=str(out), OMP_NUM_THREADS="1",
               BENCH_METHODS="byol,scd-byol", SCD_LAB_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_session.sh")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for net in ("r18", "r50"):
        assert "| scd-byol / byol |" in (out / f"bench-{net}.md").read_text()
        assert json.loads((out / f"bench-{net}.json").read_text())["methods"]["scd-byol"]
    log = (out / "session.log").read_text()
    assert "study:" in log and "no study results" in log and log.rstrip().endswith("done")
