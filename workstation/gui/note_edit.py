"""Editing note events by hand: pure functions over ``core.types.Notes`` (no Qt), each
returning the new notes and the indices of the notes it touched (the new selection).

Notes here are always in order of onset (then pitch) and every note lasts at least
``MIN_DURATION_S``; pitches are whole MIDI semitones (``Notes.pitch_midi`` holds ints), so a
vertical move is snapped to whole semitones. Pitch bends follow their notes: moved with
them, cut by a split, joined by a merge, dropped with a deleted note.

``NoteEdits`` holds the notes of one track being edited and their selection (a model for
scripts and tests; the window's ``note_tool.NoteTool`` keeps the same pair, and its undo
commands, ``edit_tool.EditCommand``, the notes and selection before and after each operation).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workstation.core.postprocess import take_notes
from workstation.core.types import Notes

MIN_DURATION_S = 0.02
DEFAULT_DURATION_S = 0.25
DEFAULT_VELOCITY = 80
PITCH_RANGE = (0, 127)


def _idx(indices) -> np.ndarray:
    return np.unique(np.asarray(list(indices), dtype=np.int64))


def empty_notes() -> Notes:
    z = np.zeros(0)
    return Notes(onsets_s=z, offsets_s=z.copy(), pitch_midi=np.zeros(0, np.int64),
                 velocity=np.zeros(0, np.int64), confidence=z.copy())


def _confidence(n: Notes) -> np.ndarray:
    c = np.asarray(n.confidence, dtype=np.float64)
    return c if len(c) == len(n) else np.ones(len(n))


def _make(on, off, pitch, vel, conf, bend_note, bend_t, bend_c, touched
          ) -> tuple[Notes, list[int]]:
    """Notes from parallel arrays, put in order of (onset, pitch); ``touched`` (old indices)
    mapped to the new order."""
    on = np.asarray(on, dtype=np.float64)
    pitch = np.asarray(pitch, dtype=np.int64)
    order = np.lexsort((pitch, on))
    new_of_old = np.empty(len(order), dtype=np.int64)
    new_of_old[order] = np.arange(len(order))
    bend_note = np.asarray(bend_note, dtype=np.int64)
    notes = Notes(onsets_s=on[order], offsets_s=np.asarray(off, dtype=np.float64)[order],
                  pitch_midi=pitch[order], velocity=np.asarray(vel, dtype=np.int64)[order],
                  confidence=np.asarray(conf, dtype=np.float64)[order],
                  bend_note=new_of_old[bend_note] if len(bend_note) else bend_note,
                  bend_times_s=np.asarray(bend_t, dtype=np.float64),
                  bend_cents=np.asarray(bend_c, dtype=np.float64))
    return notes, sorted(int(new_of_old[i]) for i in touched)


def _parts(n: Notes):
    return [np.asarray(n.onsets_s, np.float64).copy(), np.asarray(n.offsets_s, np.float64).copy(),
            np.asarray(n.pitch_midi, np.int64).copy(), np.asarray(n.velocity, np.int64).copy(),
            _confidence(n).copy(), np.asarray(n.bend_note, np.int64).copy(),
            np.asarray(n.bend_times_s, np.float64).copy(), np.asarray(n.bend_cents, np.float64).copy()]


def sort_notes(notes: Notes) -> Notes:
    """``notes`` in order of onset, then pitch."""
    return _make(*_parts(notes), [])[0]


def move(notes: Notes, indices: Sequence[int], dt_s: float, dpitch: float
         ) -> tuple[Notes, list[int]]:
    """Move the notes ``indices`` by ``dt_s`` seconds and ``dpitch`` semitones (rounded to
    whole semitones). The group keeps its shape: the shift is limited so that no note
    starts before 0 s nor leaves MIDI 0..127."""
    idx = _idx(indices)
    on, off, pitch, vel, conf, bn, bt, bc = _parts(notes)
    if not len(idx):
        return notes, []
    dt = max(float(dt_s), -float(on[idx].min()))
    dp = int(round(float(dpitch)))
    dp = min(max(dp, PITCH_RANGE[0] - int(pitch[idx].min())), PITCH_RANGE[1] - int(pitch[idx].max()))
    on[idx] += dt
    off[idx] += dt
    pitch[idx] += dp
    bt[np.isin(bn, idx)] += dt
    return _make(on, off, pitch, vel, conf, bn, bt, bc, idx)


def resize(notes: Notes, indices: Sequence[int], d_offset_s: float) -> tuple[Notes, list[int]]:
    """Move the ends (offsets) of the notes ``indices`` by ``d_offset_s`` seconds; each note
    keeps at least ``MIN_DURATION_S``. Bends after a shortened note's end are dropped."""
    idx = _idx(indices)
    on, off, pitch, vel, conf, bn, bt, bc = _parts(notes)
    off[idx] = np.maximum(off[idx] + float(d_offset_s), on[idx] + MIN_DURATION_S)
    keep = np.ones(len(bn), bool)
    for i in idx:
        keep &= ~((bn == i) & (bt > off[i]))
    return _make(on, off, pitch, vel, conf, bn[keep], bt[keep], bc[keep], idx)


def add(notes: Notes, onset_s: float, pitch_midi: float, duration_s: float = DEFAULT_DURATION_S,
        velocity: int | None = None) -> tuple[Notes, list[int]]:
    """A new note at ``onset_s`` (>= 0) s, ``pitch_midi`` (rounded), lasting ``duration_s``
    (at least ``MIN_DURATION_S``); its velocity is the median of the others (or
    ``DEFAULT_VELOCITY``), its confidence 1 (a person put it there)."""
    on, off, pitch, vel, conf, bn, bt, bc = _parts(notes)
    onset = max(0.0, float(onset_s))
    if velocity is None:
        velocity = int(np.median(vel)) if len(vel) else DEFAULT_VELOCITY
    p = min(max(int(round(float(pitch_midi))), PITCH_RANGE[0]), PITCH_RANGE[1])
    n = len(on)
    return _make(np.append(on, onset), np.append(off, onset + max(float(duration_s), MIN_DURATION_S)),
                 np.append(pitch, p), np.append(vel, int(velocity)), np.append(conf, 1.0),
                 bn, bt, bc, [n])


def delete(notes: Notes, indices: Sequence[int]) -> tuple[Notes, list[int]]:
    """The notes without ``indices`` (and without their bends); nothing selected after."""
    idx = _idx(indices)
    keep = np.ones(len(notes), bool)
    keep[idx] = False
    return _make(*_parts(take_notes(notes, np.flatnonzero(keep))), [])


def split(notes: Notes, indices: Sequence[int], t_s: float) -> tuple[Notes, list[int]]:
    """Cut each of the notes ``indices`` that sounds at ``t_s`` (at least ``MIN_DURATION_S``
    inside it) into [onset, t_s) and [t_s, offset); both halves are selected after."""
    idx = _idx(indices)
    on, off, pitch, vel, conf, bn, bt, bc = _parts(notes)
    t = float(t_s)
    cut = [int(i) for i in idx if on[i] + MIN_DURATION_S <= t <= off[i] - MIN_DURATION_S]
    if not cut:
        return notes, [int(i) for i in idx]
    n = len(on)
    new = list(range(n, n + len(cut)))
    for j, i in zip(new, cut):
        bn[(bn == i) & (bt >= t)] = j
    on2, off2 = np.append(on, [t] * len(cut)), np.append(off, off[cut])
    off2[cut] = t
    return _make(on2, off2, np.append(pitch, pitch[cut]), np.append(vel, vel[cut]),
                 np.append(conf, conf[cut]), bn, bt, bc, cut + new)


def merge(notes: Notes, indices: Sequence[int]) -> tuple[Notes, list[int]]:
    """Join the notes ``indices`` of the same pitch into one note per pitch, from the first
    onset to the last offset (the loudest velocity, the lowest confidence); the merged notes
    are selected after. Unselected notes of that pitch lying inside the merged span join it
    too (else they would sit under it, overlapping). Notes alone at their pitch stay as they
    are."""
    idx = _idx(indices)
    on, off, pitch, vel, conf, bn, bt, bc = _parts(notes)
    drop, kept = [], []
    for p in np.unique(pitch[idx]):
        group = idx[pitch[idx] == p]
        first = int(group[np.argmin(on[group])])
        kept.append(first)
        if len(group) < 2:
            continue
        inside = np.flatnonzero((pitch == p) & (on >= on[group].min()) & (on < off[group].max()))
        group = np.union1d(group, inside)
        off[first] = off[group].max()
        vel[first] = vel[group].max()
        conf[first] = conf[group].min()
        for g in group:
            if g != first:
                bn[bn == g] = first
                drop.append(int(g))
    keep = np.ones(len(on), bool)
    keep[drop] = False
    new_index = np.cumsum(keep) - 1
    return _make(on[keep], off[keep], pitch[keep], vel[keep], conf[keep], new_index[bn], bt, bc,
                 [int(new_index[k]) for k in kept])


def hit(notes: Notes, t_s: float, pitch_midi: float, *, tol_s: float = 0.0,
        half_height: float = 0.5) -> int | None:
    """The index of the note under (``t_s`` s, ``pitch_midi``), or None: the shortest note
    whose [onset - tol_s, offset + tol_s] x [pitch -+ half_height] holds the point."""
    on, off, p = (np.asarray(notes.onsets_s), np.asarray(notes.offsets_s),
                  np.asarray(notes.pitch_midi, np.float64))
    inside = ((on - tol_s <= t_s) & (t_s <= off + tol_s) & (np.abs(p - pitch_midi) <= half_height))
    cand = np.flatnonzero(inside)
    if not len(cand):
        return None
    return int(cand[np.argmin(off[cand] - on[cand])])


def in_rect(notes: Notes, t0: float, t1: float, p0: float, p1: float) -> list[int]:
    """Indices of the notes that overlap [t0, t1] s x [p0, p1] MIDI (either corner order)."""
    t0, t1 = sorted((float(t0), float(t1)))
    p0, p1 = sorted((float(p0), float(p1)))
    on, off, p = (np.asarray(notes.onsets_s), np.asarray(notes.offsets_s),
                  np.asarray(notes.pitch_midi, np.float64))
    return [int(i) for i in np.flatnonzero((on <= t1) & (off >= t0) & (p + 0.5 >= p0) & (p - 0.5 <= p1))]


def snap_times(times_s, beat_times_s, division: int = 4) -> np.ndarray:
    """``times_s`` moved to the nearest point of the beat grid ``beat_times_s`` cut into
    ``division`` parts between each two beats (the subdivision follows the local beat
    period). Times before the first beat or after the last stay where they are, as do all
    times when there are fewer than two beats."""
    t = np.asarray(times_s, dtype=np.float64)
    b = np.unique(np.asarray(beat_times_s, dtype=np.float64))
    b = b[np.isfinite(b)]
    if len(b) < 2 or int(division) < 1:
        return t.copy()
    frac = np.arange(int(division)) / int(division)
    grid = np.append((b[:-1, None] + np.diff(b)[:, None] * frac[None, :]).ravel(), b[-1])
    j = np.clip(np.searchsorted(grid, t), 1, len(grid) - 1)
    lo, hi = grid[j - 1], grid[j]
    nearest = np.where(np.abs(t - lo) <= np.abs(hi - t), lo, hi)
    inside = (t >= b[0]) & (t <= b[-1])
    return np.where(inside, nearest, t)


def snap_one(t_s: float, beat_times_s, division: int = 4) -> float:
    """``snap_times`` of one time; ``beat_times_s`` None: ``t_s`` as it is."""
    if beat_times_s is None:
        return float(t_s)
    return float(snap_times([t_s], beat_times_s, division)[0])


def selection(notes: Notes, indices: Sequence[int]) -> tuple[Notes, float, float]:
    """The notes ``indices`` alone (with their bends, in onset order) and the span they
    sound over: (notes, first onset s, last offset s); (empty, 0, 0) for no index."""
    idx = _idx([i for i in indices if 0 <= int(i) < len(notes)])
    if not len(idx):
        return empty_notes(), 0.0, 0.0
    sub, _ = _make(*_parts(take_notes(notes, idx)), [])
    return sub, float(sub.onsets_s.min()), float(sub.offsets_s.max())


class NoteEdits:
    """The notes of one track under edit (``notes``, in order of onset) and the selection
    (``selected``, indices into ``notes``). ``apply(fn, *args)`` runs one of this module's
    operations on them and selects what it returned."""

    def __init__(self, notes: Notes | None):
        self.notes = sort_notes(notes) if notes is not None and len(notes) else (notes or empty_notes())
        self.selected: list[int] = []

    def apply(self, fn, *args, **kw) -> Notes:
        self.notes, self.selected = fn(self.notes, *args, **kw)
        return self.notes

    def set_state(self, notes: Notes, selected: Sequence[int]) -> None:
        self.notes, self.selected = notes, [int(i) for i in selected if 0 <= int(i) < len(notes)]
