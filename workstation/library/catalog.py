"""The SQLite catalogue: tracks of the collection and the state of their analyses.

A library is a folder holding ``library.sqlite`` and ``results/`` (the
:class:`~workstation.library.store.ResultStore`). The database runs in WAL mode (readers
never block the writer), with foreign keys on, one connection per thread
(``threading.local``), explicit ``BEGIN IMMEDIATE`` write transactions, and schema
migrations numbered by ``PRAGMA user_version``.

Analyses are keyed by (content hash of the file, analyzer id, version, params hash), not
by track: a moved or duplicated file keeps its results, and a new analyzer version or
setting re-runs exactly what changed.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from workstation.core.errors import LibraryError

from .paths import db_path_value, normalize_path, storable_text
from .schema import connect, migrate
from .store import ResultStore
from .user_data import UserData

log = logging.getLogger(__name__)

DB_NAME = "library.sqlite"
RESULTS_DIR = "results"
#: A text file in the library folder naming a result store elsewhere (``use_store``).
STORE_LOCATION = "results-location.txt"

TRACK_STATUSES = ("ok", "missing", "error")
ANALYSIS_STATUSES = ("pending", "running", "done", "failed", "cancelled")



@dataclass(frozen=True)
class Track:
    """One file of the collection (``path`` absolute). ``status``: 'ok', 'missing' (the file
    is gone) or 'error' (it cannot be read; ``error`` says why). Times are Unix seconds."""

    id: int
    path: str
    content_hash: str | None
    size: int | None
    mtime: float | None
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    format: str | None
    title: str | None
    artist: str | None
    album: str | None
    year: int | None
    genre: str | None
    status: str
    error: str | None
    added_at: float
    updated_at: float


@dataclass(frozen=True)
class AnalysisRecord:
    """State of one analysis; ``progress`` in [0, 1]; ``elapsed_s`` run time of the last run."""

    content_hash: str
    analyzer_id: str
    version: int
    params_hash: str
    status: str
    error: str | None
    result_path: str | None
    progress: float
    updated_at: float
    elapsed_s: float | None

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.content_hash, self.analyzer_id, self.version, self.params_hash)


TRACK_FIELDS = tuple(f.name for f in dataclasses.fields(Track))
ANALYSIS_FIELDS = tuple(f.name for f in dataclasses.fields(AnalysisRecord))
_EDITABLE_TAGS = ("title", "artist", "album", "year", "genre")


def _track(row: sqlite3.Row) -> Track:
    fields = {k: row[k] for k in TRACK_FIELDS}
    if isinstance(fields["path"], bytes):
        fields["path"] = os.fsdecode(fields["path"])
    return Track(**fields)


def _analysis(row: sqlite3.Row) -> AnalysisRecord:
    return AnalysisRecord(**{k: row[k] for k in ANALYSIS_FIELDS})


class Library(UserData):
    """A music collection: its catalogue (SQLite) and its result store.

    Open with ``Library.open(root)``; use from any number of threads (each gets its own
    connection); close with ``close()`` or a ``with`` block.
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.db_path = self.root / DB_NAME
        self.store = ResultStore(self._store_root())
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False

    def _store_root(self) -> Path:
        """The result store's folder: ``<library>/results``, or the folder named in
        ``results-location.txt`` (``use_store``)."""
        loc = self.root / STORE_LOCATION
        if loc.is_file():
            text = loc.read_text(encoding="utf-8").strip()
            if text:
                return Path(text)
        return self.root / RESULTS_DIR

    @property
    def shared_store(self) -> Path | None:
        """The result store's folder when it is not the library's own (``use_store``)."""
        return None if self.store.root == self.root / RESULTS_DIR else self.store.root

    def use_store(self, folder: str | Path) -> Path:
        """Keep this library's results in ``folder`` from now on (``--store``: a shared folder
        that cluster tasks write into directly, and that other machines' libraries can name
        too, since results are keyed by content, not by library). Remembered in
        ``results-location.txt``. Refused, with the way out, when the current store already
        holds results (they are not moved behind the user's back)."""
        from workstation.core.atomic import atomic_write

        folder = Path(folder).expanduser().resolve()
        if folder == Path(self.store.root).resolve():
            return folder
        held = sum(1 for _ in Path(self.store.root).rglob("*.npz"))
        if held:
            raise LibraryError(
                f"{self.root}: this library keeps {held} results in "
                f"{self.store.root}; move them into {folder} first (mv {self.store.root}/* "
                f"{folder}/), then run again with --store {folder}, or use another --library")
        try:
            store = ResultStore(folder)
            with atomic_write(self.root / STORE_LOCATION, durable=True) as tmp:
                Path(tmp).write_text(str(folder) + "\n", encoding="utf-8")
        except OSError as e:
            raise LibraryError(f"{folder}: cannot use it as the result store: {e}") from None
        self.store = store
        return folder

    @classmethod
    def open(cls, root: str | Path) -> "Library":
        """Open (creating if needed) the library in folder ``root`` and migrate its schema."""
        root = Path(root).expanduser()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise LibraryError(f"{root}: cannot create the library folder: {e}") from None
        lib = cls(root)
        try:
            migrate(lib._conn())
            # a damaged page shows here, not as a traceback in the middle of a run (quick_check
            # reads every page once: milliseconds for a catalogue of thousands of tracks)
            verdict = lib._conn().execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(verdict)
        except sqlite3.DatabaseError as e:
            lib.close()
            raise LibraryError(
                f"{lib.db_path}: the library database is damaged ({e}). The analysis results "
                f"are stored apart, by content: move this file aside and scan your folders again "
                f"(`workstation library scan FOLDER`) to rebuild the catalogue; finished "
                f"analyses are found again, not recomputed") from None
        except BaseException:
            lib.close()
            raise
        return lib

    # -- connections -------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise LibraryError(f"{self.db_path}: the library is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.db_path)
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: takes the write lock up front, so two
        writers never deadlock upgrading read locks)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def schema_version(self) -> int:
        return self._conn().execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        """Close every thread's connection (call when no thread uses the library any more)."""
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for c in conns:
            c.close()
        self._closed = True

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- tracks ------------------------------------------------------------------------

    def tracks(self, status: str | None = None) -> list[Track]:
        """All tracks (or those with ``status``), by id."""
        if status is None:
            rows = self._conn().execute("SELECT * FROM tracks ORDER BY id")
        else:
            rows = self._conn().execute("SELECT * FROM tracks WHERE status = ? ORDER BY id",
                                        (status,))
        return [_track(r) for r in rows]

    def track(self, track_id: int) -> Track:
        """The track with this id; LibraryError if there is none."""
        row = self._conn().execute("SELECT * FROM tracks WHERE id = ?", (int(track_id),)).fetchone()
        if row is None:
            raise LibraryError(f"no track with id {track_id} in {self.db_path}")
        return _track(row)

    def track_by_path(self, path: str | Path) -> Track | None:
        row = self._conn().execute("SELECT * FROM tracks WHERE path = ?",
                                   (db_path_value(normalize_path(path)),)).fetchone()
        return None if row is None else _track(row)

    def tracks_by_hash(self, content_hash: str) -> list[Track]:
        """Tracks with this content (duplicates, or the old entry of a moved file)."""
        rows = self._conn().execute("SELECT * FROM tracks WHERE content_hash = ? ORDER BY id",
                                    (content_hash,))
        return [_track(r) for r in rows]

    def tracks_under(self, folder: str | Path) -> list[Track]:
        """Tracks whose path lies inside ``folder``."""
        prefix = normalize_path(folder)
        if not prefix.endswith(os.sep):
            prefix += os.sep
        raw = os.fsencode(prefix)      # compared as bytes: text and BLOB paths alike
        rows = self._conn().execute(
            "SELECT * FROM tracks WHERE substr(CAST(path AS BLOB), 1, ?) = ? ORDER BY id", (len(raw), raw))
        return [_track(r) for r in rows]

    def insert_track(self, path: str | Path, **fields) -> Track:
        """Add a catalogue row (used by the scanner; prefer ``add_file``)."""
        now = time.time()
        values = {"path": normalize_path(path), "added_at": now, "updated_at": now, **fields}
        self._check_fields(values)
        values["path"] = db_path_value(values["path"])
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        try:
            with self._write() as c:
                cur = c.execute(f"INSERT INTO tracks ({cols}) VALUES ({marks})", tuple(values.values()))
                track_id = cur.lastrowid
        except sqlite3.IntegrityError as e:
            raise LibraryError(f"{path}: cannot add to the library: {e}") from None
        return self.track(track_id)

    def update_track(self, track_id: int, **fields) -> Track:
        """Change catalogue fields of a track (used by the scanner and for tag edits)."""
        if fields:
            fields = {**fields, "updated_at": time.time()}
            if "path" in fields:
                fields["path"] = normalize_path(fields["path"])
            self._check_fields(fields)
            if "path" in fields:
                fields["path"] = db_path_value(fields["path"])
            sets = ", ".join(f"{k} = ?" for k in fields)
            try:
                with self._write() as c:
                    cur = c.execute(f"UPDATE tracks SET {sets} WHERE id = ?",
                                    (*fields.values(), int(track_id)))
                    if cur.rowcount == 0:
                        raise LibraryError(f"no track with id {track_id} in {self.db_path}")
            except sqlite3.IntegrityError as e:
                raise LibraryError(f"track {track_id}: cannot update {sorted(fields)}: {e}") from None
        return self.track(track_id)

    def set_tags(self, track_id: int, **tags) -> Track:
        """Correct the descriptive tags of a track (title, artist, album, year, genre) in the
        catalogue (the file is not touched; a rescan after the file changes re-reads them)."""
        bad = set(tags) - set(_EDITABLE_TAGS)
        if bad:
            raise LibraryError(f"not editable tags: {sorted(bad)} (editable: {_EDITABLE_TAGS})")
        return self.update_track(track_id, **tags)

    @staticmethod
    def _check_fields(fields: dict) -> None:
        """Refuse unknown fields and statuses; make text other than the path storable (a
        title or message made from an undecodable file name shows U+FFFD where its odd
        bytes were)."""
        for k, v in fields.items():
            if k != "path" and isinstance(v, str):
                fields[k] = storable_text(v)
        bad = set(fields) - set(TRACK_FIELDS) or (set(fields) & {"id"})
        if bad:
            raise LibraryError(f"unknown or read-only track fields: {sorted(bad)}")
        if "status" in fields and fields["status"] not in TRACK_STATUSES:
            raise LibraryError(f"invalid track status {fields['status']!r}; one of {TRACK_STATUSES}")

    def remove_tracks(self, track_ids: Iterable[int]) -> int:
        """Take tracks out of the catalogue (one transaction; their hand-given tags and
        remembered reference files go with them). The audio files are not touched, and the
        stored analyses stay: they are keyed by content, shared with duplicates, and found
        again if the file is added back (a scan of its folder does). Returns how many tracks were removed (unknown ids are ignored)."""
        ids = sorted({int(i) for i in track_ids})
        with self._write() as c:
            return sum(c.execute("DELETE FROM tracks WHERE id = ?", (i,)).rowcount for i in ids)

    def add_file(self, path: str | Path) -> Track:
        """Catalogue one file (new, changed, moved or unchanged) and return its track.
        A file that cannot be read is catalogued with status 'error' and the reason."""
        from .scan import scan_file
        return scan_file(self, path)

    def scan(self, folder: str | Path, *, progress: Callable[[int, int, str], None] | None = None,
             extensions: Sequence[str] | None = None):
        """Bring the catalogue in line with ``folder`` (see ``library.scan.scan_folder``);
        returns a ScanReport."""
        from .scan import DEFAULT_EXTENSIONS, scan_folder
        return scan_folder(self, folder, progress=progress,
                           extensions=DEFAULT_EXTENSIONS if extensions is None else extensions)

    # -- analyses ----------------------------------------------------------------------

    def get_analysis(self, content_hash: str, analyzer_id: str, version: int,
                     params_hash: str) -> AnalysisRecord | None:
        row = self._conn().execute(
            "SELECT * FROM analyses WHERE content_hash = ? AND analyzer_id = ? AND version = ? "
            "AND params_hash = ?", (content_hash, analyzer_id, int(version), params_hash)).fetchone()
        return None if row is None else _analysis(row)

    def analyses_for(self, content_hash: str) -> list[AnalysisRecord]:
        """Every analysis record of one content, by analyzer id and version."""
        rows = self._conn().execute(
            "SELECT * FROM analyses WHERE content_hash = ? ORDER BY analyzer_id, version",
            (content_hash,))
        return [_analysis(r) for r in rows]

    def set_analysis(self, content_hash: str, analyzer_id: str, version: int, params_hash: str,
                     *, status: str, error: str | None = None, result_path: str | None = None,
                     progress: float | None = None, elapsed_s: float | None = None) -> AnalysisRecord:
        """Create or update an analysis record.

        ``error`` is replaced (None clears it); ``result_path`` and ``elapsed_s`` keep their old
        value when None; ``progress`` keeps its old value when None, except that 'done' sets
        1.0 and a new or 'pending' record 0.0.
        """
        if status not in ANALYSIS_STATUSES:
            raise LibraryError(f"invalid analysis status {status!r}; one of {ANALYSIS_STATUSES}")
        if progress is None:
            progress = 1.0 if status == "done" else (0.0 if status == "pending" else None)
        else:
            progress = min(1.0, max(0.0, float(progress)))
        result_path = None if result_path is None else str(result_path)
        error = None if error is None else storable_text(str(error))
        with self._write() as c:
            c.execute(
                """INSERT INTO analyses (content_hash, analyzer_id, version, params_hash, status,
                                         error, result_path, progress, updated_at, elapsed_s)
                   VALUES (?, ?, ?, ?, ?, ?, ?, COALESCE(?, 0.0), ?, ?)
                   ON CONFLICT (content_hash, analyzer_id, version, params_hash) DO UPDATE SET
                       status = excluded.status,
                       error = excluded.error,
                       result_path = COALESCE(excluded.result_path, analyses.result_path),
                       progress = COALESCE(?, analyses.progress),
                       updated_at = excluded.updated_at,
                       elapsed_s = COALESCE(excluded.elapsed_s, analyses.elapsed_s)""",
                (content_hash, analyzer_id, int(version), params_hash, status, error, result_path,
                 progress, time.time(), elapsed_s, progress))
        rec = self.get_analysis(content_hash, analyzer_id, version, params_hash)
        assert rec is not None
        return rec

    def pending(self, track_ids: Iterable[int] | None,
                analyzers: Sequence[tuple[str, int, str]], *, include_failed: bool = True,
                unique_content: bool = True) -> list[tuple[Track, list[str]]]:
        """Work to do: tracks with status 'ok' (all, or those in ``track_ids``) and, for each,
        the ids of the analyzers ``(analyzer_id, version, params_hash)`` whose analysis of its
        content is not 'done' with an intact result file (``ResultStore.intact``), nor
        'failed' when ``include_failed`` is False, in the given
        order. With ``unique_content`` a content present under several paths is listed once
        (its first track): results are shared by content."""
        if track_ids is None:
            tracks = self.tracks("ok")
        else:
            ids = sorted({int(i) for i in track_ids})
            tracks = []
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                rows = self._conn().execute(
                    f"SELECT * FROM tracks WHERE status = 'ok' AND id IN ({','.join('?' * len(part))})"
                    " ORDER BY id", part)
                tracks.extend(_track(r) for r in rows)
        done: list[set[str]] = []
        failed: list[set[str]] = []
        for analyzer_id, version, params_hash in analyzers:
            rows = self._conn().execute(
                "SELECT content_hash, status FROM analyses WHERE analyzer_id = ? AND version = ? "
                "AND params_hash = ? AND status IN ('done', 'failed')",
                (analyzer_id, int(version), params_hash)).fetchall()
            done.append({r[0] for r in rows if r[1] == "done"})
            failed.append({r[0] for r in rows if r[1] == "failed"} if not include_failed else set())
        out: list[tuple[Track, list[str]]] = []
        seen: set[str] = set()
        for t in tracks:
            if unique_content:
                if t.content_hash in seen:
                    continue
                seen.add(t.content_hash)
            # 'done' counts only with its result file intact (deleted or truncated: redo it)
            h = t.content_hash
            todo = [a[0] for a, d, f in zip(analyzers, done, failed)
                    if h not in f and (h not in d or not self.store.intact(h, *a))]
            if todo:
                out.append((t, todo))
        return out

    def status_summary(self) -> dict:
        """``{'tracks': {status: n}, 'analyses': {analyzer_id: {status: n}}}``."""
        c = self._conn()
        tracks = {s: 0 for s in TRACK_STATUSES}
        for status, n in c.execute("SELECT status, COUNT(*) FROM tracks GROUP BY status"):
            tracks[status] = n
        analyses: dict[str, dict[str, int]] = {}
        for aid, status, n in c.execute(
                "SELECT analyzer_id, status, COUNT(*) FROM analyses GROUP BY analyzer_id, status"):
            analyses.setdefault(aid, {s: 0 for s in ANALYSIS_STATUSES})[status] = n
        return {"tracks": tracks, "analyses": analyses}

    def reset_running(self) -> int:
        """After a crash: turn every 'running' analysis back into 'pending' (progress 0: it
        restarts from the beginning of its track). Returns how many were reset."""
        with self._write() as c:
            cur = c.execute("UPDATE analyses SET status = 'pending', progress = 0, updated_at = ? "
                            "WHERE status = 'running'", (time.time(),))
            return cur.rowcount

    def __repr__(self) -> str:
        return f"<Library {self.root}>"
