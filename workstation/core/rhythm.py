"""Rhythm analysis: onset strength, tempo, dynamic-programming beat tracking, meter.

Pure numpy/scipy.

- Onset strength: log-compressed mel spectral flux with a SuperFlux-style
  maximum filter over frequency on the reference frame (Böck & Widmer 2013),
  computed chunk by chunk with carried state (``OnsetStrength``), so the
  envelope does not depend on the chunking. A low-frequency band (< 200 Hz)
  flux is kept beside it as a bass-drum accent cue for downbeats.
- Tempo: autocorrelation of the (high-passed) envelope, a comb over the first
  four multiples of each candidate period, times a log-normal prior around
  120 BPM (``estimate_tempo``); half, double and 3:2 alternatives.
- Beats: Ellis (2007) dynamic programming, vectorised over blocks of half a
  period (``track_beats``); a log-ratio penalty lets the tempo drift.
- Meter / downbeats: accent contrast of the beat-synchronous bass onset,
  onset and spectral change for meters 3 and 4 and every phase (``estimate_meter``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from workstation.core import constants as C

#: Upper edge of the "low" band used for the bass accent, in Hz.
LOW_BAND_HZ: float = 200.0
#: Number of pooled spectral bands kept per frame for the harmonic-change cue.
N_POOLED: int = 20


def mel_band_centres_hz(n_mels: int = C.N_MELS, *, sr: int = C.SAMPLE_RATE) -> np.ndarray:
    """Centre frequencies in Hz of the Slaney mel bands used by the front end [shape=(n_mels,)]."""
    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0),
                        f / (200.0 / 3))

    def mel_to_hz(m):
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))

    pts = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    return pts[1:-1]


class OnsetStrength:
    """Streaming SuperFlux-style onset strength over mel power chunks.

    ``process(mel)`` takes mel power [shape=(n_mels, n)] (consecutive chunks of one
    track) and returns ``(onset, onset_low, pooled)``: onset strength [shape=(n,)], its
    low-band (< ``LOW_BAND_HZ``) version [shape=(n,)], and pooled log-mel
    [shape=(N_POOLED, n), float16] for spectral-change cues. The first frame of a
    track has zero flux.
    """

    def __init__(self, *, lag: int = 2, max_size: int = 3, gamma: float = 100.0,
                 n_mels: int = C.N_MELS, sr: int = C.SAMPLE_RATE):
        self.lag = lag
        self.max_size = max_size
        self.gamma = gamma
        self._ref: np.ndarray | None = None          # max-filtered log-mel of the last `lag` frames
        centres = mel_band_centres_hz(n_mels, sr=sr)
        self._n_low = max(1, int(np.sum(centres < LOW_BAND_HZ)))
        n_pool_src = int(np.sum(centres < 5000.0))
        self._pool_edges = np.linspace(0, n_pool_src, N_POOLED + 1).astype(int)

    def process(self, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        S = np.log1p(self.gamma * np.asarray(mel, dtype=np.float32))
        n = S.shape[1]
        M = maximum_filter1d(S, size=self.max_size, axis=0, mode="nearest")
        if self._ref is None:
            self._ref = np.repeat(M[:, :1], self.lag, axis=1) if n else None
        if n == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros((N_POOLED, 0), np.float16)
        ref = np.concatenate([self._ref, M], axis=1)[:, :n]
        self._ref = np.concatenate([self._ref, M], axis=1)[:, -self.lag:]
        diff = np.maximum(S - ref, 0.0)
        onset = diff.mean(axis=0)
        onset_low = diff[:self._n_low].mean(axis=0)
        e = self._pool_edges
        pooled = np.add.reduceat(S[:e[-1]], e[:-1], axis=0) / np.diff(e)[:, None]
        return onset.astype(np.float32), onset_low.astype(np.float32), pooled.astype(np.float16)


def onset_strength(mel: np.ndarray, **kwargs) -> np.ndarray:
    """Onset strength envelope [shape=(n_frames,)] of a mel power spectrogram
    [shape=(n_mels, n_frames)] (see ``OnsetStrength``)."""
    return OnsetStrength(**kwargs).process(mel)[0]


def _highpass(env: np.ndarray, frame_rate: float, *, window_s: float = 1.0) -> np.ndarray:
    """Remove the local mean (moving average of ``window_s``) and half-wave rectify."""
    w = max(3, int(round(window_s * frame_rate)) | 1)
    return np.maximum(env - uniform_filter1d(env, size=w, mode="nearest"), 0.0)


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelation [shape=(max_lag + 1,)] of a 1-d signal via FFT, normalised to ac[0] = 1
    and unbiased (divided by the overlap length)."""
    n = len(x)
    if n == 0:
        return np.zeros(max_lag + 1)
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    X = np.fft.rfft(x - x.mean(), nfft)
    ac = np.fft.irfft(np.abs(X) ** 2, nfft)[:max_lag + 1]
    ac = ac / np.maximum(n - np.arange(max_lag + 1), 1)
    return ac / ac[0] if ac[0] > 0 else np.zeros(max_lag + 1)


@dataclass
class TempoEstimate:
    """Tempo in BPM, alternatives [shape=(k,)] by decreasing score, confidence in [0, 1],
    and the score curve (bpm_grid, scores) it came from."""

    bpm: float
    alternatives_bpm: np.ndarray
    confidence: float
    bpm_grid: np.ndarray
    scores: np.ndarray


def estimate_tempo(onset_env: np.ndarray, *, frame_rate: float = C.FRAME_RATE,
                   prior_bpm: float = 120.0, prior_octaves: float = 1.0,
                   min_bpm: float = 30.0, max_bpm: float = 300.0) -> TempoEstimate:
    """Global tempo of an onset envelope [shape=(n_frames,)].

    Score(bpm) = comb over the autocorrelation at 1..4 times the period, times a
    log-normal prior centred on ``prior_bpm`` with ``prior_octaves`` standard deviation."""
    x = _highpass(np.asarray(onset_env, dtype=np.float64), frame_rate)
    max_lag = int(np.ceil(8 * 60.0 * frame_rate / min_bpm)) + 2
    max_lag = min(max_lag, max(len(x) - 1, 1))
    ac = np.maximum(autocorrelation(x, max_lag), 0.0)
    grid = np.geomspace(min_bpm, max_bpm, 720)
    lag = 60.0 * frame_rate / grid
    comb = np.zeros_like(grid)
    for k, w in zip((1, 2, 3, 4), (1.0, 0.5, 0.33, 0.25)):
        L = k * lag
        ok = L < max_lag
        comb[ok] += w * np.interp(L[ok], np.arange(len(ac)), ac)
    prior = np.exp(-0.5 * (np.log2(grid / prior_bpm) / prior_octaves) ** 2)
    scores = comb * prior
    if not np.any(scores > 0):
        return TempoEstimate(prior_bpm, np.array([prior_bpm / 2, prior_bpm * 2]), 0.0, grid, scores)
    i = int(np.argmax(scores))
    bpm = float(grid[i])
    if 0 < i < len(grid) - 1:                      # parabolic refinement on the log grid
        a, b, c = scores[i - 1:i + 2]
        d = a - 2 * b + c
        if d < 0:
            bpm = float(grid[i] * (grid[1] / grid[0]) ** (0.5 * (a - c) / d))

    # Precise period: the comb over 1..8 multiples, within +-4 % of the estimate.
    fine = bpm * np.linspace(0.96, 1.04, 161)
    Lf = 60.0 * frame_rate / fine
    acc = np.zeros_like(fine)
    for k in range(1, 9):
        ok = k * Lf < max_lag
        acc[ok] += np.interp(k * Lf[ok], np.arange(len(ac)), ac)
    if acc.max() > 0:
        bpm_precise = float(fine[int(np.argmax(acc))])
    else:
        bpm_precise = bpm

    def score_at(t):
        return float(np.interp(np.log(t), np.log(grid), scores, left=0.0, right=0.0))

    best = score_at(bpm)
    related = [bpm / 2, bpm * 2, bpm * 1.5, bpm / 1.5]
    far = np.ones_like(grid, dtype=bool)
    for t in [bpm] + related:
        far &= np.abs(np.log(grid / t)) > np.log(1.05)
    second = float(scores[far].max()) if far.any() else 0.0
    confidence = float(np.clip(1.0 - second / best, 0.0, 1.0)) if best > 0 else 0.0
    alts = [(t, score_at(t)) for t in related if min_bpm <= t <= max_bpm]
    alts = [(t, s) for i_, (t, s) in enumerate(alts) if i_ < 2 or s >= 0.5 * best]
    alts.sort(key=lambda ts: -ts[1])
    r = bpm_precise / bpm
    return TempoEstimate(bpm_precise, np.array([t * r for t, _ in alts]), confidence, grid, scores)


def track_beats(onset_env: np.ndarray, period_frames: float | np.ndarray, *,
                tightness: float = 100.0, trim: bool = True) -> np.ndarray:
    """Ellis (2007) dynamic-programming beat tracker.

    onset_env [shape=(n_frames,)]; period_frames: beat period in frames, a scalar or
    per-frame [shape=(n_frames,)]. Returns beat frame indices [shape=(n_beats,), int].
    Vectorised over blocks of frames shorter than half the shortest period (all
    predecessors of a block are already scored)."""
    env = np.asarray(onset_env, dtype=np.float64)
    n = len(env)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    P = np.broadcast_to(np.asarray(period_frames, dtype=np.float64), (n,))
    std = env.std()
    if std <= 0:
        return np.zeros(0, dtype=np.int64)
    env = env / std
    p0 = float(np.median(P))
    half = int(round(p0))
    win = np.exp(-0.5 * (np.arange(-half, half + 1) * 32.0 / p0) ** 2)
    local = np.convolve(env, win, mode="same")
    cum = np.zeros(n)
    back = np.full(n, -1, dtype=np.int64)
    lag_min = max(1, int(np.floor(P.min() / 2)))
    lag_max = int(np.ceil(2 * P.max()))
    lags = np.arange(lag_min, lag_max + 1)
    block = lag_min
    for t0 in range(0, n, block):
        t = np.arange(t0, min(n, t0 + block))
        Pt = P[t][:, None]
        idx = t[:, None] - lags[None, :]
        valid = (idx >= 0) & (lags[None, :] >= np.round(Pt / 2)) & (lags[None, :] <= np.round(2 * Pt))
        cand = np.where(valid, cum[np.maximum(idx, 0)] - tightness * np.log(lags[None, :] / Pt) ** 2,
                        -np.inf)
        j = np.argmax(cand, axis=1)
        best = cand[np.arange(len(t)), j]
        has = np.isfinite(best)
        cum[t] = local[t] + np.where(has, best, 0.0)
        back[t] = np.where(has, idx[np.arange(len(t)), j], -1)
    # Last beat: the last local maximum of the cumulative score above half the median maximum.
    is_max = np.zeros(n, dtype=bool)
    if n > 2:
        is_max[1:-1] = (cum[1:-1] > cum[:-2]) & (cum[1:-1] >= cum[2:])
    is_max[-1] = n > 1 and cum[-1] > cum[-2]
    if not is_max.any():
        return np.zeros(0, dtype=np.int64)
    thr = 0.5 * np.median(cum[is_max])
    cands = np.flatnonzero(is_max & (cum >= thr))
    last = int(cands[-1]) if len(cands) else int(np.argmax(cum))
    beats = [last]
    while back[beats[-1]] >= 0:
        beats.append(int(back[beats[-1]]))
    beats = np.array(beats[::-1], dtype=np.int64)
    if trim and len(beats):
        beats = trim_beats(local, beats)
    return beats


def trim_beats(local_score: np.ndarray, beats: np.ndarray, *, ratio: float = 0.5) -> np.ndarray:
    """Drop leading and trailing beats whose (Hann-smoothed) onset score is below ``ratio``
    times its RMS over the beats (silence before the music starts / after it ends)."""
    if len(beats) < 3:
        return beats
    s = np.convolve(local_score[beats], np.hanning(5)[1:-1], mode="same")
    thr = ratio * np.sqrt(np.mean(s ** 2))
    keep = np.flatnonzero(s > thr)
    if len(keep) == 0:
        return beats[:0]
    return beats[keep[0]:keep[-1] + 1]


@dataclass
class MeterEstimate:
    """Beats per bar (0 unknown), positions [shape=(n_beats,), int] 1..meter (0 unknown),
    confidence in [0, 1], and contrast per meter {meter: best contrast}."""

    meter: int
    positions: np.ndarray
    confidence: float
    contrast: dict


def beat_accents(beat_frames: np.ndarray, onset: np.ndarray, onset_low: np.ndarray,
                 pooled: np.ndarray, *, radius: int = 2) -> np.ndarray:
    """Per-beat accent cues [shape=(3, n_beats)]: bass onset and onset strength (max within
    ``radius`` frames of the beat), and spectral change (distance between the mean pooled
    log-mel of the beat's interval and of the previous interval)."""
    b = np.asarray(beat_frames, dtype=np.int64)
    n = len(onset)
    if len(b) == 0:
        return np.zeros((3, 0))
    idx = np.clip(b[:, None] + np.arange(-radius, radius + 1)[None, :], 0, n - 1)
    low = onset_low[idx].max(axis=1)
    alls = onset[idx].max(axis=1)
    edges = np.concatenate([b, [min(n, b[-1] + max(1, int(np.median(np.diff(b))) if len(b) > 1 else 1))]])
    P = np.asarray(pooled, dtype=np.float32)
    cs = np.concatenate([np.zeros((P.shape[0], 1), np.float32), np.cumsum(P, axis=1)], axis=1)
    seg = (cs[:, edges[1:]] - cs[:, edges[:-1]]) / np.maximum(np.diff(edges), 1)[None, :]
    change = np.zeros(len(b))
    if len(b) > 1:
        change[1:] = np.linalg.norm(np.diff(seg, axis=1), axis=0)
    return np.stack([low, alls, change])


def estimate_meter(accents: np.ndarray, *, meters: tuple[int, ...] = (3, 4),
                   weights: tuple[float, ...] = (1.0, 0.5, 1.0), prefer: int = 4,
                   margin: float = 1.3) -> MeterEstimate:
    """Meter and downbeat phase from per-beat accents [shape=(n_cues, n_beats)].

    Each cue is z-scored and combined with ``weights``; for each meter and phase the
    contrast is the mean combined accent on the putative downbeats minus the mean
    elsewhere. The preferred meter wins unless another one's contrast is ``margin``
    times larger."""
    A = np.asarray(accents, dtype=np.float64)
    nb = A.shape[1]
    if nb < 2 * min(meters):
        return MeterEstimate(0, np.zeros(nb, dtype=np.int64), 0.0, {})
    z = (A - A.mean(axis=1, keepdims=True)) / np.maximum(A.std(axis=1, keepdims=True), 1e-9)
    d = np.tensordot(np.asarray(weights[:A.shape[0]]), z, axes=1)
    best: dict[int, tuple[float, int]] = {}
    i = np.arange(nb)
    for m in meters:
        if nb < 2 * m:
            continue
        cs = []
        for phi in range(m):
            on = (i - phi) % m == 0
            cs.append(d[on].mean() - d[~on].mean())
        k = int(np.argmax(cs))
        best[m] = (float(cs[k]), k)
    if not best:
        return MeterEstimate(0, np.zeros(nb, dtype=np.int64), 0.0, {})
    meter = prefer if prefer in best else max(best, key=lambda m: best[m][0])
    for m, (c, _) in best.items():
        if m != meter and c > margin * max(best[meter][0], 0.0) and c > 0:
            meter = m
    contrast, phi = best[meter]
    positions = ((i - phi) % meter + 1).astype(np.int64)
    confidence = float(np.clip(contrast / 2.0, 0.0, 1.0))
    return MeterEstimate(meter, positions, confidence, {m: c for m, (c, _) in best.items()})


def onset_probability(onset_env: np.ndarray, *, percentile: float = 99.0,
                      ceiling: float = 0.95) -> np.ndarray:
    """An onset envelope [shape=(n_frames,)] mapped to a pseudo beat probability in
    [0, ``ceiling``] for the DBN decoder: divided by its ``percentile``-th percentile, clipped."""
    o = np.maximum(np.asarray(onset_env, dtype=np.float64), 0.0)
    if len(o) == 0:
        return o
    ref = float(np.percentile(o, percentile))
    if ref <= 0:
        ref = float(o.max()) if o.max() > 0 else 1.0
    return np.clip(o / ref, 0.0, 1.0) * ceiling


def tempo_alternatives(bpm: float, tempo: TempoEstimate, *, min_bpm: float = 30.0,
                       max_bpm: float = 300.0) -> np.ndarray:
    """Alternatives to ``bpm`` [shape=(k,)]: half and double always, 3:2 and 2:3 where their
    score on ``tempo``'s curve is at least half that of ``bpm``; by decreasing score."""
    grid, scores = tempo.bpm_grid, tempo.scores

    def score_at(t):
        return float(np.interp(np.log(t), np.log(grid), scores, left=0.0, right=0.0))

    best = score_at(bpm)
    related = [bpm / 2, bpm * 2, bpm * 1.5, bpm / 1.5]
    alts = [(t, score_at(t)) for t in related if min_bpm <= t <= max_bpm]
    alts = [(t, s) for i, (t, s) in enumerate(alts) if i < 2 or s >= 0.5 * best]
    alts.sort(key=lambda ts: -ts[1])
    return np.array([t for t, _ in alts], dtype=np.float64)
