"""Every command the README shows in a ``bash`` block runs here, in a subprocess, as a user
runs it: with a tiny config where it would train for long. A README command without its
test below fails ``test_every_readme_command_is_covered``."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent / "train"))
from helpers import TINY  # noqa: E402
from testenv import SHARED_CACHE  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SMALL = [s for s in TINY if not s.startswith("train.knn_bank_size")] + [
    "data.num_train=128", "data.num_test=64", "data.num_classes=4", "train.knn_bank_size=128"]
TINY_TRUNK = ["backbone.arch=resnet_tiny", "backbone.widths=[8, 16, 16, 32]",
              "method.proj_hidden=64", "method.pred_hidden=64", "method.proj_dim=32",
              "train.batch_size=8", "train.max_steps=2", "train.progress=false",
              "data.image_size=16", "data.crop_size=16", "train.knn_bank_size=null"]


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        cmds += [line.strip() for line in block.replace("\\\n", " ").splitlines()
                 if line.strip() and not line.strip().startswith("#")]
    return cmds


def sets(overrides):
    return [a for s in overrides for a in ("--set", s)]


def run(cmd, tmp_path, check=0):
    env = {**os.environ, "SCD_LAB_CACHE": SHARED_CACHE,
           "SCD_LAB_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(c) for c in cmd], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == check, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


CLI = [sys.executable, "-m", "scd_lab.cli"]
COVERED = {
    "python -m pip install -e . && scd-lab demo": "test_demo_command",
    'python -m pip install -e ".[dev]" && python -m pytest': "CI itself (.ci/run)",
    'python -m pytest -m "not slow"': "CI itself (a subset of the whole suite)",
    'python -m pip install -e ".[docs]" && python scripts/website.py build':
        "tests/test_site.py (from a clean copy, notebooks from the execution cache)",
    "scd-lab explore --html runs/explorer.html --reference demo": "tests/test_site.py",
    "scd-lab data in100 --imagenet-root /data/imagenet --out data/imagenet100 --resize 112":
        "test_imagenet100_commands",
    "scd-lab train --preset in100-r18 --set data.root=data/imagenet100":
        "test_imagenet100_commands",
    "torchrun --nproc_per_node 4 -m scd_lab.cli train --preset in100-r18 --set "
    "train.sync_bn=true": "test_imagenet100_commands",
    "scd-lab eval report runs/demo/byol runs/demo/scd-byol runs/demo/lewel-byol --out "
    "runs/demo/report": "test_report_and_bench_commands",
    "scd-lab bench --preset cpu --size 32 --batch 64 --rounds 12":
        "test_report_and_bench_commands",
    "scd-lab sweep alpha lambda terms --seeds 0,1,2 --plot docs/figures/sweep-cpu.png":
        "test_sweep_and_study_commands",
    "scd-lab train --preset cpu --method supervised --out runs/trunks/sup-default":
        "test_sweep_and_study_commands",
    "scd-lab study objective --trunk runs/trunks/sup-default --alpha 1 --seeds 0,1,2 --oracle 0":
        "test_sweep_and_study_commands",
    "scd-lab study trunks runs/trunks/sup-default": "test_sweep_and_study_commands",
    "scd-lab study table": "test_sweep_and_study_commands",
    "scd-lab challenge runs/challenge/*": "tests/studies/test_challenge.py::test_command_line",
}


def test_every_readme_command_is_covered():
    missing = [c for c in readme_commands() if re.sub(r"\s+", " ", c) not in COVERED]
    assert missing == [], "README commands without a test: " + repr(missing)


@pytest.mark.slow
def test_demo_command(tmp_path):
    proc = run([*CLI, "demo", "--epochs", "1", *sets(SMALL)], tmp_path)
    assert "[demo] plan: 1 epochs of 8 steps" in proc.stdout
    assert (tmp_path / "runs" / "demo" / "saliency_evolution.png").is_file()
    assert "| scd-byol | scd_fg |" in (tmp_path / "runs" / "demo" / "results.md").read_text()


def fake_imagenet_of_the_cmc_list(root: Path, classes: int = 3) -> None:
    """A tiny ImageNet-1K tree with the first classes of the kit's ImageNet-100 list."""
    wnids = (REPO / "data" / "imagenet100.txt").read_text().split()[:classes]
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("val", 4)):
        for wnid in wnids:
            folder = root / split / wnid
            folder.mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
                Image.fromarray(arr).save(folder / f"{wnid}_{i}.JPEG", quality=90)


@pytest.mark.slow
def test_imagenet100_commands(tmp_path):
    fake_imagenet_of_the_cmc_list(tmp_path / "imagenet")
    proc = run([*CLI, "data", "in100", "--imagenet-root", tmp_path / "imagenet", "--out",
                tmp_path / "in100", "--resize", "16"], tmp_path, check=1)  # 97 classes missing
    assert "MISSING" in proc.stdout and (tmp_path / "in100" / "train_16.pt").is_file()
    common = ["--preset", "in100-r18", "--set", f"data.root={tmp_path / 'in100'}",
              *sets(TINY_TRUNK)]
    proc = run([*CLI, "train", *common, "--out", tmp_path / "one"], tmp_path)
    assert "imagenet100 (36 train images)" in proc.stdout and "2 steps" in proc.stdout
    port = str(29500 + os.getpid() % 1000)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_port", port, "-m", "scd_lab.cli", "train", *common]
    # SyncBN needs GPUs: on the CPU each process says so in one line (torchrun then reports
    # the failed processes in its own words) ...
    proc = run([*torchrun, "--set", "train.sync_bn=true", "--out", tmp_path / "two"], tmp_path,
               check=1)
    assert "train.sync_bn=true needs CUDA devices" in proc.stderr
    # ... and without it the same two-process run trains (gloo)
    proc = run([*torchrun, "--out", tmp_path / "two"], tmp_path)
    assert "x2" in proc.stdout and (tmp_path / "two" / "summary.json").is_file()


@pytest.mark.slow
def test_report_and_bench_commands(tmp_path):
    run([*CLI, "demo", "--epochs", "1", *sets(SMALL)], tmp_path)
    demo = tmp_path / "runs" / "demo"
    proc = run([*CLI, "eval", "report", demo / "byol", demo / "scd-byol", demo / "lewel-byol",
                "--out", demo / "report"], tmp_path)
    table = (demo / "report" / "report.md").read_text()
    assert table.count("\n|") >= 4 and "scd-byol" in table and "lewel-byol" in table
    assert (demo / "report" / "report_curves.png").is_file(), proc.stdout
    proc = run([*CLI, "bench", "--preset", "cpu", "--size", "16", "--batch", "8", "--rounds", "1",
                "--warmup", "0", "--methods", "byol,scd-byol", "--memory", "off",
                *sets(["backbone.widths=[8, 8, 16, 16]", "method.proj_hidden=32",
                       "method.pred_hidden=32", "method.proj_dim=16"])], tmp_path)
    assert "scd-byol / byol" in proc.stdout


@pytest.mark.slow
def test_sweep_and_study_commands(tmp_path):
    (tmp_path / "docs" / "figures").mkdir(parents=True)
    proc = run([*CLI, "sweep", "terms", "--cells", "fg+bg", "--seeds", "0,1", "--plot",
                "docs/figures/sweep-cpu.png", *sets(SMALL + ["train.max_steps=2"])], tmp_path)
    assert "| fg+bg | 2 |" in proc.stdout
    assert (tmp_path / "docs" / "figures" / "sweep-cpu.png").is_file()
    run([*CLI, "train", "--preset", "cpu", "--method", "supervised", "--out",
         "runs/trunks/sup-default", *sets(SMALL + ["train.max_steps=2"])], tmp_path)
    proc = run([*CLI, "study", "objective", "--trunk", "runs/trunks/sup-default", "--alpha", "1",
                "--seeds", "0,1,2", "--oracle", "0", "--steps", "3", "--batch", "16"], tmp_path)
    assert "| sup-default-own-scd-a1 | 3 |" in proc.stdout and "(n=1)" in proc.stdout
    proc = run([*CLI, "study", "trunks", "runs/trunks/sup-default", "--ceiling-steps", "5"],
               tmp_path)
    assert "| runs/trunks/sup-default | own |" in proc.stdout
    proc = run([*CLI, "study", "table"], tmp_path)
    assert proc.stdout.count("| sup-default-own-scd-a1 | 3 |") == 1
