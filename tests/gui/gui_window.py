"""What the window tests share: short synthetic or demo tracks, a window on a fresh library,
signal recording, opening the first track (the fixtures ``analysed`` and ``window`` are in
tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
from synth_audio import write_arpeggio

from workstation.core import constants as C
from workstation.gui.main_window import MainWindow
from workstation.gui.settings import Settings
from workstation.gui.track_loader import TrackViewData

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "resources" / "demo"
SR = C.SAMPLE_RATE
ANALYSIS_TIMEOUT_MS = 240_000


def _synth(path: Path, *, seconds: float = 6.0, tonic_midi: int = 60, bpm: float = 120.0) -> None:
    """A major arpeggio of harmonic tones with a click on every beat."""
    write_arpeggio(path, seconds=seconds, tonic_midi=tonic_midi, bpm=bpm)


def _demo_files(n: int = 2) -> list[Path]:
    files = sorted(p for p in DEMO.glob("*") if p.suffix in (".flac", ".ogg", ".wav"))
    return sorted(files, key=lambda p: sf.info(str(p)).duration)[:n]


def _record(signal) -> list:
    """Everything ``signal`` emits, in a list that lives as long as the emitter.

    The tests wait on these lists with ``waitUntil`` rather than with ``qtbot.waitSignal``:
    our signals are emitted from worker threads (queued to the GUI thread), and a queued
    emission delivered after a ``waitSignal`` block has ended reached a freed blocker and
    crashed the interpreter (seen as a segfault in pytest-qt's ``_quit_loop_by_signal``)."""
    got: list = []
    signal.connect(lambda *args: got.append(args))
    return got


def _make_window(qtbot, root: Path, **kw) -> MainWindow:
    win = MainWindow(root / "library", settings=Settings(root / "settings.ini"), device="cpu",
                     auto_analyse=False, **kw)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    return win


def _open_first(qtbot, win) -> TrackViewData:
    tid = win.model.row(0).track_id
    assert win.select_track(tid)
    qtbot.waitUntil(lambda: win.view.data is not None and win.view.data.track.id == tid,
                    timeout=60_000)
    return win.view.data
