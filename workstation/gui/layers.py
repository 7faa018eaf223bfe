"""The layers of the track view: one class per kind of result drawn over the panes.

A ``Layer`` shows one analyzer result (``result_id``: 'pitch.f0', 'notes', 'beats', 'key')
with its own items (``overlays``). The analysis estimate, a loaded reference annotation and
a layer corrected by hand are instances of the same class with a different ``style``
('estimate', 'reference', 'analysis'): an edited layer is an estimate whose result is the
edit, drawn in ``EDITED_COLOUR`` after ``set_edited(True)`` and named in the view's legend,
with the analysis it corrects drawn faintly under it (style 'analysis', ``ANALYSIS_COLOUR``)
so that what was changed stays visible. ``TrackView`` holds them in ``layers`` / ``ref_layers``
(ordered dicts, name -> Layer) and loops over them; a new layer type is one class here and
one line in ``LAYER_TYPES``.

Life of a layer: ``build(panes)`` adds its items to the panes ({'main', 'lane'}: pyqtgraph
PlotItems); ``set_result(result, ctx)`` draws a result (None clears it) on the main pane's
y axis (``DrawContext``); ``draw_range(x0, x1)`` follows the visible time range in s;
``set_visible(on)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from workstation.core.units import hz_to_midi

from . import panes as P
from .overlays import KeyBandItem, NotesItem, VLinesItem

ESTIMATE, REFERENCE, ANALYSIS = "estimate", "reference", "analysis"
STYLES = (ESTIMATE, REFERENCE, ANALYSIS)
#: The colour of the analysis drawn under a correction (style 'analysis').
ANALYSIS_COLOUR = "#9aa3ad"
#: The colour of an estimate layer while it shows a correction by hand (``set_edited``).
EDITED_COLOUR = "#ff4fd8"
#: Key bands in the lane (y in 0..1): estimate alone, or estimate over reference.
KEY_BAND = (0.45, 1.0)
KEY_BAND_WITH_REF = (0.73, 1.0)
REF_KEY_BAND = (0.45, 0.70)


@dataclass(frozen=True)
class DrawContext:
    """How the main pane is drawn: its y ``unit`` ('midi', 'hz', 'mel'), the top of its y
    axis ``y_top`` (in that unit) and the track's duration in s."""

    unit: str = "midi"
    y_top: float = 128.0
    duration_s: float = 0.0

    def y_map(self):
        """MIDI -> y of the main pane (None when y is MIDI already)."""
        return None if self.unit == "midi" else (lambda m: P.y_from_midi(self.unit, m))


class Layer:
    """A result drawn over the panes. Subclasses set ``name`` (the toolbar's name),
    ``label``, ``colour``, ``result_id`` and build their ``items``."""

    name = ""
    label = ""
    colour = "#ffffff"
    result_id = ""

    def __init__(self, style: str = ESTIMATE):
        if style not in STYLES:
            raise ValueError(f"layer style {style!r}; one of {', '.join(STYLES)}")
        self.style = style
        self.items: list = []          # every graphics item of the layer
        self._placed: list = []        # (pane name, item)
        self.result = None
        self.edited = False

    @property
    def reference(self) -> bool:
        return self.style == REFERENCE

    @property
    def under(self) -> bool:
        """The analysis under a correction (style 'analysis')."""
        return self.style == ANALYSIS

    def _add(self, pane: str, item, z: float | None = None):
        if z is not None:
            item.setZValue(z)
        self.items.append(item)
        self._placed.append((pane, item))
        return item

    def build(self, panes: dict) -> None:
        """Add the items to the panes ({'main': PlotItem, 'lane': PlotItem})."""
        for pane, item in self._placed:
            panes[pane].addItem(item)

    def set_result(self, result, ctx: DrawContext) -> None:
        """Draw ``result`` (a ``core`` result of ``result_id``; None: nothing)."""
        self.result = result
        if result is None:
            self.clear()
        else:
            self.draw(result, ctx)

    def draw(self, result, ctx: DrawContext) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def draw_range(self, x0: float, x1: float) -> None:
        """Follow the visible range [x0, x1] s (most layers need not)."""

    def set_edited(self, edited: bool) -> None:
        """Draw the layer in the edited style (a correction by hand) or its own."""
        self.edited = bool(edited)

    def set_visible(self, on: bool) -> None:
        for it in self.items:
            it.setVisible(bool(on))

    def visible(self) -> bool:
        return all(it.isVisible() for it in self.items)


class F0Layer(Layer):
    """The f0 curve (s x the main pane's unit); unvoiced frames are gaps."""

    name, label, colour, result_id = "f0", "f0", P.F0_COLOUR, "pitch.f0"

    def __init__(self, style: str = ESTIMATE):
        super().__init__(style)
        pen = (pg.mkPen(P.REF_COLOUR, width=2, style=Qt.PenStyle.DashLine) if self.reference
               else pg.mkPen(ANALYSIS_COLOUR, width=1.2, style=Qt.PenStyle.DotLine) if self.under
               else pg.mkPen(P.F0_COLOUR, width=2))
        self.curve = self._add("main", pg.PlotDataItem(pen=pen, connect="finite"),
                               19 if self.reference else 18 if self.under else 20)
        self.curve.setClipToView(True)

    def set_edited(self, edited: bool) -> None:
        super().set_edited(edited)
        if self.style == ESTIMATE:
            self.curve.setPen(pg.mkPen(EDITED_COLOUR if edited else P.F0_COLOUR, width=2))

    def draw(self, f0, ctx: DrawContext) -> None:
        if not len(f0.times_s):
            return self.clear()
        voiced = np.asarray(f0.voiced, dtype=bool) if len(f0.voiced) else np.ones(len(f0.times_s), bool)
        midi = hz_to_midi(np.where(voiced & (np.asarray(f0.freqs_hz) > 0), f0.freqs_hz, np.nan))
        self.curve.setData(np.asarray(f0.times_s, dtype=np.float64),
                           np.asarray(P.y_from_midi(ctx.unit, midi), dtype=np.float64))

    def clear(self) -> None:
        self.curve.setData([], [])


class NotesLayer(Layer):
    """Note rectangles (s x MIDI, or placed on the Hz / mel axis)."""

    name, label, colour, result_id = "notes", "Notes", P.NOTE_COLOUR, "notes"

    def __init__(self, style: str = ESTIMATE):
        super().__init__(style)
        item = (NotesItem(P.REF_COLOUR, fill_alpha=35) if self.reference
                else NotesItem(ANALYSIS_COLOUR, fill_alpha=0) if self.under
                else NotesItem(P.NOTE_COLOUR))
        self.item = self._add("main", item, 9 if self.reference else 8 if self.under else 10)

    def set_edited(self, edited: bool) -> None:
        super().set_edited(edited)
        if self.style == ESTIMATE:
            self.item.set_colour(EDITED_COLOUR if edited else P.NOTE_COLOUR)

    def draw(self, notes, ctx: DrawContext) -> None:
        self.item.set_notes(notes.onsets_s, notes.offsets_s, notes.pitch_midi, y_map=ctx.y_map())

    def clear(self) -> None:
        self.item.clear()


class BeatsLayer(Layer):
    """Beats and downbeats: lines across the main pane and ticks in the lane (a reference
    draws every beat alike)."""

    name, label, colour, result_id = "beats", "Beats", P.DOWNBEAT_COLOUR[:7], "beats"

    def __init__(self, style: str = ESTIMATE):
        super().__init__(style)
        if self.reference:
            self.lines = (self._add("main", VLinesItem(P.REF_BEAT_COLOUR, 1.2, y0=0, y1=128,
                                                       style=Qt.PenStyle.DashLine)),)
            self.lane_lines = (self._add("lane", VLinesItem(P.REF_COLOUR, 1.0, y0=0.2, y1=0.43)),)
        elif self.under:
            self.lines = (self._add("main", VLinesItem(ANALYSIS_COLOUR, 1.0, y0=0, y1=128,
                                                       style=Qt.PenStyle.DotLine)),)
            self.lane_lines = ()
        else:
            self.lines = (self._add("main", VLinesItem(P.BEAT_COLOUR, 1.0, y0=0, y1=128)),
                          self._add("main", VLinesItem(P.DOWNBEAT_COLOUR, 1.6, y0=0, y1=128)))
            self.lane_lines = (self._add("lane", VLinesItem(P.BEAT_COLOUR, 1.0, y0=0.0, y1=0.2)),
                               self._add("lane", VLinesItem(P.DOWNBEAT_COLOUR, 1.0, y0=0.0, y1=0.35)))

    def set_edited(self, edited: bool) -> None:
        super().set_edited(edited)
        if self.style == ESTIMATE:
            for it, colour in zip(self.lines, (P.BEAT_COLOUR, P.DOWNBEAT_COLOUR)):
                it.set_colour(EDITED_COLOUR if edited else colour)

    def draw(self, beats, ctx: DrawContext) -> None:
        if len(self.lines) == 1:
            self.lines[0].set_times(beats.times_s, y0=0.0, y1=ctx.y_top)
            for it in self.lane_lines:
                it.set_times(beats.times_s)
            return
        self.lines[0].set_times(beats.times_s[beats.positions != 1], y0=0.0, y1=ctx.y_top)
        self.lines[1].set_times(beats.downbeats_s, y0=0.0, y1=ctx.y_top)
        self.lane_lines[0].set_times(beats.times_s)
        self.lane_lines[1].set_times(beats.downbeats_s)

    def clear(self) -> None:
        for it in (*self.lines, *self.lane_lines):
            it.set_times([])


class KeyLayer(Layer):
    """Local key segments in the lane (a key without segments spans the whole track)."""

    name, label, colour, result_id = "key", "Key", "#b0b6c2", "key"

    def __init__(self, style: str = ESTIMATE):
        super().__init__(style)
        y0, y1 = REF_KEY_BAND if self.reference else KEY_BAND
        self.band = self._add("lane", KeyBandItem(y0=y0, y1=y1))

    def draw(self, key, ctx: DrawContext) -> None:
        if self.under:      # the lane has no room for a third band: the legend says it
            return self.clear()
        if len(key.local_start_s):
            self.band.set_segments(key.local_start_s, key.local_end_s, key.local_tonic_pc,
                                   key.local_mode)
        else:
            self.band.set_segments([0.0], [ctx.duration_s], [key.tonic_pc], [key.mode])

    def clear(self) -> None:
        self.band.set_segments([], [], [], [])

    def share_lane(self, with_reference: bool) -> None:
        """The estimate's band moves up when a reference key is drawn below it."""
        if not self.reference:
            self.band.set_band(*(KEY_BAND_WITH_REF if with_reference else KEY_BAND))

    def draw_range(self, x0: float, x1: float) -> None:
        self.band.place_labels(x0, x1)


#: Every layer type, in toolbar order.
LAYER_TYPES: tuple[type[Layer], ...] = (F0Layer, NotesLayer, BeatsLayer, KeyLayer)
LAYER_NAMES = tuple(t.name for t in LAYER_TYPES)
LAYER_COLOURS = {t.name: t.colour for t in LAYER_TYPES}
#: Reference annotation layers by analyzer id -> track-view layer name.
REF_LAYER_OF = {t.result_id: t.name for t in LAYER_TYPES}


def make_layers(style: str) -> dict[str, Layer]:
    """One layer of every type in ``style``, by name, in toolbar order."""
    return {t.name: t(style) for t in LAYER_TYPES}
