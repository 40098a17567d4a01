"""Datasets and the on-device augmentation of scd_lab.

Every dataset becomes an :class:`ImageArray` (uint8 images, labels, optional masks) that can
live on the GPU; :class:`TwoViewAugment` turns a uint8 batch into two augmented float views.

    >>> from scd_lab.data import build_datasets, TwoViewAugment
    >>> train, test = build_datasets("synthetic", image_size=64)
    >>> x1, x2, p1, p2 = TwoViewAugment("byol", 64)(train.images[:256])
"""
from __future__ import annotations

from pathlib import Path

from ..config import DATASETS
from ..errors import DataError
from .arrays import ImageArray
from .augment import (VIEW_RECIPES, AugmentSpec, BatchAugment, TwoViewAugment, eval_transform,
                      torchvision_pipeline, view_recipe, warp_masks)
from .folder import ImageFolderDataset, to_image_array
from .imagenet100 import Report, build_in100, load_class_list, load_compact
from .synthetic import SPLITS, SyntheticSpec, generate, load_synthetic
from .stream import StreamingFolder



def build_datasets(name: str, image_size: int, root: str | None = None, num_workers: int = 0,
                   stream: dict | None = None, **spec_overrides) -> tuple:
    """The (train, test) arrays of a named dataset, at ``image_size`` pixels.

    Args:
        name: ``synthetic`` (default split), ``synthetic-camouflage``, ``synthetic-easy``,
            ``imagenet100`` (``root`` = the ``--out`` folder of ``scd-lab data in100 --resize``)
            or ``folder`` (``root`` holds ``train/<class>/`` and ``val/<class>/`` or ``test/``).
        image_size: side of the square images.
        root: data folder for ``imagenet100`` and ``folder``.
        num_workers: decoding processes for ``folder``.
        stream: ``folder`` only: the training split as a ``StreamingFolder`` built with these
            keyword arguments (``batch_size``, ``seed``, ``rank``, ``world``), decoded batch by
            batch in ``num_workers`` processes; the test split is still an ``ImageArray``.
        **spec_overrides: :class:`SyntheticSpec` fields for the synthetic datasets
            (``cache_dir`` is passed to :func:`load_synthetic`).

    Raises:
        KeyError: for an unknown name (the message lists the known ones).
        ValueError: when ``root`` is needed and missing.
    """
    if name.startswith("synthetic"):
        split = {"synthetic": "default"}.get(name, name.removeprefix("synthetic-"))
        return load_synthetic(split, image_size=image_size, **spec_overrides)
    if stream is not None and name != "folder":
        raise ValueError(f"only the 'folder' dataset streams, not {name!r}")
    if spec_overrides:
        raise ValueError(f"dataset {name!r} takes no spec overrides, got {sorted(spec_overrides)}")
    if name in ("imagenet100", "folder") and root is None:
        raise DataError(f"dataset {name!r} needs a root folder (data.root)")
    if name in ("imagenet100", "folder") and not Path(root).is_dir():
        hint = ("build it with `scd-lab data in100 --imagenet-root DIR --out "
                f"{root} --resize N`" if name == "imagenet100" else
                "it should hold train/<class>/ and val/<class>/ (or test/<class>/)")
        raise DataError(f"data.root={root!r} is not a folder; {hint}")
    if name == "imagenet100":
        return load_compact(root, image_size)
    if name == "folder":
        base = Path(root)
        test_dir = base / "val" if (base / "val").is_dir() else base / "test"
        if stream is not None:
            train = StreamingFolder(base / "train", image_size, num_workers=num_workers,
                                    **stream)
            test_ds = ImageFolderDataset(test_dir, image_size, class_names=train.class_names)
            return train, to_image_array(test_ds, num_workers=num_workers)
        train_ds = ImageFolderDataset(base / "train", image_size)
        test_ds = ImageFolderDataset(test_dir, image_size, class_names=train_ds.class_names)
        return (to_image_array(train_ds, num_workers=num_workers),
                to_image_array(test_ds, num_workers=num_workers))
    raise KeyError(f"unknown dataset {name!r}; choose one of {list(DATASETS)}")


__all__ = ["ImageArray", "AugmentSpec", "BatchAugment", "TwoViewAugment", "VIEW_RECIPES",
           "view_recipe",
           "warp_masks", "eval_transform", "torchvision_pipeline", "ImageFolderDataset",
           "to_image_array", "Report", "build_in100", "load_class_list", "load_compact",
           "SPLITS", "SyntheticSpec", "generate", "load_synthetic",
           "build_datasets", "DATASETS"]
