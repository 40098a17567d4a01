"""The explorer's pixels, drawn with NumPy and PIL: the colour map, PNG bytes, the mask
outline, the colour bar, probe images at display size, colour-mapped maps, overlays, and the
small AUROC / best-IoU plot with its epoch marker.

The functions take arrays and give arrays (or PNG bytes). ``PanelPixels`` (mixed into
``ExplorerModel``) draws a ``Panel`` with them and caches what it drew. No matplotlib figure
and no small torch op on the redraw path (``docs/explorer.md`` says what each costs).
"""
from __future__ import annotations

import io
from collections import OrderedDict

import numpy as np

MASK_RGB = (0, 255, 255)  # outline of the ground-truth mask
MARKER_RGB = (214, 39, 40)  # the shown epoch on the AUROC / best-IoU plot


def colormap_lut(name: str = "magma") -> np.ndarray:
    """(256, 3) uint8: the matplotlib colour map ``name`` as a lookup table."""
    from matplotlib import colormaps
    return (colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 array (fast settings: the browser decodes any)."""
    return image_bytes(rgb, "PNG", compress_level=1)


def image_bytes(pixels: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    """``pixels`` (H, W, 3 or 4) uint8 encoded as ``fmt`` (PIL's name: PNG, WEBP, ...)."""
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt, **options)
    return buf.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """``data:`` URI of encoded bytes (an image a page shows without fetching anything)."""
    import base64
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def outline_rgba(outline: np.ndarray) -> np.ndarray:
    """(D, D, 4) uint8: the mask outline (``mask_outline``) in ``MASK_RGB``, transparent
    elsewhere (a layer to lay over an overlay)."""
    out = np.zeros(outline.shape + (4,), np.uint8)
    out[outline] = MASK_RGB + (255,)
    return out


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a boolean (H, W) mask (the mask minus its 3x3 erosion)."""
    m = np.pad(mask, 1, mode="edge")
    eroded = mask.copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            eroded &= m[dy:dy + mask.shape[0], dx:dx + mask.shape[1]]
    return mask & ~eroded


def colorbar_png(height: int = 192, width: int = 14, cmap: str = "magma") -> bytes:
    """A vertical colour bar (1 at the top) as PNG bytes."""
    lut = colormap_lut(cmap)
    col = lut[np.linspace(255, 0, height).round().astype(int)]
    return png_bytes(np.repeat(col[:, None, :], width, axis=1))


def display_images(images, masks, display: int):
    """Probe images resized (nearest) to ``display`` pixels, as float32 (P, D, D, 3), and the
    outlines of their masks at that size, (P, D, D) bool (``None`` without masks).

    ``images``: uint8 (P, 3, H, W) tensor; ``masks``: (P, H, W) tensor or ``None``."""
    from PIL import Image
    D = display
    imgs = images.permute(0, 2, 3, 1).numpy()  # (P, H, W, 3) uint8
    base = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(x)).resize(
        (D, D), Image.NEAREST)) for x in imgs]).astype(np.float32)
    outlines = None
    if masks is not None:
        m = [np.asarray(Image.fromarray((mk.numpy() > 0).astype(np.uint8) * 255)
                        .resize((D, D), Image.NEAREST)) > 127 for mk in masks]
        outlines = np.stack([mask_outline(x) for x in m])
    return base, outlines


def heat_rgb(m, display: int, lut: np.ndarray, flip: bool) -> np.ndarray:
    """Colour-mapped (D, D, 3) float32 of one (h, w) map tensor: min-max normalised, upsampled
    bilinearly (half-pixel centres, as ``F.interpolate(align_corners=False)``), ``1 - map``
    when ``flip``."""
    from PIL import Image
    m = m.float().numpy().astype(np.float32)
    lo, hi = float(m.min()), float(m.max())
    m = (m - lo) / (hi - lo) if hi - lo > 1e-8 else np.zeros_like(m)
    D = display
    m = np.asarray(Image.fromarray(m, mode="F").resize((D, D), Image.BILINEAR))
    m = np.clip(m, 0, 1)
    if flip:
        m = 1 - m
    return lut[(m * 255).round().astype(np.uint8)].astype(np.float32)


def blend(base: np.ndarray, heat: np.ndarray | None, opacity: float,
          outline: np.ndarray | None = None) -> np.ndarray:
    """(D, D, 3) uint8: the image, the map blended at ``opacity`` (none: the image alone), the
    mask outline (if given)."""
    rgb = base if heat is None else base * (1 - opacity) + heat * opacity
    rgb = rgb.round().astype(np.uint8)
    if outline is not None:
        rgb[outline] = MASK_RGB
    return rgb


def curve_axes(auc: list, epochs: list[float], size):
    """The frame of the small AUROC / best-IoU plot: the epochs on its x axis (the run's
    snapshot epochs, else the metrics'), the plot box (left, right, top, bottom), the epoch
    range, and the epoch -> x and value -> y mappings."""
    w, h = size
    box = left, right, top, bottom = 26, w - 6, 14, h - 16
    epochs = list(epochs or [e for e, _ in auc] or [0.0, 1.0])
    lo, hi = min(epochs), max(epochs)
    hi = hi if hi > lo else lo + 1
    pad = 0.04 * (hi - lo)

    def x_of(epoch: float) -> float:
        return left + (epoch - (lo - pad)) / (hi - lo + 2 * pad) * (right - left)

    def y_of(v: float) -> float:
        return bottom - v * (bottom - top)

    return epochs, box, (lo, hi), x_of, y_of


def render_curve(auc: list, iou: list, epochs: list[float], size):
    """Pixels of a small AUROC / best-IoU plot of ``(epoch, value)`` points, and the
    epoch -> pixel column mapping and the rows of the plot area. ``epochs``: the run's
    snapshot epochs (the x range; empty: the metrics' epochs)."""
    from PIL import Image, ImageDraw

    w, h = size
    im = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(im)
    epochs, (left, right, top, bottom), (lo, hi), x_of, y_of = curve_axes(auc, epochs, size)

    d.rectangle((left, top, right, bottom), outline=(120, 120, 120))
    for v in (0.0, 0.5, 1.0):
        y = y_of(v)
        if 0 < v < 1:
            for x in range(left + 1, right, 4):  # dashed chance line
                d.line((x, y, min(x + 1, right), y), fill=(170, 170, 170))
        d.text((2, y - 5), f"{v:.1f}", fill=(60, 60, 60))
    for e in sorted(set(epochs)):
        x = x_of(e)
        d.line((x, bottom, x, bottom + 2), fill=(120, 120, 120))
    d.text((left, bottom + 3), f"{lo:g}", fill=(60, 60, 60))
    d.text((right - 6 * len(f"{hi:g}"), bottom + 3), f"{hi:g}", fill=(60, 60, 60))
    d.text(((left + right) // 2 - 15, bottom + 3), "epoch", fill=(60, 60, 60))
    for pts, colour, name, tx in ((auc, (31, 119, 180), "AUROC", left + 2),
                                  (iou, (44, 160, 44), "best IoU", left + 50)):
        if not pts:
            continue
        xy = [(x_of(e), y_of(max(0.0, min(1.0, v)))) for e, v in pts]
        if len(xy) > 1:
            d.line(xy, fill=colour, width=2)
        for x, y in xy:
            d.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colour)
        d.text((tx, 1), name, fill=colour)
    if not auc and not iou:
        d.text((left + 8, (top + bottom) // 2 - 5), "no saliency metrics", fill=(110, 110, 110))
    return np.asarray(im).copy(), x_of, (top + 1, bottom)


def mark_epoch(rgb: np.ndarray, x_of, rows: tuple[int, int], epoch: float | None) -> bytes:
    """PNG bytes of a copy of a ``render_curve`` plot with a vertical marker at ``epoch``."""
    y0, y1 = rows
    out = rgb.copy()
    if epoch is not None and x_of is not None:
        x = int(round(x_of(epoch)))
        if 0 <= x < out.shape[1]:
            out[y0:y1, max(x - 1, 0):x + 1] = MARKER_RGB
    return png_bytes(out)


class _LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class PanelPixels:
    """The pixels of ``ExplorerModel``'s panels, drawn on first use and cached: a slider move
    recomputes nothing already seen. Mixed into ``ExplorerModel``, which gives ``view(label)``
    (a ``scd_lab.runs.Run``), ``probe`` and ``masks``."""

    def _init_pixels(self, display: int, cmap: str) -> None:
        self.display = int(display)
        self.lut = colormap_lut(cmap)
        self._base = None  # display-size probe images (P, D, D, 3) float32
        self._outlines = None  # (P, D, D) bool
        self._heat = _LRU(512)  # (label, map, snapshot, image, flip) -> (D, D, 3) float32
        self._png = _LRU(1024)  # full key -> PNG bytes
        self._curves: dict = {}  # (label, map) -> (rgb, x_of_epoch, (y0, y1))
        self._curve_png = _LRU(512)

    def _forget_curves(self, label: str) -> None:
        """Drop the curves of run ``label`` (its metrics changed)."""
        self._curves = {k: c for k, c in self._curves.items() if k[0] != label}
        for cache in (self._curve_png,):
            for k in [k for k in cache if k[0] == label]:
                del cache[k]

    def _display_base(self):
        if self._base is None:
            self._base, self._outlines = display_images(self.probe["images"], self.masks,
                                                        self.display)
        return self._base

    def heat(self, label: str, map_name: str, snapshot: int, image: int,
             flip: bool) -> np.ndarray:
        """Colour-mapped (D, D, 3) map of one probe image at one snapshot: min-max normalised,
        upsampled bilinearly (half-pixel centres, as ``F.interpolate(align_corners=False)``);
        computed on first use (``render.heat_rgb``), then cached."""
        def make():
            m = self.view(label).snapshots[snapshot]["maps"][map_name][image]
            return heat_rgb(m, self.display, self.lut, flip)
        return self._heat.get_or((label, map_name, snapshot, image, bool(flip)), make)

    def overlay(self, panel, opacity: float) -> np.ndarray:
        """(D, D, 3) uint8 of a ``Panel``: the image, the map blended at ``opacity``, the mask
        outline."""
        base = self._display_base()[panel.image]
        heat = None if panel.map is None else self.heat(
            panel.label, panel.map_name, panel.snapshot, panel.image, panel.flipped)
        outline = self._outlines[panel.image] \
            if panel.mask is not None and self._outlines is not None else None
        return blend(base, heat, opacity, outline)

    def overlay_png(self, panel, opacity: float) -> bytes:
        key = (panel.label, panel.map_name, panel.snapshot, panel.image, panel.flipped,
               round(float(opacity), 3), panel.mask is not None)
        return self._png.get_or(key, lambda: png_bytes(self.overlay(panel, opacity)))

    def curve_png(self, label: str, map_name: str | None, epoch: float | None,
                  size=(260, 120)) -> bytes:
        """AUROC and best IoU over epochs (rendered once per run and map) with a vertical
        marker at ``epoch`` (drawn into a copy of the pixels)."""
        key = (label, map_name, epoch, size)
        return self._curve_png.get_or(key, lambda: self._curve_marked(label, map_name, epoch,
                                                                     size))

    def _curve_marked(self, label, map_name, epoch, size) -> bytes:
        ck = (label, map_name, size)
        if ck not in self._curves:
            v = self.view(label)
            self._curves[ck] = render_curve(
                v.saliency_curve(map_name, "auroc") if map_name else [],
                v.saliency_curve(map_name, "best_iou") if map_name else [], v.epochs, size)
        return mark_epoch(*self._curves[ck], epoch)


CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")


def curve_svg(auc: list, iou: list, epochs: list[float], size=(260, 120)) -> str:
    """The AUROC / best-IoU plot of ``render_curve`` as inline SVG, with a red epoch marker
    (``<line class="marker">``) that a page moves: its ``data-x`` holds ``{epoch: x}``."""
    import json

    w, h = size
    epochs, (left, right, top, bottom), (lo, hi), x_of, y_clip = curve_axes(auc, epochs, size)

    def y_of(v):
        return y_clip(max(0.0, min(1.0, v)))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'class="curve" font-family="sans-serif" font-size="9">',
             f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
             'fill="white" stroke="#787878"/>',
             f'<line x1="{left}" x2="{right}" y1="{y_of(.5):.1f}" y2="{y_of(.5):.1f}" '
             'stroke="#aaa" stroke-dasharray="2,3"/>']
    for v in (0.0, 0.5, 1.0):
        parts.append(f'<text x="2" y="{y_of(v) + 3:.1f}" fill="#3c3c3c">{v:.1f}</text>')
    parts.append(f'<text x="{left}" y="{h - 3}" fill="#3c3c3c">{lo:g}</text>'
                 f'<text x="{right}" y="{h - 3}" text-anchor="end" fill="#3c3c3c">{hi:g}</text>'
                 f'<text x="{(left + right) / 2:.0f}" y="{h - 3}" text-anchor="middle" '
                 'fill="#3c3c3c">epoch</text>')
    for pts, colour, name, tx in ((auc, "#1f77b4", "AUROC", left + 2),
                                  (iou, "#2ca02c", "best IoU", left + 50)):
        if not pts:
            continue
        xy = " ".join(f"{x_of(e):.1f},{y_of(v):.1f}" for e, v in pts)
        parts.append(f'<polyline points="{xy}" fill="none" stroke="{colour}" '
                     'stroke-width="2"/>')
        parts += [f'<circle cx="{x_of(e):.1f}" cy="{y_of(v):.1f}" r="2" fill="{colour}"/>'
                  for e, v in pts]
        parts.append(f'<text x="{tx}" y="10" fill="{colour}">{name}</text>')
    if not auc and not iou:
        parts.append(f'<text x="{left + 8}" y="{(top + bottom) / 2:.0f}" fill="#6e6e6e">'
                     'no saliency metrics</text>')
    marks = json.dumps({f"{e:g}": round(x_of(e), 1) for e in epochs})
    parts.append(f"<line class=\"marker\" data-x='{marks}' x1=\"{x_of(hi):.1f}\" "
                 f'x2="{x_of(hi):.1f}" y1="{top}" y2="{bottom}" stroke="rgb{MARKER_RGB}" '
                 'stroke-width="2"/></svg>')
    return "".join(parts)


def scatter_svg(xy, labels, class_names=(), size: int = 220, highlight: int | None = None,
                near=()) -> str:
    """A 2-D layout (P, 2) in [0, 1] as inline SVG: one circle per probe image
    (``data-i``), coloured by class, with a title naming the image and its class.
    ``highlight`` is ringed in black, ``near`` (its neighbours) in grey (a page may move
    these rings itself through the ``sel`` / ``near`` classes)."""
    pad = 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
             'class="scatter"><rect width="100%" height="100%" fill="white" stroke="#ccc"/>']
    near = {int(j) for j in near}
    for i, (x, y) in enumerate(np.asarray(xy)):
        c = int(labels[i]) if labels is not None else 0
        name = class_names[c] if c < len(class_names) else f"class {c}"
        cls, ring = (("sel", ' stroke="#000" stroke-width="2.5"') if i == highlight else
                     ("near", ' stroke="#555" stroke-dasharray="2,1"') if i in near else ("", ""))
        parts.append(f'<circle data-i="{i}" class="{cls}"{ring} '
                     f'cx="{pad + x * (size - 2 * pad):.1f}" '
                     f'cy="{pad + (1 - y) * (size - 2 * pad):.1f}" r="4" '
                     f'fill="{CLASS_COLOURS[c % len(CLASS_COLOURS)]}"><title>#{i} · {name}'
                     '</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
