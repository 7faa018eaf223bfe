"""The track view: stacked panes on one shared time axis.

- overview: the whole track's waveform envelope with the visible region (drag it to move);
- wave: the waveform of the visible part;
- main: the image (spectrogram on a log-frequency, linear or mel axis, one harmonic of the
  HCQT, or the multi-f0 salience; an ``ImageItem`` placed in seconds x MIDI, Hz or mels)
  under the overlays (f0 curve, notes, beats and downbeats), estimates and loaded
  references alike;
- lane: local key segments (estimate; a reference band below it when one is loaded) and
  beats.

The view only draws: ``set_data(TrackViewData)`` receives what a loader thread prepared,
``set_image(DisplayImage)`` an image mode computed on request (``image_requested``), and
``set_references(results)`` the layers of an annotation file read elsewhere.
Layers are items in ``self.layers`` / ``self.ref_layers`` (name -> item list) switched by
``set_layer_visible`` and ``set_references_visible``.
"""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout,
                               QWidget)

from workstation.core import constants as C
from workstation.core.units import hz_to_midi, midi_to_note_name

from . import panes as P
from .overlays import (CursorLine, KeyBandItem, NotesItem, VLinesItem, envelope_xy)
from .track_loader import EXTRA_IMAGE_MODES, DisplayImage, TrackViewData

#: Main-pane image modes, their menu labels and the y unit each is drawn in.
IMAGE_MODES = ("spectrogram", "linear", "mel", "hcqt", "salience")
MODE_LABELS = {"spectrogram": "Spectrogram (log f)", "linear": "Spectrogram (linear f)",
               "mel": "Mel spectrogram", "hcqt": "HCQT", "salience": "Multi-f0 salience"}
MODE_UNITS = {"spectrogram": "midi", "linear": "hz", "mel": "mel", "hcqt": "midi", "salience": "midi"}
LAYER_NAMES = ("f0", "notes", "beats", "key")
LAYER_COLOURS = {"f0": P.F0_COLOUR, "notes": P.NOTE_COLOUR, "beats": P.DOWNBEAT_COLOUR[:7],
                 "key": "#b0b6c2"}
#: Reference annotation layers by analyzer id -> track-view layer name.
REF_LAYER_OF = {"pitch.f0": "f0", "notes": "notes", "beats": "beats", "key": "key"}
DEFAULT_SPAN_S = 30.0
#: Displayed part of the 0..255 spectrogram scale (64..255: the top 60 dB).
SPEC_LEVELS = (64, 255)
#: Images longer than this many frames (~95 s) are drawn level-of-detail (see _set_main_image).
LOD_MIN_FRAMES = 8192
#: Key bands in the lane (y in 0..1): estimate alone, or estimate over reference.
KEY_BAND = (0.45, 1.0)
KEY_BAND_WITH_REF = (0.73, 1.0)
REF_KEY_BAND = (0.45, 0.70)


class TrackView(QWidget):
    """Panes of one track. Signals: ``cursor_moved(float t_s)`` when the user clicks a time;
    ``range_changed(float x0, float x1)`` after every zoom/scroll; ``image_requested(str mode,
    float harmonic)`` when the chosen image mode needs a ``DisplayImage`` not yet given."""

    cursor_moved = Signal(float)
    range_changed = Signal(float, float)
    image_requested = Signal(str, float)

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
        self._img: dict | None = None
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
        bar = QWidget()  # the toolbar may be clipped rather than widen the window
        bar.setLayout(self._bar)
        bar.setMinimumWidth(200)
        self._bar.setContentsMargins(4, 2, 4, 2)
        lay.addWidget(bar)
        lay.addWidget(self.glw, 1)
        lay.addWidget(self.readout)
        self.clear()

    # ------------------------------------------------------------------ construction
    def _build_toolbar(self) -> None:
        self._bar = QHBoxLayout()
        self._bar.setContentsMargins(4, 2, 4, 2)
        self.mode_box = QComboBox()
        self.mode_box.addItems([MODE_LABELS[m] for m in IMAGE_MODES])
        self.mode_box.currentIndexChanged.connect(lambda i: self.set_image_mode(IMAGE_MODES[i]))
        self.harmonic_box = QComboBox()
        self.harmonic_box.addItems([f"h={h:g}" for h in C.HARMONICS])
        self.harmonic_box.setCurrentIndex(list(C.HARMONICS).index(1.0))
        self.harmonic_box.setToolTip("HCQT harmonic shown, placed at its fundamental")
        self.harmonic_box.currentIndexChanged.connect(lambda i: self.set_harmonic(C.HARMONICS[i]))
        self.harmonic_box.setVisible(False)
        self._bar.addWidget(QLabel("Image:"))
        self._bar.addWidget(self.mode_box)
        self._bar.addWidget(self.harmonic_box)
        self.layer_boxes: dict[str, QCheckBox] = {}
        for name, label in zip(LAYER_NAMES, ("f0", "Notes", "Beats", "Key")):
            cb = QCheckBox(label)
            cb.setChecked(True)
            cb.setStyleSheet(f"QCheckBox {{ color: {LAYER_COLOURS[name]}; }}")
            cb.toggled.connect(lambda on, n=name: self.set_layer_visible(n, on))
            self._bar.addWidget(cb)
            self.layer_boxes[name] = cb
        self.ref_box = QCheckBox("Reference")
        self.ref_box.setChecked(True)
        self.ref_box.setEnabled(False)
        self.ref_box.setToolTip("Layers of the loaded annotation file (green)")
        self.ref_box.setStyleSheet(f"QCheckBox {{ color: {P.REF_COLOUR}; }}")
        self.ref_box.toggled.connect(self.set_references_visible)
        self._bar.addWidget(self.ref_box)
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
        self.axis = P.NoteAxis("left")
        self.main = P.make_pane(lay, 2, left_axis=self.axis, y_mouse=True)
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
        self.key_band = KeyBandItem(y0=KEY_BAND[0], y1=KEY_BAND[1])
        # reference layers (a loaded annotation file), drawn in green
        self.ref_f0_curve = pg.PlotDataItem(pen=pg.mkPen(P.REF_COLOUR, width=2,
                                                         style=Qt.PenStyle.DashLine), connect="finite")
        self.ref_f0_curve.setClipToView(True)
        self.ref_f0_curve.setZValue(19)
        self.ref_notes_item = NotesItem(P.REF_COLOUR, fill_alpha=35)
        self.ref_notes_item.setZValue(9)
        self.ref_beat_lines = VLinesItem(P.REF_BEAT_COLOUR, 1.2, y0=0, y1=128,
                                         style=Qt.PenStyle.DashLine)
        self.ref_lane_beats = VLinesItem(P.REF_COLOUR, 1.0, y0=0.2, y1=0.43)
        self.ref_key_band = KeyBandItem(y0=REF_KEY_BAND[0], y1=REF_KEY_BAND[1])
        for it in (self.f0_curve, self.notes_item, self.beat_lines, self.downbeat_lines,
                   self.ref_f0_curve, self.ref_notes_item, self.ref_beat_lines):
            self.main.addItem(it)
        for it in (self.key_band, self.lane_beats, self.lane_downbeats, self.ref_key_band,
                   self.ref_lane_beats):
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
        self.loop_region = pg.LinearRegionItem(brush=pg.mkBrush(124, 242, 154, 40),
                                               pen=pg.mkPen(P.REF_COLOUR, width=1), movable=True)
        self.loop_region.setZValue(5)
        self.loop_region.setVisible(False)
        self.wave.addItem(self.loop_region)
        self.cursors = [CursorLine() for _ in range(4)]
        for pane, cur in zip((self.overview, self.wave, self.main, self.lane), self.cursors):
            pane.addItem(cur)
        self.layers = {"f0": [self.f0_curve], "notes": [self.notes_item],
                       "beats": [self.beat_lines, self.downbeat_lines, self.lane_beats,
                                 self.lane_downbeats],
                       "key": [self.key_band]}
        self.ref_layers = {"f0": [self.ref_f0_curve], "notes": [self.ref_notes_item],
                           "beats": [self.ref_beat_lines, self.ref_lane_beats],
                           "key": [self.ref_key_band]}

    # ------------------------------------------------------------------ data
    def clear(self) -> None:
        self.data = None
        self.duration_s = 0.0
        self._images = {}
        self.image.clear()
        for it in (self.f0_curve, self.ref_f0_curve):
            it.setData([], [])
        self.notes_item.clear()
        self.ref_notes_item.clear()
        for it in (self.beat_lines, self.downbeat_lines, self.lane_beats, self.lane_downbeats,
                   self.ref_beat_lines, self.ref_lane_beats):
            it.set_times([])
        self.key_band.set_segments([], [], [], [])
        self.ref_key_band.set_segments([], [], [], [])
        self.references = {}
        self.reference_source = ""
        self.ref_box.setEnabled(False)
        self.overview_curve.setData([], [])
        self.wave_curve.setData([], [])
        self.loop_region.setVisible(False)
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
        for pane in self.panes.values():
            pane.setLimits(xMin=-0.5, xMax=self.duration_s + 0.5)
        self.overview.setXRange(0, self.duration_s, padding=0.0)
        self.main.setLimits(minXRange=0.05)
        self._draw_image()
        self.set_x_range(0.0, min(self.duration_s, DEFAULT_SPAN_S))
        if data.display_error:
            self.message.setText(data.display_error)

    def _draw_overlays(self) -> None:
        """(Re)draw the estimate and reference layers on the current y axis."""
        unit = self.y_unit
        ymap = None if unit == "midi" else (lambda m: P.y_from_midi(unit, m))
        y_top = self._y_top()
        r = self.data.results if self.data is not None else {}
        for res, curve, notes_item, lines, lane_lines, band, is_ref in (
                (r, self.f0_curve, self.notes_item, (self.beat_lines, self.downbeat_lines),
                 (self.lane_beats, self.lane_downbeats), self.key_band, False),
                (self.references, self.ref_f0_curve, self.ref_notes_item, (self.ref_beat_lines,),
                 (self.ref_lane_beats,), self.ref_key_band, True)):
            f0 = res.get("pitch.f0")
            if f0 is not None and len(f0.times_s):
                voiced = np.asarray(f0.voiced, dtype=bool) if len(f0.voiced) else np.ones(len(f0.times_s), bool)
                midi = hz_to_midi(np.where(voiced & (np.asarray(f0.freqs_hz) > 0), f0.freqs_hz, np.nan))
                curve.setData(np.asarray(f0.times_s, dtype=np.float64),
                              np.asarray(P.y_from_midi(unit, midi), dtype=np.float64))
            else:
                curve.setData([], [])
            notes = res.get("notes")
            if notes is not None:
                notes_item.set_notes(notes.onsets_s, notes.offsets_s, notes.pitch_midi, y_map=ymap)
            else:
                notes_item.clear()
            beats = res.get("beats")
            if beats is not None:
                if is_ref:
                    lines[0].set_times(beats.times_s, y0=0.0, y1=y_top)
                    lane_lines[0].set_times(beats.times_s)
                else:
                    lines[0].set_times(beats.times_s[beats.positions != 1], y0=0.0, y1=y_top)
                    lines[1].set_times(beats.downbeats_s, y0=0.0, y1=y_top)
                    lane_lines[0].set_times(beats.times_s)
                    lane_lines[1].set_times(beats.downbeats_s)
            else:
                for it in (*lines, *lane_lines):
                    it.set_times([])
            key = res.get("key")
            if key is not None:
                if len(key.local_start_s):
                    band.set_segments(key.local_start_s, key.local_end_s, key.local_tonic_pc,
                                      key.local_mode)
                else:
                    band.set_segments([0.0], [self.duration_s], [key.tonic_pc], [key.mode])
            else:
                band.set_segments([], [], [], [])
        self.key_band.set_band(*(KEY_BAND_WITH_REF if "key" in self.references else KEY_BAND))
        x0, x1 = self.x_range()
        self.key_band.place_labels(x0, x1)
        self.ref_key_band.place_labels(x0, x1)
        self._apply_visibility()

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
        times and bin centres), with explicit levels and a colour-map LUT; then redraw the
        overlays on that axis."""
        self.image.clear()
        self._img = None
        self.message.setText(self.data.display_error if self.data is not None else "")
        data = self.data
        mode = self.image_mode
        self.y_unit = MODE_UNITS[mode]
        self.axis.set_unit(self.y_unit)
        y_range = {"midi": (C.FMIN_MIDI, 108.0), "hz": (0.0, 5000.0),
                   "mel": (0.0, float(P.y_from_midi("mel", 120.0)))}[self.y_unit]
        if mode == "spectrogram":
            d = data.display if data else None
            if d is not None:
                step = 1.0 / d.bins_per_semitone
                self._set_main_image(d.spec, SPEC_LEVELS, P.COLOUR_MAPS["spectrogram"],
                                     -d.hop_s / 2, d.hop_s, d.midi_lo - step / 2, d.spec.shape[0] * step)
                y_range = (d.midi_lo - step / 2, d.midi_lo + (d.spec.shape[0] - 0.5) * step)
        elif mode in EXTRA_IMAGE_MODES:
            img = self._images.get(self._image_key())
            if img is None:
                if data is not None and data.display is not None:
                    self.message.setText(f"computing the {MODE_LABELS[mode].lower()}…")
                    self.image_requested.emit(mode, self.harmonic if mode == "hcqt" else 0.0)
            else:
                y = img.y_centres
                step = float((y[-1] - y[0]) / max(1, len(y) - 1))
                self._set_main_image(img.values, SPEC_LEVELS, P.COLOUR_MAPS["spectrogram"],
                                     -img.hop_s / 2, img.hop_s, float(y[0]) - step / 2, len(y) * step)
                full = (float(y[0]) - step / 2, float(y[-1]) + step / 2)
                y_range = full if self.y_unit != "hz" else (full[0], min(full[1], 5000.0))
        else:
            s = data.results.get("pitch.salience") if data else None
            if s is None:
                self.message.setText("no multi-f0 salience for this track yet")
            else:
                values = s.values
                sub = values[:, ::max(1, values.shape[1] // 4000)] if values.size else values
                top = float(np.percentile(sub.astype(np.float32), 99.8)) if sub.size else 1.0
                midi = hz_to_midi(np.asarray(s.freqs_hz, dtype=np.float64))
                step = float((midi[-1] - midi[0]) / max(1, len(midi) - 1))
                times = np.asarray(s.times_s, dtype=np.float64)
                dt = float((times[-1] - times[0]) / max(1, len(times) - 1)) if len(times) > 1 \
                    else C.HOP_LENGTH / C.SAMPLE_RATE
                self._set_main_image(values, (0.0, max(top, 1e-3)), P.COLOUR_MAPS["salience"],
                                     float(times[0]) - dt / 2, dt, float(midi[0]) - step / 2,
                                     len(midi) * step)
                y_range = (float(midi[0]) - step / 2, float(midi[-1]) + step / 2)
        top = self._y_top()
        min_y = {"midi": 3.0, "hz": 50.0, "mel": 2.0}[self.y_unit]
        self.main.setLimits(yMin=0, yMax=top, minYRange=min_y)
        self.main.setYRange(*y_range, padding=0)
        self._draw_overlays()

    def _set_main_image(self, values: np.ndarray, levels, cmap: str, x0_s: float, dt_s: float,
                        y0: float, height: float) -> None:
        """Show ``values`` [shape=(n_rows, n_frames)] with column j covering
        [x0_s + j dt_s, x0_s + (j + 1) dt_s) and rows spanning [y0, y0 + height).

        Long images are drawn level-of-detail: the visible columns (plus a margin) of a
        max-pooled copy whose columns are no finer than about two per screen pixel, so zoom
        and pan cost the same on a one-minute and a one-hour track (pyqtgraph would
        otherwise resample the whole image on every paint)."""
        self._img = {"levels": [values], "range": levels, "lut": P.lut(cmap), "x0": x0_s,
                     "dt": dt_s, "y0": y0, "h": height, "shown": None}
        self._update_image_window(force=True)

    def _image_level(self, k: int) -> np.ndarray:
        lv = self._img["levels"]
        while len(lv) <= k:
            a = lv[-1]
            m = a.shape[1] // 2
            nxt = a[:, :2 * m].reshape(a.shape[0], m, 2).max(axis=2)
            if a.shape[1] % 2:
                nxt = np.concatenate([nxt, a[:, -1:]], axis=1)
            lv.append(np.ascontiguousarray(nxt))
        return lv[k]

    def _update_image_window(self, force: bool = False) -> None:
        im = getattr(self, "_img", None)
        if im is None:
            return
        full = im["levels"][0]
        n = full.shape[1]
        if n <= LOD_MIN_FRAMES:
            if force:
                self.image.setImage(np.ascontiguousarray(full, dtype=np.float32)
                                    if full.dtype == np.float16 else full,
                                    levels=im["range"], lut=im["lut"], autoLevels=False)
                self.image.setRect(QRectF(im["x0"], im["y0"], n * im["dt"], im["h"]))
                im["shown"] = (0, 0, n)
            return
        x0, x1 = self.x_range()
        f0 = max(0, int((x0 - im["x0"]) / im["dt"]))
        f1 = min(n, int(np.ceil((x1 - im["x0"]) / im["dt"])) + 1)
        px = max(200, int(self.main.getViewBox().width()) or 1000)
        k = max(0, int(np.floor(np.log2(max(1, f1 - f0) / (2.0 * px)))))
        shown = im["shown"]
        if not force and shown is not None and shown[0] == k and shown[1] <= f0 and f1 <= shown[2]:
            return  # the visible range is inside what is drawn, at the right detail
        w = f1 - f0
        a = max(0, f0 - w) >> k  # one visible width of margin on each side
        b = min(n, f1 + w + (1 << k) - 1) >> k
        lvl = self._image_level(k)
        b = min(b, lvl.shape[1])
        part = lvl[:, a:b]
        if part.dtype == np.float16:
            part = part.astype(np.float32)
        self.image.setImage(np.ascontiguousarray(part), levels=im["range"], lut=im["lut"],
                            autoLevels=False)
        scale = 1 << k
        self.image.setRect(QRectF(im["x0"] + a * scale * im["dt"], im["y0"],
                                  part.shape[1] * scale * im["dt"], im["h"]))
        im["shown"] = (k, min(n, a * scale), min(n, b * scale))

    # ------------------------------------------------------------------ layers
    def _apply_visibility(self) -> None:
        for name in LAYER_NAMES:
            for it in self.layers[name]:
                it.setVisible(self._layer_on[name])
            for it in self.ref_layers[name]:
                it.setVisible(self._layer_on[name] and self._ref_on)

    def set_layer_visible(self, name: str, visible: bool) -> None:
        """Show or hide a layer (estimate and reference alike)."""
        self._layer_on[name] = bool(visible)
        cb = self.layer_boxes.get(name)
        if cb is not None and cb.isChecked() != bool(visible):
            cb.setChecked(bool(visible))
        self._apply_visibility()

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
        self.ref_key_band.place_labels(float(rng[0]), float(rng[1]))
        self._update_image_window()
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

    # ------------------------------------------------------------------ loop region
    def show_loop(self, loop: tuple[float, float] | None) -> None:
        """Draw the playback loop (start, end) in s over the waveform, or hide it."""
        if loop is None:
            self.loop_region.setVisible(False)
            return
        self.loop_region.setRegion((float(loop[0]), float(loop[1])))
        self.loop_region.setVisible(True)

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

    def readout_at(self, t_s: float, y: float) -> str:
        """The read-out text for a point (t, y) of the main pane (y in the pane's unit)."""
        hz = P.hz_from_y(self.y_unit, y)
        if hz <= 0:
            return f"t {t_s:8.3f} s   f {hz:8.1f} Hz"
        midi = float(hz_to_midi(hz))
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
