"""Extended M3U playlists (UTF-8), with paths relative to the playlist where possible."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, NamedTuple
from urllib.parse import unquote, urlparse

from workstation.core.errors import AnnotationError

from .atomic import atomic_write


class PlaylistEntry(NamedTuple):
    """One playlist entry: absolute path, duration in seconds (None unknown), title (may be '')."""

    path: Path
    duration_s: float | None
    title: str


def write_m3u(path: str | Path, tracks: Iterable, *, relative: bool = True) -> Path:
    """Write an extended M3U playlist.

    tracks: items ``(path, duration_s, title)`` (duration None or negative = unknown; title
    None = the file stem) or bare paths. With ``relative`` (the default) paths are written
    relative to the playlist's folder when they can be (same drive), else absolute; with
    ``relative=False`` always absolute. Written as UTF-8 (as ``.m3u8`` mandates). A relative
    path that starts with '#' or a space is written as ``./NAME``, so that players (and
    ``read_m3u``) do not take it for a comment."""
    path = Path(path)
    base = path.resolve().parent
    lines = ["#EXTM3U"]
    for item in tracks:
        if isinstance(item, (str, os.PathLike)):
            p, dur, title = Path(item), None, None
        else:
            p, dur, title = Path(item[0]), item[1], (item[2] if len(item) > 2 else None)
        p = p if p.is_absolute() else p.resolve()
        try:
            rel = os.path.relpath(p, base) if relative else str(p)
        except ValueError:  # another drive (Windows)
            rel = str(p)
        secs = -1 if dur is None or dur < 0 else int(round(float(dur)))
        title = (title if title is not None else p.stem).replace("\n", " ").replace("\r", " ")
        lines.append(f"#EXTINF:{secs},{title}")
        if not os.path.isabs(rel):
            rel = rel.replace(os.sep, "/")
            if rel.startswith("#") or rel != rel.lstrip():
                rel = "./" + rel    # a line starting with '#' is a comment to every player
        lines.append(rel)
    with atomic_write(path, "write playlist") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_m3u(path: str | Path) -> list[PlaylistEntry]:
    """Read an M3U/M3U8 playlist (extended or plain) into entries with absolute paths
    (relative entries resolved against the playlist's folder; ``file://`` URLs accepted;
    other URLs are skipped). Raises ``AnnotationError`` naming the file and the reason."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, "file not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # legacy .m3u files are often Latin-1
    if "\x00" in text:
        raise AnnotationError(path, "not a playlist (binary content)")
    base = path.resolve().parent
    out: list[PlaylistEntry] = []
    dur: float | None = None
    title = ""
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith("#EXTINF:"):
            info = s[len("#EXTINF:"):]
            d, _, t = info.partition(",")
            try:
                dv = float(d.split()[0]) if d.strip() else -1.0
            except ValueError:
                dv = -1.0
            dur = None if dv < 0 else dv
            title = t.strip()
            continue
        if s.startswith("#"):
            continue
        if "://" in s:
            u = urlparse(s)
            if u.scheme != "file":
                dur, title = None, ""
                continue
            s = unquote(u.path)
        p = Path(s)
        out.append(PlaylistEntry((p if p.is_absolute() else base / p).resolve(), dur, title))
        dur, title = None, ""
    return out
