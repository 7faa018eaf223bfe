"""Playlists: M3U8 (relative or absolute paths) and JAMS-compatible JSON.

The JSON is a valid JAMS file (``jams.load`` reads and validates it): the playlist is one
``tag_open`` annotation laid out as a timeline, one observation per entry with ``time`` =
where it starts in the playlist (the sum of the durations before it), ``duration`` its
duration (0 when unknown), ``value`` its path (relative to the JSON file's folder or
absolute) and ``confidence`` its similarity score; ``annotation_metadata`` names the
generator and ``sandbox`` keeps the full entries (title, artist, track id, explanation) and
how the list was made (mode, seeds).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import jams

from workstation.core.errors import AnnotationError

from .atomic import atomic_write
from .m3u import read_m3u, write_m3u

NAMESPACE = "tag_open"


@dataclass
class PlaylistItem:
    """One playlist entry: ``path`` (absolute), duration in seconds (None unknown), title,
    artist, similarity ``score`` (None for none), ``track_id`` and an ``explanation`` dict."""

    path: str
    duration_s: float | None = None
    title: str = ""
    artist: str = ""
    score: float | None = None
    track_id: int | None = None
    explanation: dict = field(default_factory=dict)

    @classmethod
    def coerce(cls, item) -> "PlaylistItem":
        """From a PlaylistItem, an object with the same attributes (e.g. a similarity
        result), a dict, or a bare path."""
        if isinstance(item, cls):
            return item
        if isinstance(item, (str, os.PathLike)):
            return cls(str(item))
        if isinstance(item, dict):
            return cls(**{k: item[k] for k in cls.__dataclass_fields__ if k in item})
        return cls(**{k: getattr(item, k) for k in cls.__dataclass_fields__ if hasattr(item, k)})


def _rel(p: str, base: Path, relative: bool) -> str:
    path = Path(p)
    if not relative:
        return str(path.resolve())
    try:
        return os.path.relpath(path.resolve(), base).replace(os.sep, "/")
    except ValueError:  # another drive (Windows)
        return str(path.resolve())


def write_m3u8(path: str | Path, items: Iterable, *, relative: bool = True) -> Path:
    """Write an extended M3U8 playlist (UTF-8) of ``items`` (PlaylistItem-like objects,
    dicts or paths) with paths relative to the playlist's folder (or absolute)."""
    rows = []
    for it in map(PlaylistItem.coerce, items):
        rows.append((it.path, it.duration_s, it.title or None))
    return write_m3u(path, rows, relative=relative)


def read_m3u8(path: str | Path) -> list[PlaylistItem]:
    """Read an M3U/M3U8 playlist into items with absolute paths."""
    return [PlaylistItem(str(e.path), e.duration_s, e.title) for e in read_m3u(path)]


def _json_safe(x):
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if hasattr(x, "item"):  # numpy scalars
        return _json_safe(x.item())
    return x


def write_playlist_jams(path: str | Path, items: Sequence, *, relative: bool = True,
                        title: str = "", mode: str = "", seeds: Sequence[str] = ()) -> Path:
    """Write the playlist as a JAMS file (see the module docstring); returns the path."""
    path = Path(path)
    base = path.resolve().parent
    items = [PlaylistItem.coerce(i) for i in items]
    jam = jams.JAMS()
    ann = jams.Annotation(namespace=NAMESPACE)
    t = 0.0
    for it in items:
        dur = float(it.duration_s) if it.duration_s and it.duration_s > 0 else 0.0
        ann.append(time=t, duration=dur, value=_rel(it.path, base, relative),
                   confidence=None if it.score is None else float(it.score))
        t += dur
    ann.annotation_metadata = jams.AnnotationMetadata(
        annotator={"name": "workstation similarity"}, data_source="workstation playlist",
        annotation_tools="workstation.analysis.similarity",
        annotation_rules=f"playlist ({mode or 'list'}); time = start in the playlist, "
                         "value = audio path, confidence = similarity score")
    ann.sandbox = jams.Sandbox(entries=_json_safe([
        {"path": _rel(it.path, base, relative), "title": it.title, "artist": it.artist,
         "duration_s": it.duration_s, "score": it.score, "track_id": it.track_id,
         "explanation": it.explanation} for it in items]))
    jam.annotations.append(ann)
    jam.file_metadata.duration = t
    jam.file_metadata.title = title or "playlist"
    jam.sandbox = jams.Sandbox(playlist=_json_safe({"title": title, "mode": mode,
                                                    "seeds": list(seeds),
                                                    "relative_paths": relative}))
    with atomic_write(path, "write playlist") as tmp, open(tmp, "w", encoding="utf-8") as fh:
        jam.save(fh)  # validates against the JAMS schema
    return path


def read_playlist_jams(path: str | Path) -> list[PlaylistItem]:
    """Read a playlist written by ``write_playlist_jams`` (paths made absolute)."""
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, "file not found")
    try:
        jam = jams.load(str(path))
    except (OSError, ValueError, json.JSONDecodeError, jams.JamsError) as exc:
        raise AnnotationError(path, f"not a readable JAMS playlist: {exc}") from exc
    anns = jam.search(namespace=NAMESPACE)
    if not anns:
        raise AnnotationError(path, f"no {NAMESPACE} playlist annotation")
    ann = anns[0]
    base = path.resolve().parent
    extra = list(getattr(ann.sandbox, "entries", None) or [])
    out = []
    for i, obs in enumerate(ann.data):
        p = Path(obs.value)
        e = extra[i] if i < len(extra) else {}
        out.append(PlaylistItem(str(p if p.is_absolute() else (base / p).resolve()),
                                obs.duration or None, e.get("title", ""), e.get("artist", ""),
                                obs.confidence, e.get("track_id"), e.get("explanation") or {}))
    return out


def write_playlist(path: str | Path, items: Sequence, *, relative: bool = True, **meta) -> Path:
    """Write by extension: ``.m3u8`` / ``.m3u`` as M3U8, ``.json`` / ``.jams`` as JAMS."""
    ext = Path(path).suffix.lower()
    if ext in (".m3u8", ".m3u"):
        return write_m3u8(path, items, relative=relative)
    if ext in (".json", ".jams"):
        return write_playlist_jams(path, items, relative=relative, **meta)
    raise AnnotationError(path, "unknown playlist format (use .m3u8 or .json/.jams)")
