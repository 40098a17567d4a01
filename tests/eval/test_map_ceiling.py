import pytest
import torch

from scd_lab.eval.map_ceiling import feature_maps, supervised_map_ceiling


def _masks(n, g):
    """Squares at random places: (n, 16, 16) masks, object about a quarter of the image."""
    m = torch.zeros(n, 16, 16, dtype=torch.uint8)
    xy = torch.randint(0, 9, (n, 2), generator=g)
    for i, (x, y) in enumerate(xy.tolist()):
        m[i, y:y + 8, x:x + 8] = 1
    return m


def test_ceiling_is_high_when_one_channel_carries_the_mask_and_chance_when_none_does():
    g = torch.Generator().manual_seed(0)
    m_tr, m_te = _masks(200, g), _masks(100, g)

    def feats(m, signal):
        f = torch.randn(len(m), 8, 8, 8, generator=g)  # (N, C, 8, 8) noise
        cell = torch.nn.functional.adaptive_avg_pool2d(m[:, None].float(), 8)[:, 0]
        f[:, 3] += signal * (cell - 0.5) * 4  # channel 3 says "object here"
        return f

    hi = supervised_map_ceiling(feats(m_tr, 1.0), m_tr, feats(m_te, 1.0), m_te, steps=300)
    lo = supervised_map_ceiling(feats(m_tr, 0.0), m_tr, feats(m_te, 0.0), m_te, steps=300)
    assert hi["test_auroc"] > 0.9
    assert abs(lo["test_auroc"] - 0.5) < 0.06  # nothing to find: chance on held-out images
    assert lo["train_auroc"] > lo["test_auroc"]  # it can only memorise the training noise


def test_ceiling_checks_shapes_and_feature_maps_restores_mode():
    with pytest.raises(ValueError, match="one mask per feature map"):
        supervised_map_ceiling(torch.zeros(4, 2, 4, 4), torch.zeros(3, 8, 8),
                               torch.zeros(2, 2, 4, 4), torch.zeros(2, 8, 8), steps=1)
    with pytest.raises(ValueError, match=r"\(N, C, h, w\)"):
        supervised_map_ceiling(torch.zeros(4, 2, 4, 4), torch.zeros(4, 8, 8),
                               torch.zeros(2, 3, 4, 4), torch.zeros(2, 8, 8), steps=1)
    enc = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, 2, 1), torch.nn.BatchNorm2d(4)).train()
    out = feature_maps(enc, torch.zeros(5, 3, 8, 8, dtype=torch.uint8), lambda x: x.float(),
                       batch=2)
    assert out.shape == (5, 4, 4, 4) and enc.training
