"""Signal constants shared by every layer.

This is the only module that states the analysis sample rate, hop, and the
harmonic-CQT geometry; everything else imports them from here.
"""

from __future__ import annotations

import math

#: Analysis sample rate in Hz. Every decoded file is mixed to mono and resampled to it.
SAMPLE_RATE: int = 22050
#: Hop between analysis frames, in samples (256 / 22050 Hz = 11.61 ms).
HOP_LENGTH: int = 256
#: Analysis frames per second.
FRAME_RATE: float = SAMPLE_RATE / HOP_LENGTH

#: STFT size for the linear spectrogram, in samples (93 ms).
N_FFT: int = 2048
#: Number of mel bands of the mel spectrogram.
N_MELS: int = 128

#: Harmonics of the harmonic CQT (DeepSalience / Basic Pitch convention).
HARMONICS: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
#: Lowest CQT frequency: C1 in Hz (MIDI 24).
FMIN_HZ: float = 440.0 * 2.0 ** ((24 - 69) / 12.0)
#: MIDI number of FMIN_HZ.
FMIN_MIDI: float = 24.0
#: CQT resolution: 60 bins per octave = 20 cents per bin.
BINS_PER_OCTAVE: int = 60
#: Bins per semitone.
BINS_PER_SEMITONE: int = BINS_PER_OCTAVE // 12
#: CQT range in octaves.
N_OCTAVES: int = 6
#: Number of CQT bins per harmonic.
N_BINS: int = BINS_PER_OCTAVE * N_OCTAVES

#: Length of an analysis chunk (valid part), in seconds; long files are processed chunk by chunk.
CHUNK_SECONDS: float = 60.0
#: Border on each side of a chunk, in seconds, discarded after the front end.
#: Longer than half the longest CQT kernel (0.5 * C1 = 16.35 Hz at Q ~ 86: about 2.7 s).
CHUNK_BORDER_SECONDS: float = 3.0

#: Length of the segments the embedding keeps vectors for (region queries), seconds.
EMBEDDING_SEGMENT_SECONDS: float = 10.0


def cqt_frequencies(n_bins: int = N_BINS, *, fmin: float = FMIN_HZ,
                    bins_per_octave: int = BINS_PER_OCTAVE) -> "list[float]":
    """Centre frequencies in Hz of a CQT [shape=(n_bins,)] (returned as a list to keep numpy out)."""
    return [fmin * 2.0 ** (k / bins_per_octave) for k in range(n_bins)]


def n_frames_for(n_samples: int, *, hop_length: int = HOP_LENGTH) -> int:
    """Number of centred frames for a signal of ``n_samples`` (librosa ``center=True`` convention)."""
    return 1 + n_samples // hop_length


def frame_time_s(frame: int, *, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH) -> float:
    """Centre time in seconds of frame ``frame``."""
    return frame * hop_length / sr


assert math.isclose(FMIN_HZ, 32.70319566257483)
