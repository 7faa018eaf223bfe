"""Correcting notes by hand in the window (real Library, real window, offscreen): Edit notes
mode with real mouse events (select, drag, resize, rubber band, double-click), undo and
redo, the edit saved in the catalogue and shown again by a new window, Revert, the table's
mark and the legend; layers as objects in the track view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from editing_window import analysed_library, open_window

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from workstation.core.types import Beats, Notes  # noqa: E402
from workstation.gui.layers import EDITED_COLOUR, LAYER_NAMES, Layer  # noqa: E402
from workstation.gui.library_model import COL_STATUS  # noqa: E402
from workstation.gui.main_window import MainWindow  # noqa: E402
from workstation.library import Library  # noqa: E402

#: The analysis's notes: C4 0.5-1.0, E4 1.0-1.5, G4 1.5-2.0, C5 2.0-3.0 s.
ON = np.array([0.5, 1.0, 1.5, 2.0])
OFF = np.array([1.0, 1.5, 2.0, 3.0])
PITCH = np.array([60, 64, 67, 72])


#: The analysis's beats: every 0.5 s from 0 to 5.5 s, 4/4, a downbeat at 0 s.
BEATS_T = np.arange(12) * 0.5


def _analysis_beats() -> Beats:
    return Beats(times_s=BEATS_T.copy(), positions=np.arange(12) % 4 + 1, tempo_bpm=120.0, meter=4)


def _analysis_notes() -> Notes:
    return Notes(onsets_s=ON.copy(), offsets_s=OFF.copy(), pitch_midi=PITCH.copy(),
                 velocity=np.full(4, 90), confidence=np.full(4, 0.8))


@pytest.fixture
def lib_root(tmp_path) -> Path:
    """A library of one 6 s arpeggio whose stored analysis holds ``_analysis_notes`` and
    ``_analysis_beats``."""
    return analysed_library(tmp_path, {"notes": _analysis_notes(), "beats": _analysis_beats()})


def _open(qtbot, root: Path) -> MainWindow:
    return open_window(qtbot, root, x_range=(0.0, 4.0), y_range=(55.0, 80.0))


@pytest.fixture
def win(qtbot, lib_root):
    w = _open(qtbot, lib_root)
    yield w
    w.shutdown()


def _px(view, t_s: float, pitch: float) -> QPoint:
    """The viewport pixel of (t_s, pitch) on the main pane."""
    scene = view.main.getViewBox().mapViewToScene(QPointF(t_s, pitch))
    return view.glw.mapFromScene(scene)


def _mouse(view, kind, pos: QPoint, button, buttons, mods=Qt.KeyboardModifier.NoModifier) -> None:
    ev = QMouseEvent(kind, QPointF(pos), QPointF(view.glw.viewport().mapToGlobal(pos)), button,
                     buttons, mods)
    QApplication.sendEvent(view.glw.viewport(), ev)


def _drag(qtbot, view, a: tuple, b: tuple) -> None:
    """A real left-button drag on the main pane from (t, pitch) ``a`` to ``b``."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    p0, p1 = _px(view, *a), _px(view, *b)
    _mouse(view, QEvent.Type.MouseMove, p0, none, none)
    _mouse(view, QEvent.Type.MouseButtonPress, p0, left, left)
    for k in range(1, 11):
        p = p0 + (p1 - p0) * k / 10
        _mouse(view, QEvent.Type.MouseMove, p, none, left)
        qtbot.wait(5)
    _mouse(view, QEvent.Type.MouseButtonRelease, p1, left, none)
    qtbot.wait(20)


def _click(qtbot, view, t, pitch, mods=Qt.KeyboardModifier.NoModifier) -> None:
    pos = _px(view, t, pitch)
    _mouse(view, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    qtbot.mouseClick(view.glw.viewport(), Qt.MouseButton.LeftButton, mods, pos)
    qtbot.wait(20)


def _double_click(qtbot, view, t, pitch) -> None:
    """What Qt 6 delivers for a double-click: press, release, press, double-click, release
    (``qtbot.mouseDClick`` reaches no pyqtgraph item offscreen)."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    pos = _px(view, t, pitch)
    _mouse(view, QEvent.Type.MouseMove, pos, none, none)
    for kind, button, buttons in ((QEvent.Type.MouseButtonPress, left, left),
                                  (QEvent.Type.MouseButtonRelease, left, none),
                                  (QEvent.Type.MouseButtonPress, left, left),
                                  (QEvent.Type.MouseButtonDblClick, left, left),
                                  (QEvent.Type.MouseButtonRelease, left, none)):
        _mouse(view, kind, pos, button, buttons)
    qtbot.wait(20)


def _saved_notes(win):
    e = win.library.edits(win.current_track_id).get("notes")
    return None if e is None else e.result


# ------------------------------------------------------------------------------ layers

def test_track_view_layers_are_objects(qtbot, win):
    v = win.view
    assert tuple(v.layers) == LAYER_NAMES == tuple(v.ref_layers)
    assert all(isinstance(x, Layer) for x in (*v.layers.values(), *v.ref_layers.values()))
    assert v.layers["notes"].style == "estimate" and v.ref_layers["notes"].style == "reference"
    assert type(v.layers["notes"]) is type(v.ref_layers["notes"])
    np.testing.assert_allclose(v.notes_item.onsets_s, ON)
    v.set_layer_visible("beats", False)
    assert not v.layer_visible("beats") and not v.ref_layers["beats"].visible()
    v.set_layer_visible("beats", True)
    assert v.layer_visible("beats")


# ------------------------------------------------------------------------------ the mouse

def test_mouse_select_move_resize_undo_redo_and_save(qtbot, win):
    v, ec = win.view, win.edit_control
    tool = ec.tool
    _click(qtbot, v, 1.25, 64)                      # not editing: a click seeks
    assert v.cursor_s() == pytest.approx(1.25, abs=0.02) and tool.selected == []
    win.edit_control.act_edit_notes.trigger()       # E
    assert tool.active and ec.act_edit_notes.isChecked()
    v.set_cursor(0.0)
    _click(qtbot, v, 1.25, 64)                      # select E4, the cursor stays
    assert tool.selected == [1] and v.cursor_s() == 0.0
    assert len(tool.selection_item.onsets_s) == 1   # drawn highlighted
    _click(qtbot, v, 2.5, 72, Qt.KeyboardModifier.ShiftModifier)
    assert tool.selected == [1, 3]
    _click(qtbot, v, 3.5, 58)                       # empty space: nothing selected
    assert tool.selected == []
    # drag E4 by +0.3 s and about +2 semitones
    _drag(qtbot, v, (1.2, 64), (1.5, 66.2))
    n = v.notes_item
    i = int(np.flatnonzero(n.pitch_midi == 66)[0])
    assert n.onsets_s[i] == pytest.approx(1.3, abs=0.02) and 64 not in n.pitch_midi
    assert ec.stack(win.current_track_id).count() == 1
    # drag the right edge of C5 (ends at 3.0 s) to 3.4 s
    _click(qtbot, v, 3.0 - 0.005, 72)
    _drag(qtbot, v, (2.997, 72), (3.4, 72))
    j = int(np.flatnonzero(n.pitch_midi == 72)[0])
    assert n.offsets_s[j] == pytest.approx(3.4, abs=0.03) and n.onsets_s[j] == pytest.approx(2.0)
    # undo both, redo one
    stack = ec.stack(win.current_track_id)
    stack.undo()
    stack.undo()
    np.testing.assert_allclose(v.notes_item.onsets_s, ON)
    np.testing.assert_array_equal(v.notes_item.pitch_midi, PITCH)
    stack.redo()
    assert 66 in v.notes_item.pitch_midi and 64 not in v.notes_item.pitch_midi
    # saved (debounced) into the catalogue, marked in the legend and the table
    qtbot.waitUntil(lambda: _saved_notes(win) is not None and 66 in _saved_notes(win).pitch_midi,
                    timeout=10_000)
    qtbot.waitUntil(lambda: "notes: corrected by hand (revision" in v.legend.toolTip(), timeout=5_000)
    e = win.library.edits(win.current_track_id)["notes"]
    assert e.source == "window" and "notes" in e.based_on
    qtbot.waitUntil(lambda: "✎ notes" in win.model.index(0, COL_STATUS).data(), timeout=10_000)


def test_rubber_band_double_click_delete_split_merge(qtbot, win):
    v, ec = win.view, win.edit_control
    tool = ec.tool
    ec.set_editing(True)
    _drag(qtbot, v, (0.7, 58), (1.7, 68.4))         # a box over C4, E4, G4 (not C5)
    assert tool.selected == [0, 1, 2]
    v.glw.setFocus()
    ec.act_delete.trigger()
    assert list(v.notes_item.pitch_midi) == [72]
    # double-click on empty space draws a note there
    _double_click(qtbot, v, 1.0, 62)
    assert sorted(v.notes_item.pitch_midi) == [62, 72]
    k = int(np.flatnonzero(v.notes_item.pitch_midi == 62)[0])
    assert v.notes_item.onsets_s[k] == pytest.approx(1.0, abs=0.02)
    # split C5 at the cursor (2.5 s), then merge the halves back
    tool.select([int(np.flatnonzero(tool.notes.pitch_midi == 72)[0])])
    v.set_cursor(2.5)
    ec.act_split.trigger()
    assert len(tool.notes) == 3 and len(tool.selected) == 2
    np.testing.assert_allclose(sorted(tool.notes.offsets_s[tool.selected]), [2.5, 3.0])
    ec.act_merge.trigger()
    assert len(tool.notes) == 2
    stack = ec.stack(win.current_track_id)
    assert stack.count() == 4                       # delete, add, split, merge
    while stack.canUndo():
        stack.undo()
    np.testing.assert_allclose(v.notes_item.onsets_s, ON)
    # everything undone over the analysis: no edit is left stored
    win.edit_control.flush()
    assert win.tasks.wait_idle(10)
    qtbot.waitUntil(lambda: win.library.edits(win.current_track_id) == {}, timeout=5_000)


def test_edit_beats_with_the_mouse_and_tempo_actions(qtbot, win):
    v, ec = win.view, win.edit_control
    tool = ec.tools["beats"]
    ec.act_edit_notes.trigger()
    ec.act_edit_beats.trigger()                     # B: beats mode, notes mode off
    assert tool.active and not ec.tools["notes"].active and not ec.act_edit_notes.isChecked()
    assert v.main.getViewBox().tool is tool
    _click(qtbot, v, 1.01, 60)                      # near the beat at 1.0 s
    assert tool.selected == [2]
    _drag(qtbot, v, (1.0, 60), (1.2, 62))
    np.testing.assert_allclose(v.lane_beats.times_s[2], 1.2, atol=0.02)
    assert v.lane_downbeats.times_s.tolist() == [0.0, 2.0, 4.0]
    _double_click(qtbot, v, 1.75, 60)               # a new beat
    assert len(v.lane_beats.times_s) == 13
    tool.select([])
    ec.act_halve.trigger()                          # the whole track, downbeats kept
    assert len(tool.beats.times_s) == 7 and np.isin([0.0, 2.0, 4.0], tool.beats.times_s).all()
    stack = ec.stack(win.current_track_id)
    assert stack.count() == 3
    stack.undo()
    assert len(v.lane_beats.times_s) == 13
    win.edit_control.flush()
    qtbot.waitUntil(lambda: "beats" in win.library.edits(win.current_track_id), timeout=10_000)
    saved = win.library.edits(win.current_track_id)["beats"].result
    assert len(saved.times_s) == 13 and saved.tempo_bpm > 0
    qtbot.waitUntil(lambda: "beats: corrected by hand (revision 1)" in v.legend.toolTip(), timeout=5_000)
    assert "notes" not in win.library.edits(win.current_track_id)


def test_export_right_after_an_edit_writes_the_edit(qtbot, win, tmp_path):
    """An export asked before the debounced save still writes the corrected notes, and the
    JAMS file says they were corrected by hand."""
    from workstation.export import read_jams
    ec = win.edit_control
    ec.set_editing(True)
    ec.tools["notes"].select([3])
    ec.act_delete.trigger()                          # drop C5; not saved yet
    assert win.library.edits(win.current_track_id) == {}
    out = tmp_path / "now.jams"
    win.last_export = []
    win.export_current(out)
    qtbot.waitUntil(lambda: bool(win.last_export), timeout=30_000)
    assert read_jams(out)["notes"].pitch_midi.tolist() == [60, 64, 67]
    assert "corrected by hand" in out.read_text()


# ------------------------------------------------------------------------------ persistence

def test_edit_survives_a_new_window_and_revert_restores_the_analysis(qtbot, lib_root):
    win = _open(qtbot, lib_root)
    try:
        ec = win.edit_control
        ec.set_editing(True)
        ec.tool.select([0])
        ec.act_delete.trigger()                       # drop C4
        assert list(win.view.notes_item.pitch_midi) == [64, 67, 72]
        # the analysis stays visible, faintly, under the correction (before it is saved too)
        under = win.view.under_layers["notes"]
        assert list(under.item.pitch_midi) == list(PITCH) and under.visible()
        assert win.view.under_layers["beats"].result is None   # beats are not corrected
        win.view.set_layer_visible("notes", False)
        assert not under.visible()
        win.view.set_layer_visible("notes", True)
    finally:
        win.close()                                   # saves at once on close
    assert list(_stored(lib_root).pitch_midi) == [64, 67, 72]
    win2 = _open(qtbot, lib_root)
    try:
        v = win2.view
        assert list(v.notes_item.pitch_midi) == [64, 67, 72]  # the edit, not the analysis
        assert "notes: corrected by hand (revision 1)" in v.legend.toolTip()
        assert v.layers["notes"].edited and v.notes_item.colour == EDITED_COLOUR
        assert not v.layers["beats"].edited
        assert "✎ notes" in win2.model.index(0, COL_STATUS).data()
        np.testing.assert_array_equal(v.data.analysis["notes"].pitch_midi, PITCH)
        np.testing.assert_array_equal(v.under_layers["notes"].item.pitch_midi, PITCH)
        # Revert asks first; No keeps the edit
        win2.edit_control._confirm = lambda text: False
        assert not win2.edit_control.revert()
        win2.edit_control._confirm = lambda text: True
        assert win2.edit_control.revert()
        qtbot.waitUntil(lambda: list(v.notes_item.pitch_midi) == list(PITCH), timeout=20_000)
        assert win2.library.edits(win2.current_track_id) == {}
        assert v.legend.text() == "" and v.notes_item.colour != EDITED_COLOUR
        assert v.under_layers["notes"].result is None and len(v.under_layers["notes"].item.pitch_midi) == 0
        qtbot.waitUntil(lambda: "✎" not in win2.model.index(0, COL_STATUS).data(), timeout=10_000)
    finally:
        win2.shutdown()


def _stored(root: Path):
    with Library.open(root / "lib") as lib:
        (t,) = lib.tracks()
        return lib.edits(t.id)["notes"].result
