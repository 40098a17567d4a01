"""Linear probe on cached features, and features_for."""
import pytest
import torch

from scd_lab.eval.linear import features_for, linear_probe


def blobs(n_per_class, classes=4, dim=16, spread=8.0, seed=0):
    """Gaussian blobs (unit noise) around centres ``spread`` apart on average."""
    g = torch.Generator().manual_seed(seed)
    centres = spread * torch.randn(classes, dim, generator=torch.Generator().manual_seed(99))
    labels = torch.arange(classes).repeat_interleave(n_per_class)
    feats = centres[labels] + torch.randn(len(labels), dim, generator=g)
    return feats, labels


def test_separable_blobs_are_learned():
    xtr, ytr = blobs(50, seed=0)
    xte, yte = blobs(50, seed=1)
    res = linear_probe(xtr, ytr, xte, yte, epochs=20, batch=64)
    assert res["test_acc"] >= 0.99
    assert res["train_acc"] >= 0.99
    assert res["weight"].shape == (4, 16) and res["bias"].shape == (4,)
    # the returned parameters reproduce the test predictions
    logits = ((xte - res["mean"]) / res["std"]) @ res["weight"].T + res["bias"]
    assert (logits.argmax(1) == yte).float().mean().item() == pytest.approx(res["test_acc"])


def test_random_labels_stay_at_chance():
    g = torch.Generator().manual_seed(3)
    xtr, xte = torch.randn(400, 16, generator=g), torch.randn(400, 16, generator=g)
    ytr, yte = torch.randint(0, 4, (400,), generator=g), torch.randint(0, 4, (400,), generator=g)
    res = linear_probe(xtr, ytr, xte, yte, epochs=20, batch=64)
    assert abs(res["test_acc"] - 0.25) < 0.1
    assert res["train_acc"] > res["test_acc"]  # it fits noise on train, not on test


def test_deterministic_for_a_seed_and_seed_matters():
    xtr, ytr = blobs(30, spread=1.0, seed=0)  # overlapping: the weights depend on the path
    xte, yte = blobs(30, spread=1.0, seed=1)
    a = linear_probe(xtr, ytr, xte, yte, epochs=5, batch=16, seed=7)
    b = linear_probe(xtr, ytr, xte, yte, epochs=5, batch=16, seed=7)
    c = linear_probe(xtr, ytr, xte, yte, epochs=5, batch=16, seed=8)
    assert torch.equal(a["weight"], b["weight"]) and a["test_acc"] == b["test_acc"]
    assert not torch.allclose(a["weight"], c["weight"])


def test_features_are_standardised_with_train_statistics():
    xtr, ytr = blobs(30, seed=0)
    xte, yte = blobs(30, seed=1)
    a = linear_probe(xtr, ytr, xte, yte, epochs=5, batch=32)
    b = linear_probe(1000 * xtr + 5, ytr, 1000 * xte + 5, yte, epochs=5, batch=32)
    assert torch.allclose(a["weight"], b["weight"], atol=1e-4)
    assert a["test_acc"] == b["test_acc"]
    assert torch.allclose(b["mean"], 1000 * xtr.mean(0) + 5, rtol=1e-5)


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        linear_probe(torch.randn(4, 3), torch.zeros(4).long(), torch.randn(2, 5), torch.zeros(2))
    with pytest.raises(ValueError):
        linear_probe(torch.randn(4, 3), torch.zeros(3).long(), torch.randn(2, 3), torch.zeros(2))


def to_input(u):
    return u.float() / 255


@pytest.fixture
def images():
    return torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(5))


def test_features_for_gap_matches_method_and_restores_mode(make_method, images):
    method = make_method("byol")
    method.train()
    feats = features_for(method, images, to_input, kind="gap", batch=2)
    assert method.training  # mode restored
    method.eval()
    assert torch.allclose(feats, method.features(to_input(images)), atol=1e-6)
    assert feats.shape == (5, method.out_channels)


def test_features_for_fg_needs_scd(make_method, images):
    with pytest.raises(ValueError, match="SCD"):
        features_for(make_method("byol"), images, to_input, kind="fg")
    scd = make_method("scd-byol").eval()
    fg = features_for(scd, images, to_input, kind="fg")
    assert torch.allclose(fg, scd.fg_features(to_input(images)), atol=1e-6)
    assert not torch.allclose(fg, features_for(scd, images, to_input, kind="gap"))
    with pytest.raises(ValueError, match="kind"):
        features_for(scd, images, to_input, kind="pooled")
