"""What a new user found wrong in the library, similarity and playback parts of the window,
each checked on a real SQLite library analysed by the real worker and a real Qt GUI
(offscreen): resizable, remembered columns; the table's context menu (reveal, re-analyse,
remove); similarity reasons in words; names on the collection map; no load timings in the
Info pane; *Hear the notes* without an audio device says nothing will play."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from synth_audio import write_arpeggio

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QContextMenuEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QHeaderView, QMessageBox  # noqa: E402

from workstation.core import constants as C  # noqa: E402
from workstation.core.errors import LibraryError  # noqa: E402
from workstation.gui.library_model import COL_STATUS, COL_TITLE  # noqa: E402
from workstation.gui.main_window import MainWindow  # noqa: E402
from workstation.gui.settings import Settings  # noqa: E402
from workstation.library import Library  # noqa: E402

SR = C.SAMPLE_RATE
#: (file stem, tonic MIDI, minor?, tempo BPM) of the synthesised collection.
TRACKS = (("d_minor_waltz", 62, True, 120.0), ("d_minor_twin", 62, True, 118.0),
          ("a_major_march", 69, False, 90.0))


def _synth(path: Path, tonic_midi: int, minor: bool, bpm: float, seconds: float = 5.0) -> None:
    """A tonic triad arpeggio of harmonic tones, a click on every beat (``bpm``)."""
    write_arpeggio(path, seconds=seconds, tonic_midi=tonic_midi, minor=minor, bpm=bpm)


@pytest.fixture(scope="module")
def collection(tmp_path_factory, qapp):
    """Three synthesised tracks catalogued and analysed (every default analyzer)."""
    from workstation.analysis.jobs import specs_for
    from workstation.analysis.scheduler import Scheduler, jobs_for
    root = tmp_path_factory.mktemp("library_truth")
    music = root / "music"
    music.mkdir()
    for stem, tonic, minor, bpm in TRACKS:
        _synth(music / f"{stem}.wav", tonic, minor, bpm)
    with Library.open(root / "library") as lib:
        lib.scan(music)
        counts = Scheduler(lib, device="cpu").run(jobs_for(lib, specs_for()))
    assert counts["failed"] == 0 and counts["done"] == len(TRACKS), counts
    return root


def _open(qtbot, library_root: Path, settings_path: Path) -> MainWindow:
    win = MainWindow(library_root, settings=Settings(settings_path), device="cpu",
                     auto_analyse=False, playback=True)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitUntil(lambda: win.model.rowCount() == len(TRACKS), timeout=20_000)
    return win


@pytest.fixture
def window(qtbot, collection, tmp_path):
    win = _open(qtbot, collection / "library", tmp_path / "settings.ini")
    yield win
    win.shutdown()


@pytest.fixture
def own_window(qtbot, collection, tmp_path):
    """A window on a copy of the collection's library (for tests that change it)."""
    shutil.copytree(collection / "library", tmp_path / "library")
    win = _open(qtbot, tmp_path / "library", tmp_path / "settings.ini")
    yield win
    win.shutdown()


def _id_of(win, stem: str) -> int:
    return next(r.track_id for r in win.model.rows() if Path(r.path).stem == stem)


def _show(qtbot, win, stem: str):
    tid = _id_of(win, stem)
    assert win.select_track(tid)
    qtbot.waitUntil(lambda: win.view.data is not None and win.view.data.track.id == tid, timeout=60_000)
    return win.view.data


def _right_click_row(win, track_id: int) -> None:
    """A real context-menu event on the table's viewport, over the row of ``track_id``."""
    idx = win.proxy.mapFromSource(win.model.index_for(track_id, COL_TITLE))
    pos = win.table.visualRect(idx).center()
    QApplication.sendEvent(win.table.viewport(), QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, pos, win.table.viewport().mapToGlobal(pos)))


# ------------------------------------------------------------------------------ 1 columns

def test_library_columns_are_resizable_and_remembered(qtbot, collection, tmp_path):
    settings = tmp_path / "settings.ini"
    win = _open(qtbot, collection / "library", settings)
    h = win.table.horizontalHeader()
    last = h.count() - 1
    assert last == COL_STATUS and h.stretchLastSection()
    for c in range(last):
        assert h.sectionResizeMode(c) == QHeaderView.ResizeMode.Interactive, c
    # the user drags the Title column's right edge 90 px to the right
    edge = h.sectionViewportPosition(COL_TITLE) + h.sectionSize(COL_TITLE) - 1
    y = h.height() // 2
    before = h.sectionSize(COL_TITLE)
    qtbot.mousePress(h.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(edge, y))
    qtbot.mouseMove(h.viewport(), QPoint(edge + 45, y))
    qtbot.mouseMove(h.viewport(), QPoint(edge + 90, y))
    qtbot.mouseRelease(h.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(edge + 90, y))
    assert abs(h.sectionSize(COL_TITLE) - (before + 90)) <= 2, (before, h.sectionSize(COL_TITLE))
    h.resizeSection(1, 150)                       # and widens the Artist column
    widths = [h.sectionSize(c) for c in range(last)]
    win.close()                                   # saves the view settings
    win2 = _open(qtbot, collection / "library", settings)
    h2 = win2.table.horizontalHeader()
    assert [h2.sectionSize(c) for c in range(last)] == widths
    assert h2.sectionResizeMode(COL_TITLE) == QHeaderView.ResizeMode.Interactive
    win2.shutdown()


# ------------------------------------------------------------------------------ 2 context menu

def test_context_menu_reveals_the_folder(qtbot, window):
    opened: list[QUrl] = []
    window.library_actions.open_url = lambda url: opened.append(url) or True
    tid = _id_of(window, "a_major_march")
    _right_click_row(window, tid)
    menu = window.library_actions.menu
    assert menu is not None and menu.isVisible()
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Reveal in file manager", "Re-analyse", "Remove from library…"]
    assert window.selected_track_ids() == [tid]    # the row under the pointer is selected
    window.library_actions.act_reveal.trigger()
    menu.close()
    folder = Path(window.model.row_for(tid).path).parent
    assert opened == [QUrl.fromLocalFile(str(folder))] and folder.is_dir()


def test_context_menu_reanalyses_the_selection(qtbot, window):
    from workstation.analysis.jobs import AnalyzerSpec
    window.set_specs([AnalyzerSpec("key")])        # one cheap analyzer, forced again
    tid = _id_of(window, "d_minor_waltz")
    track = window.library.track(tid)
    a = AnalyzerSpec("key").build()
    before = window.library.get_analysis(track.content_hash, a.id, a.version, a.params_hash())
    assert before is not None and before.status == "done"
    finished = []
    window.bridge.finished.connect(lambda counts: finished.append(counts))
    _right_click_row(window, tid)
    window.library_actions.act_reanalyse.trigger()
    window.library_actions.menu.close()
    qtbot.waitUntil(lambda: bool(finished), timeout=120_000)
    assert window.bridge.wait(30)
    assert finished[0]["done"] == 1 and finished[0]["failed"] == 0
    after = window.library.get_analysis(track.content_hash, a.id, a.version, a.params_hash())
    assert after.status == "done" and after.updated_at > before.updated_at   # recomputed
    qtbot.waitUntil(lambda: window.tasks.idle, timeout=20_000)


def test_remove_from_library_asks_and_leaves_files_and_results(qtbot, own_window):
    from workstation.analysis.similarity import SimilaritySearch
    win, acts = own_window, own_window.library_actions
    gone, seed = _id_of(win, "d_minor_twin"), _id_of(win, "d_minor_waltz")
    track = win.library.track(gone)
    with Library.open(win.library_root) as lib:
        assert gone in [r.track_id for r in SimilaritySearch(lib).similar(seed, k=5)]
    qtbot.waitUntil(lambda: len(win.map.track_ids) == len(TRACKS), timeout=30_000)
    n_results = len(list((win.library_root / "results").rglob("*.*")))
    assert win.select_track(gone)
    # Delete on the table asks first; Cancel keeps the track
    win.activateWindow()
    win.table.setFocus()
    qtbot.keyClick(win.table, Qt.Key.Key_Delete)
    box = acts.confirm
    assert box is not None and box.isVisible() and "Remove 1 track" in box.text()
    assert "d_minor_twin" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.wait(200)
    assert win.model.rowCount() == len(TRACKS) and win.library.track(gone).id == gone
    # the menu's Remove, then Yes: out of the catalogue, the map and the similar tracks
    _right_click_row(win, gone)
    acts.act_remove.trigger()
    acts.menu.close()
    said, show = [], win.status   # every status line (the next track's load may follow it)
    win.status = lambda text: (said.append(text), show(text))
    acts.confirm.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: win.model.rowCount() == len(TRACKS) - 1
                    and any("Removed 1 track" in t for t in said), timeout=20_000)
    with pytest.raises(LibraryError):
        win.library.track(gone)
    assert Path(track.path).is_file()                                  # the audio stays
    assert len(list((win.library_root / "results").rglob("*.*"))) == n_results  # results too
    qtbot.waitUntil(lambda: win.tasks.idle and len(win.map.track_ids) == len(TRACKS) - 1,
                    timeout=30_000)
    assert gone not in win.map.track_ids.tolist()
    assert gone not in [r.track_id for r in win.similarity().similar(seed, k=5)]
    with Library.open(win.library_root) as lib:              # and the index on disk agrees
        assert gone not in [r.track_id for r in SimilaritySearch(lib).similar(seed, k=5)]
    assert win.current_track_id != gone


def test_catalogue_remove_tracks(tmp_path):
    """``Library.remove_tracks`` is one SQLite transaction: rows and their hand-given tags
    go, analyses (keyed by content) stay, unknown ids are ignored, and it is durable."""
    with Library.open(tmp_path / "lib") as lib:
        ids = [lib.insert_track(tmp_path / f"t{i}.wav", content_hash=f"{i:064x}", title=f"T{i}").id
               for i in range(3)]
        lib.add_user_tag(ids[0], "Waltz")
        lib.set_analysis(f"{0:064x}", "key", 1, "p", status="done")
        assert lib.remove_tracks([ids[0], ids[2], 9999, ids[0]]) == 2
        assert lib.remove_tracks([ids[0]]) == 0
        assert [t.id for t in lib.tracks()] == [ids[1]] and lib.user_tags() == []
        assert lib.get_analysis(f"{0:064x}", "key", 1, "p").status == "done"
    with Library.open(tmp_path / "lib") as lib:
        assert [t.id for t in lib.tracks()] == [ids[1]]
        with pytest.raises(LibraryError):
            lib.track(ids[0])


def test_cli_library_remove(tmp_path, capsys):
    from workstation.cli.main import main
    music = tmp_path / "music"
    (music / "sub").mkdir(parents=True)
    for i, p in enumerate((music / "a.wav", music / "sub" / "b.wav", music / "sub" / "c.wav")):
        _synth(p, 60 + i, False, 100.0, seconds=1.0)
    lib = ["--library", str(tmp_path / "lib")]
    assert main(lib + ["library", "scan", str(music)]) == 0
    assert main(lib + ["library", "remove", str(music / "a.wav"), str(tmp_path / "nope.wav")]) == 2
    assert main(lib + ["library", "remove", str(music / "a.wav")]) == 0
    assert "removed 1 tracks" in capsys.readouterr().out
    assert main(lib + ["library", "remove", str(music / "sub")]) == 0       # a folder: all under it
    assert "removed 2 tracks" in capsys.readouterr().out
    with Library.open(tmp_path / "lib") as lib_:
        assert lib_.tracks() == []
    assert all(p.is_file() for p in music.rglob("*.wav"))


# ------------------------------------------------------------------------------ 3 reasons

RAW = ("('", "')", ":minor", ":major", "key_closeness", "tempi_bpm", "shared_tags", "keys: (", "None")


def test_similarity_reasons_are_words():
    from workstation.analysis.similarity_reasons import reasons, summary
    e = {"overall": 0.81, "timbre": 0.72, "harmony": 0.41, "rhythm": -0.1, "key": "same",
         "key_closeness": 1.0, "keys": ("D:minor", "D:minor"), "tempo_closeness": 0.95,
         "tempi_bpm": (120.0, 118.2), "tags": 0.5, "shared_tags": ["jazz", "piano"]}
    lines = reasons(e)
    assert "same key: D minor" in lines and "tempo 120 vs 118 BPM" in lines
    assert "shared tags: jazz, piano" in lines and "timbre very close (+0.72)" in lines
    assert lines.index("timbre very close (+0.72)") < lines.index("rhythm unlike (-0.10)")
    one = summary(e)
    assert one.startswith("timbre very close; harmony close") and "same key: D minor" in one
    assert reasons({**e, "key": "relative", "keys": ("D:minor", "F:major")})[-3] == \
        "relative keys: D minor and F major"
    assert "A major is the dominant of D major" in reasons({**e, "key": "dominant",
                                                            "keys": ("D:major", "A:major")})
    assert "tempo 120 vs 60 BPM (half time)" in reasons({**e, "tempi_bpm": (120.0, 60.0)})
    unknown = reasons({"overall": 0.2, "key": None, "keys": (None, "C:major"),
                       "tempo_closeness": None, "tempi_bpm": (None, 100.0), "tags": None,
                       "shared_tags": []})
    assert unknown == ["overall similarity +0.20 (1 = identical)"]
    for text in lines + [one]:
        assert not any(r in text for r in RAW), text


def test_similarity_panel_tooltips_are_words(qtbot, window):
    _show(qtbot, window, "d_minor_waltz")
    panel = window.similar_panel
    qtbot.waitUntil(lambda: len(panel.results) == len(TRACKS) - 1, timeout=30_000)
    twin = next(i for i, r in enumerate(panel.results) if Path(r.path).stem == "d_minor_twin")
    e = panel.results[twin].explanation
    lines = panel.table.item(twin, 3).toolTip().split("\n")
    k0, k1 = (k.replace(":", " ") for k in e["keys"])           # both keys are known here
    assert (f"same key: {k0}" if e["key"] == "same" else f"{k0} and {k1}") in "\n".join(lines)
    t0, t1 = e["tempi_bpm"]
    assert any(line.startswith(f"tempo {t0:.0f} vs {t1:.0f} BPM") for line in lines)
    for i in range(panel.table.rowCount()):
        for text in (panel.table.item(i, 3).toolTip(), panel.table.item(i, 3).text()):
            assert text and not any(r in text for r in RAW), text


# ------------------------------------------------------------------------------ 4 map

def test_collection_map_names_points_on_hover_and_labels_the_selection(qtbot, window):
    m = window.map
    qtbot.waitUntil(lambda: len(m.track_ids) == len(TRACKS), timeout=30_000)
    for tid in m.track_ids.tolist():
        row = window.model.row_for(tid)
        assert m.text_for(tid) == f"{row.title} — {Path(row.path).name}"   # no artist: file name
    window.side_tabs.setCurrentWidget(m)
    qtbot.wait(100)
    # hover the first point for real: the view box's tooltip names its track
    tid = int(m.track_ids[0])
    vb = m.plot.getViewBox()
    view_pt = m.plot.mapFromScene(vb.mapViewToScene(QPointF(float(m.xy[0, 0]), float(m.xy[0, 1]))))
    qtbot.mouseMove(m.plot.viewport(), view_pt + QPoint(3, 3))
    qtbot.mouseMove(m.plot.viewport(), view_pt)
    qtbot.waitUntil(lambda: m.text_for(tid) in vb.toolTip(), timeout=5_000)
    # the selected track's point is labelled with its name
    other = int(m.track_ids[-1])
    window.select_track(other)
    qtbot.waitUntil(lambda: m.current_label.isVisible(), timeout=10_000)
    assert m.current_label.textItem.toPlainText() == m.text_for(other)
    assert m.current_label.pos().x() == pytest.approx(float(m.xy[-1, 0]))


# ------------------------------------------------------------------------------ 5 info

def test_info_pane_shows_no_load_timings(qtbot, window, caplog):
    import logging
    from workstation.gui.info_panel import describe
    caplog.set_level(logging.DEBUG, logger="workstation.gui")
    data = _show(qtbot, window, "a_major_march")
    qtbot.waitUntil(lambda: "File" in window.info.sections, timeout=10_000)
    assert data.timings                                       # measured ...
    assert "loaded in" not in window.info.text() and " ms" not in window.info.text()
    assert all(" ms" not in text for text in describe(data).values())
    # how the notes were found survives the library's cache and is said (notes=auto chose it)
    assert data.results["notes"].method in ("f0", "salience")
    assert ("one at a time" if data.results["notes"].method == "f0" else "polyphonic") in describe(data)["Notes"]
    import dataclasses
    mixed = dataclasses.replace(data, results={**data.results, "notes": dataclasses.replace(
        data.results["notes"], method="f0+salience")})                # auto read it in passages
    assert "in the passages that sound monophonic, polyphonic elsewhere" in describe(mixed)["Notes"]
    assert " ms)" not in window.status_label.text()          # ... but not shown
    assert any("loaded in" in r.getMessage() for r in caplog.records)   # kept for the log


# ------------------------------------------------------------------------------ 6 no audio

def test_hear_notes_without_an_audio_device_says_nothing_will_play(qtbot, window):
    from PySide6.QtMultimedia import QMediaDevices
    if QMediaDevices.audioOutputs():
        pytest.skip("this machine has an audio output device")
    data = _show(qtbot, window, "a_major_march")
    assert "notes" in data.results
    window.activateWindow()
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_N)                      # Playback ▸ Hear the notes
    box = getattr(window, "last_notice", None)
    assert box is not None and box.isVisible() and "no audio output device" in box.text()
    assert "Nothing will play" in box.informativeText()
    assert not window.act_hear_notes.isChecked() and window.playback.source_override is None
    qtbot.wait(500)                                           # nothing renders and says otherwise
    assert "Playing the audio" not in window.status_label.text()
    assert "Nothing will play" in window.status_label.text()
    assert not window.act_hear_notes.isChecked() and not window.playback.audible
    box.close()
