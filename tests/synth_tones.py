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


#: The default melody of ``tone_pattern`` (semitones above the root, one per beat).
MELODY_STEPS = (0, 2, 4, 7, 9, 12, 7, 4)


def tone_pattern(seconds=12.0, *, bpm=100.0, level=0.3, root=57, seed=0, noise=0.0,
                 steps=MELODY_STEPS):
    """A melody of decaying harmonic tones on a beat grid (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    x = np.zeros_like(t)
    ibi = 60.0 / bpm
    steps = np.asarray(steps)
    for k in range(int(seconds / ibi)):
        s = int(k * ibi * SR)
        tt = np.arange(min(int(ibi * SR), len(t) - s)) / SR
        f = 440.0 * 2 ** ((root + steps[k % len(steps)] - 69) / 12)
        for h in range(1, 8):
            x[s:s + len(tt)] += np.sin(2 * np.pi * f * h * tt) / h * np.exp(-2.5 * tt)
    x = level * x / np.abs(x).max()
    if noise:
        x = x + noise * rng.standard_normal(len(x))
    return x.astype(np.float32)


def drum_bursts(seconds=12.0, *, bpm=128.0, level=0.3, seed=1):
    """Decaying noise bursts on eighth notes (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    x = np.zeros(n)
    ibi = 60.0 / bpm / 2
    for k in range(int(seconds / ibi)):
        s = int(k * ibi * SR)
        L = min(int(0.12 * SR), n - s)
        x[s:s + L] += rng.standard_normal(L) * np.exp(-np.arange(L) / SR * 40)
    return (level * x / np.abs(x).max()).astype(np.float32)
