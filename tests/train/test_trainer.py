"""The trainer: steps for every method, run directory, checkpoints, resume, NaN guard, DDP."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from scd_lab.methods import available_methods
from scd_lab.errors import RunError
from scd_lab.runs import build_run
from scd_lab.train import CheckpointError, TrainingDiverged, load_checkpoint, save_checkpoint
from scd_lab.rundir import RunDir

sys.path.insert(0, str(Path(__file__).parent))
from helpers import TINY, tiny_config, tiny_data  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data():
    return tiny_data()


@pytest.mark.parametrize("method", available_methods())
def test_two_steps_every_method(method, data, tmp_path):
    cfg = tiny_config(method, ["train.max_steps=2"])
    tr = build_run(cfg, tmp_path / "run", data=data)
    before = {k: v.clone() for k, v in tr.method.state_dict().items()}
    summary = tr.fit()
    after = tr.method.state_dict()
    assert summary["steps"] == 2
    changed = [k for k in before if before[k].dtype.is_floating_point
               and not torch.equal(before[k], after[k])]
    assert any("online_encoder" in k for k in changed)
    if method != "supervised":  # the supervised reference has no target network
        assert any("target_encoder" in k for k in changed)  # the EMA moved the target


def test_run_directory_schema(data, tmp_path):
    cfg = tiny_config("scd-byol", ["train.epochs=2"])
    build_run(cfg, tmp_path / "run", data=data).fit()
    rd = RunDir(tmp_path / "run")
    assert yaml.safe_load(rd.config_path.read_text())["method"]["name"] == "scd-byol"
    assert rd.config().method.proj_dim == 32  # resolved config round-trips
    meta = rd.meta()
    assert meta["method"] == "scd-byol" and meta["steps_per_epoch"] == 4
    kinds = [r["kind"] for r in rd.metrics()]
    assert kinds.count("knn") == 3 and kinds.count("saliency") == 3  # step 0 + 2 epochs
    assert kinds.count("train") == 8 and kinds[-1] == "summary"
    train = rd.metrics("train")[0]
    for key in ("step", "epoch", "lr", "momentum", "images_per_s", "loss", "loss_c", "loss_d",
                "scd_fg_mean", "scd_fg_spatial_std"):
        assert key in train, key
    sal = rd.metrics("saliency")[0]
    for name in ("scd_fg", "channel_sum"):
        for key in ("auroc", "best_iou", "iou@0.5", "polarity", "mean", "spatial_std",
                    "mean_map_std", "collapsed", "shortcut_ratio"):
            assert f"{name}/{key}" in sal
    assert 0.0 <= sal["scd_fg/auroc"] <= 1.0
    # at step 0 the saliency net's sigmoid is nearly constant: flagged as collapsed
    assert sal["scd_fg/collapsed"] is True and rd.metrics("saliency")[-1]["epoch"] == 2
    snaps = rd.snapshots()
    assert [s["step"] for s in snaps] == [0, 4, 8]
    assert snaps[0]["maps"]["scd_fg"].shape == (8, 8, 8)  # stride 4
    assert snaps[0]["maps"]["scd_fg"].dtype == torch.float16
    probe = rd.probe()
    assert probe["images"].shape == (8, 3, 32, 32) and probe["masks"].shape == (8, 32, 32)
    assert json.loads((rd.path / "summary.json").read_text())["knn_top1_init"] >= 0
    ck = load_checkpoint(rd.last_checkpoint)
    assert ck["step"] == 8 and ck["epoch"] == 2


def test_refuses_to_overwrite_a_run(data, tmp_path):
    cfg = tiny_config("byol", ["train.max_steps=1", "train.knn_every=0",
                               "train.snapshot_every=0"])
    build_run(cfg, tmp_path / "run", data=data).fit()
    with pytest.raises(RunError, match="already holds a finished run; choose another --out"):
        build_run(cfg, tmp_path / "run", data=data)
    (tmp_path / "run" / "summary.json").unlink()  # as if it had been stopped
    with pytest.raises(RunError, match="stopped run; continue it with `scd-lab train --resume"):
        build_run(cfg, tmp_path / "run", data=data)


def test_checkpoint_round_trip_and_bad_files(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "c.pt"
    save_checkpoint(path, model=model.state_dict(), optimizer=opt.state_dict(), step=5,
                    epoch=1, config={"a": 1})
    ck = load_checkpoint(path)
    assert ck["step"] == 5 and torch.equal(ck["model"]["weight"], model.weight)
    assert not list(tmp_path.glob("*.tmp"))  # the temporary file was renamed away
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not an scd_lab checkpoint"):
        load_checkpoint(foreign)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "scd_lab-checkpoint", "x": Evil()}, evil)
    with pytest.raises(CheckpointError):
        load_checkpoint(evil)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_interrupted_atomic_write_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, model={"w": torch.ones(2)}, optimizer={}, step=1, epoch=0, config={})

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model={"w": torch.zeros(2)}, optimizer={}, step=2, epoch=0,
                        config={})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert not list(tmp_path.glob(".last.pt.*"))


def test_nan_guard_keeps_last_good_checkpoint(data, tmp_path, monkeypatch):
    cfg = tiny_config("byol", ["train.epochs=3", "train.knn_every=0", "train.snapshot_every=0"])
    tr = build_run(cfg, tmp_path / "run", data=data)
    real = tr.model.forward

    def poisoned(x1, x2):
        out = real(x1, x2)
        if tr_step[0] >= 6:  # in the second epoch
            out.loss = out.loss * float("nan")
        tr_step[0] += 1
        return out

    tr_step = [0]
    monkeypatch.setattr(tr.model, "forward", poisoned)
    with pytest.raises(TrainingDiverged, match="step 6"):
        tr.fit()
    ck = load_checkpoint(tr.rundir.last_checkpoint)
    assert ck["step"] == 4  # end of epoch 1, written before the NaN
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())


def _cli(*args, env=None):
    return [sys.executable, "-m", "scd_lab.cli", *args]


def _train_args(out):
    sets = [a for s in TINY + ["train.epochs=4", "train.deterministic=true",
                               "data.num_train=96", "data.num_test=32", "data.num_classes=4",
                               "train.knn_every=0", "train.snapshot_every=0"]
            for a in ("--set", s)]
    return _cli("train", "--preset", "cpu", *sets, "--out", str(out))


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    env = {**os.environ, "SCD_LAB_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    subprocess.run(_train_args(tmp_path / "full"), check=True, env=env, cwd=REPO,
                   capture_output=True)
    proc = subprocess.Popen(_train_args(tmp_path / "killed"), env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "killed" / "checkpoints" / "last.pt"
    deadline = time.time() + 240
    while time.time() < deadline:
        if ckpt.exists():
            try:
                if 1 <= load_checkpoint(ckpt)["epoch"] < 4:
                    break
            except CheckpointError:
                pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stopped_at = load_checkpoint(ckpt)["step"]
    assert stopped_at < 24, "the run finished before it could be killed"
    subprocess.run(_cli("train", "--resume", str(tmp_path / "killed")), check=True, env=env,
                   cwd=REPO, capture_output=True)
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(ckpt)["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    steps = [r["step"] for r in RunDir(tmp_path / "killed").metrics("train")]
    assert steps == list(range(1, 25))  # every step's record once: no gap, no duplicate


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["scd-byol", "moco"])
def test_two_process_gloo_matches_one_process(method, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                    "--master_port", str(_free_port()), str(Path(__file__).parent /
                                                            "dist_worker.py"),
                    str(tmp_path), method], check=True, env=env, cwd=REPO,
                   capture_output=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=False)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=False)
    assert r0["world"] == 2
    assert not set(r0["idx"].tolist()) & set(r1["idx"].tolist())  # disjoint shards
    if method == "moco":
        # the queue holds the keys of both processes, in rank order, identically on both
        assert torch.equal(r0["queue"], r1["queue"])
        keys = torch.cat([r0["keys"], r1["keys"]]).float()
        assert torch.allclose(r0["queue"][: keys.shape[0]], keys)
        return
    # one process, the same global batch: DDP averages the per-process gradients, and BN
    # normalises over each process's half (what split BN simulates on one process)
    cfg = tiny_config(method, ["train.knn_every=0", "train.snapshot_every=0",
                               "train.batch_size=32"])
    ref = build_run(cfg, None, data=tiny_data())
    losses = [ref.model(r["x1"], r["x2"]).loss for r in (r0, r1)]
    (sum(losses) / 2).backward()
    for name, p in ref.method.named_parameters():
        if p.grad is None:
            continue
        assert torch.allclose(p.grad, r0["grads"][name], rtol=1e-4, atol=1e-6), name
        assert torch.allclose(r0["grads"][name], r1["grads"][name]), name


def test_eval_command_reproduces_the_runs_last_figures(tmp_path, monkeypatch):
    from scd_lab.runs.protocols import evaluate_run

    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path / "cache"))
    cfg = tiny_config("scd-byol", ["train.max_steps=4", "data.num_train=64",
                                   "data.num_test=32", "data.num_classes=4"])
    summary = build_run(cfg, tmp_path / "run").fit()  # data built from the config
    before = (tmp_path / "run" / "metrics.jsonl").read_text()
    out = evaluate_run(str(tmp_path / "run"))
    assert out["step"] == 4
    assert out["knn_top1"] == pytest.approx(summary["knn_top1"])
    assert out["scd_fg/auroc"] == pytest.approx(summary["scd_fg/auroc"])
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == before  # nothing written


def test_a_smoke_runs_summary_says_its_numbers_mean_nothing():
    from scd_lab.train import SMOKE_STEPS, format_summary
    base = {"method": "scd-byol", "epochs": 2.0, "wall_s": 3.0, "train_images_per_s": 40.0,
            "knn_top1_init": 0.18, "knn_top1": 0.15}  # a smoke run's kNN can fall
    smoke = format_summary({**base, "steps": 16}).splitlines()
    assert smoke[1] == ("  NOTE: a smoke run (16 steps, fewer than 100): it checks that the code "
                        "runs; its numbers mean nothing (too few steps to learn: kNN and AUROC "
                        "move by noise and may fall)")
    assert "NOTE" not in format_summary({**base, "steps": SMOKE_STEPS})  # the demo: 468 steps
