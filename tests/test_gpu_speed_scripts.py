"""``scripts/gpu_speed.py`` and ``scripts/gpu_long_run.py``: their --dry-run modes (the same
stages on the CPU, tiny sizes) run to the end and write what the GPU call will bring back."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", TORCHDYNAMO_DISABLE="1",  # no compiler here
               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--dry-run",
                           "--out", str(out)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=400)


@pytest.mark.slow
def test_speed_script_dry_run(tmp_path):
    proc = _run("gpu_speed.py", tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads((tmp_path / "speed.json").read_text())
    assert "skipped" in res["sync"]  # no CUDA here
    ratios = {(q["method"], q["base"]) for q in res["r50"]["ratios"]}
    assert {("scd-byol", "byol"), ("lewel-byol", "byol-2x")} <= ratios
    assert res["r50"]["decode"]["device_headroom"] > 0
    assert ("byol+compile", "byol") in {(q["method"], q["base"])
                                         for q in res["compile"]["default"]["ratios"]}
    for decode in ("device", "cpu"):
        assert res["stream"][decode]["summary"]["train_images_per_s"] > 0
    assert "| scd-moco / moco |" in (tmp_path / "bench-r18.md").read_text()
    assert (tmp_path / "speed.log").read_text().rstrip().endswith("done")


@pytest.mark.slow
def test_long_run_script_dry_run(tmp_path):
    proc = _run("gpu_long_run.py", tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads((tmp_path / "long_run.json").read_text())
    for method in ("byol", "scd-byol", "lewel-byol"):
        run = res["runs"][f"long64-{method}"]
        assert run["status"] == "done" and len(run["knn_top1"]) == 3  # step 0 + every epoch
        folder = tmp_path / "runs" / f"long64-{method}"
        assert len(list((folder / "snapshots").iterdir())) == 3
        assert not (folder / "checkpoints").exists()
