"""The library table's columns and its context menu.

Columns: every column can be resized by dragging its header edge (Interactive), the last one
(Analysis) takes what is left, and the widths in pixels are remembered across restarts under
the settings key ``COLUMN_WIDTHS_KEY``.

Context menu (right-click on the table; also Delete): *Reveal in file manager* (opens the
folder of each selected track with ``open_url``, ``QDesktopServices.openUrl`` unless a test
gives another callable), *Re-analyse* (the selected tracks, recomputing their results,
through ``MainWindow.analyse(..., force=True)``) and *Remove from library…* (after a
confirmation, takes the tracks out of the catalogue on the library task thread; the audio
files stay on disk and stored results, keyed by content, stay in the store).
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QHeaderView, QMenu, QMessageBox, QTableView

from .library_model import COL_ARTIST, COL_DURATION, COL_KEY, COL_STATUS, COL_TAGS, COL_TEMPO, COL_TITLE

log = logging.getLogger(__name__)

#: Settings key of the column widths (comma-separated pixels, one per column).
COLUMN_WIDTHS_KEY = "library/column_widths"
#: First widths in pixels (the last column stretches).
DEFAULT_WIDTHS = {COL_TITLE: 180, COL_ARTIST: 90, COL_DURATION: 60, COL_KEY: 72, COL_TEMPO: 50,
                  COL_TAGS: 80, COL_STATUS: 100}
#: At most this many folders are opened by one *Reveal* (a selection of hundreds of tracks
#: must not open hundreds of windows).
MAX_REVEAL = 5


def setup_columns(table: QTableView) -> None:
    """Make every column user-resizable, the last one stretching, at ``DEFAULT_WIDTHS``."""
    h = table.horizontalHeader()
    h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    h.setStretchLastSection(True)
    h.setMinimumSectionSize(32)
    for c, w in DEFAULT_WIDTHS.items():
        h.resizeSection(c, w)


def column_widths(table: QTableView) -> list[int]:
    """The width in pixels of every column, in model order."""
    h = table.horizontalHeader()
    return [int(h.sectionSize(c)) for c in range(h.count())]


def save_column_widths(table: QTableView, settings) -> None:
    settings.set(COLUMN_WIDTHS_KEY, ",".join(str(w) for w in column_widths(table)))


def restore_column_widths(table: QTableView, settings) -> None:
    """Apply the remembered widths (ignored when unreadable or for another column count;
    the stretching last column keeps filling the table)."""
    text = str(settings.get(COLUMN_WIDTHS_KEY, "") or "")
    try:
        widths = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        return
    h = table.horizontalHeader()
    if len(widths) != h.count():
        return
    for c, w in enumerate(widths[:-1]):   # the last one stretches
        if w > 0:
            h.resizeSection(c, max(w, h.minimumSectionSize()))


def remove_tracks_task(library, handle, track_ids: list[int]) -> tuple[list[int], int]:
    """Take tracks out of the catalogue and out of the similarity index (library task
    thread; ``handle``: the window's ``SearchHandle``); (track ids asked, number removed)."""
    ids = sorted({int(t) for t in track_ids})
    n = library.remove_tracks(ids)
    search = handle.peek()
    if search is not None:
        search.sync()             # the index follows the catalogue: the tracks leave it
        search.forget_meta(ids)
    return ids, n


class LibraryActions:
    """The context menu of ``window.table`` and its actions (see the module docstring).

    open_url: the callable that opens a folder URL (``QDesktopServices.openUrl``); every URL
    opened is also appended to ``revealed``. ``confirm`` is the last confirmation dialog."""

    def __init__(self, window, *, open_url: Callable[[QUrl], object] | None = None):
        # a weak reference: no Python cycle through the window, whose wrapper the garbage
        # collector could then free on a worker thread (it deadlocked a test run)
        self._window = weakref.ref(window)
        self.open_url = open_url or QDesktopServices.openUrl
        self.revealed: list[QUrl] = []
        self.confirm: QMessageBox | None = None
        self.menu: QMenu | None = None
        table = window.table
        self.act_reveal = QAction("Reveal in file manager", window)
        self.act_reveal.triggered.connect(lambda: self.reveal(window.selected_track_ids()))
        self.act_reanalyse = QAction("Re-analyse", window)
        self.act_reanalyse.setToolTip("Compute the selected tracks' results again")
        self.act_reanalyse.triggered.connect(lambda: self.reanalyse(window.selected_track_ids()))
        self.act_remove = QAction("Remove from library…", window)
        self.act_remove.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        # Delete in the filter box deletes text: the shortcut belongs to the table only
        self.act_remove.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.act_remove.triggered.connect(lambda: self.ask_remove(window.selected_track_ids()))
        table.addAction(self.act_remove)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self.show_menu)

    @property
    def window(self):
        return self._window()

    # ------------------------------------------------------------------ menu
    def build_menu(self, track_ids: list[int]) -> QMenu:
        """The menu for ``track_ids`` (its actions act on the table's selection)."""
        menu = QMenu(self.window.table)
        for a in (self.act_reveal, self.act_reanalyse):
            menu.addAction(a)
        menu.addSeparator()
        menu.addAction(self.act_remove)
        for a in (self.act_reveal, self.act_reanalyse, self.act_remove):
            a.setEnabled(bool(track_ids))
        return menu

    def show_menu(self, pos: QPoint) -> QMenu:
        """Right-click at ``pos`` (viewport pixels): select the row under the pointer unless
        it is selected already, then pop the menu up (without blocking)."""
        table = self.window.table
        idx = table.indexAt(pos)
        if idx.isValid() and not table.selectionModel().isRowSelected(idx.row(), idx.parent()):
            self.window.select_track(self.window.proxy.track_id(idx.row()))
        if self.menu is not None:     # one menu at a time, not one more child per click
            self.menu.deleteLater()
        self.menu = self.build_menu(self.window.selected_track_ids())
        self.menu.popup(table.viewport().mapToGlobal(pos))
        return self.menu

    # ------------------------------------------------------------------ actions
    def reveal(self, track_ids: list[int]) -> list[QUrl]:
        """Open the folder of each track (at most ``MAX_REVEAL`` distinct folders); the URLs."""
        folders: list[Path] = []
        for tid in track_ids:
            row = self.window.model.row_for(tid)
            if row is not None and Path(row.path).parent not in folders:
                folders.append(Path(row.path).parent)
        urls = []
        for folder in folders[:MAX_REVEAL]:
            if not folder.is_dir():
                self.window.status(f"{folder} no longer exists")
                continue
            url = QUrl.fromLocalFile(str(folder))
            self.revealed.append(url)
            urls.append(url)
            if not self.open_url(url):
                self.window.status(f"Cannot open a file manager on {folder}")
        if len(folders) > MAX_REVEAL:
            self.window.status(f"Opened the first {MAX_REVEAL} of {len(folders)} folders")
        return urls

    def reanalyse(self, track_ids: list[int]) -> bool:
        """Analyse ``track_ids`` again, recomputing every result (False when busy or empty)."""
        return self.window.analyse(list(track_ids), force=True)

    def ask_remove(self, track_ids: list[int]) -> QMessageBox | None:
        """Ask whether to remove ``track_ids`` from the library; Yes removes them."""
        ids = list(track_ids)
        if not ids:
            self.window.status("Select the tracks to remove from the library")
            return None
        names = [self.window.model.row_for(t).title for t in ids[:5] if self.window.model.row_for(t)]
        more = f"\n… and {len(ids) - len(names)} more" if len(ids) > len(names) else ""
        box = QMessageBox(QMessageBox.Icon.Question, "Remove from library",
                          f"Remove {len(ids)} track(s) from the library?\n\n" + "\n".join(names) + more,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self.window)
        box.setInformativeText("The audio files stay on disk; scanning their folder again adds "
                               "them back, with their analyses and the layers you corrected "
                               "by hand (both are kept with the recording).")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _code, box=box, ids=ids: self._answered(box, ids))
        self.confirm = box
        box.open()
        return box

    def _answered(self, box: QMessageBox, ids: list[int]) -> None:
        yes = box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
        box.deleteLater()
        if self.confirm is box:
            self.confirm = None
        if yes:
            self.remove(ids)

    def remove(self, track_ids: list[int]) -> int:
        """Remove ``track_ids`` from the catalogue on the library task thread (no question)."""
        w = self.window
        return w.tasks.submit("remove_tracks", remove_tracks_task, w.library, w.search,
                              list(track_ids), on_done=self.removed, key="remove_tracks")

    def removed(self, result) -> None:
        """The task's answer: refresh rows, map and similar list, forget the shown track."""
        ids, n = result
        w = self.window
        if w.current_track_id in ids:
            w.state.drop_reference(w.current_track_id)
            w.current_track_id = None
            w.similarity_control.similar_for = None
            w.playback.load(None)
            w.view.clear()
            w.info.clear()
            w.similar_panel.clear()
        w.model.remove_rows(ids)
        w.request_map()
        w.request_similar()
        w.status(f"Removed {n} track(s) from the library (their files stay on disk)")
