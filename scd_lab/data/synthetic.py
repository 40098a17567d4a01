"""The embedded dataset: textured objects on textured clutter, with a mask for every object.

Why it looks the way it does. SCD learns a map that separates an object from its background, so
the data must (a) come with ground-truth masks and (b) not give the object away by low-level
contrast: if the object were the brightest, most saturated or only textured region, an
*untrained* network's channel-sum map (the ContrastiveCrop heuristic) would already find it and
there would be nothing to learn. Hence:

* A class is an object **shape** x **texture** pair (e.g. ``triangle-checks``). Colours never
  carry the class: every textured region (object, background, patch, distractor) draws its two
  colours from the same palette distribution, so no class is identifiable by hue or mean colour,
  and the colour jitter of SSL augmentations destroys nothing the classes need.
* Backgrounds are built from the same texture families and colours: a full-image texture, large
  textured patches, and ``clutter`` distractor shapes (irregular blobs and bars, in no class),
  some of them in front of the object (occluding it; the mask excludes the occluded part).
* ``camouflage`` pulls the object's colours towards the background's colours and, with the same
  probability, gives the background the object's own texture family; at 1.0 only the object's
  shape and texture phase separate it from the background.

Everything is drawn from a seed: per-image parameters first (one ``torch.Generator``), then the
pixels are rendered in fixed-size chunks, so the output is byte-identical for a seed on any
machine. ``load_synthetic`` caches the uint8 arrays in the user cache directory.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..io import atomic_torch_save
from ..errors import DataError
from .arrays import ImageArray

GENERATOR_VERSION = 1  # bump when the rendering changes: it is part of the cache key

SHAPES = ("circle", "triangle", "square", "star", "plus", "ring", "crescent", "ellipse",
          "trefoil", "semicircle")
TEXTURES = ("hstripes", "vstripes", "dstripes", "checks", "dots", "rings", "plain",
            "grid", "waves", "fine")
# Texture id -> (family, orientation in degrees, frequency in cycles per image side).
_FAMILIES = ("stripes", "checks", "dots", "rings", "plain", "grid", "waves")
_CLASS_TEXTURES = ((0, 0.0, 6.0), (0, 90.0, 6.0), (0, 45.0, 8.0), (1, 0.0, 5.0), (2, 0.0, 6.0),
                   (3, 0.0, 8.0), (4, 0.0, 0.0), (5, 0.0, 5.0), (6, 0.0, 7.0), (0, -45.0, 12.0))
_BLOB, _BAR = 100, 101  # distractor / patch shape kinds, in no class
_OBJECT_MARGIN = 0.5  # object centre kept this many half-sides from the border


@dataclass(frozen=True)
class SyntheticSpec:
    """Knobs of the generator (see ``data/README.md`` for a gallery of each).

    Attributes:
        image_size: side of the square images, pixels.
        num_classes: number of classes, at most 100; class k is shape ``k % 10`` with texture
            ``(k % 10 + k // 10) % 10``, so the first 10 classes pair each shape with one texture.
        num_train: images in the train split.
        num_test: images in the test split.
        scale_range: object side as a fraction of the image side (uniform in this range).
        clutter: distractor shapes per image (irregular blobs and bars in no class, same
            colours and textures as everything else); about a third are drawn in front.
        camouflage: in [0, 1]; how far the object's colours are pulled towards the background's,
            and the probability that the background takes the object's texture family.
        max_objects: each image holds 1..max_objects objects of its class (uniform).
        patches: large textured background patches per image (background layout).
        noise: standard deviation of the per-pixel grain added to everything, in [0, 1] units.
        saturation: upper bound of the palette's colour saturation (0 = grey levels only). Low
            saturation keeps colour from being the easiest cue that tells images apart: with
            saturated random colours (0.85, the ``hard`` split) self-supervised training learned
            colour, and kNN accuracy stayed at chance (measured; README).
        distinct_textures: if True, background, patches and distractors use only the texture
            families that no class uses (so object and background always differ in texture
            family; needs ``num_classes <= 8``). This overrides the texture half of
            ``camouflage`` (its colour half still applies). False: every region draws from all
            families, and only the object's exact class texture and shape mark it.
        seed: the train split uses seed ``2 * seed``, the test split ``2 * seed + 1``.
    """

    image_size: int = 64
    num_classes: int = 10
    num_train: int = 5000
    num_test: int = 1000
    scale_range: tuple[float, float] = (0.6, 0.9)
    clutter: int = 1
    camouflage: float = 0.3
    max_objects: int = 1
    patches: int = 1
    noise: float = 0.03
    saturation: float = 0.15
    distinct_textures: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.num_classes <= 100:
            raise DataError(f"num_classes must be in [1, 100], got {self.num_classes}")
        if not 0.0 <= self.saturation <= 1.0:
            raise DataError(f"saturation must be in [0, 1], got {self.saturation}")
        if not 0.0 <= self.camouflage <= 1.0:
            raise DataError(f"camouflage must be in [0, 1], got {self.camouflage}")
        if not 0 < self.scale_range[0] <= self.scale_range[1] <= 1:
            raise DataError(f"scale_range must satisfy 0 < lo <= hi <= 1, got {self.scale_range}")
        if self.max_objects < 1 or self.clutter < 0 or self.patches < 0:
            raise DataError("max_objects must be >= 1, clutter and patches >= 0")
        if self.distinct_textures and not background_families(self.num_classes):
            raise DataError(f"distinct_textures: with num_classes={self.num_classes} the classes "
                             "use every texture family, none is left for the background; use "
                             "num_classes <= 8 or distinct_textures=False")

    def key(self) -> str:
        """Short hash of the spec and the generator version: the cache file name."""
        blob = json.dumps({**dataclasses.asdict(self), "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


#: Named splits. ``default``: the standard task. ``camouflage``: object colours and texture
#: family close to the background. ``easy``: no clutter, no patches, no camouflage. ``hard``:
#: the first design (small objects, saturated colours, heavy clutter), on which no method's
#: kNN accuracy rose above chance in 30 GPU epochs (benchmarks/results/).
SPLITS: dict[str, SyntheticSpec] = {
    "default": SyntheticSpec(),
    "camouflage": SyntheticSpec(camouflage=0.8),
    "easy": SyntheticSpec(clutter=0, patches=0, camouflage=0.0),
    "hard": SyntheticSpec(scale_range=(0.35, 0.6), clutter=4, patches=3, saturation=0.85),
}


def class_names(num_classes: int) -> list[str]:
    """Names ``shape-texture`` of the classes, in label order."""
    return [f"{SHAPES[k % 10]}-{TEXTURES[(k % 10 + k // 10) % 10]}" for k in range(num_classes)]


# ----------------------------------------------------------------------------- parameters
def _palette(g: torch.Generator, shape: tuple[int, ...], saturation: float = 0.85) -> Tensor:
    """Random colours, shape (*shape, 3) RGB in [0, 1]: the one palette every region uses.

    Saturation is uniform in (0.15, 0.85) scaled by ``saturation / 0.85``; value in (0.25, 0.95).
    """
    h = torch.rand(shape, generator=g)
    s = (0.15 + 0.7 * torch.rand(shape, generator=g)) * (saturation / 0.85)
    v = 0.25 + 0.7 * torch.rand(shape, generator=g)
    k = torch.arange(3).float() * 2 / 6  # hue offsets of r, g, b (hsv -> rgb, vectorised)
    c = (h[..., None] * 6 + 6 - k * 3) % 6  # (*shape, 3): distance on the hue circle
    ramp = (torch.minimum(c, 6 - c) - 1).clamp(0, 1)
    return v[..., None] * (1 - s[..., None] * (1 - ramp))


def background_families(num_classes: int) -> list[int]:
    """Texture families (indices into ``_FAMILIES``) that none of the first ``num_classes``
    classes uses: the background's families when ``distinct_textures`` is set."""
    used = {int(_CLASS_TEXTURES[(c % 10 + c // 10) % 10][0]) for c in range(num_classes)}
    return [f for f in range(len(_FAMILIES)) if f not in used]


def _random_texture(g: torch.Generator, n: int, m: int, saturation: float) -> dict[str, Tensor]:
    """Background-style textures: any family, any orientation, frequency 4..12 (n, m each)."""
    return {"family": torch.randint(0, len(_FAMILIES), (n, m), generator=g),
            "theta": torch.rand(n, m, generator=g) * math.pi,
            "freq": 4 + 8 * torch.rand(n, m, generator=g),
            "phase": torch.rand(n, m, generator=g) * 2 * math.pi,
            "colors": _palette(g, (n, m, 2), saturation)}


def _layers(g: torch.Generator, n: int, m: int, kinds: Tensor, scale: tuple[float, float],
            margin: float) -> dict[str, Tensor]:
    """Placement of m shapes per image: kind, centre, half-side R, rotation, blob harmonics."""
    r = 0.5 * (scale[0] + (scale[1] - scale[0]) * torch.rand(n, m, generator=g))
    lo = margin * r
    return {"kind": kinds, "r": r,
            "cx": lo + (1 - 2 * lo) * torch.rand(n, m, generator=g),
            "cy": lo + (1 - 2 * lo) * torch.rand(n, m, generator=g),
            "rot": (torch.rand(n, m, generator=g) - 0.5) * (math.pi / 4.5),  # +-20 degrees
            "harm": (torch.rand(n, m, 3, 2, generator=g) - 0.5) * torch.tensor([0.5, 2 * math.pi])}


def sample_params(spec: SyntheticSpec, n: int, seed: int) -> dict[str, dict[str, Tensor]]:
    """Every random choice for ``n`` images (small tensors), drawn in a fixed order from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, spec.num_classes, (n,), generator=g)
    k = spec.max_objects
    p: dict[str, dict[str, Tensor]] = {}
    sat = spec.saturation
    p["base"] = _random_texture(g, n, 1, sat)
    p["patch"] = {**_layers(g, n, spec.patches, torch.full((n, spec.patches), _BLOB), (0.5, 1.2),
                            0.0), **_random_texture(g, n, spec.patches, sat)}
    dkind = torch.where(torch.rand(n, spec.clutter, generator=g) < 0.6, _BLOB, _BAR)
    p["distractor"] = {**_layers(g, n, spec.clutter, dkind, spec.scale_range, 0.3),
                       **_random_texture(g, n, spec.clutter, sat),
                       "front": torch.rand(n, spec.clutter, generator=g) < 1 / 3}
    # Objects: class shape and texture, own colours pulled towards the background's.
    shape_id = (labels % 10)[:, None].expand(n, k)
    tex_id = ((labels % 10 + labels // 10) % 10)[:, None].expand(n, k)
    table = torch.tensor(_CLASS_TEXTURES)  # (10, 3)
    obj = _layers(g, n, k, shape_id, spec.scale_range, _OBJECT_MARGIN)
    obj["present"] = torch.arange(k)[None] < torch.randint(1, k + 1, (n, 1), generator=g)
    obj["family"] = table[tex_id, 0].long()
    obj["theta"] = torch.deg2rad(table[tex_id, 1]) + (torch.rand(n, k, generator=g) - 0.5) * 0.3
    obj["freq"] = table[tex_id, 2] * (0.9 + 0.2 * torch.rand(n, k, generator=g))
    obj["phase"] = torch.rand(n, k, generator=g) * 2 * math.pi
    own = _palette(g, (n, k, 2), sat)  # (n, k, 2, 3)
    # Camouflage swaps in the background's colours, which come from the same palette: the
    # marginal distribution of object colours (and of their contrast) never changes.
    take = torch.rand(n, k, 2, 1, generator=g) < spec.camouflage
    obj["colors"] = torch.where(take, p["base"]["colors"].expand(n, k, 2, 3), own)
    # Camouflage, second part: the background takes the object's texture family.
    same = torch.rand(n, generator=g) < spec.camouflage
    p["base"]["family"] = torch.where(same[:, None], obj["family"][:, :1], p["base"]["family"])
    if spec.distinct_textures:
        # Re-pick every background-style family among the unused ones, from the region's
        # phase (uniform, already drawn): no extra draw, so the other parameters stay the same.
        allowed = torch.tensor(background_families(spec.num_classes))
        for part in ("base", "patch", "distractor"):
            u = p[part]["phase"] / (2 * math.pi)  # uniform in [0, 1)
            pick = (u * len(allowed)).long().clamp_max(len(allowed) - 1)
            p[part]["family"] = allowed[pick]
    p["object"] = obj
    p["labels"] = {"labels": labels}
    p["noise"] = {"seed": torch.randint(0, 2**31 - 1, (1,), generator=g)}
    return p


# ----------------------------------------------------------------------------- rendering
def _sq(t: Tensor) -> Tensor:
    """A soft square wave in [0, 1] from a sine argument (edges about a pixel wide)."""
    return (0.5 + 2.0 * torch.sin(t)).clamp(0, 1)


def _texture(family: Tensor, theta: Tensor, freq: Tensor, phase: Tensor, cx: Tensor, cy: Tensor,
             u: Tensor, v: Tensor) -> Tensor:
    """Texture pattern in [0, 1], (B, S, S); params (B,), u, v: (1, S, S) image coordinates."""
    out = torch.zeros(family.shape[0], *u.shape[-2:])
    for k in family.unique().tolist():
        if _FAMILIES[k] == "plain":
            continue
        idx = (family == k).nonzero()[:, 0]
        th, f, ph = theta[idx, None, None], freq[idx, None, None], phase[idx, None, None]
        a = u * torch.cos(th) + v * torch.sin(th)  # (b, S, S) rotated coordinates
        b = -u * torch.sin(th) + v * torch.cos(th)
        w = 2 * math.pi * f
        name = _FAMILIES[k]
        if name == "stripes":
            pat = _sq(w * a + ph)
        elif name == "checks":
            pat = _sq(torch.sin(w * a + ph) * torch.sin(w * b + ph) * 4)
        elif name == "rings":
            rad = torch.sqrt((u - cx[idx, None, None]) ** 2 + (v - cy[idx, None, None]) ** 2)
            pat = _sq(w * rad + ph)
        elif name == "waves":
            pat = _sq(w * (a + 0.04 * torch.sin(w * 0.5 * b)) + ph)
        else:  # dots and grid: distance to a lattice
            fa, fb = torch.frac(f * a + ph / 6.3) - 0.5, torch.frac(f * b + ph / 6.3) - 0.5
            if name == "dots":
                pat = ((0.3 - torch.sqrt(fa ** 2 + fb ** 2)) * 64).clamp(0, 1)
            else:
                pat = ((0.12 - torch.minimum(fa.abs(), fb.abs())) * 64).clamp(0, 1)
        out[idx] = pat
    return out  # plain stays 0


def _shape_sd(kind: Tensor, x: Tensor, y: Tensor, r: Tensor, harm: Tensor) -> Tensor:
    """Approximate signed distance (> 0 inside) of each image's shape, (B, S, S).

    Args:
        kind: (B,) shape index (SHAPES order, or _BLOB / _BAR).
        x, y: (B, S, S) object-centred, rotated coordinates (image-side units).
        r: (B,) half-side of the shape.
        harm: (B, 3, 2) amplitudes and phases of the blob's 2nd-4th harmonics.
    """
    r = r[:, None, None]
    d = torch.sqrt(x ** 2 + y ** 2) + 1e-9
    ang = torch.atan2(y, x)
    out = torch.full_like(x, -1.0)

    def poly(nv: int, rot: float = 0.0) -> Tensor:  # regular polygon, radius-corrected
        a = torch.remainder(ang + rot, 2 * math.pi / nv) - math.pi / nv
        return (r * math.cos(math.pi / nv) / torch.cos(a) - d) * math.cos(math.pi / nv)

    builders = {
        0: lambda: r * 0.9 - d,
        1: lambda: poly(3, math.pi / 2) * 1.0 + r * 0.1,
        2: lambda: torch.minimum(r * 0.8 - x.abs(), r * 0.8 - y.abs()),
        3: lambda: r * (0.55 + 0.45 * (1 - (torch.remainder(ang + math.pi / 2, 2 * math.pi / 5)
                                            / (math.pi / 5) - 1).abs())) - d,
        4: lambda: torch.maximum(torch.minimum(r * 0.33 - x.abs(), r - y.abs()),
                                 torch.minimum(r * 0.33 - y.abs(), r - x.abs())),
        5: lambda: torch.minimum(r - d, d - r * 0.5),
        6: lambda: torch.minimum(r - d, torch.sqrt((x - 0.45 * r) ** 2 + y ** 2) - 0.8 * r),
        7: lambda: (r - torch.sqrt(x ** 2 + (y / 0.5) ** 2)) * 0.6,
        8: lambda: r * (0.6 + 0.4 * torch.cos(3 * ang).abs() ** 0.5) - d,
        9: lambda: torch.minimum(r - torch.sqrt(x ** 2 + (y + 0.4 * r) ** 2), y + 0.4 * r),
        _BLOB: lambda: r * (0.8 + sum(harm[:, i, 0, None, None] * torch.cos(
            (i + 2) * ang + harm[:, i, 1, None, None]) for i in range(3))) - d,
        _BAR: lambda: torch.minimum(r * 0.25 - y.abs(), r - x.abs()),
    }
    for k in kind.unique().tolist():
        out = torch.where(kind[:, None, None] == k, builders[k](), out)
    return out  # (B, S, S)


def _render_layer(img: Tensor, lay: dict[str, Tensor], j: int, u: Tensor, v: Tensor,
                  size: int) -> Tensor:
    """Composites shape j of a layer group into img (B, 3, S, S) in place; returns its alpha (B, S, S).

    Only the images where the shape is present (``lay["present"]``, default all) are computed.
    """
    alpha = torch.zeros(img.shape[0], size, size)
    idx = lay["present"][:, j].nonzero()[:, 0] if "present" in lay else None
    if idx is not None and idx.numel() == 0:
        return alpha
    sel = slice(None) if idx is None else idx
    q = {k: val[sel, j] for k, val in lay.items() if k != "present"}
    dx, dy = u - q["cx"][:, None, None], v - q["cy"][:, None, None]  # (b, S, S)
    c, s = torch.cos(q["rot"])[:, None, None], torch.sin(q["rot"])[:, None, None]
    x, y = c * dx + s * dy, -s * dx + c * dy
    a = (_shape_sd(q["kind"], x, y, q["r"], q["harm"]) * size + 0.5).clamp(0, 1)  # (b, S, S)
    t = _texture(q["family"], q["theta"], q["freq"], q["phase"], q["cx"], q["cy"], u, v)
    col = q["colors"]  # (b, 2, 3)
    layer = torch.lerp(col[:, 0, :, None, None], col[:, 1, :, None, None], t[:, None])  # (b, 3, S, S)
    img[sel] = torch.lerp(img[sel], layer, a[:, None])
    alpha[sel] = a
    return alpha


def render(params: dict[str, dict[str, Tensor]], size: int, noise: float,
           chunk: int = 256) -> tuple[Tensor, Tensor]:
    """Pixels from parameters: uint8 images (N, 3, S, S) and uint8 masks (N, S, S)."""
    n = params["labels"]["labels"].shape[0]
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    v, u = torch.meshgrid(t, t, indexing="ij")
    u, v = u[None], v[None]  # (1, S, S)
    g = torch.Generator().manual_seed(int(params["noise"]["seed"]))
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    masks = torch.empty(n, size, size, dtype=torch.uint8)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        p = {name: {k: val[sl] for k, val in grp.items()} for name, grp in params.items()
             if name not in ("noise",)}
        b = sl.stop - sl.start
        base = p["base"]
        img = torch.zeros(b, 3, size, size)
        half = torch.full((b,), 0.5)
        tb = _texture(base["family"][:, 0], base["theta"][:, 0], base["freq"][:, 0],
                      base["phase"][:, 0], half, half, u, v)[:, None]  # (b, 1, S, S)
        col = base["colors"][:, 0]  # (b, 2, 3)
        img += col[:, 0, :, None, None] * (1 - tb) + col[:, 1, :, None, None] * tb
        for j in range(p["patch"]["kind"].shape[1]):
            _render_layer(img, p["patch"], j, u, v, size)
        dist, front = p["distractor"], p["distractor"]["front"]
        behind = {**dist, "present": ~front}
        for j in range(dist["kind"].shape[1]):
            _render_layer(img, behind, j, u, v, size)
        mask = torch.zeros(b, size, size)
        for j in range(p["object"]["kind"].shape[1]):
            a = _render_layer(img, p["object"], j, u, v, size)
            mask = torch.maximum(mask, a)
        in_front = {**dist, "present": front}
        for j in range(dist["kind"].shape[1]):
            a = _render_layer(img, in_front, j, u, v, size)
            mask = mask * (1 - a)
        img += noise * torch.randn(img.shape, generator=g)
        images[sl] = (img.clamp(0, 1) * 255).round().to(torch.uint8)
        masks[sl] = (mask >= 0.5).to(torch.uint8)
    return images, masks


def generate(spec: SyntheticSpec, n: int, seed: int) -> ImageArray:
    """``n`` images of the spec's distribution from ``seed`` (pure and deterministic).

    Returns:
        ImageArray with images uint8 (n, 3, S, S), labels (n,), masks uint8 (n, S, S).
    """
    params = sample_params(spec, n, seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small elementwise ops: extra threads only oversubscribe the CPU
    try:
        images, masks = render(params, spec.image_size, spec.noise)
    finally:
        torch.set_num_threads(threads)
    return ImageArray(images, params["labels"]["labels"].clone(), masks,
                      class_names(spec.num_classes))


# ----------------------------------------------------------------------------- caching
def default_cache_dir(override: str | os.PathLike | None = None) -> Path:
    """``override``, else ``$SCD_LAB_CACHE``, else platformdirs' user cache dir for scd_lab."""
    if override is not None:
        return Path(override)
    if os.environ.get("SCD_LAB_CACHE"):
        return Path(os.environ["SCD_LAB_CACHE"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("scd_lab"))


def resolve_spec(spec: SyntheticSpec | str, **overrides) -> SyntheticSpec:
    """A spec from a split name or a spec, with field overrides (unknown keys rejected)."""
    if isinstance(spec, str):
        if spec not in SPLITS:
            raise KeyError(f"unknown synthetic split {spec!r}; choose one of {sorted(SPLITS)}")
        spec = SPLITS[spec]
    fields = {f.name for f in dataclasses.fields(SyntheticSpec)}
    bad = sorted(set(overrides) - fields)
    if bad:
        raise KeyError(f"unknown SyntheticSpec field(s) {bad}; allowed: {sorted(fields)}")
    if "scale_range" in overrides:
        overrides["scale_range"] = tuple(overrides["scale_range"])
    return dataclasses.replace(spec, **overrides)


def load_synthetic(spec: SyntheticSpec | str = "default", cache_dir: str | os.PathLike | None = None,
                   **overrides) -> tuple[ImageArray, ImageArray]:
    """The (train, test) splits of a spec, generated on first use and cached.

    Args:
        spec: a :class:`SyntheticSpec` or a name in :data:`SPLITS`.
        cache_dir: cache folder (default: see :func:`default_cache_dir`).
        **overrides: spec fields to replace.

    Returns:
        (train, test) ImageArrays on the CPU.
    """
    spec = resolve_spec(spec, **overrides)
    path = default_cache_dir(cache_dir) / "synthetic" / f"{spec.key()}.pt"
    if path.exists():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            return ImageArray.from_state_dict(state["train"]), ImageArray.from_state_dict(state["test"])
        except Exception:  # a damaged cache entry is regenerated, never fatal
            pass
    train = generate(spec, spec.num_train, 2 * spec.seed)
    test = generate(spec, spec.num_test, 2 * spec.seed + 1)
    atomic_torch_save({"train": train.state_dict(), "test": test.state_dict(),
                       "spec": json.dumps(dataclasses.asdict(spec))}, path)
    return train, test
