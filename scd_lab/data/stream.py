"""Full-size JPEG folders streamed batch by batch, decoded in DataLoader worker processes.

The in-memory path (``ImageFolderDataset`` -> ``to_image_array``) decodes a whole folder once
and holds it as one uint8 array; that does not fit ImageNet at 256 px. ``StreamingFolder``
decodes only the images of each step, in ``num_workers`` processes (``train.num_workers``), at
the same fixed stored size (shorter side resized, centre crop: ``folder.load_image``), so the
kit's batched crop-box augmentation (``TwoViewAugment``) applies on top exactly as before.

Same batches as the in-memory path: the images of step ``k`` are those of
``batch_indices(k, ...)``, the trainer's per-epoch permutation (``Trainer.batch_indices``:
``randperm(n)`` seeded by ``seed_for(seed, epoch)``, the global batch cut into one contiguous
shard per process). The file list and bad-file handling are ``ImageFolderDataset``'s: files
that fail the scan at index time are dropped and counted (``num_skipped``); a file that passes
the scan but fails to decode is replaced by the next readable one, as in memory, and counted
(``num_failed``, summed over the workers). So for the same seed and folder,
``stream.batch(k)[0]`` equals ``train.images[trainer.batch_indices(k)]``.

    stream = StreamingFolder("data/imagenet/train", size=256, batch_size=256, seed=0,
                             num_workers=8)
    for step, images, labels in stream.iterate(0, 1000):   # uint8 (B, 3, 256, 256)
        x1, x2, _, _ = augment(images.to("cuda", non_blocking=True), generator)

A run uses it with ``data.dataset=folder data.stream=true`` (``scd_lab.runs.build.build_run``; the
trainer calls ``batch(step)``).

Decoding on the training device (``decode="device"``, ``data.decode=device``; needs
torchvision): the workers only read the file bytes; ``torchvision.io.decode_jpeg`` decodes the
whole batch in one call on the device the trainer runs on (nvJPEG on a GPU, libjpeg on the
CPU), and the shorter-side resize and centre crop run there too (``decode_batch``: antialiased
bilinear, so pixels differ slightly from PIL's). The random resized crop of each view is then
the augmentation's, on the same device, so JPEG to view never leaves the GPU and needs no DALI.
``decode="cuda"`` is ``device`` on ``cuda``.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..errors import DataError
from .arrays import ImageArray
from .folder import ImageFolderDataset, to_image_array
from .sampling import batch_indices


DECODES = ("cpu", "device", "cuda")


def _identity(item):
    return item


def _read_bytes(path: str) -> Tensor:
    """A file's bytes as a uint8 tensor (what ``decode_jpeg`` takes)."""
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)


def _resize_centre(im: Tensor, size: int) -> Tensor:
    """uint8 (3, h, w) -> (3, size, size): shorter side to ``size`` (bilinear, antialiased),
    then the centre crop."""
    import torch.nn.functional as F
    h, w = im.shape[-2:]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    x = F.interpolate(im[None].float(), size=(nh, nw), mode="bilinear", align_corners=False,
                      antialias=True)  # (1, 3, nh, nw)
    top, left = (nh - size) // 2, (nw - size) // 2
    return x[0, :, top:top + size, left:left + size].round().clamp(0, 255).to(torch.uint8)


def decode_batch(datas: list[Tensor], size: int, device: str | torch.device = "cpu"
                 ) -> tuple[Tensor, Tensor]:
    """JPEG bytes -> a uint8 batch (n, 3, size, size) on ``device``, and the source (n,) long
    of each slot (``i`` for ``datas[i]``; a failed file's slot holds another's image).

    ``torchvision.io.decode_jpeg`` decodes the list in one call on ``device``; if that raises
    (a corrupt file), each is decoded alone and the failures are replaced by repeating the
    last good image (the batch keeps its size). Each image: shorter side to ``size``, centre
    crop (``_resize_centre``).

    Raises:
        DataError: if no file of the batch decodes.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29: see TorchCodec
        from torchvision.io import ImageReadMode, decode_jpeg
        try:
            images = decode_jpeg(datas, mode=ImageReadMode.RGB, device=device)
            source = list(range(len(datas)))
        except RuntimeError:
            images, source = [], []
            for i, data in enumerate(datas):  # one by one, to find the bad ones
                try:
                    images.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
                    source.append(i)
                except RuntimeError:
                    pass
    if not images:
        raise DataError("no decodable JPEG in a batch")
    out = [_resize_centre(im, size) for im in images]
    failed = len(datas) - len(out)
    out += out[-1:] * failed  # keep the batch size (bad files: repeat the last one)
    return torch.stack(out), torch.tensor(source + source[-1:] * failed)


class _StepBatches(Dataset):
    """Item ``k`` = the decoded batch of step ``k`` (decoded in whichever worker gets it)."""

    def __init__(self, folder: ImageFolderDataset, batch_size: int, seed: int, rank: int,
                 world: int, raw: bool):
        self.folder, self.batch_size, self.seed = folder, batch_size, seed
        self.rank, self.world, self.raw = rank, world, raw
        self._cache: dict = {}

    def __getitem__(self, step: int):
        idx = batch_indices(step, len(self.folder), self.batch_size, self.seed, self.rank,
                            self.world, self._cache)
        before = self.folder.num_failed
        if self.raw:  # bytes only; decoded on the training device by the main process
            items = [(_read_bytes(self.folder.samples[i][0]), self.folder.samples[i][1])
                     for i in idx.tolist()]
            return step, [b for b, _ in items], torch.tensor([y for _, y in items]), 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # counted instead, once per batch
            items = [self.folder[i] for i in idx.tolist()]
        images = torch.stack([x for x, _ in items])  # (B, 3, S, S) uint8
        labels = torch.tensor([y for _, y in items], dtype=torch.long)
        return step, images, labels, self.folder.num_failed - before


class StreamingFolder:
    """A JPEG folder (``root/<class>/<image>``) as a stream of uint8 training batches.

    Args:
        root: the folder (one sub-folder per class).
        size: stored side (shorter side resized to it, centre crop), as ``data.image_size``.
        batch_size: the global batch (``train.batch_size``).
        seed: ``train.seed`` (the permutation of each epoch).
        num_workers: decoding processes (``train.num_workers``; 0 decodes in this process).
        class_names, scan: as ``ImageFolderDataset`` (``scan="decode"`` drops undecodable
            files at index time instead of replacing them at load time).
        rank, world: this process and the number of processes (each gets its shard).
        prefetch: batches decoded ahead per worker.
        decode: ``"cpu"`` (PIL in the workers), ``"device"`` (bytes from the workers,
            ``decode_batch`` on ``device``) or ``"cuda"`` (``device`` on the GPU).
        device: where ``decode="device"`` decodes (the trainer's device; default ``cuda``
            when available, else ``cpu``).

    Attributes:
        num_skipped: files dropped at index time. num_failed: files that failed to decode
            in the batches delivered so far (each replaced by the next readable image).
    """

    def __init__(self, root: str | os.PathLike, size: int, batch_size: int, seed: int = 0,
                 num_workers: int = 0, class_names: list[str] | None = None,
                 scan: str = "verify", rank: int = 0, world: int = 1, prefetch: int = 2,
                 decode: str = "cpu", device: str | None = None):
        if decode not in DECODES:
            raise ValueError(f"decode must be one of {DECODES}, got {decode!r}")
        if decode == "cuda" and not torch.cuda.is_available():
            raise DataError("decode='cuda' needs a CUDA device; use decode='cpu'")
        self.decode_device = torch.device(
            "cuda" if decode == "cuda" else
            device or ("cuda" if torch.cuda.is_available() else "cpu"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.folder = ImageFolderDataset(root, size, class_names, scan)
        self.root, self.size, self.batch_size, self.seed = Path(root), size, batch_size, seed
        self.num_workers, self.rank, self.world = num_workers, rank, world
        self.prefetch, self.decode = prefetch, decode
        self.num_skipped = self.folder.num_skipped
        self.num_failed = 0
        if self.num_skipped:
            warnings.warn(f"{self.root}: skipped {self.num_skipped} unreadable or non-image "
                          f"file(s); {len(self.folder)} images kept", stacklevel=2)
        if len(self.folder) < batch_size:
            raise DataError(f"{self.root} has {len(self.folder)} readable images, fewer than "
                            f"the batch size {batch_size}")
        if batch_size % world:
            raise DataError(f"batch size {batch_size} is not divisible by {world} processes")
        self._iter = None  # (next step, iterator) of the running stream
        self._stop = None

    def __len__(self) -> int:
        return len(self.folder)

    @property
    def class_names(self) -> list[str]:
        return self.folder.class_names

    @property
    def num_classes(self) -> int:
        return len(self.folder.class_names)

    @property
    def targets(self) -> list[int]:
        return self.folder.targets

    def subset(self, idx: Tensor) -> ImageArray:
        """The images at ``idx``, decoded into memory (by ``num_workers`` processes): the kNN
        monitor's bank (``scd_lab.runs.build.monitor_sets``)."""
        sub = torch.utils.data.Subset(self.folder, idx.tolist())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bad files: replaced, as in ``batch``
            arr = to_image_array(sub, num_workers=self.num_workers)
        return ImageArray(arr.images, arr.labels, None, list(self.class_names))

    @property
    def steps_per_epoch(self) -> int:
        return len(self.folder) // self.batch_size

    def indices(self, step: int) -> Tensor:
        """This process's sample indices for global ``step`` (``Trainer.batch_indices``)."""
        return batch_indices(step, len(self.folder), self.batch_size, self.seed, self.rank,
                             self.world)

    def _loader(self, start: int, stop: int):
        ds = _StepBatches(self.folder, self.batch_size, self.seed, self.rank, self.world,
                          raw=self.decode != "cpu")
        kw = dict(prefetch_factor=self.prefetch, persistent_workers=False) \
            if self.num_workers > 0 else {}
        return DataLoader(ds, batch_size=None, sampler=range(start, stop),
                          num_workers=self.num_workers, collate_fn=_identity,
                          pin_memory=torch.cuda.is_available() and self.decode == "cpu", **kw)

    def iterate(self, start: int, stop: int):
        """Yield (step, images uint8 (B/world, 3, S, S), labels) for steps [start, stop), in
        order, decoded ahead by the workers."""
        for step, images, labels, failed in self._loader(start, stop):
            if self.decode != "cpu":
                try:
                    images, source = decode_batch(images, self.size, self.decode_device)
                except DataError as exc:
                    raise DataError(f"{self.root}: {exc}") from None
                failed += len(labels) - len(set(source.tolist()))
                labels = labels[source]  # a replaced file's slot: its image's label
            self.num_failed += failed
            yield step, images, labels

    def batch(self, step: int, stop: int | None = None) -> tuple[Tensor, Tensor]:
        """The batch of ``step``. Consecutive calls reuse one running stream (prefetching up
        to ``stop``, default 100,000 steps ahead); another step restarts it there."""
        if self._iter is None or self._iter[0] != step:
            self.close()
            stop = stop or step + 100_000
            self._iter = (step, self.iterate(step, stop))
        s, images, labels = next(self._iter[1])
        self._iter = (s + 1, self._iter[1])
        return images, labels

    def close(self) -> None:
        """Stop the running stream (its worker processes exit)."""
        if self._iter is not None:
            self._iter[1].close()
            self._iter = None

