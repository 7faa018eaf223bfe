"""Steady instrument notes (``benchmarks/accuracy.py --tasks steady``): each f0 method on the
development set's isolated notes (``mono_f0/isolated_notes``: flute, oboe, organ, soprano,
trumpet, vibraphone, violin, double bass), scored against the pitch in each file's name.

Per file: the share of the frames a method calls voiced whose pitch lies within 50 cents of
the named pitch (pitch accuracy), the same ignoring the octave (chroma accuracy), and the
share of all frames called voiced (the notes have attacks, releases and some silence, so no
method should reach 1.0 there); means over the files. Run through ``accuracy.py``, which
passes its estimators (``f0_estimators``) and table printer.
"""

from __future__ import annotations

import time

import numpy as np

from workstation.core import constants as C
from workstation.core.units import midi_to_hz
from workstation.training import evaldata as ed


def steady_scores(ref_midi: float, f0_hz: np.ndarray, voiced: np.ndarray) -> dict[str, float]:
    """One file: f0_hz, voiced [shape=(n_frames,)] against the named pitch -> {"pitch", "chroma",
    "voiced"} shares in [0, 1] (pitch and chroma are 0 where nothing is voiced)."""
    f0_hz, voiced = np.asarray(f0_hz, np.float64), np.asarray(voiced, bool)
    ok = voiced & (f0_hz > 0)
    cents = 1200.0 * np.log2(f0_hz[ok] / midi_to_hz(ref_midi))
    chroma = np.abs((cents + 600.0) % 1200.0 - 600.0)
    return {"pitch": float(np.mean(np.abs(cents) <= 50.0)) if ok.any() else 0.0,
            "chroma": float(np.mean(chroma <= 50.0)) if ok.any() else 0.0,
            "voiced": float(np.mean(voiced)) if len(voiced) else 0.0}


def bench_steady(limit, ests: dict, table) -> None:
    """Print the steady-notes table for ``ests`` ({label: x -> (times_s, f0_hz, voiced)} or None
    where a peer is not installed); at most ``limit`` files."""
    items = list(ed.isolated_notes())[:limit]
    if not items:
        table("Steady notes", ("data", "method", "result"), [("evaldata", "-", "absent")])
        return
    audio = [ed.load_audio(it) for it in items]      # read once for every method
    dur = sum(len(x) for x in audio) / C.SAMPLE_RATE
    rows, per_file = [], []
    for label, f in ests.items():
        if f is None:
            rows.append((label, "not installed", "", "", ""))
            continue
        scores, secs = [], 0.0
        for it, x in zip(items, audio):
            t0 = time.perf_counter()
            _, hz, v = f(x)
            secs += time.perf_counter() - t0
            scores.append(steady_scores(it.ref["midi"], hz, v))
        per_file.append((label, *(f"{s['pitch']:.2f}" for s in scores)))
        rows.append((label, *(float(np.mean([s[k] for s in scores])) for k in ("pitch", "chroma", "voiced")),
                     f"{dur / max(secs, 1e-9):.0f}x"))
    table(f"Steady instrument notes ({len(items)} files; share of voiced frames within 50 cents of the "
          "pitch in the file name, the same ignoring the octave, share of frames voiced; mean over files)",
          ("method", "pitch accuracy", "chroma accuracy", "voiced share", "realtime"), rows)
    table("Steady notes per file (pitch accuracy)", ("method", *(it.name for it in items)), per_file)
