"""Tonal analysis: pitch-class profiles (chroma), key profiles, global and local key.

Pure numpy/scipy. The chroma is built from the linear STFT magnitude (not the
harmonic CQT: the nnAudio HCQT reference costs about 1/6 of real time on two
cores while the STFT path below runs at well over 1000x real time, and the
key needs only semitone resolution):

1. spectral peaks of each frame between ``fmin_hz`` and ``fmax_hz``, with
   parabolic interpolation of the log magnitude (sub-bin frequency, so a
   2048-point STFT resolves semitones well above ~100 Hz);
2. spectral whitening: a peak's weight is its magnitude relative to a smoothed
   spectral envelope (log-compressed), which suppresses broadband
   (percussive, noisy) energy and the spectral tilt;
3. peaks are folded into a fine pitch-class histogram (``N_FINE`` = 60 bins per
   octave, 20 cents) and summed over blocks of frames (``BLOCK_FRAMES``);
4. the tuning (deviation from A440 in cents) is estimated from the whole
   histogram and the fine histogram is folded to 12 pitch classes around the
   tuned semitone centres (``fine_to_chroma``).

Key estimation correlates a profile (Krumhansl-Kessler, Temperley, or the EDM
profiles of Faraldo et al. 2016, ``edma``/``bgate``) with the chroma for each of
the 24 keys. The local key is a sliding-window key score smoothed by an HMM over
the 24 keys (Viterbi path, forward-backward posteriors as confidence).

Key index convention used throughout: ``key = tonic_pc + 12 * (mode == 'minor')``,
``tonic_pc`` 0..11 with C = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from workstation.core import constants as C

#: Fine pitch-class resolution of the intermediate histogram (bins per octave; 20 cents).
N_FINE: int = 60
#: Fine bins per semitone.
FINE_PER_SEMITONE: int = N_FINE // 12
#: Frames summed into one chroma block (16 x 11.6 ms = 186 ms) to keep memory small on long files.
BLOCK_FRAMES: int = 16

MODES: tuple[str, str] = ("major", "minor")

#: Key profiles, scale degree 0 = tonic: (major, minor), 12 values each.
KEY_PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # Krumhansl & Kessler (1982) probe-tone ratings.
    "krumhansl": ((6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
                  (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)),
    # Temperley (1999), Kostka-Payne corpus.
    "temperley": ((5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
                  (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0)),
    # Faraldo, Gomez, Jorda, Herrera (2016), "Key estimation in electronic dance music":
    # profile derived from an EDM corpus ('edma') and its diatonic-gated version ('bgate').
    "edma": ((1.0000, 0.2875, 0.5020, 0.4048, 0.6050, 0.5614, 0.3205, 0.7966, 0.3159, 0.4506,
              0.4202, 0.3889),
             (1.0000, 0.3096, 0.4415, 0.5827, 0.3262, 0.4948, 0.2889, 0.7804, 0.4328, 0.2903,
              0.5331, 0.3217)),
    "bgate": ((1.00, 0.00, 0.42, 0.00, 0.53, 0.37, 0.00, 0.77, 0.00, 0.38, 0.21, 0.30),
              (1.00, 0.00, 0.36, 0.39, 0.00, 0.38, 0.00, 0.74, 0.27, 0.00, 0.42, 0.23)),
}


# ----------------------------------------------------------------------------------------------
# Chroma
# ----------------------------------------------------------------------------------------------

def spectral_peaks(stft_mag: np.ndarray, *, sr: int = C.SAMPLE_RATE, n_fft: int = C.N_FFT,
                   fmin_hz: float = 80.0, fmax_hz: float = 5000.0, whitening_bins: int = 31,
                   min_contrast_db: float = 3.0, dynamic_range_db: float = 40.0,
                   compression: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whitened spectral peaks of an STFT magnitude [shape=(n_fft // 2 + 1, n_frames)].

    Returns (freq_hz, frame, weight), each [shape=(n_peaks,)]: the parabolically
    interpolated frequency of each peak between ``fmin_hz`` and ``fmax_hz``, its frame index,
    and its weight ``log1p(compression * peak / frame max)``. The envelope is a moving average
    of the magnitude over ``whitening_bins`` STFT bins; peaks less than ``min_contrast_db``
    above it, or ``dynamic_range_db`` below the frame's maximum, are dropped."""
    X = np.asarray(stft_mag, dtype=np.float32)
    empty = (np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    if X.shape[1] == 0:
        return empty
    df = sr / n_fft
    lo = max(1, int(np.floor(fmin_hz / df)) - 1)
    hi = min(X.shape[0] - 1, int(np.ceil(fmax_hz / df)) + 2)
    band = X[lo - 1:hi + 1]                                     # one guard bin each side
    env = uniform_filter1d(band, size=whitening_bins, axis=0, mode="nearest")
    mid = band[1:-1]
    is_peak = (mid > band[:-2]) & (mid >= band[2:])
    is_peak &= mid > env[1:-1] * (10.0 ** (min_contrast_db / 20.0))
    fmax = band.max(axis=0, keepdims=True)
    is_peak &= mid > fmax * (10.0 ** (-dynamic_range_db / 20.0))
    kk, tt = np.nonzero(is_peak)
    if kk.size == 0:
        return empty
    a = np.log(band[kk, tt] + 1e-12)
    b = np.log(band[kk + 1, tt] + 1e-12)
    c = np.log(band[kk + 2, tt] + 1e-12)
    denom = a - 2.0 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(denom < 0, 0.5 * (a - c) / denom, 0.0)
    p = np.clip(p, -0.5, 0.5)
    freq = (kk + lo + p) * df
    keep = (freq >= fmin_hz) & (freq <= fmax_hz)
    freq, tt, kk = freq[keep], tt[keep], kk[keep]
    rel = band[kk + 1, tt] / (fmax[0, tt] + 1e-12)
    w = np.log1p(compression * rel).astype(np.float32)
    return freq, tt, w


def peak_pitch_histogram(stft_mag: np.ndarray, *, sr: int = C.SAMPLE_RATE, n_fft: int = C.N_FFT,
                         fmin_hz: float = 80.0, fmax_hz: float = 5000.0,
                         whitening_bins: int = 31, min_contrast_db: float = 3.0,
                         dynamic_range_db: float = 40.0, compression: float = 100.0
                         ) -> np.ndarray:
    """Per-frame fine pitch-class histogram from the spectral peaks of an STFT.

    stft_mag [shape=(n_fft // 2 + 1, n_frames)] linear magnitude. Returns
    [shape=(N_FINE, n_frames), float32]: bin ``j`` is pitch class ``j / FINE_PER_SEMITONE``
    semitones above C at A4 = 440 Hz (no tuning correction yet); each peak's weight
    (``spectral_peaks``) is split linearly between its two nearest bins.
    """
    n_frames = np.asarray(stft_mag).shape[1]
    out = np.zeros((N_FINE, n_frames), dtype=np.float32)
    freq, tt, w = spectral_peaks(stft_mag, sr=sr, n_fft=n_fft, fmin_hz=fmin_hz, fmax_hz=fmax_hz,
                                 whitening_bins=whitening_bins, min_contrast_db=min_contrast_db,
                                 dynamic_range_db=dynamic_range_db, compression=compression)
    if freq.size == 0:
        return out
    # Pitch class in fine bins above C: MIDI = 69 + 12 log2(f / 440).
    pos = ((69.0 + 12.0 * np.log2(freq / 440.0)) * FINE_PER_SEMITONE) % N_FINE
    j0 = np.floor(pos).astype(np.int64)
    frac = (pos - j0).astype(np.float32)
    j1 = (j0 + 1) % N_FINE
    size = N_FINE * n_frames
    flat = np.bincount(j0 * n_frames + tt, weights=w * (1.0 - frac), minlength=size)
    flat += np.bincount(j1 * n_frames + tt, weights=w * frac, minlength=size)
    return flat.reshape(N_FINE, n_frames).astype(np.float32)


def estimate_tuning_cents(fine_hist: np.ndarray) -> float:
    """Tuning deviation from A440 in cents, in [-50, 50), from a fine pitch-class
    histogram [shape=(N_FINE,) or (N_FINE, n)] (circular mean within the semitone)."""
    h = np.asarray(fine_hist, dtype=np.float64)
    if h.ndim > 1:
        h = h.sum(axis=tuple(range(1, h.ndim)))
    if h.sum() <= 0:
        return 0.0
    phase = 2 * np.pi * (np.arange(N_FINE) % FINE_PER_SEMITONE) / FINE_PER_SEMITONE
    z = np.sum(h * np.exp(1j * phase))
    if abs(z) < 1e-12:
        return 0.0
    cents = float(np.angle(z) / (2 * np.pi) * 100.0)
    return ((cents + 50.0) % 100.0) - 50.0


def fine_to_chroma_matrix(tuning_cents: float = 0.0) -> np.ndarray:
    """Folding matrix [shape=(12, N_FINE)] from the fine histogram to 12 pitch classes
    centred on the tuned semitones (triangular kernel, half-width one semitone)."""
    centres = np.arange(12) * FINE_PER_SEMITONE + tuning_cents / 100.0 * FINE_PER_SEMITONE
    d = np.arange(N_FINE)[None, :] - centres[:, None]
    d = (d + N_FINE / 2) % N_FINE - N_FINE / 2                   # circular distance in fine bins
    return np.maximum(0.0, 1.0 - np.abs(d) / FINE_PER_SEMITONE).astype(np.float32)


def chroma_from_fine(fine: np.ndarray, *, tuning_cents: float | None = None) -> tuple[np.ndarray, float]:
    """Fold a fine histogram [shape=(N_FINE, n)] to chroma [shape=(12, n)] (row 0 = C).
    Estimates the tuning from ``fine`` itself when ``tuning_cents`` is None.
    Returns (chroma, tuning_cents)."""
    if tuning_cents is None:
        tuning_cents = estimate_tuning_cents(fine)
    return fine_to_chroma_matrix(tuning_cents) @ np.asarray(fine, dtype=np.float32), tuning_cents


def block_sum(x: np.ndarray, block: int = BLOCK_FRAMES) -> np.ndarray:
    """Sum consecutive groups of ``block`` frames [shape=(..., n)] -> [shape=(..., ceil(n / block))]."""
    n = x.shape[-1]
    nb = -(-n // block)
    pad = nb * block - n
    if pad:
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,), dtype=x.dtype)], axis=-1)
    return x.reshape(x.shape[:-1] + (nb, block)).sum(axis=-1)


def chroma(stft_mag: np.ndarray, *, sr: int = C.SAMPLE_RATE, n_fft: int = C.N_FFT,
           tuning_cents: float | None = None, **kwargs) -> np.ndarray:
    """Tuned chroma [shape=(12, n_frames)] of an STFT magnitude (see ``peak_pitch_histogram``)."""
    fine = peak_pitch_histogram(stft_mag, sr=sr, n_fft=n_fft, **kwargs)
    return chroma_from_fine(fine, tuning_cents=tuning_cents)[0]


# ----------------------------------------------------------------------------------------------
# Keys
# ----------------------------------------------------------------------------------------------

def key_index(tonic_pc: int, mode: str) -> int:
    """Key index 0..23: tonic_pc for major, 12 + tonic_pc for minor."""
    return int(tonic_pc) % 12 + (12 if mode == "minor" else 0)


def key_from_index(k: int) -> tuple[int, str]:
    """(tonic_pc, mode) of a key index 0..23."""
    return int(k) % 12, MODES[int(k) // 12]


def key_templates(profile: str = "temperley") -> np.ndarray:
    """The 24 key templates [shape=(24, 12)], each zero-mean and unit-norm (rows: key index)."""
    if profile not in KEY_PROFILES:
        raise ValueError(f"unknown key profile {profile!r}; known: {', '.join(KEY_PROFILES)}")
    out = np.zeros((24, 12))
    for m, prof in enumerate(KEY_PROFILES[profile]):
        p = np.asarray(prof, dtype=np.float64)
        for t in range(12):
            out[12 * m + t] = np.roll(p, t)
    out -= out.mean(axis=1, keepdims=True)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def key_scores(chroma_vecs: np.ndarray, *, profile: str = "temperley") -> np.ndarray:
    """Pearson correlation of chroma vectors with the 24 key templates.

    chroma_vecs [shape=(12,) or (12, n)] -> [shape=(24,) or (24, n)] in [-1, 1]
    (0 where a chroma vector is flat)."""
    x = np.asarray(chroma_vecs, dtype=np.float64)
    one = x.ndim == 1
    if one:
        x = x[:, None]
    x = x - x.mean(axis=0, keepdims=True)
    norm = np.linalg.norm(x, axis=0, keepdims=True)
    x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-12)
    s = key_templates(profile) @ x
    return s[:, 0] if one else s


def _softmax(x: np.ndarray, axis: int = 0) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@dataclass
class KeyEstimate:
    """Global key: tonic_pc 0..11, mode, confidence in [0, 1], scores [shape=(24,)]."""

    tonic_pc: int
    mode: str
    confidence: float
    scores: np.ndarray


def estimate_key(chroma_vec: np.ndarray, *, profile: str = "temperley",
                 temperature: float = 0.05) -> KeyEstimate:
    """Key of a pitch-class profile [shape=(12,)] (e.g. a whole track's summed chroma).

    Confidence is the softmax probability of the best key over the 24 correlations
    (``temperature`` in correlation units), so it is low for flat or ambiguous profiles."""
    s = key_scores(chroma_vec, profile=profile)
    if not np.any(s):
        return KeyEstimate(0, "major", 0.0, s)
    k = int(np.argmax(s))
    tonic, mode = key_from_index(k)
    conf = float(_softmax(s / temperature)[k])
    return KeyEstimate(tonic, mode, conf, s)


def key_transition_matrix(p_change: float) -> np.ndarray:
    """HMM transition matrix [shape=(24, 24)]: stay with 1 - p_change, else move to any
    other key, twice as likely to a closely related key (relative, dominant, subdominant,
    parallel) as to a distant one."""
    A = np.ones((24, 24))
    for k in range(24):
        t, m = k % 12, k // 12
        related = [((t + 7) % 12) + 12 * m, ((t + 5) % 12) + 12 * m, t + 12 * (1 - m),
                   ((t + 9) % 12) + 12 if m == 0 else ((t + 3) % 12)]
        A[k, related] = 2.0
        A[k, k] = 0.0
    A *= p_change / A.sum(axis=1, keepdims=True)
    A[np.arange(24), np.arange(24)] = 1.0 - p_change
    return A


def viterbi(log_emission: np.ndarray, log_trans: np.ndarray,
            log_init: np.ndarray | None = None) -> np.ndarray:
    """Most likely state path [shape=(n,), int] of an HMM.

    log_emission [shape=(n_states, n)], log_trans [shape=(n_states, n_states)] (from, to)."""
    S, n = log_emission.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    delta = (np.zeros(S) if log_init is None else log_init) + log_emission[:, 0]
    psi = np.zeros((n, S), dtype=np.int32)
    for t in range(1, n):
        cand = delta[:, None] + log_trans
        psi[t] = np.argmax(cand, axis=0)
        delta = cand[psi[t], np.arange(S)] + log_emission[:, t]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmax(delta))
    for t in range(n - 1, 0, -1):
        path[t - 1] = psi[t, path[t]]
    return path


def forward_backward(emission: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """State posteriors [shape=(n_states, n)] of an HMM with emission likelihoods
    [shape=(n_states, n)] and transitions (from, to), uniform start (scaled recursions)."""
    S, n = emission.shape
    alpha = np.zeros((S, n))
    beta = np.ones((S, n))
    a = emission[:, 0] / S
    for t in range(n):
        if t:
            a = (alpha[:, t - 1] @ trans) * emission[:, t]
        alpha[:, t] = a / max(a.sum(), 1e-300)
    for t in range(n - 2, -1, -1):
        b = trans @ (emission[:, t + 1] * beta[:, t + 1])
        beta[:, t] = b / max(b.sum(), 1e-300)
    post = alpha * beta
    return post / np.maximum(post.sum(axis=0, keepdims=True), 1e-300)


@dataclass
class LocalKeys:
    """Local-key segments: start_s, end_s [shape=(n_seg,)], key index [shape=(n_seg,), int],
    confidence [shape=(n_seg,)] in [0, 1]."""

    start_s: np.ndarray
    end_s: np.ndarray
    key: np.ndarray
    confidence: np.ndarray


def local_keys(block_chroma: np.ndarray, *, block_s: float, duration_s: float,
               profile: str = "temperley", window_s: float = 12.0, hop_s: float = 1.0,
               p_change: float = 0.005, temperature: float = 0.05,
               min_segment_s: float = 0.0) -> LocalKeys:
    """Local key timeline from block chroma [shape=(12, n_blocks)] (block ``i`` covers
    ``[i * block_s, (i + 1) * block_s)``).

    Windows of ``window_s`` every ``hop_s`` are scored against the 24 keys; an HMM over
    the 24 keys (``p_change`` per hop) smooths them (Viterbi); segment confidence is the
    mean forward-backward posterior of the chosen key over the segment."""
    n = block_chroma.shape[1]
    if n == 0:
        return LocalKeys(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0))
    win = max(1, int(round(window_s / block_s)))
    hop = max(1, int(round(hop_s / block_s)))
    centres = np.arange(0, n, hop) + hop // 2
    centres = centres[centres < n] if len(centres) > 1 else np.array([n // 2])
    cs = np.concatenate([np.zeros((12, 1)), np.cumsum(block_chroma, axis=1, dtype=np.float64)],
                        axis=1)
    lo = np.clip(centres - win // 2, 0, n)
    hi = np.clip(centres - win // 2 + win, 0, n)
    wsum = cs[:, hi] - cs[:, lo]
    s = key_scores(wsum, profile=profile)
    em = _softmax(s / temperature, axis=0)
    em = np.where(np.abs(s).sum(axis=0, keepdims=True) > 0, em, 1.0 / 24)
    A = key_transition_matrix(p_change)
    path = viterbi(np.log(em + 1e-12), np.log(A))
    post = forward_backward(em, A)
    # Segments: runs of the path; boundaries half-way between window centres.
    change = np.flatnonzero(np.diff(path)) + 1
    starts_i = np.concatenate([[0], change])
    ends_i = np.concatenate([change, [len(path)]])
    t_c = (centres + 0.5) * block_s
    start_s = np.concatenate([[0.0], 0.5 * (t_c[change - 1] + t_c[change])])
    end_s = np.concatenate([start_s[1:], [duration_s]])
    keys = path[starts_i]
    conf = np.array([post[keys[i], starts_i[i]:ends_i[i]].mean() for i in range(len(keys))])
    if min_segment_s > 0 and len(keys) > 1:
        keep = (end_s - start_s) >= min_segment_s
        keep[np.argmax(end_s - start_s)] = True
        start_s, end_s, keys, conf = start_s[keep], end_s[keep], keys[keep], conf[keep]
        end_s = np.concatenate([start_s[1:], [duration_s]])
        start_s[0] = 0.0
    return LocalKeys(start_s, end_s, keys.astype(np.int64), np.clip(conf, 0.0, 1.0))
