"""Synthetic harmonic tones with known pitches (shared by the HCQT, salience and notes tests)."""

from __future__ import annotations

import numpy as np

from workstation.core import constants as C
from workstation.core.units import midi_to_hz

SR = C.SAMPLE_RATE


def tone(pitch_midi: float, dur_s: float, *, n_harmonics: int = 8, decay: float = 0.7,
         amp: float = 0.2, vibrato_cents: float = 0.0, vibrato_hz: float = 5.5,
         ramp_s: float = 0.01, seed: int = 0) -> np.ndarray:
    """A harmonic tone [shape=(n,)]: partial k has amplitude amp * decay**(k-1), random phase."""
    rng = np.random.default_rng(seed)
    n = int(round(dur_s * SR))
    t = np.arange(n) / SR
    f0 = midi_to_hz(pitch_midi) * 2.0 ** (vibrato_cents / 1200 * np.sin(2 * np.pi * vibrato_hz * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = np.zeros(n)
    for k in range(1, n_harmonics + 1):
        if midi_to_hz(pitch_midi) * k < SR / 2 - 500:
            x += amp * decay ** (k - 1) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    env = np.clip(np.minimum(t / ramp_s, (dur_s - t) / ramp_s), 0, 1)
    return x * env


def render(notes, total_s: float, **kw) -> np.ndarray:
    """Mix of tones [shape=(n,), float32] from (onset_s, offset_s, pitch_midi) triples."""
    x = np.zeros(int(round(total_s * SR)))
    for i, (on, off, m) in enumerate(notes):
        s = tone(m, off - on, seed=i, **kw)
        a = int(round(on * SR))
        x[a:a + len(s)] += s[: len(x) - a]
    return x.astype(np.float32)
