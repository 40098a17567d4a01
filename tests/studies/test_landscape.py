"""The objective's landscape (``scd_lab.studies.landscape``) on constructed heads and feature
maps: its ends are ``SCD.discrimination`` called directly, its maps are straight lines, α
re-evaluates and λ scales; and the figure and widget of ``scd_lab.viz.landscape``."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from scd_lab.eval.saliency_metrics import centre_prior
from scd_lab.studies.landscape import (PATHS, Landscape, interpolate, ld_along_paths,
                                       learned_maps, training_statistics)
from scd_lab.studies.probe import build_heads
from scd_lab.viz.landscape import landscape_widget, plot_landscape

matplotlib.use("Agg")

B, C, H = 8, 16, 4


class Trunk(nn.Module):
    """Stands for a frozen trunk: the heads are only given feature maps."""

    out_channels = C

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, C, 1)

    def forward(self, x):
        return self.conv(x)


@pytest.fixture()
def case():
    heads = build_heads(Trunk(), "scd", alpha=1.0, proj_hidden=32, proj_dim=8, pred_hidden=32,
                        seed=0)
    g = torch.Generator().manual_seed(1)
    f1, f2 = torch.randn(B, C, H, H, generator=g), torch.randn(B, C, H, H, generator=g)
    masks = tuple((torch.rand(B, H, H, generator=g) > 0.6).float() for _ in range(2))
    return Landscape.of(heads, f1, f2, masks)


def direct(land: Landscape, m1, m2, alpha=None) -> float:
    """``SCD.discrimination`` on the maps, train-mode BN, at margin ``alpha``."""
    with torch.no_grad(), training_statistics(land.heads):
        old, land.heads.alpha = land.heads.alpha, land.heads.alpha if alpha is None else alpha
        try:
            return float(land.heads.discrimination(land.f1, land.f2, m1, m2)[0])
        finally:
            land.heads.alpha = old


def test_the_ends_are_discrimination_called_directly(case):
    curves = case.curves(ts=[0.0, 1.0])
    l1, l2 = case.learned
    with torch.no_grad(), training_statistics(case.heads):  # the heads' own maps
        own = float(case.heads.discrimination(case.f1, case.f2)[0])
    ends = {"mask": case.masks, "inverse": (1 - case.masks[0], 1 - case.masks[1]),
            "centre": (centre_prior(B, H, H),) * 2}
    for name in PATHS:
        assert curves[name][0] == pytest.approx(own, abs=1e-6)
        assert curves[name][0] == pytest.approx(direct(case, l1, l2), abs=1e-6)
        assert curves[name][1] == pytest.approx(direct(case, *ends[name]), abs=1e-6)
    assert curves["t"].tolist() == [0.0, 1.0]


def test_the_map_at_t_is_linear_in_the_maps(case):
    a, b = case.learned[0], case.masks[0]
    for t in (0.0, 0.25, 0.6, 1.0):
        assert torch.allclose(interpolate(a, b, t), a + t * (b - a), atol=1e-6)
    # the loss at an inner t is L_d of the mixed maps, in both views
    t = 0.3
    curves = case.curves(ts=[t])
    mixed = [interpolate(case.learned[v], case.masks[v], t) for v in (0, 1)]
    assert curves["mask"][0] == pytest.approx(direct(case, *mixed), abs=1e-6)
    # the map is linear: the midpoint of the ends' maps is the map at 1/2
    assert torch.allclose(interpolate(a, b, 0.5), (interpolate(a, b, 0.0)
                                                   + interpolate(a, b, 1.0)) / 2, atol=1e-6)


def test_alpha_changes_the_values_and_is_restored(case):
    base, low = case.curves(), case.curves(alpha=0.0)
    assert case.heads.alpha == 1.0
    assert not np.allclose(base["mask"], low["mask"])
    assert low["mask"][-1] == pytest.approx(direct(case, *case.masks, alpha=0.0), abs=1e-6)
    # with no margin, swapping fg and bg leaves eq. 5 unchanged: mask and inverse tie
    assert low["mask"][-1] == pytest.approx(low["inverse"][-1], abs=1e-5)


def test_deterministic_and_side_effect_free(case):
    heads = case.heads
    heads.eval()
    before = {k: v.clone() for k, v in heads.state_dict().items()}
    first, second = case.curves(), case.curves()
    for name in ("t",) + PATHS:
        assert np.array_equal(first[name], second[name])
    after = heads.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN running stats kept
    assert not any(m.training for m in heads.modules())  # the modes given back
    again = learned_maps(heads, case.f1, case.f2)
    assert all(torch.equal(x, y) for x, y in zip(again, case.learned))


def test_ld_along_paths_takes_a_prior_of_one_map(case):
    one = ld_along_paths(case.heads, case.f1, case.f2, case.learned, case.masks,
                         centre_prior(1, H, H)[0], ts=[1.0])
    assert one["centre"][0] == pytest.approx(case.curves(ts=[1.0])["centre"][0], abs=1e-6)


def test_lambda_scales_the_plot(case):
    curves = case.curves(ts=[0.0, 0.5, 1.0])
    lines = {}
    for lam in (0.5, 2.0):
        fig = plot_landscape(curves, lam=lam, alpha=1.0)
        ax = fig.axes[0]
        lines[lam] = {l.get_label(): l.get_ydata() for l in ax.get_lines()
                      if l.get_label().startswith("towards")}
        assert len(lines[lam]) == 3
        matplotlib.pyplot.close(fig)
    for label, y in lines[0.5].items():
        assert np.allclose(np.asarray(lines[2.0][label]), 4 * np.asarray(y))
    assert np.allclose(lines[0.5]["towards the mask"], 0.5 * curves["mask"])


def test_the_widget_evaluates_once_per_alpha(case, monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.setattr(matplotlib.pyplot, "show", lambda: matplotlib.pyplot.close("all"))
    calls = []

    def curves_at(alpha):
        calls.append(alpha)
        return case.curves(alpha, ts=[0.0, 1.0])

    shown = landscape_widget(curves_at, alpha=1.0, lam=0.5)
    shown(alpha=1.0, lam=1.5)  # λ only: no new evaluation
    shown(alpha=0.5, lam=1.5)
    assert calls == [1.0, 0.5] and sorted(shown.cache) == [0.5, 1.0]
