"""Correcting f0, key and beats by hand in the window (real Library, real window,
offscreen): Edit f0 (F) with a dragged region and its actions, drawing the f0 with the
mouse on MIDI and Hz axes, Edit key (K) in the key lane and the main pane, the beats'
downbeat, shift and tap actions, undo and redo, the edits saved in the catalogue and shown
by a new window, the legend of an edit made over another analysis, and Help's list."""

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

from workstation.analysis.results import provenance  # noqa: E402
from workstation.core.types import Beats, Key, Notes, PitchTrack, Salience  # noqa: E402
from workstation.core.units import hz_to_midi, midi_to_hz  # noqa: E402
from workstation.gui.help_dialog import shortcut_rows  # noqa: E402
from workstation.gui.main_window import MainWindow  # noqa: E402
from workstation.gui.method_menus import specs_with_methods  # noqa: E402
from workstation.gui.panes import MOUSE_GESTURES  # noqa: E402
from workstation.gui.settings import Settings  # noqa: E402
from workstation.library import Library  # noqa: E402

T = np.arange(600) * 0.01                       # the f0 and salience frames: 6 s at 100 fps
VOICED = (T >= 0.5) & (T < 4.0)                 # A3 (220 Hz) from 0.5 to 4 s


def _f0() -> PitchTrack:
    return PitchTrack(times_s=T.copy(), freqs_hz=np.where(VOICED, 220.0, 110.0), voiced=VOICED.copy(),
                      confidence=np.where(VOICED, 0.8, 0.1))


def _salience() -> Salience:
    """Two peaks in every frame: 220 Hz and 330 Hz."""
    freqs = np.array([110.0, 220.0, 330.0, 440.0])
    vals = np.zeros((4, len(T)), np.float32)
    vals[1:3] = 0.9
    return Salience(times_s=T.copy(), freqs_hz=freqs, values=vals,
                    peak_frame=np.repeat(np.arange(len(T)), 2),
                    peak_freq_hz=np.tile([220.0, 330.0], len(T)),
                    peak_salience=np.full(2 * len(T), 0.9))


def _key() -> Key:
    """C major 0-3 s, A minor 3-6 s; global C major."""
    return Key(tonic_pc=0, mode="major", confidence=0.6, local_start_s=np.array([0.0, 3.0]),
               local_end_s=np.array([3.0, 6.0]), local_tonic_pc=np.array([0, 9]),
               local_mode=["major", "minor"], local_confidence=np.array([0.7, 0.5]))


def _beats() -> Beats:
    """Every 0.5 s from 0 to 5.5 s, 4/4, downbeats at 0, 2 and 4 s."""
    return Beats(times_s=np.arange(12) * 0.5, positions=np.arange(12) % 4 + 1, tempo_bpm=120.0,
                 meter=4)


def _notes() -> Notes:
    return Notes(onsets_s=np.array([0.5]), offsets_s=np.array([1.0]), pitch_midi=np.array([60]),
                 velocity=np.array([90]), confidence=np.array([0.8]))


def _specs(root: Path):
    return specs_with_methods(Settings(root / "settings.ini"))


_library = analysed_library


@pytest.fixture
def lib_root(tmp_path) -> Path:
    return _library(tmp_path, {"pitch.f0": _f0(), "pitch.salience": _salience(), "key": _key(),
                               "beats": _beats(), "notes": _notes()})


def _open(qtbot, root: Path) -> MainWindow:
    return open_window(qtbot, root, x_range=(0.0, 6.0), y_range=(50.0, 75.0))


@pytest.fixture
def win(qtbot, lib_root):
    w = _open(qtbot, lib_root)
    yield w
    w.shutdown()


# ------------------------------------------------------------------------------ raw mouse

def _px(view, t_s: float, y: float, pane: str = "main") -> QPoint:
    scene = view.panes[pane].getViewBox().mapViewToScene(QPointF(t_s, y))
    return view.glw.mapFromScene(scene)


def _mouse(view, kind, pos: QPoint, button, buttons, mods=Qt.KeyboardModifier.NoModifier) -> None:
    ev = QMouseEvent(kind, QPointF(pos), QPointF(view.glw.viewport().mapToGlobal(pos)), button,
                     buttons, mods)
    QApplication.sendEvent(view.glw.viewport(), ev)


def _drag(qtbot, view, a: tuple, b: tuple, mods=Qt.KeyboardModifier.NoModifier, pane="main",
          steps: int = 10) -> None:
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    p0, p1 = _px(view, *a, pane), _px(view, *b, pane)
    _mouse(view, QEvent.Type.MouseMove, p0, none, none, mods)
    _mouse(view, QEvent.Type.MouseButtonPress, p0, left, left, mods)
    for k in range(1, steps + 1):
        _mouse(view, QEvent.Type.MouseMove, p0 + (p1 - p0) * k / steps, none, left, mods)
        qtbot.wait(5)
    _mouse(view, QEvent.Type.MouseButtonRelease, p1, left, none, mods)
    qtbot.wait(20)


def _click(qtbot, view, t, y, pane="main") -> None:
    pos = _px(view, t, y, pane)
    _mouse(view, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    qtbot.mouseClick(view.glw.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    qtbot.wait(20)


def _double_click(qtbot, view, t, y, pane="main") -> None:
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    pos = _px(view, t, y, pane)
    _mouse(view, QEvent.Type.MouseMove, pos, none, none)
    for kind, button, buttons in ((QEvent.Type.MouseButtonPress, left, left),
                                  (QEvent.Type.MouseButtonRelease, left, none),
                                  (QEvent.Type.MouseButtonPress, left, left),
                                  (QEvent.Type.MouseButtonDblClick, left, left),
                                  (QEvent.Type.MouseButtonRelease, left, none)):
        _mouse(view, kind, pos, button, buttons)
    qtbot.wait(20)


def _saved(win, layer):
    e = win.library.edits(win.current_track_id).get(layer)
    return None if e is None else e.result


def _frame(t_s: float) -> int:
    return int(round(t_s * 100))


# ------------------------------------------------------------------------------ f0

def test_f0_region_unvoice_voice_octave_snap_undo_and_save(qtbot, win):
    v, ec = win.view, win.edit_control
    tool = ec.tools["pitch.f0"]
    ec.act_edit_f0.trigger()                                   # F
    assert tool.active and v.main.getViewBox().tool is tool and ec.act_edit_f0.isChecked()
    assert ec.act_voice.isEnabled() and ec.act_snap.isEnabled() and not ec.act_downbeat.isEnabled()
    _drag(qtbot, v, (1.0, 60), (2.0, 70))                      # a time region
    assert tool.region == pytest.approx((1.0, 2.0), abs=0.03)
    assert tool.region_item.isVisible()
    v.glw.setFocus()
    ec.act_delete.trigger()                                    # Delete: unvoice
    f0 = tool.f0
    assert not f0.voiced[_frame(1.2):_frame(1.8)].any() and f0.voiced[_frame(0.8)]
    y = v.f0_curve.getData()[1]
    assert np.isnan(y[_frame(1.5)]) and np.isfinite(y[_frame(2.5)])
    ec.act_voice.trigger()                                     # V
    assert tool.f0.voiced[_frame(1.5)] and tool.f0.confidence[_frame(1.5)] == 1.0
    ec.act_octave_up.trigger()                                 # Ctrl+Up
    assert tool.f0.freqs_hz[_frame(1.5)] == pytest.approx(440.0)
    assert tool.f0.freqs_hz[_frame(2.5)] == pytest.approx(220.0)
    ec.act_snap.trigger()                                      # P: 440 -> the nearest peak, 330
    assert tool.f0.freqs_hz[_frame(1.5)] == pytest.approx(330.0)
    ec.act_snap_down.trigger()                                 # Shift+Down: 220
    assert tool.f0.freqs_hz[_frame(1.5)] == pytest.approx(220.0)
    ec.act_snap_up.trigger()                                   # Shift+Up: 330
    assert tool.f0.freqs_hz[_frame(1.5)] == pytest.approx(330.0)
    stack = ec.stack(win.current_track_id)
    assert stack.count() == 6
    stack.undo()
    stack.undo()
    assert tool.f0.freqs_hz[_frame(1.5)] == pytest.approx(330.0)   # back to after the first snap
    stack.undo()
    assert tool.f0.freqs_hz[_frame(1.5)] == pytest.approx(440.0)
    assert v.f0_curve.getData()[1][_frame(1.5)] == pytest.approx(hz_to_midi(440.0))
    stack.redo()
    assert tool.f0.freqs_hz[_frame(1.5)] == pytest.approx(330.0)
    qtbot.waitUntil(lambda: _saved(win, "pitch.f0") is not None
                    and _saved(win, "pitch.f0").freqs_hz[_frame(1.5)] == pytest.approx(330.0),
                    timeout=10_000)
    qtbot.waitUntil(lambda: "f0: corrected by hand (revision" in v.legend.toolTip(), timeout=5_000)
    e = win.library.edits(win.current_track_id)["pitch.f0"]
    assert e.source == "window" and "pitch.f0" in e.based_on
    np.testing.assert_array_equal(e.result.times_s, T)           # the frame grid kept


def test_f0_keys_reach_the_actions_from_the_panes(qtbot, win):
    v, ec = win.view, win.edit_control
    tool = ec.tools["pitch.f0"]
    ec.set_editing(True, "pitch.f0")
    tool.set_region(1.0, 2.0)
    v.glw.setFocus()
    qtbot.waitUntil(lambda: v.glw.hasFocus(), timeout=2_000)
    qtbot.keyClick(v.glw, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
    assert tool.f0.freqs_hz[_frame(1.5)] == pytest.approx(440.0)
    qtbot.keyClick(v.glw, Qt.Key.Key_Delete)
    assert not tool.f0.voiced[_frame(1.5)]
    qtbot.keyClick(v.glw, Qt.Key.Key_V)
    assert tool.f0.voiced[_frame(1.5)]
    # key mode: Enter sets the key of the segment at the cursor (none selected)
    ec.act_edit_key.trigger()
    key = ec.tools["key"]
    key.ask_key = lambda title, current, prompt="": "D major" if current == "A minor" else None
    v.set_cursor(4.0)
    v.glw.setFocus()
    qtbot.keyClick(v.glw, Qt.Key.Key_Return)
    assert key.selected == [1] and key.key.local_tonic_pc.tolist() == [0, 2]
    assert key.key.local_mode == ["major", "major"]


def test_f0_draw_with_alt_drag_and_in_draw_mode_on_midi_and_hz_axes(qtbot, win):
    v, ec = win.view, win.edit_control
    tool = ec.tools["pitch.f0"]
    ec.act_edit_f0.trigger()
    _drag(qtbot, v, (2.0, 62.0), (3.0, 64.0), mods=Qt.KeyboardModifier.AltModifier)
    f = tool.f0.freqs_hz
    assert hz_to_midi(f[_frame(2.5)]) == pytest.approx(63.0, abs=0.3)
    assert hz_to_midi(f[_frame(2.1)]) == pytest.approx(62.2, abs=0.3)
    assert f[_frame(3.5)] == pytest.approx(220.0)              # outside the path: as it was
    assert tool.region == pytest.approx((2.0, 3.0), abs=0.03)  # the drawn span is the region
    # the Draw sub-mode (Shift+F): a plain drag draws, also where the f0 was unvoiced
    ec.act_draw_f0.trigger()
    assert tool.drawing
    _drag(qtbot, v, (4.5, 69.0), (5.0, 69.0))
    assert tool.f0.voiced[_frame(4.75)] and tool.f0.freqs_hz[_frame(4.75)] == pytest.approx(440.0, rel=0.02)
    # the linear spectrogram: y is Hz
    v.set_image_mode("linear")
    assert v.y_unit == "hz"
    qtbot.waitUntil(lambda: ("linear", 0.0) in v._images, timeout=30_000)  # drawn: y stays
    qtbot.wait(20)
    v.main.setYRange(0.0, 1000.0, padding=0)
    qtbot.wait(20)
    _drag(qtbot, v, (0.6, 300.0), (0.9, 300.0))
    assert tool.f0.freqs_hz[_frame(0.75)] == pytest.approx(300.0, rel=0.03)
    ec.act_draw_f0.trigger()                                   # off: a drag selects again
    _drag(qtbot, v, (1.0, 300.0), (1.5, 300.0))
    assert tool.f0.freqs_hz[_frame(1.25)] == pytest.approx(220.0)
    assert tool.region == pytest.approx((1.0, 1.5), abs=0.03)
    assert ec.stack(win.current_track_id).count() == 3


def test_snap_is_disabled_without_a_salience(qtbot, tmp_path):
    root = _library(tmp_path, {"pitch.f0": _f0(), "key": _key()})
    w = _open(qtbot, root)
    try:
        ec = w.edit_control
        ec.set_editing(True, "pitch.f0")
        assert ec.act_voice.isEnabled() and ec.act_octave_up.isEnabled()
        assert not any(a.isEnabled() for a in (ec.act_snap, ec.act_snap_up, ec.act_snap_down))
        tool = ec.tools["pitch.f0"]
        tool.set_region(1.0, 2.0)
        assert not tool.snap(0) and ec.stack(w.current_track_id).count() == 0
    finally:
        w.shutdown()


# ------------------------------------------------------------------------------ key

def test_key_select_move_split_merge_set_and_save(qtbot, lib_root):
    win = _open(qtbot, lib_root)
    try:
        v, ec = win.view, win.edit_control
        tool = ec.tools["key"]
        ec.act_edit_key.trigger()                                  # K
        assert tool.active and v.lane.getViewBox().tool is tool
        _click(qtbot, v, 1.0, 0.7, pane="lane")                    # C major, in the lane
        assert tool.selected == [0] and tool.selection_item.isVisible()
        assert v.cursor_s() == 0.0                                 # no seek in edit mode
        _drag(qtbot, v, (3.0, 0.7), (2.0, 0.7), pane="lane")       # the boundary 3 s -> 2 s
        assert tool.key.local_start_s[1] == pytest.approx(2.0, abs=0.03)
        assert v.key_band.start_s[1] == pytest.approx(2.0, abs=0.03)
        _double_click(qtbot, v, 4.5, 60)                           # split A minor at 4.5 s
        assert tool.key.local_start_s.tolist()[2] == pytest.approx(4.5, abs=0.03)
        assert tool.key.local_mode == ["major", "minor", "minor"]
        _click(qtbot, v, 5.0, 60)                                  # the last segment
        assert tool.selected == [2]
        v.glw.setFocus()
        ec.act_delete.trigger()                                    # merged with the one before
        assert len(tool.key.local_start_s) == 2 and tool.key.local_end_s[1] == pytest.approx(6.0)
        tool.ask_key = lambda title, current, prompt="": "E minor"
        tool.select([0])
        ec.act_set_key.trigger()                                   # Enter
        assert (tool.key.local_tonic_pc[0], tool.key.local_mode[0]) == (4, "minor")
        assert tool.key.local_confidence[0] == 1.0 and v.key_band.labels[0] == "Em"
        tool.ask_key = lambda title, current, prompt="": "G major"
        ec.act_set_global_key.trigger()                            # Ctrl+K
        assert (tool.key.tonic_pc, tool.key.mode, tool.key.confidence) == (7, "major", 1.0)
        tool.ask_key = lambda title, current, prompt="": None                 # cancelled: nothing
        ec.act_set_key.trigger()
        stack = ec.stack(win.current_track_id)
        assert stack.count() == 5
        stack.undo()
        assert tool.key.tonic_pc == 0
        stack.redo()
        # the f0 changed too, in the same window
        f0 = ec.tools["pitch.f0"]
        ec.act_edit_f0.trigger()
        assert not tool.active and v.lane.getViewBox().tool is None
        f0.set_region(1.0, 2.0)
        ec.act_octave_down.trigger()
    finally:
        win.close()                                                # saves at once
    win2 = _open(qtbot, lib_root)
    try:
        v = win2.view
        edits = win2.library.edits(win2.current_track_id)
        assert set(edits) == {"key", "pitch.f0"}
        k = edits["key"].result
        assert k.local_tonic_pc.tolist() == [4, 9] and (k.tonic_pc, k.mode) == (7, "major")
        assert v.key_band.labels == ["Em", "Am"]                   # the edit, not the analysis
        assert v.f0_curve.getData()[1][_frame(1.5)] == pytest.approx(hz_to_midi(110.0))
        assert "key: corrected by hand (revision 1)" in v.legend.toolTip()
        assert "f0: corrected by hand (revision 1)" in v.legend.toolTip()
        assert v.layers["f0"].edited and not v.layers["beats"].edited
        assert "the analysis has changed" not in v.legend.toolTip()
    finally:
        win2.shutdown()


# ------------------------------------------------------------------------------ beats

def test_beats_set_downbeat_shift_and_tap(qtbot, win):
    v, ec = win.view, win.edit_control
    tool = ec.tools["beats"]
    ec.act_edit_beats.trigger()
    assert ec.act_downbeat.isEnabled() and not ec.act_voice.isEnabled()
    _click(qtbot, v, 0.51, 60)                                  # the beat at 0.5 s
    assert tool.selected == [1]
    ec.act_downbeat.trigger()                                   # D: bars from 0.5 s on
    assert v.lane_downbeats.times_s.tolist() == [0.0, 0.5, 2.5, 4.5]
    ec.act_nudge_right.trigger()                                # Shift+Right: the selection
    assert tool.beats.times_s[1] == pytest.approx(0.51) and tool.beats.times_s[2] == 1.0
    tool.select([])
    ec.act_nudge_right.trigger()                                # Shift+Right: the whole grid
    np.testing.assert_allclose(tool.beats.times_s[:3], [0.01, 0.52, 1.01])
    tool.select([2])
    ec.act_nudge_left.trigger()                                 # Shift+Left: the selection
    np.testing.assert_allclose(tool.beats.times_s[:3], [0.01, 0.52, 1.0])
    tool.select([])
    ec.ask_shift_ms = lambda: 25.0
    ec.act_shift_by.trigger()
    np.testing.assert_allclose(tool.beats.times_s[:3], [0.035, 0.545, 1.025])
    stack = ec.stack(win.current_track_id)
    n = stack.count()
    assert n == 5
    ec.tap_position = lambda: None                              # not playing: no beat
    ec.act_tap.trigger()
    assert stack.count() == n and "Tap along" in win.status_label.text()
    for t in (1.74, 1.87):                                      # T, T: one command per tap
        ec.tap_position = lambda t=t: t
        ec.act_tap.trigger()
    assert stack.count() == n + 2 and len(tool.beats.times_s) == 14
    assert np.isin([1.74, 1.87], np.round(tool.beats.times_s, 3)).all()
    stack.undo()
    assert len(tool.beats.times_s) == 13 and 1.87 not in np.round(tool.beats.times_s, 3)
    ec.flush()
    qtbot.waitUntil(lambda: _saved(win, "beats") is not None, timeout=10_000)
    assert len(_saved(win, "beats").times_s) == 13


# ------------------------------------------------------------------------------ stale edits

def _with_edit(root: Path, based_on: str) -> None:
    with Library.open(root / "lib") as lib:
        (t,) = lib.tracks()
        n = _notes()
        edited = Notes(onsets_s=n.onsets_s, offsets_s=n.offsets_s, pitch_midi=np.array([62]),
                       velocity=n.velocity, confidence=n.confidence)
        lib.set_edit(t.id, "notes", edited, based_on=based_on, source="test")


def test_legend_says_when_the_analysis_changed_under_an_edit(qtbot, tmp_path):
    root = _library(tmp_path, {"notes": _notes(), "pitch.f0": _f0()})
    _with_edit(root, "old text")
    w = _open(qtbot, root)
    try:
        legend = w.view.legend.toolTip()
        assert "notes: corrected by hand (revision 1)" in legend
        assert "the analysis has changed since" in legend and "notes v" in legend
        assert "⚠ analysis changed: notes" in w.view.legend.text()   # the short line says it too
        assert w.view.notes_item.pitch_midi.tolist() == [62]
        # a new save is made over the analysis of now: the remark goes
        w.edit_control.set_editing(True)
        w.edit_control.tools["notes"].select([0])
        w.edit_control.act_delete.trigger()
        w.edit_control.flush()
        qtbot.waitUntil(lambda: "revision 2" in w.view.legend.toolTip(), timeout=10_000)
        assert "the analysis has changed" not in w.view.legend.toolTip()
        assert "⚠" not in w.view.legend.text()
    finally:
        w.shutdown()


def test_legend_is_quiet_when_the_edit_was_made_over_this_analysis(qtbot, tmp_path):
    root = _library(tmp_path, {"notes": _notes()})
    _with_edit(root, provenance(_specs(root))["notes"]["text"])
    w = _open(qtbot, root)
    try:
        legend = w.view.legend.toolTip()
        assert "notes: corrected by hand (revision 1)" in legend
        assert "the analysis has changed" not in legend
    finally:
        w.shutdown()


# ------------------------------------------------------------------------------ help

def test_help_lists_the_new_shortcuts_and_gestures_without_clashes(qtbot, win):
    rows = shortcut_rows(win.menuBar())
    keys = {(menu, text): k for menu, text, k in rows}
    assert keys[("Edit", "Edit f0")] == "F" and keys[("Edit", "Edit key")] == "K"
    wanted = {"Voice the f0 region": "V", "f0 an octave up": "Ctrl+Up",
              "f0 an octave down": "Ctrl+Down", "Snap f0 to the nearest salience peak": "P",
              "Snap f0 to the next peak up": "Shift+Up", "Snap f0 to the next peak down": "Shift+Down",
              "Set downbeat (the selected beat)": "D", "Tap a beat (during playback)": "T",
              "Shift beats 10 ms later (selected, or all)": "Shift+Right",
              "Set the segment's key…": "Return", "Set the global key…": "Ctrl+K",
              "Draw f0 by dragging (else Alt+drag)": "Shift+F"}
    for text, k in wanted.items():
        assert keys[("Edit", text)] == k, text
    seen: dict[str, list] = {}
    for menu, text, k in rows:
        seen.setdefault(k, []).append((menu, text))
    clashes = {k: v for k, v in seen.items() if len(v) > 1}
    # Delete: the table's (remove tracks) and the track view's, each in its own widget
    assert set(clashes) <= {"Del"}, clashes
    gestures = " ".join(g for g, _ in MOUSE_GESTURES)
    assert "Edit f0 (F): drag" in gestures and "Edit key (K)" in gestures and "Alt+drag" in gestures
    assert midi_to_hz(69.0) == pytest.approx(440.0)
