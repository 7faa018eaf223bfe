"""The main window: library panel, track view, info panel, status bar with the analysis
progress, menus and shortcuts, drag and drop.

Wiring (views subscribe to model signals, the model never knows the views):

- ``LibraryModel`` rows come from ``load_rows`` on the library task thread and change
  with ``AnalysisBridge`` events;
- selecting a row asks the track loader thread for ``load_track_data``; the answer fills
  ``TrackView`` and ``InfoPanel``;
- the analysis runs in the worker process through ``AnalysisBridge``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHeaderView,
                               QLabel, QLineEdit, QMainWindow, QProgressBar, QPushButton,
                               QSplitter, QTableView, QVBoxLayout, QWidget)

from workstation.analysis.jobs import specs_for
from workstation.library import Library

from .info_panel import InfoPanel
from .library_model import (COL_ARTIST, COL_DURATION, COL_KEY, COL_STATUS, COL_TEMPO,
                            COL_TITLE, LibraryModel, TrackFilterProxy, load_rows)
from .playback import Playback
from .settings import Settings
from .track_loader import load_track_data
from .track_view import TrackView
from .worker_bridge import AnalysisBridge, TaskRunner

log = logging.getLogger(__name__)

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.aif *.aiff);;All files (*)"


def _scan_paths(library, paths: list[str]) -> list[str]:
    """Catalogue folders (scan) and files (add); returns one line per path (task thread)."""
    out = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.append(f"{path.name}: {library.scan(path)}")
        else:
            t = library.add_file(path)
            out.append(f"{path.name}: {'added' if t.status == 'ok' else 'unreadable: ' + (t.error or '')}")
    return out


class MainWindow(QMainWindow):
    """The workstation window over the library at ``library_root``."""

    def __init__(self, library_root: str | Path | None = None, *, settings: Settings | None = None,
                 device: str | None = None, auto_analyse: bool | None = None,
                 playback: bool = True):
        super().__init__()
        self.settings = settings or Settings()
        self.library_root = Path(library_root) if library_root else self.settings.library_root
        self.library = Library.open(self.library_root)
        self.set_specs(specs_for())
        self.auto_analyse = self.settings.auto_analyse if auto_analyse is None else auto_analyse
        self.current_track_id: int | None = None
        self._tickets: dict[str, int] = {}
        self._run = {"jobs": 0, "finished": 0, "failed": 0, "fraction": 0.0, "first_error": ""}

        self.setWindowTitle(f"Workstation — {self.library_root}")
        self.setAcceptDrops(True)
        self.model = LibraryModel(self)
        self.proxy = TrackFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = TrackView()
        self.info = InfoPanel()
        self.playback = Playback(self, enabled=playback)
        self.loader = TaskRunner("workstation-track-loader", self)
        self.tasks = TaskRunner("workstation-library-tasks", self)
        self.bridge = AnalysisBridge(self.library_root, device=device or self.settings.device,
                                     parent=self)
        self._build_ui()
        self._build_actions()
        self._connect()
        geo = self.settings.geometry()
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 860)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        if not self.playback.available:
            self.status(self.playback.reason)
        self.refresh()

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: title, artist, key, status…")
        self.filter_edit.setClearButtonEnabled(True)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_TITLE, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(COL_TITLE, QHeaderView.ResizeMode.Stretch)
        for c, w in ((COL_ARTIST, 100), (COL_DURATION, 64), (COL_KEY, 74), (COL_TEMPO, 64),
                     (COL_STATUS, 110)):
            h.resizeSection(c, w)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(4, 4, 0, 0)
        ll.addWidget(self.filter_edit)
        ll.addWidget(self.table)
        self.left_split = QSplitter(Qt.Orientation.Vertical)
        self.left_split.addWidget(left)
        self.left_split.addWidget(self.info)
        self.left_split.setSizes([520, 300])
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.left_split)
        self.split.addWidget(self.view)
        self.split.setSizes([560, 1040])
        self.split.setStretchFactor(1, 1)
        self.setCentralWidget(self.split)

        sb = self.statusBar()
        self.status_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        sb.addWidget(self.status_label, 1)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.pause_button)
        sb.addPermanentWidget(self.cancel_button)

    def _action(self, menu, text, slot, shortcut=None, *, window_wide=True) -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
            if window_wide:
                a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.triggered.connect(slot)
        menu.addAction(a)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self.act_open_folder = self._action(f, "Open &folder…", self.open_folder_dialog, "Ctrl+O")
        self.act_open_file = self._action(f, "Open f&ile…", self.open_file_dialog, "Ctrl+Shift+O")
        self.recent_menu = f.addMenu("Recent collections")
        self._fill_recent()
        f.addSeparator()
        self.act_export = self._action(f, "&Export results…", self.export_dialog, "Ctrl+E")
        # Annotation layers (import JAMS/MIDI/CSV as extra layers) will go here.
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        an = mb.addMenu("&Analysis")
        self.act_analyse_all = self._action(an, "Analyse &all", lambda: self.analyse(None))
        self.act_analyse_sel = self._action(an, "Analyse &selection",
                                            lambda: self.analyse(self.selected_track_ids()))
        self.act_reanalyse = self._action(an, "&Re-analyse selection",
                                          lambda: self.analyse(self.selected_track_ids(), force=True))
        v = mb.addMenu("&View")
        self.act_play = self._action(v, "&Play / pause", self.toggle_playback, "Space")
        self._action(v, "Zoom &in", lambda: self.view.zoom(1.5), "+")
        self._action(v, "Zoom in", lambda: self.view.zoom(1.5), "=")
        self._action(v, "Zoom &out", lambda: self.view.zoom(1 / 1.5), "-")
        self._action(v, "Scroll &left", lambda: self.view.scroll(-0.25), "Left")
        self._action(v, "Scroll &right", lambda: self.view.scroll(0.25), "Right")
        v.addSeparator()
        self._action(v, "&Spectrogram", lambda: self.view.set_image_mode("spectrogram"), "Ctrl+1")
        self._action(v, "Multi-f0 sa&lience", lambda: self.view.set_image_mode("salience"), "Ctrl+2")

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent():
            a = self.recent_menu.addAction(p)
            a.triggered.connect(lambda _=False, p=p: self.open_paths([p]))
        self.recent_menu.setEnabled(bool(self.settings.recent()))

    def _connect(self) -> None:
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.loader.done.connect(self._on_task_done)
        self.loader.error.connect(self._on_task_error)
        self.tasks.done.connect(self._on_task_done)
        self.tasks.error.connect(self._on_task_error)
        self.bridge.started.connect(self._on_analysis_started)
        self.bridge.event.connect(self._on_analysis_event)
        self.bridge.finished.connect(self._on_analysis_finished)
        self.bridge.failed_to_start.connect(lambda msg: self.status(msg))
        self.pause_button.toggled.connect(self._on_pause)
        self.cancel_button.clicked.connect(self.bridge.cancel)
        self.playback.position_changed.connect(lambda t: self.view.set_cursor(t, follow=True))
        self.playback.unavailable.connect(self.status)
        self.view.cursor_moved.connect(self.playback.seek)

    def set_specs(self, specs) -> None:
        """The analyzers the window runs and shows (AnalyzerSpec list, dependencies included)."""
        self.specs = list(specs)
        self.analyzer_keys = [(a.id, a.version, a.params_hash()) for a in (s.build() for s in self.specs)]

    def status(self, text: str) -> None:
        self.status_label.setText(text)

    # ------------------------------------------------------------------ library
    def _submit(self, runner: TaskRunner, tag: str, fn, *args, **kwargs) -> int:
        ticket = runner.submit(tag, fn, *args, **kwargs)
        self._tickets[tag] = ticket
        return ticket

    def refresh(self) -> None:
        """Reload every row (library task thread)."""
        self._submit(self.tasks, "rows", load_rows, self.library, self.analyzer_keys)

    def refresh_rows(self, track_ids: list[int]) -> None:
        self.tasks.submit("row", load_rows, self.library, self.analyzer_keys, list(track_ids))

    def open_paths(self, paths) -> None:
        """Catalogue folders and files (in the background), then show and analyse them."""
        paths = [str(p) for p in paths]
        for p in paths:
            if Path(p).is_dir():
                self.settings.add_recent(p)
        self._fill_recent()
        self.status(f"Scanning {', '.join(Path(p).name for p in paths)}…")
        self._submit(self.tasks, "scan", _scan_paths, self.library, paths)

    def open_folder_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a music folder")
        if d:
            self.open_paths([d])

    def open_file_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open audio files", "", AUDIO_FILTER)
        if files:
            self.open_paths(files)

    def dragEnterEvent(self, ev) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if paths:
            ev.acceptProposedAction()
            self.open_paths(paths)

    def selected_track_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return [self.proxy.track_id(i.row()) for i in rows]

    def select_track(self, track_id: int) -> bool:
        src = self.model.index_for(track_id)
        idx = self.proxy.mapFromSource(src)
        if not idx.isValid():
            return False
        self.table.selectionModel().setCurrentIndex(
            idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(idx)
        return True

    def _on_current_row(self, current, _previous) -> None:
        if not current.isValid():
            return
        tid = self.proxy.track_id(current.row())
        if tid != self.current_track_id:
            self.load_track(tid)

    def load_track(self, track_id: int) -> None:
        """Show a track: results and display features are prepared on the loader thread."""
        self.current_track_id = track_id
        self.loader.drop_pending("track")
        self._submit(self.loader, "track", load_track_data, self.library, track_id, self.specs)
        row = self.model.row_for(track_id)
        self.status(f"Loading {row.title if row else track_id}…")

    # ------------------------------------------------------------------ task answers
    def _on_task_done(self, tag: str, ticket: int, result) -> None:
        if tag in self._tickets and ticket != self._tickets[tag]:
            return  # a newer request superseded this one
        if tag == "rows":
            self.model.set_rows(result)
            self.proxy.sort(self.proxy.sortColumn(), self.proxy.sortOrder())
            if self.current_track_id is not None:
                self.select_track(self.current_track_id)
            n_failed = sum(1 for r in result if r.status in ("failed", "error"))
            self.status(f"{len(result)} tracks" + (f", {n_failed} failed" if n_failed else ""))
            self._loaded_once = True
        elif tag == "row":
            self.model.update_rows(result)
        elif tag == "scan":
            self.status("; ".join(result))
            self.refresh()
            if self.auto_analyse:
                self.analyse(None)
        elif tag == "track":
            if result.track.id != self.current_track_id:
                return
            self.view.set_data(result)
            self.info.set_data(result)
            self.playback.load(result.track.path if result.track.status == "ok" else None)
            t = result.timings.get("total_s")
            self.status(f"{result.track.title or Path(result.track.path).name}"
                        + (f" (loaded in {t * 1000:.0f} ms)" if t is not None else ""))
        elif tag == "export":
            self.status(f"Exported {result}")

    def _on_task_error(self, tag: str, ticket: int, message: str) -> None:
        if tag in self._tickets and ticket != self._tickets[tag]:
            return
        self.status(f"{tag} failed: {message}")

    # ------------------------------------------------------------------ analysis
    def analyse(self, track_ids=None, *, force: bool = False) -> bool:
        """Analyse ``track_ids`` (None: all) in the worker process; False when busy."""
        if track_ids is not None and not track_ids:
            self.status("Select tracks to analyse")
            return False
        if not self.bridge.start(self.specs, track_ids, force=force):
            self.status("An analysis is already running")
            return False
        self._run = {"jobs": 0, "finished": 0, "failed": 0, "fraction": 0.0, "first_error": ""}
        self.pause_button.setEnabled(True)
        self.cancel_button.setEnabled(True)
        self.status("Starting analysis…")
        return True

    def _on_analysis_started(self, n_jobs: int) -> None:
        self._run["jobs"] = n_jobs
        self.progress.setVisible(n_jobs > 0)
        self.progress.setValue(0)
        self.status(f"Analysing {n_jobs} tracks" if n_jobs else "Everything is analysed already")

    def _on_analysis_event(self, ev) -> None:
        self.model.apply_event(ev)
        r = self._run
        if ev.kind in ("progress", "analyzer_done"):
            r["fraction"] = float(ev.progress or 0.0)
        elif ev.kind in ("track_done", "track_failed", "track_cancelled"):
            r["finished"] += 1
            r["fraction"] = 0.0
            if ev.kind == "track_failed":
                r["failed"] += 1
                r["first_error"] = r["first_error"] or ev.message
            self.refresh_rows([ev.track_id])
        if ev.kind == "analyzer_done" and ev.track_id == self.current_track_id:
            self.load_track(ev.track_id)  # partial results appear as they are stored
        if r["jobs"]:
            frac = (r["finished"] + r["fraction"]) / r["jobs"]
            self.progress.setValue(int(1000 * min(1.0, frac)))
            self.progress.setFormat(f"{r['finished']}/{r['jobs']}")
            paused = " (paused)" if self.bridge.paused else ""
            self.status(f"Analysing: {r['finished']}/{r['jobs']} tracks{paused}"
                        + (f", {r['failed']} failed" if r["failed"] else ""))

    def _on_analysis_finished(self, counts: dict) -> None:
        self.pause_button.setChecked(False)
        self.pause_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        r = self._run
        msg = f"Analysis finished: {counts.get('done', 0)} done"
        if counts.get("failed"):
            msg += f", {counts['failed']} failed (first: {r['first_error'] or 'see the rows'})"
        if counts.get("cancelled"):
            msg += f", {counts['cancelled']} cancelled"
        if r["jobs"] or counts.get("done") or counts.get("failed"):
            self.status(msg)
        self.last_run_counts = dict(counts)

    def _on_pause(self, paused: bool) -> None:
        if paused:
            self.bridge.pause()
            self.pause_button.setText("Resume")
        else:
            self.bridge.resume()
            self.pause_button.setText("Pause")

    # ------------------------------------------------------------------ playback / export
    def toggle_playback(self) -> None:
        if not self.playback.available:
            self.status(self.playback.reason)
            return
        if self.playback.toggle():
            self.playback.seek(self.view.cursor_s())

    def export_dialog(self) -> None:
        if self.current_track_id is None or self.view.data is None:
            self.status("Select an analysed track to export")
            return
        t = self.view.data.track
        path, _ = QFileDialog.getSaveFileName(self, "Export results",
                                              str(Path(t.path).with_suffix(".jams")),
                                              "JAMS (*.jams)")
        if path:
            self.export_current(path)

    def export_current(self, path: str | Path) -> int:
        """Write the shown track's results to ``path`` (JAMS) on the task thread.
        More formats (MIDI, CSV) plug in here as workstation.export grows."""
        data = self.view.data
        from workstation.export.jams_io import write_jams
        return self._submit(self.tasks, "export", write_jams, Path(path), dict(data.results),
                            duration_s=data.duration_s, title=data.track.title,
                            artist=data.track.artist, audio_path=data.track.path)

    # ------------------------------------------------------------------ shutdown
    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop the analysis and the loader threads, close the library (idempotent)."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        self.playback.stop()
        self.bridge.shutdown(timeout)
        self.loader.stop(timeout)
        self.tasks.stop(timeout)
        self.library.close()

    def closeEvent(self, ev) -> None:
        self.settings.set_geometry(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(ev)

