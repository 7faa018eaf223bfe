"""The mouse on the key layer in *Edit key* mode (K).

While the tool is on (``edit_tool.EditTool``), in the main pane or the key lane under it:

- click: select the local key segment at that time (drawn outlined in the lane);
- drag a boundary between two segments (within ``EDGE_PX`` pixels): move it (each segment
  keeps at least ``key_edit.MIN_SEGMENT_S``); other drags pan as usual;
- double-click: split the segment there;
- the window's *Edit* menu: merge the selected segment with the next (Delete), *Set key…*
  (Enter; the dialog names the segment's span) and *Set global key…* (Ctrl+K), each a list
  of the 24 keys.

The operations are ``key_edit``'s; a key without local segments is edited as one segment
over the whole track.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QInputDialog

from workstation.core.types import Key

from . import key_edit as K
from .edit_tool import EDGE_PX, SELECTED_COLOUR, EditTool


def clock(t_s: float) -> str:
    """A time as m:ss.t ('0:09.4', '1:02.0')."""
    tenths = int(round(max(float(t_s), 0.0) * 10))
    m, rest = divmod(tenths, 600)
    return f"{m}:{rest // 10:02d}.{rest % 10}"


class KeyTool(EditTool):
    """Selecting and editing the local key segments of the shown track (``key``)."""

    layer = "key"
    result_id = "key"

    def __init__(self, view):
        self.selection_item = QGraphicsRectItem()
        pen = QPen(QColor(SELECTED_COLOUR))
        pen.setCosmetic(True)
        pen.setWidthF(2.0)
        self.selection_item.setPen(pen)
        self.selection_item.setBrush(QBrush(QColor(255, 255, 255, 40)))
        self.selection_item.setZValue(20)
        self.selection_item.setVisible(False)
        view.lane.getViewBox().addItem(self.selection_item, ignoreBounds=True)
        super().__init__(view)

    def empty(self):
        return K.with_segments(Key(tonic_pc=0, mode="major", confidence=0.0), self.view.duration_s)

    def prepare(self, result):
        return K.with_segments(result, self.view.duration_s)

    def same(self, a, b) -> bool:
        return K.same(a, b)

    def size(self) -> int:
        return len(self.result.local_start_s)

    @property
    def key(self):
        return self.result

    def set_active(self, on: bool) -> None:
        super().set_active(on)
        lane = self.view.lane.getViewBox()
        if self.active:
            lane.tool = self
        elif lane.tool is self:
            lane.tool = None

    def draw_selection(self, key=None, sel=None) -> None:
        k = self.result if key is None else key
        sel = (self.selected if sel is None else sel) if self.active else []
        if not sel or sel[0] >= len(k.local_start_s):
            self.selection_item.setVisible(False)
            return
        s, e = float(k.local_start_s[sel[0]]), float(k.local_end_s[sel[0]])
        self.selection_item.setRect(QRectF(s, 0.02, e - s, 0.96))
        self.selection_item.setVisible(True)

    # ------------------------------------------------------------------ operations
    def set_key(self, tonic_pc: int, mode: str) -> bool:
        """The selected segment in key (tonic_pc, mode)."""
        return bool(self.selected) and self.apply("Set key", K.set_segment_key, self.selected[0],
                                                  tonic_pc, mode)

    def set_global(self, tonic_pc: int, mode: str) -> bool:
        return self.apply("Set global key", K.set_global, tonic_pc, mode, self.selected)

    def split_at(self, t_s: float) -> bool:
        return self.apply("Split key", K.split, t_s)

    def merge_selected(self) -> bool:
        """Merge the selected segment with the next (the last one: with the one before)."""
        if not self.selected or self.size() < 2:
            return False
        i = min(self.selected[0], self.size() - 2)
        return self.apply("Merge keys", K.merge, i)

    def delete_selected(self) -> bool:
        return self.merge_selected()

    def move_boundary(self, i: int, t_s: float) -> bool:
        return self.apply("Move key boundary", K.move_boundary, i, t_s)

    # ------------------------------------------------------------------ dialogs
    def ask_key(self, title: str, current: str, prompt: str = "Key:") -> str | None:
        """One of the 24 keys from a list, under ``prompt`` (None: cancelled); tests replace it."""
        labels = [lab for lab, _, _ in K.KEYS]
        i = labels.index(current) if current in labels else 0
        text, ok = QInputDialog.getItem(self.view, title, prompt, labels, i, False)
        return text if ok else None

    def segment_prompt(self, i: int) -> str:
        """The dialog's label for segment ``i``: 'Key of the segment 0:09.4–0:24.0:'."""
        s, e = float(self.key.local_start_s[i]), float(self.key.local_end_s[i])
        return f"Key of the segment {clock(s)}–{clock(e)}:"

    def set_key_dialog(self) -> bool:
        """*Set key…* (Enter): the selected segment's key (none selected: the segment at the
        cursor) from a list."""
        if not self.selected:
            i = K.segment_at(self.key, self.view.cursor_s())
            if i is None:
                return False
            self.select([i])
        i = self.selected[0]
        text = self.ask_key("Set the segment's key",
                            K.label(self.key.local_tonic_pc[i], self.key.local_mode[i]),
                            self.segment_prompt(i))
        return text is not None and self.set_key(*K.parse(text))

    def set_global_dialog(self) -> bool:
        """*Set global key…* (Ctrl+K)."""
        text = self.ask_key("Set the global key", K.label(self.key.tonic_pc, self.key.mode),
                            "Key of the whole track:")
        return text is not None and self.set_global(*K.parse(text))

    # ------------------------------------------------------------------ the mouse
    def mouse_click(self, ev) -> bool:
        if not self.start_click(ev):
            return False
        t, _ = self.view_point(ev.scenePos())
        if self.is_double(ev):
            self.split_at(t)
            return True
        i = K.segment_at(self.key, t)
        self.select([] if i is None else [i])
        return True

    def drag(self, ev) -> bool:
        if ev.isStart():
            t0, _ = self.view_point(ev.buttonDownScenePos())
            i = K.boundary_at(self.key, t0, self.pixel_s(EDGE_PX))
            self._drag = None if i is None else i
        if self._drag is None:
            return False   # not on a boundary: the pane pans
        i = self._drag
        t, _ = self.view_point(ev.scenePos())
        start = self.key
        return self.drag_to(ev, "Move key boundary", (start, list(self.selected)),
                            K.move_boundary(start, i, t))
