"""The rough edges a new user hit (issue: the library as notebooks need it), one test each."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

from scd_lab.config import apply_overrides, get_preset
from scd_lab.errors import ConfigError
from scd_lab.methods import BYOL, SCD, MoCo, build_method
from scd_lab.methods.moco import SplitBatchNorm2d, split_batchnorm
from scd_lab.models import build_backbone
from scd_lab.runs import build_run, ensure_run, is_finished_run_of, load_run
from scd_lab.train import Callback
from scd_lab.rundir import RunDir

sys.path.insert(0, str(Path(__file__).parent))
from helpers import tiny_config, tiny_data  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return tiny_data()


class StopAt(Callback):
    """Raise KeyboardInterrupt after ``step`` (as Ctrl-C in a notebook would)."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer, step, out, record):
        if step == self.step:
            raise KeyboardInterrupt


def test_resume_keeps_every_record_once(data, tmp_path):
    cfg = tiny_config("scd-byol", ["train.epochs=2"])  # 4 steps per epoch, log_every 1
    with pytest.raises(KeyboardInterrupt):
        build_run(cfg, tmp_path / "run", data=data, callbacks=[StopAt(6)]).fit()
    assert RunDir(tmp_path / "run").metrics("train")[-1]["step"] == 6  # past the checkpoint
    summary = ensure_run(cfg, tmp_path / "run", data=data)  # resumes from step 4
    rd = RunDir(tmp_path / "run")
    assert [r["step"] for r in rd.metrics("train")] == list(range(1, 9))
    assert [r["step"] for r in rd.metrics("knn")] == [0, 4, 8]
    assert [r["step"] for r in rd.metrics("saliency")] == [0, 4, 8]
    assert [s["step"] for s in rd.snapshots()] == [0, 4, 8]
    assert summary["knn_top1_init"] == rd.metrics("knn")[0]["knn_top1"]
    # the same figures as a run that was never interrupted (seeds by step, not by process)
    full = build_run(cfg, tmp_path / "full", data=data).fit()
    assert full["knn_top1"] == summary["knn_top1"]
    assert full["scd_fg/auroc"] == pytest.approx(summary["scd_fg/auroc"], abs=1e-6)


def test_ensure_run_refuses_a_run_of_another_config(data, tmp_path):
    cfg = tiny_config("byol", ["train.max_steps=1", "train.knn_every=0"])
    ensure_run(cfg, tmp_path / "run", data=data)
    other = apply_overrides(cfg, ["method.base_momentum=0.9"])
    with pytest.raises(Exception, match=r"another config \(method.base_momentum") as err:
        ensure_run(other, tmp_path / "run", data=data)
    # the fix, named: a folder of its own (a notebook's RUN renamed), or delete the old run
    assert "set RUN to a new name" in str(err.value) and "run-base_momentum0.9" in str(err.value)
    assert f"--out {tmp_path / 'run-base_momentum0.9'}" in str(err.value)


def test_is_finished_run_of_says_when_ensure_run_would_reuse(data, tmp_path):
    cfg = tiny_config("byol", ["train.max_steps=1", "train.knn_every=0"])
    assert not is_finished_run_of(cfg, tmp_path / "run")  # nothing there
    build_run(cfg, tmp_path / "run", data=data)  # started: config written, no summary yet
    assert not is_finished_run_of(cfg, tmp_path / "run")
    ensure_run(cfg, tmp_path / "run", data=data)
    assert is_finished_run_of(cfg, tmp_path / "run")
    assert is_finished_run_of(apply_overrides(cfg, ["train.progress=true"]), tmp_path / "run")
    assert not is_finished_run_of(apply_overrides(cfg, ["train.epochs=2"]), tmp_path / "run")


@pytest.mark.parametrize("every,expected", [(0, False), (1, True)])
def test_every_zero_means_never(data, tmp_path, every, expected):
    cfg = tiny_config("byol", ["train.epochs=2", f"train.ckpt_every={every}",
                               f"train.knn_every={every}", f"train.snapshot_every={every}"])
    build_run(cfg, tmp_path / "run", data=data).fit()
    rd = RunDir(tmp_path / "run")
    assert rd.last_checkpoint.exists() is expected
    assert bool(rd.metrics("knn")) is expected and bool(rd.snapshots()) is expected


def test_epoch_means_epochs_completed_everywhere(data, tmp_path):
    cfg = tiny_config("scd-byol", ["train.max_steps=2"])  # half of an epoch of 4 steps
    build_run(cfg, tmp_path / "run", data=data).fit()
    rd = RunDir(tmp_path / "run")
    assert rd.snapshots()[-1]["epoch"] == 0.5
    assert rd.metrics("saliency")[-1]["epoch"] == 0.5 and rd.metrics("train")[-1]["epoch"] == 0.5
    run = load_run(tmp_path / "run", with_data=False)
    assert (run.step, run.epoch) == (2, 0.5)


def test_cpu_preset_queue_fits_its_dataset():
    cfg = get_preset("cpu")
    for name in ("moco", "scd-moco", "lewel-moco"):
        method = build_method(cfg, name)
        method.check_dataset(5000)  # the cpu tier's training set
    with pytest.raises(ConfigError, match="queue_size=4096 exceeds the 1000 training images"):
        build_method(cfg, "scd-moco").check_dataset(1000)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["moco", "scd-moco"])
def test_cpu_preset_trains_moco_on_its_own_data(name, tmp_path, monkeypatch):
    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path / "cache"))
    cfg = apply_overrides(get_preset("cpu"), [f"method.name={name}", "train.max_steps=1",
                                              "train.knn_every=0", "train.snapshot_every=0",
                                              "train.progress=false"])
    assert build_run(cfg, None).fit()["steps"] == 1


def test_split_batchnorm_equals_bn_per_group():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5), bn.bias.uniform_(-1, 1)
    split = split_batchnorm(nn.Sequential(bn), 2)[0]
    assert isinstance(split, SplitBatchNorm2d) and split.splits == 2
    x = torch.randn(32, 3, 4, 4)
    out = split(x)
    ref = nn.BatchNorm2d(3)
    ref.load_state_dict(bn.state_dict())
    for j in range(2):  # group j: samples j, j + 2, ...
        torch.testing.assert_close(out[j::2], nn.functional.batch_norm(
            x[j::2], None, None, ref.weight, ref.bias, True, 0.1, ref.eps))
    split.eval()
    torch.testing.assert_close(split(x), nn.functional.batch_norm(
        x, split.running_mean, split.running_var, split.weight, split.bias, False, 0.1, bn.eps))
    small = split_batchnorm(nn.Sequential(nn.BatchNorm2d(3)), 8)[0]  # 8 per group at least
    torch.testing.assert_close(small(x[:8]), nn.BatchNorm2d(3)(x[:8]))


def test_moco_shuffles_the_target_bn_and_scd_moco_its_target_saliency():
    trunk = build_backbone("resnet_tiny", small_stem=True, widths=(8, 8, 16, 16))
    scd = SCD(MoCo(trunk, proj_hidden=32, proj_dim=16, queue_size=64, bn_splits=4))
    bns = lambda m: [x for x in m.modules() if isinstance(x, nn.BatchNorm2d)]  # noqa: E731
    assert all(isinstance(b, SplitBatchNorm2d) for b in bns(scd.base.target_encoder))
    assert all(isinstance(b, SplitBatchNorm2d) for b in bns(scd.target_saliency))
    assert not any(isinstance(b, SplitBatchNorm2d) for b in bns(scd.base.online_encoder))
    assert not any(isinstance(b, SplitBatchNorm2d) for b in bns(scd.saliency))
    # the EMA still pairs every online parameter with its target twin
    for o, t in scd.momentum_pairs():
        assert [p.shape for p in o.parameters()] == [p.shape for p in t.parameters()]
    # on a batch of 32 the key features differ from unshuffled, unsplit BN ...
    x = torch.randn(32, 3, 16, 16)
    plain = scd.base.target_encoder
    with torch.no_grad():
        ref = nn.Sequential()  # the same weights with plain BN
        ref = build_backbone("resnet_tiny", small_stem=True, widths=(8, 8, 16, 16))
        ref.load_state_dict(plain.state_dict())
        f_ref = ref(x)
    f = scd.base.target_apply(plain, x)
    assert f.shape == f_ref.shape and not torch.allclose(f, f_ref, atol=1e-4)
    # ... and the shuffle is undone: with one group the output is plain BN's, in order
    one = MoCo(build_backbone("resnet_tiny", small_stem=True, widths=(8, 8, 16, 16)),
               proj_hidden=32, proj_dim=16, queue_size=64, bn_splits=1)
    ref.load_state_dict(one.target_encoder.state_dict())
    torch.testing.assert_close(one.target_apply(one.target_encoder, x), ref(x),
                               rtol=1e-4, atol=1e-5)
    assert BYOL(build_backbone("resnet_tiny", small_stem=True)).target_apply(
        nn.Identity(), x) is not None


def test_joint_semantic_bn_sends_one_batch_through_the_predictor():
    trunk = build_backbone("resnet_tiny", small_stem=True, widths=(8, 8, 16, 16))
    base = BYOL(trunk, proj_hidden=32, proj_dim=16, pred_hidden=32)
    seen = []
    for mode in ("joint", "separate"):
        scd = SCD(base, semantic_predictor=True, semantic_bn=mode)
        calls = []  # the rows each BN normalises together (projector < 0, predictor > 0)
        scd.sem_predictor[1].register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
        scd.sem_projector[1].register_forward_hook(lambda m, i, o: calls.append(-i[0].shape[0]))
        scd(torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16))
        seen.append(calls)
    assert seen[0] == [-8, 8]  # joint: one BN batch of 2B rows, through projector and predictor
    assert seen[1] == [-4, -4, 4, 4]  # separate: two batches of B each


def test_num_workers_reaches_the_folder_decoder(monkeypatch, tmp_path):
    import scd_lab.data as data_module

    seen = []
    monkeypatch.setattr(data_module, "ImageFolderDataset",
                        lambda *a, **k: types.SimpleNamespace(class_names=["a"]))
    monkeypatch.setattr(data_module, "to_image_array",
                        lambda ds, num_workers=0, **k: seen.append(num_workers))
    (tmp_path / "train").mkdir()
    data_module.build_datasets("folder", 32, str(tmp_path), num_workers=3)
    assert seen == [3, 3]
