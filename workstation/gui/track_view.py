"""The track view: stacked panes on one shared time axis.

- overview: the whole track's waveform envelope with the visible region (drag it to move);
- wave: the waveform of the visible part;
- main: the image (spectrogram on a log-frequency, linear or mel axis, one harmonic of the
  HCQT, or the multi-f0 salience; an ``ImageItem`` placed in seconds x MIDI, Hz or mels)
  under the overlays (f0 curve, notes, beats and downbeats), estimates and loaded
  references alike;
- lane: local key segments (estimate; a reference band below it when one is loaded) and
  beats.

The view only draws: ``set_data(TrackViewData)`` receives what a loader thread prepared
(the same track again, e.g. when its analysis finishes, keeps the visible time and y ranges;
another track starts at 0-30 s), ``set_image(DisplayImage)`` an image mode computed on request
(``image_requested``), and ``set_references(results)`` the layers of an annotation file read
elsewhere. A track without display features (undecodable, missing) shows a message naming the
file and the reason in place of the panes. Layers (``layers.py``) are ``Layer`` objects in
``self.layers`` / ``self.ref_layers`` / ``self.under_layers`` (name -> Layer: estimate,
reference and analysis-under-a-correction styles of the same types) switched by
``set_layer_visible`` and ``set_references_visible``.

Mouse (``panes.MOUSE_GESTURES``, listed in Help > Keyboard shortcuts): the wheel zooms time
only; Ctrl+wheel (or the wheel over the note axis) zooms frequency only; dragging pans, never
past the track (time stays in [0, duration]) nor past the image's frequency range; a click
moves the cursor. The image's colour bar (``main_image.MainImage``, beside the main pane)
shows the displayed levels in dB re the track's peak (salience for the salience image); its
handles or the toolbar's floor spin box change them, the toolbar's map box the colour map;
both are remembered in the settings (``use_settings``). The read-out under the panes gives
time, frequency, note and the image value at the mouse.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from workstation.core import constants as C

from . import panes as P
from .edit_legend import EditLegend
from .main_image import MainImage, image_source
from .layers import (ANALYSIS, EDITED_COLOUR, ESTIMATE, LAYER_COLOURS, LAYER_NAMES,
                     LAYER_TYPES, REF_LAYER_OF, REFERENCE, DrawContext, make_layers)
from .overlays import CursorLine, envelope_xy
from .track_loader import (EXTRA_IMAGE_MODES, DisplayImage, TrackViewData, failure_text,
                           same_track)
from .view_nav import TimeNavigation
from .view_toolbar import ViewToolbar, message_page

#: Main-pane image modes, their menu labels and the y unit each is drawn in.
IMAGE_MODES = ("spectrogram", "linear", "mel", "hcqt", "salience")
MODE_LABELS = {"spectrogram": "Spectrogram (log f)", "linear": "Spectrogram (linear f)",
               "mel": "Mel spectrogram", "hcqt": "HCQT", "salience": "Multi-f0 salience"}
MODE_UNITS = {"spectrogram": "midi", "linear": "hz", "mel": "mel", "hcqt": "midi", "salience": "midi"}
__all__ = ["IMAGE_MODES", "MODE_LABELS", "MODE_UNITS", "LAYER_NAMES", "LAYER_COLOURS",
           "REF_LAYER_OF", "DEFAULT_SPAN_S", "TrackView"]
DEFAULT_SPAN_S = 30.0


class TrackView(TimeNavigation, QWidget):
    """Panes of one track. Signals: ``cursor_moved(float t_s)`` when the user clicks a time;
    ``range_changed(float x0, float x1)`` after every zoom/scroll; ``image_requested(str mode,
    float harmonic)`` when the chosen image mode needs a ``DisplayImage`` not yet given."""

    cursor_moved = Signal(float)
    range_changed = Signal(float, float)
    image_requested = Signal(str, float)
    layers_drawn = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.data: TrackViewData | None = None
        self.references: dict = {}
        self.reference_source = ""
        self.duration_s = 0.0
        self.image_mode = "spectrogram"
        self.harmonic = 1.0
        self.y_unit = "midi"
        self._images: dict[tuple[str, float], DisplayImage] = {}
        self._layer_on = {n: True for n in LAYER_NAMES}
        self._ref_on = True
        self._syncing = False
        self.last_redraw_s = 0.0
        self._build_toolbar()
        self._build_panes()
        self._build_layers()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.toolbar)
        self.empty = message_page()  # in place of the panes when there is nothing to draw
        self.stack = QStackedWidget()
        self.stack.addWidget(self.glw)
        self.stack.addWidget(self.empty)
        lay.addWidget(self.stack, 1)
        self.legend = EditLegend(EDITED_COLOUR)  # the layers corrected by hand
        lay.addWidget(self.legend)
        lay.addWidget(self.readout)
        self.clear()

    # ------------------------------------------------------------------ construction
    def _build_toolbar(self) -> None:
        self.toolbar = tb = ViewToolbar(
            [MODE_LABELS[m] for m in IMAGE_MODES],
            {t.name: (t.label, t.colour) for t in LAYER_TYPES})
        self.mode_box, self.harmonic_box, self.message = tb.mode_box, tb.harmonic_box, tb.message
        self.layer_boxes, self.ref_box = tb.layer_boxes, tb.ref_box
        self.cmap_box, self.floor_box = tb.cmap_box, tb.floor_box
        tb.mode_box.currentIndexChanged.connect(lambda i: self.set_image_mode(IMAGE_MODES[i]))
        tb.harmonic_box.currentIndexChanged.connect(lambda i: self.set_harmonic(C.HARMONICS[i]))
        for name, cb in tb.layer_boxes.items():
            cb.toggled.connect(lambda on, n=name: self.set_layer_visible(n, on))
        tb.ref_box.toggled.connect(self.set_references_visible)
        tb.cmap_box.currentIndexChanged.connect(lambda i: self.set_colour_map(tb.cmap_box.itemData(i)))
        tb.floor_box.valueChanged.connect(lambda v: self.set_db_levels(v))
        self.readout = QLabel(" ")
        self.readout.setStyleSheet("font-family: monospace; padding: 2px 6px;")

    def _build_panes(self) -> None:
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(P.BACKGROUND)
        lay = self.glw.ci
        lay.setSpacing(0)
        lay.setContentsMargins(2, 2, 8, 2)
        self.overview = P.make_pane(lay, 0, title="")
        self.overview.setMouseEnabled(x=False, y=False)
        self.wave = P.make_pane(lay, 1, title="wave")
        self.axis = P.NoteAxis("left")
        self.main = P.make_pane(lay, 2, left_axis=self.axis, y_mouse=True)
        self.lane = P.make_pane(lay, 3, title="key", show_time_axis=True)
        self.main_image = MainImage(self.main, lay, row=2, col=1, parent=self)
        self.main_image.levels_changed.connect(self._sync_colour_controls)
        self.image = self.main_image.item
        for p in (self.wave, self.lane):
            p.setXLink(self.main)
            p.getAxis("left").setStyle(showValues=False)
        self.overview.getAxis("left").setStyle(showValues=False)
        lay.layout.setRowFixedHeight(0, 44)
        lay.layout.setRowFixedHeight(1, 64)
        lay.layout.setRowFixedHeight(3, 58)
        lay.layout.setRowStretchFactor(2, 10)
        self.panes = {"overview": self.overview, "wave": self.wave, "main": self.main,
                      "lane": self.lane}
        self.main.sigXRangeChanged.connect(self._on_main_range)
        self.glw.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.glw.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def _build_layers(self) -> None:
        """The layers (``layers.py``): estimates, references and the analysis under a
        correction, the same types in three styles, each adding its items to the main pane
        and the lane."""
        self.layers = make_layers(ESTIMATE)
        self.ref_layers = make_layers(REFERENCE)
        self.under_layers = make_layers(ANALYSIS)
        self._edited: set[str] = set()   # result ids shown as corrections
        panes = {"main": self.main, "lane": self.lane}
        for layer in (*self.layers.values(), *self.ref_layers.values(), *self.under_layers.values()):
            layer.build(panes)
        # the items by their old names (tests and exports read them)
        L, R = self.layers, self.ref_layers
        self.f0_curve, self.ref_f0_curve = L["f0"].curve, R["f0"].curve
        self.notes_item, self.ref_notes_item = L["notes"].item, R["notes"].item
        self.beat_lines, self.downbeat_lines = L["beats"].lines
        self.lane_beats, self.lane_downbeats = L["beats"].lane_lines
        self.ref_beat_lines, self.ref_lane_beats = R["beats"].lines[0], R["beats"].lane_lines[0]
        self.key_band, self.ref_key_band = L["key"].band, R["key"].band
        self.lane.setYRange(0, 1, padding=0)
        self.overview_curve = pg.PlotDataItem(pen=pg.mkPen(P.WAVE_COLOUR, width=1))
        self.overview.addItem(self.overview_curve)
        self.wave_curve = pg.PlotDataItem(pen=pg.mkPen(P.WAVE_COLOUR, width=1))
        self.wave_curve.setClipToView(True)
        self.wave.addItem(self.wave_curve)
        self.region = pg.LinearRegionItem(brush=pg.mkBrush(79, 163, 255, 50),
                                          pen=pg.mkPen(P.ACCENT, width=1))
        self.region.setZValue(10)
        self.overview.addItem(self.region)
        self.region.sigRegionChanged.connect(self._on_region)
        self.loop_region = pg.LinearRegionItem(brush=pg.mkBrush(124, 242, 154, 40),
                                               pen=pg.mkPen(P.REF_COLOUR, width=1), movable=True)
        self.loop_region.setZValue(5)
        self.loop_region.setVisible(False)
        self.wave.addItem(self.loop_region)
        self.cursors = [CursorLine() for _ in range(4)]
        for pane, cur in zip((self.overview, self.wave, self.main, self.lane), self.cursors):
            pane.addItem(cur)

    # ------------------------------------------------------------------ data
    def clear(self, message: str | None = "Select a track in the list to see it here.") -> None:
        """Empty the panes and show ``message`` in their place (None: leave the panes up)."""
        self.data = None
        self.duration_s = 0.0
        self._images = {}
        self.main_image.clear()
        self.references = {}
        self.reference_source = ""
        self.ref_box.setEnabled(False)
        self._draw_overlays()  # no results, no references: every layer empty
        self.overview_curve.setData([], [])
        self.wave_curve.setData([], [])
        self.loop_region.setVisible(False)
        self.show_edits({})
        self.message.setText("")
        self.readout.setText(" ")
        self.set_cursor(0.0)
        if message is not None:
            self.empty.setText(message)
            self.stack.setCurrentWidget(self.empty)

    def set_data(self, data: TrackViewData) -> None:
        """Draw a track (results and display features prepared off the GUI thread).

        The same track again (same id and content, e.g. reloaded when its analysis finishes)
        keeps the visible time and y ranges, the cursor and the images computed on request;
        another track starts at 0 .. ``DEFAULT_SPAN_S`` s."""
        keep = same_track(self.data, data)
        if keep:
            x_keep, y_keep = self.x_range(), tuple(self.main.getViewBox().viewRange()[1])
            images, cursor = self._images, self.cursor_s()
        d = data.display
        if d is None:  # nothing to draw: say why, in place of the panes
            self.clear(failure_text(data))
            self.data = data
            return
        self.clear(None)
        self.stack.setCurrentWidget(self.glw)
        self.data = data
        self.show_edits({k: e.revision for k, e in data.edits.items()})
        self.duration_s = max(data.duration_s, 1e-3)
        if keep:
            self._images = images
        x, y = envelope_xy(d.env_min, d.env_max, d.hop_s, max_points=4000)
        self.overview_curve.setData(x, y)
        xw, yw = envelope_xy(d.env_min, d.env_max, d.hop_s, max_points=200000)
        self.wave_curve.setData(xw, yw)
        peak = float(max(np.max(np.abs(d.env_min)) if len(d.env_min) else 0,
                         np.max(np.abs(d.env_max)) if len(d.env_max) else 0, 1e-3))
        self.overview.setYRange(-peak, peak, padding=0.05)
        self.wave.setYRange(-peak, peak, padding=0.05)
        for pane in self.panes.values():  # no panning before 0 s or after the end
            pane.setLimits(xMin=0.0, xMax=self.duration_s, maxXRange=self.duration_s)
        self.overview.setXRange(0, self.duration_s, padding=0.0)
        self.main.setLimits(minXRange=min(0.05, self.duration_s))
        self._draw_image()
        if keep:
            self.set_x_range(*x_keep)
            self.main.setYRange(*y_keep, padding=0)
            self.set_cursor(cursor)
        else:
            self.set_x_range(0.0, min(self.duration_s, DEFAULT_SPAN_S))

    def draw_context(self) -> DrawContext:
        return DrawContext(self.y_unit, self._y_top(), self.duration_s)

    def _draw_overlays(self) -> None:
        """(Re)draw the estimate and reference layers on the current y axis."""
        ctx = self.draw_context()
        results = self.data.results if self.data is not None else {}
        for layers, res in ((self.layers, results), (self.ref_layers, self.references)):
            for layer in layers.values():
                layer.set_result(res.get(layer.result_id), ctx)
        self.layers["key"].share_lane("key" in self.references)
        self._draw_under(ctx)
        x0, x1 = self.x_range()
        for layer in (*self.layers.values(), *self.ref_layers.values()):
            layer.draw_range(x0, x1)
        self._apply_visibility()
        self.layers_drawn.emit()

    def show_layer(self, name: str, result) -> None:
        """Redraw the estimate layer ``name`` with ``result`` (an edit in progress): the
        shown data's results hold it from now on."""
        if self.data is not None:
            self.data.results[self.layers[name].result_id] = result
        self.layers[name].set_result(result, self.draw_context())
        self.layers_drawn.emit()

    def show_edits(self, revisions: dict, stale: dict | None = None) -> None:
        """Say which layers are corrected by hand: layer id -> revision (0: not saved yet);
        ``stale``: layer id -> the analysis now, for edits made over another analysis."""
        names = {layer.result_id: name for name, layer in self.layers.items()}
        stale = stale or {}
        for layer in self.layers.values():
            layer.set_edited(layer.result_id in revisions)
        if set(revisions) != self._edited:
            self._edited = set(revisions)
            self._draw_under(self.draw_context())
        self.legend.show_revisions(revisions, stale, names)

    def _draw_under(self, ctx: DrawContext) -> None:
        """Under each corrected layer, the analysis it corrects (``data.analysis``)."""
        analysis = self.data.analysis if self.data is not None else {}
        for layer in self.under_layers.values():
            rid = layer.result_id
            layer.set_result(analysis.get(rid) if rid in self._edited else None, ctx)

    def set_references(self, references: dict, source: str = "") -> None:
        """Draw the layers of a reference annotation (analyzer id -> core result, as
        ``workstation.export.read_annotation_file`` returns them) over the estimates."""
        self.references = {k: v for k, v in (references or {}).items() if k in REF_LAYER_OF}
        self.reference_source = source
        self.ref_box.setEnabled(bool(self.references))
        self._draw_overlays()

    def set_references_visible(self, visible: bool) -> None:
        self._ref_on = bool(visible)
        if self.ref_box.isChecked() != self._ref_on:
            self.ref_box.setChecked(self._ref_on)
        self._apply_visibility()

    # ------------------------------------------------------------------ images
    def set_image_mode(self, mode: str) -> None:
        if mode not in IMAGE_MODES:
            raise ValueError(f"image mode {mode!r}; one of {IMAGE_MODES}")
        self.image_mode = mode
        i = IMAGE_MODES.index(mode)
        if self.mode_box.currentIndex() != i:
            self.mode_box.setCurrentIndex(i)
        self.harmonic_box.setVisible(mode == "hcqt")
        if self.data is not None:
            self._draw_image()

    def set_harmonic(self, harmonic: float) -> None:
        """The HCQT harmonic shown in 'hcqt' mode (one of ``C.HARMONICS``)."""
        if harmonic not in C.HARMONICS:
            raise ValueError(f"harmonic {harmonic}; one of {C.HARMONICS}")
        self.harmonic = float(harmonic)
        i = list(C.HARMONICS).index(harmonic)
        if self.harmonic_box.currentIndex() != i:
            self.harmonic_box.setCurrentIndex(i)
        if self.data is not None and self.image_mode == "hcqt":
            self._draw_image()

    def _image_key(self, mode: str | None = None) -> tuple[str, float]:
        mode = mode or self.image_mode
        return (mode, self.harmonic if mode == "hcqt" else 0.0)

    def set_image(self, img: DisplayImage) -> None:
        """Receive an image computed on request; drawn when it is the current mode's."""
        key = (img.mode, img.harmonic if img.mode == "hcqt" else 0.0)
        self._images[key] = img
        if self.data is not None and key == self._image_key():
            self._draw_image()

    def _y_top(self) -> float:
        return {"midi": 128.0, "hz": C.SAMPLE_RATE / 2, "mel": float(P.y_from_midi("mel", 135.0))}[self.y_unit]

    def _draw_image(self) -> None:
        """Place the current image in seconds x (MIDI | Hz | mels) (pixel centres on frame
        times and bin centres), with the user's levels and colour map; limit the y axis to
        the image's rows; then redraw the overlays on that axis."""
        data, mode = self.data, self.image_mode
        self.main_image.clear()
        self.main_image.set_kind("salience" if mode == "salience" else "db")
        self.message.setText("")
        self.y_unit = MODE_UNITS[mode]
        self.axis.set_unit(self.y_unit)
        y_range = {"midi": (C.FMIN_MIDI, 108.0), "hz": (0.0, 5000.0),
                   "mel": (0.0, float(P.y_from_midi("mel", 120.0)))}[self.y_unit]
        img = image_source(mode, data, self._images.get(self._image_key()))
        if img is None and mode == "salience":
            self.message.setText("no multi-f0 salience for this track yet")
        elif img is None and mode in EXTRA_IMAGE_MODES and data is not None and data.display is not None:
            self.message.setText(f"computing the {MODE_LABELS[mode].lower()}…")
            self.image_requested.emit(mode, self.harmonic if mode == "hcqt" else 0.0)
        y_lo, y_hi = 0.0, self._y_top()
        if img is not None:
            values, kind, t0, dt, y, top = img
            step = float((y[-1] - y[0]) / max(1, len(y) - 1))
            y_lo, y_hi = float(y[0]) - step / 2, float(y[-1]) + step / 2
            self.main_image.show(values, kind, t0 - dt / 2, dt, y_lo, len(y) * step, top=top)
            y_range = (y_lo, y_hi if self.y_unit != "hz" else min(y_hi, 5000.0))
        self._sync_colour_controls()
        min_y = {"midi": 3.0, "hz": 50.0, "mel": 2.0}[self.y_unit]
        self.main.setLimits(yMin=y_lo, yMax=y_hi, minYRange=min_y, maxYRange=y_hi - y_lo)
        self.main.setYRange(*y_range, padding=0)
        self._draw_overlays()

    def _update_image_window(self, force: bool = False) -> None:
        x0, x1 = self.x_range()
        self.main_image.update_window(x0, x1, int(self.main.getViewBox().width()), force=force)

    # ------------------------------------------------------------------ colour map, levels
    def use_settings(self, settings) -> None:
        """Take the colour maps and dB levels from ``settings`` (``gui.settings.Settings``)
        and write every later change there."""
        self.main_image.use_settings(settings)
        self._sync_colour_controls()

    def set_colour_map(self, name: str) -> None:
        """Colour map (a key of ``main_image.COLOUR_MAPS``) of the kind of image shown now
        (dB images or the salience)."""
        self.main_image.set_colour_map(name)
        self._sync_colour_controls()

    def set_db_levels(self, floor_db: float, top_db: float | None = None) -> None:
        """Displayed dB range (re the track's peak) of the spectrogram images."""
        self.main_image.set_db_levels(floor_db, top_db)
        self._sync_colour_controls()

    def _sync_colour_controls(self, *_args) -> None:
        mi = self.main_image
        self.toolbar.show_colour(mi.colour_map(), mi.db_levels[0], mi.kind == "db")

    # ------------------------------------------------------------------ layers
    def _apply_visibility(self) -> None:
        for name in LAYER_NAMES:
            self.layers[name].set_visible(self._layer_on[name])
            self.under_layers[name].set_visible(self._layer_on[name])
            self.ref_layers[name].set_visible(self._layer_on[name] and self._ref_on)

    def set_layer_visible(self, name: str, visible: bool) -> None:
        """Show or hide a layer (estimate and reference alike)."""
        self._layer_on[name] = bool(visible)
        cb = self.layer_boxes.get(name)
        if cb is not None and cb.isChecked() != bool(visible):
            cb.setChecked(bool(visible))
        self._apply_visibility()

    def layer_visible(self, name: str) -> bool:
        return self.layers[name].visible()

    def _on_main_range(self, _vb, rng) -> None:
        t0 = time.perf_counter()
        if not self._syncing:
            self._syncing = True
            try:
                self.region.setRegion(rng)
            finally:
                self._syncing = False
        for layer in (*self.layers.values(), *self.ref_layers.values()):
            layer.draw_range(float(rng[0]), float(rng[1]))
        self._update_image_window()
        self.last_redraw_s = time.perf_counter() - t0
        self.range_changed.emit(float(rng[0]), float(rng[1]))

    def _on_region(self) -> None:
        if not self._syncing:
            self._syncing = True
            try:
                self.set_x_range(*self.region.getRegion())
            finally:
                self._syncing = False

    # ------------------------------------------------------------------ read-out, clicks
    def readout_at(self, t_s: float, y: float) -> str:
        """The read-out text for a point (t_s, y) of the main pane (y in the pane's unit):
        time, frequency, nearest note with cents, and the image value there (dB re the
        track's peak for spectrograms, salience for the salience image) when over the image."""
        return P.readout_text(t_s, P.hz_from_y(self.y_unit, y), self.main_image.value_text(t_s, y))

    def _on_mouse_moved(self, pos) -> None:
        vb = self.main.getViewBox()
        if not vb.sceneBoundingRect().contains(pos) or self.data is None:
            return
        p = vb.mapSceneToView(pos)
        self.readout.setText(self.readout_at(p.x(), p.y()))

    def _on_mouse_clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or self.data is None:
            return
        for pane in (self.main, self.wave, self.lane, self.overview):
            vb = pane.getViewBox()
            if vb.sceneBoundingRect().contains(ev.scenePos()):
                if vb.tool is not None:  # an edit tool's click, not a seek
                    return
                t = min(max(vb.mapSceneToView(ev.scenePos()).x(), 0.0), self.duration_s)
                self.set_cursor(t)
                self.cursor_moved.emit(t)
                return
