"""What the edit tools of the track view share (``note_tool.NoteTool``,
``beat_tool.BeatTool``): the layer's result under edit and its selection, the undo
commands, edit mode (the main pane's clicks and drags go to the active tool through
``panes.TimeZoomViewBox.tool``), double-click detection and the rubber band.

A tool edits the estimate layer ``layer`` of the view (a ``TrackView``) with the pure
operations of a model module (``note_edit``, ``beat_edit``: ``fn(result, *args) -> (result,
selected indices)``); every change is an ``EditCommand`` on the track's ``QUndoStack``, after
which the tool redraws the layer (``TrackView.show_layer``) and emits ``changed``.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QGuiApplication, QPen, QUndoCommand
from PySide6.QtWidgets import QGraphicsRectItem

from . import panes as P

EDGE_PX = 6
SELECTED_COLOUR = "#ffffff"
EXTEND = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier


class EditCommand(QUndoCommand):
    """One edit of a layer: ``before`` and ``after`` are (result, selected indices)."""

    def __init__(self, tool: "EditTool", text: str, before, after):
        super().__init__(text)
        self.tool, self.before, self.after = tool, before, after

    def redo(self) -> None:
        self.tool.set_state(*self.after)

    def undo(self) -> None:
        self.tool.set_state(*self.before)


class EditTool(QObject):
    """The editing of one layer (``layer``: the view's layer name; ``result_id``: the
    analyzer id it is saved as). ``begin(result, stack)`` starts on the shown track's
    result with its undo stack; ``changed`` after every change (undo and redo too)."""

    layer = ""
    result_id = ""
    changed = Signal()

    def __init__(self, view):
        super().__init__(view)
        self.view = view
        self.result = self.empty()
        self.selected: list[int] = []
        self.stack = None
        self.active = False
        self._drag = None
        self._cancelled = False   # Escape dropped the drag: its last events are ignored
        self._last_click = None   # (time, screen position) of the last click
        self.band = QGraphicsRectItem()
        pen = QPen(QColor(P.ACCENT))
        pen.setCosmetic(True)
        pen.setStyle(Qt.PenStyle.DashLine)
        self.band.setPen(pen)
        self.band.setZValue(50)
        self.band.setVisible(False)
        view.main.getViewBox().addItem(self.band, ignoreBounds=True)
        view.layers_drawn.connect(self.draw_selection)

    # -- what a tool defines --------------------------------------------------------
    def empty(self):
        raise NotImplementedError

    def prepare(self, result):
        """The result as the tool keeps it (e.g. sorted)."""
        return result

    def same(self, a, b) -> bool:
        raise NotImplementedError

    def draw_selection(self) -> None:
        raise NotImplementedError

    def size(self) -> int:
        raise NotImplementedError

    # -- state --------------------------------------------------------------------------
    def begin(self, result, stack) -> None:
        """Edit ``result`` (the shown track's; None: none yet) with undo ``stack``."""
        self.result = self.prepare(result) if result is not None else self.empty()
        self.selected = []
        self.stack = stack
        self._drag = None
        self.draw_selection()

    def set_active(self, on: bool) -> None:
        """Edit mode on or off: the main pane's clicks and drags come here while on."""
        self.active = bool(on)
        vb = self.view.main.getViewBox()
        if self.active:
            vb.tool = self
            self.view.set_layer_visible(self.layer, True)
        elif vb.tool is self:
            vb.tool = None
        self.draw_selection()

    def set_state(self, result, selected) -> None:
        """Show ``result`` with ``selected`` (an undo command's state)."""
        self.result = result
        self.selected = [int(i) for i in selected if 0 <= int(i) < self.size()]
        self.view.show_layer(self.layer, result)
        self.changed.emit()

    def select(self, indices) -> None:
        self.selected = sorted({int(i) for i in indices if 0 <= int(i) < self.size()})
        self.draw_selection()

    def select_all(self) -> None:
        self.select(range(self.size()))

    def apply(self, text: str, fn, *args) -> bool:
        """Run model operation ``fn(result, *args)`` as one undoable command; False when it
        changes nothing (nothing is pushed)."""
        before = (self.result, list(self.selected))
        result, sel = fn(self.result, *args)
        if result is before[0] or self.same(result, before[0]):
            self.select(sel)
            return False
        self.push(text, before, (result, sel))
        return True

    def push(self, text: str, before, after) -> None:
        cmd = EditCommand(self, text, before, after)
        if self.stack is not None:
            self.stack.push(cmd)   # runs redo()
        else:
            cmd.redo()

    def drag_to(self, ev, text: str, before, after) -> bool:
        """One step of a drag that changes the layer from ``before`` to ``after`` (each a
        (result, selected indices) pair): drawn as a preview while the drag goes on; at its
        end one undoable command, or nothing when the result came back where it started."""
        (start, _), (result, sel) = before, after
        layer, ctx = self.view.layers[self.layer], self.view.draw_context()
        if not ev.isFinish():   # a preview: drawn, not yet a command
            layer.set_result(result, ctx)
            self.draw_selection(result, sel)
            return True
        self._drag = None
        if self.same(result, start):   # back where it started: nothing to undo
            layer.set_result(start, ctx)
            self.draw_selection()
        else:
            self.push(text, before, after)
        return True

    # -- the mouse ----------------------------------------------------------------------
    def view_point(self, scene_pos) -> tuple[float, float]:
        p = self.view.main.getViewBox().mapSceneToView(scene_pos)
        return float(p.x()), float(p.y())

    def pointer_time(self) -> float | None:
        """The time (s) under the mouse pointer while it is over the main pane, else None."""
        glw = self.view.glw
        vp = glw.viewport()
        pos = vp.mapFromGlobal(QCursor.pos())
        if not vp.isVisible() or not vp.rect().contains(pos):
            return None
        scene = glw.mapToScene(pos)
        vb = self.view.main.getViewBox()
        if not vb.sceneBoundingRect().contains(scene):
            return None
        return float(vb.mapSceneToView(scene).x())

    def pixel_s(self, n_px: float = EDGE_PX) -> float:
        """``n_px`` screen pixels in seconds at the present zoom."""
        return float(self.view.main.getViewBox().viewPixelSize()[0]) * n_px

    def is_double(self, ev) -> bool:
        """Whether this click is (the second of) a double-click. pyqtgraph flags a click
        ``double()`` only sometimes under Qt 6 (which sends press, then double-click), so
        two clicks within the double-click interval and a few pixels count too."""
        now, pos = time.monotonic(), ev.screenPos()
        last, self._last_click = self._last_click, (now, pos)
        if ev.double():
            self._last_click = None
            return True
        if last is None:
            return False
        interval = QGuiApplication.styleHints().mouseDoubleClickInterval() / 1000.0
        if now - last[0] <= interval and (pos - last[1]).manhattanLength() <= 4:
            self._last_click = None
            return True
        return False

    def show_band(self, x0: float, y0: float, x1: float, y1: float, visible: bool) -> None:
        """The rubber band, in the main pane's coordinates."""
        self.band.setRect(QRectF(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)))
        self.band.setVisible(visible)

    @staticmethod
    def extends(ev) -> bool:
        return bool(ev.modifiers() & EXTEND)

    def click_select(self, ev, i: int | None) -> None:
        """A click on item ``i`` (None: on nothing): select it alone, or with Shift/Ctrl add
        it to the selection or take it out."""
        sel = set(self.selected) if self.extends(ev) else set()
        if i is not None:
            sel = sel ^ {i} if self.extends(ev) else {i}
        self.select(sel)

    def taking(self, ev) -> bool:
        """Whether the tool takes a mouse event: on, a track shown, the left button."""
        return (self.active and self.view.data is not None
                and ev.button() == Qt.MouseButton.LeftButton)

    def drag(self, ev) -> bool:
        """A drag the tool takes (``mouse_drag`` checked it): True when handled."""
        raise NotImplementedError

    def mouse_drag(self, ev) -> bool:
        """A drag in the main pane (``TimeZoomViewBox``); after ``cancel_drag`` the rest of
        that drag is swallowed. True when handled."""
        if not self.taking(ev):
            return False
        if ev.isStart():
            self._cancelled = False
        elif self._cancelled:
            self._cancelled = not ev.isFinish()
            return True
        return self.drag(ev)

    def cancel_drag(self) -> bool:
        """Escape: drop the drag in progress (its preview too); nothing is pushed on the
        undo stack. False when no drag is in progress."""
        if self._drag is None:
            return False
        self._drag = None
        self._cancelled = True
        self.band.setVisible(False)
        self.view.layers[self.layer].set_result(self.result, self.view.draw_context())
        self.draw_selection()
        return True

    def start_click(self, ev) -> bool:
        """Common start of ``mouse_click``: False when the tool does not take the event."""
        if not self.taking(ev):
            return False
        self.view.glw.setFocus(Qt.FocusReason.MouseFocusReason)
        return True
