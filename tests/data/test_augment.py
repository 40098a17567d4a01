import math

import pytest
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF

from scd_lab.data.augment import (VIEW_RECIPES, AugmentSpec, BatchAugment, TwoViewAugment,
                                  adjust_brightness, adjust_contrast, adjust_hue,
                                  adjust_saturation, gaussian_blur, view_recipe,
                                  sample_crop_boxes, sample_params, torchvision_pipeline,
                                  warp_masks)

GEOMETRY_ONLY = AugmentSpec(crop_scale=(0.1, 1.0), jitter_p=0.0, gray_p=0.0, blur_p=0.0,
                            solarize_p=0.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def two_sample_close(a: torch.Tensor, b: torch.Tensor, k: float = 4.0) -> bool:
    """Means of two samples agree within k standard errors of their difference."""
    se = math.sqrt(a.double().var() / len(a) + b.double().var() / len(b))
    return abs(float(a.double().mean() - b.double().mean())) <= k * se + 1e-12


def ks_close(a: torch.Tensor, b: torch.Tensor, c: float = 1.95) -> bool:
    """Two-sample Kolmogorov-Smirnov test at about the 0.1 % level: same distribution?"""
    a, b = a.double().flatten(), b.double().flatten()
    grid = torch.cat([a, b]).unique()
    fa = torch.searchsorted(a.sort().values, grid, right=True) / len(a)
    fb = torch.searchsorted(b.sort().values, grid, right=True) / len(b)
    return float((fa - fb).abs().max()) <= c * math.sqrt((len(a) + len(b)) / (len(a) * len(b)))


def test_presets_follow_method_md():
    b1, b2 = VIEW_RECIPES["byol"]
    assert b1.crop_scale == (0.08, 1.0) and b1.jitter == (0.4, 0.4, 0.2, 0.1)
    assert (b1.blur_p, b2.blur_p, b1.solarize_p, b2.solarize_p) == (1.0, 0.1, 0.0, 0.2)
    m1, m2 = VIEW_RECIPES["moco"]
    assert m1 == m2 and m1.crop_scale == (0.2, 1.0) and m1.jitter == (0.4, 0.4, 0.4, 0.1)
    assert m1.blur_p == 0.5 and m1.gray_p == 0.2 and m1.jitter_p == 0.8
    assert view_recipe("byol", crop_min=0.2)[1].crop_scale == (0.2, 1.0)
    with pytest.raises(KeyError, match="byol"):
        view_recipe("simclr")


def test_shapes_device_and_determinism():
    x = torch.randint(0, 256, (6, 3, 40, 48), dtype=torch.uint8)
    aug = TwoViewAugment("byol", 32)
    x1, x2, p1, p2 = aug(x, torch.Generator().manual_seed(3))
    assert x1.shape == x2.shape == (6, 3, 32, 32) and x1.dtype == torch.float32
    assert p1["boxes"].shape == (6, 4) and p1["flip"].dtype == torch.bool
    y1, y2, _, _ = aug(x, torch.Generator().manual_seed(3))
    assert torch.equal(x1, y1) and torch.equal(x2, y2)
    z1, _, _, _ = aug(x, torch.Generator().manual_seed(4))
    assert not torch.equal(x1, z1)


def test_integer_crop_equals_slicing_and_torchvision():
    """With a box as large as the output, crop+resize+flip is exact slicing."""
    g = torch.Generator().manual_seed(0)
    img = torch.randint(0, 256, (2, 3, 20, 24), dtype=torch.uint8, generator=g)
    mask = (torch.rand(2, 20, 24, generator=g) < 0.5).to(torch.uint8)
    params = sample_params(GEOMETRY_ONLY, 2, 20, 24, g)
    params["boxes"] = torch.tensor([[3.0, 2.0, 15.0, 14.0], [10.0, 7.0, 22.0, 19.0]])
    params["flip"] = torch.tensor([False, True])
    x, _ = BatchAugment(GEOMETRY_ONLY, 12)(img, params=params)
    m = warp_masks(mask, params, 12)
    for b in range(2):
        x0, y0, x1, y1 = (int(v) for v in params["boxes"][b])
        ref = TF.resized_crop(img[b], y0, x0, y1 - y0, x1 - x0, [12, 12], antialias=True)
        ref_m = mask[b, y0:y1, x0:x1]
        if params["flip"][b]:
            ref, ref_m = TF.hflip(ref), ref_m.flip(-1)
        assert torch.equal((x[b] * 255).round().to(torch.uint8), ref)
        assert torch.allclose(m[b], ref_m.float(), atol=1e-4)


def test_masks_follow_images_through_random_augmentation():
    """A coordinate-encoding image: each view pixel must read the place its box says."""
    n, hgt, wid, out = 64, 30, 40, 16
    ys, xs = torch.meshgrid(torch.arange(hgt) + 0.5, torch.arange(wid) + 0.5, indexing="ij")
    img = torch.stack([xs / wid, ys / hgt, torch.zeros_like(xs)])[None].expand(n, 3, hgt, wid)
    aug = BatchAugment(GEOMETRY_ONLY, out)
    x, p = aug(img.contiguous(), torch.Generator().manual_seed(5))
    t = (torch.arange(out) + 0.5) / out
    for b in range(n):
        x0, y0, x1, y1 = p["boxes"][b].tolist()
        ex = (x0 + t * (x1 - x0)) / wid  # expected R along a row
        if p["flip"][b]:
            ex = ex.flip(0)
        ey = (y0 + t * (y1 - y0)) / hgt
        inner = slice(1, out - 1)  # bilinear is exact on a ramp away from the clamped border
        assert torch.allclose(x[b, 0, 5, inner], ex[inner], atol=1e-5)
        assert torch.allclose(x[b, 1, inner, 5], ey[inner], atol=1e-5)
    # The mask warp is the same map: a mask equal to the R ramp comes out equal to view R.
    assert torch.allclose(warp_masks(img[:, 0], p, out), x[:, 0], atol=1e-6)
    # Half-resolution masks land on the same place (boxes rescaled).
    pattern = torch.zeros(n, hgt, wid)
    pattern[:, 10:20, 8:30] = 1
    full = warp_masks(pattern, p, out)
    half = warp_masks(pattern[:, ::2, ::2].repeat_interleave(2, 1).repeat_interleave(2, 2), p, out)
    assert torch.equal(full, half)


def test_full_preset_views_keep_mask_geometry():
    """With colour ops on, a binary pattern's thresholded view still matches the warped mask."""
    n, s = 32, 32
    mask = torch.zeros(n, s, s, dtype=torch.uint8)
    mask[:, 4:20, 6:14] = 1
    mask[:, 20:28, 6:28] = 1  # an L: not symmetric under flips
    img = (mask[:, None].expand(n, 3, s, s) * 255).to(torch.uint8)
    spec = AugmentSpec(jitter_p=0.0, gray_p=1.0, blur_p=0.0, mean=(0, 0, 0), std=(1, 1, 1))
    x, p = BatchAugment(spec, 24)(img, torch.Generator().manual_seed(2))
    m = warp_masks(mask, p, 24)
    assert torch.equal(x[:, 0] > 0.5, m > 0.5)


def test_colour_ops_match_torchvision_functional():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 9, 11, generator=g)
    f = torch.tensor([0.6, 1.0, 1.35])
    for ours, ref in ((adjust_brightness, TF.adjust_brightness),
                      (adjust_contrast, TF.adjust_contrast),
                      (adjust_saturation, TF.adjust_saturation)):
        got = ours(x, f)
        for b in range(3):
            assert torch.allclose(got[b], ref(x[b], float(f[b])), atol=1e-6)
    h = torch.tensor([-0.1, 0.03, 0.08])
    got = adjust_hue(x, h)
    for b in range(3):
        assert torch.allclose(got[b], TF.adjust_hue(x[b], float(h[b])), atol=1e-5)
    sig = torch.tensor([0.3, 1.0, 2.0])
    got = gaussian_blur(x, sig, 7)
    for b in range(3):
        assert torch.allclose(got[b], TF.gaussian_blur(x[b], [7, 7], [float(sig[b])] * 2),
                              atol=1e-5)


def test_crop_parameter_distribution_matches_torchvision():
    n, hgt, wid = 6000, 48, 80  # not square: exercises rejections and the fallback
    scale, ratio = (0.08, 1.0), (3 / 4, 4 / 3)
    ours = sample_crop_boxes(n, hgt, wid, scale, ratio, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    img = torch.zeros(1, hgt, wid)
    ref = torch.tensor([T.RandomResizedCrop.get_params(img, list(scale), list(ratio))
                        for _ in range(n)], dtype=torch.float32)  # (i, j, h, w)
    ref = torch.stack([ref[:, 1], ref[:, 0], ref[:, 1] + ref[:, 3], ref[:, 0] + ref[:, 2]], 1)
    for boxes in (ours, ref):
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= wid).all() and (boxes[:, 3] <= hgt).all()

    def stats(bx):
        w, h = bx[:, 2] - bx[:, 0], bx[:, 3] - bx[:, 1]
        return {"area": w * h / (hgt * wid), "log_ratio": torch.log(w / h),
                "cx": (bx[:, 0] + bx[:, 2]) / 2, "cy": (bx[:, 1] + bx[:, 3]) / 2,
                "fallback": (w == wid).float()}

    so, sr = stats(ours), stats(ref)
    for key in so:
        assert two_sample_close(so[key], sr[key]), key
        assert ks_close(so[key], sr[key]), key
    # The smallest crops (the scale's lower bound) are as frequent as in torchvision.
    assert two_sample_close((so["area"] < 0.11).float(), (sr["area"] < 0.11).float())


def test_jitter_and_blur_parameters_match_torchvision():
    n = 6000
    spec = VIEW_RECIPES["byol"][0]
    p = sample_params(spec, n, 32, 32, torch.Generator().manual_seed(1))
    torch.manual_seed(1)
    cj = T.ColorJitter(*spec.jitter)
    ref_f, ref_first, ref_sigma = [], [], []
    for _ in range(n):
        order, b, c, s, h = cj.get_params(cj.brightness, cj.contrast, cj.saturation, cj.hue)
        ref_f.append([b, c, s, h])
        ref_first.append(int(order[0]))
        ref_sigma.append(T.GaussianBlur.get_params(*spec.blur_sigma))
    ref_f = torch.tensor(ref_f)
    for k in range(4):
        assert two_sample_close(p["jitter_factors"][:, k], ref_f[:, k]), k
        assert ks_close(p["jitter_factors"][:, k], ref_f[:, k]), k
        assert two_sample_close((p["jitter_order"][:, 0] == k).float(),
                                (torch.tensor(ref_first) == k).float()), k
    assert ks_close(p["blur_sigma"], torch.tensor(ref_sigma))
    assert sorted(p["jitter_order"][0].tolist()) == [0, 1, 2, 3]


def test_probabilities_match_torchvision_transforms():
    """Apply rates of flip, grayscale, solarize: ours vs torchvision's own transforms."""
    n = 3000
    spec = VIEW_RECIPES["byol"][1]
    p = sample_params(spec, n, 8, 8, torch.Generator().manual_seed(2))
    torch.manual_seed(2)
    img = torch.arange(3 * 2 * 2, dtype=torch.uint8).reshape(3, 2, 2) * 20 + 10  # colourful
    flip = T.RandomHorizontalFlip(spec.flip_p)
    gray = T.RandomGrayscale(spec.gray_p)
    sol = T.RandomSolarize(128, spec.solarize_p)
    jit = T.RandomApply([T.Lambda(lambda x: x + 1)], p=spec.jitter_p)
    ref = {"flip": [], "gray": [], "solarize": [], "jitter": []}
    for _ in range(n):
        ref["flip"].append(not torch.equal(flip(img), img))
        ref["gray"].append(not torch.equal(gray(img), img))
        ref["solarize"].append(not torch.equal(sol(img), img))
        ref["jitter"].append(not torch.equal(jit(img), img))
    for key, vals in ref.items():
        assert two_sample_close(p[key].float(), torch.tensor(vals).float()), key
    assert two_sample_close(p["blur"].float(), (torch.rand(n) < spec.blur_p).float())


def test_torchvision_pipeline_runs_and_matches_output_statistics():
    spec = VIEW_RECIPES["moco"][0]
    pipe = torchvision_pipeline(spec, 16)
    g = torch.Generator().manual_seed(0)
    img = torch.randint(0, 256, (64, 3, 24, 24), dtype=torch.uint8, generator=g)
    torch.manual_seed(0)
    ref = torch.stack([pipe(im) for im in img])
    ours, _ = BatchAugment(spec, 16)(img, g)
    assert ref.shape == ours.shape == (64, 3, 16, 16)
    assert abs(float(ref.mean() - ours.mean())) < 0.1
    assert abs(float(ref.std() - ours.std())) < 0.1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    aug = TwoViewAugment("byol", 24)
    c1, c2, p1, _ = aug(x, torch.Generator().manual_seed(0))
    g1, g2, q1, _ = aug(x.cuda(), torch.Generator().manual_seed(0))
    assert g1.is_cuda and torch.equal(p1["boxes"], q1["boxes"])
    assert torch.allclose(c1, g1.cpu(), atol=1e-3) and torch.allclose(c2, g2.cpu(), atol=1e-3)
    m = warp_masks(torch.ones(16, 32, 32, device="cuda"), q1, 24)
    assert m.is_cuda and torch.allclose(m, torch.ones_like(m))


def test_batch_equals_samples_one_by_one():
    """Each sample's ops are applied to the rows its CPU-drawn flags select; the batch equals
    the samples augmented one at a time with their own parameters."""
    x = torch.randint(0, 256, (24, 3, 20, 20), dtype=torch.uint8)
    for spec in (*VIEW_RECIPES["byol"], VIEW_RECIPES["moco"][0]):
        aug = BatchAugment(spec, 16)
        batch, params = aug(x, torch.Generator().manual_seed(5))
        assert 0 < int(params["jitter"].sum()) < 24  # some rows selected, some not
        for i in range(24):
            mine = {k: v if k == "input_size" else v[i:i + 1] for k, v in params.items()}
            one, _ = aug(x[i:i + 1], params=mine)
            torch.testing.assert_close(batch[i:i + 1], one, rtol=0, atol=1e-6)


def test_meta_device_needs_no_values():
    """On the meta device (no values) the augmentation runs: it takes no index from a device
    mask, so on a GPU it never waits for the host (tests/studies/test_bench.py checks the step)."""
    x = torch.empty(8, 3, 20, 20, dtype=torch.uint8, device="meta")
    x1, x2, _, _ = TwoViewAugment("byol", 16)(x, torch.Generator().manual_seed(0))
    assert x1.device.type == "meta" and x1.shape == (8, 3, 16, 16)
