"""StreamingFolder: the same batches as the in-memory folder path, bad files skipped/counted."""
from __future__ import annotations

import warnings

import pytest
import torch

from scd_lab.data import ImageFolderDataset, to_image_array
from scd_lab.data.stream import StreamingFolder
from scd_lab.data.sampling import batch_indices
from scd_lab.errors import DataError
from scd_lab.data.sampling import seed_for


def _folder(root, images):
    for c, n in (("a", 9), ("b", 7)):
        images.write(root / c, n, seed=ord(c))
    good = images.jpeg_bytes(5, size=(160, 120))
    (root / "a" / "truncated.JPEG").write_bytes(good[: len(good) // 2])  # passes verify
    (root / "b" / "garbage.JPEG").write_bytes(b"not a jpeg")  # dropped at index time
    (root / "b" / "notes.txt").write_text("not an image")
    return root


def _trainer_indices(step, n, batch, seed):
    # Trainer.batch_indices, written out (one process).
    epoch, i = divmod(step, n // batch)
    g = torch.Generator().manual_seed(seed_for(seed, epoch))
    return torch.randperm(n, generator=g)[i * batch:(i + 1) * batch]


def test_batch_indices_match_the_trainer():
    for step in (0, 3, 7, 11):
        assert torch.equal(batch_indices(step, 50, 8, 3), _trainer_indices(step, 50, 8, 3))
    # two processes: each gets its contiguous half of the global batch
    both = torch.cat([batch_indices(5, 50, 8, 3, rank=r, world=2) for r in (0, 1)])
    assert torch.equal(both, _trainer_indices(5, 50, 8, 3))


@pytest.mark.parametrize("workers", [0, 2])
def test_same_batches_as_in_memory_path(tmp_path, images, workers):
    root = _folder(tmp_path / "train", images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = ImageFolderDataset(root, 16)
        memory = to_image_array(ds)
        stream = StreamingFolder(root, 16, batch_size=4, seed=7, num_workers=workers)
    assert len(stream) == len(memory) == 17  # 16 good + the truncated one (replaced)
    assert stream.num_skipped == 2  # garbage + notes.txt
    steps = range(0, 2 * stream.steps_per_epoch + 1)  # crosses two epoch boundaries
    got = list(stream.iterate(steps.start, steps.stop))
    assert [s for s, _, _ in got] == list(steps)
    for step, imgs, labels in got:
        idx = _trainer_indices(step, len(memory), 4, 7)
        assert imgs.dtype == torch.uint8 and imgs.shape == (4, 3, 16, 16)
        assert torch.equal(imgs, memory.images[idx])
        assert torch.equal(labels, memory.labels[idx])
    bad = [i for i, (p, _) in enumerate(stream.folder.samples) if "truncated" in p][0]
    expected = sum(int((_trainer_indices(s, 17, 4, 7) == bad).sum()) for s in steps)
    assert stream.num_failed == expected > 0


def test_batch_resumes_at_any_step(tmp_path, images):
    root = tmp_path / "train"
    images.write(root / "a", 10, seed=1)
    stream = StreamingFolder(root, 8, batch_size=4, seed=0)
    first = [stream.batch(s)[0] for s in (0, 1, 2)]
    again = stream.batch(1)[0]  # out of sequence: the stream restarts there
    assert torch.equal(again, first[1])
    assert torch.equal(stream.batch(2)[0], first[2])
    stream.close()


def test_too_few_images(tmp_path, images):
    images.write(tmp_path / "t" / "a", 3)
    with pytest.raises(DataError, match="fewer than"):
        StreamingFolder(tmp_path / "t", 8, batch_size=4)


def test_decode_batch_on_the_cpu_matches_pil(images):
    """torchvision's decode of a batch (the path nvJPEG takes on a GPU), on the CPU: the same
    images as PIL's path up to resampling, a bad file replaced and counted."""
    from torchvision.io import decode_jpeg  # noqa: F401 - skip cleanly if missing
    from PIL import Image
    import io
    import numpy as np

    from scd_lab.data.stream import decode_batch
    ys, xs = np.mgrid[0:48, 0:64]
    smooth = [np.stack([xs * 4, ys * 5, (xs + ys) * 2 + 9 * k], -1).clip(0, 255).astype(np.uint8)
              for k in range(3)]  # (48, 64, 3) gradients: resampling differences stay small
    datas = []
    for arr in smooth:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=95)
        datas.append(torch.frombuffer(bytearray(buf.getvalue()), dtype=torch.uint8))
    batch, source = decode_batch(datas, 24, "cpu")
    assert batch.shape == (3, 3, 24, 24) and batch.dtype == torch.uint8
    assert source.tolist() == [0, 1, 2]
    for k, arr in enumerate(smooth):  # PIL: shorter side 48 -> 24, centre crop of 32 -> 24
        ref = np.asarray(Image.fromarray(arr).resize((32, 24), Image.BILINEAR))[:, 4:28]
        diff = (batch[k].permute(1, 2, 0).float() - torch.from_numpy(ref.copy()).float()).abs()
        assert float(diff.mean()) < 3.0
    bad = torch.frombuffer(bytearray(b"not a jpeg at all"), dtype=torch.uint8)
    batch2, source2 = decode_batch([datas[0], bad, datas[1]], 24, "cpu")
    assert source2.tolist() == [0, 2, 2] and batch2.shape == (3, 3, 24, 24)
    assert torch.equal(batch2[2], batch[1]) and torch.equal(batch2[0], batch[0])
    with pytest.raises(DataError, match="no decodable"):
        decode_batch([bad], 24, "cpu")


def test_stream_decodes_on_the_device(tmp_path, images):
    root = _folder(tmp_path / "train", images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pil = StreamingFolder(root, 16, batch_size=4, seed=7)
        tv = StreamingFolder(root, 16, batch_size=4, seed=7, decode="device", device="cpu")
    steps = range(0, 2 * tv.steps_per_epoch)
    for (s, a, la), (t, b, lb) in zip(pil.iterate(0, steps.stop), tv.iterate(0, steps.stop)):
        assert s == t and b.shape == a.shape == (4, 3, 16, 16) and b.dtype == torch.uint8
        assert torch.equal(la, lb)  # a replaced file's slot carries its image's label
    assert tv.num_failed == pil.num_failed > 0  # the truncated file: counted, its slot filled
