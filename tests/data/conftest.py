import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def jpeg_bytes(seed: int, size=(12, 10)) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_images(folder: Path, n: int, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"img_{i:03d}.JPEG").write_bytes(jpeg_bytes(seed * 1000 + i))


@pytest.fixture
def fake_imagenet(tmp_path):
    """ImageNet-like tree for 4 wnids: one missing, one short, one with bad files."""
    root = tmp_path / "imagenet"
    wnids = ["n00000001", "n00000002", "n00000003", "n00000004"]
    for split, n in (("train", 4), ("val", 2)):
        write_images(root / split / wnids[0], n, 1)
        # wnids[1] is missing in both splits
        write_images(root / split / wnids[2], 1 if split == "train" else 2, 3)  # short in train
        write_images(root / split / wnids[3], n, 4)
        d = root / split / wnids[3]
        good = jpeg_bytes(99)
        (d / "truncated.JPEG").write_bytes(good[: len(good) // 2])
        (d / "garbage.JPEG").write_bytes(b"this is not a jpeg at all")
        (d / "README.txt").write_text("not an image")
    # A class outside the subset, which must not be copied.
    write_images(root / "train" / "n09999999", 3, 9)
    return root, wnids


@pytest.fixture
def images():
    """Helpers for tests: ``images.jpeg_bytes(seed)``, ``images.write(folder, n, seed)``."""
    class Helpers:
        jpeg_bytes = staticmethod(jpeg_bytes)
        write = staticmethod(write_images)
    return Helpers
