"""ImageNet-100: the 100-class subset of ImageNet-1K from the CMC paper (Tian et al., 2020).

``build_in100`` expects an ImageNet-1K folder with ``train/<wnid>/*.JPEG`` and
``val/<wnid>/*.JPEG`` (the validation images sorted into class folders, as torchvision's
``ImageFolder`` and most SSL code bases expect; the flat official val folder must be sorted
first). It links or copies the 100 classes of ``imagenet100.txt`` into ``out/train`` and
``out/val``, checks the counts against ImageNet's (732 to 1,300 train images per class, 50 val)
and names every missing or short class. With ``resize`` it also writes compact uint8 copies
``out/train_{size}.pt`` and ``out/val_{size}.pt`` (:class:`ImageArray` files: 126k images at
64 px are 1.5 GB, at 112 px 4.7 GB) that load in seconds and fit in GPU memory.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .arrays import ImageArray
from .folder import ImageFolderDataset, to_image_array

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
#: Smallest ImageNet-1K train class has 732 images; every val class has 50.
MIN_COUNTS = {"train": 732, "val": 50}


def load_class_list() -> list[str]:
    """The 100 WordNet ids of the CMC list, in the file's order (label k = line k)."""
    path = Path(__file__).with_name("imagenet100.txt")
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


@dataclass
class Report:
    """What ``build_in100`` found and wrote.

    Attributes:
        counts: split -> wnid -> number of image files found (0 for a missing folder).
        missing: split -> wnids without a folder (or without any image) in that split.
        short: (split, wnid, found, expected minimum) for classes below the minimum count.
        skipped: split -> number of non-image files ignored (by extension).
        unreadable: split -> images that failed to decode (``resize`` only).
        written: paths of the compact files written.
    """

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    short: list[tuple[str, str, int, int]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no class is missing or short."""
        return not any(self.missing.values()) and not self.short

    def __str__(self) -> str:
        lines = []
        for split, per_class in self.counts.items():
            found = sum(1 for c in per_class.values() if c > 0)
            lines.append(f"{split}: {sum(per_class.values())} images in {found}/{len(per_class)} "
                         f"classes; {self.skipped.get(split, 0)} non-image file(s) skipped"
                         + (f"; {self.unreadable[split]} unreadable" if self.unreadable.get(split)
                            else ""))
            if self.missing.get(split):
                lines.append(f"  MISSING in {split}: {', '.join(self.missing[split])}")
        for split, wnid, n, expected in self.short:
            lines.append(f"  SHORT in {split}: {wnid} has {n} images (expected >= {expected})")
        lines += [f"wrote {p}" for p in self.written]
        lines.append("OK" if self.ok else "INCOMPLETE: see MISSING / SHORT above")
        return "\n".join(lines)


def _place(src: Path, dst: Path, mode: str) -> None:
    if dst.is_symlink() or dst.exists():
        return  # idempotent: a second run keeps what is there
    if mode == "symlink":
        os.symlink(src.resolve(), dst)
    else:
        shutil.copy2(src, dst)


def build_in100(imagenet_root: str | os.PathLike, out: str | os.PathLike, mode: str = "symlink",
                resize: int | None = None, min_counts: dict[str, int] | None = None,
                classes: list[str] | None = None, num_workers: int = 0) -> Report:
    """Builds the ImageNet-100 tree (and optionally compact uint8 copies) from ImageNet-1K.

    Args:
        imagenet_root: folder with ``train/<wnid>/`` and ``val/<wnid>/``.
        out: output folder; gets ``train/<wnid>/``, ``val/<wnid>/`` (and ``*_{size}.pt``).
        mode: ``"symlink"`` (default, no disk cost) or ``"copy"``.
        resize: if given, also write ``train_{resize}.pt`` / ``val_{resize}.pt``: shorter side
            resized to ``resize``, centre crop, uint8; labels follow the CMC list order.
        min_counts: minimum images per class and split (default :data:`MIN_COUNTS`).
        classes: the wnids (default :func:`load_class_list`).
        num_workers: DataLoader workers for decoding in the ``resize`` step.

    Returns:
        A :class:`Report`; it never raises for missing or short classes, it names them.
    """
    if mode not in ("symlink", "copy"):
        raise ValueError(f"mode must be 'symlink' or 'copy', got {mode!r}")
    root, out = Path(imagenet_root), Path(out)
    if not (root / "train").is_dir():
        raise DataError(f"{str(root)!r} has no train/ folder; --imagenet-root must be an "
                        "ImageNet-1K folder with train/<wnid>/ and val/<wnid>/")
    wnids = classes or load_class_list()
    mins = {**MIN_COUNTS, **(min_counts or {})}
    rep = Report()
    for split in ("train", "val"):
        rep.counts[split], rep.missing[split], rep.skipped[split] = {}, [], 0
        for wnid in wnids:
            src = root / split / wnid
            files = sorted(p for p in src.iterdir() if p.is_file()) if src.is_dir() else []
            images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
            rep.skipped[split] += len(files) - len(images)
            rep.counts[split][wnid] = len(images)
            if not images:
                rep.missing[split].append(wnid)
                continue
            if len(images) < mins[split]:
                rep.short.append((split, wnid, len(images), mins[split]))
            dst = out / split / wnid
            dst.mkdir(parents=True, exist_ok=True)
            for p in images:
                _place(p, dst / p.name, mode)
    if resize is not None:
        present = [w for w in wnids if rep.counts["train"][w] > 0]
        for split in ("train", "val"):
            ds = ImageFolderDataset(out / split, resize, class_names=present, scan="decode")
            rep.unreadable[split] = ds.num_skipped
            path = out / f"{split}_{resize}.pt"
            to_image_array(ds, num_workers=num_workers).save(path)
            rep.written.append(str(path))
    return rep


def load_compact(out_dir: str | os.PathLike, size: int) -> tuple[ImageArray, ImageArray]:
    """The (train, val) compact arrays written by ``build_in100(..., resize=size)``."""
    out_dir = Path(out_dir)
    paths = [out_dir / f"{split}_{size}.pt" for split in ("train", "val")]
    for p in paths:
        if not p.exists():
            raise DataError(f"{p} not found; build it with `scd-lab data in100 "
                                    f"--imagenet-root DIR --out {out_dir} --resize {size}`")
    return ImageArray.load(paths[0]), ImageArray.load(paths[1])
