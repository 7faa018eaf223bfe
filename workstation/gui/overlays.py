"""Overlay items drawn over the panes, one batched item per layer (never one per event).

- ``NotesItem``: note events as pianoroll rectangles (seconds x MIDI), drawn with one
  ``drawRects`` call over the notes in the exposed area.
- ``VLinesItem``: vertical lines at times (beats, downbeats), one ``drawLines`` call.
- ``KeyBandItem``: local key segments as coloured blocks with their labels.
- ``CursorLine``: the playback / position cursor.

Each keeps its data as numpy arrays (``times_s`` etc.) so tests can check that what is drawn
is what the result holds. The layers of the track view (``layers.py``) draw with them: a new
layer type writes its item here, if it needs a new one, and its ``Layer`` class there.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen

from workstation.core.units import pitch_class_name



def qcolour(colour: str) -> QColor:
    """A colour written ``#RRGGBB`` or ``#RRGGBBAA`` (alpha last, as in ``panes``; QColor
    itself reads 8 digits as ``#AARRGGBB``)."""
    return pg.mkColor(colour)


def _pen(colour: str, width: float = 1.0) -> QPen:
    p = QPen(qcolour(colour))
    p.setWidthF(width)
    p.setCosmetic(True)
    return p


class NotesItem(pg.GraphicsObject):
    """Note rectangles [onset, offset) x [pitch - 0.4, pitch + 0.4] in (s, MIDI)."""

    def __init__(self, colour: str = "#ffd166", fill_alpha: int = 90):
        super().__init__()
        self.onsets_s = np.zeros(0)
        self.offsets_s = np.zeros(0)
        self.pitch_midi = np.zeros(0)
        self.set_colour(colour, fill_alpha)
        self._bounds = QRectF()
        self._rects: list[QRectF] = []
        self.setFlag(self.GraphicsItemFlag.ItemUsesExtendedStyleOption)

    def set_colour(self, colour: str, fill_alpha: int = 90) -> None:
        self.colour = colour
        self._pen = _pen(colour, 1.2)
        #: a dark edge under the coloured one, so a note stays visible on bright spectrogram
        #: bins of the same hue (yellow notes on inferno's loud harmonics)
        self._halo = _pen("#000000c8", 3.4)
        c = qcolour(colour)
        c.setAlpha(fill_alpha)
        self._brush = QBrush(c)
        self.update()

    def set_notes(self, onsets_s, offsets_s, pitch_midi, *, y_map=None) -> None:
        """Notes in s and MIDI; ``y_map`` (MIDI -> y, vectorised) places them on another
        frequency axis (Hz, mels): each rectangle spans y_map(pitch -+ 0.4)."""
        self.prepareGeometryChange()
        self.onsets_s = np.asarray(onsets_s, dtype=np.float64)
        self.offsets_s = np.asarray(offsets_s, dtype=np.float64)
        self.pitch_midi = np.asarray(pitch_midi, dtype=np.float64)
        order = np.argsort(self.onsets_s, kind="stable")
        self._order = order
        self._sorted_on = self.onsets_s[order]
        self._max_len = float(np.max(self.offsets_s - self.onsets_s)) if len(order) else 0.0
        p = self.pitch_midi[order]
        lo, hi = (p - 0.4, p + 0.4) if y_map is None else (np.asarray(y_map(p - 0.4), dtype=np.float64),
                                                          np.asarray(y_map(p + 0.4), dtype=np.float64))
        self._rects = [QRectF(float(a), float(y0), float(b - a), float(y1 - y0))
                       for a, b, y0, y1 in zip(self.onsets_s[order], self.offsets_s[order], lo, hi)]
        if len(order):
            self._bounds = QRectF(float(self.onsets_s.min()), float(lo.min()),
                                  float(self.offsets_s.max() - self.onsets_s.min()),
                                  float(hi.max() - lo.min()))
        else:
            self._bounds = QRectF()
        self.update()

    def clear(self) -> None:
        self.set_notes([], [], [])

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, p: QPainter, option, widget=None) -> None:
        if not self._rects:
            return
        ex = option.exposedRect
        lo = np.searchsorted(self._sorted_on, ex.left() - self._max_len)
        hi = np.searchsorted(self._sorted_on, ex.right(), side="right")
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(self._halo)
        p.drawRects(self._rects[lo:hi])
        p.setPen(self._pen)
        p.setBrush(self._brush)
        p.drawRects(self._rects[lo:hi])


class VLinesItem(pg.GraphicsObject):
    """Vertical lines at ``times_s`` spanning [y0, y1] in data units."""

    def __init__(self, colour: str, width: float = 1.0, *, y0: float = 0.0, y1: float = 1.0,
                 style=Qt.PenStyle.SolidLine):
        super().__init__()
        self.times_s = np.zeros(0)
        self._width, self._style = width, style
        self.set_colour(colour)
        self._y0, self._y1 = float(y0), float(y1)
        self._lines: list[QLineF] = []
        self.setFlag(self.GraphicsItemFlag.ItemUsesExtendedStyleOption)

    def set_colour(self, colour: str) -> None:
        self.colour = colour
        self._pen = _pen(colour, self._width)
        self._pen.setStyle(self._style)
        self.update()

    def set_times(self, times_s, *, y0: float | None = None, y1: float | None = None) -> None:
        self.prepareGeometryChange()
        if y0 is not None:
            self._y0 = float(y0)
        if y1 is not None:
            self._y1 = float(y1)
        self.times_s = np.sort(np.asarray(times_s, dtype=np.float64))
        self._lines = [QLineF(float(t), self._y0, float(t), self._y1) for t in self.times_s]
        self.update()

    def boundingRect(self) -> QRectF:
        if not len(self.times_s):
            return QRectF()
        t0, t1 = float(self.times_s[0]), float(self.times_s[-1])
        return QRectF(t0, self._y0, max(t1 - t0, 1e-6), self._y1 - self._y0)

    def paint(self, p: QPainter, option, widget=None) -> None:
        if not self._lines:
            return
        ex = option.exposedRect
        lo = np.searchsorted(self.times_s, ex.left())
        hi = np.searchsorted(self.times_s, ex.right(), side="right")
        p.setPen(self._pen)
        p.drawLines(self._lines[lo:hi])


def key_colour(tonic_pc: int, mode: str, alpha: int = 150) -> QColor:
    """A hue per key on the circle of fifths (neighbouring keys look alike); minor darker."""
    fifths = (int(tonic_pc) * 7) % 12
    c = QColor.fromHsv(int(fifths * 30) % 360, 140, 200 if mode == "major" else 140)
    c.setAlpha(alpha)
    return c


class KeyBandItem(pg.GraphicsObject):
    """Local key segments as blocks in [y0, y1] with their labels (few segments per track)."""

    def __init__(self, *, y0: float = 0.0, y1: float = 1.0):
        super().__init__()
        self.start_s = np.zeros(0)
        self.end_s = np.zeros(0)
        self.labels: list[str] = []
        self._colours: list[QColor] = []
        self._y0, self._y1 = y0, y1
        self._texts: list[pg.TextItem] = []

    def set_segments(self, start_s, end_s, tonic_pc, modes) -> None:
        self.prepareGeometryChange()
        self.start_s = np.asarray(start_s, dtype=np.float64)
        self.end_s = np.asarray(end_s, dtype=np.float64)
        self.labels = [f"{pitch_class_name(int(pc))}{'m' if m == 'minor' else ''}"
                       for pc, m in zip(np.asarray(tonic_pc).tolist(), modes)]
        self._colours = [key_colour(int(pc), m) for pc, m in zip(np.asarray(tonic_pc).tolist(), modes)]
        for t in self._texts:
            t.setParentItem(None)
            if t.scene() is not None:
                t.scene().removeItem(t)
        self._texts = []
        for s, lab in zip(self.start_s, self.labels):
            ti = pg.TextItem(lab, color="#f0f0f0", anchor=(0, 0.5))
            ti.setFont(QFont("Sans", 8))
            ti.setParentItem(self)
            ti.setPos(float(s), (self._y0 + self._y1) / 2)
            self._texts.append(ti)
        self.update()

    def set_band(self, y0: float, y1: float) -> None:
        """Move the band to [y0, y1] (data units of the lane)."""
        self.prepareGeometryChange()
        self._y0, self._y1 = float(y0), float(y1)
        for ti in self._texts:
            ti.setPos(ti.pos().x(), (self._y0 + self._y1) / 2)
        self.update()

    def place_labels(self, x0: float, x1: float) -> None:
        """Keep each segment's label inside the visible part of its segment."""
        for ti, s, e in zip(self._texts, self.start_s, self.end_s):
            ti.setPos(float(min(max(s, x0), e)), (self._y0 + self._y1) / 2)

    def boundingRect(self) -> QRectF:
        if not len(self.start_s):
            return QRectF()
        return QRectF(float(self.start_s.min()), self._y0,
                      float(self.end_s.max() - self.start_s.min()), self._y1 - self._y0)

    def paint(self, p: QPainter, option, widget=None) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        for s, e, c in zip(self.start_s, self.end_s, self._colours):
            p.setBrush(QBrush(c))
            p.drawRect(QRectF(float(s), self._y0, float(e - s), self._y1 - self._y0))


class CursorLine(pg.InfiniteLine):
    """The playback cursor (not draggable; the view moves it)."""

    def __init__(self):
        super().__init__(pos=0.0, angle=90, movable=False, pen=pg.mkPen("#ffffff", width=1.5))
        self.setZValue(100)


def envelope_xy(env_min: np.ndarray, env_max: np.ndarray, hop_s: float,
                max_points: int = 40000) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved min/max polyline of a waveform envelope (decimated to ``max_points``
    columns by block min/max): x [shape=(2 n,)] in s, y [shape=(2 n,)]."""
    n = len(env_min)
    step = max(1, int(np.ceil(n / max_points)))
    if step > 1:
        m = (n // step) * step
        lo = env_min[:m].reshape(-1, step).min(axis=1)
        hi = env_max[:m].reshape(-1, step).max(axis=1)
    else:
        lo, hi = env_min, env_max
    t = (np.arange(len(lo)) * step + step / 2) * hop_s
    x = np.repeat(t, 2)
    y = np.empty(2 * len(lo), dtype=np.float32)
    y[0::2], y[1::2] = lo, hi
    return x, y
