"""The collection in the window: opening folders and files (*File ▸ Open…*, *Recent
collections*, drops), cataloguing them on the library task thread (``scan_paths``), and
the library table's rows (``load_rows``: all of them, or a few after a change).

``CollectionController`` asks for these and fills the ``LibraryModel`` with the answers.
"""

from __future__ import annotations

import weakref
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from .library_model import load_rows

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.oga *.opus *.mp3 *.aif *.aiff);;All files (*)"
#: Dropped files with these suffixes are read as annotations of the shown track.
ANNOTATION_EXTENSIONS = (".jams", ".jamz", ".mid", ".midi", ".csv", ".lab", ".txt", ".tsv",
                         ".notes", ".beats", ".f0")


def scan_paths(library, paths: list[str]) -> list[str]:
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


class CollectionController:
    """Opening and listing the tracks of ``window`` (a ``MainWindow``). ``loaded_once``:
    the rows were listed at least once."""

    def __init__(self, window):
        self._window = weakref.ref(window)  # no Python cycle through the window
        self.loaded_once = False

    @property
    def window(self):
        return self._window()

    # ------------------------------------------------------------------ rows
    def refresh(self) -> None:
        """Reload every row (library task thread)."""
        w = self.window
        w.tasks.submit("rows", load_rows, w.library, w.analyzer_keys, on_done=self._rows_loaded,
                       key="rows")

    def _rows_loaded(self, rows) -> None:
        w = self.window
        w.model.set_rows(rows)
        w.proxy.sort(w.proxy.sortColumn(), w.proxy.sortOrder())
        if w.current_track_id is not None:
            w.select_track(w.current_track_id)
        n_failed = sum(1 for r in rows if r.status in ("failed", "error"))
        w.status(f"{len(rows)} tracks" + (f", {n_failed} failed" if n_failed else ""))
        self.loaded_once = True

    def refresh_rows(self, track_ids: list[int]) -> None:
        """Reload the rows of ``track_ids`` (every answer counts)."""
        w = self.window
        w.tasks.submit("row", load_rows, w.library, w.analyzer_keys, list(track_ids),
                       on_done=w.model.update_rows)

    # ------------------------------------------------------------------ opening
    def open_paths(self, paths) -> None:
        """Catalogue folders and files (in the background), then show and analyse them."""
        w = self.window
        paths = [str(p) for p in paths]
        for p in paths:
            if Path(p).is_dir():
                w.settings.add_recent(p)
        self.fill_recent()
        w.status(f"Scanning {', '.join(Path(p).name for p in paths)}…")
        w.tasks.submit("scan", scan_paths, w.library, paths, on_done=self._scanned, key="scan")

    def _scanned(self, lines: list[str]) -> None:
        w = self.window
        w.status("; ".join(lines))
        self.refresh()
        w.request_map()
        if w.auto_analyse:
            w.analyse(None)

    def fill_recent(self) -> None:
        """List the recent collections in *File ▸ Recent collections*."""
        w = self.window
        w.recent_menu.clear()
        for p in w.settings.recent():
            a = w.recent_menu.addAction(p)
            a.triggered.connect(lambda _=False, p=p: self.open_paths([p]))
        w.recent_menu.setEnabled(bool(w.settings.recent()))

    def open_folder_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self.window, "Open a music folder")
        if d:
            self.open_paths([d])

    def open_file_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Open audio files", "", AUDIO_FILTER)
        if files:
            self.open_paths(files)

    def open_dropped(self, paths: list[str]) -> None:
        """Dropped files: annotations (by suffix) of the shown track, the rest catalogued."""
        w = self.window
        notes = [p for p in paths if Path(p).suffix.lower() in ANNOTATION_EXTENSIONS
                 and Path(p).is_file()]
        audio = [p for p in paths if p not in notes]
        for p in notes:
            w.open_annotation(p)
        if audio:
            self.open_paths(audio)
