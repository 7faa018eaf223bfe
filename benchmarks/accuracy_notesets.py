"""Notes sets joined from real recordings of ``../shared/evaldata``, for
``benchmarks/accuracy.py --tasks notes``: singing with piano, in turn and at once.

Each item carries its audio in ``ref["samples"]`` [shape=(n,), C.SAMPLE_RATE] and both
references (``intervals_s`` [shape=(m, 2), seconds], ``pitch_midi`` [shape=(m,)]).
"""

from __future__ import annotations

import numpy as np

from workstation.core import constants as C
from workstation.training import evaldata as ed

#: seconds of piano after each sung recording in the set "sung, then piano"
SUNG_THEN_PIANO_S = 30.0
#: level of the piano under the voice in the set "sung over piano" (dB, RMS over the item),
#: chosen before the first measurement: a song's voice sits above its accompaniment
SUNG_OVER_PIANO_DB = -6.0


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12)


def _pairs():
    """(sung items, piano items) with note references; empty lists without the data."""
    sung = [i for i in ed.sung_notes() if "intervals_s" in i.ref]
    piano = [i for i in ed.piano_notes() if "intervals_s" in i.ref]
    return (sung, piano) if sung and piano else ([], [])


def _piano_run(piano, start: int, seconds: float):
    """Piano recordings back to back from ``piano[start]`` on, cut to ``seconds``:
    (audio [shape=(n,)], intervals_s [shape=(m, 2)], pitch_midi [shape=(m,)])."""
    xs, ivs, ps, t = [], [], [], 0.0
    k = start
    while t < seconds:
        b = piano[k % len(piano)]
        x = ed.load_audio(b)
        xs.append(x)
        ivs.append(b.ref["intervals_s"] + t)
        ps.append(b.ref["pitch_midi"])
        t += len(x) / C.SAMPLE_RATE
        k += 1
    x, iv, p = np.concatenate(xs)[:int(seconds * C.SAMPLE_RATE)], np.concatenate(ivs), np.concatenate(ps)
    keep = iv[:, 0] < seconds
    return x, np.minimum(iv[keep], seconds), p[keep]


def sung_then_piano(piano_s: float = SUNG_THEN_PIANO_S) -> list[ed.Item]:
    """Each sung-notes recording followed by the first ``piano_s`` seconds of a piano one (in
    turn), as one recording with both references: a solo passage, then polyphony, for ``auto``'s
    reading in passages."""
    sung, piano = _pairs()
    out = []
    for k, a in enumerate(sung):
        b = piano[k % len(piano)]
        xa, xb = ed.load_audio(a), ed.load_audio(b)[:int(piano_s * C.SAMPLE_RATE)]
        keep = b.ref["intervals_s"][:, 0] < piano_s
        iv_b = np.minimum(b.ref["intervals_s"][keep], piano_s) + len(xa) / C.SAMPLE_RATE
        out.append(ed.Item(f"{a.name} + {b.name}", a.audio, ref={
            "samples": np.concatenate([xa, xb]),
            "intervals_s": np.concatenate([a.ref["intervals_s"], iv_b]),
            "pitch_midi": np.concatenate([a.ref["pitch_midi"], b.ref["pitch_midi"][keep]])}))
    return out


def sung_over_piano(level_db: float = SUNG_OVER_PIANO_DB) -> list[ed.Item]:
    """Each sung-notes recording with real piano under it for its whole length (the piano
    recordings back to back, a different one first for each item), the piano's RMS
    ``level_db`` under the voice's: a voice with its accompaniment, both references."""
    sung, piano = _pairs()
    out = []
    for k, a in enumerate(sung):
        xa = ed.load_audio(a)
        xb, iv_b, p_b = _piano_run(piano, k, len(xa) / C.SAMPLE_RATE)
        mix = xa[:len(xb)] + xb * (_rms(xa) / _rms(xb) * 10 ** (level_db / 20))
        mix = (mix / max(1.0, float(np.abs(mix).max()) / 0.99)).astype(np.float32)
        out.append(ed.Item(f"{a.name} over piano", a.audio, ref={
            "samples": mix,
            "intervals_s": np.concatenate([a.ref["intervals_s"], iv_b]),
            "pitch_midi": np.concatenate([a.ref["pitch_midi"], p_b])}))
    return out
