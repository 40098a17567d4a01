"""In-memory image arrays: the one container every dataset in the kit is turned into.

An :class:`ImageArray` holds a whole split as compact uint8 tensors, so a small dataset moves to
the GPU in one call and augmentation runs on whole batches there (see ``augment.py``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..io import atomic_torch_save


@dataclass
class ImageArray:
    """A split of images with labels and, where known, ground-truth foreground masks.

    Attributes:
        images: uint8 tensor, shape (N, 3, H, W), RGB in [0, 255].
        labels: int64 tensor, shape (N,), class indices into ``class_names``.
        masks: uint8 tensor, shape (N, H, W), 1 on the object(s), 0 on the background; ``None``
            when the dataset has no masks (ImageNet, image folders).
        class_names: one name per class.
    """

    images: Tensor
    labels: Tensor
    masks: Tensor | None = None
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(f"images must be uint8 (N, 3, H, W), got {self.images.dtype} "
                             f"{tuple(self.images.shape)}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},), "
                             f"got {tuple(self.labels.shape)}")
        if self.masks is not None and self.masks.shape != (self.images.shape[0],
                                                           *self.images.shape[2:]):
            raise ValueError(f"masks must have shape (N, H, W) = "
                             f"{(self.images.shape[0], *self.images.shape[2:])}, "
                             f"got {tuple(self.masks.shape)}")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to(self, device: torch.device | str) -> "ImageArray":
        """Returns a copy whose tensors live on ``device`` (uint8 stays uint8)."""
        return ImageArray(self.images.to(device), self.labels.to(device),
                          None if self.masks is None else self.masks.to(device),
                          list(self.class_names))

    def subset(self, idx: Tensor | list[int] | slice) -> "ImageArray":
        """Returns the items at ``idx`` (an index tensor, a list, or a slice)."""
        if isinstance(idx, list):
            idx = torch.as_tensor(idx, dtype=torch.long)
        if isinstance(idx, Tensor):
            idx = idx.to(self.images.device)
        return ImageArray(self.images[idx], self.labels[idx],
                          None if self.masks is None else self.masks[idx],
                          list(self.class_names))

    def state_dict(self) -> dict:
        """Plain tensors and lists, loadable with ``torch.load(weights_only=True)``."""
        return {"images": self.images.cpu().contiguous(), "labels": self.labels.cpu().contiguous(),
                "masks": None if self.masks is None else self.masks.cpu().contiguous(),
                "class_names": list(self.class_names)}

    @classmethod
    def from_state_dict(cls, state: dict) -> "ImageArray":
        return cls(state["images"], state["labels"], state.get("masks"),
                   list(state["class_names"]))

    def save(self, path: str | os.PathLike) -> None:
        """Writes one compact file atomically (temporary file, then ``os.replace``)."""
        atomic_torch_save(self.state_dict(), path)

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> "ImageArray":
        """Reads a file written by :meth:`save`."""
        return cls.from_state_dict(torch.load(path, map_location=map_location, weights_only=True))
