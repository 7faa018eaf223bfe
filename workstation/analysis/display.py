"""Display features of a track (waveform envelope and log-frequency spectrogram) and their
cache, ``<library>/cache/display/<content hash>-v<DISPLAY_VERSION>.npz``.

The worker writes the cache while it analyses a track, from the STFT its chunks already
compute (``DisplayBuilder``), so the window opens an analysed track of any length without
decoding it; the window's loader computes the same features from the decoded audio
(``display_features_from_audio``) only when the cache misses (a track not analysed yet).
Both paths give the same values (see tests/test_display_cache.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workstation.core import constants as C

log = logging.getLogger(__name__)

#: Bump when the display features change (old cache files are then ignored).
DISPLAY_VERSION = 1
#: The spectrogram's pitch range (MIDI, bin centres) and resolution (bins per semitone).
SPEC_MIDI_LO = C.FMIN_MIDI
SPEC_MIDI_HI = 108.0
SPEC_BINS_PER_SEMITONE = 3
#: Dynamic range of the displayed spectrogram in dB (mapped to 0..255).
SPEC_DB_RANGE = 80.0
STFT_CHUNK_FRAMES = 4096


@dataclass
class DisplayFeatures:
    """Display-only features at the analysis hop.

    env_min, env_max [shape=(n_frames,), float32]: waveform min/max per hop;
    spec [shape=(n_bins, n_frames), uint8]: log-magnitude spectrogram, 0 = -SPEC_DB_RANGE dB
    under the track's peak, 255 = peak; bin k centred on MIDI ``midi_lo + k / bins_per_semitone``.
    """

    env_min: np.ndarray
    env_max: np.ndarray
    spec: np.ndarray
    midi_lo: float = SPEC_MIDI_LO
    bins_per_semitone: int = SPEC_BINS_PER_SEMITONE
    hop_s: float = C.HOP_LENGTH / C.SAMPLE_RATE
    duration_s: float = 0.0

    @property
    def n_frames(self) -> int:
        return self.spec.shape[1]


def log_frequency_matrix(*, sr: int = C.SAMPLE_RATE, n_fft: int = C.N_FFT,
                         midi_lo: float = SPEC_MIDI_LO, midi_hi: float = SPEC_MIDI_HI,
                         bins_per_semitone: int = SPEC_BINS_PER_SEMITONE) -> np.ndarray:
    """Triangular weights mapping STFT bins to log-frequency bins
    [shape=(n_log_bins, n_fft // 2 + 1)], rows summing to 1. Where the STFT is coarser than
    the log grid (low notes), the triangles widen to the FFT spacing (interpolation)."""
    n = int(round((midi_hi - midi_lo) * bins_per_semitone)) + 1
    centres = midi_lo + np.arange(n) / bins_per_semitone
    fft_hz = np.arange(n_fft // 2 + 1) * sr / n_fft
    with np.errstate(divide="ignore"):
        fft_midi = np.where(fft_hz > 0, 69 + 12 * np.log2(np.maximum(fft_hz, 1e-9) / 440.0), -np.inf)
    centre_hz = 440.0 * 2 ** ((centres - 69) / 12)
    fft_step_midi = 12 * np.log2((centre_hz + sr / n_fft) / centre_hz)
    width = np.maximum(1.0 / bins_per_semitone, fft_step_midi)
    w = np.maximum(0.0, 1.0 - np.abs(fft_midi[None, :] - centres[:, None]) / width[:, None])
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return w.astype(np.float32)


def to_uint8_db(level_db: np.ndarray) -> np.ndarray:
    """dB values [any shape] -> uint8: 0 = ``SPEC_DB_RANGE`` dB under the peak (or lower),
    255 = the peak."""
    peak = float(level_db.max()) if level_db.size else 0.0
    scaled = (level_db.astype(np.float32) - (peak - SPEC_DB_RANGE)) * (255.0 / SPEC_DB_RANGE)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _log_spec_db(stft_mag: np.ndarray, w) -> np.ndarray:
    """20 log10 of the log-frequency magnitude [shape=(n_log_bins, n_frames), float32] of an
    STFT magnitude [shape=(n_fft // 2 + 1, n_frames)]; ``w``: ``log_frequency_matrix``, dense
    or as a scipy sparse matrix (0.4 % of it is non-zero: 4x faster)."""
    part = np.asarray(w @ np.ascontiguousarray(stft_mag), dtype=np.float32)
    return np.log10(np.maximum(part, 1e-10)) * np.float32(20.0)


def _sparse_log_matrix(sr: int):
    from scipy.sparse import csr_matrix
    return csr_matrix(log_frequency_matrix(sr=sr))


_FRONTEND = None


def cpu_frontend():
    global _FRONTEND
    if _FRONTEND is None:
        from workstation.inference.frontend import FrontEnd
        _FRONTEND = FrontEnd("cpu")  # the GUI process leaves the accelerator to the worker
    return _FRONTEND


def display_features_from_audio(audio: np.ndarray, *, sr: int = C.SAMPLE_RATE) -> DisplayFeatures:
    """Envelope and log-frequency spectrogram of a mono signal [shape=(n_samples,)] at ``sr``
    (``C.SAMPLE_RATE``), computed chunk by chunk so memory stays bounded."""
    hop = C.HOP_LENGTH
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    n_frames = C.n_frames_for(len(audio), hop_length=hop)
    padded = np.zeros(n_frames * hop, dtype=np.float32)
    padded[:len(audio)] = audio
    blocks = padded.reshape(n_frames, hop)
    env_min, env_max = blocks.min(axis=1), blocks.max(axis=1)
    fe = cpu_frontend()
    w = _sparse_log_matrix(sr)
    logspec = np.empty((w.shape[0], n_frames), dtype=np.float32)
    ctx = (C.N_FFT // 2 + hop - 1) // hop  # frames of context on each side of a chunk
    for f0 in range(0, n_frames, STFT_CHUNK_FRAMES):
        f1 = min(n_frames, f0 + STFT_CHUNK_FRAMES)
        a = max(0, f0 - ctx)
        b = min(n_frames, f1 + ctx)
        mag = fe.stft_mag(audio[a * hop:(b - 1) * hop + 1])  # frames centred on a*hop + j*hop
        logspec[:, f0:f1] = _log_spec_db(mag[:, f0 - a:f1 - a], w)
    return DisplayFeatures(env_min, env_max, to_uint8_db(logspec), duration_s=len(audio) / sr)


class DisplayBuilder:
    """Display features of a whole track built from its analysis chunks, in order, from each
    chunk's ``stft_mag()`` (shared with the analyzers that use it) and its audio.

    ``add(chunk)`` for every ``FeatureChunk`` of one pass; ``result()`` -> DisplayFeatures once
    the last chunk is in, else None (a pass cut short). Holds the dB spectrogram as float16
    until the end (the peak is known only then): about 50 MB for 20 minutes."""

    def __init__(self, n_frames: int, n_samples: int, sr: int = C.SAMPLE_RATE):
        self.n_frames, self.n_samples, self.sr = int(n_frames), int(n_samples), sr
        self._w = _sparse_log_matrix(sr)
        self._db = np.full((self._w.shape[0], self.n_frames), -200.0, np.float16)  # silence
        self._env = np.zeros((2, self.n_frames), np.float32)
        self._next = 0       # the frame the next chunk must start at
        self._complete = False

    def add(self, chunk) -> None:
        if self._complete or chunk.frame_start != self._next:
            return           # a second pass, or chunks out of order: ignored
        a, n = chunk.frame_start, min(chunk.n_frames, self.n_frames - chunk.frame_start)
        hop = C.HOP_LENGTH
        if n > 0:
            self._db[:, a:a + n] = _log_spec_db(chunk.stft_mag()[:, :n], self._w)
            blocks = chunk.audio[chunk.pad:chunk.pad + n * hop].reshape(n, hop)
            self._env[0, a:a + n], self._env[1, a:a + n] = blocks.min(axis=1), blocks.max(axis=1)
        self._next = a + chunk.n_frames
        self._complete = bool(chunk.is_last) or self._next >= self.n_frames

    def result(self) -> DisplayFeatures | None:
        if not self._complete:
            return None
        return DisplayFeatures(self._env[0].copy(), self._env[1].copy(), to_uint8_db(self._db),
                               duration_s=self.n_samples / self.sr)


def cache_path(library_root, content_hash: str) -> Path:
    """Where the display features of the audio with ``content_hash`` are cached."""
    return Path(library_root) / "cache" / "display" / f"{content_hash}-v{DISPLAY_VERSION}.npz"


def read_cache(path: Path) -> DisplayFeatures | None:
    """The cached display features at ``path``, or None when absent or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return DisplayFeatures(z["env_min"], z["env_max"], z["spec"],
                                   duration_s=float(z["duration_s"]))
    except (OSError, ValueError, KeyError) as e:
        log.warning("%s: unreadable display cache (%s); recomputing", path, e)
        return None


def write_cache(path: Path, d: DisplayFeatures) -> None:
    """Store display features atomically; a failure is logged, never raised (the cache only
    saves time)."""
    from workstation.core.atomic import save_npz
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_npz(path, env_min=d.env_min, env_max=d.env_max, spec=d.spec,
                 duration_s=np.float64(d.duration_s))
    except OSError as e:
        log.warning("%s: cannot write the display cache: %s", path, e)
