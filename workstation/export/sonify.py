"""Sonification of notes: hear a transcription, alone or mixed with the recording.

``synthesize_notes`` renders ``Notes`` with a small additive instrument, between a piano and
an organ: six harmonics whose upper partials fade faster than the fundamental (bright attack,
mellow sustain), a 5 ms raised-cosine attack, an exponential decay towards a 30 % sustain
(slower for low notes), and a 120 ms raised-cosine release after the offset, so nothing
clicks. Velocity sets the amplitude (``(velocity / 127) ** 2``, i.e. 40 log10, the General
MIDI curve); pitch bends follow MIDI semantics (a bend point's value holds until the next
point of the same note; 0 before the first one), exactly what ``write_midi`` exports, with a
continuous phase across every change. Harmonics above 0.45 ``sr`` are left out (no aliasing).

Speed: an unbent note is a slice of a per-pitch template (computed once per pitch and
extended on demand) scaled by its velocity, so an hour of dense notes renders in seconds;
bent notes are computed directly (phase in closed form over their bend segments).

``write_notes_mix`` decodes a track block by block (``core.audio.stream``, mono at ``sr``),
adds the rendering, passes the mix through a look-ahead peak limiter (gain never above 1, so
no sample exceeds the ceiling) and writes a 16-bit WAV atomically (temporary file, fsync,
rename). Memory stays bounded whatever the length of the track. The WAV is on the track's
time axis shifted by ``start_s`` (sample 0 is ``start_s``), which is what
``gui.playback.Playback.set_source_override(path, offset_s=start_s)`` expects.

Only the standard library (``wave``) and numpy are used beyond ``core``.
"""

from __future__ import annotations

import logging
import wave
from pathlib import Path
from typing import Callable

import numpy as np

from workstation.core import constants as C
from workstation.core.audio import expected_samples, probe, stream
from workstation.core.errors import AudioError
from workstation.core.types import Notes

from workstation.core.atomic import atomic_write

log = logging.getLogger(__name__)

#: Relative amplitudes of harmonics 1..6 at the attack (bright) and in the sustain (mellow).
HARMONICS_BRIGHT: tuple[float, ...] = (1.0, 0.55, 0.35, 0.22, 0.14, 0.09)
HARMONICS_MELLOW: tuple[float, ...] = (1.0, 0.3, 0.1, 0.04, 0.015, 0.006)
#: Time constant of the bright-to-mellow fade, in seconds.
BRIGHTNESS_TAU_S: float = 0.25
#: Attack (raised cosine) and release (raised cosine after the offset), in seconds.
ATTACK_S: float = 0.005
RELEASE_S: float = 0.12
#: Level the exponential decay tends to (fraction of the peak).
SUSTAIN_LEVEL: float = 0.3
#: Shortest sounding time given to a note (zero or negative durations), in seconds.
MIN_DURATION_S: float = 0.02
#: Highest partial frequency synthesised, as a fraction of the sample rate.
MAX_PARTIAL_FRACTION: float = 0.45
#: Peak ceiling of every rendering and mix (-0.18 dBFS).
CEILING: float = 0.98
#: Unbent notes longer than this (with release) are computed directly, not from a template.
TEMPLATE_MAX_S: float = 12.0

_VELOCITY_DEFAULT = 100


def _db(gain_db: float) -> float:
    return float(10.0 ** (gain_db / 20.0))


def _decay_tau_s(freq_hz: float) -> float:
    """Decay time constant: about 1.2 s at middle C, longer for bass, shorter for treble."""
    return float(np.clip(1.2 * (max(freq_hz, 1.0) / 261.63) ** -0.5, 0.3, 3.0))


def _n_harmonics(max_freq_hz: float, sr: int) -> int:
    return int(min(len(HARMONICS_BRIGHT), np.floor(MAX_PARTIAL_FRACTION * sr / max_freq_hz)))


_NORM: dict[int, float] = {}


def _norm(nh: int) -> float:
    """1 / peak of the bright waveform with ``nh`` harmonics (every pitch peaks at 1)."""
    if nh not in _NORM:
        x = 2 * np.pi * np.arange(8192) / 8192
        w = sum(HARMONICS_BRIGHT[k] * np.sin((k + 1) * x) for k in range(nh))
        _NORM[nh] = 1.0 / float(np.max(np.abs(w)))
    return _NORM[nh]


def _voice(phase_cycles: np.ndarray, m: np.ndarray, *, f_hz: float, nh: int,
           sr: int) -> np.ndarray:
    """Waveform x decay envelope x attack at relative samples ``m`` [shape=(n,), float32].

    phase_cycles [shape=(n,), float64] is the fundamental's phase in cycles at those samples."""
    frac = phase_cycles - np.floor(phase_cycles)
    x = (2 * np.pi * frac).astype(np.float32)
    s1 = np.sin(x)
    c2 = 2 * np.cos(x)
    t = m.astype(np.float32) / np.float32(sr)
    mellow = HARMONICS_MELLOW[0] * s1
    extra = np.zeros_like(s1)
    s_prev, s_k = np.zeros_like(s1), s1
    for k in range(1, nh):  # Chebyshev: sin((k+1)x) = 2 cos(x) sin(kx) - sin((k-1)x)
        s_prev, s_k = s_k, c2 * s_k - s_prev
        mellow += HARMONICS_MELLOW[k] * s_k
        extra += (HARMONICS_BRIGHT[k] - HARMONICS_MELLOW[k]) * s_k
    wave_ = mellow + np.exp(-t / np.float32(BRIGHTNESS_TAU_S)) * extra
    env = np.float32(SUSTAIN_LEVEL) + np.float32(1 - SUSTAIN_LEVEL) * np.exp(
        -t / np.float32(_decay_tau_s(f_hz)))
    y = wave_ * env * np.float32(_norm(nh))
    att_n = max(1, int(round(ATTACK_S * sr)))
    a = np.flatnonzero(m < att_n)
    if len(a):
        y[a] *= (0.5 - 0.5 * np.cos(np.pi * m[a] / att_n)).astype(np.float32)
    return y


def _bend_segments(onset_n: int, f_hz: float, times_s: np.ndarray, cents: np.ndarray,
                   sr: int, onset_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step-function bend of one note as segments: start sample (relative to the onset),
    frequency in Hz, and the phase in cycles accumulated at each segment start."""
    order = np.argsort(times_s, kind="stable")
    rel = np.maximum(0, np.round((times_s[order] - onset_s) * sr)).astype(np.int64)
    starts = np.concatenate([[0], rel])
    values = np.concatenate([[0.0], cents[order]])
    keep = np.flatnonzero(np.r_[starts[1:] != starts[:-1], True])  # last point per sample wins
    starts, values = starts[keep], values[keep]
    freqs = f_hz * 2.0 ** (values / 1200.0)
    cum = np.concatenate([[0.0], np.cumsum(freqs[:-1] * np.diff(starts) / sr)])
    return starts, freqs, cum


class _Renderer:
    """Renders notes into arbitrary sample ranges [a, b) of the absolute time axis, so that a
    long rendering can be produced block by block; caches one template per (pitch, harmonics)."""

    def __init__(self, notes: Notes, *, sr: int, gain: float):
        self.sr = int(sr)
        on_s = np.asarray(notes.onsets_s, dtype=np.float64)
        off_s = np.asarray(notes.offsets_s, dtype=np.float64)
        pitch = np.asarray(notes.pitch_midi, dtype=np.float64)
        n = len(on_s)
        if len(off_s) != n or len(pitch) != n:
            raise ValueError(f"Notes arrays disagree: {n} onsets, {len(off_s)} offsets, "
                             f"{len(pitch)} pitches")
        vel = np.asarray(notes.velocity, dtype=np.float64)
        vel = vel if len(vel) == n else np.full(n, float(_VELOCITY_DEFAULT))
        vel = np.clip(np.nan_to_num(vel, nan=_VELOCITY_DEFAULT), 1, 127)
        ok = np.isfinite(on_s) & np.isfinite(off_s) & np.isfinite(pitch)
        self.f_hz = 440.0 * 2.0 ** ((np.clip(np.nan_to_num(pitch), 0, 127) - 69.0) / 12.0)
        self.on_s = on_s
        self.on = np.round(np.nan_to_num(on_s) * sr).astype(np.int64)
        off = np.round(np.nan_to_num(off_s) * sr).astype(np.int64)
        self.dur = np.maximum(off - self.on, max(1, int(round(MIN_DURATION_S * sr))))
        self.rel_n = max(1, int(round(RELEASE_S * sr)))
        self.end = self.on + self.dur + self.rel_n
        self.amp = (gain * (vel / 127.0) ** 2).astype(np.float32)
        self.pitch = np.clip(np.round(np.nan_to_num(pitch)), 0, 127).astype(np.int64)
        self.integer_pitch = np.abs(np.nan_to_num(pitch) - self.pitch) < 1e-9
        # bends: sorted by note, then grouped
        bn = np.asarray(notes.bend_note, dtype=np.int64)
        bt = np.asarray(notes.bend_times_s, dtype=np.float64)
        bc = np.asarray(notes.bend_cents, dtype=np.float64)
        good = (bn >= 0) & (bn < n) & np.isfinite(bt) & np.isfinite(bc)
        bn, bt, bc = bn[good], bt[good], bc[good]
        self.bends: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        if len(bn):
            order = np.argsort(bn, kind="stable")
            bn, bt, bc = bn[order], bt[order], bc[order]
            cuts = np.flatnonzero(np.diff(bn)) + 1
            for idx, t_, c_ in zip(np.split(bn, cuts), np.split(bt, cuts), np.split(bc, cuts)):
                i = int(idx[0])
                if np.any(c_ != 0):
                    self.bends[i] = _bend_segments(int(self.on[i]), float(self.f_hz[i]), t_, c_,
                                                   self.sr, float(on_s[i]))
        max_f = self.f_hz.copy()
        for i, (_, freqs, _) in self.bends.items():
            max_f[i] = max(max_f[i], float(freqs.max()))
        self.nh = np.array([_n_harmonics(f, self.sr) for f in max_f], dtype=np.int64)
        audible = ok & (self.nh >= 1)
        if np.any(ok & ~audible):
            log.debug("%d notes above %.0f Hz left out of the rendering",
                      int(np.sum(ok & ~audible)), MAX_PARTIAL_FRACTION * sr)
        self.active = np.flatnonzero(audible)
        self._templates: dict[tuple[int, int], np.ndarray] = {}
        self._template_max = int(TEMPLATE_MAX_S * sr)
        self._rel_ramp = (0.5 + 0.5 * np.cos(np.pi * np.arange(self.rel_n) / self.rel_n)
                          ).astype(np.float32)

    @property
    def n_samples(self) -> int:
        """Samples needed to hold every note with its release."""
        return int(self.end[self.active].max()) if len(self.active) else 0

    def _template(self, i: int, length: int) -> np.ndarray:
        key = (int(self.pitch[i]), int(self.nh[i]))
        tpl = self._templates.get(key)
        if tpl is None or len(tpl) < length:
            have = 0 if tpl is None else len(tpl)
            new = min(self._template_max, max(length, 2 * have, self.sr))
            m = np.arange(have, new, dtype=np.int64)
            f = float(self.f_hz[i])
            part = _voice(m * (f / self.sr), m, f_hz=f, nh=key[1], sr=self.sr)
            tpl = part if tpl is None else np.concatenate([tpl, part])
            self._templates[key] = tpl
        return tpl

    def _note(self, i: int, m0: int, m1: int) -> np.ndarray:
        """Samples m0..m1 (relative to the onset) of note i, release applied, float32."""
        f = float(self.f_hz[i])
        need = int(self.dur[i] + self.rel_n)
        if i in self.bends:
            starts, freqs, cum = self.bends[i]
            m = np.arange(m0, m1, dtype=np.int64)
            seg = np.searchsorted(starts, m, side="right") - 1
            phase = cum[seg] + freqs[seg] * (m - starts[seg]) / self.sr
            y = _voice(phase, m, f_hz=f, nh=int(self.nh[i]), sr=self.sr)
        elif self.integer_pitch[i] and need <= self._template_max:
            y = self._template(i, need)[m0:m1].copy()
        else:
            m = np.arange(m0, m1, dtype=np.int64)
            y = _voice(m * (f / self.sr), m, f_hz=f, nh=int(self.nh[i]), sr=self.sr)
        d = int(self.dur[i])
        if m1 > d:  # release
            r0 = max(m0, d)
            y[r0 - m0:] *= self._rel_ramp[r0 - d:m1 - d]
        y *= self.amp[i]
        return y

    def render_into(self, out: np.ndarray, a: int) -> None:
        """Add the notes sounding in [a, a + len(out)) (absolute samples) to ``out``."""
        b = a + len(out)
        act = self.active
        hit = act[(self.on[act] < b) & (self.end[act] > a)]
        for i in hit:
            s = max(int(self.on[i]), a, 0)
            e = min(int(self.end[i]), b)
            if s < e:
                on = int(self.on[i])
                out[s - a:e - a] += self._note(int(i), s - on, e - on)


class _PeakLimiter:
    """Streaming look-ahead peak limiter with zero added latency for the caller's bookkeeping:
    ``process`` returns as many samples as it has final (fewer than it was given at first),
    ``flush`` returns the rest; the outputs concatenated are as long as the inputs.

    The gain is the moving average (half-width ``ra``) of the running minimum (half-width
    ``rm >= ra``) of the gain each sample needs (``ceiling / |x|``, at most 1); every average
    then contains the need of its centre sample, so the output never exceeds ``ceiling``. The
    gain ramps down over 2 ``ra`` before a peak and holds ``rm`` around it."""

    def __init__(self, *, sr: int, ceiling: float = CEILING, attack_s: float = 0.005,
                 hold_s: float = 0.02):
        self.ceiling = np.float32(ceiling)
        self.ra = max(1, int(round(attack_s * sr)))
        self.rm = max(self.ra, int(round(hold_s * sr)))
        self.reach = self.ra + self.rm
        self._hist = np.zeros(self.reach, dtype=np.float32)  # silence before the start
        self._pend = np.zeros(0, dtype=np.float32)
        self.max_reduction = 1.0

    def _gain(self, ctx: np.ndarray) -> np.ndarray:
        mag = np.abs(ctx)
        need = np.ones(len(ctx), dtype=np.float32)
        loud = mag > self.ceiling
        if not loud.any():
            return need
        need[loud] = self.ceiling / mag[loud]
        h = _running_min(need, self.rm)
        c = np.concatenate([[0.0], np.cumsum(np.pad(h, self.ra, mode="edge"), dtype=np.float64)])
        w = 2 * self.ra + 1
        g = ((c[w:] - c[:-w]) / w).astype(np.float32)
        g = np.minimum(g, need)  # guards float rounding; a no-op in exact arithmetic
        self.max_reduction = min(self.max_reduction, float(g.min()))
        return g

    def process(self, x: np.ndarray) -> np.ndarray:
        self._pend = np.concatenate([self._pend, np.asarray(x, dtype=np.float32)])
        n_out = len(self._pend) - self.reach
        if n_out <= 0:
            return np.zeros(0, dtype=np.float32)
        ctx = np.concatenate([self._hist, self._pend])
        h = len(self._hist)
        out = self._pend[:n_out] * self._gain(ctx)[h:h + n_out]
        self._hist = ctx[h + n_out - self.reach:h + n_out].copy()
        self._pend = self._pend[n_out:].copy()
        return out

    def flush(self) -> np.ndarray:
        ctx = np.concatenate([self._hist, self._pend, np.zeros(self.reach, dtype=np.float32)])
        h = len(self._hist)
        out = self._pend * self._gain(ctx)[h:h + len(self._pend)]
        self._pend = np.zeros(0, dtype=np.float32)
        return out


def _running_min(x: np.ndarray, r: int) -> np.ndarray:
    """Centred running minimum of half-width r [shape=x.shape] (edges padded with +inf),
    in O(n) (van Herk / Gil-Werman)."""
    w = 2 * r + 1
    n = len(x)
    pad_right = (-(n + 2 * r)) % w + r
    xp = np.concatenate([np.full(r, np.inf, dtype=x.dtype), x,
                         np.full(pad_right, np.inf, dtype=x.dtype)])
    blocks = xp.reshape(-1, w)
    pre = np.minimum.accumulate(blocks, axis=1).ravel()
    suf = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(suf[:n], pre[w - 1:w - 1 + n])


def synthesize_notes(notes: Notes, *, sr: int = C.SAMPLE_RATE, n_samples: int | None = None,
                     gain_db: float = -12.0) -> np.ndarray:
    """Render notes as audio [shape=(n_samples,), float32] at ``sr`` Hz.

    notes: onsets/offsets in seconds (sample 0 is time 0), pitch_midi, velocity 1..127 (100
    when absent), pitch bends (MIDI step semantics, see the module docstring).
    n_samples: length of the result; default: up to the end of the last release.
    gain_db: level of one note of velocity 127 at its attack peak. Overlapping notes add up;
    a look-ahead limiter keeps every sample within ``CEILING`` (< 1).
    """
    r = _Renderer(notes, sr=sr, gain=_db(gain_db))
    total = r.n_samples if n_samples is None else int(n_samples)
    out = np.zeros(max(0, total), dtype=np.float32)
    block = 30 * int(sr)
    for a in range(0, len(out), block):
        r.render_into(out[a:a + block], a)
    lim = _PeakLimiter(sr=sr)
    k = 0
    for a in range(0, len(out), block):
        y = lim.process(out[a:a + block])
        out[k:k + len(y)] = y
        k += len(y)
    y = lim.flush()
    out[k:k + len(y)] = y
    if lim.max_reduction < 1.0:
        log.debug("note rendering limited by %.1f dB", -20 * np.log10(lim.max_reduction))
    return out


def write_notes_mix(out_path: str | Path, audio_path: str | Path, notes: Notes, *,
                    notes_gain_db: float = -6.0, audio_gain_db: float = -3.0,
                    start_s: float | None = None, end_s: float | None = None,
                    sr: int = C.SAMPLE_RATE,
                    progress: Callable[[float], None] | None = None) -> Path:
    """Write the track mixed with a rendering of ``notes`` as a mono 16-bit WAV at ``sr``.

    The mix is ``audio * 10**(audio_gain_db/20) + synthesize_notes(notes,
    gain_db=notes_gain_db)`` (same time axis), peak-limited to ``CEILING`` (the limiter is
    transparent when nothing exceeds it). ``start_s``/``end_s`` (seconds, default the whole
    track) select a region: the file then holds that region only and its sample 0 is
    ``start_s`` on the track's time axis; its length is ``round(end_s*sr) - round(start_s*sr)``
    clipped to the track. Decoding, mixing and writing go block by block (memory is bounded
    whatever the length); the file appears atomically (temporary file, fsync, rename).
    ``progress(fraction)`` is called after each block (fraction in [0, 1]); an exception it
    raises (e.g. ``Cancelled``) aborts the write and leaves no file behind.

    Returns the path written. Raises ``AudioError`` naming ``audio_path`` when it is missing or
    cannot be decoded (or the region lies outside it), and naming ``out_path`` when the WAV
    cannot be written.
    """
    out_path = Path(out_path)
    audio_path = Path(audio_path)
    info = probe(audio_path)
    total = expected_samples(info, sr)
    s0 = 0 if start_s is None else max(0, int(round(float(start_s) * sr)))
    s1 = total if end_s is None else min(total, int(round(float(end_s) * sr)))
    if s0 >= s1:
        raise AudioError(audio_path, f"the region {start_s}..{end_s} s holds no audio "
                                     f"(the track lasts {info.duration_s:.2f} s)")
    renderer = _Renderer(notes, sr=sr, gain=_db(notes_gain_db))
    limiter = _PeakLimiter(sr=sr)
    audio_gain = np.float32(_db(audio_gain_db))
    written = 0

    def emit(w: wave.Wave_write, y: np.ndarray) -> None:
        nonlocal written
        y = y[:s1 - s0 - written]
        if len(y):
            pcm = np.round(np.clip(y, -1.0, 1.0) * 32767.0).astype("<i2")
            w.writeframes(pcm.tobytes())
            written += len(y)

    try:
        with atomic_write(out_path, durable=True) as tmp, open(tmp, "wb") as fh, wave.open(fh, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(int(sr))
            pos = 0  # absolute sample index of the next decoded sample
            for block in stream(audio_path, sr=sr, info=info):
                a, b = pos, pos + len(block)
                pos = b
                if b <= s0:
                    continue
                lo, hi = max(a, s0), min(b, s1)
                if lo < hi:
                    mix = block[lo - a:hi - a] * audio_gain
                    renderer.render_into(mix, lo)
                    emit(w, limiter.process(mix))
                if progress is not None:
                    progress(min(1.0, (min(b, s1) - s0) / (s1 - s0)))
                if b >= s1:
                    break
            emit(w, limiter.flush())
            if written < s1 - s0:  # decoded fewer samples than the header announced
                log.warning("%s: decoded %d samples of the %d expected", audio_path,
                            s0 + written, s1)
            w.close()  # writes the final header sizes
    except OSError as e:
        raise AudioError(out_path, f"cannot be written: {e.strerror or e}") from None
    if limiter.max_reduction < 1.0:
        log.info("%s: mix peak-limited by %.1f dB", out_path,
                 -20 * np.log10(limiter.max_reduction))
    if progress is not None:
        progress(1.0)
    return out_path
