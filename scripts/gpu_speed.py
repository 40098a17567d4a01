"""The speed issue's GPU measurements in one device call (< 9 min on one H100/H200, nothing
downloaded): JSON and a log under --out after every stage, so a stopped call keeps what it has.

Stages (each skipped, and said so, when the time left is too short):
  1. sync: one step of every method under ``torch.cuda.set_sync_debug_mode("error")``;
  2. r18: ``scd-lab bench``, ResNet-18 small stem at 96 px, batch 512 (every ratio, % of the
     dense bf16 peak, augmentation share);
  3. compile: BYOL and SCD-BYOL against ``+compile`` (default mode, then reduce-overhead = CUDA
     graphs), same model as 2;
  4. r50: the paper setting, ResNet-50 standard stem at 224 px (from 256 px images), batch 128:
     BYOL, SCD-BYOL, LEWEL-BYOL and symmetric BYOL, interleaved, with the decode headroom;
  5. stream: BYOL ResNet-50 at 224 px trained from JPEGs through ``data.stream`` (JPEGs written
     here, ImageNet-like 500 x 375), decoded on the GPU (``data.decode=device``) and by PIL
     workers: the images/s a run gets end to end.

    python scripts/gpu_speed.py --out $OUT/speed                   # on the lent GPU
    python scripts/gpu_speed.py --dry-run --out /tmp/speed          # tiny, on the CPU (tests)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scd_lab.config import METHOD_DEFAULTS, apply_overrides, get_preset  # noqa: E402
from scd_lab.runs.build import build_run  # noqa: E402
from scd_lab.studies import bench  # noqa: E402
from scd_lab.studies.decode_bench import write_jpegs  # noqa: E402

TINY = ["backbone.arch=resnet_tiny", "backbone.widths=[8, 16, 16, 32]", "method.proj_hidden=64",
        "method.pred_hidden=64", "method.proj_dim=32", "method.queue_size=64",
        "method.lewel_slot_hidden=64"]


def settings(dry: bool) -> dict:
    """The sizes of each stage: the real ones, or tiny CPU ones for ``--dry-run``."""
    if dry:
        small = dict(preset="cpu", size=16, batch=16, rounds=1, warmup=1, overrides=TINY,
                     memory="off", lightly=False)
        return dict(device="cpu", total_s=240, r18=small, compile=dict(small, flops=False),
                    r50=dict(small, decode=True), stream=dict(images=40, batch=8, steps=3,
                                                              workers=1, overrides=TINY))
    r18 = dict(preset="in100-r18", size=96, batch=512, rounds=10, warmup=3)
    return dict(device="cuda", total_s=510, r18=r18,
                compile=dict(r18, rounds=8, warmup=3, flops=False, lightly=False),
                r50=dict(preset="paper-scd-byol-r50", size=224, batch=128, rounds=5, warmup=2,
                         decode=True, lightly=False),
                stream=dict(images=1536, batch=256, steps=30, workers=8, overrides=[]))


class Session:
    """Deadline, log and the JSON of results (rewritten after every stage)."""

    def __init__(self, out: Path, total_s: float):
        self.out, self.t0, self.total_s = out, time.time(), total_s
        self.results: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S")}
        out.mkdir(parents=True, exist_ok=True)
        self.log_file = open(out / "speed.log", "a")

    def left(self) -> float:
        return self.total_s - (time.time() - self.t0)

    def say(self, line: str) -> None:
        line = f"[speed +{time.time() - self.t0:.0f}s] {line}"
        print(line, flush=True)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    def stage(self, name: str, need_s: float, fn) -> None:
        if self.left() < need_s:
            self.say(f"{name}: skipped, {self.left():.0f} s left (needs ~{need_s:.0f})")
            self.results[name] = {"skipped": f"{self.left():.0f} s left"}
        else:
            self.say(f"{name}: start")
            try:
                self.results[name] = fn()
            except Exception as exc:  # one stage's failure must not lose the others
                self.say(f"{name}: failed: {type(exc).__name__}: {exc}")
                self.results[name] = {"error": traceback.format_exc(limit=3)}
        (self.out / "speed.json").write_text(json.dumps(self.results, indent=2, default=str))


def sync_check(device: str) -> dict:
    if device != "cuda":
        return {"skipped": "no CUDA device (tests/train/test_sync_free.py checks the ops)"}
    out = {}
    for method in METHOD_DEFAULTS:
        tr = bench.build_trainer(method, size=16, batch=16, overrides=TINY, device="cuda")
        tr.train_step(*tr.views(0), 0)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            tr.train_step(*tr.views(1), 1)
            out[method] = "no sync"
        except RuntimeError as exc:
            out[method] = f"sync: {exc}".splitlines()[0]
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return out


def bench_stage(s: Session, name: str, methods, device: str, **kw) -> dict:
    res = bench.run_bench(methods, device=device, progress=s.say, **kw)
    (s.out / f"bench-{name}.md").write_text(bench.format_markdown(res) + "\n")
    return res


def compile_stage(s: Session, device: str, kw: dict) -> dict:
    out = {"default": bench_stage(s, "compile", ["byol", "byol+compile", "scd-byol",
                                                 "scd-byol+compile"], device, **kw)}
    if device == "cuda" and s.left() > 150:
        extra = dict(kw, overrides=[*kw.get("overrides", ()),
                                    "train.compile_mode=reduce-overhead"])
        out["reduce-overhead"] = bench_stage(s, "compile-graphs", ["byol", "byol+compile"],
                                             device, **extra)
    return out


def stream_stage(s: Session, device: str, st: dict) -> dict:
    """BYOL at the paper setting trained from JPEGs (``data.stream``), each decoder."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        kb = write_jpegs(tmp, st["images"])
        out["jpegs"] = {"n": st["images"], "mean_kb": round(kb, 1)}
        for decode in ("device", "cpu"):
            cfg = apply_overrides(get_preset("paper-scd-byol-r50"), [
                "method.name=byol", "data.dataset=folder", f"data.root={tmp}",
                "data.stream=true", f"data.decode={decode}", f"train.batch_size={st['batch']}",
                f"train.max_steps={st['steps']}", f"train.num_workers={st['workers']}",
                f"train.device={device}", "train.knn_every=0", "train.snapshot_every=0",
                "train.ckpt_every=0", "train.progress=false", "train.log_every=5",
                "train.knn_bank_size=32", "train.probe_size=8",
                *st["overrides"]])
            tr = build_run(cfg, None, data=_stream_data(cfg))
            summary = tr.fit()
            rates = [r["images_per_s"] for r in tr.history if r["kind"] == "train"][1:]
            out[decode] = {"summary": summary, "images_per_s_after_first_log": rates}
            s.say(f"stream, decode={decode}: {summary['train_images_per_s']} img/s "
                  f"(later windows: {[round(r) for r in rates]})")
    return out


def _stream_data(cfg):
    """The stream of ``cfg`` (its folder is also the held-out split: only speed is measured)."""
    from scd_lab.data.folder import ImageFolderDataset, to_image_array
    from scd_lab.data.stream import StreamingFolder
    d, t = cfg.data, cfg.train
    train = StreamingFolder(d.root, d.image_size, t.batch_size, t.seed, t.num_workers,
                            decode=d.decode, device=t.device)
    held = torch.utils.data.Subset(ImageFolderDataset(d.root, d.image_size), range(32))
    return train, to_image_array(held)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/gpu-speed")
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU (the test)")
    args = ap.parse_args(argv)
    cfg = settings(args.dry_run)
    dev = cfg["device"]
    s = Session(Path(args.out), float(os.environ.get("TOTAL_S", cfg["total_s"])))
    s.results["device"] = torch.cuda.get_device_name() if dev == "cuda" else "cpu"
    s.results["torch"] = torch.__version__
    s.say(f"device {s.results['device']}, torch {torch.__version__}, {s.left():.0f} s budget")
    s.stage("sync", 20, lambda: sync_check(dev))
    s.stage("r18", 60, lambda: bench_stage(
        s, "r18", ["byol", "scd-byol", "moco", "scd-moco", "lewel-byol"], dev, **cfg["r18"]))
    s.stage("r50", 90, lambda: bench_stage(s, "r50", ["byol", "scd-byol", "lewel-byol"], dev,
                                           **cfg["r50"]))
    s.stage("stream", 60, lambda: stream_stage(s, dev, cfg["stream"]))
    s.stage("compile", 120, lambda: compile_stage(s, dev, cfg["compile"]))
    s.say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
