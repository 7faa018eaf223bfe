"""Analysis runs in the window: starting one (*Analysis ▸ Analyse…*, the table's
*Re-analyse*), the progress bar, Pause / Resume and Cancel in the status bar, and the rows,
the shown track, the map and the similar list following the worker's events.

The run itself goes through the window's ``AnalysisBridge`` (worker process);
``AnalysisController`` turns its signals into what the window shows.
"""

from __future__ import annotations

import weakref


def _new_run() -> dict:
    """The progress of a run: jobs, tracks finished / failed, the running track's fraction
    (0..1) and the first failure's message."""
    return {"jobs": 0, "finished": 0, "failed": 0, "fraction": 0.0, "first_error": ""}


class AnalysisController:
    """The analysis runs of ``window`` (a ``MainWindow``). ``run``: the current run's
    progress (``_new_run``); ``last_run_counts``: the counts the last run finished with
    (done, failed, cancelled, crashes), None before."""

    def __init__(self, window):
        self._window = weakref.ref(window)  # no Python cycle through the window
        self.run = _new_run()
        self.last_run_counts: dict | None = None
        bridge = window.bridge
        bridge.started.connect(self._started)
        bridge.event.connect(self._event)
        bridge.finished.connect(self._finished)
        bridge.failed_to_start.connect(window.status)
        window.pause_button.toggled.connect(self.set_paused)
        window.cancel_button.clicked.connect(bridge.cancel)

    @property
    def window(self):
        return self._window()

    def analyse(self, track_ids=None, *, force: bool = False) -> bool:
        """Analyse ``track_ids`` (None: all) in the worker process (``force``: recompute
        stored results); False when busy or given no track."""
        w = self.window
        if track_ids is not None and not track_ids:
            w.status("Select tracks to analyse")
            return False
        if not w.bridge.start(w.specs, track_ids, force=force):
            w.status("An analysis is already running")
            return False
        self.run = _new_run()
        w.pause_button.setEnabled(True)
        w.cancel_button.setEnabled(True)
        w.status("Starting analysis…")
        return True

    def _started(self, n_jobs: int) -> None:
        w = self.window
        self.run["jobs"] = n_jobs
        w.progress.setVisible(n_jobs > 0)
        w.progress.setValue(0)
        w.status(f"Analysing {n_jobs} tracks" if n_jobs else "Everything is analysed already")

    def _event(self, ev) -> None:
        w = self.window
        w.model.apply_event(ev)
        r = self.run
        if ev.kind in ("progress", "analyzer_done"):
            r["fraction"] = float(ev.progress or 0.0)
        elif ev.kind in ("track_done", "track_failed", "track_cancelled"):
            r["finished"] += 1
            r["fraction"] = 0.0
            if ev.kind == "track_failed":
                r["failed"] += 1
                r["first_error"] = r["first_error"] or ev.message
            w.refresh_rows([ev.track_id])
        if ev.kind == "analyzer_done" and ev.track_id == w.current_track_id:
            w.load_track(ev.track_id)  # partial results appear as they are stored
        if r["jobs"]:
            frac = (r["finished"] + r["fraction"]) / r["jobs"]
            w.progress.setValue(int(1000 * min(1.0, frac)))
            w.progress.setFormat(f"{r['finished']}/{r['jobs']}")
            paused = " (paused)" if w.bridge.paused else ""
            w.status(f"Analysing: {r['finished']}/{r['jobs']} tracks{paused}"
                     + (f", {r['failed']} failed" if r["failed"] else ""))

    def _finished(self, counts: dict) -> None:
        w = self.window
        w.pause_button.setChecked(False)
        w.pause_button.setEnabled(False)
        w.cancel_button.setEnabled(False)
        w.progress.setVisible(False)
        r = self.run
        msg = f"Analysis finished: {counts.get('done', 0)} done"
        if counts.get("failed"):
            msg += f", {counts['failed']} failed (first: {r['first_error'] or 'see the rows'})"
        if counts.get("cancelled"):
            msg += f", {counts['cancelled']} cancelled"
        if r["jobs"] or counts.get("done") or counts.get("failed"):
            w.status(msg)
        if counts.get("done"):
            w.request_map()
            w.request_similar()
        self.last_run_counts = dict(counts)

    def set_paused(self, paused: bool) -> None:
        """Pause (True) or resume the run (the status bar's Pause button)."""
        w = self.window
        if paused:
            w.bridge.pause()
            w.pause_button.setText("Resume")
        else:
            w.bridge.resume()
            w.pause_button.setText("Pause")
        w.model.set_paused(paused)
