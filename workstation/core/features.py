"""Track-level feature statistics for the DSP embedding (timbre, spectral shape, harmony,
rhythm, loudness), accumulated chunk by chunk in O(1) memory.

What is measured (per analysis frame, then summarised over the whole track), in the spirit
of bliss (fixed-range normalised descriptors) and musly (MFCC Gaussian statistics):

==========  ====  ==============================================================================
group       dims  features
==========  ====  ==============================================================================
timbre       49   MFCC 1..13 (DCT-II of the dB mel spectrum; c0 is left to loudness) mean and
                  std; std of their frame-to-frame change; correlations among MFCC 1..5 (the
                  shape of the MFCC covariance, 10 values)
spectral     18   spectral centroid (log2 of Hz re 1 kHz) and roll-off (85 %, mel-band
                  fraction) and flatness (dB) mean and std; spectral contrast (peak - valley dB)
                  in 6 mel sub-bands, mean and std
harmony      19   transposition-invariant interval content: magnitudes of the DFT (k = 1..6)
                  over pitch classes of the frame chroma, mean and std; the same of the track's
                  mean chroma (6, the tonal clarity); mean chroma flux
rhythm       11   onset-envelope (mel spectral flux, lightly smoothed) autocorrelation: its maximum in 8
                  log-spaced tempo bands from 40 to 320 BPM, the overall maximum (pulse
                  clarity); onset-envelope mean and std
loudness      3   frame energy (dB) mean and std; std of its frame-to-frame change
==========  ====  ==============================================================================

Every sum is kept in float64 (first and second moments, lagged products with a carried
history), so the statistics do not depend on how the track is chunked. Each feature is then
standardised with a FIXED centre and scale (the mean and standard deviation over synthetic
calibration signals — white/pink/brown noise, harmonic tone melodies and chords, drum-like
noise bursts and mixtures; no real recordings were used; like bliss's fixed ranges, they need
no collection), each group is weighted by ``GROUP_WEIGHTS`` /
sqrt(its size), and the concatenated vector is L2-normalised. Compare two vectors by their
inner product (= cosine similarity): 1 identical, about 0 unrelated.
"""

from __future__ import annotations

import numpy as np

from . import constants as C

SPACE = "dsp-stats-v1"

N_MFCC = 13
N_CORR = 5
N_CONTRAST = 6
TEMPO_BANDS_BPM = np.geomspace(40.0, 320.0, 9)
TOP_DB = 60.0
_ONSET_KERNEL = np.array([1.0, 2.0, 3.0, 2.0, 1.0]) / 9.0
_EPS_POWER = 1e-8  # -80 dB floor: digital silence must not dominate the statistics

GROUPS: dict[str, int] = {"timbre": 3 * N_MFCC + N_CORR * (N_CORR - 1) // 2,
                          "spectral": 6 + 2 * N_CONTRAST, "harmony": 19, "rhythm": 11,
                          "loudness": 3}
DIM = sum(GROUPS.values())
GROUP_WEIGHTS: dict[str, float] = {"timbre": 1.0, "spectral": 0.8, "harmony": 0.8,
                                   "rhythm": 0.8, "loudness": 0.5}


def dct_matrix(n_out: int, n_in: int, *, first: int = 0) -> np.ndarray:
    """Orthonormal DCT-II rows ``first .. first + n_out - 1`` [shape=(n_out, n_in)]."""
    k = np.arange(first, first + n_out)[:, None]
    m = np.arange(n_in)[None, :]
    d = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (m + 0.5) / n_in)
    if first == 0:
        d[0] /= np.sqrt(2.0)
    return d


def chroma_filterbank(*, sr: int = C.SAMPLE_RATE, n_fft: int = C.N_FFT, fmin_hz: float = 55.0,
                      fmax_hz: float = 5000.0) -> np.ndarray:
    """Pitch-class weights of the STFT bins [shape=(12, n_fft // 2 + 1)] (C = row 0).

    Each bin between ``fmin_hz`` and ``fmax_hz`` spreads over the pitch classes with a
    triangle as wide as the larger of one semitone and the bin's own width in semitones."""
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    w = np.zeros((12, len(freqs)))
    ok = (freqs >= fmin_hz) & (freqs <= fmax_hz)
    midi = 69.0 + 12.0 * np.log2(freqs[ok] / 440.0)
    width = np.maximum(1.0, 12.0 * np.log2((freqs[ok] + sr / n_fft / 2) /
                                           np.maximum(freqs[ok] - sr / n_fft / 2, 1.0)))
    pc = np.arange(12)[:, None]
    dist = np.abs(((midi[None, :] - pc) + 6.0) % 12.0 - 6.0)
    w[:, ok] = np.maximum(0.0, 1.0 - dist / width[None, :])
    w[:, ok] /= np.maximum(w[:, ok].sum(axis=0, keepdims=True), 1e-12)
    return w.astype(np.float32)


def _lag(bpm: float, frame_rate: float) -> float:
    return 60.0 * frame_rate / bpm


class TrackStatistics:
    """Running statistics of the embedding features; feed ``update`` the chunks of one track
    in order, then read ``raw()`` or ``vector()``.

    update(mel [shape=(n_mels, n), power], stft_mag [shape=(n_fft // 2 + 1, n), magnitude])."""

    def __init__(self, *, sr: int = C.SAMPLE_RATE, n_fft: int = C.N_FFT, n_mels: int = C.N_MELS,
                 hop_length: int = C.HOP_LENGTH):
        self.frame_rate = sr / hop_length
        self.n_mels = n_mels
        self._dct_t = np.ascontiguousarray(dct_matrix(N_MFCC, n_mels, first=1).T, dtype=np.float32)
        # one pass over the STFT: 12 chroma rows, the bin frequencies (centroid), ones (total);
        # (n, bins) @ (bins, 14) is the fast BLAS layout for a (bins, n) C-ordered spectrogram
        freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
        self._proj = np.ascontiguousarray(np.vstack([
            chroma_filterbank(sr=sr, n_fft=n_fft), freqs[None, :], np.ones((1, len(freqs)))]).T,
            dtype=np.float32)
        edges = np.linspace(0, n_mels, N_CONTRAST + 1).round().astype(int)
        self._sub = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self.max_lag = int(np.ceil(_lag(TEMPO_BANDS_BPM[0], self.frame_rate))) + 1
        self.n = 0
        self.s_mfcc = np.zeros(N_MFCC)
        self.s_mfcc2 = np.zeros((N_MFCC, N_MFCC))
        self.n_delta = 0
        self.s_delta = np.zeros(N_MFCC)
        self.s_delta2 = np.zeros(N_MFCC)
        self.s_spec = np.zeros(3 + N_CONTRAST)
        self.s_spec2 = np.zeros(3 + N_CONTRAST)
        self.s_dft = np.zeros(6)
        self.s_dft2 = np.zeros(6)
        self.s_chroma = np.zeros(12)
        self.s_cflux = 0.0
        self.s_on = 0.0
        self.s_on2 = 0.0
        self.s_lag = np.zeros(self.max_lag + 1)  # s_lag[l] = sum_t o_t o_{t-l}
        self.s_en = 0.0
        self.s_en2 = 0.0
        self.s_den2 = 0.0
        self._prev_mfcc: np.ndarray | None = None
        self._prev_db: np.ndarray | None = None
        self._prev_chroma: np.ndarray | None = None
        self._prev_en: float | None = None
        self._hist = np.zeros(self.max_lag)  # last max_lag onset values (0 before the track)
        self._on_hist = np.zeros(len(_ONSET_KERNEL) - 1)

    def update(self, mel: np.ndarray, stft_mag: np.ndarray) -> None:
        n = mel.shape[-1]
        if n == 0:
            return
        mel = np.asarray(mel, dtype=np.float32)
        db = 10.0 * np.log10(np.maximum(mel, _EPS_POWER))  # (n_mels, n), floor -80 dB
        # and at most TOP_DB below the frame's loudest band, so that an inaudible noise floor
        # (or its absence) does not decide the timbre of quiet bands
        db = np.maximum(db, db.max(axis=0, keepdims=True) - TOP_DB)

        # timbre
        mfcc = (db.T @ self._dct_t).T.astype(np.float64)  # (13, n)
        self.s_mfcc += mfcc.sum(axis=1)
        self.s_mfcc2 += mfcc @ mfcc.T
        prev = mfcc[:, :1] if self._prev_mfcc is None else self._prev_mfcc
        d = np.diff(np.concatenate([prev, mfcc], axis=1), axis=1)
        if self._prev_mfcc is None:
            d = d[:, 1:]
        self.n_delta += d.shape[1]
        self.s_delta += d.sum(axis=1)
        self.s_delta2 += (d * d).sum(axis=1)
        self._prev_mfcc = mfcc[:, -1:]

        # spectral shape
        mag = np.asarray(stft_mag, dtype=np.float32)
        proj = (mag.T @ self._proj).T.astype(np.float64)  # (14, n)
        total = proj[13]
        centroid = (proj[12] + 1e-6 * 1000.0) / (total + 1e-6)
        cen = np.log2(np.maximum(centroid, 20.0) / 1000.0)
        cum = np.cumsum(mel, axis=0)
        roll = (np.argmax(cum >= 0.85 * cum[-1:], axis=0) + 0.5) / self.n_mels
        power_sum = cum[-1].astype(np.float64)
        flat = db.mean(axis=0, dtype=np.float64) - 10.0 * np.log10(
            np.maximum(power_sum / self.n_mels, _EPS_POWER))
        contrast = []
        for a, b in self._sub:
            srt = np.sort(db[a:b], axis=0)
            q = max(1, int(round(0.2 * (b - a))))
            contrast.append(srt[-q:].mean(axis=0, dtype=np.float64)
                            - srt[:q].mean(axis=0, dtype=np.float64))
        spec = np.vstack([cen, roll, flat, np.vstack(contrast)])  # (9, n)
        self.s_spec += spec.sum(axis=1)
        self.s_spec2 += (spec * spec).sum(axis=1)

        # harmony
        ch = proj[:12].copy()  # (12, n)
        ch /= ch.sum(axis=0, keepdims=True) + 1e-8
        dft = np.abs(np.fft.rfft(ch, axis=0)[1:7])  # (6, n)
        self.s_dft += dft.sum(axis=1)
        self.s_dft2 += (dft * dft).sum(axis=1)
        self.s_chroma += ch.sum(axis=1)
        prev = ch[:, :1] if self._prev_chroma is None else self._prev_chroma
        self.s_cflux += np.abs(np.diff(np.concatenate([prev, ch], axis=1), axis=1)).sum()
        self._prev_chroma = ch[:, -1:]

        # rhythm: onset envelope = mean positive dB change across mel bands
        prev = db[:, :1] if self._prev_db is None else self._prev_db
        on = np.maximum(0.0, np.diff(np.concatenate([prev, db], axis=1), axis=1)).mean(
            axis=0, dtype=np.float64)
        self._prev_db = db[:, -1:]
        # light smoothing (causal FIR, history carried) so that a beat period that is not a
        # whole number of frames still gives one clear autocorrelation peak
        raw_ext = np.concatenate([self._on_hist, on])
        self._on_hist = raw_ext[-(len(_ONSET_KERNEL) - 1):]
        on = np.convolve(raw_ext, _ONSET_KERNEL, mode="valid")
        self.s_on += on.sum()
        self.s_on2 += on @ on
        ext = np.concatenate([self._hist, on])
        L = self.max_lag
        for lag in range(0, L + 1):
            self.s_lag[lag] += on @ ext[L - lag:L - lag + n]
        self._hist = ext[-L:]

        # loudness
        en = 10.0 * np.log10(np.maximum(power_sum, _EPS_POWER))
        self.s_en += en.sum()
        self.s_en2 += en @ en
        prev_en = en[:1] if self._prev_en is None else np.array([self._prev_en])
        den = np.diff(np.concatenate([prev_en, en]))
        self.s_den2 += den @ den
        self._prev_en = float(en[-1])

        self.n += n

    # ------------------------------------------------------------------------------ summary

    def raw(self) -> dict[str, np.ndarray]:
        """The unnormalised statistics by group (see the module docstring)."""
        n = max(self.n, 1)
        mu = self.s_mfcc / n
        cov = self.s_mfcc2 / n - np.outer(mu, mu)
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
        nd = max(self.n_delta, 1)
        dsd = np.sqrt(np.maximum(self.s_delta2 / nd - (self.s_delta / nd) ** 2, 0.0))
        iu = np.triu_indices(N_CORR, 1)
        corr = cov[:N_CORR, :N_CORR] / (np.outer(sd[:N_CORR], sd[:N_CORR]) + 1e-9)
        timbre = np.concatenate([mu, sd, dsd, corr[iu]])

        smu = self.s_spec / n
        ssd = np.sqrt(np.maximum(self.s_spec2 / n - smu ** 2, 0.0))
        spectral = np.concatenate([np.ravel(np.column_stack([smu[:3], ssd[:3]])),
                                   smu[3:], ssd[3:]])

        dmu = self.s_dft / n
        dsd2 = np.sqrt(np.maximum(self.s_dft2 / n - dmu ** 2, 0.0))
        cmean = self.s_chroma / n
        cdft = np.abs(np.fft.rfft(cmean)[1:7])
        harmony = np.concatenate([dmu, dsd2, cdft, [self.s_cflux / n]])

        omu = self.s_on / n
        ovar = max(self.s_on2 / n - omu ** 2, 0.0)
        lags = np.arange(self.max_lag + 1)
        pairs = np.maximum(self.n - lags, 1)
        r = (self.s_lag / pairs - omu ** 2) / (ovar + 1e-9)
        r[self.n - lags <= 0] = 0.0
        bands = []
        for lo_bpm, hi_bpm in zip(TEMPO_BANDS_BPM[:-1], TEMPO_BANDS_BPM[1:]):
            a = _lag(hi_bpm, self.frame_rate)
            b = _lag(lo_bpm, self.frame_rate)
            sel = (lags >= a) & (lags < b)
            bands.append(r[sel].max() if np.any(sel) else 0.0)
        bands = np.clip(bands, -1.0, 1.0)
        rhythm = np.concatenate([bands, [bands.max()], [omu, np.sqrt(ovar)]])

        emu = self.s_en / n
        esd = np.sqrt(max(self.s_en2 / n - emu ** 2, 0.0))
        loud = np.array([emu, esd, np.sqrt(self.s_den2 / n)])
        return {"timbre": timbre, "spectral": spectral, "harmony": harmony, "rhythm": rhythm,
                "loudness": loud}

    def vector(self) -> np.ndarray:
        """The embedding [shape=(DIM,), float32], unit L2 norm (see ``standardise``)."""
        return standardise(self.raw())


# Fixed centres and scales per feature, in the order of ``TrackStatistics.raw``: the mean and
# standard deviation (2 significant digits) over 32 synthetic calibration signals (white, pink
# and brown noise; harmonic tone melodies and chords at random tempi and keys; drum-like noise
# bursts; their mixtures; a sine), two seeds. No real recordings were used.
_CENTRE: dict[str, np.ndarray] = {
    "timbre": np.array([
        56.0, 2.6, 5.5, 3.3, -1.9, -2.7, -5.5, -6.2, -3.8, -2.3, -1.3, -0.99, 0.49,
        22.0, 11.0, 8.2, 7.4, 7.4, 6.8, 6.6, 6.6, 5.8, 5.4, 5.9, 5.9, 5.8,
        9.9, 4.9, 3.6, 3.2, 3.0, 2.7, 2.6, 2.6, 2.2, 2.0, 2.1, 2.0, 2.0,
        0.45, 0.35, 0.17, 0.24, 0.4, 0.053, 0.27, 0.38, 0.082, 0.37]),
    "spectral": np.array([0.68, 0.49, 0.26, 0.11, -21.0, 5.1, 30.0, 23.0, 19.0, 12.0, 6.9, 2.1,
                          8.5, 4.9, 4.8, 4.3, 2.6, 1.4]),
    "harmony": np.array([0.28, 0.28, 0.26, 0.18, 0.2, 0.11, 0.074, 0.065, 0.059, 0.043, 0.05,
                         0.036, 0.15, 0.14, 0.15, 0.094, 0.14, 0.058, 0.055]),
    "rhythm": np.array([0.66, 0.51, 0.48, 0.35, 0.35, 0.35, 0.15, 0.11, 0.73, 0.97, 1.6]),
    "loudness": np.array([15.0, 8.3, 3.1]),
}
_SCALE: dict[str, np.ndarray] = {
    "timbre": np.array([
        42.0, 27.0, 11.0, 10.0, 18.0, 11.0, 14.0, 16.0, 11.0, 8.1, 6.8, 8.5, 11.0,
        11.0, 5.7, 4.2, 4.1, 3.9, 3.5, 3.2, 3.8, 2.8, 3.5, 4.9, 4.9, 4.3,
        5.1, 2.8, 2.2, 1.7, 1.7, 1.4, 1.2, 1.3, 0.99, 0.89, 0.91, 0.84, 0.78,
        0.49, 0.43, 0.47, 0.44, 0.5, 0.57, 0.56, 0.4, 0.57, 0.42]),
    "spectral": np.array([1.2, 0.39, 0.19, 0.15, 12.0, 3.6, 14.0, 17.0, 15.0, 13.0, 8.8, 1.5,
                          5.4, 2.6, 2.7, 3.7, 2.9, 0.89]),
    "harmony": np.array([0.24, 0.25, 0.23, 0.17, 0.18, 0.13, 0.04, 0.043, 0.042, 0.03, 0.041,
                         0.027, 0.22, 0.21, 0.2, 0.15, 0.16, 0.12, 0.029]),
    "rhythm": np.array([0.43, 0.46, 0.47, 0.49, 0.48, 0.49, 0.43, 0.44, 0.4, 0.87, 1.7]),
    "loudness": np.array([16.0, 13.0, 5.1]),
}


def standardise(raw: dict[str, np.ndarray]) -> np.ndarray:
    """Fixed per-feature standardisation, group weighting and L2 normalisation of the raw
    statistics [shape=(DIM,), float32]."""
    parts = []
    for g, dim in GROUPS.items():
        x = np.asarray(raw[g], dtype=np.float64)
        assert x.shape == (dim,), (g, x.shape)
        z = np.clip((x - _CENTRE[g]) / _SCALE[g], -5.0, 5.0)
        parts.append(z * (GROUP_WEIGHTS[g] / np.sqrt(dim)))
    v = np.concatenate(parts)
    norm = np.linalg.norm(v)
    return (v / norm if norm > 0 else v).astype(np.float32)
