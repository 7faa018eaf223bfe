"""Pane building blocks of the track view: the dark style, colour maps, the pitch axis
with note names, and a factory for panes that share the time axis.

To add a pane: create it with ``make_pane`` in ``TrackView._build_panes`` and link it with
``pane.setXLink(track_view.main)``; its items then follow every zoom and scroll.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from workstation.core.units import hz_to_mel, hz_to_midi, midi_to_hz, midi_to_note_name

# Images are given as [n_bins, n_frames] (time last, as in core): row-major for pyqtgraph.
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="#15171c",
                    foreground="#c8ccd4")

BACKGROUND = "#15171c"
PANEL = "#1c1f26"
TEXT = "#c8ccd4"
ACCENT = "#4fa3ff"
F0_COLOUR = "#38e8ff"
NOTE_COLOUR = "#ffd166"
REF_COLOUR = "#7cf29a"      # loaded reference annotations (all layers)
REF_BEAT_COLOUR = "#7cf29aa0"
BEAT_COLOUR = "#ffffff38"
DOWNBEAT_COLOUR = "#ff8fa3c0"
WAVE_COLOUR = "#7fb3ff"
LEFT_AXIS_WIDTH = 52



def lut(name: str, n: int = 256) -> np.ndarray:
    """A [shape=(n, 4), uint8] RGBA look-up table of a pyqtgraph colour map."""
    return pg.colormap.get(name).getLookupTable(0.0, 1.0, nPts=n, alpha=True)


#: y units of the main pane: 'midi' (log frequency), 'hz' (linear), 'mel' (Slaney mels).
Y_UNITS = ("midi", "hz", "mel")
_HZ_TICKS = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
_HZ_MINOR = (30, 40, 60, 70, 80, 150, 300, 400, 700, 1500, 3000, 4000, 7000, 15000)


def y_from_midi(unit: str, pitch_midi):
    """MIDI numbers to the y coordinate of a main pane drawn in ``unit``."""
    if unit == "midi":
        return np.asarray(pitch_midi, dtype=np.float64)
    hz = midi_to_hz(np.asarray(pitch_midi, dtype=np.float64))
    return hz if unit == "hz" else hz_to_mel(hz)


def hz_from_y(unit: str, y: float) -> float:
    """The frequency in Hz at height ``y`` of a main pane drawn in ``unit``."""
    from workstation.core.units import mel_to_hz
    if unit == "midi":
        return float(midi_to_hz(y))
    return float(y) if unit == "hz" else float(mel_to_hz(y))


def _hz_label(hz: float) -> str:
    return f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"


class NoteAxis(pg.AxisItem):
    """The main pane's frequency axis. In MIDI units (``unit = 'midi'``) it is labelled with
    note names (C at every octave, every note when zoomed in far enough); in Hz or mels
    with round frequencies."""

    unit = "midi"

    def set_unit(self, unit: str) -> None:
        if unit not in Y_UNITS:
            raise ValueError(f"unit {unit!r}; one of {Y_UNITS}")
        self.unit = unit
        self.picture = None
        self.update()

    def tickValues(self, minVal, maxVal, size):
        if maxVal <= minVal:
            return []
        if self.unit != "midi":
            conv = (lambda f: np.asarray(f, dtype=np.float64)) if self.unit == "hz" else hz_to_mel
            major = [float(conv(f)) for f in _HZ_TICKS]
            minor = [float(conv(f)) for f in _HZ_MINOR]
            if self.unit == "hz":  # linear: regular steps read better
                return pg.AxisItem.tickValues(self, minVal, maxVal, size)
            return [(1, [v for v in major if minVal <= v <= maxVal]),
                    (0.5, [v for v in minor if minVal <= v <= maxVal])]
        span = maxVal - minVal
        px_per_semitone = size / span if span else 0
        lo, hi = int(np.ceil(minVal)), int(np.floor(maxVal))
        cs = [m for m in range(lo, hi + 1) if m % 12 == 0]
        if px_per_semitone >= 14:
            return [(12, cs), (1, [m for m in range(lo, hi + 1) if m % 12])]
        if px_per_semitone >= 4:
            return [(12, cs), (6, [m for m in range(lo, hi + 1) if m % 12 in (4, 7)])]
        return [(12, cs)]

    def tickStrings(self, values, scale, spacing):
        if self.unit == "hz":
            return [_hz_label(v) for v in values]
        if self.unit == "mel":
            from workstation.core.units import mel_to_hz
            return [_hz_label(round(float(mel_to_hz(v)))) for v in values]
        return [midi_to_note_name(v) for v in values]


class TimeAxis(pg.AxisItem):
    """A bottom axis in seconds shown as m:ss(.s); times before 0 get no label (a track
    has none), and a rounding error under 0 reads 0:00."""

    def tickStrings(self, values, scale, spacing):
        out = []
        for v in values:
            if v < -1e-6:
                out.append("")
                continue
            v = max(0.0, float(v))
            m, s = divmod(v, 60)
            out.append(f"{int(m)}:{s:04.1f}" if spacing < 1 else f"{int(m)}:{int(round(s)) % 60:02d}")
        return out


#: Mouse gestures of the panes (gesture, what it does), for the docs and Help.
MOUSE_GESTURES = (("Wheel", "Zoom time"), ("Ctrl+Wheel", "Zoom frequency (main pane)"),
                  ("Wheel over the note axis", "Zoom frequency"),
                  ("Drag", "Pan (within the track and the image)"), ("Click", "Move the cursor"),
                  ("Edit notes (E): click, Shift+click", "Select a note, add to the selection"),
                  ("Edit notes: drag a note, its right edge", "Move it (time, semitones), resize it"),
                  ("Edit notes: drag on empty space", "Select the notes in the box"),
                  ("Edit notes: double-click", "Draw a new note"),
                  ("Edit notes: drag or draw with Snap notes to beats on",
                   "Onsets and ends go to the nearest 1/4 beat"),
                  ("Edit beats (B): click, drag, double-click", "Select, move, add beats"),
                  ("Edit f0 (F): drag", "Select a time region (the Edit menu acts on it)"),
                  ("Edit f0: Alt+drag (or any drag after Shift+F)", "Draw the f0 along the mouse"),
                  ("Edit key (K): click, double-click (pane or key lane)",
                   "Select a key segment, split it there"),
                  ("Edit key: drag a boundary between two keys", "Move it"),
                  ("Edit mode: Escape while dragging", "Cancel the drag (nothing changes)"),
                  ("Edit mode: middle-button drag", "Pan"))


def readout_text(t_s: float, hz: float, value: str = "") -> str:
    """The read-out line for time ``t_s`` (s) and frequency ``hz``: time, frequency, the
    nearest note with cents, then ``value`` (the image value, e.g. '-23.5 dB')."""
    value = f"   {value}" if value else ""
    if hz <= 0:
        return f"t {t_s:8.3f} s   f {hz:8.1f} Hz{value}"
    midi = float(hz_to_midi(hz))
    cents = (midi - round(midi)) * 100
    return f"t {t_s:8.3f} s   f {hz:8.1f} Hz   {midi_to_note_name(midi):>4} {cents:+4.0f} c{value}"


class TimeZoomViewBox(pg.ViewBox):
    """A ViewBox whose mouse wheel zooms time (x) only; with Ctrl held the wheel zooms the
    y axis (frequency) only, where the pane lets the mouse move y. Dragging pans as usual
    (within the limits set with ``setLimits``). A ``tool`` (e.g. ``note_tool.NoteTool``)
    gets the clicks and drags first: its ``mouse_click(ev)`` / ``mouse_drag(ev)`` return
    True when they took the event."""

    tool = None

    def mouseClickEvent(self, ev):
        if self.tool is not None and self.tool.mouse_click(ev):
            ev.accept()
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if self.tool is not None and self.tool.mouse_drag(ev):
            ev.accept()
            return
        super().mouseDragEvent(ev, axis=axis)

    def wheelEvent(self, ev, axis=None):
        ctrl = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if axis not in (0, 1):
            axis = 1 if ctrl else 0
        super().wheelEvent(ev, axis=axis)


def make_pane(layout: pg.GraphicsLayout, row: int, *, title: str = "", left_axis=None,
              show_time_axis: bool = False, y_mouse: bool = False) -> pg.PlotItem:
    """A PlotItem in ``layout`` row ``row`` with the common look: aligned left axes, the time
    axis only where asked, no auto-range fights (x is driven by the shared axis)."""
    axes = {"bottom": TimeAxis("bottom")}
    if left_axis is not None:
        axes["left"] = left_axis
    p = pg.PlotItem(viewBox=TimeZoomViewBox(), axisItems=axes)
    layout.addItem(p, row=row, col=0)
    p.hideButtons()
    p.setMenuEnabled(False)
    p.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
    p.getAxis("left").enableAutoSIPrefix(False)
    if title:
        p.getAxis("left").setLabel(title, color=TEXT)
    if not show_time_axis:
        p.getAxis("bottom").setStyle(showValues=False)
        p.getAxis("bottom").setHeight(2)
    p.setMouseEnabled(x=True, y=y_mouse)
    p.enableAutoRange(x=False, y=False)
    p.getViewBox().setDefaultPadding(0.0)
    return p
