"""Fast constant-Q and harmonic-CQT transforms in torch (CPU or CUDA).

How it works (multirate, after Schörkhuber & Klapuri 2010 and librosa's ``cqt``):

1. The segment is zero-padded (0.74 s each side, so that the result does not depend on how
   a file is cut into chunks) and halved in rate level by level: level ``k`` (rate
   ``sr / 2**k``, hop ``hop / 2**k``) comes from level ``k - 1`` by overlapping-block FFTs
   that keep the spectrum below the new Nyquist with a short raised-cosine roll-off
   (near-ideal band limiting: no half-band ripple, no aliasing into the used band).
2. Every requested CQT bin is assigned to the lowest-rate level whose Nyquist
   still clears the bin's main lobe, so that all kernels fit in ``n_fft = 512``
   samples at their level. Each level is framed once (centred frames, ``rfft``,
   zero padding, rectangular window) and multiplied by that level's
   frequency-domain kernels in groups of 24 bins, each cropped to the FFT columns it
   occupies (real-valued matmuls), then the magnitude is taken.
3. The harmonic CQT asks for the union of the bins of all harmonics: on the
   20-cent grid starting at ``0.5 * fmin`` the harmonics 0.5, 1, 2, 4 fall on
   integer bin shifts (0, 60, 120, 180) and share bins; 3 and 5 fall at
   fractional shifts (155.098, 199.316) and get their own exact bins (no
   interpolation). 6 x 360 = 2160 requested bins become 1260 computed bins.

Kernels are those of nnAudio's ``CQT2010v2`` (periodic Hann window of
``ceil(Q * sr_level / f)`` samples, complex exponential, L1-normalised), and the
output is scaled like it (``sqrt`` of the kernel length, see
``reference_scale``), so that ``HarmonicCQT`` reproduces
``frontend.hcqt_reference`` within 0.2-0.4 % relative L2 error while being ~37x
faster (~180x realtime on 2 CPU cores; see ``benchmarks/bench_hcqt.py``).

Shapes: input ``[n_samples]`` or ``[batch, n_samples]``; output
``[(batch,) n_bins, n_frames]`` with ``n_frames = 1 + n_samples // hop``, frame
``j`` centred on sample ``j * hop``, zero outside the segment.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from workstation.core import constants as C

log = logging.getLogger(__name__)

#: FFT size of every pyramid level (kernels are at most ~460 samples long at their level).
N_FFT: int = 512
#: A bin goes to the lowest level whose Nyquist is above f * (1 + MARGIN / Q).
_MARGIN: float = 3.0
#: Kernel spectrum coefficients below this fraction of the row maximum are dropped
#: when cropping the kernel matrix to its occupied columns.
_SPARSITY: float = 1e-4


def q_factor(bins_per_octave: int = C.BINS_PER_OCTAVE, filter_scale: float = 1.0) -> float:
    """Quality factor of the CQT filters (nnAudio / librosa convention)."""
    return float(filter_scale) / (2.0 ** (1.0 / bins_per_octave) - 1.0)


def nnaudio_early_downsample_factor(fmin: float, *, n_bins: int = C.N_BINS,
                                    bins_per_octave: int = C.BINS_PER_OCTAVE,
                                    sr: int = C.SAMPLE_RATE, hop_length: int = C.HOP_LENGTH,
                                    filter_scale: float = 1.0) -> int:
    """The early-downsampling factor nnAudio's ``CQT2010v2`` picks for a CQT starting at ``fmin``.

    nnAudio multiplies its output by this factor and by the square root of kernel lengths
    counted at the downsampled rate, so its scale is ``sqrt(factor)`` larger for low ``fmin``
    (for the HCQT: 2, 1.41, 1, 1, 1, 1 for harmonics 0.5, 1, 2, 3, 4, 5)."""
    q = q_factor(bins_per_octave, filter_scale)
    n_octaves = int(np.ceil(n_bins / bins_per_octave))
    remainder = n_bins % bins_per_octave
    fmin_t = fmin * 2 ** (n_octaves - 1)
    top = bins_per_octave if remainder == 0 else remainder
    fmax_t = fmin_t * 2 ** ((top - 1) / bins_per_octave)
    cutoff = fmax_t * (1 + 0.5 * 1.5 / q)
    nyquist = sr // 2
    count1 = max(0, int(np.ceil(np.log2(0.85 * nyquist / cutoff)) - 1) - 1)
    count2 = max(0, int(np.ceil(np.log2(hop_length))) - n_octaves + 1)
    return 2 ** min(count1, count2)


def reference_scale(freqs_hz: np.ndarray, *, sr: int = C.SAMPLE_RATE, downsample_factor: int = 1,
                    filter_scale: float = 1.0, bins_per_octave: int = C.BINS_PER_OCTAVE) -> np.ndarray:
    """Per-bin output scale of nnAudio ``CQT2010v2`` (``normalization_type='librosa'``)
    relative to an L1-normalised kernel [shape=(n_bins,)]: a cosine of amplitude A at a
    bin centre reads ``A / 2 * scale``."""
    q = q_factor(bins_per_octave, filter_scale)
    lengths = np.ceil(q * (sr / downsample_factor) / np.asarray(freqs_hz, dtype=np.float64))
    return downsample_factor * np.sqrt(lengths)


@dataclass
class _Group:
    out: slice                  # columns of the time-major output this group fills
    weight: torch.Tensor        # real form of conj(kernel) / n_fft [2 * n_cols, 2 * n_rows]
    col0: int                   # first rfft column used (times 2 in the real view)
    col1: int                   # one past the last


@dataclass
class _Level:
    k: int                      # decimation 2**k
    groups: list


def _kernel_spectra(freqs_level: np.ndarray, sr_level: float, q: float, n_fft: int) -> np.ndarray:
    """rfft of centred, L1-normalised Hann-windowed complex exponentials [shape=(n, n_fft//2+1)].

    Kernel ``b`` has ``ceil(q * sr_level / f_b)`` samples (nnAudio's discretisation); its
    sample 0 sits on the frame centre (``n_fft // 2``)."""
    out = np.zeros((len(freqs_level), n_fft // 2 + 1), dtype=np.complex128)
    for i, f in enumerate(freqs_level):
        length = int(np.ceil(q * sr_level / f))
        if length > n_fft:
            raise ValueError(f"CQT kernel of {length} samples does not fit n_fft={n_fft}")
        n = np.arange(-length // 2, length // 2)  # nnAudio's sample positions
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)  # periodic Hann
        sig = window * np.exp(2j * np.pi * f * n / sr_level)
        sig /= np.abs(sig).sum()
        buf = np.zeros(n_fft, dtype=np.complex128)
        buf[n + n_fft // 2] = sig
        out[i] = np.fft.fft(buf)[: n_fft // 2 + 1]
    return out


def _real_form(kern: np.ndarray) -> np.ndarray:
    """[n_rows, n_cols] complex weights c -> real [2 n_cols, 2 n_rows] such that the real view
    (re, im interleaved) of a row vector X times it gives (re, im) of sum_c c * X."""
    p, q = kern.real.T, kern.imag.T                       # [n_cols, n_rows]
    w = np.zeros((2 * p.shape[0], 2 * p.shape[1]), dtype=np.float32)
    w[0::2, 0::2] = p
    w[1::2, 0::2] = -q
    w[0::2, 1::2] = q
    w[1::2, 1::2] = p
    return w


def _halfband_taper(n_bins: int, rolloff: float) -> np.ndarray:
    """Raised-cosine gain over the top ``rolloff`` fraction of ``n_bins`` (the last bin gets 0)."""
    g = np.ones(n_bins)
    m = max(2, int(round(rolloff * (n_bins - 1))))
    g[-m:] = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, m + 1) / m)
    return g


class ConstantQ:
    """Magnitude CQT at arbitrary bin frequencies, multirate, on one device.

    freqs_hz [shape=(n_bins,)]: bin centres (any order, each below ``sr / 2``);
    ``scale`` [shape=(n_bins,)] multiplies the output of each bin (default: the
    nnAudio/librosa ``sqrt(kernel length)`` scale, see ``reference_scale``).
    Call with a tensor ``[n_samples]`` or ``[batch, n_samples]`` at ``sr``; returns
    ``[(batch,) n_frames, n_bins]`` float32 magnitudes, **time-major** (``time_major``) or,
    via ``__call__``, ``[(batch,) n_bins, n_frames]`` with ``n_frames = 1 + n_samples // hop``.
    """

    #: Block length (samples at the finer rate) and overlap of the FFT half-band resampler.
    _BLOCK = 8192
    _OVERLAP = 512
    #: Fraction of the new band (below its Nyquist) given to the resampler's roll-off;
    #: bins must keep their main lobe and first side lobes below it.
    _ROLLOFF = 0.05
    #: Zero frames added on each side of a segment (64 hops = 0.74 s at 22050 Hz).
    _EDGE_FRAMES = 64

    def __init__(self, freqs_hz, *, sr: int = C.SAMPLE_RATE, hop_length: int = C.HOP_LENGTH,
                 bins_per_octave: int = C.BINS_PER_OCTAVE, filter_scale: float = 1.0,
                 scale=None, device: str | torch.device = "cpu", n_fft: int = N_FFT,
                 group_size: int = 24, sparsity: float = _SPARSITY):
        freqs = np.asarray(freqs_hz, dtype=np.float64)
        if freqs.ndim != 1 or len(freqs) == 0:
            raise ValueError("freqs_hz must be a non-empty 1-D array")
        if hop_length & (hop_length - 1):
            raise ValueError(f"hop_length must be a power of two, got {hop_length}")
        self.sr = sr
        self.hop_length = hop_length
        self.freqs_hz = freqs
        self.n_fft = n_fft
        self.device = torch.device(device)
        q = q_factor(bins_per_octave, filter_scale)
        self.q = q
        max_k = int(round(math.log2(hop_length)))
        # Lowest-rate level whose usable band (below the resampler's roll-off) clears the
        # bin's main lobe and first side lobes; level 0 (no resampling) takes the rest.
        edge = freqs * (1.0 + _MARGIN / q)
        if np.any(edge >= sr / 2):
            raise ValueError(f"CQT bin at {freqs.max():.1f} Hz is too close to Nyquist ({sr / 2} Hz)")
        usable = (1.0 - 1.2 * self._ROLLOFF) * sr / 2
        ks = np.floor(np.log2(usable / edge)).astype(int)
        ks = np.clip(ks, 0, max_k)
        if scale is None:
            scale = reference_scale(freqs, sr=sr, filter_scale=filter_scale,
                                    bins_per_octave=bins_per_octave)
        scale = np.asarray(scale, dtype=np.float64)
        # Output columns are ordered level by level, by frequency inside a level; _perm maps
        # them back to the order of freqs_hz.
        order = np.lexsort((freqs, ks))
        #: column_of[i]: column of the internal (level-ordered) output holding freqs_hz[i].
        self.column_of = np.argsort(order)
        self._perm = torch.as_tensor(self.column_of, device=self.device)
        self.levels: list[_Level] = []
        pos = 0
        for k in sorted(set(ks[order].tolist())):
            rows = order[ks[order] == k]
            spec = _kernel_spectra(freqs[rows], sr / 2 ** k, q, n_fft) * scale[rows, None]
            mag = np.abs(spec)
            keep = mag >= sparsity * mag.max(axis=1, keepdims=True)
            spec = np.where(keep, spec, 0).conj() / n_fft
            groups = []
            for g0 in range(0, len(rows), group_size):
                sub = spec[g0:g0 + group_size]
                cols = np.flatnonzero(keep[g0:g0 + group_size].any(axis=0))
                col0, col1 = int(cols[0]), int(cols[-1]) + 1
                groups.append(_Group(
                    out=slice(pos + g0, pos + g0 + len(sub)),
                    weight=torch.as_tensor(_real_form(sub[:, col0:col1]), device=self.device),
                    col0=2 * col0, col1=2 * col1))
            self.levels.append(_Level(k=k, groups=groups))
            pos += len(rows)
        self._taper = {}
        log.debug("ConstantQ: %d bins on %d levels, %d kernel coefficients", len(freqs),
                  len(self.levels), sum(g.weight.numel() // 4 for lv in self.levels for g in lv.groups))

    @property
    def n_bins(self) -> int:
        return len(self.freqs_hz)

    def _halve(self, x: torch.Tensor) -> torch.Tensor:
        """Resample [batch, n] (n even) to half the rate: blockwise FFT, raised-cosine
        roll-off just below the new Nyquist, overlapping blocks with borders discarded."""
        batch, n = x.shape
        block, over = self._BLOCK, self._OVERLAP
        n_blocks = -(-n // block)
        xp = torch.nn.functional.pad(x, (over, over + n_blocks * block - n))
        frames = xp.unfold(-1, block + 2 * over, block)          # [batch, n_blocks, L]
        spec = torch.fft.rfft(frames)
        m = (block + 2 * over) // 4 + 1
        if m not in self._taper:
            # 0.5: the inverse transform is half as long as the forward one.
            self._taper[m] = torch.as_tensor(0.5 * _halfband_taper(m, self._ROLLOFF),
                                             dtype=torch.float32, device=x.device)
        half = torch.fft.irfft(spec[..., :m] * self._taper[m], n=(block + 2 * over) // 2)
        half = half[..., over // 2: over // 2 + block // 2].reshape(batch, -1)
        return half[:, : n // 2]

    def time_major(self, x: torch.Tensor) -> torch.Tensor:
        """x [batch, n_samples] -> magnitudes [batch, n_frames, n_bins], bins in the internal
        order: column ``column_of[i]`` holds ``freqs_hz[i]``."""
        x = x.to(self.device, torch.float32)
        batch, n = x.shape
        hop = self.hop_length
        n_frames = 1 + n // hop
        # Zeros around the segment (``_EDGE_FRAMES`` hops each side) so that the resamplers'
        # responses to the segment's edges are kept rather than cut: the output then depends
        # only on the segment, zero outside it, whatever the segmentation (a file in one piece
        # or in chunks). The total is a whole number of hops, so every level has an integer
        # number of samples per frame.
        edge = self._EDGE_FRAMES * hop
        total = (n_frames + 2 * self._EDGE_FRAMES) * hop
        xk = torch.nn.functional.pad(x, (edge, total - n - edge))
        first = self._EDGE_FRAMES
        out = torch.empty(batch, n_frames, self.n_bins, device=self.device, dtype=torch.float32)
        k_now = 0
        half_fft = self.n_fft // 2
        for lv in self.levels:
            while k_now < lv.k:
                xk = self._halve(xk)
                k_now += 1
            hop_k = hop >> lv.k
            padded = torch.nn.functional.pad(xk, (half_fft, half_fft))
            frames = padded.unfold(-1, self.n_fft, hop_k)[:, first:first + n_frames]  # [batch, T, n_fft]
            spec = torch.view_as_real(torch.fft.rfft(frames)).flatten(-2)  # [batch, T, 2 * n_cols]
            for g in lv.groups:
                y = torch.matmul(spec[..., g.col0:g.col1], g.weight)      # [batch, T, 2 * rows]
                y = y.view(batch, n_frames, -1, 2)
                out[..., g.out] = torch.linalg.vector_norm(y, dim=-1)
        return out

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x [shape=(n_samples,) or (batch, n_samples)] -> [(batch,) n_bins, n_frames], bins in
        the order of freqs_hz."""
        squeeze = x.dim() == 1
        y = self.time_major(x[None] if squeeze else x).transpose(-1, -2).contiguous()
        y = y.index_select(1, self._perm)
        return y[0] if squeeze else y


class HarmonicCQT:
    """Harmonic CQT magnitude [shape=(len(harmonics), n_bins, n_frames), float32].

    Channel ``i`` is a CQT of ``n_bins`` bins from ``fmin * harmonics[i]`` at
    ``bins_per_octave``; all channels share one multirate pass over the union of their
    bins. ``scale='reference'`` reproduces nnAudio ``CQT2010v2`` as used by
    ``frontend.hcqt_reference`` (including its per-harmonic factor ``sqrt(early downsample
    factor)``: 2, 1.41, 1, 1, 1, 1 for the default harmonics); ``scale='consistent'``
    drops that factor, so a partial reads the same in every channel it appears in.
    ``harmonic_gain`` [shape=(n_harmonics,)] is the factor of each channel relative to
    ``'consistent'``.
    """

    def __init__(self, *, sr: int = C.SAMPLE_RATE, hop_length: int = C.HOP_LENGTH,
                 fmin: float = C.FMIN_HZ, n_bins: int = C.N_BINS,
                 bins_per_octave: int = C.BINS_PER_OCTAVE,
                 harmonics: tuple[float, ...] = C.HARMONICS, scale: str = "reference",
                 device: str | torch.device = "cpu"):
        if scale not in ("reference", "consistent"):
            raise ValueError(f"scale must be 'reference' or 'consistent', got {scale!r}")
        self.harmonics = tuple(float(h) for h in harmonics)
        self.n_bins = n_bins
        self.device = torch.device(device)
        base = min(self.harmonics)
        # Express every requested bin as a (possibly fractional) index on the grid from
        # fmin * base; bins with the same index (to 1e-6 of a bin) are computed once.
        keys: dict[int, int] = {}
        freqs: list[float] = []
        scales: list[float] = []
        index = np.empty((len(self.harmonics), n_bins), dtype=np.int64)
        gains = []
        for i, h in enumerate(self.harmonics):
            shift = bins_per_octave * math.log2(h / base)
            ds = nnaudio_early_downsample_factor(fmin * h, n_bins=n_bins, sr=sr,
                                                 bins_per_octave=bins_per_octave,
                                                 hop_length=hop_length)
            gains.append(math.sqrt(ds) if scale == "reference" else 1.0)
            f_h = fmin * h * 2.0 ** (np.arange(n_bins) / bins_per_octave)
            if scale == "reference":
                s_h = reference_scale(f_h, sr=sr, downsample_factor=ds, bins_per_octave=bins_per_octave)
            else:
                s_h = reference_scale(f_h, sr=sr, bins_per_octave=bins_per_octave)
            for b in range(n_bins):
                key = int(round((shift + b) * 1e6))
                # The scale is a per-(harmonic, bin) factor: shared bins are computed
                # unscaled and scaled per channel below.
                if key not in keys:
                    keys[key] = len(freqs)
                    freqs.append(float(f_h[b]))
                index[i, b] = keys[key]
            scales.append(s_h)
        self.harmonic_gain = np.asarray(gains, dtype=np.float64)
        self.freqs_hz = np.asarray(freqs)
        self._cqt = ConstantQ(self.freqs_hz, sr=sr, hop_length=hop_length,
                              bins_per_octave=bins_per_octave, scale=np.ones(len(freqs)),
                              device=self.device)
        self._flat_index = torch.as_tensor(self._cqt.column_of[index.ravel()], device=self.device)
        self._flat_scale = torch.as_tensor(np.stack(scales).astype(np.float32).reshape(-1, 1),
                                           device=self.device)

    @property
    def n_computed_bins(self) -> int:
        return len(self.freqs_hz)

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x [shape=(n_samples,) or (batch, n_samples)] -> [(batch,) n_harmonics, n_bins, n_frames]."""
        squeeze = x.dim() == 1
        y = self._cqt.time_major(x[None] if squeeze else x)      # [b, T, n_computed]
        y = y.transpose(1, 2).contiguous()                        # [b, n_computed, T]
        out = y.index_select(1, self._flat_index).mul_(self._flat_scale)  # [b, H * n_bins, T]
        out = out.view(y.shape[0], len(self.harmonics), self.n_bins, -1)
        return out[0] if squeeze else out


_CACHE: dict[tuple, HarmonicCQT] = {}


def harmonic_cqt(device: str | torch.device = "cpu", *, scale: str = "reference",
                 harmonics: tuple[float, ...] = C.HARMONICS) -> HarmonicCQT:
    """The HCQT with the constants of ``core.constants``, built once per device, scale and
    harmonics (a subset of ``C.HARMONICS`` computes only those channels, each equal to its
    channel of the full HCQT)."""
    key = (str(torch.device(device)), scale, tuple(float(h) for h in harmonics))
    if key not in _CACHE:
        _CACHE[key] = HarmonicCQT(device=device, scale=scale, harmonics=key[2])
    return _CACHE[key]


def hcqt_amplitude_scale(*, sr: int = C.SAMPLE_RATE, hop_length: int = C.HOP_LENGTH,
                         fmin: float = C.FMIN_HZ, n_bins: int = C.N_BINS,
                         bins_per_octave: int = C.BINS_PER_OCTAVE,
                         harmonics: tuple[float, ...] = C.HARMONICS,
                         scale: str = "reference") -> np.ndarray:
    """What a cosine of amplitude 1 at a bin centre reads in the HCQT [shape=(n_harmonics, n_bins)].

    Dividing ``FrontEnd.hcqt`` output by it gives partial amplitudes (1.0 = full scale), the
    same in every harmonic channel. Cheap (no kernels are built)."""
    rows = []
    for h in harmonics:
        f = fmin * h * 2.0 ** (np.arange(n_bins) / bins_per_octave)
        ds = (nnaudio_early_downsample_factor(fmin * h, n_bins=n_bins, sr=sr, hop_length=hop_length,
                                              bins_per_octave=bins_per_octave)
              if scale == "reference" else 1)
        rows.append(0.5 * reference_scale(f, sr=sr, downsample_factor=ds,
                                          bins_per_octave=bins_per_octave))
    return np.stack(rows).astype(np.float32)
