"""Editing a key layer by hand: pure functions over ``core.types.Key`` (no Qt), each
returning the new key and the indices of the local segments it touched (the new selection;
the same key object when it changes nothing).

The local segments are kept in time order, each at least ``MIN_SEGMENT_S`` long. A key
without local segments is edited as one segment over the whole track (``with_segments``).
A segment whose key is set by hand gets confidence 1.0; so does a global key set by hand.
"""

from __future__ import annotations

import numpy as np

from workstation.core.types import Key
from workstation.core.units import key_label, parse_key_label

MIN_SEGMENT_S = 0.5
MODES = ("major", "minor")
#: The 24 keys as the window names them ('C major', …, 'B minor'): (label, tonic_pc, mode).
KEYS = tuple((key_label(pc, m).replace(":", " "), pc, m) for m in MODES for pc in range(12))


def label(tonic_pc: int, mode: str) -> str:
    """'A minor' for (9, 'minor'), as the table and the info panel write keys."""
    return key_label(int(tonic_pc), str(mode)).replace(":", " ")


def parse(text: str) -> tuple[int, str]:
    """(tonic_pc, mode) of a label ('A minor', 'A:minor', 'Bb'); ValueError when it is none."""
    pc, mode = parse_key_label(text)
    if mode not in MODES:
        raise ValueError(f"not a key: {text!r} (mode {mode!r}; one of {MODES})")
    return pc, mode


def _check(tonic_pc, mode) -> tuple[int, str]:
    if str(mode) not in MODES:
        raise ValueError(f"mode {mode!r}; one of {MODES}")
    return int(tonic_pc) % 12, str(mode)


def _parts(key: Key):
    """Copies of the local segments: start, end, tonic, mode (list), confidence."""
    n = len(key.local_start_s)
    conf = np.asarray(key.local_confidence, np.float64)
    return (np.asarray(key.local_start_s, np.float64).copy(),
            np.asarray(key.local_end_s, np.float64).copy(),
            np.asarray(key.local_tonic_pc, np.int64).copy(), list(key.local_mode),
            conf.copy() if len(conf) == n else np.zeros(n))


def _made(key: Key, start, end, tonic, modes, conf, **glob) -> Key:
    return Key(tonic_pc=int(glob.get("tonic_pc", key.tonic_pc)), mode=str(glob.get("mode", key.mode)),
               confidence=float(glob.get("confidence", key.confidence)),
               local_start_s=np.asarray(start, np.float64), local_end_s=np.asarray(end, np.float64),
               local_tonic_pc=np.asarray(tonic, np.int64), local_mode=list(modes),
               local_confidence=np.asarray(conf, np.float64))


def with_segments(key: Key, duration_s: float) -> Key:
    """``key`` itself when it has local segments, else a copy with one segment of the
    global key over [0, ``duration_s``]."""
    if len(key.local_start_s):
        return key
    return _made(key, [0.0], [max(float(duration_s), MIN_SEGMENT_S)], [key.tonic_pc], [key.mode],
                 [key.confidence])


def segment_at(key: Key, t_s: float) -> int | None:
    """The segment that holds ``t_s`` (the later one on a shared boundary), or None."""
    s, e = np.asarray(key.local_start_s, np.float64), np.asarray(key.local_end_s, np.float64)
    hits = np.flatnonzero((s <= t_s) & (t_s <= e))
    return int(hits[-1]) if len(hits) else None


def boundary_at(key: Key, t_s: float, tol_s: float) -> int | None:
    """``i`` of the boundary (start of segment i, i >= 1) nearest ``t_s`` within ``tol_s``."""
    s = np.asarray(key.local_start_s, np.float64)
    if len(s) < 2:
        return None
    d = np.abs(s[1:] - t_s)
    i = int(np.argmin(d))
    return i + 1 if d[i] <= tol_s else None


def set_segment_key(key: Key, i: int, tonic_pc: int, mode: str) -> tuple[Key, list[int]]:
    """Segment ``i`` in key (tonic_pc, mode), confidence 1.0."""
    pc, mode = _check(tonic_pc, mode)
    start, end, tonic, modes, conf = _parts(key)
    if not 0 <= int(i) < len(start):
        return key, []
    i = int(i)
    if tonic[i] == pc and modes[i] == mode and conf[i] == 1.0:
        return key, [i]
    tonic[i], modes[i], conf[i] = pc, mode, 1.0
    return _made(key, start, end, tonic, modes, conf), [i]


def move_boundary(key: Key, i: int, t_s: float) -> tuple[Key, list[int]]:
    """Move the boundary between segments ``i - 1`` and ``i`` to ``t_s`` (the end of i-1 and
    the start of i), clamped so that both keep at least ``MIN_SEGMENT_S``."""
    start, end, tonic, modes, conf = _parts(key)
    i = int(i)
    if not 1 <= i < len(start):
        return key, []
    lo, hi = start[i - 1] + MIN_SEGMENT_S, end[i] - MIN_SEGMENT_S
    if lo > hi:
        return key, [i]
    t = float(min(max(float(t_s), lo), hi))
    if t == start[i] and t == end[i - 1]:
        return key, [i]
    end[i - 1], start[i] = t, t
    return _made(key, start, end, tonic, modes, conf), [i]


def split(key: Key, t_s: float) -> tuple[Key, list[int]]:
    """Split the segment holding ``t_s`` in two at ``t_s`` (both halves keep its key and
    confidence); nothing when a half would be shorter than ``MIN_SEGMENT_S``."""
    i = segment_at(key, t_s)
    if i is None:
        return key, []
    start, end, tonic, modes, conf = _parts(key)
    t = float(t_s)
    if t - start[i] < MIN_SEGMENT_S or end[i] - t < MIN_SEGMENT_S:
        return key, [i]
    start = np.insert(start, i + 1, t)
    end = np.insert(end, i, t)
    tonic = np.insert(tonic, i + 1, tonic[i])
    modes.insert(i + 1, modes[i])
    conf = np.insert(conf, i + 1, conf[i])
    return _made(key, start, end, tonic, modes, conf), [i, i + 1]


def merge(key: Key, i: int) -> tuple[Key, list[int]]:
    """Merge segment ``i`` with the next one: one segment over both, in segment i's key."""
    start, end, tonic, modes, conf = _parts(key)
    i = int(i)
    if not 0 <= i < len(start) - 1:
        return key, []
    end[i] = end[i + 1]
    keep = np.ones(len(start), bool)
    keep[i + 1] = False
    del modes[i + 1]
    return _made(key, start[keep], end[keep], tonic[keep], modes, conf[keep]), [i]


def set_global(key: Key, tonic_pc: int, mode: str, selected=()) -> tuple[Key, list[int]]:
    """The global key set by hand (confidence 1.0); the segments stay (``selected`` is
    handed back as the selection)."""
    pc, mode = _check(tonic_pc, mode)
    sel = [int(i) for i in selected]
    if key.tonic_pc == pc and key.mode == mode and key.confidence == 1.0:
        return key, sel
    return _made(key, *_parts(key), tonic_pc=pc, mode=mode, confidence=1.0), sel


def same(a: Key, b: Key) -> bool:
    """Whether two keys say the same (global key and every segment)."""
    return (a.tonic_pc == b.tonic_pc and a.mode == b.mode and a.confidence == b.confidence
            and list(a.local_mode) == list(b.local_mode)
            and np.array_equal(a.local_start_s, b.local_start_s)
            and np.array_equal(a.local_end_s, b.local_end_s)
            and np.array_equal(a.local_tonic_pc, b.local_tonic_pc)
            and np.array_equal(a.local_confidence, b.local_confidence))
