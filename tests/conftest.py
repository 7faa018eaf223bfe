import multiprocessing
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]
EVALDATA = (REPO.parent / "shared" / "evaldata").resolve()
DEMO = REPO / "resources" / "demo"


@pytest.fixture
def evaldata() -> Path:
    """The shared evaluation recordings; skips the test where they are absent."""
    if not EVALDATA.is_dir():
        pytest.skip(f"evaluation data not found at {EVALDATA} (see ../shared/evaldata/README.md)")
    return EVALDATA


@pytest.fixture(autouse=True)
def no_leftover_workers():
    """Fail a test that leaves worker processes or non-daemon threads running."""
    before = set(threading.enumerate())
    yield
    children = multiprocessing.active_children()
    for p in children:
        p.kill()
        p.join(5)
    assert not children, f"test left worker processes running: {children}"
    extra = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    assert not extra, f"test left threads running: {extra}"


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, qapp):
    """A library on two demo files (or synthesised ones), analysed by the real worker (the
    window tests in tests/gui)."""
    from gui_window import _demo_files, _synth
    from workstation.analysis.jobs import specs_for
    from workstation.analysis.scheduler import Scheduler, jobs_for
    from workstation.library import Library

    root = tmp_path_factory.mktemp("gui_demo")
    music = root / "music"
    music.mkdir()
    demo = _demo_files(2)
    if demo:
        for p in demo:
            shutil.copy(p, music / p.name)
    else:
        _synth(music / "a.wav", seconds=8.0)
        _synth(music / "b.wav", seconds=8.0, tonic_midi=67)
    with Library.open(root / "library") as lib:
        lib.scan(music)
        counts = Scheduler(lib, device="cpu").run(jobs_for(lib, specs_for()))
    assert counts["failed"] == 0, counts
    return root


@pytest.fixture
def window(qtbot, analysed, tmp_path):
    """A shown window on the ``analysed`` library, its settings a copy of that library's."""
    from workstation.gui.main_window import MainWindow
    from workstation.gui.settings import Settings
    shutil.copy(analysed / "settings.ini", tmp_path) if (analysed / "settings.ini").exists() else None
    win = MainWindow(analysed / "library", settings=Settings(tmp_path / "settings.ini"),
                     device="cpu", auto_analyse=False, playback=True)
    qtbot.addWidget(win)
    win.resize(1300, 820)
    win.show()
    qtbot.waitUntil(lambda: win.model.rowCount() == 2, timeout=20_000)
    yield win
    win.shutdown()
