"""The mouse on the f0 layer in *Edit f0* mode (F).

While the tool is on (``edit_tool.EditTool``), in the main pane:

- drag: select a time region [t0, t1] (drawn as a translucent band over the pane); a click
  selects nothing;
- Alt+drag, or any drag with *Draw f0 by dragging* on (Shift+F): draw the f0 along the
  path of the mouse (``f0_edit.redraw``, the pane's y read as MIDI, Hz or mels as the image
  mode draws it); the drawn span becomes the region;
- the window's *Edit* menu, on the region: unvoice (Delete), voice (V), an octave up or
  down (Ctrl+Up / Ctrl+Down), snap to the nearest salience peak (P), to the next peak up
  or down (Shift+Up / Shift+Down; the shown track's 'pitch.salience', else disabled).

The operations are ``f0_edit``'s (the frame grid stays; frames decided by hand get
confidence 1 or 0). ``selected`` holds the frames the last change touched; the region is
``region`` (None: none), kept across changes.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from workstation.core.types import PitchTrack

from . import f0_edit as F
from . import panes as P
from .edit_tool import EditTool

REGION_COLOUR = QColor(79, 163, 255, 55)
#: A drag shorter than this many pixels selects no region.
MIN_REGION_PX = 3


class F0Tool(EditTool):
    """Selecting a time region of the shown track's f0 (``pitch.f0``) and editing it."""

    layer = "f0"
    result_id = "pitch.f0"

    def __init__(self, view):
        self.region: tuple[float, float] | None = None
        self.drawing = False   # the Draw sub-mode: every drag draws
        self.region_item = QGraphicsRectItem()
        self.region_item.setBrush(QBrush(REGION_COLOUR))
        pen = QPen(QColor(P.ACCENT))
        pen.setCosmetic(True)
        self.region_item.setPen(pen)
        self.region_item.setZValue(15)
        self.region_item.setVisible(False)
        view.main.getViewBox().addItem(self.region_item, ignoreBounds=True)
        super().__init__(view)

    def empty(self):
        z = np.zeros(0)
        return PitchTrack(times_s=z, freqs_hz=z, voiced=np.zeros(0, bool), confidence=z)

    def same(self, a, b) -> bool:
        return (np.array_equal(a.times_s, b.times_s) and np.array_equal(a.freqs_hz, b.freqs_hz)
                and np.array_equal(np.asarray(a.voiced, bool), np.asarray(b.voiced, bool))
                and np.array_equal(a.confidence, b.confidence))

    def size(self) -> int:
        return len(self.result.times_s)

    @property
    def f0(self):
        return self.result

    @property
    def salience(self):
        """The shown track's multi-f0 salience (None: not analysed), for snapping."""
        data = self.view.data
        return None if data is None else data.results.get("pitch.salience")

    def begin(self, result, stack) -> None:
        self.region = None
        super().begin(result, stack)

    def set_region(self, t0: float | None, t1: float | None = None) -> None:
        """Select [t0, t1] s (either order); None: no region."""
        self.region = None if t0 is None else tuple(sorted((float(t0), float(t1))))
        self.draw_selection()

    def select_all(self) -> None:
        self.set_region(0.0, max(self.view.duration_s, float(self.f0.times_s[-1]) if self.size() else 0.0))

    def draw_selection(self) -> None:
        if not self.active or self.region is None:
            self.region_item.setVisible(False)
            return
        t0, t1 = self.region
        top = self.view.draw_context().y_top
        self.region_item.setRect(QRectF(t0, 0.0, t1 - t0, top))
        self.region_item.setVisible(True)

    # ------------------------------------------------------------------ operations
    def _on_region(self, text: str, fn, *args) -> bool:
        if self.region is None or not self.size():
            return False
        return self.apply(text, fn, *self.region, *args)

    def unvoice(self) -> bool:
        return self._on_region("Unvoice f0", F.unvoice)

    def voice(self) -> bool:
        return self._on_region("Voice f0", F.voice)

    def delete_selected(self) -> bool:
        return self.unvoice()

    def shift_octave(self, octaves: int) -> bool:
        return self._on_region("Octave up" if octaves > 0 else "Octave down", F.shift_octave, int(octaves))

    def snap(self, direction: int = 0) -> bool:
        """To the nearest salience peak (0), the next one up (+1) or down (-1)."""
        sal = self.salience
        if sal is None:
            return False
        text = {0: "Snap f0 to the salience", 1: "Snap f0 a peak up", -1: "Snap f0 a peak down"}
        return self._on_region(text[int(np.sign(direction))], F.snap_to_peaks, sal, int(np.sign(direction)))

    def redraw(self, times_s, freqs_hz) -> bool:
        """Draw the f0 along the path (times in s, frequencies in Hz)."""
        if not self.size() or len(times_s) < 2:
            return False
        done = self.apply("Draw f0", F.redraw, times_s, freqs_hz)
        self.set_region(min(times_s), max(times_s))
        return done

    def cancel_drag(self) -> bool:
        """Escape: as ``EditTool.cancel_drag``; the region goes back to the one before."""
        before = getattr(self, "_region_before", self.region)
        if not super().cancel_drag():
            return False
        self.set_region(*(before or (None,)))
        return True

    # ------------------------------------------------------------------ the mouse
    def _point(self, scene_pos) -> tuple[float, float]:
        """(time in s, frequency in Hz) under a scene position of the main pane."""
        t, y = self.view_point(scene_pos)
        return t, P.hz_from_y(self.view.y_unit, y)

    def mouse_click(self, ev) -> bool:
        if not self.start_click(ev):
            return False
        self.is_double(ev)
        self.set_region(None)
        return True

    def drag(self, ev) -> bool:
        if ev.isStart():
            self._region_before = self.region
            t0, hz0 = self._point(ev.buttonDownScenePos())
            alt = bool(ev.modifiers() & Qt.KeyboardModifier.AltModifier)
            self._drag = ("draw", [t0], [hz0]) if (self.drawing or alt) else ("band", t0)
        if self._drag is None:
            return True
        t, hz = self._point(ev.scenePos())
        if self._drag[0] == "band":
            t0 = self._drag[1]
            self.set_region(t0, t)
            if ev.isFinish():
                self._drag = None
                if abs(t - t0) < self.pixel_s(MIN_REGION_PX):
                    self.set_region(None)
            return True
        _, ts, hzs = self._drag
        ts.append(t)
        hzs.append(hz)
        if not ev.isFinish():   # a preview: drawn, not yet a command
            preview, _ = F.redraw(self.f0, ts, hzs)
            self.view.layers[self.layer].set_result(preview, self.view.draw_context())
            return True
        self._drag = None
        if not self.redraw(ts, hzs):
            self.view.layers[self.layer].set_result(self.f0, self.view.draw_context())
        return True
