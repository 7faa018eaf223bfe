"""Monophonic f0 estimation: YIN difference functions, pYIN candidates, HMM decoding.

The pYIN algorithm (Mauch & Dixon, "pYIN: a fundamental frequency estimator using
probabilistic threshold distributions", ICASSP 2014) in three reusable layers:

1. ``cmndf`` — the cumulative mean normalised difference function (YIN, de Cheveigné &
   Kawahara 2002) of many frames at once, the difference function computed through the
   FFT (two real FFTs and one inverse per frame, batched).
2. ``pyin_candidates`` — the troughs of the CMNDF, refined by parabolic interpolation,
   each given a probability by integrating a Beta prior over the YIN threshold: the
   trough that is *the first one below the threshold* takes the mass of those
   thresholds (a continuous version of pYIN's 100 discrete thresholds); when no trough
   is below the threshold, ``no_trough_prob`` of that mass goes to the global minimum.
   Only the ``max_candidates`` most probable candidates per frame are kept, so the
   per-frame data stays compact (about 64 bytes a frame) on long files.
3. ``PitchHMM`` — Viterbi decoding over a pitch grid (``bins_per_semitone`` bins from
   ``fmin`` to ``fmax``) with a voiced and an unvoiced copy of every bin. Observation
   likelihoods follow pYIN: a voiced bin has ``voicing_trust`` times the probability of
   the candidates that fall in it, every unvoiced bin ``(1 - voicing_trust * P) / n_bins``
   with ``P`` the frame's total candidate probability. Pitch moves by a local
   log-linear (Laplacian) transition, ``-transition_cost`` nats per bin, and voicing
   switches with ``switch_prob``. The log-linear kernel makes the max-plus convolution
   over the pitch axis exact in O(n_bins) per frame with two running maxima (forward and
   backward), argmax included. Long inputs are decoded as many overlapping segments
   in parallel (vectorised over segments), each keeping only its core: survivor paths
   of this HMM merge within a few frames, so the overlap (``overlap_s``) makes the
   spliced path equal to the global Viterbi path (checked by the chunk-invariance test).

The output frequency of a decoded voiced frame is the refined (interpolated)
frequency of the candidate nearest to the decoded bin, as in pYIN; confidence is the
frame's voiced probability ``P`` (the sum of the candidate probabilities).

Conventions: signals first, keyword-only parameters; time is the last axis of every
public array (``[shape=(k, n_frames)]``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.special
from numpy.lib.stride_tricks import sliding_window_view

_WORKERS = max(1, min(4, os.cpu_count() or 1))

__all__ = [
    "PyinParams", "cmndf", "pyin_candidates", "pitch_grid", "PitchHMM", "pyin",
]


@dataclass(frozen=True)
class PyinParams:
    """Every parameter of the pYIN estimator (defaults tuned for singing and instruments).

    fmin, fmax: search range in Hz. win_length: YIN integration window in samples (at
    22050 Hz, 1024 = 46 ms). beta_parameters: (a, b) of the Beta prior over thresholds
    (pYIN's mean-0.1 distribution). no_trough_prob: share of the below-all-troughs mass
    given to the global minimum. max_candidates: candidates kept per frame.
    silence_db: frames whose RMS (dBFS) is below this have no candidates.
    bins_per_semitone: HMM pitch grid resolution (5 = 20 cents). transition_cost:
    nats per bin of pitch movement between frames. switch_prob: voiced<->unvoiced switch
    probability per frame. voicing_trust: pYIN's weight of YIN's voiced probability.
    segment_s / overlap_s: parallel Viterbi segment core length and overlap, in seconds.
    """

    fmin: float = 55.0
    fmax: float = 2000.0
    win_length: int = 1024
    beta_parameters: tuple[float, float] = (2.0, 18.0)
    no_trough_prob: float = 0.01
    max_candidates: int = 6
    silence_db: float = -70.0
    bins_per_semitone: int = 5
    transition_cost: float = 0.25
    switch_prob: float = 0.01
    voicing_trust: float = 0.5
    segment_s: float = 8.0
    overlap_s: float = 1.5

    def lag_range(self, sr: int) -> tuple[int, int]:
        """(min_period, max_period) in samples for ``sr``."""
        lo = max(2, int(math.floor(sr / self.fmax)))
        hi = int(math.ceil(sr / self.fmin))
        return lo, max(hi, lo + 2)


# ----------------------------------------------------------------------------- YIN

def _lead(p: "PyinParams", sr: int) -> int:
    """Samples between a frame's first sample and its centre time.

    d(tau) compares x[j] with x[j + tau] for j in [0, W): the compared samples centre on
    (W + tau) / 2. Centring for the geometric middle lag of the search range keeps the
    time offset below (max_period - tau_mid) / 2 samples for every f0."""
    lo, hi = p.lag_range(sr)
    return (p.win_length + int(round(math.sqrt(lo * hi)))) // 2


def _frames(y: np.ndarray, frame_length: int, first_center: int, n_frames: int,
            hop_length: int, lead: int | None = None) -> np.ndarray:
    """Read-only frames view [shape=(n_frames, frame_length)] around
    ``first_center + i * hop_length``: frame i starts ``lead`` samples before its centre
    (default ``frame_length // 2``)."""
    start = first_center - (frame_length // 2 if lead is None else lead)
    need = start + (n_frames - 1) * hop_length + frame_length
    if start < 0 or need > len(y):
        raise ValueError(f"signal of {len(y)} samples too short for {n_frames} frames of "
                         f"{frame_length} centred from sample {first_center}")
    win = sliding_window_view(y, frame_length)
    return win[start: start + (n_frames - 1) * hop_length + 1: hop_length]


def _cmndf_block(x: np.ndarray, win_length: int, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """CMNDF of frames x [shape=(n, L)], L >= win_length + max_lag + 1, for lags 0..max_lag.

    d(tau) = sum_{j < W} (x_j - x_{j+tau})^2 = e(0) + e(tau) - 2 r(tau), with the
    cross-correlation r through the FFT and the window energies e(tau) by a running sum.
    Returns (cmndf [shape=(n, max_lag + 1)], energy of the window [shape=(n,)])."""
    n, L = x.shape
    W = win_length
    nfft = scipy.fft.next_fast_len(W + max_lag + 1, real=True)
    x = x[:, :W + max_lag + 1].astype(np.float32, copy=False)
    a = scipy.fft.rfft(x[:, :W], nfft, axis=1, workers=_WORKERS)
    b = scipy.fft.rfft(x, nfft, axis=1, workers=_WORKERS)
    np.conjugate(a, out=a)
    a *= b
    r = scipy.fft.irfft(a, nfft, axis=1, workers=_WORKERS)[:, :max_lag + 1]
    e0 = np.einsum("ij,ij->i", x[:, :W], x[:, :W], dtype=np.float64).astype(np.float32)
    sq = np.square(x[:, :W + max_lag])
    etau = np.empty((n, max_lag + 1), np.float32)
    etau[:, 0] = e0
    np.cumsum(sq[:, W:] - sq[:, :max_lag], axis=1, out=etau[:, 1:])
    etau[:, 1:] += e0[:, None]
    # d = e0 + e(tau) - 2 r, computed in place in r's buffer
    d = np.multiply(r, -2.0, dtype=np.float32)
    d += etau
    d += e0[:, None]
    np.maximum(d, 0.0, out=d)
    d[:, 0] = 0.0
    csum = np.cumsum(d[:, 1:], axis=1)
    np.maximum(csum, 1e-9 * np.maximum(e0, 1e-30)[:, None], out=csum)
    out = np.empty_like(d)
    out[:, 0] = 1.0
    np.multiply(d[:, 1:], np.arange(1, max_lag + 1, dtype=np.float32), out=out[:, 1:])
    out[:, 1:] /= csum
    return out, e0


def cmndf(y: np.ndarray, *, sr: int = 22050, hop_length: int = 256,
          fmin: float = PyinParams.fmin, fmax: float = PyinParams.fmax,
          win_length: int = PyinParams.win_length, center: bool = True) -> np.ndarray:
    """Cumulative mean normalised difference function of every frame.

    y [shape=(n_samples,)] mono signal. Frames are centred on ``i * hop_length`` (zero
    padded) when ``center``, else start at ``i * hop_length``. Returns
    [shape=(max_period + 1, n_frames)]: row ``tau`` is d'(tau) (row 0 is 1), with
    ``max_period = ceil(sr / fmin)``.
    """
    p = PyinParams(fmin=fmin, fmax=fmax, win_length=win_length)
    _, max_period = p.lag_range(sr)
    L = win_length + max_period + 2
    y = np.asarray(y, dtype=np.float32)
    if center:
        n_frames = 1 + len(y) // hop_length
        y = np.pad(y, (L, L))
        first = L
    else:
        n_frames = max(0, 1 + (len(y) - L) // hop_length)
        first = L // 2
    if n_frames == 0:
        return np.ones((max_period + 1, 0))
    x = _frames(y, L, first, n_frames, hop_length, lead=_lead(p, sr))
    d, _ = _cmndf_block(x, win_length, max_period)
    return d.T


# ----------------------------------------------------------------------------- candidates

_CDF_GRID = np.linspace(0.0, 1.0, 2001)


def _threshold_cdf(beta_parameters: tuple[float, float]) -> np.ndarray:
    a, b = beta_parameters
    return scipy.special.betainc(a, b, _CDF_GRID)


def _candidates_block(x: np.ndarray, *, sr: int, p: PyinParams, cdf: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """pYIN candidates of frames x [shape=(n, L)]: (freqs_hz, probs) [shape=(n, K)], sorted
    by decreasing probability, zeros where fewer than K candidates."""
    lo, hi = p.lag_range(sr)
    d, e0 = _cmndf_block(x, p.win_length, hi + 1)
    n = d.shape[0]
    c = d[:, lo - 1: hi + 2]                     # lags lo-1 .. hi+1
    mid = c[:, 1:-1]                             # lags lo .. hi
    left, right = c[:, :-2], c[:, 2:]
    trough = (mid < left) & (mid <= right)
    vals = np.where(trough, mid, np.inf)
    # running minimum of the earlier troughs (inf before the first)
    prev_min = np.empty_like(vals)
    prev_min[:, 0] = np.inf
    np.minimum.accumulate(vals[:, :-1], axis=1, out=prev_min[:, 1:])
    first_below = trough & (vals < prev_min)
    F = lambda v: np.interp(v, _CDF_GRID, cdf)  # noqa: E731  (P(threshold <= v); 1 above 1)
    rows, cols = np.nonzero(first_below)
    v = vals[rows, cols]
    pm = np.minimum(prev_min[rows, cols], 1.0)
    prob_nz = F(pm) - F(v)
    probs = np.zeros_like(vals)
    probs[rows, cols] = prob_nz
    # thresholds below every trough: their mass (times no_trough_prob) to the global minimum
    gmin_col = np.argmin(vals, axis=1)
    gmin = vals[np.arange(n), gmin_col]
    has = np.isfinite(gmin)
    probs[np.arange(n)[has], gmin_col[has]] += p.no_trough_prob * F(np.minimum(gmin[has], 1.0))
    # silence gate
    rms_db = 10.0 * np.log10(np.maximum(e0 / p.win_length, 1e-20))
    probs[rms_db < p.silence_db] = 0.0
    # parabolic interpolation of the trough position
    den = left - 2.0 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(den > 0, 0.5 * (left - right) / den, 0.0)
    np.clip(shift, -1.0, 1.0, out=shift)
    K = min(p.max_candidates, probs.shape[1])
    top = np.argpartition(-probs, K - 1, axis=1)[:, :K]
    tp = np.take_along_axis(probs, top, axis=1)
    order = np.argsort(-tp, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    tp = np.take_along_axis(tp, order, axis=1)
    period = lo + top + np.take_along_axis(shift, top, axis=1)
    freqs = np.where(tp > 0, sr / period, 0.0)
    return freqs.astype(np.float32), tp.astype(np.float32)


def pyin_candidates(y: np.ndarray, *, sr: int = 22050, hop_length: int = 256,
                    first_center: int | None = None, n_frames: int | None = None,
                    params: PyinParams | None = None, block_frames: int = 1024
                    ) -> tuple[np.ndarray, np.ndarray]:
    """pYIN f0 candidates and their probabilities for every frame.

    y [shape=(n_samples,)] mono signal. By default frames are centred on
    ``i * hop_length`` of the zero-padded signal (librosa ``center=True``); give
    ``first_center`` (sample index of frame 0's centre) and ``n_frames`` to analyse frames
    of an already padded segment (the signal must then cover every frame).

    Returns (freqs_hz, probs), both [shape=(max_candidates, n_frames), float32], sorted by
    decreasing probability per frame; unused slots are 0. A frame's probabilities sum to
    at most 1 (its voiced probability).
    """
    p = params or PyinParams()
    _, hi = p.lag_range(sr)
    L = p.win_length + hi + 3
    y = np.asarray(y, dtype=np.float32)
    if first_center is None:
        n = 1 + len(y) // hop_length if n_frames is None else n_frames
        y = np.pad(y, (L, L + max(0, n * hop_length - len(y))))
        first_center = L
    else:
        n = n_frames if n_frames is not None else 1 + (len(y) - first_center) // hop_length
    K = p.max_candidates
    freqs = np.zeros((n, K), np.float32)
    probs = np.zeros((n, K), np.float32)
    if n == 0:
        return freqs.T, probs.T
    cdf = _threshold_cdf(p.beta_parameters)
    x = _frames(y, L, first_center, n, hop_length, lead=_lead(p, sr))
    for s in range(0, n, block_frames):
        f, q = _candidates_block(x[s:s + block_frames], sr=sr, p=p, cdf=cdf)
        freqs[s:s + len(f), :f.shape[1]] = f
        probs[s:s + len(f), :q.shape[1]] = q
    return freqs.T, probs.T


# ----------------------------------------------------------------------------- HMM

def pitch_grid(*, fmin: float = PyinParams.fmin, fmax: float = PyinParams.fmax,
               bins_per_semitone: int = PyinParams.bins_per_semitone) -> np.ndarray:
    """Centre frequencies in Hz of the HMM pitch bins [shape=(n_bins,)], from fmin upwards."""
    n = int(math.floor(12 * bins_per_semitone * math.log2(fmax / fmin))) + 1
    return fmin * 2.0 ** (np.arange(n) / (12.0 * bins_per_semitone))


def _viterbi_segments(log_v: np.ndarray, log_u: np.ndarray, *, transition_cost: float,
                      switch_prob: float) -> np.ndarray:
    """Viterbi over B independent segments at once.

    log_v [shape=(B, T, n)] voiced log-likelihoods per bin, log_u [shape=(B, T)] the
    unvoiced log-likelihood (equal for every unvoiced bin). Returns the best state
    sequence [shape=(B, T), int]: state s < n is voiced bin s, s >= n unvoiced bin s - n.

    The forward pass keeps only the scores (float32, one row of 2n per frame and segment)
    and no backpointers: the max-plus step with the Laplacian kernel is two running
    maxima, and the backtrace recomputes the argmax for the one state on the path.
    """
    B, T, n = log_v.shape
    lam = np.float32(transition_cost)
    li = (lam * np.arange(n)).astype(np.float32)
    li_r = li[::-1].copy()
    # constant offsets do not change the argmax: stay costs 0, a switch costs l_diff
    l_diff = np.float32(math.log(switch_prob) - math.log1p(-switch_prob))
    hist = np.empty((T, B, 2, n), np.float32)
    X = hist[0]
    X[:, 0] = log_v[:, 0]
    X[:, 1] = log_u[:, 0, None]
    H = np.empty((B, 4, n), np.float32)
    for t in range(1, T):
        np.add(X, li, out=H[:, :2])
        np.subtract(X[..., ::-1], li_r, out=H[:, 2:])
        np.maximum.accumulate(H, axis=2, out=H)
        best = np.maximum(H[:, :2] - li, H[:, 2:, ::-1] + li)
        X = hist[t]
        np.maximum(best, best[:, ::-1] + l_diff, out=X)
        X[:, 0] += log_v[:, t]
        X[:, 1] += log_u[:, t, None]
        if t % 8 == 0:
            X -= X[:, 1].max(axis=1)[:, None, None]
    path = np.empty((B, T), np.int64)
    s = hist[T - 1].reshape(B, 2 * n).argmax(axis=1)
    dist = lam * np.abs(np.arange(n)[None, :] - np.arange(n)[:, None]).astype(np.float32)
    row_pen = np.array([[0.0, l_diff], [l_diff, 0.0]], np.float32)   # [to_row, from_row]
    for t in range(T - 1, 0, -1):
        path[:, t] = s
        r, j = s // n, s % n
        cand = hist[t - 1] - dist[j][:, None, :] + row_pen[r][:, :, None]
        s = cand.reshape(B, 2 * n).argmax(axis=1)
    path[:, 0] = s
    return path


class PitchHMM:
    """Streaming pYIN HMM decoder: push candidates chunk by chunk, read decoded frames.

    ``push(freqs_hz, probs)`` appends frames ([shape=(K, n)] each, as returned by
    ``pyin_candidates``); frames with enough right context are decoded at once (in
    parallel segments) and their results appended to the output; ``finish()`` decodes
    the rest and returns (freqs_hz, voiced, confidence) [shape=(n_frames,)] for every
    frame pushed. Memory: the buffered candidates (a few seconds) plus the outputs.
    """

    def __init__(self, *, sr: int = 22050, hop_length: int = 256, params: PyinParams | None = None):
        p = self.params = params or PyinParams()
        self.grid_hz = pitch_grid(fmin=p.fmin, fmax=p.fmax, bins_per_semitone=p.bins_per_semitone)
        self.n_bins = len(self.grid_hz)
        frame_rate = sr / hop_length
        self.seg = max(8, int(round(p.segment_s * frame_rate)))
        self.ov = max(4, int(round(p.overlap_s * frame_rate)))
        K = p.max_candidates
        self._freqs = np.zeros((0, K), np.float32)   # buffered frames, frame-major
        self._probs = np.zeros((0, K), np.float32)
        self._buf_start = 0      # global index of the first buffered frame
        self._done = 0           # frames decoded so far (global)
        self._out_f: list[np.ndarray] = []
        self._out_v: list[np.ndarray] = []
        self._out_c: list[np.ndarray] = []

    # observation model --------------------------------------------------------------
    def _bins(self, freqs: np.ndarray) -> np.ndarray:
        p = self.params
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.rint(12 * p.bins_per_semitone * np.log2(np.maximum(freqs, 1e-6) / p.fmin))
        return np.clip(b, 0, self.n_bins - 1).astype(np.int64)

    def _observations(self, freqs: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log_v [shape=(T, n)], log_u [shape=(T,)] from candidates [shape=(T, K)]."""
        T, K = freqs.shape
        trust = self.params.voicing_trust
        bins = self._bins(freqs)
        dense = np.zeros((T, self.n_bins), np.float32)
        rows = np.arange(T)
        for k in range(K):
            dense[rows, bins[:, k]] += probs[:, k]
        total = np.minimum(probs.sum(axis=1), 1.0)
        with np.errstate(divide="ignore"):
            log_v = np.log(trust * dense)
            log_u = np.log(np.maximum(1.0 - trust * total, 1e-12) / self.n_bins).astype(np.float32)
        return log_v, log_u

    # decoding -------------------------------------------------------------------------
    def _decode(self, a: int, b: int) -> None:
        """Decode buffered frames [a, b) (buffer-relative) using the context around them."""
        T_buf = len(self._freqs)
        seg, ov = self.seg, self.ov
        n_seg = max(1, -(-(b - a) // seg))
        seg = -(-(b - a) // n_seg)
        span = seg + 2 * ov
        log_v_all, log_u_all = self._observations(self._freqs, self._probs)
        n = self.n_bins
        log_v = np.zeros((n_seg, span, n), np.float32)   # zeros = transparent padding frames
        log_u = np.zeros((n_seg, span), np.float32)
        for i in range(n_seg):
            lo = a + i * seg - ov
            src_lo, src_hi = max(lo, 0), min(lo + span, T_buf)
            log_v[i, src_lo - lo: src_hi - lo] = log_v_all[src_lo:src_hi]
            log_u[i, src_lo - lo: src_hi - lo] = log_u_all[src_lo:src_hi]
        path = _viterbi_segments(log_v, log_u, transition_cost=self.params.transition_cost,
                                 switch_prob=self.params.switch_prob)
        states = path[:, ov:ov + seg].reshape(-1)[: b - a]
        voiced = states < n
        bins = np.where(voiced, states, states - n)
        grid = self.grid_hz[bins]
        cf = self._freqs[a:b]
        cp = self._probs[a:b]
        # the candidate nearest (in log frequency) to the decoded bin, as in pYIN; where
        # the frame is unvoiced and no candidate is near, its most probable candidate;
        # 0 where the frame has no candidate at all (silence)
        rows = np.arange(b - a)
        with np.errstate(divide="ignore", invalid="ignore"):
            dist = np.abs(np.log2(cf / grid[:, None]))
        dist[~(cp > 0)] = np.inf
        k = np.argmin(dist, axis=1)
        near = np.isfinite(dist[rows, k]) & (dist[rows, k] < 1.0 / 12)
        f0 = np.where(near, cf[rows, k], np.where(voiced, grid, cf[:, 0]))
        total = cp.sum(axis=1)
        self._out_f.append(np.where(total > 0, f0, 0.0).astype(np.float64))
        self._out_v.append(voiced & (total > 0))
        self._out_c.append(np.clip(total, 0.0, 1.0).astype(np.float32))

    def push(self, freqs_hz: np.ndarray, probs: np.ndarray) -> None:
        """Append candidates of the next frames [shape=(K, n_frames)] and decode what can be."""
        self._freqs = np.concatenate([self._freqs, np.asarray(freqs_hz, np.float32).T])
        self._probs = np.concatenate([self._probs, np.asarray(probs, np.float32).T])
        self._flush(final=False)

    def _flush(self, final: bool) -> None:
        a = self._done - self._buf_start
        b = len(self._freqs) if final else len(self._freqs) - self.ov
        if final and b > a:
            self._decode(a, b)
            self._done += b - a
        elif b - a >= self.seg:
            b = a + (b - a) // self.seg * self.seg
            self._decode(a, b)
            self._done += b - a
        # keep ov frames of left context before the first undecoded frame
        drop = max(0, self._done - self._buf_start - self.ov)
        if drop:
            self._freqs = self._freqs[drop:]
            self._probs = self._probs[drop:]
            self._buf_start += drop

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decode the remaining frames; returns (freqs_hz [float64], voiced [bool],
        confidence [float32]) [shape=(n_frames,)] for all frames pushed."""
        self._flush(final=True)
        if not self._out_f:
            return np.zeros(0), np.zeros(0, bool), np.zeros(0, np.float32)
        return (np.concatenate(self._out_f), np.concatenate(self._out_v),
                np.concatenate(self._out_c))


def pyin(y: np.ndarray, *, sr: int = 22050, hop_length: int = 256,
         params: PyinParams | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pYIN f0 of a whole signal.

    y [shape=(n_samples,)]; frames centred on ``i * hop_length`` (``1 + n_samples //
    hop_length`` frames). Returns (freqs_hz [shape=(n_frames,)] f0 in Hz (the best
    estimate also on unvoiced frames), voiced [shape=(n_frames,), bool], confidence
    [shape=(n_frames,)] voiced probability in [0, 1]).
    """
    p = params or PyinParams()
    freqs, probs = pyin_candidates(y, sr=sr, hop_length=hop_length, params=p)
    hmm = PitchHMM(sr=sr, hop_length=hop_length, params=p)
    hmm.push(freqs, probs)
    return hmm.finish()
