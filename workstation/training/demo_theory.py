"""Music theory the procedural composers share: scales, chord qualities, progressions, voicings.

Pitch classes are 0..11 (C = 0); pitches are MIDI numbers. Used by
:mod:`workstation.training.demo_compose` and the training corpus's composers
(:mod:`workstation.training.corpus_compose`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from workstation.core.units import parse_key_label

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
_QUALITIES = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "7": (0, 4, 7, 10),
              "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10)}

# Progressions as (root in semitones above the tonic, quality); one chord per bar (or per two bars).
_PROGRESSIONS = {
    "major": (
        ((0, "maj"), (5, "maj"), (7, "maj"), (9, "min")),            # I-IV-V-vi
        ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),            # I-V-vi-IV
        ((2, "min7"), (7, "7"), (0, "maj7"), (0, "maj7")),           # ii-V-I
        ((0, "maj"), (9, "min"), (2, "min"), (7, "7")),              # I-vi-ii-V
        ((0, "maj"), (5, "maj"), (0, "maj"), (7, "7")),              # I-IV-I-V
    ),
    "minor": (
        ((0, "min"), (5, "min"), (7, "maj"), (0, "min")),            # i-iv-V-i
        ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),           # i-VI-III-VII
        ((0, "min"), (5, "min"), (7, "min"), (0, "min")),            # i-iv-v-i
        ((0, "min"), (10, "maj"), (8, "maj"), (7, "7")),             # i-VII-VI-V
        ((2, "dim"), (7, "7"), (0, "min"), (0, "min")),              # ii°-V-i
    ),
}


def _tonic_from(key) -> tuple[int | None, str | None]:
    if key is None:
        return None, None
    if isinstance(key, (int, np.integer)):
        return int(key) % 12, None
    s = str(key)
    if ":" in s or " " in s.strip():
        pc, mode = parse_key_label(s)
        return pc, mode
    pc, _ = parse_key_label(s)
    return pc, None


def _scale(tonic_pc: int, mode: str, leading_tone: bool = False) -> tuple[int, ...]:
    steps = list(_MAJOR_SCALE if mode == "major" else _MINOR_SCALE)
    if mode == "minor" and leading_tone:
        steps[6] = 11
    return tuple(sorted((tonic_pc + s) % 12 for s in steps))


def _pitches_in(pcs, lo: int, hi: int) -> np.ndarray:
    return np.asarray([p for p in range(lo, hi + 1) if p % 12 in pcs], dtype=np.int64)


def _voicing(chord_pcs: Sequence[int], prev: np.ndarray | None, lo: int = 50, hi: int = 71) -> np.ndarray:
    """Closest closed-position voicing of ``chord_pcs`` in [lo, hi] to ``prev`` (or to the middle)."""
    cands = []
    n = len(chord_pcs)
    for inv in range(n):
        pcs = list(chord_pcs[inv:]) + list(chord_pcs[:inv])
        for base in range(lo - 12, hi + 1):
            if base % 12 != pcs[0]:
                continue
            v = [base]
            for pc in pcs[1:]:
                nxt = v[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                v.append(nxt)
            if v[0] >= lo and v[-1] <= hi:
                cands.append(np.asarray(v, dtype=np.int64))
    ref = prev if prev is not None else None
    def cost(v):
        if ref is None:
            return abs(float(np.mean(v)) - (lo + hi) / 2)
        m = min(len(v), len(ref))
        return float(np.abs(np.sort(v)[:m] - np.sort(ref)[:m]).sum())
    return min(cands, key=cost)
