"""The track view: stacked panes on one shared time axis.

- overview: the whole track's waveform envelope with the visible region (drag it to move);
- wave: the waveform of the visible part;
- main: the image (spectrogram or multi-f0 salience, an ``ImageItem`` placed in seconds x
  MIDI) under the overlays (f0 curve, notes, beats and downbeats);
- lane: local key segments and downbeats.

The view only draws: ``set_data(TrackViewData)`` receives what a loader thread prepared.
Layers are items in ``self.layers`` (name -> item list) switched by ``set_layer_visible``.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout,
                               QWidget)

from workstation.core import constants as C
from workstation.core.units import hz_to_midi, midi_to_hz, midi_to_note_name

from . import panes as P
from .overlays import (CursorLine, KeyBandItem, NotesItem, VLinesItem, envelope_xy)
from .track_loader import TrackViewData

IMAGE_MODES = ("spectrogram", "salience")
LAYER_NAMES = ("f0", "notes", "beats", "key")
DEFAULT_SPAN_S = 30.0
#: Displayed part of the 0..255 spectrogram scale (64..255: the top 60 dB).
SPEC_LEVELS = (64, 255)


class TrackView(QWidget):
    """Panes of one track. Signals: ``cursor_moved(float t_s)`` when the user clicks a time;
    ``range_changed(float x0, float x1)`` after every zoom/scroll."""

    cursor_moved = Signal(float)
    range_changed = Signal(float, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.data: TrackViewData | None = None
        self.duration_s = 0.0
        self.image_mode = "spectrogram"
        self._syncing = False
        self.last_redraw_s = 0.0
        self._build_toolbar()
        self._build_panes()
        self._build_layers()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(self._bar)
        lay.addWidget(self.glw, 1)
        lay.addWidget(self.readout)
        self.clear()

    # ------------------------------------------------------------------ construction
    def _build_toolbar(self) -> None:
        self._bar = QHBoxLayout()
        self._bar.setContentsMargins(4, 2, 4, 2)
        self.mode_box = QComboBox()
        self.mode_box.addItems(["Spectrogram", "Multi-f0 salience"])
        self.mode_box.currentIndexChanged.connect(lambda i: self.set_image_mode(IMAGE_MODES[i]))
        self._bar.addWidget(QLabel("Image:"))
        self._bar.addWidget(self.mode_box)
        self.layer_boxes: dict[str, QCheckBox] = {}
        for name, label in zip(LAYER_NAMES, ("f0", "Notes", "Beats", "Key")):
            cb = QCheckBox(label)
            cb.setChecked(True)
            cb.toggled.connect(lambda on, n=name: self.set_layer_visible(n, on))
            self._bar.addWidget(cb)
            self.layer_boxes[name] = cb
        self._bar.addStretch(1)
        self.message = QLabel("")
        self.message.setStyleSheet("color: #d8b35a;")
        self._bar.addWidget(self.message)
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
        self.main = P.make_pane(lay, 2, left_axis=P.NoteAxis("left"), y_mouse=True)
        self.lane = P.make_pane(lay, 3, title="key", show_time_axis=True)
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
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        self.main.addItem(self.image)
        self.f0_curve = pg.PlotDataItem(pen=pg.mkPen(P.F0_COLOUR, width=2), connect="finite")
        self.f0_curve.setClipToView(True)
        self.f0_curve.setZValue(20)
        self.notes_item = NotesItem(P.NOTE_COLOUR)
        self.notes_item.setZValue(10)
        self.beat_lines = VLinesItem(P.BEAT_COLOUR, 1.0, y0=0, y1=128)
        self.downbeat_lines = VLinesItem(P.DOWNBEAT_COLOUR, 1.6, y0=0, y1=128)
        self.lane_downbeats = VLinesItem(P.DOWNBEAT_COLOUR, 1.0, y0=0.0, y1=0.35)
        self.lane_beats = VLinesItem(P.BEAT_COLOUR, 1.0, y0=0.0, y1=0.2)
        self.key_band = KeyBandItem(y0=0.45, y1=1.0)
        for it in (self.f0_curve, self.notes_item, self.beat_lines, self.downbeat_lines):
            self.main.addItem(it)
        for it in (self.key_band, self.lane_beats, self.lane_downbeats):
            self.lane.addItem(it)
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
        self.cursors = [CursorLine() for _ in range(4)]
        for pane, cur in zip((self.overview, self.wave, self.main, self.lane), self.cursors):
            pane.addItem(cur)
        self.layers = {"f0": [self.f0_curve], "notes": [self.notes_item],
                       "beats": [self.beat_lines, self.downbeat_lines, self.lane_beats,
                                 self.lane_downbeats],
                       "key": [self.key_band]}

    # ------------------------------------------------------------------ data
    def clear(self) -> None:
        self.data = None
        self.duration_s = 0.0
        self.image.clear()
        self.f0_curve.setData([], [])
        self.notes_item.clear()
        for it in (self.beat_lines, self.downbeat_lines, self.lane_beats, self.lane_downbeats):
            it.set_times([])
        self.key_band.set_segments([], [], [], [])
        self.overview_curve.setData([], [])
        self.wave_curve.setData([], [])
        self.message.setText("")
        self.set_cursor(0.0)

    def set_data(self, data: TrackViewData) -> None:
        """Draw a track (results and display features prepared off the GUI thread)."""
        self.clear()
        self.data = data
        self.duration_s = max(data.duration_s, 1e-3)
        d = data.display
        if d is not None:
            x, y = envelope_xy(d.env_min, d.env_max, d.hop_s, max_points=4000)
            self.overview_curve.setData(x, y)
            xw, yw = envelope_xy(d.env_min, d.env_max, d.hop_s, max_points=200000)
            self.wave_curve.setData(xw, yw)
            peak = float(max(np.max(np.abs(d.env_min)) if len(d.env_min) else 0,
                             np.max(np.abs(d.env_max)) if len(d.env_max) else 0, 1e-3))
            self.overview.setYRange(-peak, peak, padding=0.05)
            self.wave.setYRange(-peak, peak, padding=0.05)
        r = data.results
        f0 = r.get("pitch.f0")
        if f0 is not None and len(f0.times_s):
            midi = hz_to_midi(np.where(f0.voiced & (f0.freqs_hz > 0), f0.freqs_hz, np.nan))
            self.f0_curve.setData(np.asarray(f0.times_s, dtype=np.float64), np.asarray(midi))
        notes = r.get("notes")
        if notes is not None:
            self.notes_item.set_notes(notes.onsets_s, notes.offsets_s, notes.pitch_midi)
        beats = r.get("beats")
        if beats is not None:
            self.beat_lines.set_times(beats.times_s[beats.positions != 1])
            self.downbeat_lines.set_times(beats.downbeats_s)
            self.lane_beats.set_times(beats.times_s)
            self.lane_downbeats.set_times(beats.downbeats_s)
        key = r.get("key")
        if key is not None:
            if len(key.local_start_s):
                self.key_band.set_segments(key.local_start_s, key.local_end_s,
                                           key.local_tonic_pc, key.local_mode)
            else:
                self.key_band.set_segments([0.0], [self.duration_s], [key.tonic_pc], [key.mode])
        for pane in self.panes.values():
            pane.setLimits(xMin=-0.5, xMax=self.duration_s + 0.5)
        self.overview.setXRange(0, self.duration_s, padding=0.0)
        self.main.setLimits(yMin=0, yMax=128, minXRange=0.05, minYRange=3)
        self._draw_image()
        self.set_x_range(0.0, min(self.duration_s, DEFAULT_SPAN_S))
        if data.display_error:
            self.message.setText(data.display_error)

    def set_image_mode(self, mode: str) -> None:
        if mode not in IMAGE_MODES:
            raise ValueError(f"image mode {mode!r}; one of {IMAGE_MODES}")
        self.image_mode = mode
        i = IMAGE_MODES.index(mode)
        if self.mode_box.currentIndex() != i:
            self.mode_box.setCurrentIndex(i)
        if self.data is not None:
            self._draw_image()

    def _draw_image(self) -> None:
        """Place the current image in seconds x MIDI (pixel centres on frame times and bin
        pitches), with explicit levels and a colour-map LUT."""
        self.image.clear()
        data = self.data
        y_range = (C.FMIN_MIDI, 108.0)
        if self.image_mode == "spectrogram":
            d = data.display if data else None
            if d is not None:
                self.image.setImage(d.spec, levels=SPEC_LEVELS, lut=P.lut(P.COLOUR_MAPS["spectrogram"]),
                                    autoLevels=False)
                step = 1.0 / d.bins_per_semitone
                self.image.setRect(QRectF(-d.hop_s / 2, d.midi_lo - step / 2,
                                          d.n_frames * d.hop_s, d.spec.shape[0] * step))
                y_range = (d.midi_lo - step / 2, d.midi_lo + (d.spec.shape[0] - 0.5) * step)
        else:
            s = data.results.get("pitch.salience") if data else None
            if s is None:
                self.message.setText("no multi-f0 salience for this track yet")
            else:
                values = np.ascontiguousarray(s.values, dtype=np.float32)
                top = float(np.percentile(values, 99.8)) if values.size else 1.0
                self.image.setImage(values, levels=(0.0, max(top, 1e-3)),
                                    lut=P.lut(P.COLOUR_MAPS["salience"]), autoLevels=False)
                midi = hz_to_midi(np.asarray(s.freqs_hz, dtype=np.float64))
                step = float((midi[-1] - midi[0]) / max(1, len(midi) - 1))
                times = np.asarray(s.times_s, dtype=np.float64)
                dt = float((times[-1] - times[0]) / max(1, len(times) - 1)) if len(times) > 1 \
                    else C.HOP_LENGTH / C.SAMPLE_RATE
                self.image.setRect(QRectF(float(times[0]) - dt / 2, float(midi[0]) - step / 2,
                                          len(times) * dt, len(midi) * step))
                y_range = (float(midi[0]) - step / 2, float(midi[-1]) + step / 2)
        self.main.setYRange(*y_range, padding=0)

    # ------------------------------------------------------------------ layers
    def set_layer_visible(self, name: str, visible: bool) -> None:
        for it in self.layers[name]:
            it.setVisible(bool(visible))
        cb = self.layer_boxes.get(name)
        if cb is not None and cb.isChecked() != bool(visible):
            cb.setChecked(bool(visible))

    def layer_visible(self, name: str) -> bool:
        return all(it.isVisible() for it in self.layers[name])

    # ------------------------------------------------------------------ navigation
    def x_range(self) -> tuple[float, float]:
        x0, x1 = self.main.getViewBox().viewRange()[0]
        return float(x0), float(x1)

    def set_x_range(self, x0: float, x1: float) -> None:
        self.main.setXRange(x0, x1, padding=0.0)

    def zoom(self, factor: float, centre_s: float | None = None) -> None:
        """Zoom in (factor > 1) or out (< 1) around ``centre_s`` (default: the middle)."""
        x0, x1 = self.x_range()
        c = (x0 + x1) / 2 if centre_s is None else centre_s
        w = min(max((x1 - x0) / factor, 0.05), max(self.duration_s, 0.05) + 1.0)
        a = c - (c - x0) / (x1 - x0) * w
        a = min(max(a, 0.0), max(0.0, self.duration_s - w))
        self.set_x_range(a, a + w)

    def scroll(self, fraction: float) -> None:
        """Move by ``fraction`` of the visible width (negative: back)."""
        x0, x1 = self.x_range()
        w = x1 - x0
        a = min(max(x0 + fraction * w, 0.0), max(0.0, self.duration_s - w))
        self.set_x_range(a, a + w)

    def _on_main_range(self, _vb, rng) -> None:
        t0 = time.perf_counter()
        if not self._syncing:
            self._syncing = True
            try:
                self.region.setRegion(rng)
            finally:
                self._syncing = False
        self.key_band.place_labels(float(rng[0]), float(rng[1]))
        self.last_redraw_s = time.perf_counter() - t0
        self.range_changed.emit(float(rng[0]), float(rng[1]))

    def _on_region(self) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            a, b = self.region.getRegion()
            self.set_x_range(a, b)
        finally:
            self._syncing = False

    # ------------------------------------------------------------------ cursor / readout
    def set_cursor(self, t_s: float, *, follow: bool = False) -> None:
        for c in self.cursors:
            c.setValue(float(t_s))
        if follow and self.data is not None:
            x0, x1 = self.x_range()
            if not (x0 <= t_s <= x1):
                w = x1 - x0
                self.set_x_range(t_s - 0.1 * w, t_s + 0.9 * w)

    def cursor_s(self) -> float:
        return float(self.cursors[0].value())

    def readout_at(self, t_s: float, midi: float) -> str:
        """The read-out text for a point of the main pane."""
        hz = float(midi_to_hz(midi))
        name = midi_to_note_name(midi)
        cents = (midi - round(midi)) * 100
        return f"t {t_s:8.3f} s   f {hz:8.1f} Hz   {name:>4} {cents:+4.0f} c"

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
                t = min(max(vb.mapSceneToView(ev.scenePos()).x(), 0.0), self.duration_s)
                self.set_cursor(t)
                self.cursor_moved.emit(t)
                return
