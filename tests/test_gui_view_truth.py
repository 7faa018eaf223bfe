"""What a user found wrong in the track view, each checked on a real library (scanned from
synthesised files and one broken file), the real loader thread and a real Qt GUI
(offscreen): the wheel zooms time only (Ctrl+wheel: frequency), panning never leaves the
track nor the image, reloading the shown track keeps the view, an unreadable track says why
in words, and the image has a colour bar (dB levels, colour map, both remembered) and its
value in the read-out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synth_audio import write_arpeggio

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent, QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from workstation.core import constants as C  # noqa: E402
from workstation.core.types import Salience  # noqa: E402
from workstation.gui.main_image import code_from_db, db_from_code  # noqa: E402
from workstation.gui.main_window import MainWindow  # noqa: E402
from workstation.gui.panes import TimeAxis, lut  # noqa: E402
from workstation.gui.settings import Settings  # noqa: E402
from workstation.gui.track_loader import TrackViewData  # noqa: E402
from workstation.library import Library  # noqa: E402

SR = C.SAMPLE_RATE
SECONDS = {"long_arpeggio": 40.0, "short_arpeggio": 6.0}


def _synth(path: Path, seconds: float, tonic_midi: int = 60) -> None:
    """A major arpeggio of harmonic tones, one note per half second."""
    write_arpeggio(path, seconds=seconds, tonic_midi=tonic_midi, bpm=120.0, harmonics=3, clicks=False)


@pytest.fixture(scope="module")
def library_root(tmp_path_factory, qapp):
    """A scanned (not analysed) library: two arpeggios and a file that is not audio."""
    root = tmp_path_factory.mktemp("view_truth")
    music = root / "music"
    music.mkdir()
    for stem, seconds in SECONDS.items():
        _synth(music / f"{stem}.wav", seconds)
    (music / "broken.wav").write_bytes(b"this is not audio at all " * 50)
    with Library.open(root / "library") as lib:
        lib.scan(music)
    return root


def _window(qtbot, root: Path, settings_path: Path) -> MainWindow:
    win = MainWindow(root / "library", settings=Settings(settings_path), device="cpu",
                     auto_analyse=False, playback=False)
    qtbot.addWidget(win)
    win.resize(1300, 820)
    win.show()
    qtbot.waitUntil(lambda: win.model.rowCount() == 3, timeout=20_000)
    return win


@pytest.fixture
def window(qtbot, library_root, tmp_path):
    win = _window(qtbot, library_root, tmp_path / "settings.ini")
    yield win
    win.shutdown()


def _track_id(win, stem: str) -> int:
    return next(r.track_id for r in win.model.rows() if Path(r.path).stem == stem)


def _show(qtbot, win, stem: str) -> TrackViewData:
    tid = _track_id(win, stem)
    before = win.view.data
    if win.current_track_id == tid:
        win.load_track(tid)
    else:
        assert win.select_track(tid)
    qtbot.waitUntil(lambda: win.view.data is not None and win.view.data is not before
                    and win.view.data.track.id == tid, timeout=60_000)
    qtbot.wait(20)
    return win.view.data


def _y_range(view) -> tuple[float, float]:
    y0, y1 = view.main.getViewBox().viewRange()[1]
    return float(y0), float(y1)


def _main_centre(view) -> QPoint:
    """The main pane's centre in the graphics view's viewport coordinates."""
    vb = view.main.getViewBox()
    return view.glw.mapFromScene(vb.sceneBoundingRect().center())


def _wheel(view, steps: int, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    pos = QPointF(_main_centre(view))
    glob = QPointF(view.glw.viewport().mapToGlobal(pos.toPoint()))
    ev = QWheelEvent(pos, glob, QPoint(0, 0), QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                     modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.glw.viewport(), ev)


def _mouse(view, kind, pos: QPoint, buttons) -> None:
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    ev = QMouseEvent(kind, QPointF(pos), QPointF(view.glw.viewport().mapToGlobal(pos)), button,
                     buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.glw.viewport(), ev)


def _drag(qtbot, view, dx: int, dy: int) -> None:
    """A real left-button drag over the main pane, in viewport pixels."""
    start = _main_centre(view)
    left = Qt.MouseButton.LeftButton
    _mouse(view, QEvent.Type.MouseButtonPress, start, left)
    for k in range(1, 11):
        _mouse(view, QEvent.Type.MouseMove, start + QPoint(dx * k // 10, dy * k // 10), left)
        qtbot.wait(5)
    _mouse(view, QEvent.Type.MouseButtonRelease, start + QPoint(dx, dy), Qt.MouseButton.NoButton)


# ------------------------------------------------------------------------------ 1. wheel, pan

def test_wheel_zooms_time_only_and_ctrl_wheel_zooms_frequency(qtbot, window):
    _show(qtbot, window, "long_arpeggio")
    v = window.view
    v.set_x_range(5.0, 25.0)
    x0, y0 = v.x_range(), _y_range(v)
    _wheel(v, 2)  # zoom in
    x1, y1 = v.x_range(), _y_range(v)
    assert x1[1] - x1[0] < 0.95 * (x0[1] - x0[0]), (x0, x1)
    np.testing.assert_allclose(y1, y0, atol=1e-9)  # frequency untouched
    _wheel(v, 2, Qt.KeyboardModifier.ControlModifier)
    x2, y2 = v.x_range(), _y_range(v)
    np.testing.assert_allclose(x2, x1, atol=1e-9)  # time untouched
    assert y2[1] - y2[0] < 0.95 * (y1[1] - y1[0]), (y1, y2)
    # the gestures are documented where the user looks
    from workstation.gui.help_dialog import ShortcutsDialog
    dlg = ShortcutsDialog(window.menuBar(), window)
    qtbot.addWidget(dlg)
    rows = dlg.rows()
    assert ("Track view (mouse)", "Zoom time", "Wheel") in rows
    assert any(r[2] == "Ctrl+Wheel" and "frequency" in r[1] for r in rows)


def test_panning_stays_inside_the_track_and_the_image(qtbot, window):
    data = _show(qtbot, window, "long_arpeggio")
    v = window.view
    d = data.display
    img_lo = d.midi_lo - 0.5 / d.bins_per_semitone
    img_hi = d.midi_lo + (d.spec.shape[0] - 0.5) / d.bins_per_semitone
    lo, hi = _y_range(v)
    assert lo >= img_lo - 1e-6 and hi <= img_hi + 1e-6
    v.set_x_range(2.0, 12.0)
    _drag(qtbot, v, 900, -900)  # drag right (towards t < 0) and up (towards low notes)
    x0, x1 = v.x_range()
    assert x0 >= 0.0 and abs((x1 - x0) - 10.0) < 1e-6, (x0, x1)
    assert x0 < 1.0  # the drag did move the view, to the start and no further
    lo, hi = _y_range(v)
    assert lo >= img_lo - 1e-6, (lo, img_lo)  # no C-1, no empty rows under the image
    _drag(qtbot, v, -3000, 3000)  # towards the end and the top
    x0, x1 = v.x_range()
    assert x1 <= data.duration_s + 1e-6 and x1 > data.duration_s - 1.0, (x0, x1)
    assert _y_range(v)[1] <= img_hi + 1e-6
    # zooming far out stops at the whole track and the whole image
    for _ in range(6):
        _wheel(v, -10)
        _wheel(v, -10, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_allclose(v.x_range(), (0.0, data.duration_s), atol=1e-6)
    lo, hi = _y_range(v)
    assert lo >= img_lo - 1e-6 and hi <= img_hi + 1e-6
    # no negative time label, even for a rounding error under zero
    axis = v.lane.getAxis("bottom")
    assert not any(s.startswith("-") for s in axis.tickStrings([-1e-9, 0.0, 1.5], 1, 0.5))
    assert TimeAxis("bottom").tickStrings([-2.0], 1, 1.0) == [""]


# ------------------------------------------------------------------------------ 2. reload

def test_reloading_the_same_track_keeps_the_view_and_another_resets_it(qtbot, window):
    _show(qtbot, window, "long_arpeggio")
    v = window.view
    v.set_x_range(12.0, 17.5)
    v.main.setYRange(50.0, 74.0, padding=0)
    v.set_cursor(13.0)
    _show(qtbot, window, "long_arpeggio")  # what the window does when analysis finishes
    np.testing.assert_allclose(v.x_range(), (12.0, 17.5), atol=1e-6)
    np.testing.assert_allclose(_y_range(v), (50.0, 74.0), atol=1e-6)
    assert v.cursor_s() == 13.0
    other = _show(qtbot, window, "short_arpeggio")
    np.testing.assert_allclose(v.x_range(), (0.0, other.duration_s), atol=1e-6)
    assert _y_range(v)[1] - _y_range(v)[0] > 60.0


# ------------------------------------------------------------------------------ 3. failure

def test_a_track_that_cannot_be_read_says_why_in_place_of_the_panes(qtbot, window):
    _show(qtbot, window, "short_arpeggio")
    data = _show(qtbot, window, "broken")
    v = window.view
    assert data.display is None
    assert v.stack.currentWidget() is v.empty and v.empty.isVisible() and not v.glw.isVisible()
    text = v.empty.text()
    assert "broken.wav" in text and "not an audio file" in text, text
    assert str(Path(data.track.path)) in text
    assert v.empty.wordWrap()
    qtbot.waitUntil(lambda: v.empty.height() >= v.empty.heightForWidth(v.empty.width()), timeout=2000)
    assert "-" not in v.message.text()
    # a readable track brings the panes back
    _show(qtbot, window, "short_arpeggio")
    assert v.stack.currentWidget() is v.glw and v.glw.isVisible()
    ticks = v.lane.getAxis("bottom").tickValues(*v.x_range(), 800)
    labels = [s for _, vals in ticks for s in v.lane.getAxis("bottom").tickStrings(vals, 1, 1.0)]
    assert labels and not any(s.startswith("-") for s in labels)


# ------------------------------------------------------------------------------ 4. colour bar

def test_colour_bar_levels_and_map_are_adjustable_and_remembered(qtbot, library_root, tmp_path):
    settings = tmp_path / "settings.ini"
    win = _window(qtbot, library_root, settings)
    _show(qtbot, win, "short_arpeggio")
    v = win.view
    bar = v.main_image.bar
    assert bar.scene() is v.glw.scene() and bar.isVisible()
    assert tuple(bar.levels()) == (-60.0, 0.0)
    np.testing.assert_allclose(v.image.levels, code_from_db((-60.0, 0.0)))
    v.floor_box.setValue(-40.0)
    assert tuple(bar.levels()) == (-40.0, 0.0)
    np.testing.assert_allclose(v.image.levels, code_from_db((-40.0, 0.0)))
    # the bar's handles (the region a drag moves) change both ends
    lo_hi = [code for code in bar.region.getRegion()]
    bar.region.setRegion((lo_hi[0], lo_hi[1] - 20))
    lo, hi = bar.levels()
    assert hi < 0.0 and v.main_image.db_levels == (lo, hi)
    np.testing.assert_allclose(v.image.levels, code_from_db((lo, hi)))
    assert v.floor_box.value() == lo
    v.floor_box.setValue(-45.0)
    labels = [v.cmap_box.itemText(i) for i in range(v.cmap_box.count())]
    assert {"inferno", "magma", "viridis", "greys"} <= set(labels)
    v.cmap_box.setCurrentIndex(labels.index("magma"))
    np.testing.assert_array_equal(v.image.lut, lut("magma"))
    np.testing.assert_array_equal(bar.colorMap().getLookupTable(nPts=256, alpha=True), lut("magma"))
    v.set_image_mode("salience")  # no salience yet: the dB floor does not apply
    assert not v.floor_box.isEnabled()
    v.set_image_mode("spectrogram")
    top = v.main_image.db_levels[1]
    win.close()
    # a new session finds both
    win2 = _window(qtbot, library_root, settings)
    try:
        v2 = win2.view
        assert v2.floor_box.value() == -45.0 and v2.cmap_box.currentText() == "magma"
        _show(qtbot, win2, "short_arpeggio")
        assert tuple(v2.main_image.bar.levels()) == (-45.0, top)
        np.testing.assert_allclose(v2.image.levels, code_from_db((-45.0, top)))
        np.testing.assert_array_equal(v2.image.lut, lut("magma"))
    finally:
        win2.shutdown()


def test_readout_gives_the_value_under_the_mouse(qtbot, window):
    data = _show(qtbot, window, "short_arpeggio")
    v = window.view
    d = data.display
    v.set_x_range(0.0, d.duration_s)
    # a real mouse move over the main pane
    vb = v.main.getViewBox()
    pt = vb.mapViewToScene(QPointF(1.0, 72.0))
    _mouse(v, QEvent.Type.MouseMove, v.glw.mapFromScene(pt), Qt.MouseButton.NoButton)
    t, y = (lambda p: (p.x(), p.y()))(vb.mapSceneToView(QPointF(v.glw.mapToScene(v.glw.mapFromScene(pt)))))
    j = int(np.floor((t + d.hop_s / 2) / d.hop_s))
    i = int(np.floor((y - (d.midi_lo - 0.5 / d.bins_per_semitone)) * d.bins_per_semitone))
    expect = float(db_from_code(d.spec[i, j]))
    text = v.readout.text()
    assert f"{expect:6.1f} dB" in text and " s " in text and "Hz" in text, (text, expect)
    # at a bin centre, exactly
    text = v.readout_at(2.0, 69.0)
    j, i = int(round(2.0 / d.hop_s)), int(round((69.0 - d.midi_lo) * d.bins_per_semitone))
    assert f"{float(db_from_code(d.spec[i, j])):6.1f} dB" in text and "A4" in text
    # the salience image reads out salience
    n = d.n_frames
    freqs = 440 * 2 ** ((np.arange(24, 100, 0.2) - 69) / 12)
    values = np.tile(np.linspace(0, 1, len(freqs), dtype=np.float32)[:, None], (1, n))
    sal = Salience(np.arange(n) * d.hop_s, freqs, values)
    v.set_data(TrackViewData(data.track, {"pitch.salience": sal}, display=d))
    v.set_image_mode("salience")
    row = int(np.argmin(np.abs(np.arange(24, 100, 0.2) - 69.0)))
    assert f"sal {values[row, 10]:.3f}" in v.readout_at(10 * d.hop_s, 69.0)
    assert v.main_image.bar.axis.labelText == "salience"
    assert "sal" not in v.readout_at(10 * d.hop_s, 5.0)  # below the image: no value


def test_layer_colours_keep_their_alpha(qapp):
    """Colours are written #RRGGBBAA in ``panes``; beat lines are faint white, not the
    opaque yellow-white that Qt's #AARRGGBB reading of the same text gives."""
    from workstation.gui import panes as P
    from workstation.gui.layers import BeatsLayer
    beat, down = BeatsLayer().lines
    c = beat._pen.color()
    assert (c.red(), c.green(), c.blue(), c.alpha()) == (255, 255, 255, int(P.BEAT_COLOUR[7:], 16))
    c = down._pen.color()
    assert (c.red(), c.green(), c.blue(), c.alpha()) == (255, 143, 163, int(P.DOWNBEAT_COLOUR[7:], 16))
