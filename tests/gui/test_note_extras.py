"""Edit extras in the window (real Library, real window, offscreen, raw mouse events):
*Snap notes to beats* (moving, resizing and drawing notes on the 1/4-beat grid, remembered
in the settings), Escape cancelling a drag in every edit tool (nothing on the undo stack),
*Play selected notes* without sound (the no-audio dialog) and with (the notes and span it
renders), and the Compare panel naming a layer corrected by hand."""

from __future__ import annotations

import wave

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import QEvent, Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402
import test_f0_key_editing as FK  # noqa: E402
from test_f0_key_editing import _double_click, _mouse, _open, _px  # noqa: E402

from workstation.gui import playback_control as PC  # noqa: E402
from workstation.gui.edit_actions import SNAP_SETTING  # noqa: E402
from workstation.gui.playback import Playback  # noqa: E402


@pytest.fixture
def lib_root(tmp_path):
    """The library of ``test_f0_key_editing``: notes C4 0.5-1.0 s; beats every 0.5 s from 0 to
    5.5 s (the snapping grid: 0.125 s); f0, salience and key."""
    return FK._library(tmp_path, {"pitch.f0": FK._f0(), "pitch.salience": FK._salience(),
                                  "key": FK._key(), "beats": FK._beats(), "notes": FK._notes()})


@pytest.fixture
def win(qtbot, lib_root):
    w = _open(qtbot, lib_root)
    yield w
    w.shutdown()


def _on_grid(t: float) -> bool:
    return abs(t / 0.125 - round(t / 0.125)) < 1e-9


def _drag(qtbot, view, a, b, *, escape_at: int | None = None, pane="main",
          mods=Qt.KeyboardModifier.NoModifier) -> None:
    """A left-button drag from ``a`` to ``b`` ((t, y) of ``pane``); Escape pressed on the panes
    after move ``escape_at`` (of 10) when given, the drag going on after it."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    p0, p1 = _px(view, *a, pane), _px(view, *b, pane)
    view.glw.setFocus()
    _mouse(view, QEvent.Type.MouseMove, p0, none, none, mods)
    _mouse(view, QEvent.Type.MouseButtonPress, p0, left, left, mods)
    for k in range(1, 11):
        _mouse(view, QEvent.Type.MouseMove, p0 + (p1 - p0) * k / 10, none, left, mods)
        qtbot.wait(5)
        if k == escape_at:
            qtbot.keyClick(view.glw, Qt.Key.Key_Escape)
    _mouse(view, QEvent.Type.MouseButtonRelease, p1, left, none, mods)
    qtbot.wait(20)


# ------------------------------------------------------------------------------ snapping

def test_snap_notes_to_beats_moves_resizes_and_draws_on_quarter_beats(qtbot, win, lib_root):
    v, ec = win.view, win.edit_control
    tool = ec.tools["notes"]
    assert not ec.act_snap_notes.isChecked() and not tool.snap       # off by default
    ec.act_snap_notes.trigger()
    assert tool.snap and win.settings.get(SNAP_SETTING, False, bool)
    ec.act_edit_notes.trigger()
    _double_click(qtbot, v, 2.06, 64)                                # drawn: onset on 2.0 s
    assert tool.notes.onsets_s.tolist() == [0.5, 2.0]
    tool.select([0, 1])
    _drag(qtbot, v, (0.7, 60), (0.83, 60))                           # C4 by ~0.13 s -> 0.625
    np.testing.assert_allclose(tool.notes.onsets_s, [0.625, 2.125])  # E4 moved as much
    assert tool.notes.offsets_s[0] == pytest.approx(1.125)
    tool.select([0])
    _drag(qtbot, v, (1.11, 60), (1.40, 60))                          # its end -> 1.375 s
    assert tool.notes.offsets_s[0] == pytest.approx(1.375) and _on_grid(tool.notes.offsets_s[0])
    ec.act_snap_notes.trigger()                                      # off: no snapping
    assert not tool.snap and not win.settings.get(SNAP_SETTING, True, bool)
    _double_click(qtbot, v, 3.06, 67)
    assert not _on_grid(float(tool.notes.onsets_s[-1]))
    ec.act_snap_notes.trigger()
    win.close()                                                      # remembered
    win2 = _open(qtbot, lib_root)
    try:
        assert win2.edit_control.act_snap_notes.isChecked() and win2.edit_control.tools["notes"].snap
    finally:
        win2.shutdown()


# ------------------------------------------------------------------------------ Escape

def test_escape_cancels_a_drag_in_every_edit_tool(qtbot, win):
    v, ec = win.view, win.edit_control
    stack = ec.stack(win.current_track_id)
    # notes: a move dropped half-way; the note drawn where it was
    ec.act_edit_notes.trigger()
    notes = ec.tools["notes"]
    _drag(qtbot, v, (0.7, 60), (1.6, 64), escape_at=5)
    assert notes.notes.onsets_s.tolist() == [0.5] and notes.notes.pitch_midi.tolist() == [60]
    assert v.notes_item.onsets_s.tolist() == [0.5] and stack.count() == 0
    _drag(qtbot, v, (0.7, 60), (1.2, 60))                           # a drag after it still works
    assert notes.notes.onsets_s[0] == pytest.approx(1.0, abs=0.02) and stack.count() == 1
    stack.undo()
    # beats
    ec.act_edit_beats.trigger()
    beats = ec.tools["beats"]
    _drag(qtbot, v, (1.0, 60), (1.3, 60), escape_at=5)
    assert beats.beats.times_s[2] == 1.0 and v.lane_beats.times_s[2] == 1.0
    assert stack.index() == 0
    # f0: drawing dropped; a region drag goes back to the region before
    ec.act_edit_f0.trigger()
    f0 = ec.tools["pitch.f0"]
    before = f0.f0.freqs_hz.copy()
    _drag(qtbot, v, (1.0, 64), (2.0, 66), escape_at=6, mods=Qt.KeyboardModifier.AltModifier)
    np.testing.assert_array_equal(f0.f0.freqs_hz, before)
    np.testing.assert_array_equal(v.layers["f0"].result.freqs_hz, before)
    f0.set_region(4.0, 5.0)
    _drag(qtbot, v, (1.0, 64), (2.0, 64), escape_at=6)
    assert f0.region == (4.0, 5.0) and stack.index() == 0
    # key: a boundary drag in the lane
    ec.act_edit_key.trigger()
    key = ec.tools["key"]
    _drag(qtbot, v, (3.0, 0.7), (2.0, 0.7), escape_at=5, pane="lane")
    assert key.key.local_start_s.tolist() == [0.0, 3.0] and stack.index() == 0
    assert not any(t.cancel_drag() for t in ec.tools.values())      # nothing left to cancel


# ------------------------------------------------------------------------------ audition

def test_play_selected_notes_without_sound_says_so(qtbot, win):
    ec = win.edit_control
    assert ec.act_play_selected.shortcut().toString() == "A"
    ec.act_edit_notes.trigger()
    assert not ec.play_selected()                                   # nothing selected
    assert "Select notes" in win.status_label.text()
    ec.tools["notes"].select([0])
    ec.act_play_selected.trigger()
    box = win.last_notice
    assert isinstance(box, QMessageBox) and "The selected notes cannot be played" in box.text()
    box.close()
    assert win.playback.source_override is None


def test_play_selected_notes_renders_them_alone_over_their_span(qtbot, win, monkeypatch):
    ec, notes = win.edit_control, win.edit_control.tools["notes"]
    ec.act_edit_notes.trigger()
    _double_click(qtbot, win.view, 2.0, 64)                         # a second note, 2.0-2.25 s
    _double_click(qtbot, win.view, 4.0, 67)                         # a third, not selected
    notes.select([0, 1])
    sub, t0, t1 = notes.selected_alone()
    assert sub.pitch_midi.tolist() == [60, 64] and t0 == 0.5 and t1 == pytest.approx(2.25, abs=0.02)
    calls = []
    real = PC.selection_mix

    def spy(library, track, n, start_s, end_s):
        calls.append((n.pitch_midi.tolist(), start_s, end_s))
        return real(library, track, n, start_s, end_s)
    monkeypatch.setattr(PC, "selection_mix", spy)
    monkeypatch.setattr(Playback, "audible", property(lambda self: True))
    assert ec.play_selected()
    qtbot.waitUntil(lambda: win.playback.source_override is not None, timeout=20_000)
    assert calls == [([60, 64], 0.5, t1)]
    path, offset = win.playback.source_override
    assert offset == 0.5
    with wave.open(path) as w:                                      # the span and the release
        assert w.getnframes() / w.getframerate() == pytest.approx(t1 - 0.5 + PC.AUDITION_TAIL_S,
                                                                   abs=0.01)


# ------------------------------------------------------------------------------ Compare

def _layer_column(win) -> list[str]:
    t = win.compare.table
    return [t.item(r, 0).text() for r in range(t.rowCount())]


def test_compare_names_a_layer_corrected_by_hand(qtbot, win, lib_root):
    ref = lib_root / "ref_beats.csv"
    ref.write_text("".join(f"{0.5 * k:.1f}\n" for k in range(12)))
    win.open_annotation(ref)
    qtbot.waitUntil(lambda: "Beats" in _layer_column(win), timeout=20_000)
    assert "Beats (corrected by hand)" not in _layer_column(win)
    ec = win.edit_control
    ec.act_edit_beats.trigger()
    ec.tools["beats"].select([3])
    win.view.glw.setFocus()
    ec.act_delete.trigger()
    ec.flush()
    qtbot.waitUntil(lambda: set(_layer_column(win)) == {"Beats (corrected by hand)"}, timeout=20_000)
    assert win.compare.corrected == {"beats"}
    assert win.compare.value("beats", next(iter(win.compare.figures["beats"]))) is not None
