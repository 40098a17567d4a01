"""data.stream=true: a run trains from a JPEG folder decoded step by step in DataLoader
workers, with the same views as the in-memory path and its bad files skipped and counted."""
from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scd_lab.config import ConfigError
from scd_lab.data.stream import StreamingFolder
from scd_lab.runs import build_run

sys.path.insert(0, str(Path(__file__).parent))
from helpers import tiny_config  # noqa: E402


def _jpeg(seed: int, size=(40, 36)) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """root/{train,val}/{a,b}/*.JPEG; train also holds a truncated JPEG (passes the header
    check, fails to decode), a non-JPEG and a text file (both dropped at index time)."""
    root = tmp_path_factory.mktemp("jpegs")
    for split, n in (("train", 10), ("val", 4)):
        for c, name in enumerate("ab"):
            d = root / split / name
            d.mkdir(parents=True)
            for i in range(n):
                (d / f"{i:02d}.JPEG").write_bytes(_jpeg(1000 * c + 100 * len(split) + i))
    good = _jpeg(7)
    (root / "train" / "a" / "truncated.JPEG").write_bytes(good[: len(good) // 2])
    (root / "train" / "b" / "garbage.JPEG").write_bytes(b"not a jpeg")
    (root / "train" / "b" / "notes.txt").write_text("not an image")
    return root


def _config(root, stream: bool, extra=()):
    return tiny_config("scd-byol", ["data.dataset=folder", f"data.root={root}",
                                    f"data.stream={str(stream).lower()}", "train.batch_size=4",
                                    "train.knn_bank_size=8", "train.probe_size=4", *extra])


def test_stream_needs_a_folder():
    with pytest.raises(ConfigError, match="data.stream"):
        tiny_config("byol", ["data.stream=true"])


def test_streamed_views_equal_in_memory_views(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        streamed = build_run(_config(folder, True), None)
        memory = build_run(_config(folder, False), None)
    assert isinstance(streamed.data, StreamingFolder) and not memory.streaming
    assert len(streamed.data) == len(memory.data) == 21  # 20 good + the truncated one
    for step in range(streamed.steps_per_epoch + 2):  # across an epoch boundary
        for a, b in zip(streamed.views(step), memory.views(step)):
            assert torch.equal(a, b), step
        assert torch.equal(streamed.labels(step), memory.labels(step))
    streamed.data.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_streamed_run_trains_and_counts_bad_files(folder, tmp_path, workers):
    cfg = _config(folder, True, [f"train.num_workers={workers}", "train.max_steps=6"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = build_run(cfg, tmp_path / "run")
        before = [p.clone() for p in tr.method.parameters()]
        summary = tr.fit()
    assert summary["steps"] == 6 and "knn_top1" in summary  # the monitors ran too
    assert any(not torch.equal(a, b) for a, b in zip(before, tr.method.parameters()))
    meta = tr.rundir.meta()
    assert meta["num_train"] == 21 and meta["data_skipped"] == 2
    bad = [i for i, (p, _) in enumerate(tr.data.folder.samples) if "truncated" in p][0]
    seen = sum(int((tr.batch_indices(s) == bad).sum()) for s in range(6))
    assert tr.data.num_failed == seen > 0  # 6 steps of 4 cover more than one epoch of 21
    assert tr.rundir.metrics("train")[-1]["data_failed"] == seen
