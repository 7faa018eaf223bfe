"""Similarity in the window: the tracks like the shown one (or like its loop region) in the
*Similar* tab, the collection map in the *Map* tab, and playlists from the shown track.

``SearchHandle`` holds the collection's ``SimilaritySearch``, created lazily on the library
task thread (opening its index reads the store); the task functions (``similar``,
``collection_map``, ``make_playlist``) receive the handle, never the window.
``SimilarityController`` asks for them and shows their answers.
"""

from __future__ import annotations

import threading
import time
import weakref
from pathlib import Path

from PySide6.QtWidgets import QFileDialog


class SearchHandle:
    """The collection's ``SimilaritySearch`` over ``library``, made on first use with the
    embedding spec last given (``embedding``; None: the default ``embedding`` analyzer)."""

    def __init__(self, library, embedding=None):
        self.library = library
        self.embedding = embedding
        self._search = None
        self._lock = threading.Lock()

    def get(self):
        """The search, created now if needed (call on the task thread: it opens the index)."""
        with self._lock:
            if self._search is None:
                from workstation.analysis.jobs import AnalyzerSpec
                from workstation.analysis.similarity import SimilaritySearch
                self._search = SimilaritySearch(self.library,
                                                embedding=self.embedding or AnalyzerSpec("embedding"))
            return self._search

    def peek(self):
        """The search if it was made already, else None (never creates one)."""
        return self._search

    def reset(self, embedding=None) -> None:
        """Drop the search (the next ``get`` makes a new one, with ``embedding`` if given)."""
        with self._lock:
            if embedding is not None:
                self.embedding = embedding
            self._search = None


def embedding_spec(specs):
    """The ``embedding`` spec among ``specs`` (AnalyzerSpec list), or None."""
    return next((sp for sp in specs if sp.id == "embedding"), None)


def similar(handle: SearchHandle, track_id: int, k: int, region: tuple[float, float] | None):
    """Similar tracks to a track or a region of it (task thread; ``region``: (start, end)
    seconds); (track id, results, title, seconds taken, error message)."""
    from workstation.analysis.similarity import Region, SimilarityError
    t0 = time.perf_counter()
    search = handle.get()
    seed = Region(track_id, *region) if region else track_id
    try:
        results = search.similar(seed, k=k)
    except SimilarityError as e:
        return track_id, [], "", 0.0, str(e)
    m = search.meta(track_id)
    title = (m.title or Path(m.path).stem) + (f" ({region[0]:.1f}-{region[1]:.1f} s)" if region else "")
    return track_id, results, title, time.perf_counter() - t0, ""


def collection_map(handle: SearchHandle):
    """(track ids (n,), 2-D points (n, 2), titles by id) of the analysed collection (task
    thread)."""
    search = handle.get()
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


def make_playlist(handle: SearchHandle, track_id: int, mode: str, length: int, path: str) -> str:
    """A playlist from one seed, written to ``path`` (.m3u8 or .json) on the task thread."""
    from workstation.export.playlist import write_playlist
    items = handle.get().playlist([track_id], length=length, mode=mode)
    write_playlist(path, items, relative=True)
    return f"{len(items)} tracks to {path}"


class SimilarityController:
    """The *Similar* and *Map* tabs of ``window`` (a ``MainWindow``) and its playlists.

    ``similar_for``: the track whose similar tracks were last asked for (None: ask again
    when a track is shown)."""

    def __init__(self, window, handle: SearchHandle):
        self._window = weakref.ref(window)  # no Python cycle through the window
        self.handle = handle
        self.similar_for: int | None = None
        panel = window.similar_panel
        panel.open_track.connect(window.select_track)
        panel.query_changed.connect(lambda: self.request_similar())
        panel.region_query.connect(lambda: self.request_similar(region=True))
        panel.playlist_requested.connect(self.playlist_dialog)
        window.map.track_clicked.connect(window.select_track)

    @property
    def window(self):
        return self._window()

    def request_similar(self, *, region: bool = False) -> None:
        """Ask for the tracks similar to the shown track (or to its loop region)."""
        w = self.window
        tid = w.current_track_id
        if tid is None:
            return
        loop = w.playback.loop if region else None
        if region and loop is None:
            w.status("Set a loop region first (L loops the visible range)")
            return
        self.similar_for = tid
        w.tasks.drop_pending("similar")
        w.tasks.submit("similar", similar, self.handle, tid, w.similar_panel.k.value(), loop,
                       on_done=self._similar_done, key="similar")

    def _similar_done(self, result) -> None:
        w = self.window
        track_id, results, title, secs, error = result
        if track_id != w.current_track_id:
            return
        if error:
            w.similar_panel.clear(error)
        else:
            w.similar_panel.set_results(results, title, secs)

    def request_map(self) -> None:
        """Ask for the collection map again (after scans, analyses, removals)."""
        w = self.window
        w.tasks.drop_pending("map")
        w.tasks.submit("map", collection_map, self.handle, on_done=self._map_done, key="map")

    def _map_done(self, result) -> None:
        w = self.window
        ids, xy, titles = result
        w.map.set_points(ids, xy, titles)
        w.map.mark(w.current_track_id)

    def playlist_dialog(self, mode: str, length: int) -> None:
        """Ask where to write a playlist of ``length`` tracks (``mode``) from the shown track."""
        w = self.window
        if w.current_track_id is None:
            w.status("Select a track to start a playlist from")
            return
        from workstation.export.batch import safe_stem
        folder = w.settings.get("export/folder", "") or str(Path.home())
        row = w.model.row_for(w.current_track_id)
        name = safe_stem(row.path if row else "playlist")
        path, _ = QFileDialog.getSaveFileName(w, "Export the playlist",
                                              str(Path(folder) / f"{name}-{mode}.m3u8"),
                                              "M3U8 playlist (*.m3u8);;JAMS playlist (*.json)")
        if path:
            self.make_playlist(mode, length, path)

    def make_playlist(self, mode: str, length: int, path: str | Path) -> int:
        """Write a playlist of ``length`` tracks from the shown track (task thread); the ticket."""
        w = self.window
        return w.tasks.submit("playlist", make_playlist, self.handle, w.current_track_id, mode,
                              int(length), str(path), on_done=self._playlist_done, key="playlist")

    def _playlist_done(self, result: str) -> None:
        self.window.status(f"Playlist: {result}")
