"""What a user found walking the editing features (real Library, real window, offscreen):
short notes can be moved, a drag back to its start changes nothing, the Info panel follows
the edits, S splits at the mouse, the edit mode buttons are short and look pressed, the
legend fits, Help's rows wrap, and the key dialog names its segment."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import QEvent, QPoint, QRect, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QCursor  # noqa: E402
from PySide6.QtWidgets import QApplication, QInputDialog  # noqa: E402

import test_f0_key_editing as FK  # noqa: E402
import test_note_editing as NE  # noqa: E402
from editing_window import analysed_library  # noqa: E402
from workstation.gui import note_edit as E  # noqa: E402
from workstation.gui.help_dialog import ShortcutsDialog  # noqa: E402
from workstation.gui.panes import ACCENT  # noqa: E402


@pytest.fixture
def win(qtbot, tmp_path):
    """A window on the notes-and-beats track of ``test_note_editing``."""
    w = NE._open(qtbot, _notes_library(tmp_path))
    yield w
    w.shutdown()


def _notes_library(tmp_path):
    """``test_note_editing.lib_root`` (a fixture, not callable)."""
    return analysed_library(tmp_path, {"notes": NE._analysis_notes(), "beats": NE._analysis_beats()})


@pytest.fixture
def fwin(qtbot, tmp_path):
    """A window on ``test_f0_key_editing``'s track: f0, salience, key, beats, notes."""
    w = FK._open(qtbot, FK._library(tmp_path, {"pitch.f0": FK._f0(), "pitch.salience": FK._salience(),
                                               "key": FK._key(), "beats": FK._beats(),
                                               "notes": FK._notes()}))
    yield w
    w.shutdown()


def _drag_path(qtbot, view, points) -> None:
    """A real left-button drag on the main pane through (t, pitch) ``points``."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    px = [NE._px(view, *p) for p in points]
    NE._mouse(view, QEvent.Type.MouseMove, px[0], none, none)
    NE._mouse(view, QEvent.Type.MouseButtonPress, px[0], left, left)
    for a, b in zip(px, px[1:]):
        for k in range(1, 9):
            NE._mouse(view, QEvent.Type.MouseMove, a + (b - a) * k / 8, none, left)
            qtbot.wait(5)
    NE._mouse(view, QEvent.Type.MouseButtonRelease, px[-1], left, none)
    qtbot.wait(20)


def _index(tool, pitch) -> int:
    return int(np.flatnonzero(tool.notes.pitch_midi == pitch)[0])


# ------------------------------------------------------------------------------ 1. notes

def test_a_short_note_moves_from_its_middle_and_resizes_only_at_its_end(qtbot, win):
    v, ec = win.view, win.edit_control
    tool = ec.tools["notes"]
    ec.set_editing(True)
    v.set_x_range(0.0, 6.0)
    qtbot.wait(20)
    assert tool.apply("Add note", E.add, 3.0, 70, 0.06)
    width_px = 0.06 / tool.pixel_s(1)
    assert width_px < 2 * 6, width_px           # shorter than two resize edges
    _drag_path(qtbot, v, [(3.03, 70), (3.53, 70)])    # from the middle: a move
    i = _index(tool, 70)
    assert tool.notes.onsets_s[i] == pytest.approx(3.5, abs=0.03)
    assert tool.notes.offsets_s[i] - tool.notes.onsets_s[i] == pytest.approx(0.06, abs=1e-9)
    assert ec.stack(win.current_track_id).command(1).text() == "Move notes"
    assert tool.resize_zone_s(i) == pytest.approx(0.02)           # the right third
    assert tool.resize_zone_s(_index(tool, 72)) == pytest.approx(tool.pixel_s(6))  # 6 px
    # a long note still resizes from its last pixels
    _drag_path(qtbot, v, [(2.995, 72), (3.3, 72)])
    k = _index(tool, 72)
    assert tool.notes.onsets_s[k] == pytest.approx(2.0) and tool.notes.offsets_s[k] > 3.2


def test_a_drag_back_to_where_it_started_pushes_and_saves_nothing(qtbot, win):
    v, ec = win.view, win.edit_control
    tool = ec.tools["notes"]
    ec.set_editing(True)
    assert tool.apply("Add note", E.add, 3.03, 70, 0.4)     # off the 1/4-beat grid
    stack = ec.stack(win.current_track_id)
    assert stack.count() == 1
    ec.flush()
    assert win.tasks.wait_idle(10)
    qtbot.waitUntil(lambda: "notes" in win.library.edits(win.current_track_id), timeout=5_000)
    ec.act_snap_notes.trigger()                                # Snap notes to beats on
    assert tool.snap
    _drag_path(qtbot, v, [(3.2, 70), (3.7, 72), (3.2, 70)])   # away and back
    assert stack.count() == 1, stack.command(stack.count() - 1).text()
    assert tool.notes.onsets_s[_index(tool, 70)] == pytest.approx(3.03)
    assert not ec._dirty
    # float noise is no change either
    noisy = E.move(tool.notes, [0], 1e-12, 0)[0]
    assert tool.same(noisy, tool.notes)


# ------------------------------------------------------------------------------ 2. Info panel

def test_the_info_panel_follows_the_edits(qtbot, fwin):
    ec, info = fwin.edit_control, fwin.info
    assert "120.0 BPM" in info.sections["Tempo"] and "12 beats" in info.sections["Tempo"]
    ec.set_editing(True, "beats")
    ec.tools["beats"].select_all()
    ec.act_halve.trigger()
    assert "60.0 BPM" in info.sections["Tempo"] and "6 beats" in info.sections["Tempo"]
    assert "60.0 BPM" in info.text()
    assert len(info.sections["Key"].splitlines()) == 3        # global + 2 segments
    ec.set_editing(True, "key")
    assert ec.tools["key"].split_at(1.5)
    assert len(info.sections["Key"].splitlines()) == 4
    ec.act_undo.trigger()                                      # undo follows too
    assert len(info.sections["Key"].splitlines()) == 3


# ------------------------------------------------------------------------------ 3. split

def test_s_splits_at_the_mouse_over_the_main_pane_else_at_the_cursor(qtbot, win):
    v, ec = win.view, win.edit_control
    tool = ec.tools["notes"]
    ec.set_editing(True)
    home = QCursor.pos()
    try:
        tool.select([_index(tool, 72)])                        # C5, 2.0-3.0 s
        v.set_cursor(2.5)
        QCursor.setPos(v.glw.viewport().mapToGlobal(NE._px(v, 2.25, 72)))
        ec.act_split.trigger()
        assert sorted(tool.notes.offsets_s[tool.selected]) == pytest.approx([2.25, 3.0], abs=0.02)
        assert "at the mouse" in win.status_label.text()
        assert tool.pointer_time() == pytest.approx(2.25, abs=0.02)
        # the mouse away from the pane: at the cursor
        QCursor.setPos(win.mapToGlobal(QPoint(-200, -200)))
        assert tool.pointer_time() is None
        tool.select([int(np.argmax(tool.notes.offsets_s))])   # the half 2.25-3.0
        v.set_cursor(2.75)
        ec.act_split.trigger()
        assert 2.75 in [pytest.approx(x) for x in tool.notes.offsets_s]
        assert "at the cursor" in win.status_label.text()
        # nothing to split: the status bar says why
        n = len(tool.notes)
        tool.select([])
        ec.act_split.trigger()
        assert len(tool.notes) == n and "select the notes" in win.status_label.text()
        tool.select([_index(tool, 60)])                        # 0.5-1.0 s, cursor at 2.75
        ec.act_split.trigger()
        assert len(tool.notes) == n and "no selected note sounds" in win.status_label.text()
    finally:
        QCursor.setPos(home)


# ------------------------------------------------------------------------------ 4. mode buttons

def test_edit_mode_buttons_are_short_and_show_which_mode_is_on(qtbot, win):
    ec, v = win.edit_control, win.view
    win.resize(1380, 860)
    qtbot.wait(50)
    keys = {"notes": Qt.Key.Key_E, "beats": Qt.Key.Key_B, "pitch.f0": Qt.Key.Key_F, "key": Qt.Key.Key_K}
    for layer, b in ec.buttons.items():
        assert len(b.text()) <= 8 and "✎" in b.text(), b.text()
        assert b.fontMetrics().horizontalAdvance(b.text()) <= b.contentsRect().width(), b.text()
        assert ec.mode_actions[layer].text().replace("&", "") in b.toolTip()
        assert f"({ec.mode_actions[layer].shortcut().toString()})" in b.toolTip()
    unchecked = ec.buttons["notes"].grab().toImage()
    for layer, key in keys.items():
        v.glw.setFocus()
        qtbot.keyClick(v.glw, key)
        assert ec.editing == layer
        assert [b.isChecked() for b in ec.buttons.values()] == [n == layer for n in ec.buttons]
        assert "✎" in ec.buttons[layer].text()       # the tool tip stays after a toggle
        assert ec.buttons[layer].toolTip().startswith(ec.mode_actions[layer].text().replace("&", ""))
    qtbot.keyClick(v.glw, Qt.Key.Key_E)
    assert ec.buttons["notes"].isChecked()
    checked = ec.buttons["notes"].grab().toImage()
    c0 = unchecked.pixelColor(3, unchecked.height() // 2)
    c1 = checked.pixelColor(3, checked.height() // 2)
    assert c1.name() == ACCENT and c0.name() != ACCENT, (c0.name(), c1.name())   # looks pressed


# ------------------------------------------------------------------------------ 5. legend

def test_the_legend_of_four_corrected_layers_fits(qtbot, win):
    v = win.view
    win.resize(1380, 860)
    qtbot.wait(50)
    v.show_edits({"notes": 3, "beats": 2, "pitch.f0": 6, "key": 0},
                 {"notes": "notes v2, method x"})
    qtbot.wait(50)
    text = v.legend.text()
    assert text.startswith("Corrected by hand: beats (rev 2), key (not saved yet), notes (rev 3), f0 (rev 6)")
    assert "⚠ analysis changed: notes" in text
    assert "the analysis has changed since (now notes v2, method x" in v.legend.toolTip()
    assert v.legend.minimumSizeHint().width() <= v.width()
    g = v.legend.geometry()
    assert g.left() >= 0 and g.right() <= v.width()
    inner = v.legend.contentsRect().width() - 12               # the padding
    need = v.legend.fontMetrics().boundingRect(QRect(0, 0, inner, 10_000),
                                               Qt.TextFlag.TextWordWrap, text)
    assert need.height() <= v.legend.height() + 2, (need, v.legend.size())
    v.show_edits({})
    assert v.legend.text() == "" and v.legend.toolTip() == ""


# ------------------------------------------------------------------------------ 6. Help

def test_help_rows_wrap_and_say_where_delete_works(qtbot, win):
    dlg = ShortcutsDialog(win.menuBar(), win)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.wait(50)
    t = dlg.table
    fm = t.fontMetrics()
    for r in range(t.rowCount()):
        for c in range(3):
            text = t.item(r, c).text()
            need = fm.boundingRect(QRect(0, 0, t.columnWidth(c) - 10, 10_000),
                                   Qt.TextFlag.TextWordWrap, text).height()
            assert need <= t.rowHeight(r), (text, need, t.rowHeight(r))
    dels = [row for row in dlg.rows() if row[2] == "Del"]
    assert len(dels) == 2
    menus = sorted(m for m, _, _ in dels)
    assert menus == ["Analysis (in the library table)", "Edit (in the track view)"], menus
    assert any("unvoice" in text for _, text, _ in dels)


# ------------------------------------------------------------------------------ 7. key dialog

def test_the_key_dialog_names_its_segment(qtbot, fwin):
    ec = fwin.edit_control
    tool = ec.tools["key"]
    ec.set_editing(True, "key")
    tool.select([1])                                          # A minor, 3-6 s
    seen = []

    def answer():
        dlg = next((w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QInputDialog) and w.isVisible()), None)
        if dlg is None:
            QTimer.singleShot(20, answer)
            return
        seen.append(dlg.labelText())
        dlg.reject()
    QTimer.singleShot(0, answer)
    assert not tool.set_key_dialog()
    assert seen == ["Key of the segment 0:03.0–0:06.0:"]
