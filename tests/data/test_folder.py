import warnings

import torch

from scd_lab.data.folder import ImageFolderDataset, to_image_array


def test_bad_files_are_skipped_with_one_counting_warning(tmp_path, images):
    images.write(tmp_path / "cats", 3, 0)
    images.write(tmp_path / "dogs", 2, 1)
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (tmp_path / "dogs" / "notes.txt").write_text("hello")
    good = images.jpeg_bytes(5, (64, 64))  # passes verify(), fails to decode
    (tmp_path / "cats" / "truncated.JPEG").write_bytes(good[: len(good) // 2])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = ImageFolderDataset(tmp_path, 8)
    assert len(rec) == 1 and "skipped 2" in str(rec[0].message)
    assert ds.class_names == ["cats", "dogs"] and ds.num_skipped == 2
    # The truncated JPEG passes the header check; loading it substitutes the next image.
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        arr = to_image_array(ds)
    assert len(rec) == 1 and ds.num_failed == 1
    assert arr.images.shape == (len(ds), 3, 8, 8) and arr.images.dtype == torch.uint8
    assert ds.targets == [0, 0, 0, 0, 1, 1]  # the truncated cat is item 3 ...
    assert arr.labels.tolist() == [0, 0, 0, 1, 1, 1]  # ... replaced by the next item, a dog
    assert torch.equal(arr.images[3], arr.images[4])
    # A full decode scan drops it up front instead.
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        exact = ImageFolderDataset(tmp_path, 8, scan="decode")
    assert len(rec) == 1 and "skipped 3" in str(rec[0].message) and len(exact) == 5


def test_resize_shorter_side_and_centre_crop(tmp_path, images):
    images.write(tmp_path / "a", 1, 0)  # 12 x 10 images
    ds = ImageFolderDataset(tmp_path, 6, class_names=["a", "absent"])
    x, y = ds[0]
    assert x.shape == (3, 6, 6) and x.dtype == torch.uint8 and y == 0
    assert ds.class_names == ["a", "absent"]
