"""Analysis runs from the window on a Ray cluster (Analysis ▸ Analyse on a Ray cluster…): a
real local Ray head on 127.0.0.1 started by the run, the status line counting tracks per
node, the address remembered, a bad address refused with a dialog."""

from __future__ import annotations

import os

import pytest

# a local head on the loopback address: set before Ray is imported (see cluster.driver.connect)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
pytest.importorskip("pytestqt")
pytest.importorskip("ray", reason="the cluster extra is not installed (pip install -e .[cluster])")

from synth_audio import write_arpeggio  # noqa: E402

from workstation.analysis.jobs import specs_for  # noqa: E402
from workstation.gui.main_window import MainWindow  # noqa: E402
from workstation.gui.settings import Settings  # noqa: E402


def _window(qtbot, root):
    win = MainWindow(root / "library", settings=Settings(root / "settings.ini"), device="cpu",
                     auto_analyse=False)
    qtbot.addWidget(win)
    return win


def test_runs_go_to_the_cluster_with_progress_per_node(qtbot, tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    for i, tonic in enumerate((57, 62)):
        write_arpeggio(music / f"t{i}.wav", seconds=4.0, tonic_midi=tonic, bpm=100.0 + 20 * i)
    win = _window(qtbot, tmp_path)
    win.set_specs(specs_for(["key", "beats"]))
    win.open_paths([music])
    qtbot.waitUntil(lambda: win.model.rowCount() == 2, timeout=30_000)
    qtbot.waitUntil(lambda: not win.bridge.running, timeout=20_000)

    ac = win.analysis_control
    assert not ac.act_cluster.isChecked()
    assert not ac.set_cluster("not an address")               # refused, with a dialog
    assert ac.error_box is not None and "local:N" in ac.error_box.text()
    assert win.bridge.cluster is None and not ac.act_cluster.isChecked()
    ac.error_box.close()
    assert ac.set_cluster("local:2") and ac.act_cluster.isChecked()
    assert win.bridge.cluster == "local:2"

    texts, finished = [], []
    win.state.progress_changed.connect(lambda run: texts.append(run.status_text()))
    win.bridge.finished.connect(lambda counts: finished.append(counts))
    assert win.analyse(None)
    qtbot.waitUntil(lambda: bool(finished), timeout=240_000)
    assert win.bridge.wait(30)
    assert finished[0]["done"] == 2 and finished[0]["failed"] == 0, finished
    assert any("on cluster local:2" in t for t in texts), texts
    assert any("127.0.0.1: 2" in t for t in texts), texts     # tracks per node
    qtbot.waitUntil(lambda: win.tasks.idle, timeout=20_000)
    qtbot.waitUntil(lambda: all(r.status == "done" for r in win.model.rows()), timeout=20_000)
    win.shutdown()

    # the choice is remembered: a new window sends its runs to the same cluster
    again = _window(qtbot, tmp_path)
    assert again.bridge.cluster == "local:2" and again.analysis_control.act_cluster.isChecked()
    again.analysis_control.set_cluster(None)
    assert again.bridge.cluster is None
    again.shutdown()
    third = _window(qtbot, tmp_path)
    assert third.bridge.cluster is None
    third.shutdown()
