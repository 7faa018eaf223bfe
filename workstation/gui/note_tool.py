"""The mouse on the notes layer in *Edit notes* mode (E).

While the tool is on (``edit_tool.EditTool``), in the main pane:

- click a note: select it (Shift or Ctrl: add it to the selection, or take it out);
  click on empty space: select nothing; drag on empty space: select the notes in the box;
- drag a note: move the selection in time (s) and pitch (whole semitones); drag a note's
  right edge (``resize_zone_s``: the last ``EDGE_PX`` pixels, at most the right third of the
  note as drawn, so that a short note can still be moved): lengthen or shorten the
  selection; a drag that ends where it started changes nothing;
- double-click on empty space: a new note of ``note_edit.DEFAULT_DURATION_S`` there;
- with *Snap notes to beats* on (``snap``), moved onsets, resized offsets and drawn onsets
  go to the nearest 1/4 of the shown beats' grid (``note_edit.snap_times``);
- Escape during a drag drops it (``EditTool.cancel_drag``);
- the window's *Edit* menu: delete, select all, split (at the mouse when it is over the main
  pane, else at the cursor: ``split_here``), merge, undo, redo.

The operations are ``note_edit``'s; the selection is drawn over the notes
(``selection_item``), highlighted.
"""

from __future__ import annotations

import numpy as np

from workstation.core.units import hz_to_midi

from . import note_edit as E
from . import panes as P
from .edit_tool import EDGE_PX, SELECTED_COLOUR, EditCommand, EditTool
from .overlays import NotesItem

__all__ = ["NoteTool", "EditCommand", "EDGE_PX", "SAME_TOL_S"]

#: Times closer than this (s) are the same time: a drag back to its start changes nothing.
SAME_TOL_S = 1e-6


class NoteTool(EditTool):
    """Selecting and editing the notes of the shown track (``notes``, in onset order)."""

    layer = "notes"
    result_id = "notes"

    def __init__(self, view):
        self.snap = False   # *Snap notes to beats*: onsets and offsets on the 1/4-beat grid
        self.selection_item = NotesItem(SELECTED_COLOUR, fill_alpha=110)
        self.selection_item.setZValue(12)
        view.main.addItem(self.selection_item)
        super().__init__(view)

    def empty(self):
        return E.empty_notes()

    def prepare(self, result):
        return E.sort_notes(result) if len(result) else result

    def same(self, a, b) -> bool:
        """Whether two note lists are the same, float noise (``SAME_TOL_S``) aside."""
        if len(a) != len(b):
            return False
        return bool(np.allclose(a.onsets_s, b.onsets_s, rtol=0.0, atol=SAME_TOL_S)
                    and np.allclose(a.offsets_s, b.offsets_s, rtol=0.0, atol=SAME_TOL_S)
                    and np.array_equal(a.pitch_midi, b.pitch_midi))

    def size(self) -> int:
        return len(self.result)

    @property
    def notes(self):
        return self.result

    def draw_selection(self, notes=None, sel=None) -> None:
        n = self.result if notes is None else notes
        sel = (self.selected if sel is None else sel) if self.active else []
        self.selection_item.set_notes(n.onsets_s[sel], n.offsets_s[sel], n.pitch_midi[sel],
                                      y_map=self.view.draw_context().y_map())

    def grid(self):
        """The beat times notes snap to: the shown beats (edited or not) while ``snap`` is
        on, else None."""
        data = self.view.data
        beats = None if (not self.snap or data is None) else data.results.get("beats")
        return None if beats is None else np.asarray(beats.times_s, np.float64)

    def selected_alone(self):
        """What *Play selected notes* plays: (the selected notes alone, first onset s, last
        offset s); None with nothing selected."""
        if not self.selected:
            return None
        return E.selection(self.notes, self.selected)

    # ------------------------------------------------------------------ operations
    def add_note(self, onset_s: float, pitch_midi: float,
                 duration_s: float = E.DEFAULT_DURATION_S) -> bool:
        onset_s = E.snap_one(onset_s, self.grid())
        return self.apply("Add note", E.add, onset_s, pitch_midi, duration_s)

    def delete_selected(self) -> bool:
        return bool(self.selected) and self.apply("Delete notes", E.delete, self.selected)

    def move_selected(self, dt_s: float, dpitch: float) -> bool:
        return bool(self.selected) and self.apply("Move notes", E.move, self.selected, dt_s, dpitch)

    def resize_selected(self, d_offset_s: float) -> bool:
        return bool(self.selected) and self.apply("Resize notes", E.resize, self.selected, d_offset_s)

    def split_selected(self, t_s: float) -> bool:
        return bool(self.selected) and self.apply("Split notes", E.split, self.selected, t_s)

    def split_here(self) -> tuple[bool, str]:
        """*Split* (S): the selected notes at the mouse's time while the mouse is over the
        main pane, else at the playback cursor; (split or not, what to say in the status bar)."""
        t, where = self.pointer_time(), "the mouse"
        if t is None:
            t, where = self.view.cursor_s(), "the cursor"
        at = f"{where} ({t:.2f} s)"
        if not self.selected:
            return False, f"Nothing split: select the notes to split first, then press S at {where}"
        before = len(self.notes)
        if self.split_selected(t):
            n = len(self.notes) - before
            return True, f"Split {n} note{'s' if n != 1 else ''} at {at}"
        return False, (f"Nothing split: no selected note sounds at {at} "
                       f"(at least {E.MIN_DURATION_S * 1000:.0f} ms from its start and end)")

    def merge_selected(self) -> bool:
        return len(self.selected) > 1 and self.apply("Merge notes", E.merge, self.selected)

    # ------------------------------------------------------------------ the mouse
    def _point(self, scene_pos) -> tuple[float, float]:
        """(time in s, pitch in MIDI) under a scene position of the main pane."""
        t, y = self.view_point(scene_pos)
        unit = self.view.y_unit
        return t, (y if unit == "midi" else float(hz_to_midi(max(P.hz_from_y(unit, y), 1e-3))))

    def resize_zone_s(self, i: int) -> float:
        """How far from note ``i``'s end (s) a press resizes it rather than moving it: the
        last ``EDGE_PX`` pixels, at most the right third of the note."""
        width = float(self.notes.offsets_s[i] - self.notes.onsets_s[i])
        return min(self.pixel_s(EDGE_PX), width / 3.0)

    def mouse_click(self, ev) -> bool:
        """A click in the main pane (``TimeZoomViewBox``); True when handled."""
        if not self.start_click(ev):
            return False
        t, pitch = self._point(ev.scenePos())
        i = E.hit(self.notes, t, pitch)
        if self.is_double(ev):
            if i is None:
                self.add_note(t, pitch)
            return True
        self.click_select(ev, i)
        return True

    def drag(self, ev) -> bool:
        """A drag in the main pane: move, resize or rubber-band; True when handled."""
        if ev.isStart():
            t0, p0 = self._point(ev.buttonDownScenePos())
            i = E.hit(self.notes, t0, p0)
            if i is None:
                self._drag = ("band", t0, p0, self.view_point(ev.buttonDownScenePos()))
            else:
                if i not in self.selected:
                    self.select((set(self.selected) if self.extends(ev) else set()) | {i})
                near_end = self.notes.offsets_s[i] - t0 <= self.resize_zone_s(i)
                self._drag = ("resize" if near_end else "move", t0, p0, i)
        if self._drag is None:
            return True
        kind, t0, p0, extra = self._drag   # band: start point; else: the note
        t, p = self._point(ev.scenePos())
        if kind == "band":
            self.show_band(*extra, *self.view_point(ev.scenePos()), not ev.isFinish())
            if ev.isFinish():
                self.select(E.in_rect(self.notes, t0, t, p0, p))
                self._drag = None
            return True
        start, sel, i, grid = self.notes, self.selected, extra, self.grid()
        if abs(t - t0) < self.pixel_s(0.5) and np.round(p - p0) == 0:
            notes, new_sel = start, list(sel)   # back where it started (snapping aside)
        elif kind == "move":   # the dragged note's onset snaps; the others follow it
            on = float(start.onsets_s[i])
            notes, new_sel = E.move(start, sel, E.snap_one(on + t - t0, grid) - on, np.round(p - p0))
        else:                # the dragged note's offset snaps; the others change as much
            off = float(start.offsets_s[i])
            notes, new_sel = E.resize(start, sel, E.snap_one(off + t - t0, grid) - off)
        return self.drag_to(ev, f"{kind.title()} notes", (start, sel), (notes, new_sel))
