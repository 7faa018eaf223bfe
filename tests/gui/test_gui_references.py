"""Reference annotations in the window: a file that cannot be used is reported in a modal
dialog naming it and saying why in plain words (the reference loaded before stays), and
the reference file a user loaded for a track is remembered in the catalogue, reloaded when
the track is shown after a restart, forgotten on Close annotation, and forgotten (said
once) when it is gone or no longer reads. Real library, real task threads, offscreen."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402
from test_gui import _make_window, _open_first, _synth  # noqa: E402

from workstation.library import Library  # noqa: E402

BEATS = "0.5\n1.0\n1.5\n2.0\n2.5\n3.0\n"


@pytest.fixture
def collection(tmp_path) -> Path:
    """A library (not analysed: a track is shown all the same) on one synthetic track, and a
    reference beats table beside it. Windows on it: ``_make_window(qtbot, root)``."""
    music = tmp_path / "music"
    music.mkdir()
    _synth(music / "a.wav", seconds=4.0)
    with Library.open(tmp_path / "library") as lib:
        lib.scan(music)
    (tmp_path / "a_beats.csv").write_text(BEATS)
    return tmp_path


def _shown(qtbot, root: Path):
    """A window on ``root`` (a restart of the previous one) showing its only track."""
    win = _make_window(qtbot, root, playback=False)
    win.show()
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=20_000)
    data = _open_first(qtbot, win)
    return win, data.track.id


def _settle(qtbot, win) -> None:
    """Let the library task thread finish and its answers reach the GUI thread."""
    qtbot.waitUntil(lambda: win.tasks.idle, timeout=20_000)
    qtbot.wait(100)


def _message_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def _wait_box(qtbot) -> QMessageBox:
    qtbot.waitUntil(lambda: len(_message_boxes()) == 1, timeout=20_000)
    return _message_boxes()[0]


def _load_good(qtbot, win, tid: int, path: Path) -> None:
    win.open_annotation(path)
    qtbot.waitUntil(lambda: "beats" in win.view.references
                    and win.references.get(tid, ({}, ""))[1] == str(path), timeout=20_000)


def test_a_bad_reference_opens_a_dialog_and_keeps_the_loaded_one(qtbot, collection):
    win, tid = _shown(qtbot, collection)
    good = collection / "a_beats.csv"
    _load_good(qtbot, win, tid, good)
    beats = win.view.references["beats"].times_s.copy()

    bad = {"broken.jams": ("{ not json", "Not a JSON file"),
           "garbage.mid": ("MThd garbage", "Not a readable MIDI file"),
           "words.txt": ("a b c\n", "First column is not a time in seconds")}
    for name, (content, reason) in bad.items():
        (collection / name).write_text(content)
    cases = [(collection / n, r) for n, (_, r) in bad.items()]
    cases.append((collection / "nowhere.lab", "File not found"))
    for path, reason in cases:
        win.open_annotation(path)
        box = _wait_box(qtbot)
        text = f"{box.text()}\n{box.informativeText()}"
        # the file named, the reader's reason in plain words, no internal jargon
        assert path.name in box.text() and str(path) in box.informativeText()
        assert reason in box.informativeText(), text
        for jargon in ("AnnotationError", "Error(", "annotation failed", "Traceback"):
            assert jargon not in text
        assert box.icon() == QMessageBox.Icon.Warning
        assert box.windowModality() != Qt.WindowModality.NonModal
        assert box.parent() is win
        box.button(QMessageBox.StandardButton.Ok).click()
        qtbot.waitUntil(lambda: not _message_boxes(), timeout=5_000)
        # nothing else changed: the reference loaded before is drawn, kept and remembered
        assert win.references[tid][1] == str(good)
        assert (win.view.references["beats"].times_s == beats).all()
        assert win.library.reference(tid) == (str(good.resolve()), None)
    win.shutdown()


def test_a_reference_comes_back_after_a_restart_until_it_is_closed(qtbot, collection):
    good = collection / "a_beats.csv"
    win, tid = _shown(qtbot, collection)
    _load_good(qtbot, win, tid, good)
    win.shutdown()
    win.close()

    # a restart: the track shown again draws its reference without being asked
    win, tid2 = _shown(qtbot, collection)
    assert tid2 == tid
    qtbot.waitUntil(lambda: "beats" in win.view.references, timeout=20_000)
    assert Path(win.references[tid][1]) == good.resolve()
    assert len(win.view.references["beats"].times_s) == BEATS.count("\n")
    qtbot.waitUntil(lambda: "a_beats.csv" in win.compare.label.text(), timeout=20_000)
    assert not _message_boxes()

    # Close annotation forgets it: the next restart shows none
    win.clear_annotation()
    _settle(qtbot, win)
    assert not win.view.references and win.library.reference(tid) is None
    win.shutdown()
    win.close()
    win, _ = _shown(qtbot, collection)
    _settle(qtbot, win)
    assert not win.view.references and tid not in win.references
    win.shutdown()


@pytest.mark.parametrize("fate", ["deleted", "damaged"])
def test_a_remembered_reference_that_no_longer_reads_is_said_once_and_forgotten(
        qtbot, collection, fate):
    ref = collection / "a_beats.csv"
    win, tid = _shown(qtbot, collection)
    _load_good(qtbot, win, tid, ref)
    win.shutdown()
    win.close()
    if fate == "deleted":
        ref.unlink()
    else:
        ref.write_bytes(b"\x00\x01\x02 not a table")

    win, _ = _shown(qtbot, collection)
    qtbot.waitUntil(lambda: "a_beats.csv" in win.status_label.text()
                    and "could not be reloaded" in win.status_label.text(), timeout=20_000)
    said = win.status_label.text()
    assert ("no longer there" if fate == "deleted" else "not a text file") in said
    assert "forgotten" in said and "Error" not in said
    assert "a_beats.csv" in win.compare.label.text()
    assert not win.view.references and tid not in win.references
    assert win.library.reference(tid) is None
    # said once: showing the track again says nothing more about it
    win.load_track(tid)
    qtbot.waitUntil(lambda: "Loading" not in win.status_label.text(), timeout=20_000)
    _settle(qtbot, win)
    assert win.view.data is not None and win.view.data.track.id == tid
    assert "could not be reloaded" not in win.status_label.text()
    assert not win.view.references
    win.shutdown()


def test_an_ambiguous_reference_asks_how_to_read_it_and_remembers_the_choice(qtbot, collection):
    """Three numeric columns that are plausible notes both as onset, offset, pitch and as
    onset, pitch, duration: the window asks (one button per reading), reads the file the
    chosen way, and reads it that way again after a restart."""
    amb = collection / "a_notes.csv"
    amb.write_text("10,50,40\n11,52,41\n12,53,43\n13,55,45\n")
    win, tid = _shown(qtbot, collection)
    win.open_annotation(amb)
    box = _wait_box(qtbot)
    assert amb.name in box.text() and "more than one way" in box.text()
    assert box.icon() == QMessageBox.Icon.Question and box.parent() is win
    choices = {b.property("reading"): b for b in box.buttons() if b.property("reading")}
    assert set(choices) == {"notes: onset, offset, pitch", "notes: onset, pitch, duration"}
    assert not win.view.references           # nothing loaded before the user chooses
    choices["notes: onset, pitch, duration"].click()
    qtbot.waitUntil(lambda: "notes" in win.view.references, timeout=20_000)
    notes = win.view.references["notes"]
    assert list(notes.pitch_midi) == [50, 52, 53, 55]
    assert list(notes.offsets_s - notes.onsets_s) == [40, 41, 43, 45]
    assert win.library.reference(tid) == (str(amb.resolve()), "notes: onset, pitch, duration")
    assert "read as notes: onset, pitch, duration" in win.status_label.text()
    win.shutdown()
    win.close()

    # a restart reads it the chosen way without asking again
    win, _ = _shown(qtbot, collection)
    qtbot.waitUntil(lambda: "notes" in win.view.references, timeout=20_000)
    assert list(win.view.references["notes"].pitch_midi) == [50, 52, 53, 55]
    assert not _message_boxes()
    win.shutdown()


def test_cancelling_the_choice_loads_nothing(qtbot, collection):
    amb = collection / "a_notes.csv"
    amb.write_text("10,50,40\n11,52,41\n")
    win, tid = _shown(qtbot, collection)
    win.open_annotation(amb)
    box = _wait_box(qtbot)
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: not _message_boxes(), timeout=5_000)
    _settle(qtbot, win)
    assert not win.view.references and win.library.reference(tid) is None
    win.shutdown()
