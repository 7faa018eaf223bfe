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
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFileDialog,
                               QLabel, QLineEdit, QMainWindow, QProgressBar, QPushButton,
                               QSplitter, QTableView, QTabWidget, QVBoxLayout, QWidget)

from workstation.analysis.jobs import specs_for
from workstation.library import Library

from .compare_panel import ComparePanel
from .export_dialog import ExportDialog
from .info_panel import InfoPanel
from .library_model import COL_TITLE, LibraryModel, TrackFilterProxy, load_rows
from .library_table import LibraryActions, restore_column_widths, save_column_widths, setup_columns
from .playback import Playback, show_no_audio_dialog
from .references import TAGS as REFERENCE_TAGS
from .references import ReferenceController
from .settings import Settings
from .similarity_panel import CollectionMap, SimilarityPanel
from .track_loader import display_image, load_track_data
from .track_view import TrackView
from .worker_bridge import AnalysisBridge, TaskRunner

log = logging.getLogger(__name__)

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.aif *.aiff);;All files (*)"
ANNOTATION_EXTENSIONS = (".jams", ".jamz", ".mid", ".midi", ".csv", ".lab", ".txt", ".tsv",
                         ".notes", ".beats", ".f0")
ANNOTATION_FILTER = ("Annotations (*.jams *.mid *.midi *.csv *.lab *.txt *.tsv *.notes *.beats *.f0)"
                     ";;All files (*)")


def _compare(track_id: int, estimates: dict, references: dict):
    """mir_eval figures of the estimates against the references (task thread)."""
    from workstation.analysis.compare import COMPARISONS, compare_results
    missing = [k for k in references if k in COMPARISONS and k not in estimates]
    return track_id, compare_results(estimates, references), missing


def _notes_mix(library, track, notes) -> tuple[int, str]:
    """Render the track with its notes synthesised over it to a WAV in the library's cache
    (task thread); (track id, path)."""
    from workstation.export.sonify import write_notes_mix
    out = Path(library.root) / "cache" / "playback" / f"{track.content_hash}-notes.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_notes_mix(out, track.path, notes)
    return track.id, str(out)


def _similar(window, track_id: int, k: int, region: tuple[float, float] | None):
    """Similar tracks to a track or a region of it (task thread); (track id, results, title,
    seconds, error message)."""
    import time as _time

    from workstation.analysis.similarity import Region, SimilarityError
    t0 = _time.perf_counter()
    search = window.similarity()
    seed = Region(track_id, *region) if region else track_id
    try:
        results = search.similar(seed, k=k)
    except SimilarityError as e:
        return track_id, [], "", 0.0, str(e)
    m = search.meta(track_id)
    title = (m.title or Path(m.path).stem) + (f" ({region[0]:.1f}-{region[1]:.1f} s)" if region else "")
    return track_id, results, title, _time.perf_counter() - t0, ""


def _collection_map(window):
    """(track ids, 2-D points, titles by id) of the analysed collection (task thread)."""
    search = window.similarity()
    search.sync()
    ids, xy = search.map_2d()
    titles = {}
    for tid in ids.tolist():
        try:
            m = search.meta(int(tid))
            titles[int(tid)] = f"{m.title or Path(m.path).stem} — {m.artist or Path(m.path).name}"
        except Exception:  # noqa: BLE001 - a track removed meanwhile: no title
            titles[int(tid)] = f"track {tid}"
    return ids, xy, titles


def _make_playlist(window, track_id: int, mode: str, length: int, path: str) -> str:
    """A playlist from one seed, written to ``path`` (.m3u8 or .json) on the task thread."""
    from workstation.export.playlist import write_playlist
    items = window.similarity().playlist([track_id], length=length, mode=mode)
    write_playlist(path, items, relative=True)
    return f"{len(items)} tracks to {path}"


def _edit_user_tags(window, pairs: list[tuple[int, str]], remove: bool):
    """Add (or remove) hand-given tags, (track id, tag) pairs, on the task thread; returns
    (track ids touched, number of changes, remove)."""
    lib = window.library
    changed = 0
    for tid, tag in pairs:
        changed += bool(lib.remove_user_tag(tid, tag) if remove else lib.add_user_tag(tid, tag))
    ids = sorted({int(t) for t, _ in pairs})
    if window._search is not None:
        window._search.forget_meta(ids)
    return ids, changed, remove


def _suggest_tags(window):
    """Tag proposals for the collection (task thread): ([(track id, title, tag, score)], error)."""
    from workstation.analysis.tagging import TaggingError, propose_tags
    search = window.similarity()
    try:
        search.sync()
        proposals = propose_tags(window.library, embedding=search.spec)
    except TaggingError as e:
        return [], str(e)
    out = []
    for p in proposals:
        try:
            m = search.meta(p.track_id)
            title = m.title or Path(m.path).stem
        except Exception:  # noqa: BLE001 - a track removed meanwhile
            continue
        out.append((p.track_id, title, p.tag, float(p.score)))
    return out, ""


def _export_one(library, specs, track_id: int, path: str, fmt: str) -> list[str]:
    """Write one track's stored results to ``path`` as ``fmt`` (task thread)."""
    from workstation.analysis.results import load_results, provenance, with_edits
    from workstation.export.batch import write_notes_midi, write_results
    t = library.track(track_id)
    p = Path(path)
    results, made = with_edits(library, t, load_results(library, t, specs), provenance(specs))
    if fmt == "midi":   # to the very path asked for (.mid or .midi)
        return [str(write_notes_midi(p, results, made))] if "notes" in results else []
    written = write_results(p.parent, p.stem, results, [fmt], duration_s=t.duration_s,
                            title=t.title, artist=t.artist, audio_path=t.path, provenance=made)
    return [str(x) for x in written]


def _export_tracks(library, specs, track_ids: list[int], out_dir: str, formats: list[str],
                   midi_grid: int = 0) -> list[str]:
    """Write the stored results of each track in ``formats`` (task thread; ``midi_grid``: see
    ``write_results``); the paths written."""
    from workstation.analysis.results import load_results, provenance, with_edits
    from workstation.export.batch import export_stems, write_results
    written: list[str] = []
    made = provenance(specs)
    tracks = [t for t in (library.track(tid) for tid in track_ids) if t is not None and t.status == "ok"]
    stems = export_stems([t.path for t in tracks], [f"track{t.id}" for t in tracks])
    for t, stem in zip(tracks, stems):
        results, made_t = with_edits(library, t, load_results(library, t, specs), made)
        written += [str(p) for p in write_results(out_dir, stem, results,
                                                  formats, duration_s=t.duration_s, title=t.title,
                                                  artist=t.artist, audio_path=t.path,
                                                  provenance=made_t, midi_grid=midi_grid)]
    return written


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
        self.set_specs(self.specs_with_methods())
        self.auto_analyse = self.settings.auto_analyse if auto_analyse is None else auto_analyse
        self.current_track_id: int | None = None
        self._tickets: dict[str, int] = {}
        #: Loaded reference annotations per track id: (results by analyzer id, file path).
        self.references: dict[int, tuple[dict, str]] = {}
        self.last_export: list[str] = []
        self._run = {"jobs": 0, "finished": 0, "failed": 0, "fraction": 0.0, "first_error": ""}

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
        self._search = None  # SimilaritySearch, created on the task thread
        self.tag_dialog = None  # the last *Suggested tags* dialog
        self.playback = Playback(self, enabled=playback)
        self.loader = TaskRunner("workstation-track-loader", self)
        self.tasks = TaskRunner("workstation-library-tasks", self)
        self.bridge = AnalysisBridge(self.library_root, device=device or self.settings.device,
                                     parent=self)
        self._build_ui()
        self._build_actions()
        self.library_actions = LibraryActions(self)  # the table's context menu and Delete
        self.menu_analysis.addSeparator()            # listed in a menu, so F1 shows Delete too
        self.menu_analysis.addAction(self.library_actions.act_remove)
        self.reference_control = ReferenceController(self)  # open, remember, reload, clear
        self._connect()
        geo = self.settings.geometry()
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 860)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        self._restore_view_settings()
        if not self.playback.available:
            self.status(self.playback.reason)
        self.refresh()
        self.request_map()

    # ------------------------------------------------------------------ UI
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
        self.act_open_annotation = self._action(f, "Open &annotation…", self.open_annotation_dialog,
                                                "Ctrl+L")
        self.act_clear_annotation = self._action(f, "C&lose annotation", self.clear_annotation)
        f.addSeparator()
        self.act_export = self._action(f, "&Export…", self.export_dialog, "Ctrl+E")
        self.act_export_png = self._action(f, "Export view as &PNG…", self.export_png_dialog,
                                           "Ctrl+Shift+E")
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        an = self.menu_analysis = mb.addMenu("&Analysis")
        self.act_analyse_all = self._action(an, "Analyse &all", lambda: self.analyse(None))
        self.act_analyse_sel = self._action(an, "Analyse &selection",
                                            lambda: self.analyse(self.selected_track_ids()))
        self.act_reanalyse = self._action(an, "&Re-analyse selection",
                                          lambda: self.analyse(self.selected_track_ids(), force=True))
        an.addSeparator()
        self._build_method_menus(an)
        tm = mb.addMenu("&Tags")
        self.act_add_tag = self._action(tm, "&Add tag to selection…", self.add_tag_dialog, "Ctrl+T")
        self.act_remove_tag = self._action(tm, "&Remove tag from selection…", self.remove_tag_dialog,
                                           "Ctrl+Shift+T")
        tm.addSeparator()
        self.act_suggest_tags = self._action(tm, "&Suggest tags from my tags…", self.suggest_tags)
        pm = mb.addMenu("&Playback")
        self.act_play = self._action(pm, "&Play / pause", self.toggle_playback, "Space")
        self.act_loop = self._action(pm, "&Loop the visible range", self.loop_visible, "L")
        self.act_clear_loop = self._action(pm, "&Clear the loop", self.clear_loop, "Shift+L")
        self.act_hear_notes = self._action(pm, "Hear the &notes with the audio", self.set_hear_notes, "N")
        self.act_hear_notes.setCheckable(True)
        v = mb.addMenu("&View")
        self._action(v, "Zoom &in", lambda: self.view.zoom(1.5), "+")
        self._action(v, "Zoom in", lambda: self.view.zoom(1.5), "=")
        self._action(v, "Zoom &out", lambda: self.view.zoom(1 / 1.5), "-")
        self._action(v, "Scroll &left", lambda: self.view.scroll(-0.25), "Left")
        self._action(v, "Scroll &right", lambda: self.view.scroll(0.25), "Right")
        v.addSeparator()
        from .track_view import IMAGE_MODES, MODE_LABELS
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
        self.playback.unavailable.connect(self._hear_notes_silent)
        self.view.cursor_moved.connect(self.playback.seek)
        self.view.image_requested.connect(self._on_image_requested)
        self.similar_panel.open_track.connect(self.select_track)
        self.similar_panel.query_changed.connect(lambda: self.request_similar())
        self.similar_panel.region_query.connect(lambda: self.request_similar(region=True))
        self.similar_panel.playlist_requested.connect(self.playlist_dialog)
        self.map.track_clicked.connect(self.select_track)
        self.playback.loop_changed.connect(self.view.show_loop)
        self.view.loop_region.sigRegionChangeFinished.connect(self._on_loop_dragged)

    # ------------------------------------------------------------------ analyzer methods
    @staticmethod
    def _method_analyzers() -> dict:
        """Analyzers offering several methods (a ``methods`` class attribute and a ``method``
        parameter), by id."""
        from workstation.analysis.base import registry
        return {aid: cls for aid, cls in registry().items()
                if getattr(cls, "methods", None) and "method" in getattr(cls, "default_params", {})}

    def method_of(self, analyzer_id: str) -> str:
        cls = self._method_analyzers()[analyzer_id]
        m = str(self.settings.get(f"analysis/method/{analyzer_id}", cls.default_params["method"]))
        return m if m in cls.methods else cls.default_params["method"]

    def specs_with_methods(self):
        """The default analyzers with the methods chosen in *Analysis ▸ Methods* (remembered)."""
        from workstation.analysis.jobs import AnalyzerSpec
        chosen = {aid: self.method_of(aid) for aid in self._method_analyzers()}
        return [AnalyzerSpec(s.id, (("method", chosen[s.id]),)) if s.id in chosen else s
                for s in specs_for()]

    def _build_method_menus(self, menu) -> None:
        from PySide6.QtGui import QActionGroup
        self.method_actions: dict[tuple[str, str], QAction] = {}
        analyzers = self._method_analyzers()
        if not analyzers:
            return
        mm = menu.addMenu("&Methods")
        for aid, cls in sorted(analyzers.items()):
            sub = mm.addMenu(aid)
            group = QActionGroup(self)
            group.setExclusive(True)
            for m in cls.methods:
                label = m + (" (default)" if m == cls.default_params["method"] else "")
                a = QAction(label, self, checkable=True)
                a.setChecked(m == self.method_of(aid))
                a.triggered.connect(lambda _=False, aid=aid, m=m: self.set_method(aid, m))
                group.addAction(a)
                sub.addAction(a)
                self.method_actions[(aid, m)] = a
        from workstation.analysis.jobs import PRESETS
        pm = mm.addMenu("&Preset")
        for name, methods in PRESETS.items():
            what = ", ".join(f"{k} {v}" for k, v in methods.items()) or "every default"
            a = QAction(f"{name} ({what})", self)
            a.triggered.connect(lambda _=False, name=name: self.apply_preset(name))
            pm.addAction(a)

    def apply_preset(self, name: str) -> None:
        """Every analyzer's method as speed preset ``name`` says (``analysis.jobs.PRESETS``;
        analyzers it does not name get their default), remembered like single choices."""
        from workstation.analysis.jobs import PRESETS
        methods = PRESETS[name]
        for aid, cls in self._method_analyzers().items():
            m = methods.get(aid, cls.default_params["method"])
            self.settings.set(f"analysis/method/{aid}", m)
            a = self.method_actions.get((aid, m))
            if a is not None and not a.isChecked():
                a.setChecked(True)
        self._methods_changed(f"preset {name}")

    def set_method(self, analyzer_id: str, method: str) -> None:
        """Use ``method`` for ``analyzer_id`` from now on: rows and views show its results
        (where computed); *Analyse* computes what is missing."""
        cls = self._method_analyzers()[analyzer_id]
        if method not in cls.methods:
            raise ValueError(f"{analyzer_id}: method {method!r}; one of {cls.methods}")
        self.settings.set(f"analysis/method/{analyzer_id}", method)
        a = self.method_actions.get((analyzer_id, method))
        if a is not None and not a.isChecked():
            a.setChecked(True)
        self._methods_changed(f"{analyzer_id}: {method}")

    def _methods_changed(self, what: str) -> None:
        self.set_specs(self.specs_with_methods())
        self._search = None              # the similarity search follows the chosen embedding
        self.refresh()
        if self.current_track_id is not None:
            self.load_track(self.current_track_id)
        self.status(f"{what}. Analyse (all or selection) to compute what is missing")
        if self.auto_analyse:
            self.analyse(None)

    # ------------------------------------------------------------------ similarity
    def similarity(self):
        """The collection's SimilaritySearch (created lazily; call only on the task thread)."""
        if self._search is None:
            from workstation.analysis.jobs import AnalyzerSpec
            from workstation.analysis.similarity import SimilaritySearch
            spec = next((sp for sp in self.specs if sp.id == "embedding"), AnalyzerSpec("embedding"))
            self._search = SimilaritySearch(self.library, embedding=spec)
        return self._search

    def request_similar(self, *, region: bool = False) -> None:
        """Ask for the tracks similar to the shown track (or to its loop region)."""
        tid = self.current_track_id
        if tid is None:
            return
        loop = self.playback.loop if region else None
        if region and loop is None:
            self.status("Set a loop region first (L loops the visible range)")
            return
        self._similar_for = tid
        self.tasks.drop_pending("similar")
        self._submit(self.tasks, "similar", _similar, self, tid, self.similar_panel.k.value(), loop)

    def request_map(self) -> None:
        self.tasks.drop_pending("map")
        self._submit(self.tasks, "map", _collection_map, self)

    def playlist_dialog(self, mode: str, length: int) -> None:
        if self.current_track_id is None:
            self.status("Select a track to start a playlist from")
            return
        from workstation.export.batch import safe_stem
        folder = self.settings.get("export/folder", "") or str(Path.home())
        row = self.model.row_for(self.current_track_id)
        name = safe_stem(row.path if row else "playlist")
        path, _ = QFileDialog.getSaveFileName(self, "Export the playlist",
                                              str(Path(folder) / f"{name}-{mode}.m3u8"),
                                              "M3U8 playlist (*.m3u8);;JAMS playlist (*.json)")
        if path:
            self.make_playlist(mode, length, path)

    def make_playlist(self, mode: str, length: int, path: str | Path) -> int:
        """Write a playlist of ``length`` tracks from the shown track (task thread)."""
        return self._submit(self.tasks, "playlist", _make_playlist, self, self.current_track_id,
                            mode, int(length), str(path))

    # ------------------------------------------------------------------ hand-given tags
    def add_tag_dialog(self) -> None:
        ids = self.selected_track_ids()
        if not ids:
            self.status("Select the tracks to tag first")
            return
        from PySide6.QtWidgets import QInputDialog
        known = sorted(self.library.user_tag_counts())
        tag, ok = QInputDialog.getItem(self, "Add tag", f"Tag for {len(ids)} track(s):", known, 0, True)
        if ok and tag.strip():
            self.tag_tracks(ids, tag)

    def remove_tag_dialog(self) -> None:
        ids = self.selected_track_ids()
        present = sorted({tag for tid in ids for _, tag in self.library.user_tags(tid)})
        if not present:
            self.status("The selected tracks have no tags given by hand")
            return
        from PySide6.QtWidgets import QInputDialog
        tag, ok = QInputDialog.getItem(self, "Remove tag", f"Tag to remove from {len(ids)} track(s):",
                                       present, 0, False)
        if ok and tag:
            self.tag_tracks(ids, tag, remove=True)

    def tag_tracks(self, track_ids, tag: str, *, remove: bool = False) -> int:
        """Give (or take away) a hand-given tag to tracks (task thread; rows refresh)."""
        tag = self.library.normalize_tag(tag)
        # every edit counts (not superseded by the next one): no ticket is recorded
        return self.tasks.submit("user_tags", _edit_user_tags, self, [(int(t), tag) for t in track_ids],
                                 remove)

    def apply_tag_pairs(self, pairs) -> int:
        """Add hand-given tags, (track id, tag) pairs (the accepted suggestions)."""
        return self.tasks.submit("user_tags", _edit_user_tags, self,
                                 [(int(t), str(g)) for t, g in pairs], False)

    def suggest_tags(self) -> int:
        """Propose the hand-given tags for the other tracks (embedding prototypes); the
        *Suggested tags* dialog opens with the result."""
        self.status("Looking for tracks like the ones you tagged…")
        return self._submit(self.tasks, "suggest_tags", _suggest_tags, self)

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
            notes = [p for p in paths if Path(p).suffix.lower() in ANNOTATION_EXTENSIONS
                     and Path(p).is_file()]
            audio = [p for p in paths if p not in notes]
            for p in notes:
                self.open_annotation(p)
            if audio:
                self.open_paths(audio)

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
        self.map.mark(track_id)
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
            self.request_map()
            if self.auto_analyse:
                self.analyse(None)
        elif tag == "track":
            if result.track.id != self.current_track_id:
                return
            self.view.set_data(result)
            self.info.set_data(result)
            self.reference_control.track_shown(result.track.id)
            self._request_compare()
            if result.track.id != getattr(self, "_similar_for", None):
                self.request_similar()
            self.playback.load(result.track.path if result.track.status == "ok" else None)
            self.view.show_loop(self.playback.loop)
            if self.act_hear_notes.isChecked():
                self.set_hear_notes(True)
            log.debug("track %s loaded in %s s", result.track.id, result.timings.get("total_s"))
            self.status(f"{result.track.title or Path(result.track.path).name}")
        elif tag == "export":
            self.last_export = list(result)
            self.status(f"Exported {len(result)} files" + (f" to {Path(result[0]).parent}" if result else ""))
        elif tag == "similar":
            track_id, results, title, secs, error = result
            if track_id == self.current_track_id:
                if error:
                    self.similar_panel.clear(error)
                else:
                    self.similar_panel.set_results(results, title, secs)
        elif tag == "map":
            ids, xy, titles = result
            self.map.set_points(ids, xy, titles)
            self.map.mark(self.current_track_id)
        elif tag == "user_tags":
            ids, changed, remove = result
            self.refresh_rows(ids)
            self.status(f"{'Removed' if remove else 'Added'} {changed} tag(s) on {len(ids)} track(s)")
            if self.current_track_id in ids:
                self._similar_for = None
                self.request_similar()
        elif tag == "suggest_tags":
            from .tag_dialog import TagSuggestionsDialog
            proposals, error = result
            self.tag_dialog = TagSuggestionsDialog(proposals, self, message=error)
            self.tag_dialog.applied.connect(self.apply_tag_pairs)
            self.tag_dialog.open()
            self.status(error or f"{len(proposals)} tag suggestions")
        elif tag == "playlist":
            self.status(f"Playlist: {result}")
        elif tag == "png_track":
            data, out_dir = result
            self._render_png(data, Path(out_dir))
        elif tag == "remove_tracks":
            self.library_actions.removed(result)
        elif tag == "notes_mix":
            track_id, path = result
            if self._hear_notes_silent():
                return
            if track_id == self.current_track_id and self.act_hear_notes.isChecked():
                self.playback.set_source_override(path)
                self.status("Playing the audio with the notes synthesised over it")
        elif tag == "image":
            track_id, img = result
            if track_id == self.current_track_id and self.view.data is not None:
                self.view.set_image(img)
        elif tag in REFERENCE_TAGS:
            self.reference_control.answered(result)
        elif tag == "compare":
            track_id, figures, missing = result
            if track_id == self.current_track_id:
                _, source = self.references.get(track_id, ({}, ""))
                self.compare.set_figures(figures, source, missing)

    def _on_task_error(self, tag: str, ticket: int, message: str) -> None:
        if tag in self._tickets and ticket != self._tickets[tag]:
            return
        if tag == "image":
            self.view.message.setText(f"cannot compute the image: {message}")
        self.status(f"{tag} failed: {message}")

    # ------------------------------------------------------------------ images, annotations
    def _on_image_requested(self, mode: str, harmonic: float) -> None:
        if self.current_track_id is None or self.view.data is None:
            return
        self.loader.drop_pending("image")
        self._submit(self.loader, "image", lambda t, m, h: (t.id, display_image(self.library, t, m, harmonic=h or 1.0)),
                     self.view.data.track, mode, harmonic)

    def open_annotation_dialog(self) -> None:
        if self.current_track_id is None:
            self.status("Select a track first, then open its annotation")
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open an annotation of this track", "",
                                              ANNOTATION_FILTER)
        if path:
            self.open_annotation(path)

    def open_annotation(self, path: str | Path) -> bool:
        """Read an annotation file (task thread) as reference layers of the shown track;
        a file that cannot be used is reported in a dialog (``references``)."""
        return self.reference_control.open(path)

    def clear_annotation(self) -> None:
        """Drop the shown track's reference and forget its file."""
        self.reference_control.clear()

    def _request_compare(self) -> None:
        tid = self.current_track_id
        refs, _ = self.references.get(tid, ({}, "")) if tid is not None else ({}, "")
        if not refs or self.view.data is None:
            self.compare.clear()
            return
        self._submit(self.tasks, "compare", _compare, tid, dict(self.view.data.results), refs)

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
        if counts.get("done"):
            self.request_map()
            self.request_similar()
        self.last_run_counts = dict(counts)

    def _on_pause(self, paused: bool) -> None:
        if paused:
            self.bridge.pause()
            self.pause_button.setText("Resume")
        else:
            self.bridge.resume()
            self.pause_button.setText("Pause")
        self.model.set_paused(paused)

    # ------------------------------------------------------------------ playback / export
    def toggle_playback(self) -> None:
        if not self.playback.available:
            self.status(self.playback.reason)
            return
        self.playback.toggle(from_s=self.view.cursor_s())

    def loop_visible(self) -> None:
        """Loop playback over the visible time range (L); drag its edges over the waveform."""
        if self.view.data is None:
            return
        x0, x1 = self.view.x_range()
        x0, x1 = max(0.0, x0), min(self.view.duration_s, x1)
        try:
            a, b = self.playback.set_loop(x0, x1)
        except ValueError as e:
            self.status(str(e))
            return
        self.status(f"Looping {a:.2f}–{b:.2f} s")

    def clear_loop(self) -> None:
        self.playback.clear_loop()
        self.status("Loop cleared")

    def _on_loop_dragged(self) -> None:
        a, b = self.view.loop_region.getRegion()
        if self.playback.loop is not None and (a, b) != self.playback.loop:
            try:
                self.playback.set_loop(a, b)
            except ValueError as e:
                self.status(str(e))

    def set_hear_notes(self, on: bool) -> None:
        """Play the track with its notes synthesised over it (N), or the track alone."""
        on = bool(on)
        if self.act_hear_notes.isChecked() != on:
            self.act_hear_notes.setChecked(on)
        data = self.view.data
        if not on:
            self.playback.set_source_override(None)
            return
        if self._hear_notes_silent():
            return
        if data is None or "notes" not in data.results:
            self.status("No notes to hear for this track yet")
            self.act_hear_notes.setChecked(False)
            return
        self._submit(self.tasks, "notes_mix", _notes_mix, self.library, data.track, data.results["notes"])
        self.status("Rendering the notes over the audio…")

    def _hear_notes_silent(self, failure: str = "") -> bool:
        """With *Hear the notes* on and no audio output (or playback failing: ``failure``
        says how): uncheck it, go back to the track and say in a dialog that nothing will
        play. True if so."""
        if not self.act_hear_notes.isChecked() or (self.playback.audible and not failure):
            return False
        self.act_hear_notes.setChecked(False)
        self.playback.set_source_override(None)
        reason = failure or self.playback.silent_reason
        self.status(f"Nothing will play: {reason}")
        self.last_notice = show_no_audio_dialog(self, "The notes synthesised over the audio", reason)
        return True

    def export_dialog(self) -> None:
        """Ask for a folder, formats and scope, then export (Ctrl+E)."""
        selected = self.selected_track_ids()
        if self.current_track_id is None and not selected:
            self.status("Select tracks to export")
            return
        folder = self.settings.get("export/folder", "") or str(Path.home())
        fmts = str(self.settings.get("export/formats", "jams,midi,csv")).split(",")
        grid = self.settings.get("export/midi_grid", 0, int)
        dlg = ExportDialog(self, folder=folder, formats=fmts, n_selected=len(selected), midi_grid=grid)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        out, fmts, use_selection = dlg.choice()
        if not out or not fmts:
            self.status("Nothing to export: choose a folder and at least one format")
            return
        self.settings.set("export/folder", out)
        self.settings.set("export/formats", ",".join(fmts))
        self.settings.set("export/midi_grid", dlg.midi_grid())
        ids = selected if use_selection else [self.current_track_id]
        self.export_tracks(ids, out, fmts, midi_grid=dlg.midi_grid())

    def export_tracks(self, track_ids: list[int], out_dir: str | Path, formats, *,
                      midi_grid: int = 0) -> int | None:
        """Write the stored results of ``track_ids`` as ``formats`` ('jams', 'midi', 'csv')
        into ``out_dir`` on the task thread ('png': the current view, written here; MIDI
        notes snapped to 1/``midi_grid`` of a beat when > 0).
        Returns the task ticket (None when only a PNG was asked)."""
        formats = list(formats)
        out_dir = Path(out_dir)
        if "png" in formats:
            from workstation.export.batch import safe_stem
            formats.remove("png")
            out_dir.mkdir(parents=True, exist_ok=True)
            for tid in track_ids:
                if tid == self.current_track_id and self.view.data is not None:
                    self.export_png(out_dir / f"{safe_stem(self.view.data.track.path)}.png")
                elif tid is not None:  # other tracks: loaded here, drawn in a hidden view
                    self.tasks.submit("png_track", lambda t=int(tid): (load_track_data(
                        self.library, t, self.specs), str(out_dir)))
        if not formats:
            return None
        return self._submit(self.tasks, "export", _export_tracks, self.library, self.specs,
                            [int(t) for t in track_ids if t is not None], str(out_dir), formats,
                            int(midi_grid))

    def export_current(self, path: str | Path) -> int | None:
        """Export the shown track to ``path`` in the format its suffix names (.jams, .mid;
        .csv: one file per layer named after ``path``; .png: the view)."""
        path = Path(path)
        fmt = {".jams": "jams", ".mid": "midi", ".midi": "midi", ".csv": "csv", ".png": "png"}.get(
            path.suffix.lower(), "jams")
        if fmt == "png":
            self.export_png(path)
            return None
        return self._submit(self.tasks, "export", _export_one, self.library, self.specs,
                            self.current_track_id, str(path), fmt)

    def export_png_dialog(self) -> None:
        if self.view.data is None:
            self.status("Select a track to export its view")
            return
        from workstation.export.batch import safe_stem
        folder = self.settings.get("export/folder", "") or str(Path.home())
        path, _ = QFileDialog.getSaveFileName(self, "Export the view as PNG", str(
            Path(folder) / f"{safe_stem(self.view.data.track.path)}.png"), "PNG (*.png)")
        if path:
            self.export_png(path)

    def _render_png(self, data, out_dir: Path) -> None:
        """Draw a track that is not shown in a hidden track view of the shown view's size
        and image mode (whole track) and save it as PNG."""
        from workstation.export.batch import safe_stem

        from .track_view import TrackView
        if getattr(self, "_png_view", None) is None:
            self._png_view = TrackView()
            self._png_view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            self._png_view.use_settings(self.settings)   # the user's colour maps and dB range
        v = self._png_view
        v.resize(self.view.size())
        v.set_image_mode(self.view.image_mode if self.view.image_mode in ("spectrogram", "salience")
                         else "spectrogram")
        v.set_data(data)
        v.set_x_range(0.0, max(data.duration_s, 0.1))
        path = out_dir / f"{safe_stem(data.track.path, f'track{data.track.id}')}.png"
        ok = v.grab().save(str(path), "PNG")
        if ok:
            self.last_png_export = str(path)
        self.status(f"Saved the view of {data.track.title or Path(data.track.path).name} to {path}"
                    if ok else f"Cannot write {path}")

    def export_png(self, path: str | Path) -> bool:
        """A PNG of the track view as it is shown (a small file, written here)."""
        ok = self.view.grab().save(str(path), "PNG")
        self.status(f"Saved the view to {path}" if ok else f"Cannot write {path}")
        return bool(ok)

    # ------------------------------------------------------------------ shutdown
    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop the analysis and the loader threads, close the library (idempotent)."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        if getattr(self, "_png_view", None) is not None:
            self._png_view.deleteLater()
            self._png_view = None
        self.playback.stop()
        self.bridge.shutdown(timeout)
        self.loader.stop(timeout)
        self.tasks.stop(timeout)
        self.library.close()

    def _restore_view_settings(self) -> None:
        """Image mode, HCQT harmonic, layer toggles, splitters and the side tab, as last left."""
        from workstation.core import constants as C

        from .track_view import IMAGE_MODES, LAYER_NAMES
        mode = str(self.settings.get("view/image_mode", "spectrogram"))
        if mode in IMAGE_MODES:
            self.view.set_image_mode(mode)
        self.view.use_settings(self.settings)  # colour maps and dB levels, saved on change
        try:
            h = float(self.settings.get("view/harmonic", 1.0))
            if h in C.HARMONICS:
                self.view.set_harmonic(h)
        except (TypeError, ValueError):
            pass
        for name in LAYER_NAMES:
            self.view.set_layer_visible(name, self.settings.get(f"view/layer/{name}", True, bool))
        self.view.set_references_visible(self.settings.get("view/references", True, bool))
        for key, split in (("view/split", self.split), ("view/left_split", self.left_split)):
            st = self.settings.get(key)
            if st is not None:
                split.restoreState(st)
        tab = self.settings.get("view/side_tab", 0, int)
        if 0 <= tab < self.side_tabs.count():
            self.side_tabs.setCurrentIndex(tab)
        restore_column_widths(self.table, self.settings)

    def save_view_settings(self) -> None:
        from .track_view import LAYER_NAMES
        self.settings.set("view/image_mode", self.view.image_mode)
        self.settings.set("view/harmonic", self.view.harmonic)
        for name in LAYER_NAMES:
            self.settings.set(f"view/layer/{name}", self.view._layer_on[name])
        self.settings.set("view/references", self.view._ref_on)
        self.settings.set("view/split", self.split.saveState())
        self.settings.set("view/left_split", self.left_split.saveState())
        self.settings.set("view/side_tab", self.side_tabs.currentIndex())
        save_column_widths(self.table, self.settings)

    def closeEvent(self, ev) -> None:
        self.save_view_settings()
        self.settings.set_geometry(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.shutdown()
        super().closeEvent(ev)

