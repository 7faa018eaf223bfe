"""Editing beats by hand: pure functions over ``core.types.Beats`` (no Qt), each returning
the new beats and the indices of the beats it touched (the new selection).

Beats stay in time order, at least ``MIN_GAP_S`` apart. Downbeats (position 1) are the
anchors of the bar: after every edit the other beats are numbered 2, 3, … after the last
downbeat before them (before the first downbeat: counted back from it, 0 where that
leaves the bar), ``meter`` is the most common bar length
and ``tempo_bpm`` follows the median beat period (``renumber``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workstation.core.types import Beats

MIN_GAP_S = 0.03


def _idx(indices) -> np.ndarray:
    return np.unique(np.asarray(list(indices), dtype=np.int64))


def empty_beats() -> Beats:
    return Beats(times_s=np.zeros(0), positions=np.zeros(0, np.int64), tempo_bpm=0.0)


def renumber(times_s, downbeat, like: Beats | None = None, touched=()) -> tuple[Beats, list[int]]:
    """Beats at ``times_s`` [shape=(n,)] s, ``downbeat`` [shape=(n,), bool] marking the
    downbeats, in time order (``touched``, indices into the inputs, mapped to that order);
    positions, meter and tempo computed from them; the other fields from ``like``."""
    t = np.asarray(times_s, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    new_of_old = np.empty(len(order), dtype=np.int64)
    new_of_old[order] = np.arange(len(order))
    t = t[order]
    db = np.asarray(downbeat, dtype=bool)[order]
    pos = np.zeros(len(t), dtype=np.int64)
    bars = []
    k = 0
    for i in range(len(t)):
        if db[i]:
            if k:
                bars.append(k)
            k = 1
        elif k:
            k += 1
        pos[i] = k
    meter = int(np.bincount(bars).argmax()) if bars else int(getattr(like, "meter", 0) or 0)
    first = int(np.argmax(db)) if db.any() else len(t)
    for i in range(first):   # a bar begun before the first downbeat: count back from it
        p = meter - (first - i) + 1
        pos[i] = p if p >= 2 else 0
    tempo = float(60.0 / np.median(np.diff(t))) if len(t) > 1 else float(getattr(like, "tempo_bpm", 0.0))
    out = Beats(times_s=t, positions=pos, tempo_bpm=tempo,
                tempo_alternatives_bpm=np.array([tempo / 2, tempo * 2]) if tempo else np.zeros(0),
                tempo_confidence=float(getattr(like, "tempo_confidence", 0.0) or 0.0), meter=meter)
    return out, sorted(int(new_of_old[i]) for i in touched)


def _parts(b: Beats):
    return np.asarray(b.times_s, np.float64).copy(), np.asarray(b.positions) == 1


def _room(t: np.ndarray) -> bool:
    s = np.sort(t)
    return bool(np.all(np.diff(s) >= MIN_GAP_S - 1e-9))


def move(beats: Beats, indices: Sequence[int], dt_s: float) -> tuple[Beats, list[int]]:
    """Move the beats ``indices`` by ``dt_s`` s (no earlier than 0 s). A move that would bring
    two beats closer than ``MIN_GAP_S`` changes nothing."""
    idx = _idx(indices)
    t, db = _parts(beats)
    if not len(idx):
        return beats, []
    t[idx] += max(float(dt_s), -float(t[idx].min()))
    if not _room(t):
        return beats, [int(i) for i in idx]
    return renumber(t, db, beats, idx)


def add(beats: Beats, t_s: float, *, downbeat: bool = False) -> tuple[Beats, list[int]]:
    """A new beat at ``t_s`` s (nothing when another beat is within ``MIN_GAP_S``)."""
    t, db = _parts(beats)
    t_new = max(0.0, float(t_s))
    if len(t) and np.min(np.abs(t - t_new)) < MIN_GAP_S:
        return beats, []
    return renumber(np.append(t, t_new), np.append(db, bool(downbeat)), beats, [len(t)])


def delete(beats: Beats, indices: Sequence[int]) -> tuple[Beats, list[int]]:
    idx = _idx(indices)
    t, db = _parts(beats)
    keep = np.ones(len(t), bool)
    keep[idx] = False
    return renumber(t[keep], db[keep], beats)


def _span(beats: Beats, indices) -> np.ndarray:
    """The indices an operation works on: ``indices``, or every beat when None/empty."""
    idx = _idx(indices if indices is not None else [])
    return idx if len(idx) else np.arange(len(beats.times_s))


def double_tempo(beats: Beats, indices: Sequence[int] | None = None) -> tuple[Beats, list[int]]:
    """A new beat halfway between each two consecutive beats of ``indices`` (None: all);
    the old and new beats are selected after."""
    idx = _span(beats, indices)
    t, db = _parts(beats)
    idx = idx[:-1][np.diff(idx) == 1] if len(idx) > 1 else idx[:0]   # consecutive pairs
    mids = (t[idx] + t[idx + 1]) / 2
    n = len(t)
    touched = sorted(set(idx.tolist()) | set((idx + 1).tolist()) | set(range(n, n + len(mids))))
    return renumber(np.append(t, mids), np.append(db, np.zeros(len(mids), bool)), beats, touched)


def halve_tempo(beats: Beats, indices: Sequence[int] | None = None) -> tuple[Beats, list[int]]:
    """Drop every second beat of ``indices`` (None: all), from the second one on (a
    downbeat is never dropped: the beat after it goes instead); the kept ones are selected."""
    idx = _span(beats, indices)
    t, db = _parts(beats)
    drop, skip = [], False
    for i in idx:
        if skip and not db[i]:
            drop.append(int(i))
            skip = False
        else:
            skip = True
    keep = np.ones(len(t), bool)
    keep[drop] = False
    new_index = np.cumsum(keep) - 1
    kept = [int(new_index[i]) for i in idx if keep[i]]
    return renumber(t[keep], db[keep], beats, kept)


def hit(beats: Beats, t_s: float, tol_s: float) -> int | None:
    """The beat nearest ``t_s`` within ``tol_s`` s, or None."""
    t = np.asarray(beats.times_s, dtype=np.float64)
    if not len(t):
        return None
    i = int(np.argmin(np.abs(t - t_s)))
    return i if abs(t[i] - t_s) <= tol_s else None


def in_range(beats: Beats, t0: float, t1: float) -> list[int]:
    t0, t1 = sorted((float(t0), float(t1)))
    t = np.asarray(beats.times_s, dtype=np.float64)
    return [int(i) for i in np.flatnonzero((t >= t0) & (t <= t1))]


def set_downbeat(beats: Beats, indices: Sequence[int]) -> tuple[Beats, list[int]]:
    """Make the first of ``indices`` a downbeat and shift the bar lines after it: from that
    beat on, every ``meter``-th beat is a downbeat (the downbeats before it stay; with no
    meter known, only that beat becomes one). The beat is selected after."""
    idx = _idx(indices)
    t, db = _parts(beats)
    if not len(idx) or not 0 <= idx[0] < len(t):
        return beats, []
    i = int(idx[0])
    meter = int(getattr(beats, "meter", 0) or 0)
    new = db.copy()
    if meter > 0:
        new[i:] = False
        new[i::meter] = True
    else:
        new[i] = True
    if np.array_equal(new, db):
        return beats, [i]
    return renumber(t, new, beats, [i])


def shift(beats: Beats, indices: Sequence[int] | None, dt_s: float) -> tuple[Beats, list[int]]:
    """Move the beats ``indices`` (None or empty: every beat, the whole grid) by ``dt_s`` s;
    as ``move`` (no earlier than 0 s, never closer than ``MIN_GAP_S`` to another beat)."""
    idx = _span(beats, indices)
    if not len(idx) or float(dt_s) == 0.0:
        return beats, [int(i) for i in idx]
    return move(beats, idx, dt_s)
