"""Analysis runs in the window: starting one (*Analysis ▸ Analyse…*, the table's
*Re-analyse*), the progress bar, Pause / Resume and Cancel in the status bar, and the rows,
the shown track, the map and the similar list following the worker's events.

*Analysis ▸ Analyse on a Ray cluster…* sends the runs to a Ray cluster instead (the address
asked once and remembered; the status line then counts tracks per node).

The run itself goes through the window's ``AnalysisBridge`` (worker process or cluster);
``AnalysisController`` turns its signals into changes of the session state
(``state.SessionState``: the run's ``RunProgress``), and the progress bar and the status
line show that state (``_show_progress``, subscribed to ``progress_changed``).
"""

from __future__ import annotations

import weakref

from PySide6.QtWidgets import QInputDialog, QMessageBox

from .message_box import open_warning


class AnalysisController:
    """The analysis runs of ``window`` (a ``MainWindow``). The run's progress is
    ``window.state.run``; ``last_run_counts``: the counts the last run finished with (done,
    failed, cancelled, crashes), None before."""

    def __init__(self, window):
        self._window = weakref.ref(window)  # no Python cycle through the window
        self.last_run_counts: dict | None = None
        window.state.progress_changed.connect(self._show_progress)
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

    # ------------------------------------------------------------------ cluster

    def build_cluster_menu(self, menu) -> None:
        """*Analyse on a Ray cluster…* (checkable) in ``menu``; the remembered choice is
        restored."""
        w = self.window
        self.error_box: QMessageBox | None = None
        self.act_cluster = a = menu.addAction("Analyse on a Ray &cluster…")
        a.setCheckable(True)
        a.setStatusTip("Send analysis runs to a Ray cluster (local:N, auto, ray://HOST:PORT)")
        a.triggered.connect(self._cluster_toggled)
        if w.settings.get("cluster/enabled", False, bool):
            self.set_cluster(w.settings.get("cluster/address", "", str) or None, remember=False)

    def _cluster_toggled(self, checked: bool) -> None:
        w = self.window
        if not checked:
            self.set_cluster(None)
            return
        address, ok = QInputDialog.getText(
            w, "Analyse on a Ray cluster",
            "Ray address: local:N (start a cluster here with N CPUs), auto (the cluster this "
            "machine belongs to) or ray://HOST:PORT.\nThe files must be readable at the same "
            "paths on every node.", text=w.settings.get("cluster/address", "local:2", str))
        if not ok or not self.set_cluster(address.strip()):
            self.act_cluster.setChecked(False)

    def set_cluster(self, address: str | None, *, remember: bool = True) -> bool:
        """Send the next runs to the Ray cluster at ``address`` (None: the local worker).
        A malformed address or a missing Ray is a dialog and False."""
        from workstation.core.errors import WorkstationError
        w = self.window
        if address:
            import importlib.util

            from workstation.cluster import INSTALL_HINT, parse_address
            try:
                parse_address(address)
                if importlib.util.find_spec("ray") is None:   # (not imported here: see connect)
                    raise WorkstationError(f"analysis on a cluster needs Ray; {INSTALL_HINT}")
            except WorkstationError as exc:
                self.error_box = open_warning(w, "Cannot use the cluster", str(exc))
                return False
        w.bridge.cluster = address or None
        self.act_cluster.setChecked(bool(address))
        if remember:
            w.settings.set("cluster/enabled", bool(address))
            if address:
                w.settings.set("cluster/address", address)
        w.status(f"Analysis runs go to the Ray cluster {address}" if address
                 else "Analysis runs go to the local worker")
        return True

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
        w.state.run_requested(w.bridge.cluster)
        return True

    @property
    def run(self):
        """The current (or last) run's ``RunProgress``."""
        return self.window.state.run

    def _show_progress(self, run) -> None:
        """The status bar shows the run as the state has it."""
        w = self.window
        w.pause_button.setEnabled(run.active)
        w.cancel_button.setEnabled(run.active)
        if not run.active and w.pause_button.isChecked():
            w.pause_button.setChecked(False)
        w.progress.setVisible(run.active and run.jobs > 0)
        w.progress.setValue(int(1000 * run.done_fraction))
        w.progress.setFormat(f"{run.finished}/{run.jobs}")
        w.status(run.status_text())

    def _started(self, n_jobs: int) -> None:
        self.window.state.run_started(n_jobs)

    def _event(self, ev) -> None:
        w = self.window
        w.model.apply_event(ev)
        w.state.run_event(ev.kind, ev.progress, ev.message or "", (ev.data or {}).get("node"),
                          ev.track_id)
        if ev.kind in ("track_done", "track_failed", "track_cancelled"):
            w.refresh_rows([ev.track_id])
        if ev.kind == "analyzer_done" and ev.track_id == w.current_track_id:
            w.load_track(ev.track_id)  # partial results appear as they are stored

    def _finished(self, counts: dict) -> None:
        w = self.window
        w.state.run_finished(counts)
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
        w.state.set_paused(paused)
