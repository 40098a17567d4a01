import dataclasses

import pytest
import torch

from scd_lab.data import build_datasets
from scd_lab.data.arrays import ImageArray
from scd_lab.data.synthetic import (SPLITS, SyntheticSpec, class_names, generate, load_synthetic,
                                    resolve_spec)

SMALL = SyntheticSpec(image_size=32, num_train=40, num_test=20)


def test_same_seed_is_byte_identical_and_seeds_differ():
    a, b = generate(SMALL, 24, seed=7), generate(SMALL, 24, seed=7)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert torch.equal(a.labels, b.labels)
    c = generate(SMALL, 24, seed=8)
    assert not torch.equal(a.images, c.images) and not torch.equal(a.masks, c.masks)


def test_prefix_does_not_depend_on_n_and_spec_changes_output():
    a = generate(SMALL, 10, seed=3)
    assert not torch.equal(a.images, generate(dataclasses.replace(SMALL, clutter=0), 10, 3).images)
    assert a.images.shape == (10, 3, 32, 32) and a.masks.shape == (10, 32, 32)


def test_arrays_are_valid():
    d = generate(dataclasses.replace(SMALL, max_objects=3), 60, seed=0)
    assert d.images.dtype == torch.uint8 and d.masks.dtype == torch.uint8
    assert set(d.masks.unique().tolist()) <= {0, 1}
    assert (d.masks.flatten(1).sum(1) > 0).float().mean() > 0.9  # objects are visible
    assert d.labels.min() >= 0 and d.labels.max() < SMALL.num_classes
    assert d.class_names == class_names(10) and len(set(d.class_names)) == 10
    assert len(set(class_names(100))) == 100


def _object_mean_colours(d: ImageArray) -> torch.Tensor:
    m = d.masks[:, None].float()  # (N, 1, S, S)
    return (d.images.float() * m).sum((2, 3)) / m.sum((2, 3)).clamp_min(1)  # (N, 3)


def _nearest_class_mean_accuracy(feats, labels, k):
    half = len(labels) // 2
    means = torch.stack([feats[:half][labels[:half] == c].mean(0) for c in range(k)])
    pred = torch.cdist(feats[half:], means).argmin(1)
    return float((pred == labels[half:]).float().mean())


def test_no_hue_or_mean_colour_shortcut():
    spec = SPLITS["default"]
    d = generate(spec, 1000, seed=11)
    feats = _object_mean_colours(d)
    acc = _nearest_class_mean_accuracy(feats, d.labels, spec.num_classes)
    assert acc < 0.16, acc  # chance is 0.10
    # The check has teeth: tint each class's objects towards its own colour and it finds them.
    tint = torch.rand(spec.num_classes, 3, generator=torch.Generator().manual_seed(0)) * 255
    m = d.masks[:, None].float()
    leaky = d.images.float() * (1 - 0.5 * m) + 0.5 * m * tint[d.labels][:, :, None, None]
    leaky_feats = _object_mean_colours(ImageArray(leaky.to(torch.uint8), d.labels, d.masks,
                                                  d.class_names))
    assert _nearest_class_mean_accuracy(leaky_feats, d.labels, spec.num_classes) > 0.4


def test_object_and_background_share_colour_statistics():
    d = generate(SPLITS["default"], 400, seed=12)
    img, m = d.images.float() / 255, d.masks[:, None].bool().expand(-1, 3, -1, -1)
    fg, bg = img[m].view(-1), img[~m].view(-1)
    assert abs(float(fg.mean() - bg.mean())) < 0.03
    assert abs(float(fg.std() - bg.std())) < 0.03


def test_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("SCD_LAB_CACHE", str(tmp_path))
    train, test = load_synthetic(SMALL)
    files = list((tmp_path / "synthetic").glob("*.pt"))
    assert len(files) == 1 and not list((tmp_path / "synthetic").glob("*.tmp"))
    assert len(train) == 40 and len(test) == 20
    state = torch.load(files[0], weights_only=True)
    assert torch.equal(state["train"]["images"], train.images)
    train2, test2 = load_synthetic(SMALL)  # from the cache
    assert torch.equal(train2.images, train.images) and torch.equal(test2.masks, test.masks)
    assert torch.equal(train.images, generate(SMALL, 40, 0).images)
    assert not torch.equal(train.images[:20], test.images)
    other, _ = load_synthetic(SMALL, cache_dir=tmp_path / "elsewhere", clutter=3)
    assert len(list((tmp_path / "elsewhere" / "synthetic").glob("*.pt"))) == 1
    assert not torch.equal(other.images, train.images)


def test_damaged_cache_is_regenerated(tmp_path):
    train, _ = load_synthetic(SMALL, cache_dir=tmp_path)
    path = next((tmp_path / "synthetic").glob("*.pt"))
    path.write_bytes(b"not a torch file")
    again, _ = load_synthetic(SMALL, cache_dir=tmp_path)
    assert torch.equal(again.images, train.images)


def test_overrides_and_validation(tmp_path):
    assert resolve_spec("camouflage", clutter=2).clutter == 2
    with pytest.raises(KeyError, match="clutterr"):
        resolve_spec("default", clutterr=2)
    with pytest.raises(KeyError, match="default"):
        resolve_spec("nope")
    with pytest.raises(ValueError):
        SyntheticSpec(camouflage=1.5)
    train, test = build_datasets("synthetic-easy", 24, num_train=8, num_test=4, cache_dir=tmp_path)
    assert train.images.shape == (8, 3, 24, 24) and len(test) == 4
    with pytest.raises(KeyError, match="synthetic"):
        build_datasets("cifar", 32)


def test_gallery_figures():
    import matplotlib

    matplotlib.use("Agg")
    from scd_lab.viz.gallery import gallery, knob_gallery

    fig = gallery(SMALL, n=4, cols=4)
    assert len(fig.axes) == 4
    fig2 = knob_gallery(SMALL, n=2)
    assert len(fig2.axes) == 12


def test_distinct_textures_keeps_class_families_off_the_background():
    from scd_lab.data.synthetic import _CLASS_TEXTURES, background_families, sample_params

    spec = SyntheticSpec(num_classes=5, clutter=3, patches=2, camouflage=0.5,
                         distinct_textures=True)
    p = sample_params(spec, 400, seed=0)
    q = sample_params(dataclasses.replace(spec, distinct_textures=False), 400, seed=0)
    used = {int(_CLASS_TEXTURES[c][0]) for c in range(5)}  # stripes, checks, dots
    assert background_families(5) == sorted(set(range(7)) - used)
    for part in ("base", "patch", "distractor"):
        fams = set(p[part]["family"].flatten().tolist())
        assert fams == set(background_families(5)), part  # every unused family, no used one
        assert torch.equal(p[part]["phase"], q[part]["phase"])  # nothing else redrawn
    assert any(int(f) in used for f in q["base"]["family"].flatten())  # the control differs
    assert torch.equal(p["object"]["family"], q["object"]["family"])
    assert torch.equal(p["labels"]["labels"], q["labels"]["labels"])
    with pytest.raises(ValueError, match="num_classes <= 8"):
        SyntheticSpec(num_classes=10, distinct_textures=True)
