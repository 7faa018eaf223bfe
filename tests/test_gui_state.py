"""The window's session state without Qt (``gui.state``): events reach subscribers, the
run's status text is computed from its counts, and the module imports no Qt."""

from __future__ import annotations

import ast
from pathlib import Path

from workstation.gui.state import Event, SessionState


def test_events_reach_subscribers_and_a_broken_one_does_not_stop_the_others():
    ev, seen = Event("x"), []
    ev.connect(lambda *a: 1 / 0)
    ev.connect(seen.append)
    ev.connect(seen.append)          # connected once
    ev.emit(5)
    assert seen == [5]
    ev.disconnect(seen.append)
    ev.emit(6)
    assert seen == [5]


def test_track_references_edits_specs_emit_only_on_change():
    s, log = SessionState(), []
    s.track_changed.connect(lambda t: log.append(("track", t)))
    s.references_changed.connect(lambda t: log.append(("refs", t)))
    s.edits_changed.connect(lambda t, r: log.append(("edits", t, r)))
    s.specs_changed.connect(lambda specs: log.append(("specs", len(specs))))
    s.set_track(3)
    s.set_track(3)
    s.set_reference(3, {"beats": object()}, "/a/b.jams")
    assert s.references[3][1] == "/a/b.jams"
    assert s.drop_reference(3) and not s.drop_reference(3)
    s.set_edits(3, {"notes": 0})
    s.set_edits(3, {"notes": 0})
    s.set_edits(3, {"notes": 2})
    s.set_specs([1, 2])
    s.set_track(None)
    assert log == [("track", 3), ("refs", 3), ("refs", 3), ("edits", 3, {"notes": 0}),
                   ("edits", 3, {"notes": 2}), ("specs", 2), ("track", None)]
    assert s.edits(3) == {"notes": 2} and s.edits(4) == {}


def test_run_progress_and_its_status_text():
    s, texts = SessionState(), []
    s.progress_changed.connect(lambda r: texts.append(r.status_text()))
    s.run_requested()
    assert texts[-1] == "Starting analysis…" and s.run.active
    s.run_started(4)
    s.run_event("progress", 0.5)
    assert s.run.done_fraction == 0.125 and texts[-1] == "Analysing: 0/4 tracks"
    s.run_event("track_done")
    s.run_event("track_failed", message="a.wav: truncated")
    s.run_event("track_failed", message="b.wav: empty")
    s.set_paused(True)
    assert texts[-1] == "Analysing: 3/4 tracks (paused), 2 failed"
    s.run_event("worker_started")    # not a progress event: nothing emitted
    n = len(texts)
    s.run_event("unknown")
    assert len(texts) == n
    s.run_event("track_cancelled")
    s.run_finished({"done": 1, "failed": 2, "cancelled": 1})
    assert not s.run.active and not s.run.paused
    assert texts[-1] == "Analysis finished: 1 done, 2 failed (first: a.wav: truncated), 1 cancelled"
    s.run_requested()
    s.run_started(0)
    assert texts[-1] == "Everything is analysed already" and not s.run.active


def test_run_progress_of_tracks_in_flight_together():
    """Two workers (or a cluster) interleave their tracks' events: the run's progress adds
    each track's own fraction, and a finished track's fraction leaves with it."""
    s = SessionState()
    s.run_requested()
    s.run_started(4)
    s.run_event("progress", 0.5, track_id=1)
    s.run_event("progress", 0.25, track_id=2)
    assert s.run.done_fraction == 0.75 / 4
    s.run_event("analyzer_done", 1.0, track_id=1)
    s.run_event("track_done", track_id=1)
    assert s.run.running == {2: 0.25} and s.run.done_fraction == 1.25 / 4
    s.run_event("track_failed", message="c.wav: empty", track_id=2)
    assert s.run.running == {} and s.run.done_fraction == 0.5

def test_state_imports_no_qt():
    src = Path(__file__).resolve().parents[1] / "workstation" / "gui" / "state.py"
    names = [a.name for n in ast.walk(ast.parse(src.read_text())) if isinstance(n, ast.Import)
             for a in n.names]
    names += [n.module or "" for n in ast.walk(ast.parse(src.read_text()))
              if isinstance(n, ast.ImportFrom)]
    assert not [m for m in names if m.split(".")[0] in ("PySide6", "pyqtgraph", "shiboken6")]
