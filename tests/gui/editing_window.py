"""What the editing tests share: a library of one 6-s arpeggio whose stored analysis holds
given results, and a window showing it at a given zoom (real Library, real window)."""

from __future__ import annotations

from pathlib import Path

from synth_audio import write_arpeggio
from workstation.gui.main_window import MainWindow
from workstation.gui.method_menus import specs_with_methods
from workstation.gui.settings import Settings
from workstation.library import Library


def analysed_library(root: Path, results: dict) -> Path:
    """``root`` with ``music/arp.wav`` scanned into ``root/lib`` and ``results`` (analyzer id
    -> core result) stored as its done analyses under the window's own specs."""
    music = root / "music"
    music.mkdir()
    write_arpeggio(music / "arp.wav", seconds=6.0)
    specs = specs_with_methods(Settings(root / "settings.ini"))
    with Library.open(root / "lib") as lib:
        lib.scan(music)
        (t,) = lib.tracks()
        for layer, result in results.items():
            key = next(s.build() for s in specs if s.id == layer).result_key
            lib.store.save(t.content_hash, *key, result)
            lib.set_analysis(t.content_hash, *key, status="done")
    return root


def open_window(qtbot, root: Path, *, x_range: tuple[float, float],
                y_range: tuple[float, float]) -> MainWindow:
    """A window on ``analysed_library(root, ...)`` showing its track (display loaded) with
    ``x_range`` s and ``y_range`` MIDI visible."""
    win = MainWindow(root / "lib", settings=Settings(root / "settings.ini"), device="cpu",
                     auto_analyse=False, playback=False)
    qtbot.addWidget(win)
    win.resize(1300, 820)
    win.show()
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=20_000)
    tid = win.model.row(0).track_id
    assert win.select_track(tid)
    qtbot.waitUntil(lambda: win.view.data is not None and win.view.data.track.id == tid
                    and win.view.data.display is not None, timeout=60_000)
    win.view.set_x_range(*x_range)
    win.view.main.setYRange(*y_range, padding=0)
    qtbot.wait(20)
    return win
