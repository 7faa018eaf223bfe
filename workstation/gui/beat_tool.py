"""The mouse on the beats layer in *Edit beats* mode (B).

While the tool is on (``edit_tool.EditTool``), in the main pane:

- click near a beat (within ``EDGE_PX`` pixels): select it (Shift or Ctrl: add it, or take
  it out); click elsewhere: select nothing; drag on empty space: select the beats in the
  time range;
- drag a beat: move the selection in time;
- double-click away from a beat: a new beat there;
- the window's *Edit* menu: delete, select all, double or halve the tempo of the
  selection (of every beat when none is selected), set the selected beat as a downbeat (D),
  shift the selection or the whole grid (Shift+Left / Shift+Right: 10 ms; *Shift beats
  by…*), tap beats along with playback (T), undo, redo.

The operations are ``beat_edit``'s (positions, meter and tempo follow the beats); the
selected beats are drawn over the layer as wide white lines (``selection_item``).
"""

from __future__ import annotations

import numpy as np

from . import beat_edit as B
from .edit_tool import EDGE_PX, SELECTED_COLOUR, EditTool
from .overlays import VLinesItem


class BeatTool(EditTool):
    """Selecting and editing the beats of the shown track (``beats``, in time order)."""

    layer = "beats"
    result_id = "beats"

    def __init__(self, view):
        self.selection_item = VLinesItem(SELECTED_COLOUR, 3.0, y0=0, y1=128)
        self.selection_item.setZValue(12)
        view.main.addItem(self.selection_item)
        super().__init__(view)

    def empty(self):
        return B.empty_beats()

    def same(self, a, b) -> bool:
        return (np.array_equal(a.times_s, b.times_s) and np.array_equal(a.positions, b.positions))

    def size(self) -> int:
        return len(self.result.times_s)

    @property
    def beats(self):
        return self.result

    def draw_selection(self, beats=None, sel=None) -> None:
        b = self.result if beats is None else beats
        sel = (self.selected if sel is None else sel) if self.active else []
        self.selection_item.set_times(b.times_s[sel], y0=0.0, y1=self.view.draw_context().y_top)

    # ------------------------------------------------------------------ operations
    def add_beat(self, t_s: float) -> bool:
        return self.apply("Add beat", B.add, t_s)

    def delete_selected(self) -> bool:
        return bool(self.selected) and self.apply("Delete beats", B.delete, self.selected)

    def move_selected(self, dt_s: float) -> bool:
        return bool(self.selected) and self.apply("Move beats", B.move, self.selected, dt_s)

    def double_tempo(self) -> bool:
        return self.apply("Double the tempo", B.double_tempo, self.selected)

    def halve_tempo(self) -> bool:
        return self.apply("Halve the tempo", B.halve_tempo, self.selected)

    def set_downbeat(self) -> bool:
        """The selected beat is a downbeat; the bar lines after it follow (D)."""
        return bool(self.selected) and self.apply("Set downbeat", B.set_downbeat, self.selected)

    def shift(self, dt_s: float) -> bool:
        """Move the selected beats, or every beat (the grid) when none is, by ``dt_s`` s
        (Shift+Left / Shift+Right: 10 ms)."""
        return self.apply("Shift beats", B.shift, self.selected, dt_s)

    def tap(self, t_s: float) -> bool:
        """A beat tapped at ``t_s`` s (T during playback): one undo command per tap."""
        return self.apply("Tap a beat", B.add, t_s)

    # ------------------------------------------------------------------ the mouse
    def mouse_click(self, ev) -> bool:
        if not self.start_click(ev):
            return False
        t, _ = self.view_point(ev.scenePos())
        i = B.hit(self.beats, t, self.pixel_s(EDGE_PX))
        if self.is_double(ev):
            if i is None:
                self.add_beat(t)
            return True
        self.click_select(ev, i)
        return True

    def drag(self, ev) -> bool:
        if ev.isStart():
            x0, y0 = self.view_point(ev.buttonDownScenePos())
            i = B.hit(self.beats, x0, self.pixel_s(EDGE_PX))
            if i is not None and i not in self.selected:
                self.select((set(self.selected) if self.extends(ev) else set()) | {i})
            self._drag = ("band" if i is None else "move", x0, y0)
        if self._drag is None:
            return True
        kind, x0, y0 = self._drag
        x, y = self.view_point(ev.scenePos())
        if kind == "band":
            self.show_band(x0, y0, x, y, not ev.isFinish())
            if ev.isFinish():
                self.select(B.in_range(self.beats, x0, x))
                self._drag = None
            return True
        start, sel = self.beats, self.selected
        return self.drag_to(ev, "Move beats", (start, sel), B.move(start, sel, x - x0))
