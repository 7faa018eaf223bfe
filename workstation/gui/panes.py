"""Pane building blocks of the track view: the dark style, colour maps, the pitch axis
with note names, and a factory for panes that share the time axis.

To add a pane: create it with ``make_pane`` in ``TrackView._build_panes`` and link it with
``pane.setXLink(track_view.main)``; its items then follow every zoom and scroll.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from workstation.core.units import midi_to_note_name

# Images are given as [n_bins, n_frames] (time last, as in core): row-major for pyqtgraph.
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="#15171c",
                    foreground="#c8ccd4")

BACKGROUND = "#15171c"
PANEL = "#1c1f26"
TEXT = "#c8ccd4"
ACCENT = "#4fa3ff"
F0_COLOUR = "#38e8ff"
NOTE_COLOUR = "#ffd166"
BEAT_COLOUR = "#ffffff38"
DOWNBEAT_COLOUR = "#ff8fa3c0"
WAVE_COLOUR = "#7fb3ff"
LEFT_AXIS_WIDTH = 52

COLOUR_MAPS = {"spectrogram": "inferno", "salience": "viridis"}


def lut(name: str, n: int = 256) -> np.ndarray:
    """A [shape=(n, 4), uint8] RGBA look-up table of a pyqtgraph colour map."""
    return pg.colormap.get(name).getLookupTable(0.0, 1.0, nPts=n, alpha=True)


class NoteAxis(pg.AxisItem):
    """A left axis in MIDI numbers labelled with note names (C at every octave, every note
    when zoomed in far enough)."""

    def tickValues(self, minVal, maxVal, size):
        if maxVal <= minVal:
            return []
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
        return [midi_to_note_name(v) for v in values]


class TimeAxis(pg.AxisItem):
    """A bottom axis in seconds shown as m:ss(.s)."""

    def tickStrings(self, values, scale, spacing):
        out = []
        for v in values:
            sign = "-" if v < 0 else ""
            v = abs(v)
            m, s = divmod(v, 60)
            out.append(f"{sign}{int(m)}:{s:04.1f}" if spacing < 1 else f"{sign}{int(m)}:{int(round(s)) % 60:02d}")
        return out


def make_pane(layout: pg.GraphicsLayout, row: int, *, title: str = "", left_axis=None,
              show_time_axis: bool = False, y_mouse: bool = False) -> pg.PlotItem:
    """A PlotItem in ``layout`` row ``row`` with the common look: aligned left axes, the time
    axis only where asked, no auto-range fights (x is driven by the shared axis)."""
    axes = {"bottom": TimeAxis("bottom")}
    if left_axis is not None:
        axes["left"] = left_axis
    p = pg.PlotItem(axisItems=axes)
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
