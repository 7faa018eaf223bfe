"""Hand-given tags in the window: Tags ▸ Add / Remove tag on the selection, the Tags column,
the filter, the similarity search's tags, and Tags ▸ Suggest tags (embedding prototypes)
with its dialog, on a real analysed synthetic collection."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from sim_library import DRUMS, TONES, sim_collection  # noqa: E402,F401  (session fixture)
from workstation.gui.main_window import MainWindow  # noqa: E402
from workstation.gui.settings import Settings  # noqa: E402


def _record(signal) -> list:
    got: list = []
    signal.connect(lambda *args: got.append(args))
    return got


@pytest.fixture
def tag_window(qtbot, sim_collection, tmp_path):
    root, paths = sim_collection
    shutil.copytree(root, tmp_path / "lib")
    win = MainWindow(tmp_path / "lib", settings=Settings(tmp_path / "settings.ini"), device="cpu",
                     auto_analyse=False, playback=False)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitUntil(lambda: win.model.rowCount() == len(paths), timeout=20_000)
    ids = {name: win.library.track_by_path(p).id for name, p in paths.items()}
    yield win, ids
    win.shutdown()


def _tags_of(win, tid) -> list[str]:
    row = win.model.row_for(tid)
    return [t.strip() for t in row.tags.split(",") if t.strip()]


def test_add_remove_and_suggest_tags(qtbot, tag_window):
    win, ids = tag_window
    done = _record(win.tasks.done)
    win.tag_tracks([ids["drums_a"], ids["drums_b"]], "Percussive ")
    win.tag_tracks([ids["tones_a"]], "melodic")
    qtbot.waitUntil(lambda: "percussive" in _tags_of(win, ids["drums_b"])
                    and "melodic" in _tags_of(win, ids["tones_a"]), timeout=20_000)
    assert _tags_of(win, ids["drums_a"])[0] == "percussive"      # normalised, listed first
    assert "percussive" not in _tags_of(win, ids["tones_b"])
    assert win.library.user_tag_counts() == {"melodic": 1, "percussive": 2}
    # the filter finds tracks by their hand-given tags
    win.filter_edit.setText("percussive")
    qtbot.waitUntil(lambda: win.proxy.rowCount() == 2, timeout=5_000)
    win.filter_edit.setText("")
    # the similarity search sees them (tag filters, explanations)
    assert "percussive" in win.similarity().meta(ids["drums_a"]).tags

    # Tags ▸ Suggest: the untagged drum track is proposed "percussive", no tone track is
    win.suggest_tags()
    qtbot.waitUntil(lambda: win.tag_dialog is not None and win.tag_dialog.isVisible(), timeout=30_000)
    dlg = win.tag_dialog
    pairs = dlg._pairs
    assert (ids["drums_c"], "percussive") in pairs
    assert not any(tag == "percussive" and tid in (ids[n] for n in TONES) for tid, tag in pairs)
    assert not any(tag == "melodic" and tid in (ids[n] for n in DRUMS) for tid, tag in pairs)
    assert (ids["drums_a"], "percussive") not in pairs             # already tagged
    scores = [float(dlg.table.item(r, 2).text()) for r in range(dlg.table.rowCount())]
    assert scores == sorted(scores, reverse=True) and all(0.5 <= s <= 1.0 for s in scores)
    # keep only the drum proposal
    for r, pair in enumerate(pairs):
        dlg.set_checked(r, pair == (ids["drums_c"], "percussive"))
    assert dlg.checked_pairs() == [(ids["drums_c"], "percussive")]
    n_before = len(done)
    dlg.apply()
    qtbot.waitUntil(lambda: "percussive" in _tags_of(win, ids["drums_c"]), timeout=20_000)
    assert len(done) > n_before
    assert win.library.user_tag_counts() == {"melodic": 1, "percussive": 3}
    assert "percussive" in win.similarity().meta(ids["drums_c"]).tags

    # remove it again
    win.tag_tracks([ids["drums_c"]], "percussive", remove=True)
    qtbot.waitUntil(lambda: "percussive" not in _tags_of(win, ids["drums_c"]), timeout=20_000)
    assert "percussive" not in win.similarity().meta(ids["drums_c"]).tags
    assert win.library.user_tag_counts()["percussive"] == 2


def test_suggest_with_no_hand_given_tags_says_how(qtbot, tag_window):
    win, _ = tag_window
    win.suggest_tags()
    qtbot.waitUntil(lambda: win.tag_dialog is not None and win.tag_dialog.isVisible(), timeout=30_000)
    assert win.tag_dialog.table.rowCount() == 0
    assert "tag a few tracks" in win.tag_dialog.label.text()
    assert not win.tag_dialog.buttons.buttons()[0].isEnabled() or win.tag_dialog.checked_pairs() == []
