"""The long GPU run of the speed issue, in one device call (< 9 min on one H100/H200, nothing
downloaded): BYOL, SCD-BYOL and LEWEL-BYOL end to end, long enough to separate the methods.

Setting: the earlier GPU study's (ResNet-18 small stem, 64 px views, the distinct-texture
split, batch 256, lr 0.2 at 256; scripts/gpu_study.sh, docs/findings.md) with 16,000 training
images and 20 epochs: 62 steps per epoch, 1,240 optimizer steps per method, 3.3x the study's 372.
kNN and the maps are measured and snapshotted every epoch (16 probe images, so that the three
runs stay small enough to ship). Each run gets an equal share of the time left; a run that
runs out of time stops there and keeps its records (it says so in the log).

What comes back under --out: runs/<name> (run folders, no checkpoints: what
scd_lab/shipped/reference_runs holds; copy them there as ``long64-*``), long_run.json (kNN and
map AUROC by epoch, img/s, wall time per run) and long_run.log.

    python scripts/gpu_long_run.py --out $OUT/long                 # on the lent GPU
    python scripts/gpu_long_run.py --dry-run --out /tmp/long        # tiny, on the CPU (tests)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("byol", "scd-byol", "lewel-byol")
SPLIT = ["data.num_classes=5", "data.distinct_textures=true", "data.camouflage=0.0"]


def overrides(dry: bool) -> list[str]:
    """The ``--set`` overrides of every run (the `cpu` preset's recipe, this run's scale)."""
    if dry:
        scale = ["backbone.arch=resnet_tiny", "data.crop_size=16", "data.num_train=64",
                 "data.num_test=32", "train.batch_size=16", "train.epochs=2",
                 "train.device=cpu", "method.proj_hidden=64", "method.pred_hidden=64",
                 "method.proj_dim=32", "method.lewel_slot_hidden=64", "train.probe_size=8"]
    else:
        scale = ["backbone.arch=resnet18", "data.crop_size=64", "data.num_train=16000",
                 "data.num_test=1000", "train.batch_size=256", "train.epochs=20",
                 "train.device=cuda", "optim.lr=0.2", "train.probe_size=16",
                 "method.lewel_slot_hidden=1024"]  # 2 C for ResNet-18's C = 512
    return ["backbone.small_stem=true", *SPLIT, *scale, "train.knn_every=1",
            "train.snapshot_every=1", "train.ckpt_every=0", "train.progress=false"]


def curves(run: Path) -> dict:
    """kNN top-1 and the default map's AUROC by epoch, and the summary, from a run folder."""
    recs = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    knn = [(r["epoch"], r["knn_top1"]) for r in recs if r["kind"] == "knn"]
    sal = [(r["epoch"], {k: v for k, v in r.items() if k.endswith("/auroc")})
           for r in recs if r["kind"] == "saliency"]
    summary = run / "summary.json"
    return {"knn_top1": knn, "auroc": sal,
            "summary": json.loads(summary.read_text()) if summary.is_file() else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/gpu-long")
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU (the test)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    total_s = float(os.environ.get("TOTAL_S", 200 if args.dry_run else 510))
    t0 = time.time()
    log = open(out / "long_run.log", "a")

    def say(line: str) -> None:
        line = f"[long +{time.time() - t0:.0f}s] {line}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    results = {"overrides": overrides(args.dry_run), "runs": {}}
    for i, method in enumerate(METHODS):
        name = f"long64-{method}"
        run = out / "runs" / name
        budget = (total_s - (time.time() - t0)) / (len(METHODS) - i)
        say(f"{name}: training (at most {budget:.0f} s)")
        cmd = [sys.executable, "-m", "scd_lab.cli", "train", "--preset", "cpu", "--method",
               method, "--out", str(run)] + sum((["--set", s] for s in overrides(args.dry_run)),
                                                [])
        start = time.time()
        try:
            proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                                  timeout=max(budget, 1))
            status = "done" if proc.returncode == 0 else f"failed (rc {proc.returncode})"
            (out / f"{name}.log").write_text(proc.stdout + proc.stderr)
        except subprocess.TimeoutExpired:
            status = "stopped: out of time (its records so far are kept)"
        shutil.rmtree(run / "checkpoints", ignore_errors=True)
        res = {"status": status, "wall_s": round(time.time() - start, 1)}
        if (run / "metrics.jsonl").is_file():
            res.update(curves(run))
        results["runs"][name] = res
        say(f"{name}: {status}, {res['wall_s']} s; kNN by epoch "
            f"{[round(v, 3) for _, v in res.get('knn_top1', [])]}")
        (out / "long_run.json").write_text(json.dumps(results, indent=2))
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
