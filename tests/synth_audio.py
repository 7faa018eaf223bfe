"""Short synthetic test recordings written to disk (shared by the GUI tests)."""

from pathlib import Path

import numpy as np
import soundfile as sf

from workstation.core import constants as C

SR = C.SAMPLE_RATE


def write_arpeggio(path: Path, *, seconds: float, tonic_midi: int = 60, minor: bool = False,
                   bpm: float = 120.0, harmonics: int = 4, clicks: bool = True) -> None:
    """A tonic-triad arpeggio (root, third, fifth, octave; one note per beat at ``bpm``) of
    decaying harmonic tones with ``harmonics`` partials, and a click on every beat when
    ``clicks``; float32 WAV at ``C.SAMPLE_RATE``, peak 0.3."""
    t = np.arange(int(seconds * SR)) / SR
    y = np.zeros_like(t)
    beat = 60.0 / bpm
    third = 3 if minor else 4
    for i, start in enumerate(np.arange(0, seconds, beat)):
        f = 440 * 2 ** ((tonic_midi + (0, third, 7, 12)[i % 4] - 69) / 12)
        seg = (t >= start) & (t < start + beat)
        env = np.exp(-3 * (t[seg] - start))
        y[seg] += env * sum(np.sin(2 * np.pi * k * f * t[seg]) / k for k in range(1, harmonics + 1))
        if clicks:
            n = int(start * SR)
            y[n:n + 200] += np.hanning(400)[200:] * 0.8
    sf.write(path, (0.3 * y / np.max(np.abs(y))).astype(np.float32), SR)
