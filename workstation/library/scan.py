"""Scanning a folder into the catalogue: new, changed, moved, removed and unreadable files.

A file is identified by its path and its content hash (blake2b of its bytes). A rescan
costs one ``stat`` per unchanged file: only files whose size or mtime changed, and new
paths, are hashed. A new path whose content equals that of a catalogued track whose file
is gone is a *move*: the track keeps its id (and, since analyses are keyed by content,
its results). Scanning reads headers and tags only (``core.audio.probe`` and mutagen);
problems that show only when decoding the whole file (a truncated FLAC, a silent file)
are found by the analysis, which marks its job failed with the reason.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import mutagen

from workstation.core.audio import probe
from workstation.core.errors import AudioError, LibraryError

from .catalog import Track
from .paths import normalize_path

if TYPE_CHECKING:
    from .catalog import Library

log = logging.getLogger(__name__)

DEFAULT_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aif", ".aiff")
HASH_BLOCK = 1 << 20

ScanProgress = Callable[[int, int, str], None]
"""progress(files_done, files_total, current_path)."""


def content_hash(path: str | Path) -> str:
    """blake2b (16-byte digest, 32 hex characters) of the file's bytes, read in 1 MiB blocks."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


_ID3_FRAMES = {"title": "TIT2", "artist": "TPE1", "album": "TALB", "date": "TDRC", "genre": "TCON"}


def read_tags(path: str | Path) -> dict:
    """Descriptive tags: title, artist, album, year (int), genre; absent ones are left out.
    Reads Vorbis comments, ID3 (MP3, WAV, AIFF) and the like via mutagen; unreadable tags
    give an empty dict (tags are optional)."""
    try:
        mf = mutagen.File(str(path), easy=True)
    except (mutagen.MutagenError, OSError, ValueError, EOFError) as e:
        log.debug("%s: no readable tags (%s)", path, e)
        return {}
    if mf is None or mf.tags is None:
        return {}
    raw: dict[str, str] = {}
    for key, frame in _ID3_FRAMES.items():
        value = None
        try:
            if key in mf.tags:
                value = mf.tags[key]
            elif frame in mf.tags:  # raw ID3 (WAV/AIFF have no "easy" interface)
                value = mf.tags[frame].text
        except (KeyError, ValueError, TypeError):
            value = None
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value is not None and str(value).strip():
            raw[key] = str(value).strip()
    tags = {k: raw[k] for k in ("title", "artist", "album", "genre") if k in raw}
    if "date" in raw and (m := re.search(r"\b(\d{4})\b", raw["date"])):
        tags["year"] = int(m.group(1))
    return tags


@dataclass
class ScanReport:
    """What a scan did. Paths are absolute; ``moved`` holds (old path, new path) pairs;
    ``failed`` (path, reason) pairs of files that cannot be read (catalogued with status
    'error'); ``n_hashed`` how many files were hashed."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    moved: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    n_hashed: int = 0

    def __str__(self) -> str:
        return (f"{len(self.added)} added, {len(self.changed)} changed, {len(self.moved)} moved, "
                f"{len(self.removed)} removed, {len(self.unchanged)} unchanged, "
                f"{len(self.failed)} failed")


def _describe(path: Path, digest: str, st: os.stat_result) -> dict:
    """Catalogue fields of a file: header (probe), tags, size/mtime, status."""
    fields = {"content_hash": digest, "size": st.st_size, "mtime": st.st_mtime}
    try:
        info = probe(path)
    except AudioError as e:
        return {**fields, "status": "error", "error": e.reason, "title": path.stem,
                "duration_s": None, "sample_rate": None, "channels": None, "format": None}
    tags = read_tags(path)
    return {**fields, "status": "ok", "error": None, "duration_s": info.duration_s,
            "sample_rate": info.sr, "channels": info.channels, "format": info.format,
            "title": tags.get("title") or path.stem, "artist": tags.get("artist"),
            "album": tags.get("album"), "year": tags.get("year"), "genre": tags.get("genre")}


def _record(report: ScanReport, kind: str, track: Track, old_path: str | None = None) -> None:
    if track.status == "error" and kind != "moved":
        report.failed.append((track.path, track.error or "unreadable"))
    elif kind == "moved":
        report.moved.append((old_path or "", track.path))
    else:
        getattr(report, kind).append(track.path)


_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def _regular_file(given: Path) -> tuple[Path, os.stat_result]:
    """The catalogue path of ``given`` and its stat, or LibraryError naming ``given`` when it
    is no regular file: a symbolic link loop or a link to nothing, a named pipe (reading it
    would block forever), a device (``/dev/zero`` never ends), a socket or a folder."""
    try:
        path = Path(normalize_path(given))
        st = path.stat()
    except RuntimeError as e:      # Path.resolve on Python < 3.13: "Symlink loop from ..."
        raise LibraryError(f"{given}: cannot be read: a symbolic link loop ({e})") from None
    except OSError as e:
        why = "a symbolic link loop" if e.errno == errno.ELOOP else (e.strerror or str(e))
        raise LibraryError(f"{given}: cannot be read: {why}") from None
    for test, kind in _SPECIAL:
        if test(st.st_mode):
            target = f" ({path})" if str(path) != str(given) else ""
            raise LibraryError(f"{given}: not an audio file but {kind}{target}")
    return path, st


def _scan_one(lib: "Library", path: Path, report: ScanReport) -> Track:
    path, st = _regular_file(path)
    t = lib.track_by_path(path)
    if t is not None and t.status != "missing" and t.size == st.st_size and t.mtime == st.st_mtime:
        _record(report, "unchanged", t)
        return t
    try:
        digest = content_hash(path)
    except OSError as e:
        raise LibraryError(f"{path}: cannot be read: {e.strerror or e}") from None
    report.n_hashed += 1
    if t is not None:
        if t.content_hash == digest and t.status == "ok":  # touched, same bytes
            t = lib.update_track(t.id, size=st.st_size, mtime=st.st_mtime)
            _record(report, "unchanged", t)
            return t
        t = lib.update_track(t.id, **_describe(path, digest, st))  # edited, or back after missing
        _record(report, "changed", t)
        return t
    for old in lib.tracks_by_hash(digest):
        if not os.path.exists(old.path):
            t = lib.update_track(old.id, path=str(path), size=st.st_size, mtime=st.st_mtime,
                                 status="error" if old.error else "ok")
            log.info("moved: %s -> %s", old.path, path)
            _record(report, "moved", t, old.path)
            return t
    try:
        t = lib.insert_track(path, **_describe(path, digest, st))
    except LibraryError:
        t = lib.track_by_path(path)   # another run (a second process) catalogued it meanwhile
        if t is None:
            raise
        _record(report, "unchanged", t)
        return t
    _record(report, "added", t)
    return t


def scan_file(lib: "Library", path: str | Path) -> Track:
    """Catalogue one file; returns its track (status 'error' with the reason when unreadable).
    Raises LibraryError when the file cannot even be stat'ed or read."""
    return _scan_one(lib, Path(path), ScanReport())


def _walk(folder: Path, extensions: Sequence[str]) -> list[Path]:
    exts = tuple(e.lower() for e in extensions)
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.lower().endswith(exts):
                out.append(Path(dirpath) / name)
    return out


def scan_folder(lib: "Library", folder: str | Path, *, progress: ScanProgress | None = None,
                extensions: Sequence[str] = DEFAULT_EXTENSIONS) -> ScanReport:
    """Bring the catalogue in line with the audio files under ``folder`` (recursively; hidden
    files and folders are skipped).

    New files are probed and tagged (title falls back to the file stem); files whose size or
    mtime changed are rehashed and, if their bytes changed, re-probed; a new path with the
    content of a track whose file is gone takes over that track (moved); catalogued files
    under ``folder`` that no longer exist get status 'missing'; files that cannot be read get
    status 'error' with the reason and are listed in ``failed`` while the scan goes on.
    """
    root = Path(normalize_path(folder))
    if not root.is_dir():
        raise LibraryError(f"{root}: not a folder")
    files = _walk(root, extensions)
    report = ScanReport()
    seen: set[str] = set()
    for i, path in enumerate(files):
        if progress is not None:
            progress(i, len(files), str(path))
        try:
            t = _scan_one(lib, path, report)
            seen.add(t.path)
        except (LibraryError, OSError, ValueError) as e:   # one file fails alone
            log.info("scan: %s", e)          # the caller reports ``failed``
            reason = str(e)
            if reason.startswith(f"{path}: "):               # the report pairs path and reason
                reason = reason[len(f"{path}: "):]
            report.failed.append((str(path), reason))
    for t in lib.tracks_under(root):
        if t.path in seen or t.status == "missing" or os.path.exists(t.path):
            continue
        lib.update_track(t.id, status="missing")
        report.removed.append(t.path)
    if progress is not None:
        progress(len(files), len(files), "")
    log.info("scan of %s: %s", root, report)
    return report
