"""What an annotation read from a file must satisfy before anyone uses it: times are finite
and not negative, a note ends at or after its start, pitches and frequencies are finite,
beats and f0 frames are in time order. A file that breaks this is refused with the first
offending row (a reader never passes on values Compare would score as if they meant
something).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workstation.core.errors import AnnotationError
from workstation.core.types import Beats, Key, Notes, PitchTrack, Result


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) else None


def _times(name: str, t: np.ndarray, *, ordered: bool) -> str | None:
    t = np.asarray(t, dtype=np.float64)
    if (i := _first(~np.isfinite(t) | (t < 0))) is not None:
        return f"{name} {i + 1}: time {t[i]:g} is not a time (NaN, infinite or negative)"
    if ordered and (i := _first(np.diff(t) < 0)) is not None:
        return f"{name} {i + 2} ({t[i + 1]:g} s) comes before the one above it ({t[i]:g} s)"
    return None


def problem(result: Result) -> str | None:
    """The first thing wrong with a result read from a file, or None."""
    if isinstance(result, Notes):
        on = np.asarray(result.onsets_s, np.float64)
        off = np.asarray(result.offsets_s, np.float64)
        why = _times("note", on, ordered=False) or _times("note", off, ordered=False)
        if why:
            return why
        if (i := _first(off < on)) is not None:
            return f"note {i + 1} ends ({off[i]:g} s) before it starts ({on[i]:g} s)"
        p = np.asarray(result.pitch_midi, np.float64)
        if (i := _first(~np.isfinite(p))) is not None:
            return f"note {i + 1}: pitch {p[i]:g} is not a number"
    elif isinstance(result, Beats):
        return _times("beat", result.times_s, ordered=True)
    elif isinstance(result, PitchTrack):
        why = _times("f0 frame", result.times_s, ordered=True)
        f = np.asarray(result.freqs_hz, np.float64)
        if why is None and (i := _first(~np.isfinite(f))) is not None:
            why = f"f0 frame {i + 1}: frequency {f[i]:g} is not a number"
        return why
    elif isinstance(result, Key):
        s = np.asarray(result.local_start_s, np.float64)
        e = np.asarray(result.local_end_s, np.float64)
        why = _times("key segment", s, ordered=True) or _times("key segment", e, ordered=False)
        if why is None and (i := _first(e < s)) is not None:
            why = f"key segment {i + 1} ends ({e[i]:g} s) before it starts ({s[i]:g} s)"
        return why
    return None


def checked(path: str | Path, results: dict[str, Result]) -> dict[str, Result]:
    """``results`` unchanged, or ``AnnotationError`` naming the file, the layer and the row."""
    for layer, r in results.items():
        why = problem(r)
        if why:
            raise AnnotationError(path, f"{layer}: {why}")
    return results
