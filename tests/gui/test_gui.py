"""The desktop GUI, offscreen (pytest-qt): library model, real worker runs, track view
panes and overlays, navigation, settings, playback fallback, screenshot sanity (reference
layers, exports of a selection and similarity: test_gui_layers_similarity.py)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import Qt  # noqa: E402

from gui_window import (ANALYSIS_TIMEOUT_MS, SR, _make_window, _open_first, _record,  # noqa: E402
                        _synth)
from workstation.core import constants as C  # noqa: E402
from workstation.core.types import Notes  # noqa: E402
from workstation.gui.library_model import (COL_DURATION, COL_STATUS, LibraryModel, TrackFilterProxy,  # noqa: E402
                                           TrackRow, load_rows)
from workstation.gui.main_window import MainWindow  # noqa: E402
from workstation.gui.settings import Settings  # noqa: E402
from workstation.analysis.display import display_features_from_audio, log_frequency_matrix  # noqa: E402
from workstation.gui.track_loader import TrackViewData  # noqa: E402
from workstation.library import Library  # noqa: E402


# ------------------------------------------------------------------------------ model

def test_filter_proxy_filters_and_sorts(qtbot):
    model = LibraryModel()
    rows = [TrackRow(i, f"/m/{n}.flac", f"{i:040x}", n, a, d, key_label=k)
            for i, (n, a, d, k) in enumerate([("Waltz", "Anna", 90.0, "A minor"),
                                              ("Ballad", "Bert", 300.0, "Eb major"),
                                              ("Swing", "anna b", 45.0, "F major")], start=1)]
    model.set_rows(rows)
    proxy = TrackFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_text("ANNA")
    assert sorted(proxy.track_id(i) for i in range(proxy.rowCount())) == [1, 3]
    proxy.set_text("minor")
    assert [proxy.track_id(i) for i in range(proxy.rowCount())] == [1]
    proxy.set_text("")
    proxy.sort(COL_DURATION, Qt.SortOrder.AscendingOrder)
    assert [proxy.track_id(i) for i in range(proxy.rowCount())] == [3, 1, 2]  # 45 < 90 < 300 s
    # key and tempo ranges, words combined
    for r, bpm in zip(rows, (90.0, 72.0, 150.0)):
        r.tempo_bpm = bpm
    model.set_rows(rows)

    def ids(text):
        proxy.set_text(text)
        return sorted(proxy.track_id(i) for i in range(proxy.rowCount()))
    assert ids("key:Am") == [1] and ids('key:"Eb major"') == [2] and ids("key:F") == [3]
    assert ids("tempo:80-160") == [1, 3] and ids("bpm:-80") == [2] and ids("tempo:100-") == [3]
    assert ids("anna tempo:100-200") == [3] and ids("anna key:E") == []


def test_model_events_update_single_rows(qtbot):
    from workstation.analysis.jobs import Event
    model = LibraryModel()
    model.set_rows([TrackRow(1, "/a", "aa", "A", "", 1.0), TrackRow(2, "/b", "bb", "B", "", 1.0),
                    TrackRow(3, "/c", "aa", "C", "", 1.0)])  # 3 is a duplicate of 1
    changed = []
    model.dataChanged.connect(lambda a, b: changed.append((a.row(), b.row())))
    model.apply_event(Event("progress", 1, "key", 0.5))
    assert model.row_for(1).status == "running" and model.row_for(3).progress == 0.5
    assert model.row_for(2).status == "pending"
    assert sorted(changed) == [(0, 0), (2, 2)]
    model.apply_event(Event("track_failed", 2, message="b: is truncated or corrupt"))
    assert model.row_for(2).status == "failed"
    assert "truncated" in model.data(model.index_for(2, COL_STATUS))


def test_status_says_paused_and_missing(qtbot, tmp_path):
    """A paused row reads 'paused N%' (it said 'running 86%'); a file deleted from disk reads
    'missing' (it stayed 'done')."""
    from workstation.analysis.jobs import Event
    from workstation.gui.library_model import load_rows
    from workstation.library import Library
    model = LibraryModel()
    model.set_rows([TrackRow(1, "/a", "aa", "A", "", 1.0), TrackRow(2, "/b", "bb", "B", "", 1.0)])
    model.apply_event(Event("progress", 1, "key", 0.86))
    model.set_paused(True)
    assert model.data(model.index_for(1, COL_STATUS)) == "paused 86%"
    model.apply_event(Event("track_started", 2))             # started just before the pause took
    assert model.data(model.index_for(2, COL_STATUS)) == "paused 0%"
    model.set_paused(False)
    assert model.data(model.index_for(1, COL_STATUS)) == "running 86%"
    music = tmp_path / "m"
    music.mkdir()
    _synth(music / "gone.wav", seconds=1.0)
    with Library.open(tmp_path / "lib") as lib:
        lib.scan(music)
        (music / "gone.wav").unlink()
        row = load_rows(lib, [("key", 1, "p")])[0]
    assert row.status == "missing" and "no longer on disk" in row.status_text


def test_cancel_records_the_queued_tracks_as_cancelled(tmp_path):
    """Cancel before the queue is done: the tracks never started are recorded 'cancelled'
    (after a refresh three of four unfinished rows said 'not analysed')."""
    from workstation.analysis.jobs import AnalyzerSpec
    from workstation.analysis.scheduler import Scheduler, jobs_for
    from workstation.gui.library_model import load_rows
    from workstation.library import Library
    music = tmp_path / "m"
    music.mkdir()
    for i in range(4):
        _synth(music / f"t{i}.wav", seconds=1.0, tonic_midi=60 + i)
    with Library.open(tmp_path / "lib") as lib:
        lib.scan(music)
        spec = AnalyzerSpec("key")
        sched = Scheduler(lib, device="cpu")
        sched.cancel()                                       # cancelled before anything ran
        counts = sched.run(jobs_for(lib, [spec]))
        assert counts["cancelled"] == 4
        a = spec.build()
        rows = load_rows(lib, [(a.id, a.version, a.params_hash())])
        assert [r.status_text for r in rows] == ["cancelled"] * 4
        assert len(jobs_for(lib, [spec])) == 4               # and they are still to do


def test_thousands_of_rows_sort_and_filter(qtbot, tmp_path):
    """3000 rows load, sort and filter correctly (their timings are in benchmarks/gui_view.py)."""
    n = 3000
    with Library.open(tmp_path / "lib") as lib:
        for i in range(n):
            (tmp_path / f"t{i:05d}.flac").touch()           # rows of files gone from disk say so
            lib.insert_track(tmp_path / f"t{i:05d}.flac", content_hash=f"{i:064x}",
                             duration_s=60.0 + i, title=f"Track {i}", artist=f"Artist {i % 50}")
        rows = load_rows(lib, [("key", 1, "x"), ("beats", 1, "y")])
    model = LibraryModel()
    proxy = TrackFilterProxy()
    proxy.setSourceModel(model)
    model.set_rows(rows)
    proxy.sort(COL_DURATION, Qt.SortOrder.DescendingOrder)
    proxy.set_text('"artist 7"')  # a quoted phrase: artist 7 only (not 17, 27: "Artist 7" is a substring of neither)
    assert len(rows) == n and all(r.status == "pending" for r in rows)
    assert proxy.rowCount() == n // 50
    durations = [model.row_for(proxy.track_id(i)).duration_s for i in range(proxy.rowCount())]
    assert durations == sorted(durations, reverse=True)


# ------------------------------------------------------------------------------ real worker

def test_analysis_through_the_gui_and_a_corrupt_file(qtbot, tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    _synth(music / "arpeggio.wav", seconds=5.0)
    (music / "broken.wav").write_bytes(b"this is not audio at all " * 50)
    win = _make_window(qtbot, tmp_path)
    finished = _record(win.bridge.finished)
    win.open_paths([music])
    qtbot.waitUntil(lambda: win.model.rowCount() == 2, timeout=30_000)
    assert win.settings.recent()[0] == str(music.resolve())
    qtbot.waitUntil(lambda: not win.bridge.running, timeout=20_000)
    finished.clear()
    assert win.analyse(None)
    qtbot.waitUntil(lambda: bool(finished), timeout=ANALYSIS_TIMEOUT_MS)
    assert win.bridge.wait(30)
    counts = finished[0][0]
    assert counts["done"] == 1 and counts["crashes"] == 0
    qtbot.waitUntil(lambda: win.tasks.idle, timeout=20_000)
    qtbot.wait(50)
    by_title = {r.title: r for r in win.model.rows()}
    assert by_title["arpeggio"].status == "done", by_title["arpeggio"]
    broken = by_title["broken"]
    assert broken.status == "error" and "not an audio file" in broken.error
    assert "failed" in win.model.data(win.model.index_for(broken.track_id, COL_STATUS))
    assert "Analysis finished: 1 done" in win.status_label.text()
    # key and tempo reach the row once the track is done
    assert by_title["arpeggio"].key_label and by_title["arpeggio"].tempo_bpm
    win.shutdown()


# ------------------------------------------------------------------------------ track view

def test_track_view_draws_the_results(qtbot, window):
    data = _open_first(qtbot, window)
    v = window.view
    beats, key = data.results["beats"], data.results["key"]
    np.testing.assert_allclose(v.downbeat_lines.times_s, np.sort(beats.downbeats_s))
    np.testing.assert_allclose(v.beat_lines.times_s, np.sort(beats.times_s[beats.positions != 1]))
    assert len(v.lane_beats.times_s) == len(beats.times_s) > 4
    if len(key.local_start_s):
        np.testing.assert_allclose(v.key_band.start_s, key.local_start_s)
        assert len(v.key_band.labels) == len(key.local_start_s)
    # the image is the display spectrogram, placed in seconds x MIDI
    d = data.display
    assert v.image.image.shape == d.spec.shape == (d.spec.shape[0], C.n_frames_for(
        int(round(d.duration_s * SR))))
    r = v.image.mapRectToParent(v.image.boundingRect())
    assert abs(r.left() + d.hop_s / 2) < 1e-6 and abs(r.width() - d.n_frames * d.hop_s) < 1e-6
    assert abs(r.top() - (C.FMIN_MIDI - 1 / 6)) < 1e-6
    assert "Key" in window.info.sections and "Tempo" in window.info.sections
    assert f"{beats.tempo_bpm:.1f} BPM" in window.info.text()
    # results of analyzers being written now are drawn when present
    if "notes" in data.results:
        np.testing.assert_allclose(np.sort(v.notes_item.onsets_s), np.sort(data.results["notes"].onsets_s))
    if "pitch.salience" in data.results:
        v.set_image_mode("salience")
        assert v.image.image.shape == data.results["pitch.salience"].values.shape


def test_notes_and_f0_overlays_from_core_types(qtbot, window):
    from workstation.core.types import PitchTrack
    data = _open_first(qtbot, window)
    notes = Notes(onsets_s=np.array([1.0, 0.5, 3.0]), offsets_s=np.array([1.5, 0.9, 4.0]),
                  pitch_midi=np.array([64, 60, 67]), velocity=np.array([80, 80, 80]))
    times = np.arange(200) * C.HOP_LENGTH / SR
    f0 = PitchTrack(times, np.full(200, 440.0), np.arange(200) % 2 == 0, np.ones(200))
    window.view.set_data(TrackViewData(data.track, {**data.results, "notes": notes, "pitch.f0": f0},
                                       display=data.display))
    ni = window.view.notes_item
    assert [(r.left(), r.center().y()) for r in ni._rects] == [(0.5, 60.0), (1.0, 64.0), (3.0, 67.0)]
    assert ni.boundingRect().left() == 0.5 and ni.boundingRect().right() == 4.0
    x, y = window.view.f0_curve.getOriginalDataset()
    assert np.all(np.isnan(y[1::2])) and np.allclose(y[0::2], 69.0)  # unvoiced frames not drawn
    window.view.set_layer_visible("notes", False)
    assert not ni.isVisible() and not window.view.layer_boxes["notes"].isChecked()
    window.view.layer_boxes["notes"].setChecked(True)
    assert ni.isVisible()


def test_zoom_and_scroll_keep_panes_in_sync(qtbot, window):
    _open_first(qtbot, window)
    v = window.view
    x0, x1 = v.x_range()
    v.zoom(2.0)
    a0, a1 = v.x_range()
    assert abs((a1 - a0) - (x1 - x0) / 2) < 1e-6
    v.scroll(0.5)
    b0, b1 = v.x_range()
    assert abs(b0 - (a0 + 0.5 * (a1 - a0))) < 1e-6
    for name in ("wave", "lane"):
        np.testing.assert_allclose(v.panes[name].getViewBox().viewRange()[0], [b0, b1], atol=1e-9)
    np.testing.assert_allclose(v.region.getRegion(), [b0, b1], atol=1e-9)
    # the overview's region drives the panes back
    v.region.setRegion((2.0, 5.0))
    np.testing.assert_allclose(v.x_range(), [2.0, 5.0], atol=1e-9)
    # keyboard shortcuts
    window.activateWindow()
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Minus)
    c0, c1 = v.x_range()
    assert c1 - c0 > 3.0 + 1e-6
    assert v.last_redraw_s < 0.1


def test_window_grab_is_not_blank(qtbot, window):
    _open_first(qtbot, window)
    qtbot.wait(100)
    img = window.grab().toImage()
    w, h = img.width(), img.height()
    ptr = img.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine())
    arr = arr[:, :w * 4].reshape(h, w, 4)[..., :3].astype(np.float32)
    assert arr.std() > 20, "the window looks blank"
    spectro = window.view.glw.grab().toImage()
    assert spectro.width() > 400


def test_readout_and_playback_fallback(qtbot, window):
    data = _open_first(qtbot, window)
    text = window.view.readout_at(1.25, 69.0)
    assert "440.0 Hz" in text and "A4" in text and "1.250 s" in text
    window.toggle_playback()
    if not window.playback.available:
        assert "playback unavailable" in window.status_label.text()
    else:
        window.playback.stop()
    window.playback.seek(2.0)
    assert window.view.cursor_s() == 2.0
    assert data.track.id == window.current_track_id


def test_export_current_track_to_jams(qtbot, window, tmp_path):
    from workstation.export.jams_read import read_jams
    data = _open_first(qtbot, window)
    out = tmp_path / "out.jams"
    window.last_export = []
    window.export_current(out)
    qtbot.waitUntil(lambda: bool(window.last_export), timeout=30_000)
    back = read_jams(out)
    key = next(r for r in back.values() if hasattr(r, "tonic_pc"))
    assert key.tonic_pc == data.results["key"].tonic_pc


def test_export_current_track_to_a_midi_path(qtbot, window, tmp_path):
    """A .midi file name is written as asked (it used to go to NAME.mid and be renamed)."""
    from workstation.export import read_midi
    data = _open_first(qtbot, window)
    out = tmp_path / "take.midi"
    window.last_export = []
    window.export_current(out)
    qtbot.waitUntil(lambda: bool(window.last_export), timeout=30_000)
    assert out.is_file() and not (tmp_path / "take.mid").exists()
    assert len(read_midi(out)) == len(data.results["notes"])


# ------------------------------------------------------------------------------ pieces

def test_display_spectrogram_known_answer():
    t = np.arange(int(50.0 * SR)) / SR  # longer than one STFT chunk: checks the seams
    y = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    d = display_features_from_audio(y)
    assert d.spec.shape == (log_frequency_matrix().shape[0], C.n_frames_for(len(y)))
    peak_bins = np.argmax(d.spec[:, 10:-10], axis=0)
    midi = d.midi_lo + peak_bins / d.bins_per_semitone
    assert np.all(np.abs(midi - 69.0) < 0.34)
    seam = 4096
    np.testing.assert_array_equal(d.spec[:, seam - 2:seam + 2].argmax(axis=0), peak_bins[0])
    assert abs(float(d.env_max.max()) - 0.5) < 1e-3 and abs(float(d.env_min.min()) + 0.5) < 1e-3


def test_settings_recent_and_geometry(qtbot, tmp_path):
    s = Settings(tmp_path / "s.ini")
    for p in ("a", "b", "a"):
        s.add_recent(tmp_path / p)
    assert s.recent() == [str(tmp_path / "a"), str(tmp_path / "b")]
    win = _make_window(qtbot, tmp_path)
    win.resize(700, 520)  # within the offscreen screen (800 x 600): restoreGeometry clamps to it
    win.show()
    qtbot.waitExposed(win)
    win.view.set_image_mode("mel")
    win.view.set_layer_visible("beats", False)
    win.side_tabs.setCurrentWidget(win.map)
    win.close()
    win2 = MainWindow(tmp_path / "library", settings=Settings(tmp_path / "settings.ini"),
                      device="cpu", auto_analyse=False)
    qtbot.addWidget(win2)
    assert (win2.size().width(), win2.size().height()) == (700, 520)
    assert win2.view.image_mode == "mel" and not win2.view.layer_boxes["beats"].isChecked()
    assert win2.view.layer_boxes["notes"].isChecked() and win2.side_tabs.currentWidget() is win2.map
    win2.shutdown()


def test_default_library_root_matches_the_cli(monkeypatch, tmp_path):
    from workstation.cli.common import default_library_root as cli_root
    from workstation.gui.settings import default_library_root
    monkeypatch.delenv("WORKSTATION_LIBRARY", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_library_root() == cli_root() == tmp_path / "xdg" / "workstation"
    monkeypatch.setenv("WORKSTATION_LIBRARY", str(tmp_path / "lib"))
    assert default_library_root() == cli_root() == tmp_path / "lib"


def test_pause_and_cancel_buttons_stop_the_worker(qtbot, tmp_path):
    from workstation.analysis.jobs import AnalyzerSpec
    from workstation.analysis.scheduler import default_workers
    music = tmp_path / "music"
    music.mkdir()
    for name, tonic in (("one", 60), ("two", 62)):  # distinct content: two jobs
        _synth(music / f"{name}.wav", seconds=2.0, tonic_midi=tonic)
    win = _make_window(qtbot, tmp_path)
    win.set_specs([AnalyzerSpec("ws_test_plugins:Slow", (("seconds", 20.0),))])
    events, finished = _record(win.bridge.event), _record(win.bridge.finished)
    win.open_paths([music])
    qtbot.waitUntil(lambda: win.model.rowCount() == 2, timeout=30_000)
    win.analyse(None)
    qtbot.waitUntil(lambda: any(a[0].kind == "progress" for a in events), timeout=60_000)
    # the window runs the CLI's default workers: both tracks are in flight where there are 2 CPUs
    in_flight = lambda: {a[0].track_id for a in events if a[0].kind == "track_started"}  # noqa: E731
    qtbot.waitUntil(lambda: len(in_flight()) == default_workers(2), timeout=60_000)
    assert win.pause_button.isEnabled()
    win.pause_button.click()
    assert win.bridge.paused and win.pause_button.text() == "Resume"
    win.cancel_button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=60_000)
    assert win.bridge.wait(30)
    assert finished[0][0]["cancelled"] == 2 and finished[0][0]["done"] == 0
    qtbot.waitUntil(lambda: win.tasks.idle, timeout=20_000)
    qtbot.wait(50)
    # the track in flight and the one never started both read "cancelled" (issue 18: the
    # never-started one used to fall back to "not analysed" after the refresh)
    assert sorted(r.status for r in win.model.rows()) == ["cancelled", "cancelled"]
    assert "2 cancelled" in win.status_label.text() and not win.cancel_button.isEnabled()
    win.shutdown()
