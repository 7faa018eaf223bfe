"""The value types of similarity queries, and the key and tempo comparisons they explain with.

Seeds (a track id or a :class:`Region`), :class:`TrackMeta` (what filters and explanations
read about a track), :class:`Filters`, results (:class:`SimilarTrack`),
:class:`SimilarityError`, and :func:`key_relation` / :func:`tempo_closeness`. The queries
themselves are :class:`workstation.analysis.similarity.SimilaritySearch`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Sequence, Union

from workstation.core.errors import WorkstationError
from workstation.core.units import parse_key_label
from workstation.library.paths import normalize_path

#: Tags with at least this score count as the track's tags (filters, explanations).
TAG_THRESHOLD = 0.5


class SimilarityError(WorkstationError):
    """A similarity query cannot be answered (unknown track, no embedding yet...)."""


@dataclass(frozen=True)
class Region:
    """A region of a track as a query: ``start_s`` to ``end_s`` seconds."""

    track_id: int
    start_s: float
    end_s: float


Seed = Union[int, Region]


@dataclass
class TrackMeta:
    """What filters and explanations read about a track (None where not analysed)."""

    track_id: int
    path: str
    content_hash: str
    title: str
    artist: str
    duration_s: float | None
    key: str | None  # 'A:minor'
    tonic_pc: int | None
    mode: str | None
    tempo_bpm: float | None
    tags: frozenset = frozenset()  # lower-case labels (analysed tags >= TAG_THRESHOLD, genre, user tags)


@dataclass
class Filters:
    """Constraints on results; every given one must hold (None / empty = no constraint).

    key: a key label ('A minor', 'A:minor', 'Bb') or a list of them; tempo_bpm and
    duration_s: (low, high) inclusive ranges; tags: labels that must all be present
    (case-insensitive); folder: results must lie inside it. A track without the analysis a
    filter needs (no key, no tempo) does not pass that filter."""

    key: str | Sequence[str] | None = None
    tempo_bpm: tuple[float, float] | None = None
    duration_s: tuple[float, float] | None = None
    tags: tuple[str, ...] = ()
    folder: str | None = None

    def __bool__(self) -> bool:
        return any(v for v in (self.key, self.tempo_bpm, self.duration_s, self.tags, self.folder))

    def accepts(self, m: TrackMeta) -> bool:
        if self.key:
            wanted = [self.key] if isinstance(self.key, str) else list(self.key)
            keys = {parse_key_label(k) for k in wanted}
            if m.tonic_pc is None or (m.tonic_pc, m.mode) not in keys:
                return False
        if self.tempo_bpm:
            lo, hi = self.tempo_bpm
            if m.tempo_bpm is None or not lo <= m.tempo_bpm <= hi:
                return False
        if self.duration_s:
            lo, hi = self.duration_s
            if m.duration_s is None or not lo <= m.duration_s <= hi:
                return False
        if self.tags and not {t.lower() for t in self.tags} <= m.tags:
            return False
        if self.folder:
            prefix = normalize_path(self.folder).rstrip(os.sep) + os.sep
            if not m.path.startswith(prefix):
                return False
        return True

    @classmethod
    def parse(cls, texts: Sequence[str]) -> "Filters":
        """From ``NAME=VALUE`` strings (the CLI's ``--filter``): ``key=A minor`` (several keys
        comma-separated), ``tempo=90-120``, ``duration=60-300`` (seconds), ``tag=rock`` (may be
        repeated or comma-separated), ``folder=/music/bach``."""
        f = cls()
        tags: list[str] = []
        for text in texts:
            name, sep, value = text.partition("=")
            name, value = name.strip().lower(), value.strip()
            if not sep or not value:
                raise SimilarityError(f"filter {text!r}: expected NAME=VALUE "
                                      "(key, tempo, duration, tag, folder)")
            if name == "key":
                keys = [k.strip() for k in value.split(",") if k.strip()]
                for k in keys:
                    try:
                        parse_key_label(k)
                    except ValueError as e:
                        raise SimilarityError(f"filter {text!r}: {e}") from None
                f.key = keys if len(keys) > 1 else keys[0]
            elif name in ("tempo", "duration"):
                lo, dash, hi = value.partition("-")
                try:
                    rng = (float(lo) if lo else 0.0, float(hi) if dash and hi else
                           (math.inf if dash else float(lo)))
                except ValueError:
                    raise SimilarityError(f"filter {text!r}: expected a range like 90-120") from None
                if name == "tempo":
                    f.tempo_bpm = rng
                else:
                    f.duration_s = rng
            elif name in ("tag", "tags", "genre"):
                tags += [t.strip() for t in value.split(",") if t.strip()]
            elif name == "folder":
                f.folder = value
            else:
                raise SimilarityError(f"unknown filter {name!r} (key, tempo, duration, tag, folder)")
        f.tags = tuple(tags)
        return f


@dataclass
class SimilarTrack:
    """One result: the track, its cosine ``score`` with the query in [-1, 1] (mean over the
    seeds), and ``explanation``: per aspect closeness (see ``SimilaritySearch.explain``)."""

    track_id: int
    path: str
    title: str
    artist: str
    duration_s: float | None
    score: float
    explanation: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"track_id": self.track_id, "path": self.path, "title": self.title,
                "artist": self.artist, "duration_s": self.duration_s, "score": self.score,
                "explanation": self.explanation}


def _fifths(pc: int) -> int:
    return (pc * 7) % 12


def key_relation(a: TrackMeta, b: TrackMeta) -> tuple[str | None, float | None]:
    """How two keys relate ('same', 'relative', 'parallel', 'dominant' / 'subdominant',
    'other') and a closeness in [0, 1] (1 same key; by distance on the circle of fifths,
    relative keys counted as the same place)."""
    if a.tonic_pc is None or b.tonic_pc is None:
        return None, None
    # the relative major of each key: a minor's relative major is 3 semitones up
    ra = (a.tonic_pc + (3 if a.mode == "minor" else 0)) % 12
    rb = (b.tonic_pc + (3 if b.mode == "minor" else 0)) % 12
    d = abs(_fifths(ra) - _fifths(rb))
    d = min(d, 12 - d)  # 0..6 steps on the circle of fifths
    if a.tonic_pc == b.tonic_pc and a.mode == b.mode:
        return "same", 1.0
    if d == 0:
        return "relative", 0.85
    if a.tonic_pc == b.tonic_pc:
        return "parallel", 0.6
    rel = "dominant" if (_fifths(rb) - _fifths(ra)) % 12 == 1 else (
        "subdominant" if (_fifths(ra) - _fifths(rb)) % 12 == 1 else "other")
    return rel, round(max(0.0, 1.0 - d / 4.0) * (0.75 if d == 1 else 1.0), 3)


def tempo_closeness(a_bpm: float | None, b_bpm: float | None) -> float | None:
    """Closeness of two tempi in [0, 1]: 1 equal, 0 at a third of an octave apart or more;
    half and double tempo count as close (0.8 of the folded closeness)."""
    if not a_bpm or not b_bpm:
        return None
    d = abs(math.log2(a_bpm / b_bpm))
    direct = max(0.0, 1.0 - d / (1 / 3))
    folded = max(0.0, 1.0 - abs(d - 1.0) / (1 / 3)) * 0.8
    return round(max(direct, folded), 3)
