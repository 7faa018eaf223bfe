"""Learned key model ``key``: a ChromaNet-style octave-equivariant convnet (after Kong et al.,
"STONE: Self-supervised tonality estimator", ISMIR 2024, and "S-KEY", ICASSP 2025) on a
peak-interpolated log-frequency map of the shared STFT, and its ``Audio2Key`` callable.

Input: ``peak_pitch_map`` of ``FrontEnd.stft_mag`` -- the whitened spectral peaks of every frame
(``core.tonal.spectral_peaks``, parabolic interpolation, so semitones are resolved down to the
bass) placed on the HCQT's 20-cent grid (``C.BINS_PER_OCTAVE`` = 60 bins per octave) over six
octaves from C2, summed over blocks of ``tonal.BLOCK_FRAMES`` frames (186 ms). It costs about as
much as the DSP key chroma (hundreds of times real time) and, unlike ``hcqt()``, needs nothing
the default pipeline does not already compute. ``tune_map`` re-centres it on the track's own
tuning (estimated from the folded map, as the DSP analyzer does).

Network (``KeyNet``, about 12 k parameters): per-block max normalisation and log compression;
a (9 bins x 3 blocks) convolution; a convolution over +-6 semitones at semitone steps
(dilation 5: the interval pattern around every pitch); a 1 x 1 convolution. All are
convolutions along frequency with circular padding over the map's six octaves, so a
transposition of the input by whole semitones shifts the feature map exactly. The map is then folded over octaves and pooled to 12 pitch classes
[shape=(batch, channels, 12, n_blocks)] (``features``), averaged over time, and a circular
convolution over the 12 pitch classes (a learned key template per channel, ``head``) gives
24 logits, key index ``tonic_pc + 12 * (mode == 'minor')`` (``core.tonal`` convention).
Transposing the input by k semitones (content not crossing the map's edges) rolls the logits
by k within each mode, exactly: the equivariance STONE's objective asks for is built in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workstation.core import constants as C
from workstation.core import tonal
from workstation.inference.weights import register_architecture

#: Lowest pitch of the key map (MIDI; C2 = 65.4 Hz): bin ``j`` is MIDI ``MAP_MIDI_LO + j / 5``.
MAP_MIDI_LO: float = 36.0
#: Octaves of the key map.
MAP_OCTAVES: int = 6
#: Bins of the key map (20-cent bins, the HCQT's resolution).
MAP_BINS: int = C.BINS_PER_OCTAVE * MAP_OCTAVES
#: Extra bins on each side computed before the tuning correction (up to +-60 cents).
TUNING_MARGIN: int = 3
#: Frames summed into one block of the key map (186 ms).
BLOCK_FRAMES: int = tonal.BLOCK_FRAMES
#: Seconds per block.
BLOCK_S: float = BLOCK_FRAMES * C.HOP_LENGTH / C.SAMPLE_RATE


def peak_pitch_map(stft_mag: np.ndarray, *, margin_bins: int = TUNING_MARGIN,
                   sr: int = C.SAMPLE_RATE, n_fft: int = C.N_FFT) -> np.ndarray:
    """Log-frequency map of the whitened spectral peaks of an STFT magnitude.

    stft_mag [shape=(n_fft // 2 + 1, n_frames)] -> float32 [shape=(MAP_BINS + 2 * margin_bins,
    n_frames)]: bin ``b`` is MIDI ``MAP_MIDI_LO + (b - margin_bins) / 5`` (A4 = 440 Hz); each
    peak's weight (``tonal.spectral_peaks``) is split linearly between its two nearest bins."""
    n_frames = np.asarray(stft_mag).shape[1]
    n_out = MAP_BINS + 2 * margin_bins
    out = np.zeros((n_out, n_frames), np.float32)
    bps = C.BINS_PER_SEMITONE
    lo_midi = MAP_MIDI_LO - margin_bins / bps
    hi_midi = lo_midi + (n_out - 1) / bps
    freq, tt, w = tonal.spectral_peaks(stft_mag, sr=sr, n_fft=n_fft,
                                       fmin_hz=440.0 * 2 ** ((lo_midi - 69) / 12),
                                       fmax_hz=440.0 * 2 ** ((hi_midi - 69) / 12))
    if freq.size == 0:
        return out
    pos = (69.0 + 12.0 * np.log2(freq / 440.0) - lo_midi) * bps
    j0 = np.clip(np.floor(pos).astype(np.int64), 0, n_out - 1)
    frac = np.clip(pos - j0, 0.0, 1.0).astype(np.float32)
    j1 = np.minimum(j0 + 1, n_out - 1)
    size = n_out * n_frames
    flat = np.bincount(j0 * n_frames + tt, weights=w * (1.0 - frac), minlength=size)
    flat += np.bincount(j1 * n_frames + tt, weights=w * frac, minlength=size)
    return flat.reshape(n_out, n_frames).astype(np.float32)


def map_tuning_cents(pitch_map: np.ndarray, *, margin_bins: int = TUNING_MARGIN) -> float:
    """Tuning deviation from A440 in cents, in [-50, 50), of a key map [shape=(n_bins, n)]
    (folded over octaves to ``tonal``'s fine pitch-class histogram)."""
    x = np.asarray(pitch_map, dtype=np.float64).sum(axis=1)
    idx = (np.arange(len(x)) - margin_bins) % tonal.N_FINE
    fine = np.bincount(idx, weights=x, minlength=tonal.N_FINE)
    return tonal.estimate_tuning_cents(fine)


def tune_map(pitch_map: np.ndarray, *, margin_bins: int = TUNING_MARGIN, out_margin: int = 0,
             tuning_cents: float | None = None) -> tuple[np.ndarray, float]:
    """Re-centre a key map on its tuning: [shape=(MAP_BINS + 2 * margin_bins, n)] ->
    ([shape=(MAP_BINS + 2 * out_margin, n)], tuning_cents), linear interpolation along
    frequency; ``margin_bins - out_margin`` must cover the shift (3 bins: 60 cents)."""
    x = np.asarray(pitch_map, dtype=np.float32)
    if tuning_cents is None:
        tuning_cents = map_tuning_cents(x, margin_bins=margin_bins)
    shift = tuning_cents / (100.0 / C.BINS_PER_SEMITONE)            # in bins
    if abs(shift) > margin_bins - out_margin:
        raise ValueError(f"tuning shift {shift:.2f} bins exceeds the margin {margin_bins - out_margin}")
    n_out = MAP_BINS + 2 * out_margin
    pos = margin_bins - out_margin + np.arange(n_out) + shift
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, x.shape[0] - 2)
    fr = (pos - i0).astype(np.float32)[:, None]
    return x[i0] * (1.0 - fr) + x[i0 + 1] * fr, float(tuning_cents)


def block_map(stft_mag: np.ndarray, *, margin_bins: int = TUNING_MARGIN) -> np.ndarray:
    """``peak_pitch_map`` summed over blocks of ``BLOCK_FRAMES`` frames
    [shape=(MAP_BINS + 2 * margin_bins, ceil(n_frames / BLOCK_FRAMES))]."""
    return tonal.block_sum(peak_pitch_map(stft_mag, margin_bins=margin_bins), BLOCK_FRAMES)


@register_architecture("key_chromanet")
class KeyNet(nn.Module):
    """24 key logits from a key map (see the module docstring).

    ``forward(x)``: key map [shape=(batch, MAP_BINS, n_blocks)] -> logits [shape=(batch, 24)]
    (the whole crop pooled). ``features(x)`` -> pitch-class features
    [shape=(batch, channels, 12, n_blocks)]; ``head(f)``: time-pooled features
    [shape=(batch, channels, 12)] -> logits [shape=(batch, 24)].
    """

    def __init__(self, *, n_bins: int = MAP_BINS, bins_per_octave: int = C.BINS_PER_OCTAVE,
                 channels: int = 8, mid_channels: int = 16, pc_channels: int = 24,
                 head_channels: int = 32, compression: float = 20.0):
        super().__init__()
        self.hparams: dict[str, Any] = dict(
            n_bins=int(n_bins), bins_per_octave=int(bins_per_octave), channels=int(channels),
            mid_channels=int(mid_channels), pc_channels=int(pc_channels),
            head_channels=int(head_channels), compression=float(compression))
        self.bpo = int(bins_per_octave)
        self.bps = self.bpo // 12
        if n_bins % self.bpo:
            raise ValueError(f"n_bins ({n_bins}) must be whole octaves of {self.bpo} bins")
        self.compression = float(compression)
        # frequency padding is circular over the whole map (whole octaves), so the trunk is exactly
        # equivariant to circular shifts of the input by whole semitones (``_fpad``)
        self.conv1 = nn.Conv2d(1, channels, (2 * self.bps - 1, 3), padding=(0, 1))
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, mid_channels, (13, 1), dilation=(self.bps, 1))
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.conv3 = nn.Conv2d(mid_channels, pc_channels, 1)
        self.bn3 = nn.BatchNorm2d(pc_channels)
        self.head1 = nn.Conv1d(pc_channels, head_channels, 12)
        self.head2 = nn.Conv1d(head_channels, 2, 1)

    @property
    def context_blocks(self) -> int:
        """Blocks of context on each side that reach one output block."""
        return 1

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Key map [batch, n_bins, n] -> per-block max-normalised, log-compressed [same shape]."""
        peak = x.amax(dim=1, keepdim=True)
        return torch.log1p(self.compression * x / (peak + 1e-6)) / np.log1p(self.compression)

    @staticmethod
    def _fpad(h: torch.Tensor, p: int) -> torch.Tensor:
        """Circular padding of ``p`` bins on both sides of the frequency axis (dim 2)."""
        return torch.cat([h[:, :, -p:], h, h[:, :, :p]], dim=2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        b, n_bins, n = x.shape
        h = self.normalise(x)[:, None]
        h = F.relu(self.bn1(self.conv1(self._fpad(h, self.bps - 1))))
        h = F.relu(self.bn2(self.conv2(self._fpad(h, 6 * self.bps))))
        h = F.relu(self.bn3(self.conv3(h)))                          # [b, c, n_bins, n]
        c = h.shape[1]
        h = h.reshape(b, c, n_bins // self.bpo, self.bpo, n).sum(dim=2)   # fold octaves
        h = torch.roll(h, self.bps // 2, dims=2)                     # semitone s: bins 5s-2..5s+2
        return h.reshape(b, c, 12, self.bps, n).mean(dim=3)          # [b, c, 12, n]

    def head(self, f: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.head1(torch.cat([f, f[..., :11]], dim=-1)))  # circular over 12 classes
        return self.head2(h).reshape(f.shape[0], 24)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=-1))


class Audio2Key:
    """Key map -> windowed key log-probabilities, in blocks, batched.

    ``__call__(pitch_map, window_blocks, hop_blocks)``: a tuned key map [shape=(MAP_BINS,
    n_blocks)] -> (log-probabilities [shape=(24, n_windows)], window centre blocks
    [shape=(n_windows,)]): the pitch-class features of the whole map (computed in pieces of
    ``piece_blocks`` with discarded borders, under ``torch.inference_mode``) averaged over windows
    of ``window_blocks`` every ``hop_blocks`` (one window over everything when the map is
    shorter), then the head."""

    def __init__(self, model: KeyNet, *, device: str | torch.device = "cpu",
                 piece_blocks: int = 2048):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.piece_blocks = int(piece_blocks)

    def features(self, pitch_map: np.ndarray) -> np.ndarray:
        """Pitch-class features [shape=(channels, 12, n_blocks)] float32."""
        x = np.asarray(pitch_map, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != self.model.hparams["n_bins"]:
            raise ValueError(f"key map must be ({self.model.hparams['n_bins']}, n_blocks), got {x.shape}")
        n = x.shape[1]
        b = self.model.context_blocks
        out = []
        with torch.inference_mode():
            for s in range(0, max(n, 1), self.piece_blocks):
                e = min(n, s + self.piece_blocks)
                lo, hi = max(0, s - b), min(n, e + b)
                seg = np.pad(x[:, lo:hi], ((0, 0), (b - (s - lo), b - (hi - e))))
                f = self.model.features(torch.from_numpy(seg)[None].to(self.device))[0]
                out.append(f[..., b:b + (e - s)].float().cpu().numpy())
        return np.concatenate(out, axis=-1) if out else np.zeros((self.model.hparams["pc_channels"], 12, 0), np.float32)

    def __call__(self, pitch_map: np.ndarray, *, window_blocks: int = 64, hop_blocks: int = 5
                 ) -> tuple[np.ndarray, np.ndarray]:
        f = self.features(pitch_map)
        n = f.shape[-1]
        if n == 0:
            return np.zeros((24, 0), np.float32), np.zeros(0, np.int64)
        if n <= window_blocks:
            lo, hi = np.array([0]), np.array([n])
            centres = np.array([n // 2])
        else:
            starts = np.arange(0, n - window_blocks + 1, hop_blocks)
            if starts[-1] != n - window_blocks:
                starts = np.append(starts, n - window_blocks)
            lo, hi = starts, starts + window_blocks
            centres = starts + window_blocks // 2
        cs = np.concatenate([np.zeros(f.shape[:-1] + (1,), np.float64),
                             np.cumsum(f, axis=-1, dtype=np.float64)], axis=-1)
        pooled = (cs[..., hi] - cs[..., lo]) / (hi - lo)              # [c, 12, n_win]
        with torch.inference_mode():
            logits = self.model.head(torch.from_numpy(np.moveaxis(pooled, -1, 0).astype(np.float32))
                                     .to(self.device))
            logp = F.log_softmax(logits.float(), dim=-1).cpu().numpy().T
        return logp.astype(np.float32), centres.astype(np.int64)
