"""The main window: its layout (library panel, track view, side tabs, status bar with the
analysis progress), its menus, shortcuts and drag and drop, and the controllers doing the
work behind them, each in a module of its own:

- ``CollectionController`` (collection_control.py): opening, scanning, the table's rows;
- ``TrackController`` (track_control.py): the shown track, its images, the comparison;
- ``ReferenceController`` (references.py): reference annotations;
- ``AnalysisController`` (analysis_control.py): analysis runs and their progress;
- ``MethodMenus`` (method_menus.py): *Analysis ▸ Methods* and the analyzer specs;
- ``SimilarityController`` (similarity_control.py): similar tracks, map, playlists;
- ``TagController`` (tag_control.py): hand-given tags and their suggestions;
- ``ExportController`` (export_control.py): results and PNG exports;
- ``EditController`` (edit_control.py): the *Edit* menu, correcting notes, beats, f0 and
  key, undo, saving;
- ``PlaybackController`` (playback_control.py): playback, loop, hearing the notes;
- ``LibraryActions`` (library_table.py): the table's context menu;
- view_settings.py: the view as the user left it.

Background work goes to the track loader thread (``loader``) and the library task thread
(``tasks``), each call with its own callbacks (``TaskRunner.submit``); views subscribe to
model signals, the model never knows the views; the analysis runs in the worker process
through ``AnalysisBridge``. The window keeps thin methods for what tests and scripts call.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QLabel, QLineEdit, QMainWindow,
                               QProgressBar, QPushButton, QSplitter, QTableView, QTabWidget,
                               QVBoxLayout, QWidget)

from workstation.library import Library

from .analysis_control import AnalysisController
from .collection_control import CollectionController
from .edit_control import EditController
from .compare_panel import ComparePanel
from .export_control import ExportController
from .info_panel import InfoPanel
from .library_model import COL_TITLE, LibraryModel, TrackFilterProxy
from .library_table import LibraryActions, setup_columns
from .method_menus import MethodMenus, method_of, specs_with_methods
from .playback import Playback
from .playback_control import PlaybackController
from .references import ReferenceController
from .settings import Settings
from .similarity_control import SearchHandle, SimilarityController, embedding_spec
from .similarity_panel import CollectionMap, SimilarityPanel
from .state import SessionState
from .tag_control import TagController
from .track_control import TrackController
from .track_view import IMAGE_MODES, MODE_LABELS, TrackView
from .view_settings import restore_view_settings, save_view_settings
from .worker_bridge import AnalysisBridge, TaskRunner

log = logging.getLogger(__name__)

ANNOTATION_FILTER = ("Annotations (*.jams *.mid *.midi *.csv *.lab *.txt *.tsv *.notes *.beats *.f0)"
                     ";;All files (*)")


class MainWindow(QMainWindow):
    """The workstation window over the library at ``library_root``."""

    def __init__(self, library_root: str | Path | None = None, *, settings: Settings | None = None,
                 device: str | None = None, auto_analyse: bool | None = None,
                 playback: bool = True):
        super().__init__()
        self.settings = settings or Settings()
        self.library_root = Path(library_root) if library_root else self.settings.library_root
        self.library = Library.open(self.library_root)
        self.search = SearchHandle(self.library)  # SimilaritySearch, created on the task thread
        self.state = SessionState()   # the shown track, references, edits, specs, run progress
        self.set_specs(specs_with_methods(self.settings))
        self.auto_analyse = self.settings.auto_analyse if auto_analyse is None else auto_analyse

        self.setWindowTitle(f"Workstation — {self.library_root}")
        self.setAcceptDrops(True)
        self.model = LibraryModel(self)
        self.proxy = TrackFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = TrackView()
        self.info = InfoPanel()
        self.compare = ComparePanel()
        self.similar_panel = SimilarityPanel()
        self.map = CollectionMap()
        self.playback = Playback(self, enabled=playback)
        self.loader = TaskRunner("workstation-track-loader", self)
        self.tasks = TaskRunner("workstation-library-tasks", self)
        self.bridge = AnalysisBridge(self.library_root, device=device or self.settings.device,
                                     parent=self)
        self._build_ui()
        self.collection_control = CollectionController(self)
        self.track_control = TrackController(self)
        self.analysis_control = AnalysisController(self)
        self.method_menus = MethodMenus(self)
        self.similarity_control = SimilarityController(self, self.search)
        self.tag_control = TagController(self, self.search)
        self.export_control = ExportController(self)
        self.playback_control = PlaybackController(self)
        self._build_actions()
        self.edit_control = EditController(self)     # the Edit menu, before Analysis
        self.library_actions = LibraryActions(self)  # the table's context menu and Delete
        self.menu_analysis.addSeparator()            # listed in a menu, so F1 shows Delete too
        self.menu_analysis.addAction(self.library_actions.act_remove)
        self.reference_control = ReferenceController(self)  # open, remember, reload, clear
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.loader.failed.connect(self._task_failed)
        self.tasks.failed.connect(self._task_failed)
        geo = self.settings.geometry()
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 860)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        restore_view_settings(self)
        if not self.playback.available:
            self.status(self.playback.reason)
        self.refresh()
        self.request_map()

    # ------------------------------------------------------------------ layout
    def _build_ui(self) -> None:
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: words, key:Am, tempo:100-130 …")
        self.filter_edit.setToolTip("Words must all appear (title, artist, key, tags, status, file name);\n"
                                    "key:X keeps keys starting with X (key:A, key:Am, key:\"Eb major\");\n"
                                    "tempo:A-B (or bpm:A-B) keeps tempi in a range (tempo:120- for 120 and up).")
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
        setup_columns(self.table)  # user-resizable, widths remembered (library_table.py)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(4, 4, 0, 0)
        ll.addWidget(self.filter_edit)
        ll.addWidget(self.table)
        self.left_split = QSplitter(Qt.Orientation.Vertical)
        self.left_split.addWidget(left)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.info, "Info")
        self.side_tabs.addTab(self.compare, "Compare")
        self.side_tabs.addTab(self.similar_panel, "Similar")
        self.side_tabs.addTab(self.map, "Map")
        self.left_split.addWidget(self.side_tabs)
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

    # ------------------------------------------------------------------ actions
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
        coll, ex = self.collection_control, self.export_control
        f = mb.addMenu("&File")
        self.act_open_folder = self._action(f, "Open &folder…", coll.open_folder_dialog, "Ctrl+O")
        self.act_open_file = self._action(f, "Open f&ile…", coll.open_file_dialog, "Ctrl+Shift+O")
        self.recent_menu = f.addMenu("Recent collections")
        coll.fill_recent()
        f.addSeparator()
        self.act_open_annotation = self._action(f, "Open &annotation…", self.open_annotation_dialog,
                                                "Ctrl+L")
        self.act_clear_annotation = self._action(f, "C&lose annotation", self.clear_annotation)
        f.addSeparator()
        self.act_export = self._action(f, "&Export…", ex.export_dialog, "Ctrl+E")
        self.act_export_png = self._action(f, "Export view as &PNG…", ex.export_png_dialog,
                                           "Ctrl+Shift+E")
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        an = self.menu_analysis = mb.addMenu("&Analysis")
        self.act_analyse_all = self._action(an, "Analyse &all", lambda: self.analyse(None))
        self.act_analyse_sel = self._action(an, "Analyse &selection",
                                            lambda: self.analyse(self.selected_track_ids()))
        self.act_reanalyse = self._action(an, "&Re-analyse selection",
                                          lambda: self.analyse(self.selected_track_ids(), force=True))
        self.analysis_control.build_cluster_menu(an)
        an.addSeparator()
        self.method_menus.build(an)
        tm = mb.addMenu("&Tags")
        tags = self.tag_control
        self.act_add_tag = self._action(tm, "&Add tag to selection…", tags.add_tag_dialog, "Ctrl+T")
        self.act_remove_tag = self._action(tm, "&Remove tag from selection…", tags.remove_tag_dialog,
                                           "Ctrl+Shift+T")
        tm.addSeparator()
        self.act_suggest_tags = self._action(tm, "&Suggest tags from my tags…", tags.suggest_tags)
        pm = mb.addMenu("&Playback")
        play = self.playback_control
        self.act_play = self._action(pm, "&Play / pause", play.toggle_playback, "Space")
        self.act_loop = self._action(pm, "&Loop the visible range", play.loop_visible, "L")
        self.act_clear_loop = self._action(pm, "&Clear the loop", play.clear_loop, "Shift+L")
        self.act_hear_notes = self._action(pm, "Hear the &notes with the audio", play.set_hear_notes, "N")
        self.act_hear_notes.setCheckable(True)
        v = mb.addMenu("&View")
        self._action(v, "Zoom &in", lambda: self.view.zoom(1.5), "+")
        self._action(v, "Zoom in", lambda: self.view.zoom(1.5), "=")
        self._action(v, "Zoom &out", lambda: self.view.zoom(1 / 1.5), "-")
        self._action(v, "Scroll &left", lambda: self.view.scroll(-0.25), "Left")
        self._action(v, "Scroll &right", lambda: self.view.scroll(0.25), "Right")
        v.addSeparator()
        for i, mode in enumerate(IMAGE_MODES):
            self._action(v, MODE_LABELS[mode], lambda _=False, m=mode: self.view.set_image_mode(m),
                         f"Ctrl+{i + 1}")
        v.addSeparator()
        self._action(v, "Show &reference layers", lambda: self.view.set_references_visible(
            not self.view.ref_box.isChecked()), "R")
        hm = mb.addMenu("&Help")
        self.act_shortcuts = self._action(hm, "&Keyboard shortcuts…", self.show_shortcuts, "F1")
        self.act_models = self._action(hm, "&Models and licences…", self.show_models_dialog)
        self.act_about = self._action(hm, "&About the Workstation…", self.show_about)

    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts (F1): every shortcut, read from the menus."""
        from .help_dialog import ShortcutsDialog
        ShortcutsDialog(self.menuBar(), self).exec()

    def show_about(self) -> None:
        """Help ▸ About: version, runtime, library folder, models and licences."""
        from PySide6.QtWidgets import QMessageBox

        from .help_dialog import about_text
        QMessageBox.about(self, "About the Workstation", about_text(str(self.library.root)))

    def show_models_dialog(self) -> None:
        """Help ▸ Models and licences: the manifest's models, their licences and users."""
        from .models_dialog import ModelsDialog
        ModelsDialog(self).exec()

    def open_annotation_dialog(self) -> None:
        """File ▸ Open annotation (Ctrl+L): a reference annotation of the shown track."""
        if self.current_track_id is None:
            self.status("Select a track first, then open its annotation")
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open an annotation of this track", "",
                                              ANNOTATION_FILTER)
        if path:
            self.open_annotation(path)

    def dragEnterEvent(self, ev) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if paths:
            ev.acceptProposedAction()
            self.collection_control.open_dropped(paths)

    # ------------------------------------------------------------------ window state
    @property
    def current_track_id(self) -> int | None:
        """The shown track (``state.track_id``)."""
        return self.state.track_id

    @current_track_id.setter
    def current_track_id(self, track_id: int | None) -> None:
        self.state.set_track(track_id)

    @property
    def references(self) -> dict[int, tuple[dict, str]]:
        """Loaded reference annotations per track id: (results by analyzer id, file path)
        (``state.references``; change them through ``state.set_reference`` /
        ``drop_reference``)."""
        return self.state.references

    @property
    def specs(self) -> list:
        return self.state.specs

    def set_specs(self, specs) -> None:
        """The analyzers the window runs and shows (AnalyzerSpec list, dependencies included);
        a similarity search made from now on uses their embedding."""
        self.state.set_specs(specs)
        self.analyzer_keys = [s.build().result_key for s in self.specs]
        self.search.embedding = embedding_spec(self.specs)

    def status(self, text: str) -> None:
        self.status_label.setText(text)

    def _task_failed(self, tag: str, message: str) -> None:
        """A background task without its own error callback failed."""
        self.status(f"{tag} failed: {message}")

    def selected_track_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return [self.proxy.track_id(i.row()) for i in rows]

    def select_track(self, track_id: int) -> bool:
        """Select (and so show) a track's row; False when it is not listed."""
        src = self.model.index_for(track_id)
        idx = self.proxy.mapFromSource(src)
        if not idx.isValid():
            return False
        self.table.selectionModel().setCurrentIndex(
            idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(idx)
        return True

    # ------------------------------------------------------------------ the controllers' work
    # thin entry points to what other parts, tests and scripts call on the window; the rest
    # is reached through the controllers (``window.export_control.export_png(...)``)
    def refresh(self) -> None:
        """Reload every row (library task thread)."""
        self.collection_control.refresh()

    def refresh_rows(self, track_ids: list[int]) -> None:
        self.collection_control.refresh_rows(track_ids)

    def open_paths(self, paths) -> None:
        """Catalogue folders and files (in the background), then show and analyse them."""
        self.collection_control.open_paths(paths)

    def load_track(self, track_id: int) -> None:
        """Show a track: results and display features are prepared on the loader thread."""
        self.track_control.load_track(track_id)

    def open_annotation(self, path: str | Path) -> bool:
        """Read an annotation file (task thread) as reference layers of the shown track;
        a file that cannot be used is reported in a dialog (``references``)."""
        return self.reference_control.open(path)

    def clear_annotation(self) -> None:
        """Drop the shown track's reference and forget its file."""
        self.reference_control.clear()

    def analyse(self, track_ids=None, *, force: bool = False) -> bool:
        """Analyse ``track_ids`` (None: all) in the worker process; False when busy."""
        return self.analysis_control.analyse(track_ids, force=force)

    def method_of(self, analyzer_id: str) -> str:
        return method_of(self.settings, analyzer_id)

    def specs_with_methods(self):
        """The default analyzers with the methods chosen in *Analysis ▸ Methods* (remembered)."""
        return specs_with_methods(self.settings)

    def set_method(self, analyzer_id: str, method: str) -> None:
        self.method_menus.set_method(analyzer_id, method)

    def apply_preset(self, name: str) -> None:
        self.method_menus.apply_preset(name)

    @property
    def method_actions(self) -> dict[tuple[str, str], QAction]:
        return self.method_menus.actions

    def similarity(self):
        """The collection's SimilaritySearch (created lazily; call only on the task thread)."""
        return self.search.get()

    def request_similar(self, *, region: bool = False) -> None:
        """Ask for the tracks similar to the shown track (or to its loop region)."""
        self.similarity_control.request_similar(region=region)

    def request_map(self) -> None:
        self.similarity_control.request_map()

    def make_playlist(self, mode: str, length: int, path: str | Path) -> int:
        """Write a playlist of ``length`` tracks from the shown track (task thread)."""
        return self.similarity_control.make_playlist(mode, length, path)

    @property
    def _similar_for(self) -> int | None:
        return self.similarity_control.similar_for

    @_similar_for.setter
    def _similar_for(self, track_id: int | None) -> None:
        self.similarity_control.similar_for = track_id

    def tag_tracks(self, track_ids, tag: str, *, remove: bool = False) -> int:
        """Give (or take away) a hand-given tag to tracks (task thread; rows refresh)."""
        return self.tag_control.tag_tracks(track_ids, tag, remove=remove)

    def suggest_tags(self) -> int:
        """Propose the hand-given tags for the other tracks (the *Suggested tags* dialog)."""
        return self.tag_control.suggest_tags()

    @property
    def tag_dialog(self):
        """The last *Suggested tags* dialog (None before the first)."""
        return self.tag_control.dialog

    def export_tracks(self, track_ids: list[int], out_dir: str | Path, formats, *,
                      midi_grid: int = 0) -> int | None:
        """Write the stored results of ``track_ids`` as ``formats`` into ``out_dir``
        (``ExportController.export_tracks``); the task ticket (None: only a PNG)."""
        return self.export_control.export_tracks(track_ids, out_dir, formats, midi_grid=midi_grid)

    def export_current(self, path: str | Path) -> int | None:
        """Export the shown track to ``path`` in the format its suffix names."""
        return self.export_control.export_current(path)

    @property
    def last_export(self) -> list[str]:
        """The paths the last results export wrote."""
        return self.export_control.last_export

    @last_export.setter
    def last_export(self, paths: list[str]) -> None:
        self.export_control.last_export = list(paths)

    def toggle_playback(self) -> None:
        self.playback_control.toggle_playback()

    def clear_loop(self) -> None:
        self.playback_control.clear_loop()

    def set_hear_notes(self, on: bool) -> None:
        """Play the track with its notes synthesised over it (N), or the track alone."""
        self.playback_control.set_hear_notes(on)

    @property
    def last_notice(self):
        """The last "nothing will play" dialog (None before the first)."""
        return self.playback_control.last_notice

    # ------------------------------------------------------------------ shutdown
    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop the analysis and the loader threads, close the library (idempotent)."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        if hasattr(self, "edit_control"):
            self.edit_control.close()                # unsaved edits first
        self.export_control.close()
        self.playback.stop()
        self.bridge.shutdown(timeout)
        self.loader.stop(timeout)
        self.tasks.stop(timeout)
        self.library.close()

    def closeEvent(self, ev) -> None:
        save_view_settings(self)
        self.settings.set_geometry(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(ev)
