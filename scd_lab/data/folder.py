"""A dataset over any ImageFolder tree (``root/<class>/<image>``), robust to bad files.

Bad files are handled in two places, so that an epoch never crashes:

1. **At construction (eager, cheap)**: every file is opened with PIL and ``verify()``-ed, which
   reads the header and structure without decoding the pixels. Non-images and files PIL cannot
   identify are dropped, and one warning counts them.
2. **At load time**: a file that passes ``verify`` but fails to decode (e.g. a truncated JPEG) is
   replaced by the next readable item; the first such failure in a process warns once, and
   :attr:`ImageFolderDataset.num_failed` counts them. Use ``scan="decode"`` to decode every file
   up front instead (slow on ImageNet, exact).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..errors import DataError
from .arrays import ImageArray


def _check(path: Path, decode: bool) -> bool:
    try:
        with Image.open(path) as im:
            if decode:
                im.load()
            else:
                im.verify()
        return True
    except Exception:  # PIL raises many types for bad files
        return False


def load_image(path: str | os.PathLike, size: int, draft: bool = False) -> Tensor:
    """Decodes an image, resizes its shorter side to ``size`` (bilinear, antialiased) and
    centre-crops it: uint8 (3, size, size). ``draft`` lets libjpeg decode at a reduced scale
    first (never below ``size``): faster for large JPEGs, slightly different pixels."""
    with Image.open(path) as im:
        if draft:
            im.draft("RGB", (size, size))
        im = im.convert("RGB")
        w, h = im.size
        s = size / min(w, h)
        nw, nh = max(size, round(w * s)), max(size, round(h * s))
        im = im.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - size) // 2, (nh - size) // 2
        im = im.crop((left, top, left + size, top + size))
        arr = np.asarray(im, dtype=np.uint8)  # (size, size, 3)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)  # (3, size, size)


class ImageFolderDataset(Dataset):
    """Images of ``root/<class>/*`` as uint8 (3, size, size) tensors with integer labels.

    Args:
        root: folder with one sub-folder per class.
        size: output side; shorter side resized to it, then centre crop.
        class_names: the classes to use, in label order (default: all sub-folders, sorted). A
            name without a folder is an empty class.
        scan: ``"verify"`` (default, header check) or ``"decode"`` (decode every file once).

    Attributes:
        samples: list of (path, label) that passed the scan.
        num_skipped: files dropped by the scan.
        num_failed: files that passed the scan but failed to decode later (this process).
    """

    def __init__(self, root: str | os.PathLike, size: int, class_names: list[str] | None = None,
                 scan: str = "verify") -> None:
        if scan not in ("verify", "decode"):
            raise ValueError(f"scan must be 'verify' or 'decode', got {scan!r}")
        self.root, self.size = Path(root), size
        if class_names is None:
            class_names = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        self.class_names = list(class_names)
        self.samples: list[tuple[str, int]] = []
        self.num_skipped = 0
        for label, name in enumerate(self.class_names):
            folder = self.root / name
            if not folder.is_dir():
                continue
            for f in sorted(folder.iterdir()):
                if f.is_file() and _check(f, decode=scan == "decode"):
                    self.samples.append((str(f), label))
                elif f.is_file():
                    self.num_skipped += 1
        if self.num_skipped:
            warnings.warn(f"{self.root}: skipped {self.num_skipped} unreadable or non-image "
                          f"file(s); {len(self.samples)} images kept", stacklevel=2)
        self.num_failed = 0
        self._warned = False

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        for k in range(len(self.samples)):
            path, label = self.samples[(i + k) % len(self.samples)]
            try:
                return load_image(path, self.size), label
            except Exception:
                self.num_failed += 1
                if not self._warned:
                    self._warned = True
                    warnings.warn(f"{path} could not be decoded; it is replaced by the next "
                                  f"readable image (counted in num_failed)", stacklevel=2)
        raise DataError(f"no readable image under {self.root}; a folder dataset needs class "
                            "subfolders of images")


def to_image_array(dataset: Dataset, num_workers: int = 0, batch_size: int = 256) -> ImageArray:
    """Loads a whole dataset of (uint8 (3, S, S), label) items into an :class:`ImageArray`."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, shuffle=False)
    images, labels = [], []
    for x, y in loader:
        images.append(x)  # (b, 3, S, S)
        labels.append(torch.as_tensor(y, dtype=torch.long))
    names = list(getattr(dataset, "class_names", []))
    if not images:
        size = getattr(dataset, "size", 1)
        return ImageArray(torch.empty(0, 3, size, size, dtype=torch.uint8),
                          torch.empty(0, dtype=torch.long), None, names)
    return ImageArray(torch.cat(images), torch.cat(labels), None, names)
