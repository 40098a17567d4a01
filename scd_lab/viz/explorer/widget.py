"""The explorer's notebook front end (ipywidgets). Every control's observer calls
``Explorer.update()``, which swaps PNG bytes (from ``ExplorerModel``) into existing
``ipywidgets.Image`` widgets: no matplotlib redraw. The time of the last update is kept in
``Explorer.last_update_s``."""
from __future__ import annotations

import html
import time

import numpy as np

from ...errors import RunError
from .export import export_html
from .model import INVERTED_MARK, ExplorerModel, ExplorerState
from .render import colorbar_png, data_uri, image_bytes, scatter_svg


class Explorer:
    """The notebook widget: runs side by side, scrubbed through epochs.

    Controls: an epoch slider with a Play button, an image picker, an opacity slider, a mask
    checkbox, a Refresh button; per run a map picker and a polarity-flip checkbox. Per run it
    shows the overlay, a caption (epoch, step, AUROC, best IoU, "▼ inverted" when AUROC < 0.5),
    a small AUROC / best-IoU plot with a marker at the current epoch, the feature space at
    that epoch (t-SNE of the probe set coloured by class, the chosen image ringed, and its
    nearest neighbours by the run's embedding; ``feature_space=False`` leaves it out), and
    notes on what the run lacks. ``export_html(path)`` writes the same views as one
    self-contained HTML file. Display it as the last expression of a cell (or ``display(explorer.widget)``).

    Args: see ``ExplorerModel`` (``run_dirs``, ``images``, ``display``); ``play_interval_ms``:
    the Play button's speed.
    """

    def __init__(self, run_dirs, images=None, display: int = 192, play_interval_ms: int = 700,
                 feature_space: bool = True):
        import ipywidgets as W

        self.model = ExplorerModel(run_dirs, images=images, display=display)
        self.feature_space = feature_space
        self._thumbs: dict[int, str] = {}
        m = self.model
        self.state = m.default_state()
        self.last_update_s = 0.0
        self.update_times: list[float] = []
        self._muted = False
        tl = m.timeline
        self.epoch_slider = W.IntSlider(value=max(len(tl) - 1, 0), min=0,
                                        max=max(len(tl) - 1, 0), description="epoch",
                                        readout=False, continuous_update=True)
        self.epoch_label = W.HTML()
        self.play = W.Play(value=self.epoch_slider.value, min=0, max=self.epoch_slider.max,
                           interval=play_interval_ms, description="play")
        W.jslink((self.play, "value"), (self.epoch_slider, "value"))
        self.image_picker = W.Dropdown(options=m.image_options(), value=self.state.image,
                                       description="image")
        self.opacity = W.FloatSlider(value=self.state.opacity, min=0, max=1, step=0.05,
                                     description="opacity", readout_format=".2f")
        self.mask_box = W.Checkbox(value=self.state.show_mask, description="mask outline",
                                   indent=False)
        self.refresh_button = W.Button(description="Refresh", icon="refresh",
                                       tooltip="re-read the snapshots of runs still running")
        self.status = W.HTML()
        for w, cls in ((self.epoch_slider, "scd-epoch"), (self.play, "scd-play"),
                       (self.image_picker, "scd-image-picker"), (self.opacity, "scd-opacity"),
                       (self.refresh_button, "scd-refresh")):
            w.add_class(cls)

        self.map_pickers, self.flip_boxes, self.images_w, self.curves_w = {}, {}, {}, {}
        self.captions, self.notes_w, self.space_w = {}, {}, {}
        columns = []
        for lab, v in m.runs.items():
            opts = v.map_names or ["(none)"]
            picker = W.Dropdown(options=opts, value=self.state.maps.get(lab) or opts[0],
                                description="map", layout=W.Layout(width=f"{display + 40}px"))
            picker.add_class("scd-map-picker")
            flip = W.Checkbox(value=False, description="flip polarity (1 − map)", indent=False)
            img = W.Image(format="png", width=display, height=display)
            img.add_class("scd-overlay")
            curve = W.Image(format="png")
            curve.add_class("scd-curve")
            self.map_pickers[lab], self.flip_boxes[lab] = picker, flip
            self.images_w[lab], self.curves_w[lab] = img, curve
            self.captions[lab], self.notes_w[lab] = W.HTML(), W.HTML()
            self.space_w[lab] = W.HTML()
            self.space_w[lab].add_class("scd-space")
            title = W.HTML(f"<b>{_esc(lab)}</b> <span style='color:#666'>"
                           f"{_esc(v.method_name or '')}</span>")
            columns.append(W.VBox([title, picker, flip, img, self.captions[lab], curve,
                                   self.space_w[lab], self.notes_w[lab]],
                                  layout=W.Layout(width=f"{display + 70}px",
                                                  margin="0 8px 0 0")))
            picker.observe(self._on_change, "value")
            flip.observe(self._on_change, "value")
        self.colorbar = W.Image(value=colorbar_png(display), format="png", width=14,
                                height=display, layout=W.Layout(width="14px", height=f"{display}px",
                                                                object_fit="fill"))
        cbar = W.VBox([W.HTML("<small>1</small>"), self.colorbar,
                       W.HTML("<small>0</small>"),
                       W.HTML("<small>map<br>(min-max<br>per image)</small>")],
                      layout=W.Layout(margin="62px 0 0 0", width="80px"))
        cbar.add_class("scd-colorbar")
        for w in (self.epoch_slider, self.image_picker, self.opacity, self.mask_box):
            w.observe(self._on_change, "value")
        self.refresh_button.on_click(lambda _: self.refresh())
        legend = W.HTML("<small>cyan outline: ground-truth mask · "
                        f"{INVERTED_MARK}: AUROC &lt; 0.5 on held-out masks (1 − map marks "
                        "the object better) · curves: AUROC (blue), best IoU (green), red "
                        "line = shown epoch</small>")
        self.widget = W.VBox([
            W.HBox([self.play, self.epoch_slider, self.epoch_label]),
            W.HBox([self.image_picker, self.opacity, self.mask_box, self.refresh_button]),
            W.HBox(columns + [cbar]), legend, self.status])
        self.widget.add_class("scd-explorer")
        self.update()

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)

    # state from the controls
    def read_state(self) -> ExplorerState:
        tl = self.model.timeline
        epoch = tl[min(self.epoch_slider.value, len(tl) - 1)] if tl else 0.0
        return ExplorerState(
            epoch=epoch, image=self.image_picker.value,
            maps={lab: (p.value if p.value != "(none)" else None)
                  for lab, p in self.map_pickers.items()},
            flip={lab: b.value for lab, b in self.flip_boxes.items()},
            opacity=float(self.opacity.value), show_mask=bool(self.mask_box.value))

    def _on_change(self, _change=None):
        if not self._muted:
            self.update()

    def update(self) -> float:
        """Show the controls' state: swap PNG bytes into the Image widgets. Returns (and keeps
        in ``last_update_s``) the seconds it took."""
        t0 = time.perf_counter()
        m = self.model
        self.state = s = self.read_state()
        tl = m.timeline
        self.epoch_label.value = (f"epoch {s.epoch:g} &nbsp;<small>({self.epoch_slider.value + 1}"
                                  f"/{len(tl)})</small>" if tl else "no snapshots yet")
        for p in m.panels(s):
            img = m.overlay_png(p, s.opacity)
            if self.images_w[p.label].value != img:
                self.images_w[p.label].value = img
            cap = _esc(p.caption())
            if p.inverted and not p.flipped:
                cap = cap.replace(INVERTED_MARK, f"<b style='color:#c0392b'>{INVERTED_MARK}"
                                                 "</b>")
            cap = f"<small>{cap}</small>"
            if self.captions[p.label].value != cap:
                self.captions[p.label].value = cap
            curve = m.curve_png(p.label, p.map_name, p.epoch)
            if self.curves_w[p.label].value != curve:
                self.curves_w[p.label].value = curve
            if self.feature_space:
                space = self.space_html(p.label, p.snapshot, p.image)
                if self.space_w[p.label].value != space:
                    self.space_w[p.label].value = space
            notes = m.view(p.label).notes()
            html = "".join(f"<div style='color:#a04000'><small>⚠ {_esc(n)}</small></div>"
                           for n in notes)
            if self.notes_w[p.label].value != html:
                self.notes_w[p.label].value = html
        self.last_update_s = time.perf_counter() - t0
        self.update_times.append(self.last_update_s)
        return self.last_update_s

    def space_html(self, label: str, snapshot: int | None, image: int) -> str:
        """The feature space of run ``label`` at a snapshot: the t-SNE layout (the chosen
        image ringed, its neighbours dashed) and the neighbours' thumbnails."""
        m = self.model
        note = m.space.note(label)
        try:
            xy = m.space.layout(label, snapshot)
        except ImportError as exc:  # scikit-learn missing
            note, xy = str(exc), None
        if note or xy is None:
            return f"<small style='color:#a04000'>{_esc(note or 'no layout yet')}</small>"
        near = m.space.neighbours(label, snapshot)[image].tolist()
        svg = scatter_svg(xy, m.probe.get("labels"), m.class_names, size=200,
                          highlight=image, near=near)
        thumbs = "".join(f"<img src='{self._thumb(j)}' width=36 height=36 title='#{j}' "
                         "style='image-rendering:pixelated;margin-right:2px'>" for j in near)
        return ("<small><b>feature space</b> (t-SNE; ringed: this image)</small><br>"
                f"{svg}"
                f"<br><small>nearest neighbours</small><br>{thumbs}")

    def _thumb(self, i: int) -> str:
        if i not in self._thumbs:
            rgb = np.ascontiguousarray(self.model.probe["images"][i].permute(1, 2, 0).numpy())
            self._thumbs[i] = data_uri(image_bytes(rgb))
        return self._thumbs[i]

    def export_html(self, path, images=None):
        """Write this explorer's runs as one self-contained HTML file (no kernel, no
        network; ``scd_lab.viz.explorer.export``); returns its path."""
        return export_html(self.model, path, images=images)

    def refresh(self) -> list[str]:
        """Re-read the runs (new snapshots of a run being written); keeps the shown epoch
        unless it was the last one, then follows the newest."""
        at_end = self.epoch_slider.value >= self.epoch_slider.max
        old_epoch = self.state.epoch
        try:
            changed = self.model.refresh()
        except RunError as exc:
            self.status.value = f"<b style='color:#c0392b'>{_esc(str(exc))}</b>"
            return []
        tl = self.model.timeline
        self._muted = True
        try:
            for lab, picker in self.map_pickers.items():
                names = self.model.view(lab).map_names
                if names and list(picker.options) != names:
                    cur = picker.value
                    picker.options = names
                    picker.value = cur if cur in names else self.model.view(lab).default_map
            n = max(len(tl) - 1, 0)
            self.epoch_slider.max = self.play.max = n
            idx = n if at_end or old_epoch not in tl else tl.index(old_epoch)
            self.epoch_slider.value = idx
        finally:
            self._muted = False
        self.update()
        self.status.value = (f"<small>refreshed: {', '.join(map(_esc, changed))} changed"
                             if changed else "<small>refreshed: nothing new") + "</small>"
        return changed

    # programmatic control (tests, benchmarks, notebooks)
    def set_epoch_index(self, i: int) -> float:
        self.epoch_slider.value = i
        return self.last_update_s

    def set_image(self, i: int) -> float:
        self.image_picker.value = i
        return self.last_update_s

    def set_map(self, label: str, name: str) -> float:
        self.map_pickers[label].value = name
        return self.last_update_s


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)
